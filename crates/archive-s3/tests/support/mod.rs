//! Helpers shared by the integration tests.

#![allow(dead_code)]

pub mod faulty;
pub mod mail;
pub mod memory;
pub mod server;
