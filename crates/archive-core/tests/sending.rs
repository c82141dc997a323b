//! `ArchivingTransport` over lettre's stub transport: what is recorded,
//! what is sent, and the send statuses, for each timing and failure.
//! The examples crate runs the same transport against a real SMTP server.
#![cfg(feature = "lettre")]

use std::sync::Arc;
use std::time::Duration;

use archive_core::sending::{ArchivingTransport, RecordTiming, SendError, WhenUnrecorded};
use archive_core::{
    Archive, MemoryStorage, RecordError, RecordMeta, RecordStatus, SendOutcome, Source,
};
use lettre::transport::stub::AsyncStubTransport;

const FLUSH: Duration = Duration::from_secs(10);

/// Renders an order mail; each call has a new random Message-ID, so two
/// renderings of one order differ, as real retries do.
fn order_mail(order: &str) -> lettre::Message {
    lettre::Message::builder()
        .message_id(None)
        .from("shop@example.jp".parse().unwrap())
        .to("hoge.123@example.com".parse().unwrap())
        .subject(format!("ご注文ありがとうございます ({order})"))
        .body(format!("ご注文番号: {order}\n"))
        .unwrap()
}

fn order_meta(order: &str) -> RecordMeta {
    RecordMeta::new(Source::App)
        .with_kind("order_confirmation")
        .with_order_id(order)
        .with_customer_id("C-000123")
        .with_idempotency_key(format!("order_confirmation/{order}"))
}

async fn archive(dir: &std::path::Path) -> Archive {
    Archive::builder(Arc::new(MemoryStorage::new()), dir)
        .open()
        .await
        .unwrap()
}

#[tokio::test]
async fn records_before_sending_and_keeps_the_answer() {
    let dir = tempfile::tempdir().unwrap();
    let archive = archive(dir.path()).await;
    let stub = AsyncStubTransport::new_ok();
    let mailer = ArchivingTransport::new(archive.clone(), stub.clone());

    let mail = order_mail("ORD-2026-0012345");
    let sent = mailer
        .send_with(&mail, order_meta("ORD-2026-0012345"))
        .await
        .unwrap();
    let receipt = sent.receipt.expect("recorded");
    assert_eq!(receipt.status, RecordStatus::Stored);
    assert_eq!(stub.messages().await.len(), 1);
    assert_eq!(
        &archive.get_raw(&receipt.id).await.unwrap()[..],
        &mail.formatted()[..],
        "the archived bytes are the bytes sent"
    );

    archive.flush(FLUSH).await.unwrap();
    let message = archive.open(&receipt.id).await.unwrap();
    let outcomes: Vec<_> = message.send_statuses.iter().map(|s| s.outcome).collect();
    assert_eq!(outcomes, [SendOutcome::Accepted]);
    assert_eq!(
        message.meta.envelope_from.as_deref(),
        Some("shop@example.jp")
    );
    assert_eq!(message.meta.envelope_to, ["hoge.123@example.com"]);
    assert_eq!(message.meta.app_value("order_id"), Some("ORD-2026-0012345"));
}

#[tokio::test]
async fn retried_send_recorded_once_with_both_statuses() {
    let dir = tempfile::tempdir().unwrap();
    let archive = archive(dir.path()).await;
    let down = ArchivingTransport::new(archive.clone(), AsyncStubTransport::new_error());
    let up = ArchivingTransport::new(archive.clone(), AsyncStubTransport::new_ok());

    // A rebuilt message has a new Message-ID and Date: other bytes, same key.
    let first = down
        .send_with(&order_mail("ORD-1"), order_meta("ORD-1"))
        .await
        .unwrap_err();
    let SendError::Send {
        receipt: Some(first),
        ..
    } = first
    else {
        panic!("the failed send is recorded: {first:?}");
    };
    let retry = up
        .send_with(&order_mail("ORD-1"), order_meta("ORD-1"))
        .await
        .unwrap();
    let retry = retry.receipt.unwrap();
    assert_eq!(retry.status, RecordStatus::DuplicateKey);
    assert_eq!(retry.id, first.id);
    let delivered = up.inner().messages().await;
    let archived = archive.get_raw(&first.id).await.unwrap();
    assert_eq!(delivered.len(), 1);
    assert_ne!(
        order_mail("ORD-1").formatted(),
        archived.to_vec(),
        "renderings differ, so the check below can fail"
    );
    assert_eq!(
        delivered[0].1.as_bytes(),
        &archived[..],
        "the retry delivers the archived bytes, not its new rendering"
    );

    archive.flush(FLUSH).await.unwrap();
    assert_eq!(archive.entries().await.unwrap().len(), 1);
    let statuses = archive.open(&first.id).await.unwrap().send_statuses;
    let outcomes: Vec<_> = statuses.iter().map(|s| s.outcome).collect();
    assert_eq!(outcomes, [SendOutcome::Failed, SendOutcome::Accepted]);
    assert_eq!(statuses[0].error.as_deref(), Some("stub error"));
}

