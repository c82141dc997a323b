//! A backend records through `EmbeddedArchive`; the `sentmail` command
//! then finds the mail by its metadata and shows the metadata and the
//! send statuses.

use std::path::Path;
use std::process::{Command, Output};

use archive_core::{RecordMeta, SendStatus, Source};
use chrono::{TimeZone, Utc};
use sentmail::EmbeddedArchive;

const MAIL: &str = "From: shop@example.jp\r\nTo: hoge.123@example.com\r\n\
Subject: =?UTF-8?B?5rOo5paH56K66KqN?=\r\nDate: Fri, 04 Dec 2026 19:01:00 +0900\r\n\
Message-ID: <o1@example.jp>\r\n\r\nORD-2026-0012345\r\n";

fn sentmail(data: &Path, args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_sentmail"))
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .expect("sentmail runs");
    assert!(output.status.success(), "sentmail {args:?}: {output:?}");
    output
}

async fn record(data: &Path) -> String {
    let archive = EmbeddedArchive::open(data).await.unwrap();
    let meta = RecordMeta::new(Source::App)
        .with_kind("order_confirmation")
        .with_order_id("ORD-2026-0012345")
        .with_customer_id("C-000123")
        .with_template("order_confirmation", "3")
        .with_idempotency_key("order_confirmation/ORD-2026-0012345");
    let id = archive.record(MAIL, meta).await.unwrap().id;
    let status = SendStatus {
        at: Utc.with_ymd_and_hms(2026, 12, 4, 10, 1, 2).unwrap(),
        ..SendStatus::from_reply(250, "2.0.0 Ok: queued as 4Fq9Zk2T1Sz1")
    };
    archive.record_send_status(&id, &status).await.unwrap();
    archive.close().await.unwrap();
    id.to_hex()
}

#[tokio::test]
async fn show_prints_metadata_and_send_statuses() {
    let data = tempfile::tempdir().unwrap();
    let id = record(data.path()).await;

    let found = sentmail(data.path(), &["search", "--json", "order:0012345"]);
    let hit: serde_json::Value = serde_json::from_slice(&found.stdout).unwrap();
    assert_eq!(hit["id"], id);
    let customer = sentmail(data.path(), &["search", "--count", "customer:C-000123"]);
    assert_eq!(String::from_utf8_lossy(&customer.stdout), "1\n");

    let shown = sentmail(data.path(), &["show", &id]);
    let text = String::from_utf8(shown.stdout).unwrap();
    let expected = "\
Metadata:
  source            app
  idempotency_key   order_confirmation/ORD-2026-0012345
  customer_id       C-000123
  order_id          ORD-2026-0012345
  template          order_confirmation
  template_version  3
Send statuses:
  2026-12-04T10:01:02Z accepted 250 queue id 4Fq9Zk2T1Sz1: 2.0.0 Ok: queued as 4Fq9Zk2T1Sz1
";
    assert!(text.contains(expected), "{text}");

    let json = sentmail(data.path(), &["show", "--json", &id]);
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        json["send_statuses"],
        serde_json::json!([{
            "outcome": "accepted",
            "at": "2026-12-04T10:01:02Z",
            "code": 250,
            "response": "2.0.0 Ok: queued as 4Fq9Zk2T1Sz1",
            "queue_id": "4Fq9Zk2T1Sz1",
        }])
    );
    assert_eq!(json["meta"]["app"]["order_id"], "ORD-2026-0012345");
}

#[tokio::test]
async fn search_sees_mail_left_in_the_journal() {
    let data = tempfile::tempdir().unwrap();
    {
        let archive = EmbeddedArchive::open(data.path()).await.unwrap();
        let meta = RecordMeta::new(Source::App).with_order_id("ORD-2026-0099999");
        archive.record(MAIL, meta).await.unwrap();
        // Dropped without close, as when the application is killed: the
        // mail is durable in the journal but not yet in the index.
    }

    // The dropped archive's tasks release the directory locks shortly
    // afterwards; the command fails until then.
    let mut attempts = 0;
    let output = loop {
        let output = Command::new(env!("CARGO_BIN_EXE_sentmail"))
            .arg("--data")
            .arg(data.path())
            .args(["search", "--count", "order:ORD-2026-0099999"])
            .output()
            .expect("sentmail runs");
        let locked = String::from_utf8_lossy(&output.stderr).contains("another process");
        if !locked || attempts == 100 {
            break output;
        }
        attempts += 1;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "1\n");
}

#[tokio::test]
async fn close_twice_is_ok() {
    let data = tempfile::tempdir().unwrap();
    let archive = EmbeddedArchive::open(data.path()).await.unwrap();
    archive.record(MAIL, RecordMeta::default()).await.unwrap();
    archive.close().await.unwrap();
    archive.close().await.unwrap();
}
