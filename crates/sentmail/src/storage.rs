//! `--storage`: where the archive keeps its packs. By default that is the
//! data directory; `--storage s3://BUCKET/PREFIX` puts them in S3. The
//! capture journal always stays in the data directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use archive_core::Storage;
use archive_fs::FsStorage;
use archive_s3::{S3Config, S3Storage};
use clap::Args;

/// Storage options, shared by every command.
#[derive(Debug, Args)]
pub struct StorageArgs {
    /// Storage of the packs: s3://BUCKET/PREFIX for S3, or unset for the
    /// data directory. Credentials come from AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN.
    #[arg(long, global = true, env = "SENTMAIL_STORAGE", value_name = "URL")]
    pub storage: Option<String>,

    /// S3 server URL, for S3-compatible servers [default: AWS_ENDPOINT_URL,
    /// else AWS S3].
    #[arg(long, global = true, value_name = "URL", requires = "storage")]
    pub s3_endpoint: Option<String>,

    /// S3 region [default: AWS_REGION, else us-east-1].
    #[arg(long, global = true, value_name = "REGION", requires = "storage")]
    pub s3_region: Option<String>,

    /// Send path-style requests (http://host/bucket/key) instead of
    /// virtual-hosted-style ones (http://bucket.host/key). Most
    /// self-hosted S3 servers need this.
    #[arg(
        long,
        global = true,
        env = "SENTMAIL_S3_PATH_STYLE",
        requires = "storage"
    )]
    pub s3_path_style: bool,

    /// Allow plain HTTP to the S3 endpoint, for a server on a trusted
    /// network [default: AWS_ALLOW_HTTP, else HTTPS only].
    #[arg(long, global = true, requires = "storage")]
    pub s3_allow_http: bool,

    /// Directory of the local cache of pack footers [default:
    /// DATA/s3-cache].
    #[arg(long, global = true, value_name = "DIR", requires = "storage")]
    pub s3_cache: Option<PathBuf>,
}

/// The opened storage, and the S3 backend when there is one, for its
/// request counts.
pub struct OpenedStorage {
    /// The storage the archive uses.
    pub storage: Arc<dyn Storage>,
    s3: Option<Arc<S3Storage>>,
}

impl OpenedStorage {
    /// Logs the requests sent to S3 since open, at info level.
    pub fn log_requests(&self) {
        let Some(s3) = &self.s3 else {
            return;
        };
        let stats = s3.stats();
        tracing::info!(
            put = stats.put_requests,
            get = stats.get_requests,
            head = stats.head_requests,
            list = stats.list_requests,
            deleted = stats.deleted_objects,
            packs = stats.packs_stored,
            uploaded_bytes = stats.bytes_uploaded,
            downloaded_bytes = stats.bytes_downloaded,
            "S3 requests since open"
        );
    }
}

/// Opens the storage that `args` select, with `data` as the data directory.
pub async fn open(args: &StorageArgs, data: &Path) -> anyhow::Result<OpenedStorage> {
    let Some(url) = &args.storage else {
        let storage = FsStorage::open(data)
            .await
            .with_context(|| format!("opening the archive in {} failed", data.display()))?;
        return Ok(OpenedStorage {
            storage: Arc::new(storage),
            s3: None,
        });
    };

    let config = s3_config(args, url)?;
    let cache = args
        .s3_cache
        .clone()
        .unwrap_or_else(|| data.join("s3-cache"));
    let storage = S3Storage::open(&config, Some(cache))
        .await
        .with_context(|| format!("opening the archive in {} failed", config.url()))?;
    let storage = Arc::new(storage);
    Ok(OpenedStorage {
        storage: storage.clone(),
        s3: Some(storage),
    })
}

fn s3_config(args: &StorageArgs, url: &str) -> anyhow::Result<S3Config> {
    let mut config = S3Config::from_url(url)?;
    config.endpoint = args.s3_endpoint.clone();
    config.region = args.s3_region.clone();
    config.path_style = args.s3_path_style;
    config.allow_http = args.s3_allow_http.then_some(true);
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        storage: StorageArgs,
    }

    fn parse(args: &[&str]) -> Result<StorageArgs, clap::Error> {
        let argv = std::iter::once("sentmail").chain(args.iter().copied());
        Cli::try_parse_from(argv).map(|cli| cli.storage)
    }

    #[test]
    fn s3_flags_become_config() {
        let args = parse(&[
            "--storage",
            "s3://mail-archive/shop",
            "--s3-endpoint",
            "http://127.0.0.1:9000",
            "--s3-region",
            "eu-central-1",
            "--s3-path-style",
            "--s3-allow-http",
        ])
        .unwrap();
        let config = s3_config(&args, args.storage.as_deref().unwrap()).unwrap();
        assert_eq!(config.bucket, "mail-archive");
        assert_eq!(config.prefix, "shop");
        assert_eq!(config.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(config.region.as_deref(), Some("eu-central-1"));
        assert!(config.path_style);
        assert_eq!(config.allow_http, Some(true));
    }

    #[test]
    fn unset_flags_leave_environment_in_charge() {
        let args = parse(&["--storage", "s3://mail-archive"]).unwrap();
        let config = s3_config(&args, "s3://mail-archive").unwrap();
        assert_eq!(config.endpoint, None);
        assert_eq!(config.region, None);
        assert!(!config.path_style);
        assert_eq!(config.allow_http, None, "AWS_ALLOW_HTTP decides");
    }

    #[test]
    fn s3_flags_need_storage() {
        let error = parse(&["--s3-endpoint", "http://127.0.0.1:9000"]).unwrap_err();
        assert_eq!(
            error.kind(),
            clap::error::ErrorKind::MissingRequiredArgument
        );
    }

    #[test]
    fn other_url_is_rejected() {
        let args = parse(&["--storage", "/var/lib/sentmail"]).unwrap();
        let error = s3_config(&args, "/var/lib/sentmail").unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid storage URL \"/var/lib/sentmail\": expected s3://BUCKET/PREFIX"
        );
    }
}