#[tokio::test]
async fn unrecordable_mail_not_sent_unless_configured() {
    let dir = tempfile::tempdir().unwrap();
    let archive = archive(dir.path()).await;
    archive.close(FLUSH).await.unwrap();

    let stub = AsyncStubTransport::new_ok();
    let refusing = ArchivingTransport::new(archive.clone(), stub.clone());
    let error = refusing
        .send_with(&order_mail("ORD-2"), order_meta("ORD-2"))
        .await
        .unwrap_err();
    assert!(matches!(error, SendError::NotRecorded(RecordError::Closed)));
    assert!(stub.messages().await.is_empty(), "nothing was sent");

    let sending =
        ArchivingTransport::new(archive, stub.clone()).when_unrecorded(WhenUnrecorded::SendAnyway);
    let sent = sending
        .send_with(&order_mail("ORD-2"), order_meta("ORD-2"))
        .await
        .unwrap();
    assert!(sent.receipt.is_none());
    assert_eq!(stub.messages().await.len(), 1);
}

#[tokio::test]
async fn while_sending_checks_the_journal_before_the_first_byte() {
    let dir = tempfile::tempdir().unwrap();
    let archive = Archive::builder(Arc::new(MemoryStorage::new()), dir.path())
        .journal_max_bytes(64 << 10)
        .open()
        .await
        .unwrap();
    let stub = AsyncStubTransport::new_ok();
    let mailer =
        ArchivingTransport::new(archive.clone(), stub.clone()).timing(RecordTiming::WhileSending);

    let sent = mailer
        .send_with(&order_mail("ORD-3"), order_meta("ORD-3"))
        .await
        .unwrap();
    assert_eq!(sent.receipt.unwrap().status, RecordStatus::Stored);

    let big = lettre::Message::builder()
        .from("shop@example.jp".parse().unwrap())
        .to("hoge.123@example.com".parse().unwrap())
        .subject("big")
        .body("x".repeat(100 << 10))
        .unwrap();
    let error = mailer
        .send_with(&big, order_meta("ORD-4"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            SendError::NotRecorded(RecordError::JournalFull { .. })
        ),
        "{error:?}"
    );
    assert_eq!(stub.messages().await.len(), 1, "the big mail was not sent");
}

