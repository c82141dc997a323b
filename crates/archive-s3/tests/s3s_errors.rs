//! Errors against a real S3-compatible server (s3s-fs with signature
//! checking): wrong credentials, a missing bucket, an unreachable server.
//! Each must name what failed and what to check.
//!
//! Needs the feature `server-tests` and the server that
//! scripts/with-s3s.sh starts.

#![cfg(feature = "server-tests")]

mod support;

use archive_core::StorageError;
use archive_s3::{Credentials, S3Storage};
use support::server::{Server, free_port, unique_prefix};

async fn open_error(config: &archive_s3::S3Config) -> StorageError {
    S3Storage::open(config, None)
        .await
        .expect_err("open must fail")
}

#[tokio::test]
async fn wrong_secret_key_is_rejected() {
    let server = Server::shared();
    let prefix = unique_prefix("wrong-secret");
    let mut config = server.config(&prefix);
    config.credentials = Some(Credentials {
        access_key_id: server.access_key.clone(),
        secret_access_key: "not-the-secret".into(),
        session_token: None,
    });

    let error = open_error(&config).await;
    assert!(!error.is_retryable(), "{error}");
    let message = error.to_string();
    let expected = format!(
        "storage backend s3 failed: LIST s3://{}/{prefix}/dictionaries/ failed: \
         the server rejected the credentials (SignatureDoesNotMatch); \
         check the credentials in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN",
        server.bucket
    );
    assert!(message.starts_with(&expected), "{message}");
    assert!(
        !message.contains("not-the-secret"),
        "the secret stays out of messages"
    );
}

#[tokio::test]
async fn unknown_access_key_is_rejected() {
    let server = Server::shared();
    let mut config = server.config(&unique_prefix("wrong-key"));
    config.credentials = Some(Credentials {
        access_key_id: "nobody".into(),
        secret_access_key: server.secret_key.clone(),
        session_token: None,
    });

    let error = open_error(&config).await;
    assert!(!error.is_retryable(), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("failed: the server rejected the credentials ("),
        "{message}"
    );
    assert!(message.contains("AWS_ACCESS_KEY_ID"), "{message}");
}

#[tokio::test]
async fn missing_bucket_is_named() {
    let server = Server::shared();
    let mut config = server.config("archive");
    config.bucket = "no-such-bucket-here".into();

    let error = open_error(&config).await;
    assert!(!error.is_retryable(), "{error}");
    let message = error.to_string();
    let expected = "storage backend s3 failed: LIST s3://no-such-bucket-here/archive/dictionaries/ \
         failed: the bucket does not exist (NoSuchBucket); create the bucket, or check the bucket \
         name in --storage and the endpoint";
    assert!(message.starts_with(expected), "{message}");
}

#[tokio::test]
async fn unreachable_server_is_unavailable() {
    let server = Server::shared();
    let mut config = server.config("archive");
    let closed = free_port();
    config.endpoint = Some(format!("http://127.0.0.1:{closed}"));

    let error = open_error(&config).await;
    assert!(error.is_retryable(), "{error}");
    assert!(
        matches!(error, StorageError::Unavailable { backend: "s3", .. }),
        "{error:?}"
    );
    let message = error.to_string();
    let expected = format!(
        "storage backend s3 is unavailable: LIST s3://{}/archive/dictionaries/ failed: \
         the server is unavailable; check that the server is running and reachable",
        server.bucket
    );
    assert!(message.starts_with(&expected), "{message}");
    assert!(
        message.contains(&format!("127.0.0.1:{closed}")),
        "{message}"
    );
}
