//! The archive's location in S3: the `s3://bucket/prefix` URL, the server
//! settings, and building the object_store client from them.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path;
use object_store::{BackoffConfig, ClientConfigKey, ObjectStore, RetryConfig};

/// The error for an invalid storage URL or S3 setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

/// Static credentials, for callers that do not take them from the
/// environment.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The session token of temporary credentials.
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// Settings of an archive in an S3 bucket.
///
/// [`S3Config::from_url`] reads the bucket and prefix. Every setting left
/// `None` falls back to the AWS environment variables that object_store
/// reads (`AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ALLOW_HTTP`,
/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, and the
/// other `AWS_*` keys of `AmazonS3Builder::from_env`), then to its
/// defaults: region `us-east-1`, HTTPS only, and credentials from the
/// instance metadata service when no other source is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Config {
    /// The bucket name.
    pub bucket: String,
    /// The key prefix of the archive, without leading or trailing `/`;
    /// empty for the bucket root.
    pub prefix: String,
    /// The server URL, such as `http://127.0.0.1:9000`; `None` for AWS.
    pub endpoint: Option<String>,
    /// The region.
    pub region: Option<String>,
    /// Send the bucket in the path (`http://host/bucket/key`) rather than
    /// in the host name (`http://bucket.host/key`). Most self-hosted
    /// servers need path-style requests.
    pub path_style: bool,
    /// Allow plain HTTP, for a server on a trusted local network.
    pub allow_http: Option<bool>,
    /// Credentials to use instead of the environment's.
    pub credentials: Option<Credentials>,
}

impl S3Config {
    /// Parses `s3://bucket/prefix`. The prefix is optional; its segments
    /// must be non-empty and must not be `.` or `..`.
    pub fn from_url(url: &str) -> Result<S3Config, ConfigError> {
        let Some(rest) = url.strip_prefix("s3://") else {
            return Err(ConfigError(format!(
                "invalid storage URL {url:?}: expected s3://BUCKET/PREFIX"
            )));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        validate_bucket(bucket).map_err(|reason| {
            ConfigError(format!("invalid bucket {bucket:?} in {url:?}: {reason}"))
        })?;
        let prefix = prefix.trim_end_matches('/');
        validate_prefix(prefix).map_err(|reason| {
            ConfigError(format!("invalid prefix {prefix:?} in {url:?}: {reason}"))
        })?;
        Ok(S3Config {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            endpoint: None,
            region: None,
            path_style: false,
            allow_http: None,
            credentials: None,
        })
    }

    /// Returns the URL of the archive, `s3://bucket/prefix`, for messages.
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }

    /// Builds the object_store client, taking unset settings from the
    /// environment. Sends no request.
    pub fn build_store(&self) -> Result<Arc<dyn ObjectStore>, ConfigError> {
        crate::tls::install_default_provider();
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&self.bucket)
            .with_config(client_key(ClientConfigKey::ConnectTimeout), "5s")
            .with_config(client_key(ClientConfigKey::Timeout), "120s")
            .with_retry(retry_config())
            .with_virtual_hosted_style_request(!self.path_style);
        if let Some(region) = &self.region {
            builder = builder.with_region(region);
        }
        if let Some(endpoint) = self.endpoint.clone().or_else(endpoint_from_env) {
            let endpoint = endpoint_for(&endpoint, &self.bucket, self.path_style)?;
            builder = builder
                .with_endpoint(&endpoint)
                .with_config(AmazonS3ConfigKey::S3Endpoint, endpoint);
        }
        if let Some(allow) = self.allow_http {
            builder = builder.with_allow_http(allow);
        }
        if let Some(credentials) = &self.credentials {
            builder = builder
                .with_access_key_id(&credentials.access_key_id)
                .with_secret_access_key(&credentials.secret_access_key);
            if let Some(token) = &credentials.session_token {
                builder = builder.with_token(token);
            }
        }
        let store = builder.build().map_err(|error| {
            ConfigError(format!(
                "configuring the S3 client for {} failed: {error}",
                self.url()
            ))
        })?;
        Ok(Arc::new(store))
    }
}

/// Returns the endpoint from the environment, in the order of precedence
/// object_store gives the variables.
fn endpoint_from_env() -> Option<String> {
    ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|value| !value.is_empty()))
}

fn client_key(key: ClientConfigKey) -> AmazonS3ConfigKey {
    AmazonS3ConfigKey::Client(key)
}

/// object_store retries nothing itself: the backend's own few quick
/// retries log the key, and the archive's mover retries puts for as long
/// as it takes.
fn retry_config() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig::default(),
        max_retries: 0,
        retry_timeout: Duration::from_secs(1),
    }
}

