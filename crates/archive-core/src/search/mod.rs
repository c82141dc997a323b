//! Search: the query model, normalization, the `Index` trait and its
//! reference implementation, and snippets.
//!
//! Everything here is independent of any search engine, so that another
//! `Index` backend serves the same queries with the same results.

mod document;
mod index;
mod matcher;
mod memory;
mod normalize;
mod parser;
mod query;
mod snippet;

pub use document::{CUSTOMER_KEYS, IndexDocument, ORDER_KEYS, meta_key};
pub use index::{Index, IndexError, IndexHit, SearchPage};
pub use matcher::matches;
pub use memory::MemoryIndex;
pub use normalize::{
    MIN_PHONE_DIGITS, Normalized, identifier_runs, is_identifier_char, is_identifier_term,
    normalize, numeric_runs, phone_digits, strip_subaddress,
};
pub use parser::{MAX_QUERY_CHARS, MAX_QUERY_TERMS, QueryError, parse_date_span, parse_query};
pub use query::{Query, TextField, TextTerm};
pub use snippet::{Snippet, snippet};
