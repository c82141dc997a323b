//! Conformance suites, fakes and helpers for backends and tests (feature
//! `testing`).
//!
//! A backend crate runs the whole storage suite with one macro call:
//!
//! ```ignore
//! archive_core::storage_conformance!(MyFixture::new(), Capabilities::default());
//! ```
//!
//! The macro expands to one `#[tokio::test]` per check, so a failure names
//! both the backend's test module and the check.

pub mod flaky;
pub mod index;
pub mod reopen;
pub mod storage;

pub use flaky::{FlakyIndex, FlakyStorage};
pub use index::{IndexFixture, MemoryIndexFixture};
pub use reopen::reopen;
pub use storage::{Capabilities, MemoryFixture, StorageFixture};
