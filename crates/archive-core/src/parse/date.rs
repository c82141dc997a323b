//! A lenient RFC 5322 date parser.
//!
//! It reads the standard form with or without a weekday, two- and
//! three-digit years (RFC 5322 section 4.3: 00-49 is 20xx, 50-99 is 19xx,
//! three digits add 1900), obsolete zone names, comments such as `(JST)`,
//! the asctime form `Fri Dec  4 19:33:00 2026` and RFC 3339 timestamps.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

use super::header::unfold;

/// A date as written: the wall-clock time and, if the text had one, its zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ParsedDate {
    /// The wall-clock date and time.
    pub local: NaiveDateTime,
    /// The zone offset, or `None` when the text had no zone.
    pub zone: Option<FixedOffset>,
}

impl ParsedDate {
    /// Returns the instant, reading a zone-less time in `assumed` zone.
    pub(crate) fn to_utc(self, assumed: FixedOffset) -> DateTime<Utc> {
        let zone = self.zone.unwrap_or(assumed);
        let local = zone
            .from_local_datetime(&self.local)
            .single()
            .unwrap_or_else(|| zone.from_utc_datetime(&self.local));
        local.with_timezone(&Utc)
    }
}

/// Parses a raw date header value. Returns `None` for text that is not a
/// date.
pub(crate) fn parse_date(raw: &[u8]) -> Option<ParsedDate> {
    let text = unfold(raw);
    let text = std::str::from_utf8(&text).ok()?;
    let text = strip_comments(text);
    let text = text.trim();

    if let Ok(date) = DateTime::parse_from_rfc3339(text) {
        return Some(ParsedDate {
            local: date.naive_local(),
            zone: Some(*date.offset()),
        });
    }
    parse_tokens(text)
}

/// Returns the date of a `Received` header: the text after its last `;`.
pub(crate) fn parse_received_date(raw: &[u8]) -> Option<ParsedDate> {
    let at = raw.iter().rposition(|&b| b == b';')?;
    parse_date(&raw[at + 1..])
}

fn strip_comments(text: &str) -> String {
    let mut output = String::with_capacity(text.len());
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ if depth == 0 => output.push(c),
            _ => {}
        }
    }
    output
}

#[derive(Default)]
struct Fields {
    numbers: Vec<(u32, usize)>,
    month: Option<u32>,
    time: Option<NaiveTime>,
    zone: Option<FixedOffset>,
}

fn parse_tokens(text: &str) -> Option<ParsedDate> {
    let mut fields = Fields::default();
    let tokens = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|token| !token.is_empty());

    for token in tokens.take(16) {
        read_token(token, &mut fields)?;
    }

    let mut numbers = fields.numbers.iter().copied();
    let (first, first_digits) = numbers.next()?;
    let (second, second_digits) = numbers.next()?;
    if numbers.next().is_some() {
        return None;
    }
    let ((day, _), (year, year_digits)) = if first_digits >= 3 || first > 31 {
        ((second, second_digits), (first, first_digits))
    } else {
        ((first, first_digits), (second, second_digits))
    };

    let year = full_year(year, year_digits);
    let date = NaiveDate::from_ymd_opt(year, fields.month?, day)?;
    Some(ParsedDate {
        local: date.and_time(fields.time?),
        zone: fields.zone,
    })
}

