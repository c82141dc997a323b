//! A small shop backend: orders, their confirmation mails, and a mailer
//! that records each mail in the archive before handing it to the relay.

use std::net::SocketAddr;
use std::time::Duration;

use archive_core::sending::{ArchivingTransport, SendError};
use archive_core::{Archive, Receipt, RecordMeta, Source};
use lettre::transport::smtp;
use lettre::{AsyncSmtpTransport, Tokio1Executor};

/// The kind recorded with order confirmations.
pub const KIND: &str = "order_confirmation";

/// The relay the shop sends through: lettre's SMTP client with its
/// connection pool.
pub type Relay = AsyncSmtpTransport<Tokio1Executor>;

/// The error of sending one confirmation.
#[derive(Debug, thiserror::Error)]
pub enum ShopError {
    /// The mail could not be built from the order.
    #[error("the confirmation of order {order} cannot be built: {source}")]
    Mail {
        /// The order number.
        order: String,
        /// lettre's error.
        #[source]
        source: lettre::error::Error,
    },
    /// Recording or sending failed.
    #[error(transparent)]
    Send(#[from] SendError<smtp::Error>),
}

const FAMILY_NAMES: [&str; 8] = [
    "山田", "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "中村",
];

/// An order, as stored in the shop's database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// The order number, such as `ORD-2026-0000042`.
    pub id: String,
    /// The customer's id.
    pub customer_id: String,
    /// The customer's family name.
    pub name: String,
    /// The customer's address.
    pub email: String,
    /// The total in yen.
    pub total_yen: u32,
}

impl Order {
    /// Returns order `n` of a fixed sample: the same `n` always gives the
    /// same order.
    pub fn sample(n: u32) -> Order {
        Order {
            id: format!("ORD-2026-{n:07}"),
            customer_id: format!("C-{:06}", n % 1000),
            name: FAMILY_NAMES[n as usize % FAMILY_NAMES.len()].to_owned(),
            email: format!("hoge.{n}@example.com"),
            total_yen: 1980 + n * 110,
        }
    }

    /// Renders the confirmation mail. Each call makes a new Message-ID and
    /// Date, as a real retry does.
    pub fn confirmation(&self) -> Result<lettre::Message, lettre::error::Error> {
        let to = format!("{}様 <{}>", self.name, self.email)
            .parse()
            .map_err(|_| lettre::error::Error::MissingTo)?;
        lettre::Message::builder()
            .from(
                "サンプル商店 <shop@example.jp>"
                    .parse()
                    .expect("valid shop address"),
            )
            .to(to)
            .message_id(Some(self.message_id()))
            .subject(format!(
                "【サンプル商店】ご注文ありがとうございます（{}）",
                self.id
            ))
            .body(format!(
                "{}様\n\nご注文ありがとうございます。\n注文番号: {}\nお支払い金額: {}円（税込）\n",
                self.name, self.id, self.total_yen
            ))
    }

    /// Makes a Message-ID in the shop's domain, unique per rendering, so
    /// support staff can look the mail up by the ID a customer forwards.
    fn message_id(&self) -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos());
        format!("<{}.{nanos}@shop.example.jp>", self.id)
    }

    /// Builds the metadata recorded with the confirmation. The idempotency key
    /// makes a retried send archive the mail once.
    pub fn meta(&self) -> RecordMeta {
        RecordMeta::new(Source::App)
            .with_kind(KIND)
            .with_order_id(&self.id)
            .with_customer_id(&self.customer_id)
            .with_template("order_confirmation", "3")
            .with_locale("ja-JP")
            .with_idempotency_key(format!("{KIND}/{}", self.id))
    }
}

/// Builds the relay client for an SMTP server on `addr`, without TLS:
/// only for a relay on the same host or a trusted network.
pub fn relay(addr: SocketAddr) -> Relay {
    Relay::builder_dangerous(addr.ip().to_string())
        .port(addr.port())
        .timeout(Some(Duration::from_secs(10)))
        .build()
}

/// How often and how patiently the shop retries a failed send.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Attempts in all, at least 1.
    pub attempts: u32,
    /// The wait before the second attempt; it doubles after each.
    pub delay: Duration,
}

/// The shop's mailer.
#[derive(Debug, Clone)]
pub struct Shop {
    mailer: ArchivingTransport<Relay>,
}

impl Shop {
    /// Sends through `relay` and records into `archive`.
    pub fn new(archive: impl Into<Archive>, relay: Relay) -> Shop {
        Shop {
            mailer: ArchivingTransport::new(archive, relay),
        }
    }

    /// Records and sends the confirmation of `order` once. A confirmation
    /// that a relay accepted before counts as sent: its receipt comes back
    /// with status `DuplicateKey` and nothing goes out again.
    pub async fn confirm(&self, order: &Order) -> Result<Receipt, ShopError> {
        let mail = order.confirmation().map_err(|source| ShopError::Mail {
            order: order.id.clone(),
            source,
        })?;
        match self.mailer.send_with(&mail, order.meta()).await {
            Ok(sent) => Ok(sent
                .receipt
                .expect("the mailer rejects unrecorded mail by default")),
            Err(SendError::AlreadySent { receipt }) => Ok(receipt),
            Err(error) => Err(error.into()),
        }
    }

    /// Sends the confirmation of `order`, retrying while the relay fails
    /// or the archive returns a retryable error.
    pub async fn confirm_with_retries(
        &self,
        order: &Order,
        retry: Retry,
    ) -> Result<Receipt, ShopError> {
        let mut delay = retry.delay;
        let mut attempt = 1;
        loop {
            let error = match self.confirm(order).await {
                Ok(receipt) => return Ok(receipt),
                Err(error) => error,
            };
            let retryable = match &error {
                ShopError::Send(SendError::Send { .. }) => true,
                ShopError::Send(SendError::NotRecorded(error)) => error.is_retryable(),
                _ => false,
            };
            if !retryable || attempt >= retry.attempts {
                return Err(error);
            }
            tracing::warn!(order = %order.id, attempt, %error, "sending failed; retrying");
            tokio::time::sleep(delay).await;
            delay *= 2;
            attempt += 1;
        }
    }
}