/// Returns the endpoint object_store expects: the server URL for
/// path-style requests, or the URL with the bucket as the first label of
/// the host name for virtual-hosted-style requests.
fn endpoint_for(endpoint: &str, bucket: &str, path_style: bool) -> Result<String, ConfigError> {
    let endpoint = endpoint.trim_end_matches('/');
    let Some((scheme, host)) = endpoint.split_once("://") else {
        return Err(ConfigError(format!(
            "invalid S3 endpoint {endpoint:?}: expected a URL such as https://s3.example.com or http://127.0.0.1:9000"
        )));
    };
    if !matches!(scheme, "http" | "https") || host.is_empty() {
        return Err(ConfigError(format!(
            "invalid S3 endpoint {endpoint:?}: expected an http:// or https:// URL with a host"
        )));
    }
    if path_style {
        Ok(endpoint.to_owned())
    } else {
        Ok(format!("{scheme}://{bucket}.{host}"))
    }
}

/// Checks the S3 bucket naming rules: 3 to 63 characters of `a-z`, `0-9`,
/// `.` and `-`, starting and ending with a letter or digit.
fn validate_bucket(bucket: &str) -> Result<(), &'static str> {
    if bucket.len() < 3 || bucket.len() > 63 {
        return Err("a bucket name has 3 to 63 characters");
    }
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-';
    if !bucket.chars().all(allowed) {
        return Err("a bucket name may contain only a-z, 0-9, '.' and '-'");
    }
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !edge(bucket.chars().next()) || !edge(bucket.chars().last()) {
        return Err("a bucket name starts and ends with a letter or digit");
    }
    Ok(())
}

fn validate_prefix(prefix: &str) -> Result<(), &'static str> {
    if prefix.is_empty() {
        return Ok(());
    }
    for segment in prefix.split('/') {
        if segment.is_empty() {
            return Err("the prefix has an empty segment ('//' or a leading '/')");
        }
        if segment == "." || segment == ".." {
            return Err("the prefix must not contain '.' or '..' segments");
        }
    }
    if Path::parse(prefix).is_err() {
        return Err("the prefix is not a valid object key");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_with_bucket_and_prefix() {
        let config = S3Config::from_url("s3://mail-archive/shop/prod").unwrap();
        assert_eq!(config.bucket, "mail-archive");
        assert_eq!(config.prefix, "shop/prod");
        assert_eq!(config.url(), "s3://mail-archive/shop/prod");
    }

    #[test]
    fn url_without_prefix() {
        for url in ["s3://mail-archive", "s3://mail-archive/"] {
            let config = S3Config::from_url(url).unwrap();
            assert_eq!(config.bucket, "mail-archive", "{url}");
            assert_eq!(config.prefix, "", "{url}");
        }
    }

    #[test]
    fn trailing_slash_of_prefix_is_dropped() {
        let config = S3Config::from_url("s3://mail/a/b/").unwrap();
        assert_eq!(config.prefix, "a/b");
    }

    #[test]
    fn invalid_urls() {
        let cases = [
            ("https://mail/x", "expected s3://BUCKET/PREFIX"),
            ("/var/lib/sentmail", "expected s3://BUCKET/PREFIX"),
            ("s3://", "3 to 63 characters"),
            ("s3://ab/x", "3 to 63 characters"),
            ("s3://Mail/x", "only a-z, 0-9"),
            ("s3://mail_box/x", "only a-z, 0-9"),
            ("s3://-mail/x", "starts and ends"),
            ("s3://mail//x", "empty segment"),
            ("s3://mail/a//b", "empty segment"),
            ("s3://mail/a/../b", "'..' segments"),
        ];
        for (url, expected) in cases {
            let error = S3Config::from_url(url).unwrap_err().to_string();
            assert!(error.contains(expected), "{url}: {error}");
        }
    }

    #[test]
    fn endpoint_addressing_styles() {
        assert_eq!(
            endpoint_for("http://127.0.0.1:9000/", "mail", true).unwrap(),
            "http://127.0.0.1:9000"
        );
        assert_eq!(
            endpoint_for("https://s3.example.com", "mail", false).unwrap(),
            "https://mail.s3.example.com"
        );
        assert!(endpoint_for("127.0.0.1:9000", "mail", true).is_err());
        assert!(endpoint_for("ftp://host", "mail", true).is_err());
        assert!(endpoint_for("http://", "mail", true).is_err());
    }

    #[test]
    fn build_store_sends_nothing() {
        let mut config = S3Config::from_url("s3://mail/archive").unwrap();
        config.endpoint = Some("http://127.0.0.1:9".into());
        config.region = Some("us-east-1".into());
        config.path_style = true;
        config.allow_http = Some(true);
        config.credentials = Some(Credentials {
            access_key_id: "key".into(),
            secret_access_key: "secret".into(),
            session_token: None,
        });
        let store = config.build_store().unwrap();
        assert!(store.to_string().contains("mail"), "{store}");
    }

    #[test]
    fn credentials_debug_hides_secret() {
        let credentials = Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI".into(),
            session_token: Some("token".into()),
        };
        let text = format!("{credentials:?}");
        assert!(text.contains("AKIDEXAMPLE"), "{text}");
        assert!(!text.contains("wJalrXUtnFEMI"), "{text}");
        assert!(!text.contains("token"), "{text}");
    }
}
