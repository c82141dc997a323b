//! One client connection: reads command lines and message data, writes
//! replies, and drives the session state machine.
//!
//! Replies are buffered and written when the server is about to wait for
//! input, so a pipelined batch of commands (RFC 2920) gets its replies in
//! one write. Data the client pipelined after STARTTLS is discarded before the
//! handshake, so it cannot be injected into the encrypted session.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{OwnedSemaphorePermit, watch};

use crate::auth::{self, AuthError, Credentials};
use crate::deliver::{Envelope, deliver};
use crate::protocol::session::too_large_reply;
use crate::protocol::{Action, DataDecoder, Mechanism, Reply, Session};
use crate::server::{Phase, Shared};

/// Maximum length of a command line, with its line ending. RFC 5321
/// requires at least 512 octets, and SMTPUTF8 addresses need more.
pub(crate) const MAX_LINE: usize = 2048;

/// Bytes reserved in the input buffer before each read.
const READ_CHUNK: usize = 64 * 1024;

/// The reason a connection stopped reading.
#[derive(Debug)]
pub(crate) enum Stop {
    /// No input within the timeout.
    Timeout,
    /// The client closed the connection.
    Closed,
    /// The server is shutting down and the session is idle.
    Shutdown,
    /// The socket or TLS failed.
    Io(io::Error),
}

impl From<io::Error> for Stop {
    fn from(error: io::Error) -> Self {
        Stop::Io(error)
    }
}

/// The outcome of [`Handler::drive`].
enum Exit {
    /// The connection is finished.
    Done,
    /// The client asked for TLS; the handshake comes next.
    StartTls,
}

/// A buffered stream.
struct Connection<S> {
    stream: S,
    input: BytesMut,
    output: Vec<u8>,
    write_timeout: Duration,
}

enum Line {
    Complete(BytesMut),
    TooLong,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    fn new(stream: S, write_timeout: Duration) -> Connection<S> {
        Connection {
            stream,
            input: BytesMut::with_capacity(READ_CHUNK),
            output: Vec::with_capacity(1024),
            write_timeout,
        }
    }

    fn queue(&mut self, reply: &Reply) {
        reply.write_to(&mut self.output);
    }

    async fn flush(&mut self) -> Result<(), Stop> {
        if self.output.is_empty() {
            return Ok(());
        }
        let write = async {
            self.stream.write_all(&self.output).await?;
            self.stream.flush().await
        };
        match tokio::time::timeout(self.write_timeout, write).await {
            Ok(result) => result?,
            Err(_) => return Err(Stop::Timeout),
        }
        self.output.clear();
        Ok(())
    }

    /// Writes the queued replies, then reads more input. While `shutdown`
    /// is given, a shutdown ends the wait.
    async fn fill(
        &mut self,
        timeout: Duration,
        shutdown: Option<&mut watch::Receiver<Phase>>,
    ) -> Result<(), Stop> {
        self.flush().await?;
        self.input.reserve(READ_CHUNK);
        let read = tokio::time::timeout(timeout, self.stream.read_buf(&mut self.input));
        let count = match shutdown {
            Some(phase) => {
                tokio::select! {
                    // A session that is idle at shutdown closes even when
                    // input is waiting.
                    biased;
                    _ = phase.wait_for(|phase| *phase != Phase::Running) => return Err(Stop::Shutdown),
                    result = read => result,
                }
            }
            None => read.await,
        };
        match count {
            Err(_) => Err(Stop::Timeout),
            Ok(Ok(0)) => Err(Stop::Closed),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(Stop::Io(error)),
        }
    }

    /// Reads one line ending in LF (CR LF, or a bare LF, which commands
    /// tolerate) and returns it without the line ending.
    async fn read_line(
        &mut self,
        timeout: Duration,
        mut shutdown: Option<&mut watch::Receiver<Phase>>,
    ) -> Result<Line, Stop> {
        let mut too_long = false;
        loop {
            if let Some(newline) = memchr::memchr(b'\n', &self.input) {
                let mut line = self.input.split_to(newline + 1);
                if too_long || line.len() > MAX_LINE {
                    return Ok(Line::TooLong);
                }
                line.truncate(newline);
                if line.last() == Some(&b'\r') {
                    line.truncate(newline - 1);
                }
                return Ok(Line::Complete(line));
            }
            if self.input.len() > MAX_LINE {
                self.input.clear();
                too_long = true;
            }
            self.fill(timeout, shutdown.as_deref_mut()).await?;
        }
    }