/// Reads one token into `fields`. Returns `None` for a token that cannot
/// be part of a date.
fn read_token(token: &str, fields: &mut Fields) -> Option<()> {
    if token.contains(':') && fields.time.is_none() {
        let (time, zone) = split_attached_zone(token);
        fields.time = Some(parse_time(time)?);
        if let Some(zone) = zone {
            fields.zone = Some(parse_numeric_zone(zone)?);
        }
        return Some(());
    }
    if token.starts_with(['+', '-']) {
        let zone = parse_numeric_zone(token)?;
        fields.zone.get_or_insert(zone);
        return Some(());
    }
    if token.bytes().all(|b| b.is_ascii_digit()) {
        if token.len() > 4 {
            return None;
        }
        fields.numbers.push((token.parse().ok()?, token.len()));
        return Some(());
    }
    if token.contains('-') && fields.month.is_none() {
        // `4-Dec-2026`.
        for part in token.split('-') {
            read_token(part, fields)?;
        }
        return Some(());
    }
    if let Some(month) = month_number(token) {
        fields.month.get_or_insert(month);
        return Some(());
    }
    if is_weekday(token) {
        return Some(());
    }
    if let Some(offset) = zone_name_offset(token) {
        fields
            .zone
            .get_or_insert(FixedOffset::east_opt(offset * 3600)?);
        return Some(());
    }
    // An unknown zone name such as `CEST`: treated as no zone.
    token.bytes().all(|b| b.is_ascii_alphabetic()).then_some(())
}

/// Splits `19:33:00+0900` into the time and an attached zone.
fn split_attached_zone(token: &str) -> (&str, Option<&str>) {
    match token.find(['+', '-']) {
        Some(at) => (&token[..at], Some(&token[at..])),
        None => (token, None),
    }
}

fn parse_time(text: &str) -> Option<NaiveTime> {
    let mut parts = text.split(':');
    let hour: u32 = parts.next()?.parse().ok()?;
    let minute: u32 = parts.next()?.parse().ok()?;
    let second: u32 = match parts.next() {
        Some(second) => second.split('.').next()?.parse().ok()?,
        None => 0,
    };
    if parts.next().is_some() {
        return None;
    }
    // A leap second (60) is read as 59.
    NaiveTime::from_hms_opt(hour, minute, second.min(59))
}