#[tokio::test]
async fn accepted_message_is_not_sent_again() {
    let dir = tempfile::tempdir().unwrap();
    let archive = archive(dir.path()).await;
    let stub = AsyncStubTransport::new_ok();
    let mailer = ArchivingTransport::new(archive.clone(), stub.clone());

    mailer
        .send_with(&order_mail("ORD-5"), order_meta("ORD-5"))
        .await
        .unwrap();
    let again = mailer
        .send_with(&order_mail("ORD-5"), order_meta("ORD-5"))
        .await
        .unwrap_err();
    assert!(matches!(again, SendError::AlreadySent { .. }), "{again:?}");
    assert_eq!(stub.messages().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sends_of_one_key_deliver_once() {
    let dir = tempfile::tempdir().unwrap();
    let archive = archive(dir.path()).await;
    let stub = AsyncStubTransport::new_ok();
    let mailer = ArchivingTransport::new(archive.clone(), stub.clone());

    let mut tasks = Vec::new();
    for _ in 0..20 {
        let mailer = mailer.clone();
        tasks.push(tokio::spawn(async move {
            mailer
                .send_with(&order_mail("ORD-6"), order_meta("ORD-6"))
                .await
        }));
    }
    let mut delivered = 0;
    let mut already_sent = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => delivered += 1,
            Err(SendError::AlreadySent { .. }) => already_sent += 1,
            Err(error) => panic!("unexpected error: {error}"),
        }
    }
    assert_eq!(delivered, 1);
    assert_eq!(already_sent, 19);
    assert_eq!(stub.messages().await.len(), 1);

    archive.flush(FLUSH).await.unwrap();
    assert_eq!(archive.entries().await.unwrap().len(), 1);
    let id = archive.entries().await.unwrap()[0].id;
    let statuses = archive.open(&id).await.unwrap().send_statuses;
    assert_eq!(statuses.len(), 1, "one accepted status: {statuses:?}");
}

/// A relay that holds every mail to `held@example.com` until released.
#[derive(Clone)]
struct GateTransport {
    gate: Arc<tokio::sync::Notify>,
}

#[async_trait::async_trait]
impl lettre::AsyncTransport for GateTransport {
    type Ok = ();
    type Error = lettre::transport::stub::Error;

    async fn send_raw(
        &self,
        envelope: &lettre::address::Envelope,
        _email: &[u8],
    ) -> Result<(), Self::Error> {
        if envelope
            .to()
            .iter()
            .any(|to| to.to_string() == "held@example.com")
        {
            self.gate.notified().await;
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_send_does_not_block_other_messages() {
    let dir = tempfile::tempdir().unwrap();
    let archive = archive(dir.path()).await;
    let gate = Arc::new(tokio::sync::Notify::new());
    let mailer = ArchivingTransport::new(archive.clone(), GateTransport { gate: gate.clone() });

    let held = lettre::Message::builder()
        .from("shop@example.jp".parse().unwrap())
        .to("held@example.com".parse().unwrap())
        .subject("held")
        .body("held".to_owned())
        .unwrap();
    let hung = {
        let mailer = mailer.clone();
        tokio::spawn(async move { mailer.send_with(&held, order_meta("ORD-7")).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;

    // Every other message goes through while the first one hangs.
    for n in 0..50 {
        let order = format!("ORD-8-{n}");
        let sent = tokio::time::timeout(
            Duration::from_secs(5),
            mailer.send_with(&order_mail(&order), order_meta(&order)),
        )
        .await
        .expect("not blocked by the hung send");
        assert!(sent.is_ok());
    }
    gate.notify_one();
    assert!(hung.await.unwrap().is_ok());
}

#[tokio::test]
async fn same_bytes_to_another_recipient_are_sent() {
    let dir = tempfile::tempdir().unwrap();
    let archive = archive(dir.path()).await;
    let stub = AsyncStubTransport::new_ok();
    let mailer = ArchivingTransport::new(archive.clone(), stub.clone());

    // One rendering of a bulk mail, sent to one recipient after another.
    let mail = order_mail("BULK-1");
    let raw = mail.formatted();
    for (n, to) in ["a@example.com", "b@example.com"].iter().enumerate() {
        let envelope = lettre::address::Envelope::new(
            Some("shop@example.jp".parse().unwrap()),
            vec![to.parse().unwrap()],
        )
        .unwrap();
        let meta = RecordMeta::new(Source::App).with_idempotency_key(format!("bulk/{n}"));
        let sent = mailer.send_raw_with(&envelope, &raw, meta).await.unwrap();
        assert!(sent.receipt.is_some());
    }
    let delivered: Vec<String> = stub
        .messages()
        .await
        .iter()
        .map(|(envelope, _)| envelope.to()[0].to_string())
        .collect();
    assert_eq!(delivered, ["a@example.com", "b@example.com"]);
}