    /// Reads `size` bytes and passes them to `sink` piece by piece.
    async fn read_chunk(
        &mut self,
        size: u64,
        timeout: Duration,
        mut sink: impl FnMut(&[u8]),
    ) -> Result<(), Stop> {
        let mut remaining = size;
        loop {
            let take = remaining.min(self.input.len() as u64) as usize;
            sink(&self.input[..take]);
            self.input.advance(take);
            remaining -= take as u64;
            if remaining == 0 {
                return Ok(());
            }
            self.fill(timeout, None).await?;
        }
    }
}

/// A message being received with BDAT, and its place among the messages
/// in flight.
struct Inbound {
    message: Vec<u8>,
    size: u64,
    _permit: OwnedSemaphorePermit,
}

/// The per-connection state.
pub(crate) struct Handler {
    shared: Arc<Shared>,
    session: Session,
    client: SocketAddr,
    local: SocketAddr,
    id: String,
    phase: watch::Receiver<Phase>,
    tls: Option<String>,
    inbound: Option<Inbound>,
}

impl Handler {
    pub(crate) fn new(
        shared: Arc<Shared>,
        client: SocketAddr,
        local: SocketAddr,
        id: String,
        phase: watch::Receiver<Phase>,
    ) -> Handler {
        let session = Session::new(shared.policy.clone());
        Handler {
            shared,
            session,
            client,
            local,
            id,
            phase,
            tls: None,
            inbound: None,
        }
    }

    /// Serves the connection until it ends.
    pub(crate) async fn run<S>(mut self, stream: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        tracing::debug!("connection opened");
        let mut connection = Connection::new(stream, self.shared.command_timeout);
        connection.queue(&self.session.greeting());
        let exit = self.drive(&mut connection).await;
        let exit = match exit {
            Ok(Exit::StartTls) => self.start_tls(connection).await,
            other => self.finish(&mut connection, other).await,
        };
        if let Err(stop) = exit {
            tracing::debug!(?stop, "connection ended");
        }
        tracing::debug!("connection closed");
    }

