//! The SMTP session state machine. It takes command lines and returns the
//! connection's next step. It performs no I/O, so every sequence rule is
//! testable without a socket.

use std::sync::Arc;

use super::command::{self, Body, Command, MailFrom};
use super::reply::Reply;

/// A bad command counts as an error; at this many the connection is closed.
pub const MAX_ERRORS: u32 = 10;

/// At this many failed AUTH attempts the connection is closed.
pub const MAX_AUTH_FAILURES: u32 = 3;

/// Bytes of the record metadata that the envelope recipients may use. The
/// archive rejects metadata over 64 KiB; the other fields (sender, HELO
/// name, user, client address) fit in the remaining 12 KiB because command
/// lines are limited to 2,048 bytes.
const RECIPIENT_BUDGET: usize = archive_core::archive::MAX_META_BYTES - 12 * 1024;

/// Rules of a session, derived once from the configuration.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The name the server gives in its greeting and EHLO reply.
    pub hostname: String,
    /// Maximum message size in bytes.
    pub max_message_bytes: u64,
    /// Maximum recipients of one message.
    pub max_recipients: usize,
    /// The accepted recipients.
    pub recipients: RecipientFilter,
    /// Whether STARTTLS is offered (a certificate is configured).
    pub tls_available: bool,
    /// Whether AUTH is offered (users are configured).
    pub auth_available: bool,
    /// Whether AUTH is offered on connections without TLS.
    pub auth_without_tls: bool,
    /// Whether MAIL requires an authenticated session.
    pub auth_required: bool,
}

/// The recipients a server accepts: any, or only listed addresses and
/// domains. Addresses are compared without regard to case.
#[derive(Debug, Clone, Default)]
pub struct RecipientFilter {
    addresses: Vec<String>,
    domains: Vec<String>,
}

impl RecipientFilter {
    /// Builds a filter from entries that are either addresses
    /// (`archive@example.jp`) or whole domains (`@archive.example.jp`). No
    /// entries means every recipient is accepted.
    pub fn new(entries: &[String]) -> RecipientFilter {
        let mut filter = RecipientFilter::default();
        for entry in entries {
            let entry = entry.trim().to_lowercase();
            match entry.strip_prefix('@') {
                Some(domain) => filter.domains.push(domain.to_owned()),
                None => filter.addresses.push(entry),
            }
        }
        filter
    }

    /// Returns true when `address` may be a recipient.
    pub fn accepts(&self, address: &str) -> bool {
        if self.addresses.is_empty() && self.domains.is_empty() {
            return true;
        }
        let address = address.to_lowercase();
        if self.addresses.contains(&address) {
            return true;
        }
        match address.rfind('@') {
            Some(at) => self
                .domains
                .iter()
                .any(|domain| *domain == address[at + 1..]),
            None => false,
        }
    }
}

/// The connection's next step after a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this reply and read the next command.
    Reply(Reply),
    /// Send this reply and close the connection.
    Close(Reply),
    /// Send `354`, read the message up to the end-of-data line, then call
    /// [`Session::end_transaction`].
    ReceiveData,
    /// Read a chunk of `size` bytes into the message; after the last one,
    /// record the message and call [`Session::end_transaction`].
    ReceiveChunk {
        /// Chunk size in bytes.
        size: u64,
        /// Whether this is the last chunk.
        last: bool,
    },
    /// Read and drop a chunk of `size` bytes, then send `reply`.
    DiscardChunk {
        /// Chunk size in bytes.
        size: u64,
        /// The reply to send after the chunk.
        reply: Reply,
    },
    /// Send `220`, then start the TLS handshake and call
    /// [`Session::tls_started`].
    StartTls,
    /// Run the SASL exchange, then call [`Session::authenticated`] or
    /// [`Session::auth_failed`].
    Authenticate {
        /// The mechanism.
        mechanism: Mechanism,
        /// The initial response, in base64, if the client sent one.
        initial: Option<String>,
    },
}

/// The SASL mechanisms offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// RFC 4616.
    Plain,
    /// The de facto LOGIN mechanism (draft-murchison-sasl-login).
    Login,
}

