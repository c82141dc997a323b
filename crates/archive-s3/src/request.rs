//! Sending requests: a few quick retries of temporary failures, each one
//! logged with the key, and counters of the requests sent.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore};

use crate::error::RequestError;
use crate::storage::Inner;

/// Attempts of one request before its error goes to the caller. The
/// archive's mover retries failed puts for as long as it takes, so the
/// backend only rides out short interruptions.
pub(crate) const ATTEMPTS: u32 = 3;
/// Wait before the second attempt; it grows four-fold per attempt.
const FIRST_WAIT: Duration = Duration::from_millis(100);

/// Numbers of requests sent and bytes moved since the storage was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestStats {
    /// PUT requests, including failed attempts.
    pub put_requests: u64,
    /// GET requests (whole objects, ranges and footers), including failed
    /// attempts.
    pub get_requests: u64,
    /// HEAD requests, including failed attempts.
    pub head_requests: u64,
    /// Listings of a prefix, including failed attempts. A listing sends one
    /// request per 1,000 keys.
    pub list_requests: u64,
    /// Objects deleted or attempted. S3 deletes up to 1,000 objects per
    /// request.
    pub deleted_objects: u64,
    /// Packs stored by `put`, including those found stored by an earlier
    /// attempt.
    pub packs_stored: u64,
    /// Bytes sent in PUT bodies.
    pub bytes_uploaded: u64,
    /// Bytes received in GET bodies.
    pub bytes_downloaded: u64,
}

/// The counters behind [`RequestStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) put: AtomicU64,
    pub(crate) get: AtomicU64,
    pub(crate) head: AtomicU64,
    pub(crate) list: AtomicU64,
    pub(crate) deleted: AtomicU64,
    pub(crate) packs: AtomicU64,
    pub(crate) uploaded: AtomicU64,
    pub(crate) downloaded: AtomicU64,
}

impl Counters {
    /// Adds `n` to `counter`.
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Returns the current numbers.
    pub(crate) fn snapshot(&self) -> RequestStats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        RequestStats {
            put_requests: read(&self.put),
            get_requests: read(&self.get),
            head_requests: read(&self.head),
            list_requests: read(&self.list),
            deleted_objects: read(&self.deleted),
            packs_stored: read(&self.packs),
            bytes_uploaded: read(&self.uploaded),
            bytes_downloaded: read(&self.downloaded),
        }
    }
}

/// Sends a request up to [`ATTEMPTS`] times while it fails with a
/// retryable error, counting each attempt in `counter`. `target` names the
/// object or prefix in log lines and errors.
pub(crate) async fn send<T, F, Fut>(
    operation: &'static str,
    target: &str,
    counter: &AtomicU64,
    mut request: F,
) -> Result<T, RequestError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, object_store::Error>>,
{
    let mut wait = FIRST_WAIT;
    let mut attempt = 1;
    loop {
        Counters::add(counter, 1);
        let error = match request().await {
            Ok(value) => return Ok(value),
            Err(error) => RequestError::new(operation, target.to_owned(), error),
        };
        if !error.is_retryable() || attempt == ATTEMPTS {
            return Err(error);
        }
        tracing::info!(
            operation,
            key = target,
            attempt,
            retry_in_ms = wait.as_millis() as u64,
            %error,
            "object store request failed; retrying"
        );
        tokio::time::sleep(wait).await;
        wait *= 4;
        attempt += 1;
    }
}

/// Lists the objects under `prefix` (in pages of 1,000 keys), with quick
/// retries. `target` names the prefix in log lines and errors.
pub(crate) async fn list(
    inner: &Inner,
    prefix: &Path,
    target: &str,
) -> Result<Vec<ObjectMeta>, RequestError> {
    send("LIST", target, &inner.counters.list, || {
        inner
            .store
            .list(Some(prefix))
            .try_collect::<Vec<ObjectMeta>>()
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Failure;
    use object_store::client::{HttpError, HttpErrorKind};

    #[derive(Debug, thiserror::Error)]
    #[error("connection refused")]
    struct Refused;

    fn unavailable() -> object_store::Error {
        object_store::Error::Generic {
            store: "S3",
            source: Box::new(HttpError::new(HttpErrorKind::Connect, Refused)),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_temporary_failures() {
        let counter = AtomicU64::new(0);
        let mut calls = 0;
        let result = send("GET", "s3://b/k", &counter, || {
            calls += 1;
            let fail = calls < 3;
            async move { if fail { Err(unavailable()) } else { Ok(7) } }
        })
        .await;
        assert_eq!(result.unwrap(), 7);
        assert_eq!(counter.load(Ordering::Relaxed), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_the_last_attempt() {
        let counter = AtomicU64::new(0);
        let result: Result<(), _> =
            send("PUT", "s3://b/k", &counter, || async { Err(unavailable()) }).await;
        let error = result.unwrap_err();
        assert_eq!(error.failure, Failure::Unavailable);
        assert_eq!(counter.load(Ordering::Relaxed), u64::from(ATTEMPTS));
    }

    #[tokio::test(start_paused = true)]
    async fn does_not_retry_permanent_failures() {
        let counter = AtomicU64::new(0);
        let result: Result<(), _> = send("GET", "s3://b/k", &counter, || async {
            Err(object_store::Error::NotFound {
                path: "k".into(),
                source: Box::new(Refused),
            })
        })
        .await;
        assert_eq!(result.unwrap_err().failure, Failure::NotFound);
        assert_eq!(counter.load(Ordering::Relaxed), 1);
    }
}