    async fn start_tls<S>(&mut self, connection: Connection<S>) -> Result<(), Stop>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let Some(acceptor) = self.shared.tls.clone() else {
            return Ok(());
        };
        if !connection.input.is_empty() {
            tracing::warn!(
                bytes = connection.input.len(),
                "client sent data after STARTTLS before the handshake; discarded"
            );
        }
        let handshake = acceptor.accept(connection.stream);
        let stream = match tokio::time::timeout(self.shared.command_timeout, handshake).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => {
                tracing::info!(%error, "TLS handshake failed");
                return Ok(());
            }
            Err(_) => {
                tracing::info!("TLS handshake timed out");
                return Ok(());
            }
        };
        let description = crate::tls::describe(stream.get_ref().1);
        tracing::debug!(tls = %description, "TLS started");
        self.tls = Some(description);
        self.session.tls_started();
        let mut connection = Connection::new(stream, self.shared.command_timeout);
        let exit = self.drive(&mut connection).await;
        self.finish(&mut connection, exit).await
    }

    /// Sends the closing reply that fits how the session stopped.
    async fn finish<S>(
        &mut self,
        connection: &mut Connection<S>,
        exit: Result<Exit, Stop>,
    ) -> Result<(), Stop>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let hostname = &self.shared.policy.hostname;
        let reply = match &exit {
            Ok(_) => None,
            Err(Stop::Timeout) => {
                tracing::info!(
                    in_transaction = self.session.transaction().is_some(),
                    "client timed out"
                );
                Some(Reply::new(
                    421,
                    "4.4.2",
                    format!("{hostname} Timeout exceeded; closing connection"),
                ))
            }
            Err(Stop::Shutdown) => Some(Reply::new(
                421,
                "4.3.2",
                format!("{hostname} Service shutting down; closing connection"),
            )),
            Err(Stop::Closed) => {
                if self.session.transaction().is_some() {
                    tracing::info!("client disconnected during a transaction; nothing was stored");
                }
                None
            }
            Err(Stop::Io(error)) => {
                tracing::info!(%error, "connection failed");
                None
            }
        };
        if let Some(reply) = reply {
            connection.queue(&reply);
        }
        let flushed = connection.flush().await;
        let _ = connection.stream.shutdown().await;
        exit.map(|_| ())?;
        flushed
    }

    async fn drive<S>(&mut self, connection: &mut Connection<S>) -> Result<Exit, Stop>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        loop {
            let idle = self.session.transaction().is_none();
            let shutdown = if idle { Some(&mut self.phase) } else { None };
            let line = match connection
                .read_line(self.shared.command_timeout, shutdown)
                .await?
            {
                Line::Complete(line) => line,
                Line::TooLong => {
                    tracing::debug!("command line too long");
                    let action = self.session.line_too_long();
                    if self.perform(connection, action).await? {
                        return Ok(Exit::Done);
                    }
                    continue;
                }
            };
            log_command(&line);
            let action = self.session.handle(&line);
            if let Action::StartTls = action {
                connection.queue(&Reply::new(220, "2.0.0", "Ready to start TLS"));
                connection.flush().await?;
                return Ok(Exit::StartTls);
            }
            if self.perform(connection, action).await? {
                return Ok(Exit::Done);
            }
            if self.session.transaction().is_none() {
                self.inbound = None;
            }
        }
    }

    /// Carries out an action; returns true when the connection must close.
    async fn perform<S>(
        &mut self,
        connection: &mut Connection<S>,
        action: Action,
    ) -> Result<bool, Stop>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        match action {
            Action::Reply(reply) => connection.queue(&reply),
            Action::Close(reply) => {
                connection.queue(&reply);
                return Ok(true);
            }
            Action::ReceiveData => self.receive_data(connection).await?,
            Action::ReceiveChunk { size, last } => {
                self.receive_chunk(connection, size, last).await?
            }
            Action::DiscardChunk { size, reply } => {
                connection
                    .read_chunk(size, self.shared.data_timeout, |_| {})
                    .await?;
                connection.queue(&reply);
            }
            Action::Authenticate { mechanism, initial } => {
                return self.authenticate(connection, mechanism, initial).await;
            }
            Action::StartTls => unreachable!("handled by drive"),
        }
        Ok(false)
    }

    fn try_reserve(&self) -> Option<OwnedSemaphorePermit> {
        self.shared.in_flight.clone().try_acquire_owned().ok()
    }

    async fn receive_data<S>(&mut self, connection: &mut Connection<S>) -> Result<(), Stop>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let Some(permit) = self.try_reserve() else {
            tracing::info!("too many messages in flight; DATA deferred");
            connection.queue(&busy_reply());
            self.session.end_transaction();
            return Ok(());
        };
        connection.queue(&Reply::plain(354, "End data with <CR><LF>.<CR><LF>"));
        let limit = self.shared.policy.max_message_bytes;
        let mut decoder = DataDecoder::new(limit);
        let mut message = Vec::with_capacity(16 * 1024);
        loop {
            let (consumed, done) = decoder.decode(&connection.input, &mut message);
            connection.input.advance(consumed);
            if done {
                break;
            }
            connection.fill(self.shared.data_timeout, None).await?;
        }
        let reply = if decoder.exceeded() {
            tracing::info!(
                size = decoder.size(),
                limit,
                "message too large; not stored"
            );
            too_large_reply(limit)
        } else {
            self.deliver(message).await
        };
        drop(permit);
        self.session.end_transaction();
        connection.queue(&reply);
        Ok(())
    }

    async fn receive_chunk<S>(
        &mut self,
        connection: &mut Connection<S>,
        size: u64,
        last: bool,
    ) -> Result<(), Stop>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        if self.inbound.is_none() {
            match self.try_reserve() {
                Some(permit) => {
                    self.inbound = Some(Inbound {
                        message: Vec::new(),
                        size: 0,
                        _permit: permit,
                    })
                }
                None => {
                    tracing::info!("too many messages in flight; BDAT deferred");
                    connection
                        .read_chunk(size, self.shared.data_timeout, |_| {})
                        .await?;
                    self.fail_chunk(connection, busy_reply(), last);
                    return Ok(());
                }
            }
        }
        let limit = self.shared.policy.max_message_bytes;
        let inbound = self.inbound.as_mut().expect("inbound was just set");
        inbound.size = inbound.size.saturating_add(size);
        let fits = inbound.size <= limit;
        if fits {
            // The declared size is only a claim, so reserve at most 1 MiB.
            inbound.message.reserve(size.min(1 << 20) as usize);
        }

        let message = &mut inbound.message;
        connection
            .read_chunk(size, self.shared.data_timeout, |bytes| {
                if fits {
                    message.extend_from_slice(bytes);
                }
            })
            .await?;

        if !fits {
            tracing::info!(size = inbound.size, limit, "message too large; not stored");
            self.inbound = None;
            self.fail_chunk(connection, too_large_reply(limit), last);
            return Ok(());
        }
        if !last {
            connection.queue(&Reply::new(250, "2.0.0", format!("{size} bytes received")));
            return Ok(());
        }

        let inbound = self.inbound.take().expect("inbound is set");
        let reply = self.deliver(inbound.message).await;
        self.session.end_transaction();
        connection.queue(&reply);
        Ok(())
    }

    fn fail_chunk<S>(&mut self, connection: &mut Connection<S>, reply: Reply, last: bool)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        if last {
            self.session.end_transaction();
        } else {
            self.session.fail_chunks(reply.clone());
        }
        connection.queue(&reply);
    }

    async fn deliver(&self, message: Vec<u8>) -> Reply {
        let transaction = self
            .session
            .transaction()
            .expect("data is received inside a transaction");
        let envelope = Envelope {
            transaction,
            client: self.client,
            local: self.local,
            helo: self.session.helo_name(),
            tls: self.tls.as_deref(),
            user: self.session.user(),
            session_id: &self.id,
            extended: self.session.is_extended(),
        };
        deliver(&self.shared.archive, &envelope, message).await
    }

    /// Runs a PLAIN or LOGIN exchange. Returns true when the connection
    /// must close (too many failures).
    async fn authenticate<S>(
        &mut self,
        connection: &mut Connection<S>,
        mechanism: Mechanism,
        initial: Option<String>,
    ) -> Result<bool, Stop>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let credentials = match mechanism {
            Mechanism::Plain => {
                let response = match initial {
                    Some(response) => response,
                    None => self.challenge(connection, "").await?,
                };
                auth::decode_plain(&response)
            }
            Mechanism::Login => self.login_exchange(connection, initial).await?,
        };
        let reply = match credentials {
            Ok(credentials) => return self.check_credentials(connection, credentials).await,
            Err(AuthError::Cancelled) => Reply::new(501, "5.7.0", "Authentication cancelled"),
            Err(AuthError::Malformed(reason)) => Reply::new(
                501,
                "5.5.2",
                format!("Malformed authentication response: {reason}"),
            ),
        };
        connection.queue(&reply);
        Ok(false)
    }

    async fn login_exchange<S>(
        &mut self,
        connection: &mut Connection<S>,
        initial: Option<String>,
    ) -> Result<Result<Credentials, AuthError>, Stop>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let user_line = match initial {
            Some(line) => line,
            None => {
                self.challenge(connection, auth::LOGIN_USER_CHALLENGE)
                    .await?
            }
        };
        let user = match auth::decode_login_user(&user_line) {
            Ok(user) => user,
            Err(error) => return Ok(Err(error)),
        };
        let password_line = self
            .challenge(connection, auth::LOGIN_PASSWORD_CHALLENGE)
            .await?;
        Ok(auth::decode_response(&password_line).map(|password| Credentials::new(user, password)))
    }

    /// Sends a 334 challenge and reads the response line, which is never
    /// logged because it contains the password.
    async fn challenge<S>(
        &mut self,
        connection: &mut Connection<S>,
        text: &'static str,
    ) -> Result<String, Stop>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        connection.queue(&Reply::plain(334, text));
        match connection
            .read_line(self.shared.command_timeout, None)
            .await?
        {
            Line::Complete(line) => Ok(String::from_utf8_lossy(&line).into_owned()),
            // Longer than any PLAIN response of sane size; reject it.
            Line::TooLong => Ok("!".to_owned()),
        }
    }

    async fn check_credentials<S>(
        &mut self,
        connection: &mut Connection<S>,
        credentials: Credentials,
    ) -> Result<bool, Stop>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let users = self.shared.users.clone();
        let user = credentials.user.clone();
        let verified = tokio::task::spawn_blocking(move || users.verify(&credentials))
            .await
            .unwrap_or(false);
        if verified {
            tracing::info!(%user, "client authenticated");
            self.session.authenticated(user);
            connection.queue(&Reply::new(235, "2.7.0", "Authentication successful"));
            return Ok(false);
        }
        tracing::warn!(%user, client = %self.client, "authentication failed");
        let failed = Reply::new(535, "5.7.8", "Authentication credentials invalid");
        match self.session.auth_failed(failed) {
            Action::Close(reply) => {
                connection.queue(&reply);
                Ok(true)
            }
            Action::Reply(reply) => {
                connection.queue(&reply);
                Ok(false)
            }
            other => unreachable!("auth_failed returns a reply, not {other:?}"),
        }
    }
}

fn busy_reply() -> Reply {
    Reply::new(
        451,
        "4.3.2",
        "Too many messages in progress; try again later",
    )
}

/// Logs a command at debug level, without the initial response of AUTH,
/// which may hold a password.
fn log_command(line: &[u8]) {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return;
    }
    let text = String::from_utf8_lossy(&line[..line.len().min(200)]);
    if text
        .get(..4)
        .is_some_and(|verb| verb.eq_ignore_ascii_case("AUTH"))
    {
        let mechanism = text.split_whitespace().nth(1).unwrap_or("");
        tracing::debug!(command = %format!("AUTH {mechanism}"), "command");
    } else {
        tracing::debug!(command = %text.escape_debug(), "command");
    }
}
