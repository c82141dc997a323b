//! The listener: binds the configured addresses, admits clients within the
//! connection limit and the allowed networks, and shuts down gracefully.
//!
//! Shutdown follows the broadcast-and-drain pattern: the accept loops stop,
//! every connection is notified through a `watch` channel, idle sessions get
//! `421` at once, sessions inside a transaction finish it first, and the
//! server waits (at most the shutdown timeout) until every connection task
//! has dropped its completion sender.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use archive_core::Archive;
use ipnet::IpNet;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tracing::Instrument;

use crate::auth::Users;
use crate::config::SmtpConfig;
use crate::connection::Handler;
use crate::protocol::{Policy, RecipientFilter, Reply};

/// Maximum rejected clients that get their reply from a task at once.
/// Beyond that a rejected client gets its reply only if the socket takes it
/// without waiting.
const MAX_REJECTING: usize = 64;

/// How long a rejected client is given to read its reply.
const REJECT_LINGER: Duration = Duration::from_secs(5);

/// The server's lifecycle, as seen by connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Accepting connections.
    Running,
    /// Shutting down: idle sessions close, transactions finish.
    Draining,
    /// The shutdown timeout passed: remaining connections are dropped.
    Abort,
}

/// State shared by every connection.
pub(crate) struct Shared {
    pub archive: Archive,
    pub policy: Arc<Policy>,
    pub tls: Option<TlsAcceptor>,
    pub users: Arc<Users>,
    pub in_flight: Arc<Semaphore>,
    pub command_timeout: Duration,
    pub data_timeout: Duration,
}

/// Starting the server failed.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The TLS certificate or key could not be loaded.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// A listen address could not be bound.
    #[error("listening on {address} failed: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// A bound SMTP server, ready to run.
pub struct Server {
    listeners: Vec<TcpListener>,
    shared: Arc<Shared>,
    allowed: Arc<Vec<IpNet>>,
    max_connections: usize,
    shutdown_timeout: Duration,
}

impl Server {
    /// Checks the configuration, loads the TLS certificate and binds every
    /// listen address. Messages are recorded in `archive`, whose maximum
    /// message size should be at least `config.max_message_bytes`.
    pub async fn bind(config: &SmtpConfig, archive: Archive) -> Result<Server, ServerError> {
        config.validate()?;
        let tls = config.tls.as_ref().map(crate::tls::acceptor).transpose()?;
        let users = Users::new(&config.auth.users)
            .map_err(|error| crate::config::ConfigError::Invalid(error.to_string()))?;
        let policy = Policy {
            hostname: config.hostname.clone(),
            max_message_bytes: config.max_message_bytes,
            max_recipients: config.max_recipients,
            recipients: RecipientFilter::new(&config.accept_recipients),
            tls_available: tls.is_some(),
            auth_available: !users.is_empty(),
            auth_without_tls: config.auth.allow_without_tls,
            auth_required: config.auth.required,
        };
        let mut listeners = Vec::new();
        for &address in &config.listen {
            let listener = TcpListener::bind(address)
                .await
                .map_err(|source| ServerError::Bind { address, source })?;
            listeners.push(listener);
        }
        Ok(Server {
            listeners,
            shared: Arc::new(Shared {
                archive,
                policy: Arc::new(policy),
                tls,
                users: Arc::new(users),
                in_flight: Arc::new(Semaphore::new(config.max_in_flight)),
                command_timeout: config.command_timeout(),
                data_timeout: config.data_timeout(),
            }),
            allowed: Arc::new(config.allowed_networks.clone()),
            max_connections: config.max_connections,
            shutdown_timeout: config.shutdown_timeout(),
        })
    }

    /// Returns the bound addresses, with the port the kernel chose where 0
    /// was configured.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|listener| listener.local_addr().ok())
            .collect()
    }

    /// Serves clients until `shutdown` completes, then stops accepting,
    /// lets transactions in progress finish (at most the shutdown timeout)
    /// and returns. The caller closes the archive afterwards.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let (phase, _) = watch::channel(Phase::Running);
        let (done, mut drained) = mpsc::channel::<()>(1);
        let connections = Arc::new(Semaphore::new(self.max_connections));
        let rejecting = Arc::new(Semaphore::new(MAX_REJECTING));
        let sessions = Arc::new(AtomicU64::new(0));
        let mut accepting = JoinSet::new();
        for listener in self.listeners {
            if let Ok(address) = listener.local_addr() {
                tracing::info!(%address, "SMTP receiver listening");
            }
            let accept = Accept {
                listener,
                shared: self.shared.clone(),
                allowed: self.allowed.clone(),
                connections: connections.clone(),
                rejecting: rejecting.clone(),
                phase: phase.subscribe(),
                done: done.clone(),
                sessions: sessions.clone(),
                over_limit: AtomicU64::new(0),
            };
            accepting.spawn(accept.run());
        }
        drop(done);

        shutdown.await;
        let open = self.max_connections - connections.available_permits();
        tracing::info!(
            open,
            "shutting down: no new connections; finishing transactions in progress"
        );
        accepting.shutdown().await;
        let _ = phase.send(Phase::Draining);
        match tokio::time::timeout(self.shutdown_timeout, drained.recv()).await {
            Ok(_) => tracing::info!("all connections closed"),
            Err(_) => {
                let open = self.max_connections - connections.available_permits();
                tracing::warn!(
                    open,
                    timeout_secs = self.shutdown_timeout.as_secs(),
                    "connections still open after the shutdown timeout; dropping them without a reply"
                );
                let _ = phase.send(Phase::Abort);
                // The tasks notice the abort at their next poll.
                let _ = tokio::time::timeout(Duration::from_secs(1), drained.recv()).await;
            }
        }
    }
}

