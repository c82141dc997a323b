//! Storage on a local directory.
