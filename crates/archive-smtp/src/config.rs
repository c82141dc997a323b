//! Settings of the SMTP receiver: the `[smtp]` table of the configuration
//! file, which command-line flags may override.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use ipnet::IpNet;
use serde::Deserialize;

/// Settings of the SMTP receiver. `Default` gives the values documented on
/// each field.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    /// Addresses to listen on. Default `127.0.0.1:2525`.
    pub listen: Vec<SocketAddr>,
    /// Host name in the greeting and the EHLO reply. Default: the
    /// machine's host name.
    pub hostname: String,
    /// Client networks allowed to connect, in CIDR notation. Others get
    /// `554 5.7.1` and are disconnected. Default: loopback only
    /// (`127.0.0.0/8`, `::1/128`).
    pub allowed_networks: Vec<IpNet>,
    /// Recipients accepted: addresses (`archive@example.jp`) or whole
    /// domains (`@archive.example.jp`), compared without regard to case.
    /// Others get `550 5.7.1`. Empty (the default) accepts every
    /// recipient; the receiver never relays mail anywhere.
    pub accept_recipients: Vec<String>,
    /// Maximum open connections; more get `421 4.3.2`. Default 256.
    pub max_connections: usize,
    /// Maximum messages received or recorded at once; the DATA or BDAT
    /// beyond that gets `451 4.3.2`. Each holds up to `max_message_bytes`
    /// in memory. Default 64.
    pub max_in_flight: usize,
    /// Maximum message size in bytes, advertised with SIZE. Default 50 MiB.
    pub max_message_bytes: u64,
    /// Maximum recipients of one message; more get `452 4.5.3`, which
    /// makes the client send them in another transaction. Default 1,000.
    pub max_recipients: usize,
    /// Seconds to wait for a command line (RFC 5321 suggests 5 minutes).
    /// Default 300.
    pub command_timeout_secs: u64,
    /// Seconds to wait for more message data during DATA or BDAT (RFC 5321
    /// suggests 3 minutes per data block). Default 180.
    pub data_timeout_secs: u64,
    /// Seconds that a shutdown waits for transactions in progress before it
    /// drops their connections. Default 30.
    pub shutdown_timeout_secs: u64,
    /// Certificate and key for STARTTLS. Without them STARTTLS is not
    /// offered.
    pub tls: Option<TlsFiles>,
    /// SMTP AUTH settings.
    pub auth: AuthConfig,
}

/// PEM files of the server certificate chain and its private key.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// Private key (PKCS #8, PKCS #1 or SEC1).
    pub key: PathBuf,
}

/// SMTP AUTH settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Whether MAIL requires an authenticated session. Default false.
    pub required: bool,
    /// Whether AUTH is offered on connections without TLS, which sends the
    /// password in clear text. Default false.
    pub allow_without_tls: bool,
    /// The users who may authenticate. AUTH is offered only when this is
    /// not empty.
    pub users: Vec<UserEntry>,
}

/// One user of SMTP AUTH.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UserEntry {
    /// The user name.
    pub name: String,
    /// The password as an argon2 PHC string (`$argon2id$v=19$...`), as
    /// printed by `sentmail serve --hash-password`.
    pub password_hash: String,
}

impl std::fmt::Debug for UserEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserEntry")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// An invalid configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file is not valid TOML or a value has the wrong type.
    #[error("invalid configuration: {0}")]
    Parse(#[from] toml::de::Error),
    /// A value is out of range or the settings contradict each other.
    #[error("invalid [smtp] configuration: {0}")]
    Invalid(String),
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 2525))],
            hostname: system_hostname(),
            allowed_networks: vec![
                "127.0.0.0/8".parse().expect("valid network"),
                "::1/128".parse().expect("valid network"),
            ],
            accept_recipients: Vec::new(),
            max_connections: 256,
            max_in_flight: 64,
            max_message_bytes: archive_core::archive::DEFAULT_MAX_MESSAGE_BYTES,
            max_recipients: 1000,
            command_timeout_secs: 300,
            data_timeout_secs: 180,
            shutdown_timeout_secs: 30,
            tls: None,
            auth: AuthConfig::default(),
        }
    }
}

/// The configuration file: only its `[smtp]` table is read here; other
/// tables belong to other parts of the archive.
#[derive(Deserialize)]
struct File {
    #[serde(default)]
    smtp: SmtpConfig,
}

impl SmtpConfig {
    /// Reads the `[smtp]` table of a TOML configuration file and checks it.
    /// A file without that table gives the defaults.
    pub fn from_toml(text: &str) -> Result<SmtpConfig, ConfigError> {
        let file: File = toml::from_str(text)?;
        file.smtp.validate()?;
        Ok(file.smtp)
    }