/// The envelope of the message being received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// The reverse path; empty for the null sender `<>`.
    pub from: String,
    /// Every accepted recipient, in order.
    pub recipients: Vec<String>,
    /// The `BODY=` parameter.
    pub body: Option<Body>,
    /// Whether the `SMTPUTF8` parameter was given.
    pub smtputf8: bool,
    recipient_bytes: usize,
}

#[derive(Debug, Clone)]
struct Greeting {
    name: String,
    extended: bool,
}

/// One client's session: greeting, TLS and AUTH state, and the current
/// transaction.
#[derive(Debug)]
pub struct Session {
    policy: Arc<Policy>,
    greeting: Option<Greeting>,
    tls: bool,
    user: Option<String>,
    transaction: Option<Transaction>,
    /// Whether BDAT chunks were accepted in this transaction.
    chunking: bool,
    /// The reply repeated for the remaining chunks of a failed BDAT
    /// transaction.
    chunk_failure: Option<Reply>,
    errors: u32,
    auth_failures: u32,
}

impl Session {
    /// Starts a session on a new connection.
    pub fn new(policy: Arc<Policy>) -> Session {
        Session {
            policy,
            greeting: None,
            tls: false,
            user: None,
            transaction: None,
            chunking: false,
            chunk_failure: None,
            errors: 0,
            auth_failures: 0,
        }
    }

    /// Returns the greeting sent when the connection opens.
    pub fn greeting(&self) -> Reply {
        Reply::plain(
            220,
            format!("{} ESMTP sentmail archive", self.policy.hostname),
        )
    }

    /// Returns the HELO or EHLO name the client gave, if any.
    pub fn helo_name(&self) -> Option<&str> {
        self.greeting.as_ref().map(|g| g.name.as_str())
    }

    /// Returns true when the client greeted with EHLO.
    pub fn is_extended(&self) -> bool {
        self.greeting.as_ref().is_some_and(|g| g.extended)
    }

    /// Returns the authenticated user, if any.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// Returns true when TLS is active.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Returns the current transaction, between MAIL and the end of its
    /// data.
    pub fn transaction(&self) -> Option<&Transaction> {
        self.transaction.as_ref()
    }

    /// Handles one command line (without its line ending).
    pub fn handle(&mut self, line: &[u8]) -> Action {
        let command = match command::parse(line) {
            Ok(command) => command,
            Err(command::CommandError::NonSmtp) => {
                return Action::Close(command::CommandError::NonSmtp.reply());
            }
            Err(error) => return self.error(error.reply()),
        };
        match command {
            Command::Ehlo(name) => self.hello(name, true),
            Command::Helo(name) => self.hello(name, false),
            Command::Mail(mail) => self.mail(mail),
            Command::Rcpt(address) => self.rcpt(address),
            Command::Data => self.data(),
            Command::Bdat { size, last } => self.bdat(size, last),
            Command::Rset => {
                self.end_transaction();
                Action::Reply(Reply::new(250, "2.0.0", "Ok"))
            }
            Command::Noop => Action::Reply(Reply::new(250, "2.0.0", "Ok")),
            Command::Quit => Action::Close(Reply::new(221, "2.0.0", "Bye")),
            Command::Vrfy => Action::Reply(Reply::new(
                252,
                "2.5.0",
                "Cannot VRFY user, but will accept message",
            )),
            Command::Expn => self.error(Reply::new(502, "5.5.1", "EXPN is not implemented")),
            Command::Help => Action::Reply(Reply::new(
                214,
                "2.0.0",
                "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY STARTTLS AUTH",
            )),
            Command::StartTls => self.starttls(),
            Command::Auth { mechanism, initial } => self.auth(&mechanism, initial),
        }
    }

    /// Records a reply to a bad command. At [`MAX_ERRORS`] the connection
    /// is closed instead.
    fn error(&mut self, reply: Reply) -> Action {
        self.errors += 1;
        if self.errors >= MAX_ERRORS {
            return Action::Close(Reply::new(
                421,
                "4.7.0",
                "Too many errors; closing connection",
            ));
        }
        Action::Reply(reply)
    }

    /// Counts a line too long to be a command as an error.
    pub fn line_too_long(&mut self) -> Action {
        self.error(Reply::new(500, "5.5.2", "Line too long"))
    }

