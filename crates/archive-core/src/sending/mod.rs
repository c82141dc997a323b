//! Recording mail sent through lettre (feature `lettre`).
//!
//! [`ArchivingTransport`] wraps any lettre [`AsyncTransport`]: each message
//! is recorded in the archive, sent, and the relay's reply stored as the
//! message's send status. By default a message is durable before its first
//! byte goes to the relay, and a message that cannot be recorded is not
//! sent.
//!
//! ```no_run
//! # async fn example(archive: archive_core::Archive) -> Result<(), Box<dyn std::error::Error>> {
//! use archive_core::sending::ArchivingTransport;
//! use archive_core::{RecordMeta, Source};
//! use lettre::{AsyncSmtpTransport, Tokio1Executor};
//!
//! let relay = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
//!     .port(2525)
//!     .build();
//! let mailer = ArchivingTransport::new(archive, relay);
//! let mail = lettre::Message::builder()
//!     .from("shop@example.jp".parse()?)
//!     .to("hoge.123@example.com".parse()?)
//!     .subject("ご注文ありがとうございます")
//!     .body("ご注文番号: ORD-2026-0012345".to_owned())?;
//! let meta = RecordMeta::new(Source::App)
//!     .with_kind("order_confirmation")
//!     .with_order_id("ORD-2026-0012345")
//!     .with_idempotency_key("order_confirmation/ORD-2026-0012345");
//! let sent = mailer.send_with(&mail, meta).await?;
//! println!("archived as {:?}", sent.receipt.map(|receipt| receipt.id));
//! # Ok(())
//! # }
//! ```

mod to_status;

pub use to_status::ToSendStatus;

use async_trait::async_trait;
use bytes::Bytes;
use lettre::AsyncTransport;
use lettre::address::Envelope;

use crate::{Archive, Receipt, RecordError, RecordMeta};

/// When [`ArchivingTransport`] records a message, relative to sending it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecordTiming {
    /// Record, then send once the message is durable. A message that
    /// cannot be recorded is not sent. Sending waits for one journal
    /// fsync.
    #[default]
    BeforeSend,
    /// Record and send at the same time, and return once both are done,
    /// so the fsync hides behind the relay's round trips. The input and
    /// the journal's room are checked before sending, but a write error
    /// after that leaves a sent message unrecorded:
    /// [`SendError::SentUnrecorded`].
    WhileSending,
}

/// The action [`ArchivingTransport`] takes when recording a message fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhenUnrecorded {
    /// Do not send it, and return [`SendError::NotRecorded`].
    #[default]
    Refuse,
    /// Send it anyway, log the recording error, and return a [`Sent`]
    /// without a receipt. For mail that matters more than its copy.
    SendAnyway,
}

/// A message recorded and accepted by the relay.
#[derive(Debug)]
pub struct Sent<R> {
    /// The relay's reply.
    pub response: R,
    /// The archive receipt; `None` only when recording failed and
    /// [`WhenUnrecorded::SendAnyway`] sent the message regardless.
    pub receipt: Option<Receipt>,
}

