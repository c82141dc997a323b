//! The S3-compatible test server (s3s-fs) on loopback: the shared one that
//! scripts/test.sh starts, and private ones that fault tests start, stop
//! and restart themselves.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use archive_s3::{Credentials, S3Config};

/// How to run these tests, for the panic when the server is missing.
const HOW_TO_RUN: &str = "the S3 server tests need s3s-fs; run scripts/test.sh, \
     or scripts/with-s3s.sh cargo test -p archive-s3 --features server-tests, \
     which install and start it and set SENTMAIL_TEST_S3_ENDPOINT, SENTMAIL_TEST_S3_BUCKET, \
     SENTMAIL_TEST_S3_ACCESS_KEY, SENTMAIL_TEST_S3_SECRET_KEY and SENTMAIL_TEST_S3S_FS";

/// Reads a variable that scripts/with-s3s.sh sets, or panics with how to
/// run the tests.
fn required(name: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value,
        _ => panic!("{name} is not set: {HOW_TO_RUN}"),
    }
}

/// A server and bucket the tests can use.
#[derive(Debug, Clone)]
pub struct Server {
    /// The server URL, `http://127.0.0.1:<port>`.
    pub endpoint: String,
    /// A bucket that exists on the server.
    pub bucket: String,
    /// The access key the server accepts.
    pub access_key: String,
    /// The secret key the server accepts.
    pub secret_key: String,
}

impl Server {
    /// Returns the shared server that scripts/with-s3s.sh started.
    pub fn shared() -> Server {
        let endpoint = required("SENTMAIL_TEST_S3_ENDPOINT");
        assert!(
            endpoint.starts_with("http://127.0.0.1:"),
            "SENTMAIL_TEST_S3_ENDPOINT must be a loopback server, got {endpoint}"
        );
        Server {
            endpoint,
            bucket: required("SENTMAIL_TEST_S3_BUCKET"),
            access_key: required("SENTMAIL_TEST_S3_ACCESS_KEY"),
            secret_key: required("SENTMAIL_TEST_S3_SECRET_KEY"),
        }
    }

    /// Returns the settings of an archive under `prefix` in the bucket,
    /// with explicit credentials so no environment variable leaks in.
    pub fn config(&self, prefix: &str) -> S3Config {
        let mut config =
            S3Config::from_url(&format!("s3://{}/{prefix}", self.bucket)).expect("valid URL");
        config.endpoint = Some(self.endpoint.clone());
        config.region = Some("us-east-1".into());
        config.path_style = true;
        config.allow_http = Some(true);
        config.credentials = Some(Credentials {
            access_key_id: self.access_key.clone(),
            secret_access_key: self.secret_key.clone(),
            session_token: None,
        });
        config
    }
}

/// Returns a prefix no other test of this run uses.
pub fn unique_prefix(test: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos();
    format!(
        "tests/{test}-{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Returns a loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

/// An s3s-fs process that this test started on loopback. Dropping it kills
/// the process.
pub struct PrivateServer {
    child: Option<Child>,
    root: PathBuf,
    port: u16,
    access_key: String,
    secret_key: String,
}

/// Bucket every private server serves.
pub const PRIVATE_BUCKET: &str = "faults";

impl PrivateServer {
    /// Starts s3s-fs on a free loopback port, serving `root` with a bucket
    /// [`PRIVATE_BUCKET`], and waits until it accepts connections.
    pub fn start(root: &Path) -> PrivateServer {
        std::fs::create_dir_all(root.join(PRIVATE_BUCKET)).expect("create bucket directory");
        let mut server = PrivateServer {
            child: None,
            root: root.to_path_buf(),
            port: free_port(),
            access_key: "faults-access".into(),
            secret_key: "faults-secret-key-0123456789".into(),
        };
        server.restart();
        server
    }

    /// Starts the process again on the same port and directory.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "the server is running already");
        let child = Command::new(required("SENTMAIL_TEST_S3S_FS"))
            .arg("--host")
            .arg("127.0.0.1")
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--access-key")
            .arg(&self.access_key)
            .arg("--secret-key")
            .arg(&self.secret_key)
            .arg(&self.root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start s3s-fs");
        self.child = Some(child);
        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        for _ in 0..200 {
            if TcpStream::connect_timeout(&address, Duration::from_millis(100)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("s3s-fs did not accept connections on {address} within 10 s");
    }

    /// Kills the process (SIGKILL) and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Returns the server as the tests see it.
    pub fn server(&self) -> Server {
        Server {
            endpoint: format!("http://127.0.0.1:{}", self.port),
            bucket: PRIVATE_BUCKET.into(),
            access_key: self.access_key.clone(),
            secret_key: self.secret_key.clone(),
        }
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        self.kill();
    }
}
