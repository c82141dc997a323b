//! Code shared by the examples and their tests: a small shop backend that
//! records every mail it sends, and a storage that mirrors packs to two
//! backends.

pub mod mirror;
pub mod shop;
