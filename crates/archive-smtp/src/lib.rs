//! ESMTP receiver of the sent-mail archive.
//!
//! Shops that cannot change their sending code can still BCC or journal
//! every mail to an address (Postfix `always_bcc`, an ESP's BCC option).
//! This crate receives those copies over SMTP and records each through
//! [`Archive::record`](archive_core::Archive::record), replying `250` only
//! once the message is durable. When the archive cannot take a message it
//! replies with `4xx`, so the sender keeps the message and retries.
//!
//! - [`protocol`]: command parser, replies, the session state machine and
//!   the DATA decoder, without I/O.
//! - `connection`: one client connection (pipelining, DATA, BDAT,
//!   STARTTLS, AUTH).
//! - [`server`]: listeners, connection and in-flight limits, allowed
//!   networks, graceful shutdown.
//! - [`config`], [`auth`], [`tls`]: settings, SMTP AUTH with argon2
//!   hashes, and rustls with the `ring` provider.
//!
//! ```no_run
//! # async fn example(archive: archive_core::Archive) -> Result<(), Box<dyn std::error::Error>> {
//! use archive_smtp::{Server, SmtpConfig};
//!
//! let config = SmtpConfig::from_toml("[smtp]\nlisten = [\"127.0.0.1:2525\"]\n")?;
//! let server = Server::bind(&config, archive.clone()).await?;
//! server.run(async { let _ = tokio::signal::ctrl_c().await; }).await;
//! archive.close(std::time::Duration::from_secs(60)).await?;
//! # Ok(())
//! # }
//! ```

pub mod auth;
pub mod config;
mod connection;
mod deliver;
pub mod protocol;
pub mod server;
pub mod tls;

pub use config::SmtpConfig;
pub use server::{Server, ServerError};