fn parse_numeric_zone(text: &str) -> Option<FixedOffset> {
    let sign = if text.starts_with('-') { -1 } else { 1 };
    let digits: String = text[1..].chars().filter(|&c| c != ':').collect();
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = digits[2..].parse().ok()?;
    if minutes >= 60 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

fn full_year(year: u32, digits: usize) -> i32 {
    let year = year as i32;
    match digits {
        1 | 2 if year < 50 => 2000 + year,
        1..=3 => 1900 + year,
        _ => year,
    }
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

fn month_number(token: &str) -> Option<u32> {
    let lower = token.to_ascii_lowercase();
    let prefix = lower.get(..3)?;
    let index = MONTHS.iter().position(|&month| month == prefix)?;
    let full = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    (lower.len() == 3 || full[index].starts_with(&lower) || lower == "sept")
        .then_some(index as u32 + 1)
}

fn is_weekday(token: &str) -> bool {
    let lower = token.to_ascii_lowercase();
    let days = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    lower.len() >= 3 && days.iter().any(|day| day.starts_with(&lower))
}

/// Returns the offset in hours of a zone name: the obsolete RFC 5322 names,
/// military letters (RFC 5322 says to read them as `-0000`, which is UTC),
/// and `JST`, which Japanese systems write in place of `+0900`.
fn zone_name_offset(token: &str) -> Option<i32> {
    let offset = match token.to_ascii_uppercase().as_str() {
        "UT" | "UTC" | "GMT" | "Z" => 0,
        "EST" => -5,
        "EDT" => -4,
        "CST" => -6,
        "CDT" => -5,
        "MST" => -7,
        "MDT" => -6,
        "PST" => -8,
        "PDT" => -7,
        "JST" => 9,
        military if military.len() == 1 && military != "J" => 0,
        _ => return None,
    };
    Some(offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(raw: &str) -> Option<String> {
        let date = parse_date(raw.as_bytes())?;
        date.zone?;
        Some(date.to_utc(FixedOffset::east_opt(0).unwrap()).to_rfc3339())
    }

    fn local(raw: &str) -> Option<String> {
        let date = parse_date(raw.as_bytes())?;
        assert_eq!(date.zone, None, "{raw}");
        Some(date.local.to_string())
    }

    #[test]
    fn standard_forms() {
        let expected = Some("2026-12-04T10:33:00+00:00".to_owned());
        assert_eq!(utc("Fri, 04 Dec 2026 19:33:00 +0900"), expected);
        assert_eq!(utc("Fri, 4 Dec 26 19:33:00 +0900"), expected);
        assert_eq!(utc("4 Dec 2026 19:33:00 +0900 (JST)"), expected);
        assert_eq!(
            utc(" Fri,\r\n 4 Dec 2026 19:33 +0900"),
            Some("2026-12-04T10:33:00+00:00".to_owned())
        );
        assert_eq!(utc("Friday, 4 December 2026 19:33:00 +0900"), expected);
        assert_eq!(utc("4-Dec-2026 19:33:00 +0900"), expected);
        assert_eq!(utc("2026-12-04T19:33:00+09:00"), expected);
    }

    #[test]
    fn years() {
        assert_eq!(
            utc("1 Jan 49 00:00:00 +0000"),
            Some("2049-01-01T00:00:00+00:00".to_owned())
        );
        assert_eq!(
            utc("1 Jan 50 00:00:00 +0000"),
            Some("1950-01-01T00:00:00+00:00".to_owned())
        );
        assert_eq!(
            utc("1 Jan 126 00:00:00 +0000"),
            Some("2026-01-01T00:00:00+00:00".to_owned())
        );
    }

    #[test]
    fn obsolete_zones() {
        assert_eq!(
            utc("4 Dec 2026 05:33:00 EST"),
            Some("2026-12-04T10:33:00+00:00".to_owned())
        );
        assert_eq!(
            utc("4 Dec 2026 03:33:00 PDT"),
            Some("2026-12-04T10:33:00+00:00".to_owned())
        );
        assert_eq!(
            utc("4 Dec 2026 10:33:00 GMT"),
            Some("2026-12-04T10:33:00+00:00".to_owned())
        );
        assert_eq!(
            utc("4 Dec 2026 10:33:00 UT"),
            Some("2026-12-04T10:33:00+00:00".to_owned())
        );
        assert_eq!(
            utc("4 Dec 2026 10:33:00 -0000"),
            Some("2026-12-04T10:33:00+00:00".to_owned())
        );
        assert_eq!(
            utc("4 Dec 2026 10:33:00 Z"),
            Some("2026-12-04T10:33:00+00:00".to_owned())
        );
        assert_eq!(
            utc("4 Dec 2026 10:33:00 A"),
            Some("2026-12-04T10:33:00+00:00".to_owned())
        );
        assert_eq!(
            utc("4 Dec 2026 19:33:00 JST"),
            Some("2026-12-04T10:33:00+00:00".to_owned())
        );
    }

    #[test]
    fn zone_less_forms() {
        assert_eq!(
            local("Fri Dec  4 19:33:00 2026"),
            Some("2026-12-04 19:33:00".to_owned())
        );
        assert_eq!(
            local("4 Dec 2026 19:33:00"),
            Some("2026-12-04 19:33:00".to_owned())
        );
        assert_eq!(
            local("4 Dec 2026 19:33:00 CEST"),
            Some("2026-12-04 19:33:00".to_owned())
        );
    }

    #[test]
    fn garbage_is_rejected() {
        for raw in [
            "",
            " \r\n <HR>",
            "yesterday",
            "31 Feb 2026 10:00:00 +0000",
            "4 Dec 2026 25:00:00 +0000",
            "4 Dec 2026",
            "1 2 3 4 5",
        ] {
            assert_eq!(parse_date(raw.as_bytes()), None, "{raw}");
        }
    }

    #[test]
    fn received_date() {
        let raw = b"from a by b with ESMTP id 1;\r\n\tFri, 04 Dec 2026 19:33:05 +0900 (JST)";
        let date = parse_received_date(raw).unwrap();
        assert_eq!(
            date.to_utc(FixedOffset::east_opt(0).unwrap()).to_rfc3339(),
            "2026-12-04T10:33:05+00:00"
        );
    }
}