/// The error of [`ArchivingTransport`].
#[derive(Debug, thiserror::Error)]
pub enum SendError<E> {
    /// Recording failed, so the message was not sent. Retry when
    /// [`RecordError::is_retryable`] returns true.
    #[error("the message was not sent because recording it failed: {0}")]
    NotRecorded(#[source] RecordError),
    /// The relay refused the message or could not be reached. The message
    /// is recorded (unless `receipt` is `None`) with the failure as its
    /// send status; a retry with the same idempotency key records nothing
    /// new.
    #[error("sending failed: {error}")]
    Send {
        /// The archive receipt of the message.
        receipt: Option<Receipt>,
        /// The transport's error.
        #[source]
        error: E,
    },
    /// The relay accepted the message but recording it failed, which only
    /// [`RecordTiming::WhileSending`] allows. Do not send it again; record
    /// its bytes with [`Archive::record`] once the archive works.
    #[error("the message was sent but recording it failed: {0}")]
    SentUnrecorded(#[source] RecordError),
}

/// A lettre transport that records every message it sends; see the
/// [module documentation](self).
#[derive(Debug, Clone)]
pub struct ArchivingTransport<T> {
    inner: T,
    archive: Archive,
    timing: RecordTiming,
    unrecorded: WhenUnrecorded,
    meta: RecordMeta,
}

impl<T> ArchivingTransport<T> {
    /// Wraps `inner`, recording into `archive` before each send.
    pub fn new(archive: Archive, inner: T) -> ArchivingTransport<T> {
        ArchivingTransport {
            inner,
            archive,
            timing: RecordTiming::default(),
            unrecorded: WhenUnrecorded::default(),
            meta: RecordMeta::default(),
        }
    }

    /// Sets when messages are recorded.
    pub fn timing(mut self, timing: RecordTiming) -> ArchivingTransport<T> {
        self.timing = timing;
        self
    }

    /// Sets what happens to a message that cannot be recorded.
    pub fn when_unrecorded(mut self, policy: WhenUnrecorded) -> ArchivingTransport<T> {
        self.unrecorded = policy;
        self
    }

    /// Sets the metadata recorded with messages sent through the
    /// [`AsyncTransport`] methods, which take none.
    pub fn default_meta(mut self, meta: RecordMeta) -> ArchivingTransport<T> {
        self.meta = meta;
        self
    }

    /// Returns the wrapped transport.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// Returns the archive.
    pub fn archive(&self) -> &Archive {
        &self.archive
    }
}

impl<T> ArchivingTransport<T>
where
    T: AsyncTransport + Send + Sync,
    T::Ok: ToSendStatus + Send,
    T::Error: ToSendStatus + Send,
{
    /// Records and sends `message` with `meta`. The envelope fills
    /// `meta.envelope_from` and `meta.envelope_to` when they are empty.
    pub async fn send_with(
        &self,
        message: &lettre::Message,
        meta: RecordMeta,
    ) -> Result<Sent<T::Ok>, SendError<T::Error>> {
        let raw = message.formatted();
        self.send_raw_with(message.envelope(), &raw, meta).await
    }

    /// Records and sends the formatted message `raw` with `meta`.
    pub async fn send_raw_with(
        &self,
        envelope: &Envelope,
        raw: &[u8],
        meta: RecordMeta,
    ) -> Result<Sent<T::Ok>, SendError<T::Error>> {
        let meta = with_envelope(meta, envelope);
        let kind = meta.kind.clone();
        let bytes = Bytes::copy_from_slice(raw);
        let (recorded, sent) = match self.timing {
            RecordTiming::BeforeSend => {
                let recorded = match self.archive.record(bytes, meta).await {
                    Ok(receipt) => Some(receipt),
                    Err(error) => {
                        self.reject_or_log(error)?;
                        None
                    }
                };
                (recorded, self.inner.send_raw(envelope, raw).await)
            }
            RecordTiming::WhileSending => {
                if let Err(error) = self.archive.precheck(&bytes, &meta) {
                    self.reject_or_log(error)?;
                }
                let (recorded, sent) = tokio::join!(
                    self.archive.record(bytes, meta),
                    self.inner.send_raw(envelope, raw)
                );
                match recorded {
                    Ok(receipt) => (Some(receipt), sent),
                    Err(error) if sent.is_err() => {
                        self.reject_or_log(error)?;
                        (None, sent)
                    }
                    Err(error) if self.unrecorded == WhenUnrecorded::Refuse => {
                        return Err(SendError::SentUnrecorded(error));
                    }
                    Err(error) => {
                        log_unrecorded(&error);
                        (None, sent)
                    }
                }
            }
        };

        if let Some(receipt) = &recorded {
            let status = match &sent {
                Ok(response) => response.send_status(),
                Err(error) => error.send_status(),
            };
            self.archive
                .record_status_in_background(receipt.id, kind, status);
        }
        match sent {
            Ok(response) => Ok(Sent {
                response,
                receipt: recorded,
            }),
            Err(error) => Err(SendError::Send {
                receipt: recorded,
                error,
            }),
        }
    }

    /// Returns the error when unrecorded mail must not be sent; logs it
    /// otherwise.
    fn reject_or_log(&self, error: RecordError) -> Result<(), SendError<T::Error>> {
        match self.unrecorded {
            WhenUnrecorded::Refuse => Err(SendError::NotRecorded(error)),
            WhenUnrecorded::SendAnyway => {
                log_unrecorded(&error);
                Ok(())
            }
        }
    }
}

fn log_unrecorded(error: &RecordError) {
    tracing::error!(%error, "sending a message that could not be recorded");
}

#[async_trait]
impl<T> AsyncTransport for ArchivingTransport<T>
where
    T: AsyncTransport + Send + Sync,
    T::Ok: ToSendStatus + Send,
    T::Error: ToSendStatus + Send,
{
    type Ok = Sent<T::Ok>;
    type Error = SendError<T::Error>;

    /// Records and sends with the [default metadata](Self::default_meta).
    async fn send_raw(&self, envelope: &Envelope, email: &[u8]) -> Result<Self::Ok, Self::Error> {
        self.send_raw_with(envelope, email, self.meta.clone()).await
    }

    async fn shutdown(&self) {
        self.inner.shutdown().await;
    }
}

impl Archive {
    /// Records a lettre message, formatted as lettre would send it. The
    /// envelope fills `meta.envelope_from` and `meta.envelope_to` when they
    /// are empty.
    pub async fn record_lettre(
        &self,
        message: &lettre::Message,
        meta: RecordMeta,
    ) -> Result<Receipt, RecordError> {
        let meta = with_envelope(meta, message.envelope());
        self.record(message.formatted(), meta).await
    }
}

fn with_envelope(mut meta: RecordMeta, envelope: &Envelope) -> RecordMeta {
    if meta.envelope_from.is_none() {
        meta.envelope_from = envelope.from().map(ToString::to_string);
    }
    if meta.envelope_to.is_empty() {
        meta.envelope_to = envelope.to().iter().map(ToString::to_string).collect();
    }
    meta
}