/// One listener's accept loop.
struct Accept {
    listener: TcpListener,
    shared: Arc<Shared>,
    allowed: Arc<Vec<IpNet>>,
    connections: Arc<Semaphore>,
    rejecting: Arc<Semaphore>,
    phase: watch::Receiver<Phase>,
    done: mpsc::Sender<()>,
    sessions: Arc<AtomicU64>,
    /// Clients rejected at the connection limit so far.
    over_limit: AtomicU64,
}

impl Accept {
    async fn run(self) {
        let started = chrono::Utc::now().timestamp();
        let mut backoff = Duration::from_millis(10);
        loop {
            let (stream, client) = match self.listener.accept().await {
                Ok(accepted) => {
                    backoff = Duration::from_millis(10);
                    accepted
                }
                Err(error) => {
                    // Running out of file descriptors, for example; wait
                    // instead of spinning.
                    tracing::warn!(%error, retry_ms = backoff.as_millis() as u64, "accepting a connection failed");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            if !is_allowed(&self.allowed, client.ip()) {
                tracing::info!(%client, "client address not allowed; rejected");
                let text = format!("Client address {} is not allowed to connect", client.ip());
                self.reject(stream, Reply::new(554, "5.7.1", text));
                continue;
            }
            let Ok(permit) = self.connections.clone().try_acquire_owned() else {
                // A flood rejects many clients; log the first and then every
                // hundredth instead of each one.
                let rejected = self.over_limit.fetch_add(1, Ordering::Relaxed) + 1;
                if rejected == 1 || rejected.is_multiple_of(100) {
                    tracing::warn!(%client, rejected, "connection limit reached; rejected with 421");
                }
                self.reject(
                    stream,
                    Reply::new(421, "4.3.2", "Too many connections; try again later"),
                );
                continue;
            };
            let local = stream.local_addr().unwrap_or(client);
            let number = self.sessions.fetch_add(1, Ordering::Relaxed);
            let id = format!("{started:x}-{number}");
            let span = tracing::info_span!("smtp", session = %id, %client);
            let handler = Handler::new(self.shared.clone(), client, local, id, self.phase.clone());
            let mut phase = self.phase.clone();
            let done = self.done.clone();
            tokio::spawn(
                async move {
                    tokio::select! {
                        () = handler.run(stream) => {}
                        _ = phase.wait_for(|phase| *phase == Phase::Abort) => {
                            tracing::warn!("connection dropped at shutdown");
                        }
                    }
                    drop(permit);
                    drop(done);
                }
                .instrument(span),
            );
        }
    }

    /// Sends `reply` to a client that is not served and closes the
    /// connection, without letting a flood of such clients pile up tasks.
    fn reject(&self, stream: TcpStream, reply: Reply) {
        let mut wire = Vec::new();
        reply.write_to(&mut wire);
        let Ok(permit) = self.rejecting.clone().try_acquire_owned() else {
            let _ = stream.try_write(&wire);
            return;
        };
        tokio::spawn(async move {
            let mut stream = stream;
            let linger = async {
                stream.write_all(&wire).await?;
                stream.shutdown().await?;
                // Read until the client closes, so the reply is not lost
                // to a reset caused by unread input.
                let mut sink = [0u8; 1024];
                while stream.read(&mut sink).await? > 0 {}
                Ok::<(), std::io::Error>(())
            };
            let _ = tokio::time::timeout(REJECT_LINGER, linger).await;
            drop(permit);
        });
    }
}

fn is_allowed(allowed: &[IpNet], address: IpAddr) -> bool {
    let address = address.to_canonical();
    allowed.iter().any(|network| network.contains(&address))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_networks_match_mapped_addresses() {
        let allowed: Vec<IpNet> = vec![
            "127.0.0.0/8".parse().unwrap(),
            "2001:db8::/32".parse().unwrap(),
        ];
        assert!(is_allowed(&allowed, "127.0.0.2".parse().unwrap()));
        assert!(is_allowed(&allowed, "::ffff:127.0.0.1".parse().unwrap()));
        assert!(is_allowed(&allowed, "2001:db8::1".parse().unwrap()));
        assert!(!is_allowed(&allowed, "10.0.0.1".parse().unwrap()));
        assert!(!is_allowed(&allowed, "::1".parse().unwrap()));
    }
}