    /// Checks ranges and the consistency of the settings.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |reason: &str| Err(ConfigError::Invalid(reason.to_owned()));
        if self.listen.is_empty() {
            return invalid("listen is empty; give at least one address such as 127.0.0.1:2525");
        }
        if self.allowed_networks.is_empty() {
            return invalid(
                "allowed_networks is empty, so no client could connect; list networks such as 127.0.0.0/8",
            );
        }
        if self.hostname.is_empty()
            || self
                .hostname
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return invalid("hostname must be a host name without spaces");
        }
        let counts = [
            ("max_connections", self.max_connections as u64),
            ("max_in_flight", self.max_in_flight as u64),
            ("max_message_bytes", self.max_message_bytes),
            ("max_recipients", self.max_recipients as u64),
            ("command_timeout_secs", self.command_timeout_secs),
            ("data_timeout_secs", self.data_timeout_secs),
            ("shutdown_timeout_secs", self.shutdown_timeout_secs),
        ];
        for (name, value) in counts {
            if value == 0 {
                return Err(ConfigError::Invalid(format!("{name} must be at least 1")));
            }
        }
        for entry in &self.accept_recipients {
            if !entry.contains('@') || entry.ends_with('@') {
                return Err(ConfigError::Invalid(format!(
                    "accept_recipients entry {entry:?} is neither an address (name@domain) nor a domain (@domain)"
                )));
            }
        }
        self.validate_auth()
    }

    fn validate_auth(&self) -> Result<(), ConfigError> {
        if self.auth.required && self.auth.users.is_empty() {
            return Err(ConfigError::Invalid(
                "auth.required is set but auth.users is empty; add a user or unset auth.required"
                    .into(),
            ));
        }
        crate::auth::Users::new(&self.auth.users)
            .map(|_| ())
            .map_err(|error| ConfigError::Invalid(error.to_string()))
    }

    /// Returns the command timeout as a duration.
    pub fn command_timeout(&self) -> Duration {
        Duration::from_secs(self.command_timeout_secs)
    }

    /// Returns the data timeout as a duration.
    pub fn data_timeout(&self) -> Duration {
        Duration::from_secs(self.data_timeout_secs)
    }

    /// Returns the shutdown timeout as a duration.
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_secs)
    }
}

/// Reads the kernel's host name, or returns `localhost` where it cannot.
fn system_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults() {
        let config = SmtpConfig::from_toml("").unwrap();
        assert_eq!(config.listen, [SocketAddr::from(([127, 0, 0, 1], 2525))]);
        assert_eq!(config.max_connections, 256);
        assert_eq!(config.max_message_bytes, 50 << 20);
        assert_eq!(config.allowed_networks.len(), 2);
        assert!(config.tls.is_none());
    }

    #[test]
    fn full_table() {
        let text = r#"
            [storage]
            kind = "belongs to another component"

            [smtp]
            listen = ["127.0.0.1:2526", "[::1]:2526"]
            hostname = "archive.example.jp"
            allowed_networks = ["10.0.0.0/8", "::1/128"]
            accept_recipients = ["archive@example.jp", "@journal.example.jp"]
            max_connections = 10
            max_in_flight = 4
            max_message_bytes = 1048576
            max_recipients = 50
            command_timeout_secs = 60
            data_timeout_secs = 30
            shutdown_timeout_secs = 5

            [smtp.tls]
            cert = "/etc/sentmail/cert.pem"
            key = "/etc/sentmail/key.pem"

            [smtp.auth]
            required = true
            allow_without_tls = false
            [[smtp.auth.users]]
            name = "postfix"
            password_hash = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$hTlm1SIw1QO3ZC4QV9lqhmb3XE2SQpZu5OXXJDbRMVo"
        "#;
        let config = SmtpConfig::from_toml(text).unwrap();
        assert_eq!(config.listen.len(), 2);
        assert_eq!(config.hostname, "archive.example.jp");
        assert_eq!(
            config.allowed_networks[0],
            "10.0.0.0/8".parse::<IpNet>().unwrap()
        );
        assert_eq!(config.accept_recipients[1], "@journal.example.jp");
        assert_eq!(config.max_in_flight, 4);
        assert_eq!(config.data_timeout(), Duration::from_secs(30));
        assert_eq!(
            config.tls,
            Some(TlsFiles {
                cert: "/etc/sentmail/cert.pem".into(),
                key: "/etc/sentmail/key.pem".into()
            })
        );
        assert!(config.auth.required);
        assert_eq!(config.auth.users[0].name, "postfix");
    }

    #[test]
    fn unknown_key_is_rejected() {
        let error = SmtpConfig::from_toml("[smtp]\nmax_conections = 5\n").unwrap_err();
        assert!(
            error.to_string().contains("unknown field `max_conections`"),
            "{error}"
        );
    }

    #[test]
    fn invalid_values_are_named() {
        let cases = [
            (
                "[smtp]\nmax_in_flight = 0\n",
                "max_in_flight must be at least 1",
            ),
            ("[smtp]\nlisten = []\n", "listen is empty"),
            (
                "[smtp]\naccept_recipients = [\"archive\"]\n",
                "entry \"archive\" is neither",
            ),
            (
                "[smtp.auth]\nrequired = true\n",
                "auth.required is set but auth.users is empty",
            ),
            (
                "[[smtp.auth.users]]\nname = \"a\"\npassword_hash = \"secret\"\n",
                "password hash of user \"a\" is not an argon2 PHC string",
            ),
        ];
        for (text, expected) in cases {
            let error = SmtpConfig::from_toml(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text:?} gave {error}");
        }
    }

    #[test]
    fn invalid_network_is_a_parse_error() {
        let error =
            SmtpConfig::from_toml("[smtp]\nallowed_networks = [\"10.0.0.0/33\"]\n").unwrap_err();
        assert!(matches!(error, ConfigError::Parse(_)), "{error}");
    }

    #[test]
    fn user_debug_hides_hash() {
        let user = UserEntry {
            name: "postfix".into(),
            password_hash: "$argon2id$secret".into(),
        };
        assert_eq!(format!("{user:?}"), "UserEntry { name: \"postfix\", .. }");
    }
}
