//! Storage of the sent-mail archive on a local directory.
//!
//! [`FsStorage`] implements [`archive_core::Storage`]: each `put` writes one
//! immutable pack file in the format of [`archive_core::pack`], and an
//! in-memory catalog built at open maps every archive id to its frame.
//! The crate runs on Unix only, because reads use positioned reads
//! (`std::os::unix::fs::FileExt`).
//!
//! # Layout
//!
//! ```text
//! <root>/LOCK                                  exclusive lock of the open FsStorage
//! <root>/dictionaries/<seq>-<id>.zdict         compression dictionaries
//! <root>/packs/<class>/<YYYY-MM-DD>/           one directory per partition
//!     000000000042-<name>.pack                 a pack: <seq>-<name>
//!     000000000043-<name>.pack.tmp             a pack being written
//! <root>/packs/<class>/<YYYY-MM-DD>.deleting-<seq>/
//!                                              a partition being deleted
//! ```
//!
//! `<name>` is [`archive_core::pack::name`], derived from the ids in the
//! pack. `<seq>` is a decimal sequence number, zero-padded to 12 digits,
//! that increases with every pack written under `<root>`. A partition lists
//! its packs in `<seq>` order, so the listing order after a restart equals
//! the order in which the packs were stored.
//!
//! # Durability
//!
//! A pack is written to its `.tmp` file, flushed with `fsync`, renamed to
//! its final name, and then its directory is flushed (and every directory
//! the put created, up to `<root>/packs`). Only then does the catalog show
//! its entries and `put` return. A crash at any point leaves either the
//! whole pack or a `.tmp` file, which [`FsStorage::open`] deletes because it
//! was never acknowledged.
//!
//! Deleting a partition renames its directory to `<day>.deleting-<seq>`,
//! flushes the class directory, and then removes the renamed directory.
//! `open` removes any `.deleting-` directory that a crash left behind, so a
//! deleted partition never returns.
//!
//! # Open
//!
//! `open` reads two small ranges of every pack (trailer and footer), never
//! the frames, and flushes every pack and directory it finds, because a
//! crashed process may have left them unflushed. A pack whose trailer or
//! footer cannot be read or decoded stays on disk, is left out of the
//! catalog, is logged at error level and is reported by
//! [`Storage::damage`](archive_core::Storage::damage). Where two packs hold
//! the same id, the pack with the lower `<seq>` serves it.
//!
//! Only one `FsStorage` may use a directory at a time: `open` takes an
//! exclusive lock on `<root>/LOCK` (`File::try_lock`) and fails if another
//! process, or another `FsStorage` in this process, holds it.

mod catalog;
mod delete;
mod dictionaries;
mod durable;
mod error;
mod layout;
mod lock;
mod put;
mod read;
mod scan;
mod storage;

pub use storage::FsStorage;
