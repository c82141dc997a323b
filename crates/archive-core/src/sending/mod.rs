//! Recording mail sent through lettre (feature `lettre`).
//!
//! [`ArchivingTransport`] wraps any lettre [`AsyncTransport`]: each message
//! is recorded in the archive, sent, and the relay's reply stored as the
//! message's send status. By default a message is durable before its first
//! byte goes to the relay, and a message that cannot be recorded is not
//! sent. A retry, recorded with an idempotency key recorded before, sends
//! the archived bytes, so the archive contains what the customer received,
//! and sends nothing once a relay has accepted the message. The same bytes
//! under another key (a bulk mail to the next recipient) are sent as they
//! are.
//!
//! Send statuses are recorded on background tasks; `Archive::flush` and
//! `Archive::close` wait for them. A process that exits without closing
//! the archive may lose the statuses of its last sends, never a message.
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
//!     .message_id(Some("<ORD-2026-0012345.1@shop.example.jp>".to_owned()))
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

use crate::{Archive, Receipt, RecordError, RecordMeta, RecordStatus, SendStatus};

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
    /// the journal's room are checked before sending. A write error after
    /// that, or concurrent records that fill the journal meanwhile, leave
    /// a sent message unrecorded: [`SendError::SentUnrecorded`]. A message
    /// whose idempotency key is archived already is handled as with
    /// `BeforeSend`.
    ///
    /// NOTE: concurrent sends with one key that is not archived yet each
    /// go to the relay; only `BeforeSend` serializes them.
    WhileSending,
}