    fn hello(&mut self, name: String, extended: bool) -> Action {
        self.end_transaction();
        let reply = if extended {
            Reply::multiline(250, self.ehlo_lines(&name))
        } else {
            Reply::plain(250, self.policy.hostname.clone())
        };
        self.greeting = Some(Greeting { name, extended });
        Action::Reply(reply)
    }

    fn ehlo_lines(&self, name: &str) -> Vec<String> {
        let policy = &self.policy;
        let mut lines = vec![
            format!("{} greets {name}", policy.hostname),
            "PIPELINING".into(),
            format!("SIZE {}", policy.max_message_bytes),
            "8BITMIME".into(),
            "SMTPUTF8".into(),
            "ENHANCEDSTATUSCODES".into(),
            "CHUNKING".into(),
        ];
        if policy.tls_available && !self.tls {
            lines.push("STARTTLS".into());
        }
        if self.auth_offered() {
            lines.push("AUTH PLAIN LOGIN".into());
        }
        lines
    }

    fn auth_offered(&self) -> bool {
        self.policy.auth_available && (self.tls || self.policy.auth_without_tls)
    }

    fn mail(&mut self, mail: MailFrom) -> Action {
        let Some(greeting) = &self.greeting else {
            return self.error(Reply::new(503, "5.5.1", "Send EHLO or HELO first"));
        };
        let extended = greeting.extended;
        if self.transaction.is_some() {
            return self.error(Reply::new(503, "5.5.1", "Sender already specified"));
        }
        if self.policy.auth_required && self.user.is_none() {
            return self.error(Reply::new(530, "5.7.0", "Authentication required"));
        }
        if !extended && mail.has_parameters {
            return self.error(Reply::new(
                555,
                "5.5.4",
                "MAIL parameters are not allowed after HELO; use EHLO",
            ));
        }
        if !extended && !mail.address.is_ascii() {
            return self.error(non_ascii_reply());
        }
        if let Some(size) = mail.size
            && size > self.policy.max_message_bytes
        {
            return Action::Reply(too_large_reply(self.policy.max_message_bytes));
        }
        self.transaction = Some(Transaction {
            from: mail.address,
            recipients: Vec::new(),
            body: mail.body,
            smtputf8: mail.smtputf8,
            recipient_bytes: 0,
        });
        Action::Reply(Reply::new(250, "2.1.0", "Ok"))
    }

    fn rcpt(&mut self, address: String) -> Action {
        let extended = self.is_extended();
        let policy = self.policy.clone();
        let Some(transaction) = &mut self.transaction else {
            return self.error(Reply::new(503, "5.5.1", "Need MAIL before RCPT"));
        };
        if self.chunking {
            return self.error(Reply::new(503, "5.5.1", "RCPT cannot follow BDAT"));
        }
        if !extended && !address.is_ascii() {
            return self.error(non_ascii_reply());
        }
        if !policy.recipients.accepts(&address) {
            return self.error(Reply::new(
                550,
                "5.7.1",
                format!("Relay access denied: {address} is not an archive address"),
            ));
        }
        let cost = json_cost(&address);
        if transaction.recipients.len() >= policy.max_recipients
            || transaction.recipient_bytes + cost > RECIPIENT_BUDGET
        {
            return Action::Reply(Reply::new(452, "4.5.3", "Too many recipients"));
        }
        transaction.recipient_bytes += cost;
        transaction.recipients.push(address);
        Action::Reply(Reply::new(250, "2.1.5", "Ok"))
    }

    fn data(&mut self) -> Action {
        match &self.transaction {
            None => self.error(Reply::new(503, "5.5.1", "Need MAIL command")),
            Some(_) if self.chunking => {
                self.error(Reply::new(503, "5.5.1", "DATA cannot follow BDAT"))
            }
            Some(transaction) if transaction.recipients.is_empty() => {
                self.error(Reply::new(554, "5.5.1", "No valid recipients"))
            }
            Some(_) => Action::ReceiveData,
        }
    }

    fn bdat(&mut self, size: u64, last: bool) -> Action {
        if let Some(reply) = self.chunk_failure.clone() {
            if last {
                self.end_transaction();
            }
            return Action::DiscardChunk { size, reply };
        }
        let reply = match &self.transaction {
            None => Reply::new(503, "5.5.1", "Need MAIL command"),
            Some(transaction) if transaction.recipients.is_empty() => {
                Reply::new(554, "5.5.1", "No valid recipients")
            }
            Some(_) => {
                self.chunking = true;
                return Action::ReceiveChunk { size, last };
            }
        };
        self.errors += 1;
        Action::DiscardChunk { size, reply }
    }

