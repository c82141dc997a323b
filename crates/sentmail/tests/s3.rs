//! `sentmail --storage s3://...` end to end, against s3s-fs on loopback.
//!
//! Needs the feature `server-tests` and the server that
//! scripts/with-s3s.sh starts; without the server every test fails with
//! a message saying how to run it.

#![cfg(feature = "server-tests")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const HOW_TO_RUN: &str = "the S3 tests need s3s-fs; run scripts/test.sh, or \
     scripts/with-s3s.sh cargo test -p sentmail --features server-tests";

fn required(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: {HOW_TO_RUN}"))
}

/// The shared server's endpoint, bucket and credentials.
struct Server {
    endpoint: String,
    bucket: String,
    access_key: String,
    secret_key: String,
}

impl Server {
    fn shared() -> Server {
        Server {
            endpoint: required("SENTMAIL_TEST_S3_ENDPOINT"),
            bucket: required("SENTMAIL_TEST_S3_BUCKET"),
            access_key: required("SENTMAIL_TEST_S3_ACCESS_KEY"),
            secret_key: required("SENTMAIL_TEST_S3_SECRET_KEY"),
        }
    }
}

/// Runs sentmail with `--storage url` and the server's flags, in an
/// environment that holds only the given credentials.
fn sentmail(server: &Server, secret: &str, data: &Path, url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sentmail"))
        .env_clear()
        .env("AWS_ACCESS_KEY_ID", &server.access_key)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .arg("--data")
        .arg(data)
        .args(["--storage", url, "--s3-endpoint", &server.endpoint])
        .args([
            "--s3-region",
            "us-east-1",
            "--s3-path-style",
            "--s3-allow-http",
        ])
        .args(args)
        .output()
        .expect("run sentmail")
}

fn unique_prefix(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos();
    format!("cli/{test}-{}-{nanos}", std::process::id())
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/synthetic-sample")
}

fn stdout_json(output: &Output) -> Value {
    let text = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {text}"))
}

#[test]
fn import_verify_and_show_from_s3() {
    let server = Server::shared();
    let data = tempfile::tempdir().unwrap();
    let url = format!("s3://{}/{}", server.bucket, unique_prefix("import"));
    let sample = sample();
    let secret = server.secret_key.clone();
    let run = |args: &[&str]| sentmail(&server, &secret, data.path(), &url, args);

    let import = run(&["import", "--json", sample.to_str().unwrap()]);
    let summary = stdout_json(&import);
    // 200 messages, plus README.md and truth.jsonl, which are imported as
    // flagged messages (no Date, no Message-ID).
    assert_eq!(summary["stored"], 202, "{summary}");
    assert_eq!(summary["flagged"], 2, "{summary}");
    assert_eq!(summary["failed"], 0, "{summary}");

    let verify = run(&["verify"]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&verify.stdout),
        "Checked 202 messages: no damage found.\n"
    );

    let again = run(&["import", "--json", sample.to_str().unwrap()]);
    let summary = stdout_json(&again);
    assert_eq!(summary["stored"], 0, "a second import stores nothing");
    assert_eq!(summary["already_archived"], 202);

    let original = std::fs::read(sample.join("0000001.eml")).unwrap();
    let id = archive_core::ArchiveId::of(&original).to_hex();
    let raw = run(&["show", &id, "--raw"]);
    assert!(
        raw.status.success(),
        "{}",
        String::from_utf8_lossy(&raw.stderr)
    );
    assert_eq!(raw.stdout, original, "bytes read back from S3 unchanged");

    let mut local: Vec<String> = std::fs::read_dir(data.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    local.sort();
    assert_eq!(
        local,
        vec!["index", "journal", "s3-cache"],
        "packs go to the bucket; the data directory keeps the journal, the search index and the cache"
    );
}

#[test]
fn wrong_secret_fails_at_start() {
    let server = Server::shared();
    let data = tempfile::tempdir().unwrap();
    let prefix = unique_prefix("wrong-secret");
    let url = format!("s3://{}/{prefix}", server.bucket);

    let output = sentmail(&server, "not-the-secret", data.path(), &url, &["list"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let expected = format!(
        "error: opening the archive in {url} failed: storage backend s3 failed: \
         LIST s3://{}/{prefix}/dictionaries/ failed: the server rejected the credentials \
         (SignatureDoesNotMatch); check the credentials in AWS_ACCESS_KEY_ID",
        server.bucket
    );
    assert!(stderr.starts_with(&expected), "{stderr}");
}

#[test]
fn missing_bucket_fails_at_start() {
    let server = Server::shared();
    let data = tempfile::tempdir().unwrap();
    let secret = server.secret_key.clone();

    let output = sentmail(
        &server,
        &secret,
        data.path(),
        "s3://no-such-bucket/x",
        &["list"],
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with(
            "error: opening the archive in s3://no-such-bucket/x failed: storage backend s3 \
             failed: LIST s3://no-such-bucket/x/dictionaries/ failed: the bucket does not exist \
             (NoSuchBucket); create the bucket"
        ),
        "{stderr}"
    );
}

#[test]
fn invalid_storage_url_is_rejected() {
    let server = Server::shared();
    let data = tempfile::tempdir().unwrap();
    let secret = server.secret_key.clone();

    let output = sentmail(&server, &secret, data.path(), "s3:/mail", &["list"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr,
        "error: invalid storage URL \"s3:/mail\": expected s3://BUCKET/PREFIX\n"
    );
}