/// The action [`ArchivingTransport`] takes when recording a message fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhenUnrecorded {
    /// Do not send it, and return [`SendError::NotRecorded`].
    #[default]
    Reject,
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
    #[error(
        "the message was sent but recording it failed; do not send it again, record its bytes once the archive works: {error}"
    )]
    SentUnrecorded {
        /// The recording error.
        #[source]
        error: RecordError,
        /// The relay's reply.
        status: Box<SendStatus>,
    },
    /// A relay accepted the message recorded with this idempotency key
    /// before, so nothing was sent. Record with a new key to send it again.
    #[error(
        "message {} was accepted by a relay before, so it was not sent again; use a new idempotency key to send it again",
        receipt.id
    )]
    AlreadySent {
        /// The receipt of the archived message.
        receipt: Receipt,
    },
    /// The message recorded with this idempotency key before could not be
    /// read back to send it again, so nothing was sent.
    #[error("message {} is archived but reading it back to send it failed: {error}", receipt.id)]
    Unreadable {
        /// The receipt of the archived message.
        receipt: Receipt,
        /// The read error.
        #[source]
        error: crate::ReadError,
    },
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
    pub fn new(archive: impl Into<Archive>, inner: T) -> ArchivingTransport<T> {
        ArchivingTransport {
            inner,
            archive: archive.into(),
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
    ///
    /// When the message or its idempotency key is archived already, the
    /// archived bytes are sent instead of `raw`, so the customer receives
    /// exactly what the archive holds, and nothing is sent when a relay
    /// accepted the message before ([`SendError::AlreadySent`]).
    pub async fn send_raw_with(
        &self,
        envelope: &Envelope,
        raw: &[u8],
        meta: RecordMeta,
    ) -> Result<Sent<T::Ok>, SendError<T::Error>> {
        let meta = with_envelope(meta, envelope);
        let known_key = meta
            .idempotency_key
            .as_deref()
            .is_some_and(|key| self.archive.key_is_known(key));
        match self.timing {
            RecordTiming::WhileSending if !known_key => {
                self.record_while_sending(envelope, raw, meta).await
            }
            _ => self.record_then_send(envelope, raw, meta).await,
        }
    }

    async fn record_then_send(
        &self,
        envelope: &Envelope,
        raw: &[u8],
        meta: RecordMeta,
    ) -> Result<Sent<T::Ok>, SendError<T::Error>> {
        let kind = meta.kind.clone();
        let context = log_context(envelope, &meta);
        let receipt = match self.archive.record(Bytes::copy_from_slice(raw), meta).await {
            Ok(receipt) => receipt,
            Err(error) => {
                self.reject_or_log(error, &context)?;
                return self.send_unrecorded(envelope, raw).await;
            }
        };

        // One send of a message at a time, so that of concurrent sends
        // with one idempotency key only the first reaches the relay.
        let _sending = self.archive.lock_sending(&receipt.id).await;
        if receipt.status == RecordStatus::AlreadyArchived {
            // The same bytes recorded before under another key or none, as
            // a bulk mail sent to one recipient after another is: `raw` is
            // what the archive holds.
            let sent = self.inner.send_raw(envelope, raw).await;
            return self.finish(Some(receipt), kind, sent);
        }
        // A concurrent send with the same key may have taken the lock
        // first, even when this call recorded the message.
        if self.archive.was_accepted(&receipt.id).await {
            return Err(SendError::AlreadySent { receipt });
        }
        let archived;
        let raw = if receipt.status == RecordStatus::DuplicateKey {
            // A retry renders the mail anew; send what the archive holds.
            archived = match self.archive.get_raw(&receipt.id).await {
                Ok(archived) => archived,
                Err(error) => return Err(SendError::Unreadable { receipt, error }),
            };
            &archived[..]
        } else {
            raw
        };
        let sent = self.inner.send_raw(envelope, raw).await;
        self.finish(Some(receipt), kind, sent)
    }

    async fn record_while_sending(
        &self,
        envelope: &Envelope,
        raw: &[u8],
        meta: RecordMeta,
    ) -> Result<Sent<T::Ok>, SendError<T::Error>> {
        let kind = meta.kind.clone();
        let context = log_context(envelope, &meta);
        let bytes = Bytes::copy_from_slice(raw);
        if let Err(error) = self.archive.precheck(&bytes, &meta) {
            self.reject_or_log(error, &context)?;
            return self.send_unrecorded(envelope, raw).await;
        }

        // Recording runs on its own task, so hashing and compressing use
        // another core while this one starts the SMTP exchange.
        let archive = self.archive.clone();
        let recording = tokio::spawn(async move { archive.record(bytes, meta).await });
        let sent = self.inner.send_raw(envelope, raw).await;
        let recorded = match recording.await {
            Ok(recorded) => recorded,
            Err(error) => match error.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                // Cancelled: the runtime is shutting down.
                Err(_) => Err(RecordError::Closed),
            },
        };
        match recorded {
            Ok(receipt) => {
                if receipt.is_duplicate() {
                    // A concurrent send recorded the same key first.
                    tracing::warn!(id = %receipt.id, %context, "sent a second copy of an archived message");
                }
                self.finish(Some(receipt), kind, sent)
            }
            Err(error) => match sent {
                Err(_) => {
                    self.reject_or_log(error, &context)?;
                    self.finish(None, kind, sent)
                }
                Ok(response) if self.unrecorded == WhenUnrecorded::Reject => {
                    log_unrecorded(&error, &context);
                    Err(SendError::SentUnrecorded {
                        error,
                        status: Box::new(response.send_status()),
                    })
                }
                Ok(response) => {
                    log_unrecorded(&error, &context);
                    self.finish(None, kind, Ok(response))
                }
            },
        }
    }

    async fn send_unrecorded(
        &self,
        envelope: &Envelope,
        raw: &[u8],
    ) -> Result<Sent<T::Ok>, SendError<T::Error>> {
        let sent = self.inner.send_raw(envelope, raw).await;
        self.finish(None, None, sent)
    }

    /// Records the relay's reply as the message's send status, in the
    /// background, and returns the send's result.
    fn finish(
        &self,
        receipt: Option<Receipt>,
        kind: Option<String>,
        sent: Result<T::Ok, T::Error>,
    ) -> Result<Sent<T::Ok>, SendError<T::Error>> {
        if let Some(receipt) = &receipt {
            let status = match &sent {
                Ok(response) => response.send_status(),
                Err(error) => error.send_status(),
            };
            self.archive
                .record_status_in_background(receipt.id, kind, status);
        }
        match sent {
            Ok(response) => Ok(Sent { response, receipt }),
            Err(error) => Err(SendError::Send { receipt, error }),
        }
    }

    /// Returns the error when unrecorded mail must not be sent; logs it
    /// otherwise.
    fn reject_or_log(&self, error: RecordError, context: &str) -> Result<(), SendError<T::Error>> {
        match self.unrecorded {
            WhenUnrecorded::Reject => Err(SendError::NotRecorded(error)),
            WhenUnrecorded::SendAnyway => {
                log_unrecorded(&error, context);
                Ok(())
            }
        }
    }
}

/// Describes a message's envelope and idempotency key, for log lines.
fn log_context(envelope: &Envelope, meta: &RecordMeta) -> String {
    let from = envelope.from().map(ToString::to_string).unwrap_or_default();
    let to: Vec<String> = envelope.to().iter().map(ToString::to_string).collect();
    let key = meta.idempotency_key.as_deref().unwrap_or("none");
    format!("from <{from}> to {}, idempotency key {key}", to.join(", "))
}

fn log_unrecorded(error: &RecordError, context: &str) {
    tracing::error!(%error, %context, "a message was sent without being recorded");
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
