//! Failed object store requests, sorted into what a retry can fix and what
//! the operator must fix, and mapped onto `StorageError`.

use std::error::Error as StdError;
use std::fmt;

use archive_core::StorageError;
use object_store::client::HttpError;

/// Name of this backend in `StorageError`.
pub(crate) const BACKEND: &str = "s3";

/// What kind of failure a request met, which decides the message and
/// whether a retry can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The server could not be reached, timed out, failed (5xx) or
    /// throttled (429, 503 SlowDown). Retryable.
    Unavailable,
    /// The server rejected the credentials or the request's permissions
    /// (401, 403).
    Credentials,
    /// The bucket does not exist (404 NoSuchBucket).
    NoSuchBucket,
    /// The object does not exist (404).
    NotFound,
    /// A create-only put found the key taken (409, 412).
    AlreadyExists,
    /// The server replied with a redirect, because the bucket is in another
    /// region.
    WrongRegion,
    /// Anything else, such as a 400 reply or an unsupported request.
    Other,
}

/// A failed request: the operation, the object or prefix, and the error.
#[derive(Debug)]
pub(crate) struct RequestError {
    /// The request, such as "PUT" or "LIST".
    pub(crate) operation: &'static str,
    /// The object or prefix, such as `s3://bucket/key`.
    pub(crate) target: String,
    /// The kind of failure.
    pub(crate) failure: Failure,
    /// The error from object_store.
    pub(crate) source: object_store::Error,
}

impl RequestError {
    /// Classifies `source`, the error of `operation` on `target`.
    pub(crate) fn new(
        operation: &'static str,
        target: String,
        source: object_store::Error,
    ) -> RequestError {
        RequestError {
            operation,
            target,
            failure: classify(&source),
            source,
        }
    }

    /// Returns true if the same request may succeed later.
    pub(crate) fn is_retryable(&self) -> bool {
        self.failure == Failure::Unavailable
    }

    /// Returns what the operator should check, for the error message.
    fn advice(&self) -> &'static str {
        match self.failure {
            Failure::Unavailable => {
                "check that the server is running and reachable at the configured endpoint \
                 (--s3-endpoint or AWS_ENDPOINT_URL); a later retry can succeed"
            }
            Failure::Credentials => {
                "check the credentials in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and \
                 AWS_SESSION_TOKEN, that they allow GetObject, PutObject, DeleteObject and \
                 ListBucket on the bucket, and that this machine's clock is correct"
            }
            Failure::NoSuchBucket => {
                "create the bucket, or check the bucket name in --storage and the endpoint \
                 (--s3-endpoint or AWS_ENDPOINT_URL)"
            }
            Failure::WrongRegion => {
                "the bucket is in another region; set --s3-region or AWS_REGION to the \
                 bucket's region"
            }
            Failure::NotFound => "the object is missing from the bucket",
            Failure::AlreadyExists => "the key is already taken",
            Failure::Other => {
                "check the endpoint, region and addressing style (--s3-path-style) settings"
            }
        }
    }

    fn summary(&self) -> &'static str {
        match self.failure {
            Failure::Unavailable => "the server is unavailable",
            Failure::Credentials => "the server rejected the credentials",
            Failure::NoSuchBucket => "the bucket does not exist",
            Failure::WrongRegion => "the server redirected the request",
            Failure::NotFound => "not found",
            Failure::AlreadyExists => "already exists",
            Failure::Other => "the request was rejected",
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} failed: {}",
            self.operation,
            self.target,
            self.summary()
        )?;
        if let Some(code) = s3_error_code(&self.source) {
            write!(f, " ({code})")?;
        }
        write!(f, "; {} [{}]", self.advice(), chain(&self.source))
    }
}

impl StdError for RequestError {}

impl From<RequestError> for StorageError {
    fn from(error: RequestError) -> StorageError {
        if error.is_retryable() {
            StorageError::Unavailable {
                backend: BACKEND,
                source: Box::new(error),
            }
        } else {
            StorageError::Other {
                backend: BACKEND,
                source: Box::new(error),
            }
        }
    }
}

