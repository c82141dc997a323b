//! Turning a lettre transport's result into a [`SendStatus`].

use lettre::transport::smtp;

use crate::SendStatus;

/// A transport's answer to one send, as a send status. Implemented for the
/// results of lettre's SMTP and stub transports; implement it for the
/// `Ok` and `Error` types of another transport to wrap that one.
pub trait RelayAnswer {
    /// The send status this answer stands for.
    fn send_status(&self) -> SendStatus;
}

impl RelayAnswer for smtp::response::Response {
    fn send_status(&self) -> SendStatus {
        let text: Vec<&str> = self.message().collect();
        SendStatus::from_reply(u16::from(self.code()), text.join("\n"))
    }
}

impl RelayAnswer for smtp::Error {
    fn send_status(&self) -> SendStatus {
        match self.status() {
            Some(code) => SendStatus::from_reply(u16::from(code), self.to_string()),
            None => SendStatus::failed(self.to_string()),
        }
    }
}

/// The stub and sendmail transports answer `()` on success.
impl RelayAnswer for () {
    fn send_status(&self) -> SendStatus {
        SendStatus::new(crate::SendOutcome::Accepted)
    }
}

impl RelayAnswer for lettre::transport::stub::Error {
    fn send_status(&self) -> SendStatus {
        SendStatus::failed(self.to_string())
    }
}
