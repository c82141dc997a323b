//! Partitions: the retention class and day that storage groups messages by.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// A retention class plus a UTC day.
///
/// Storage groups the messages of one partition into packs, and retention
/// deletes whole partitions. The text form is `class/YYYY-MM-DD`, which is
/// also the partition's directory or key prefix in storage backends.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Partition {
    class: String,
    day: NaiveDate,
}

/// Maximum length of a retention class name in bytes.
pub const MAX_CLASS_LEN: usize = 32;

/// The error for an invalid partition class or text form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid partition {value:?}: {reason}")]
pub struct InvalidPartition {
    /// The rejected text.
    pub value: String,
    /// Why it was rejected.
    pub reason: &'static str,
}

impl Partition {
    /// The class used when no retention class is configured for a kind.
    pub const DEFAULT_CLASS: &'static str = "default";

    /// Creates a partition. The class must be 1 to 32 characters of `a-z`,
    /// `0-9`, `_` and `-`, because it becomes a path segment.
    pub fn new(class: &str, day: NaiveDate) -> Result<Partition, InvalidPartition> {
        validate_class(class)?;
        Ok(Partition {
            class: class.to_owned(),
            day,
        })
    }

    /// The retention class.
    pub fn class(&self) -> &str {
        &self.class
    }

    /// The UTC day.
    pub fn day(&self) -> NaiveDate {
        self.day
    }
}

fn validate_class(class: &str) -> Result<(), InvalidPartition> {
    let invalid = |reason| InvalidPartition {
        value: class.to_owned(),
        reason,
    };
    if class.is_empty() || class.len() > MAX_CLASS_LEN {
        return Err(invalid("the class must be 1 to 32 characters long"));
    }
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-';
    if !class.chars().all(allowed) {
        return Err(invalid("the class may contain only a-z, 0-9, '_' and '-'"));
    }
    Ok(())
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.class, self.day.format("%Y-%m-%d"))
    }
}

impl FromStr for Partition {
    type Err = InvalidPartition;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |reason| InvalidPartition {
            value: s.to_owned(),
            reason,
        };
        let (class, day) = s
            .split_once('/')
            .ok_or_else(|| invalid("expected class/YYYY-MM-DD"))?;
        let day = NaiveDate::parse_from_str(day, "%Y-%m-%d")
            .map_err(|_| invalid("the day must be YYYY-MM-DD"))?;
        validate_class(class).map_err(|e| invalid(e.reason))?;
        Ok(Partition {
            class: class.to_owned(),
            day,
        })
    }
}

impl TryFrom<String> for Partition {
    type Error = InvalidPartition;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Partition> for String {
    fn from(value: Partition) -> Self {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_text_round_trip() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        let partition = Partition::new("default", day).unwrap();
        assert_eq!(partition.to_string(), "default/2026-12-04");
        assert_eq!(
            "default/2026-12-04".parse::<Partition>().unwrap(),
            partition
        );
    }

    #[test]
    fn partition_rejects_path_characters() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        assert!(Partition::new("../etc", day).is_err());
        assert!(Partition::new("", day).is_err());
        assert!(Partition::new("Upper", day).is_err());
        assert!("default/2026-13-01".parse::<Partition>().is_err());
        assert!("nodayhere".parse::<Partition>().is_err());
    }
}
