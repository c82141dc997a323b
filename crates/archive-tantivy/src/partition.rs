//! Month partitions: which month a message belongs to, the directory name
//! of a month, and which months a search must open.

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};

/// A calendar month in UTC: the partition of the messages dated in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    /// 1 to 12.
    month: u32,
}

impl Month {
    /// Returns the month of `date` (UTC).
    pub fn of(date: DateTime<Utc>) -> Month {
        Month {
            year: date.year(),
            month: date.month(),
        }
    }

    /// Reads a directory name written by `Display` (`2026-12`), or returns
    /// `None` for any other name.
    pub fn parse(name: &str) -> Option<Month> {
        let (year, month) = name.rsplit_once('-')?;
        if month.len() != 2
            || !year
                .trim_start_matches('-')
                .bytes()
                .all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let month = Month {
            year: year.parse().ok()?,
            month: month.parse().ok()?,
        };
        (month.first_day().is_some() && month.to_string() == name).then_some(month)
    }

    fn first_day(self) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(self.year, self.month, 1)
    }

    /// Returns the first instant of the month, or the earliest
    /// representable instant for a month before chrono's range.
    pub fn start(self) -> DateTime<Utc> {
        self.first_day()
            .and_then(|day| day.and_hms_opt(0, 0, 0))
            .map_or(DateTime::<Utc>::MIN_UTC, |time| {
                Utc.from_utc_datetime(&time)
            })
    }

    /// Returns the first instant after the month, or the latest
    /// representable instant for the last month chrono can represent.
    pub fn end(self) -> DateTime<Utc> {
        let (year, month) = if self.month == 12 {
            (self.year + 1, 1)
        } else {
            (self.year, self.month + 1)
        };
        NaiveDate::from_ymd_opt(year, month, 1)
            .and_then(|day| day.and_hms_opt(0, 0, 0))
            .map_or(DateTime::<Utc>::MAX_UTC, |time| {
                Utc.from_utc_datetime(&time)
            })
    }

    /// True if some instant of the month lies in `[start, end)`.
    pub fn overlaps(self, start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) -> bool {
        start.is_none_or(|start| start < self.end()) && end.is_none_or(|end| end > self.start())
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.year < 0 {
            write!(f, "-{:04}-{:02}", -i64::from(self.year), self.month)
        } else {
            write!(f, "{:04}-{:02}", self.year, self.month)
        }
    }
}

/// Returns the months of `months` that overlap `[start, end)`, newest
/// first.
pub fn select(
    months: impl IntoIterator<Item = Month>,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
) -> Vec<Month> {
    if matches!((start, end), (Some(start), Some(end)) if start >= end) {
        return Vec::new();
    }
    let mut selected: Vec<Month> = months
        .into_iter()
        .filter(|month| month.overlaps(start, end))
        .collect();
    selected.sort_unstable_by(|a, b| b.cmp(a));
    selected
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn month(name: &str) -> Month {
        Month::parse(name).unwrap_or_else(|| panic!("{name} is a month"))
    }

    #[test]
    fn month_of_date_is_utc() {
        assert_eq!(
            Month::of(utc("2026-12-01T08:59:59+09:00")).to_string(),
            "2026-11"
        );
        assert_eq!(
            Month::of(utc("2026-12-01T09:00:00+09:00")).to_string(),
            "2026-12"
        );
    }

    #[test]
    fn names_round_trip() {
        for name in ["2026-01", "2026-12", "0001-03", "-0044-03", "12345-06"] {
            assert_eq!(month(name).to_string(), name);
        }
        for name in [
            "2026-13",
            "2026-1",
            "2026-00",
            "x-01",
            "2026-01-01",
            "tmp",
            "+2026-01",
        ] {
            assert_eq!(Month::parse(name), None, "{name}");
        }
    }

    #[test]
    fn spans_cover_the_month() {
        let december = month("2026-12");
        assert_eq!(december.start(), utc("2026-12-01T00:00:00Z"));
        assert_eq!(december.end(), utc("2027-01-01T00:00:00Z"));
        assert_eq!(month("2027-01").start(), december.end());
    }

    #[test]
    fn selection_keeps_overlapping_months_newest_first() {
        let months = ["2026-10", "2026-11", "2026-12", "2027-01"].map(month);
        let names = |selected: Vec<Month>| -> Vec<String> {
            selected.iter().map(Month::to_string).collect()
        };
        assert_eq!(
            names(select(months, None, None)),
            ["2027-01", "2026-12", "2026-11", "2026-10"]
        );
        assert_eq!(
            names(select(
                months,
                Some(utc("2026-11-30T23:59:59Z")),
                Some(utc("2026-12-01T00:00:00Z"))
            )),
            ["2026-11"],
            "the end is exclusive"
        );
        assert_eq!(
            names(select(months, Some(utc("2026-12-01T00:00:00Z")), None)),
            ["2027-01", "2026-12"]
        );
        assert_eq!(
            names(select(months, None, Some(utc("2026-11-01T00:00:01Z")))),
            ["2026-11", "2026-10"]
        );
        assert!(select(months, Some(utc("2027-02-01T00:00:00Z")), None).is_empty());
        assert!(
            select(
                months,
                Some(utc("2026-12-05T00:00:00Z")),
                Some(utc("2026-12-04T00:00:00Z"))
            )
            .is_empty(),
            "an empty range selects nothing"
        );
    }
}
