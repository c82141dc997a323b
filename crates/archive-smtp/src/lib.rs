//! ESMTP receiver of the sent-mail archive.
//!
//! - [`protocol`]: command parser, replies, the session state machine and
//!   the DATA decoder, without I/O.

pub mod protocol;
