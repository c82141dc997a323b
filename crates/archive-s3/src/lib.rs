//! Storage of the sent-mail archive in an S3 bucket, or in any other
//! `object_store` backend.
//!
//! [`S3Storage`] implements [`archive_core::Storage`] with the pack format
//! of [`archive_core::pack`]: each `put` writes one immutable pack object,
//! and an in-memory catalog built at open maps every archive id to its
//! frame. The capture journal of the archive stays on local disk; storage
//! only receives whole batches.
//!
//! # Key layout
//!
//! ```text
//! <prefix>/packs/<class>/<YYYY-MM-DD>/<seq>-<name>   one pack per put
//! <prefix>/dictionaries/<seq>-<id>.zdict             compression dictionaries
//! ```
//!
//! `<name>` is [`archive_core::pack::name`], derived from the ids in the
//! pack. `<seq>` is 20 decimal digits: at open it is set above every
//! sequence number listed, and each new pack takes the larger of the Unix
//! time in milliseconds and the last number plus one. A partition lists
//! its packs in `<seq>` order, so `list` returns entries in store order,
//! also after a restart. Dictionaries carry a 12-digit count in the same
//! place for the same reason. Retention deletes a partition by listing
//! and deleting its prefix.
//!
//! # Writing a pack
//!
//! A pack is uploaded with one create-only PUT (`PutMode::Create`, sent as
//! `If-None-Match: *`). When the upload of a batch fails, the key stays
//! reserved for that batch, so the archive's retry of the same batch
//! targets the same key. A reply of "already exists" then means an earlier
//! attempt stored the pack and its reply was lost: the backend reads the
//! existing pack's footer, and if it lists exactly the batch's ids, the put
//! succeeds without a second upload. So a batch is never stored as two
//! packs. S3 PUTs are atomic: a failed upload leaves no object.
//!
//! Failed requests are retried a few times at once (100 ms, then 400 ms)
//! when the failure is temporary, and each retry is logged at info level
//! with the key. Then the error goes to the caller; the archive's mover
//! keeps retrying a failed put with backoff, and the journal keeps the
//! messages meanwhile.
//!
//! # Requests
//!
//! | operation | requests |
//! |---|---|
//! | `put` of a batch | one PUT (plus a HEAD and GETs after a lost reply) |
//! | `get` | one ranged GET of the frame |
//! | `contains`, `list`, `partitions` | none: the catalog answers |
//! | open | one LIST of the packs and one of the dictionaries (1,000 keys per request), plus one or two ranged GETs per pack whose footer the cache lacks |
//! | `delete_partition` | LISTs of the partition's prefix and batch deletes |
//!
//! With a cache directory ([`StoreOptions::cache_dir`]), footers and
//! dictionaries are kept on local disk under their keys, so a restart reads
//! only footers of packs it has not seen. [`S3Storage::stats`] counts the
//! requests.
//!
//! # Limits
//!
//! - One process may write to a prefix at a time. Nothing enforces it:
//!   S3 has no lock, and two writers could allocate the same sequence
//!   number for different packs of a partition.
//! - Opening fails when the store cannot be listed; the archive cannot
//!   record while it is not open.

mod cache;
mod catalog;
mod config;
mod delete;
mod dictionaries;
mod error;
mod index;
mod layout;
mod put;
mod read;
mod request;
mod scan;
mod storage;
mod tls;

pub use config::{ConfigError, Credentials, S3Config};
pub use request::RequestStats;
pub use storage::{S3Storage, StoreOptions};
pub use tls::install_default_provider;
