//! The search index of the sent-mail archive on tantivy, embedded: the
//! [`Index`](archive_core::search::Index) trait on one tantivy index per
//! month of the message date.
//!
//! Results equal the reference meaning ([`archive_core::search::matches`])
//! exactly. Values and terms are normalized with
//! [`archive_core::search::normalize`]. Substrings are found through
//! character bigrams with positions, single characters through unigrams,
//! identifiers such as order numbers, tracking numbers and addresses
//! through a prefix lookup on their suffixes, and phone numbers through the
//! suffixes of their digits. The [`tokenizer`] module explains why each is
//! exact.
//!
//! The index stores no text: search returns archive ids and dates, and the
//! archive reads everything else from its storage.
//!
//! ```no_run
//! # async fn example() -> Result<(), archive_core::search::IndexError> {
//! use archive_core::search::{Index, parse_query};
//! use archive_tantivy::TantivyIndex;
//!
//! let index = TantivyIndex::open("/var/lib/sentmail/index")?;
//! let zone = chrono::FixedOffset::east_opt(9 * 3600).expect("valid offset");
//! let query = parse_query("to:hoge.12 after:2026-12-01", zone).expect("valid query");
//! let page = index.search(&query, 0, 50).await?;
//! println!("{} messages", page.total);
//! # Ok(())
//! # }
//! ```

mod collector;
mod document;
mod error;
mod index;
mod partition;
mod query;
mod schema;
pub mod tokenizer;

pub use index::{IndexStats, TantivyIndex, TantivyOptions};