/// Sorts an object_store error into a [`Failure`].
///
/// object_store maps 404, 409, 412, 401 and 403 replies to their own
/// variants. Every other reply and every transport error arrives as
/// `Generic`, whose text carries the HTTP status and the S3 error body.
pub(crate) fn classify(error: &object_store::Error) -> Failure {
    use object_store::Error as E;
    match error {
        E::NotFound { .. } if s3_error_code(error).as_deref() == Some("NoSuchBucket") => {
            Failure::NoSuchBucket
        }
        E::NotFound { .. } => Failure::NotFound,
        E::AlreadyExists { .. } | E::Precondition { .. } => Failure::AlreadyExists,
        E::Unauthenticated { .. } | E::PermissionDenied { .. } => Failure::Credentials,
        E::Generic { .. } => classify_generic(error),
        _ => Failure::Other,
    }
}

fn classify_generic(error: &object_store::Error) -> Failure {
    if has_transport_error(error) {
        return Failure::Unavailable;
    }
    let text = chain(error);
    if text.contains("Received redirect") {
        return Failure::WrongRegion;
    }
    match http_status(&text) {
        Some(status) if status >= 500 || status == 429 || status == 408 => Failure::Unavailable,
        Some(301 | 307) => Failure::WrongRegion,
        Some(404) if text.contains("NoSuchBucket") => Failure::NoSuchBucket,
        Some(401 | 403) => Failure::Credentials,
        Some(_) => Failure::Other,
        // S3 can report InternalError or SlowDown in the body of a 200 reply.
        None if text.contains("InternalError") || text.contains("SlowDown") => Failure::Unavailable,
        None => Failure::Other,
    }
}

/// Returns true if the error chain contains a transport failure: the request
/// never got a complete reply (refused, reset, timed out, cut short).
fn has_transport_error(error: &object_store::Error) -> bool {
    let mut current: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(error) = current {
        if error.downcast_ref::<HttpError>().is_some() {
            return true;
        }
        current = error.source();
    }
    false
}

/// Finds the status in object_store's text "non-2xx status code: 503 ...".
fn http_status(text: &str) -> Option<u16> {
    let (_, rest) = text.split_once("status code: ")?;
    rest.get(..3)?.parse().ok()
}

/// Finds the S3 error code, such as `SignatureDoesNotMatch`, in the XML
/// body that the error text carries.
fn s3_error_code(error: &object_store::Error) -> Option<String> {
    let text = chain(error);
    let (_, rest) = text.split_once("<Code>")?;
    let (code, _) = rest.split_once("</Code>")?;
    Some(code.to_owned())
}

