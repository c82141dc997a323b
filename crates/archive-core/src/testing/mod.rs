//! Conformance suites and helpers for backends (feature `testing`).
//!
//! A backend crate runs the whole storage suite with one macro call:
//!
//! ```ignore
//! archive_core::storage_conformance!(MyFixture::new(), Capabilities::default());
//! ```
//!
//! The macro expands to one `#[tokio::test]` per check, so a failure names
//! both the backend's test module and the check.

pub mod storage;

pub use storage::{Capabilities, MemoryFixture, StorageFixture};
