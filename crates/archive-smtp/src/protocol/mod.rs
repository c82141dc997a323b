//! The SMTP protocol without I/O: command parsing, replies, the session
//! state machine and the DATA decoder.

pub mod command;
pub mod data;
pub mod reply;
pub mod session;

pub use command::{Body, Command, CommandError, MailFrom};
pub use data::{DataDecoder, dot_stuff};
pub use reply::Reply;
pub use session::{Action, Mechanism, Policy, RecipientFilter, Session, Transaction};
