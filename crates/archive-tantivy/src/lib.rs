//! The search index of the sent-mail archive on tantivy, embedded.

mod partition;
pub mod tokenizer;
