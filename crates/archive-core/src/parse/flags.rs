//! The set of [`ParseFlag`]s collected while parsing one message.

use std::collections::BTreeSet;

use crate::ParseFlag;

/// Flags found so far, each once.
#[derive(Debug, Default, Clone)]
pub(crate) struct Flags(BTreeSet<ParseFlag>);

impl Flags {
    /// Records `flag`.
    pub(crate) fn add(&mut self, flag: ParseFlag) {
        self.0.insert(flag);
    }

    /// Returns true when `flag` was recorded.
    #[cfg(test)]
    pub(crate) fn contains(&self, flag: ParseFlag) -> bool {
        self.0.contains(&flag)
    }

    /// Returns the flags sorted.
    pub(crate) fn to_vec(&self) -> Vec<ParseFlag> {
        self.0.iter().copied().collect()
    }
}