/// Joins the messages of an error and its sources, skipping a source whose
/// text its parent already contains.
fn chain(error: &(dyn StdError + 'static)) -> String {
    let mut text = error.to_string();
    let mut current = error.source();
    while let Some(source) = current {
        let part = source.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        current = source.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::client::HttpErrorKind;

    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct Text(String);

    fn generic(text: &str) -> object_store::Error {
        object_store::Error::Generic {
            store: "S3",
            source: Box::new(Text(text.into())),
        }
    }

    fn boxed(text: &str) -> Box<dyn StdError + Send + Sync> {
        Box::new(Text(text.into()))
    }

    #[test]
    fn transport_errors_are_unavailable() {
        for kind in [
            HttpErrorKind::Connect,
            HttpErrorKind::Timeout,
            HttpErrorKind::Interrupted,
            HttpErrorKind::Request,
        ] {
            let error = object_store::Error::Generic {
                store: "S3",
                source: Box::new(HttpError::new(kind, Text("connection refused".into()))),
            };
            assert_eq!(classify(&error), Failure::Unavailable, "{kind:?}");
        }
    }

    #[test]
    fn server_errors_and_throttling_are_unavailable() {
        for text in [
            "Error performing PUT http://h/b/k in 2ms - Server returned non-2xx status code: 500 Internal Server Error: ",
            "Error performing PUT http://h/b/k - Server returned non-2xx status code: 503 Service Unavailable: <Error><Code>SlowDown</Code></Error>",
            "Error performing GET http://h/b/k - Server returned non-2xx status code: 429 Too Many Requests: ",
            "Server returned error response: <Error><Code>InternalError</Code></Error>",
        ] {
            assert_eq!(classify(&generic(text)), Failure::Unavailable, "{text}");
        }
    }

    #[test]
    fn client_errors_are_not_retryable() {
        let bad_request = generic(
            "Server returned non-2xx status code: 400 Bad Request: <Error><Code>InvalidBucketName</Code></Error>",
        );
        assert_eq!(classify(&bad_request), Failure::Other);
        assert_eq!(
            classify(&generic(
                "Received redirect without LOCATION, this normally indicates an incorrectly configured region"
            )),
            Failure::WrongRegion
        );
    }

    #[test]
    fn status_variants_map_to_failures() {
        use object_store::Error as E;
        let cases = [
            (
                E::NotFound {
                    path: "k".into(),
                    source: boxed(
                        "status code: 404 Not Found: <Error><Code>NoSuchKey</Code></Error>",
                    ),
                },
                Failure::NotFound,
            ),
            (
                E::NotFound {
                    path: "k".into(),
                    source: boxed(
                        "status code: 404 Not Found: <Error><Code>NoSuchBucket</Code></Error>",
                    ),
                },
                Failure::NoSuchBucket,
            ),
            (
                E::AlreadyExists {
                    path: "k".into(),
                    source: boxed("exists"),
                },
                Failure::AlreadyExists,
            ),
            (
                E::Precondition {
                    path: "k".into(),
                    source: boxed("412"),
                },
                Failure::AlreadyExists,
            ),
            (
                E::PermissionDenied {
                    path: "k".into(),
                    source: boxed("<Code>SignatureDoesNotMatch</Code>"),
                },
                Failure::Credentials,
            ),
            (
                E::Unauthenticated {
                    path: "k".into(),
                    source: boxed("401"),
                },
                Failure::Credentials,
            ),
        ];
        for (error, expected) in cases {
            assert_eq!(classify(&error), expected, "{error}");
        }
    }

    #[test]
    fn unavailable_maps_to_retryable_storage_error() {
        let error = RequestError::new(
            "PUT",
            "s3://mail/packs/default/2026-12-04/1-ab.pack".into(),
            generic("Server returned non-2xx status code: 503 Service Unavailable: "),
        );
        let storage: StorageError = error.into();
        assert!(storage.is_retryable());
        let message = storage.to_string();
        assert!(
            message.starts_with(
                "storage backend s3 is unavailable: PUT s3://mail/packs/default/2026-12-04/1-ab.pack failed: the server is unavailable; check that the server is running"
            ),
            "{message}"
        );
    }

    #[test]
    fn credentials_error_names_code_and_variables() {
        let error = RequestError::new(
            "LIST",
            "s3://mail/archive/".into(),
            object_store::Error::PermissionDenied {
                path: "archive".into(),
                source: boxed(
                    "Server returned non-2xx status code: 403 Forbidden: <Error><Code>SignatureDoesNotMatch</Code></Error>",
                ),
            },
        );
        let storage: StorageError = error.into();
        assert!(!storage.is_retryable());
        let message = storage.to_string();
        assert!(
            message.starts_with(
                "storage backend s3 failed: LIST s3://mail/archive/ failed: the server rejected the credentials (SignatureDoesNotMatch); check the credentials in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN"
            ),
            "{message}"
        );
    }

    #[test]
    fn missing_bucket_error_names_fix() {
        let error = RequestError::new(
            "LIST",
            "s3://nobucket/".into(),
            object_store::Error::NotFound {
                path: "".into(),
                source: boxed("<Error><Code>NoSuchBucket</Code></Error>"),
            },
        );
        assert!(!error.is_retryable());
        let message = error.to_string();
        assert!(
            message.starts_with(
                "LIST s3://nobucket/ failed: the bucket does not exist (NoSuchBucket); create the bucket"
            ),
            "{message}"
        );
    }

    #[test]
    fn status_parsing() {
        assert_eq!(http_status("x status code: 503 Service"), Some(503));
        assert_eq!(http_status("no status here"), None);
        assert_eq!(http_status("status code: 5"), None);
    }
}
