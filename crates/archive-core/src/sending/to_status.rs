//! Turning a lettre transport's result into a [`SendStatus`].

use lettre::transport::smtp;

use crate::SendStatus;

/// A transport's result of one send, as a send status. Implemented for the
/// results of lettre's SMTP and stub transports; implement it for the
/// `Ok` and `Error` types of another transport to wrap that one.
pub trait ToSendStatus {
    /// The send status that this result represents.
    fn send_status(&self) -> SendStatus;
}

impl ToSendStatus for smtp::response::Response {
    fn send_status(&self) -> SendStatus {
        let text: Vec<&str> = self.message().collect();
        SendStatus::from_reply(u16::from(self.code()), text.join("\n"))
    }
}

impl ToSendStatus for smtp::Error {
    fn send_status(&self) -> SendStatus {
        match self.status() {
            Some(code) => SendStatus::from_reply(u16::from(code), self.to_string()),
            None => SendStatus::failed(self.to_string()),
        }
    }
}

/// The stub and sendmail transports return `()` on success.
impl ToSendStatus for () {
    fn send_status(&self) -> SendStatus {
        SendStatus::new(crate::SendOutcome::Accepted)
    }
}

impl ToSendStatus for lettre::transport::stub::Error {
    fn send_status(&self) -> SendStatus {
        SendStatus::failed(self.to_string())
    }
}
