//! The core of the sent-mail archive: domain types, the `Storage` trait,
//! MIME parsing, the durable capture journal and the `Archive` engine.
//!
//! # Layout
//!
//! - [`id`]: the archive id, SHA-256 of the raw bytes.
//! - [`meta`]: what the caller records with a message, and the receipt.
//! - [`message`] and [`parse`]: the decoded view of a message and the
//!   parser that builds it.
//! - [`partition`], [`entry`] and [`pack`]: how messages are grouped,
//!   described and laid out in storage.
//! - [`storage`]: the `Storage` trait, its contract and `MemoryStorage`.
//! - `testing` (feature `testing`): conformance suites for backends.
//! - [`send_status`] and `sending` (feature `lettre`): the relay's reply
//!   to each send, and the lettre transport that records every mail.
//!
//! This crate depends on no storage or index adapter; adapters depend on it.

pub mod archive;
pub mod dictionary;
pub mod entry;
pub mod id;
pub mod journal;
pub mod message;
pub mod meta;
pub mod pack;
pub mod parse;
pub mod partition;
pub mod search;
pub mod send_status;
#[cfg(feature = "lettre")]
pub mod sending;
pub mod storage;
#[cfg(feature = "testing")]
pub mod testing;

mod codec;

pub use archive::{
    Archive, ArchiveBuilder, ArchiveOptions, ArchiveStats, Expectation, Expected, FlushError,
    OpenError, ReadError, ReconcileReport, RecordError, SearchError, SearchHit, SearchResults,
    VerifyReport, Window, WindowReport,
};
pub use dictionary::{Dictionary, DictionaryError, frame_dictionary_id};
pub use entry::{EntryInfo, EntryRole, FrameError, PackEntry, decode_frame, encode_frame};
pub use id::{ArchiveId, ParseIdError};
pub use message::{Attachment, DateSource, HeaderField, Mailbox, Message, ParseFlag};
pub use meta::{Receipt, RecordMeta, RecordStatus, Source, keys};
pub use parse::{ParseOptions, Summary, parse_message, summarize};
pub use partition::{InvalidPartition, Partition};
pub use send_status::{SendOutcome, SendStatus, queue_id_of};
pub use storage::{
    Damage, ListedEntry, Location, MemoryStorage, PutOutcome, Storage, StorageError,
};