    /// Fails the current BDAT transaction: later chunks are read and
    /// dropped, and each gets `reply`, until the last one.
    pub fn fail_chunks(&mut self, reply: Reply) {
        if self.transaction.is_some() {
            self.chunk_failure = Some(reply);
        }
    }

    /// Ends the current transaction, after its message was recorded or
    /// rejected, or on RSET.
    pub fn end_transaction(&mut self) {
        self.transaction = None;
        self.chunking = false;
        self.chunk_failure = None;
    }

    fn starttls(&mut self) -> Action {
        if !self.policy.tls_available {
            return self.error(Reply::new(502, "5.5.1", "STARTTLS is not available"));
        }
        if self.tls {
            return self.error(Reply::new(503, "5.5.1", "TLS is already active"));
        }
        if !self.is_extended() {
            return self.error(Reply::new(503, "5.5.1", "Send EHLO first"));
        }
        if self.transaction.is_some() {
            return self.error(Reply::new(
                503,
                "5.5.1",
                "STARTTLS is not allowed during a mail transaction",
            ));
        }
        Action::StartTls
    }

    /// Resets the session after the TLS handshake: the client must greet
    /// again (RFC 3207 section 4.2).
    pub fn tls_started(&mut self) {
        self.tls = true;
        self.greeting = None;
        self.user = None;
        self.end_transaction();
    }

    fn auth(&mut self, mechanism: &str, initial: Option<String>) -> Action {
        if !self.policy.auth_available {
            return self.error(Reply::new(502, "5.5.1", "AUTH is not available"));
        }
        if !self.is_extended() {
            return self.error(Reply::new(503, "5.5.1", "Send EHLO first"));
        }
        if self.user.is_some() {
            return self.error(Reply::new(503, "5.5.1", "Already authenticated"));
        }
        if self.transaction.is_some() {
            return self.error(Reply::new(
                503,
                "5.5.1",
                "AUTH is not allowed during a mail transaction",
            ));
        }
        if !self.auth_offered() {
            return self.error(Reply::new(
                538,
                "5.7.11",
                "Encryption required for requested authentication mechanism; use STARTTLS",
            ));
        }
        let mechanism = match mechanism {
            "PLAIN" => Mechanism::Plain,
            "LOGIN" => Mechanism::Login,
            _ => {
                return self.error(Reply::new(
                    504,
                    "5.5.4",
                    "Unrecognized authentication type; use PLAIN or LOGIN",
                ));
            }
        };
        Action::Authenticate { mechanism, initial }
    }

    /// Marks the session as authenticated as `user`.
    pub fn authenticated(&mut self, user: String) {
        self.user = Some(user);
    }

    /// Counts a failed AUTH exchange and returns the reply: `535`, or `421`
    /// with closing at [`MAX_AUTH_FAILURES`].
    pub fn auth_failed(&mut self, reply: Reply) -> Action {
        self.auth_failures += 1;
        if self.auth_failures >= MAX_AUTH_FAILURES {
            return Action::Close(Reply::new(
                421,
                "4.7.0",
                "Too many failed authentication attempts; closing connection",
            ));
        }
        self.error(reply)
    }
}

/// Returns the reply to MAIL or to the end of data when the message is too
/// large.
pub fn too_large_reply(limit: u64) -> Reply {
    Reply::new(
        552,
        "5.3.4",
        format!("Message size exceeds fixed maximum message size of {limit} bytes"),
    )
}

fn non_ascii_reply() -> Reply {
    Reply::new(
        553,
        "5.6.7",
        "Non-ASCII address requires EHLO and the SMTPUTF8 extension",
    )
}

/// Bytes an address adds to the metadata JSON: the string with its quotes,
/// escapes and a comma.
fn json_cost(address: &str) -> usize {
    let escapes = address.bytes().filter(|&b| b == b'"' || b == b'\\').count();
    address.len() + escapes + 3
}

#[cfg(test)]
mod tests;
