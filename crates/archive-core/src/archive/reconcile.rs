//! Completeness check: compares what the sending application states it
//! sent with what the archive contains, and lists what is missing.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::{Archive, ReadError};
use crate::{EntryInfo, EntryRole, Source};

/// A half-open time range `[after, before)`. A bound that is `None` leaves
/// that side open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Window {
    /// Start of the window, inclusive.
    pub after: Option<DateTime<Utc>>,
    /// End of the window, exclusive.
    pub before: Option<DateTime<Utc>>,
}

impl Window {
    /// Returns true when `time` lies inside the window.
    pub fn contains(&self, time: DateTime<Utc>) -> bool {
        self.after.is_none_or(|after| after <= time)
            && self.before.is_none_or(|before| time < before)
    }
}

/// The mail the application states it sent in one window: a count or a
/// list of keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// The number of mails sent in the window. Compared with the messages
    /// whose `recorded_at` lies in the window and whose source is
    /// [`Source::App`] or [`Source::Smtp`]. Imported messages are not
    /// counted: an import of old files shows that a file existed, not that
    /// the application sent the mail.
    Count(u64),
    /// The idempotency keys the application passed to `record`
    /// ([`RecordMeta::idempotency_key`](crate::RecordMeta::idempotency_key)).
    /// A key is archived or not whenever its message was recorded, so the
    /// window's bounds do not apply to keys.
    Keys(Vec<String>),
}

/// One window and what the application sent in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    /// The time range. [`Expected`] describes what it applies to.
    pub window: Window,
    /// The count or the keys of the mails sent.
    pub expected: Expected,
}

/// The result of checking one [`Expectation`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowReport {
    /// The window checked.
    pub window: Window,
    /// Mails the application sent: the count given, or the number of
    /// distinct keys.
    pub expected: u64,
    /// Of those, the messages found in the archive.
    pub archived: u64,
    /// `expected` minus `archived`, or 0 when the archive contains at
    /// least as many.
    pub missing: u64,
    /// Messages archived beyond the expected count. Always 0 for keys. It
    /// does not make a report incomplete, but it means the count and the
    /// archive disagree.
    pub extra: u64,
    /// For a key list: the keys not archived, in input order, each once.
    /// `None` for a count.
    pub missing_keys: Option<Vec<String>>,
}

/// The result of [`Archive::reconcile`]: one report per expectation, in
/// the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// The reports, in the order of the expectations.
    pub windows: Vec<WindowReport>,
}

impl ReconcileReport {
    /// Returns true when no window misses any mail. Extra messages do not
    /// count against completeness.
    pub fn is_complete(&self) -> bool {
        self.windows.iter().all(|window| window.missing == 0)
    }
}

impl Archive {
    /// Checks that the archive contains every mail the application states it
    /// sent, and reports what is missing per window.
    ///
    /// Keys are looked up in the in-memory key registry, so a key list
    /// costs no storage read. Count windows read the archive's entries once
    /// for all of them. [`Expected::Count`] lists which messages count.
    pub async fn reconcile(
        &self,
        expectations: &[Expectation],
    ) -> Result<ReconcileReport, ReadError> {
        let has_counts = expectations
            .iter()
            .any(|expectation| matches!(expectation.expected, Expected::Count(_)));
        let sent_times = if has_counts {
            sent_times(self.entries().await?)
        } else {
            Vec::new()
        };

        let windows = expectations
            .iter()
            .map(|expectation| match &expectation.expected {
                Expected::Count(count) => count_report(expectation.window, *count, &sent_times),
                Expected::Keys(keys) => self.keys_report(expectation.window, keys),
            })
            .collect();
        Ok(ReconcileReport { windows })
    }

    fn keys_report(&self, window: Window, keys: &[String]) -> WindowReport {
        let mut seen = HashSet::new();
        let mut missing_keys = Vec::new();
        for key in keys {
            if !seen.insert(key.as_str()) {
                continue;
            }
            // NOTE: the registry contains the key of every entry read at open,
            // whatever its role, so a key that only a send status carries
            // would count as archived.
            if self.inner.keys.known(key).is_none() {
                missing_keys.push(key.clone());
            }
        }
        let expected = seen.len() as u64;
        let missing = missing_keys.len() as u64;
        WindowReport {
            window,
            expected,
            archived: expected - missing,
            missing,
            extra: 0,
            missing_keys: Some(missing_keys),
        }
    }
}

/// Returns the sorted `recorded_at` times of the messages that count as
/// sent: role message, source not import.
fn sent_times(entries: Vec<EntryInfo>) -> Vec<DateTime<Utc>> {
    let mut times: Vec<DateTime<Utc>> = entries
        .into_iter()
        .filter(|info| info.role == EntryRole::Message && info.source != Source::Import)
        .map(|info| info.recorded_at)
        .collect();
    times.sort_unstable();
    times
}

fn count_report(window: Window, expected: u64, sorted_times: &[DateTime<Utc>]) -> WindowReport {
    let start = match window.after {
        Some(after) => sorted_times.partition_point(|time| *time < after),
        None => 0,
    };
    let end = match window.before {
        Some(before) => sorted_times.partition_point(|time| *time < before),
        None => sorted_times.len(),
    };
    let archived = end.saturating_sub(start) as u64;
    WindowReport {
        window,
        expected,
        archived,
        missing: expected.saturating_sub(archived),
        extra: archived.saturating_sub(expected),
        missing_keys: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn window_is_half_open() {
        let window = Window {
            after: Some(at("2026-12-01T00:00:00Z")),
            before: Some(at("2026-12-02T00:00:00Z")),
        };
        assert!(window.contains(at("2026-12-01T00:00:00Z")), "start inside");
        assert!(!window.contains(at("2026-12-02T00:00:00Z")), "end outside");
        assert!(!window.contains(at("2026-11-30T23:59:59Z")));
        assert!(Window::default().contains(at("1970-01-01T00:00:00Z")));
    }

    #[test]
    fn count_uses_half_open_bounds() {
        let times = [
            at("2026-12-01T00:00:00Z"),
            at("2026-12-01T12:00:00Z"),
            at("2026-12-02T00:00:00Z"),
        ];
        let window = Window {
            after: Some(at("2026-12-01T00:00:00Z")),
            before: Some(at("2026-12-02T00:00:00Z")),
        };
        let report = count_report(window, 3, &times);
        assert_eq!(report.archived, 2);
        assert_eq!(report.missing, 1);
        assert_eq!(report.extra, 0);

        let open = count_report(Window::default(), 1, &times);
        assert_eq!(open.archived, 3);
        assert_eq!(open.missing, 0);
        assert_eq!(open.extra, 2);
    }

    #[test]
    fn inverted_window_counts_nothing() {
        let times = [at("2026-12-01T12:00:00Z")];
        let window = Window {
            after: Some(at("2026-12-02T00:00:00Z")),
            before: Some(at("2026-12-01T00:00:00Z")),
        };
        assert_eq!(count_report(window, 0, &times).archived, 0);
    }
}
