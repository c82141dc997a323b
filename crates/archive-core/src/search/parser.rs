//! Parsing what support staff type into a [`Query`].
//!
//! ```text
//! 山田 発送                      both terms (AND)
//! 注文確認 OR 発送完了            either term
//! 発送 -キャンセル               the first term and not the second
//! "注文番号 A-2026"              one term that includes the space
//! to:hoge.12 from:shop           terms restricted to a field
//! after:2026-12-01 before:2026-12-05T12:00+09:00 kind:order_confirmation
//! ( a OR b ) c                   parentheses group when they stand alone
//! ```
//!
//! Fields: `from`, `to` (every recipient), `subject`, `body`, `attachment`,
//! `kind`, `order`, `customer`, `meta.KEY`, `message-id`, `has:attachment`,
//! `after`, `before`, `date`. Dates are `YYYY-MM-DD`, `YYYY-MM`,
//! `YYYY-MM-DDTHH:MM[:SS]`, optionally ending in `Z` or `+09:00`; without
//! an offset they are read in the archive's zone (JST by default). `after`
//! is inclusive, `before` exclusive, `date` covers the whole day or month.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};

use super::query::{Query, TextField, TextTerm};

/// Maximum length of a query in characters.
pub const MAX_QUERY_CHARS: usize = 1000;
/// Maximum number of terms in a query.
pub const MAX_QUERY_TERMS: usize = 32;

/// The error for a query that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid query at character {position}: {message}")]
pub struct QueryError {
    /// Character offset (0-based) where the problem was found.
    pub position: usize,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// Parses a query, reading dates without an offset in `zone`.
pub fn parse_query(text: &str, zone: FixedOffset) -> Result<Query, QueryError> {
    let length = text.chars().count();
    if length > MAX_QUERY_CHARS {
        return Err(QueryError {
            position: MAX_QUERY_CHARS,
            message: format!(
                "the query is {length} characters long; the maximum is {MAX_QUERY_CHARS}"
            ),
        });
    }
    let tokens = tokenize(text)?;
    if tokens.is_empty() {
        return Err(QueryError {
            position: 0,
            message: "the query is empty; type words to search for".into(),
        });
    }
    let terms = tokens
        .iter()
        .filter(|t| matches!(t.kind, TokenKind::Word(_) | TokenKind::Quoted(_)))
        .count();
    if terms > MAX_QUERY_TERMS {
        return Err(QueryError {
            position: 0,
            message: format!("the query has {terms} terms; the maximum is {MAX_QUERY_TERMS}"),
        });
    }

    let mut parser = Parser {
        tokens,
        next: 0,
        zone,
        end: length,
    };
    let query = parser.or_expression()?;
    if let Some(token) = parser.peek() {
        return Err(QueryError {
            position: token.position,
            message: "unexpected ')': there is no '(' to close".into(),
        });
    }
    Ok(query)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum TokenKind {
    Word(String),
    Quoted(String),
    Open,
    Close,
    Or,
}

#[derive(Debug, Clone)]
struct Token {
    kind: TokenKind,
    /// Character offset of the token's start.
    position: usize,
}

/// Splits the query at white space, keeping quoted text together.
fn tokenize(text: &str) -> Result<Vec<Token>, QueryError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut at = 0;
    while at < chars.len() {
        if chars[at].is_whitespace() {
            at += 1;
            continue;
        }
        let start = at;
        let mut word = String::new();
        let literal = chars[at] == '"';
        while at < chars.len() && !chars[at].is_whitespace() {
            if chars[at] == '"' {
                let close = chars[at + 1..]
                    .iter()
                    .position(|&c| c == '"')
                    .ok_or(QueryError {
                        position: at,
                        message: "this quote is never closed; add a closing '\"'".into(),
                    })?;
                let inside: String = chars[at + 1..at + 1 + close].iter().collect();
                word.push_str(&inside);
                at += close + 2;
            } else {
                word.push(chars[at]);
                at += 1;
            }
        }
        // A token that starts with a quote is literal text; a quote after
        // `field:` quotes the field's value.
        let kind = match word.as_str() {
            _ if literal => TokenKind::Quoted(word),
            "(" => TokenKind::Open,
            ")" => TokenKind::Close,
            "OR" => TokenKind::Or,
            _ => TokenKind::Word(word),
        };
        tokens.push(Token {
            kind,
            position: start,
        });
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    next: usize,
    zone: FixedOffset,
    /// Character length of the query, for errors at its end.
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next)
    }

    fn or_expression(&mut self) -> Result<Query, QueryError> {
        let mut alternatives = vec![self.and_expression()?];
        while self.peek().is_some_and(|t| t.kind == TokenKind::Or) {
            self.next += 1;
            alternatives.push(self.and_expression()?);
        }
        Ok(if alternatives.len() == 1 {
            alternatives.pop().expect("one alternative")
        } else {
            Query::Or(alternatives)
        })
    }

    fn and_expression(&mut self) -> Result<Query, QueryError> {
        let mut parts = Vec::new();
        while let Some(token) = self.peek() {
            if matches!(token.kind, TokenKind::Or | TokenKind::Close) {
                break;
            }
            parts.push(self.unary()?);
        }
        match parts.len() {
            0 => Err(self.expected_term()),
            1 => Ok(parts.pop().expect("one part")),
            _ => Ok(Query::And(parts)),
        }
    }

    fn expected_term(&self) -> QueryError {
        match self.peek() {
            Some(token) if token.kind == TokenKind::Or => QueryError {
                position: token.position,
                message: "'OR' needs a term on both sides".into(),
            },
            Some(token) => QueryError {
                position: token.position,
                message: "expected a term before ')'".into(),
            },
            None => QueryError {
                position: self.end,
                message: "expected a term at the end of the query".into(),
            },
        }
    }

    fn unary(&mut self) -> Result<Query, QueryError> {
        let token = self.tokens[self.next].clone();
        self.next += 1;
        match token.kind {
            TokenKind::Open => {
                let inner = self.or_expression()?;
                match self.peek() {
                    Some(close) if close.kind == TokenKind::Close => {
                        self.next += 1;
                        Ok(inner)
                    }
                    _ => Err(QueryError {
                        position: token.position,
                        message: "this '(' is never closed; add ')' separated by a space".into(),
                    }),
                }
            }
            TokenKind::Quoted(text) => text_query(TextField::Any, &text, token.position),
            TokenKind::Word(word) => match word.strip_prefix('-') {
                Some("") => Err(QueryError {
                    position: token.position,
                    message: "'-' must be followed by the term to exclude, as in -キャンセル"
                        .into(),
                }),
                Some(rest) => {
                    let negated = self.term(rest, token.position + 1)?;
                    Ok(Query::Not(Box::new(negated)))
                }
                None => self.term(&word, token.position),
            },
            TokenKind::Close | TokenKind::Or => unreachable!("and_expression stops at these"),
        }
    }

    /// Parses a word: `field:value` or a plain term.
    fn term(&self, word: &str, position: usize) -> Result<Query, QueryError> {
        let Some((name, value)) = split_field(word) else {
            return text_query(TextField::Any, word, position);
        };
        let value_position = position + name.chars().count() + 1;
        if value.is_empty() {
            return Err(QueryError {
                position: value_position,
                message: format!("'{name}:' needs a value, as in {name}:something"),
            });
        }
        field_query(name, value, value_position, self.zone)
    }
}

/// Splits `name:value` when `name` looks like a field name.
fn split_field(word: &str) -> Option<(&str, &str)> {
    let (name, value) = word.split_once(':')?;
    let mut chars = name.chars();
    let first = chars.next()?;
    let valid = first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    valid.then_some((name, value))
}

fn text_query(field: TextField, text: &str, position: usize) -> Result<Query, QueryError> {
    let term = TextTerm::new(field, text);
    if term.normalized().is_empty() {
        return Err(QueryError {
            position,
            message: "this term is empty; type at least one character".into(),
        });
    }
    Ok(Query::Text(term))
}

const FIELD_NAMES: &str = "from, to, subject, body, attachment, kind, order, customer, meta.KEY, message-id, has:attachment, after, before, date";

fn field_query(
    name: &str,
    value: &str,
    position: usize,
    zone: FixedOffset,
) -> Result<Query, QueryError> {
    let lower = name.to_ascii_lowercase();
    let field = match lower.as_str() {
        "from" => TextField::From,
        "to" => TextField::To,
        "subject" => TextField::Subject,
        "body" => TextField::Body,
        "attachment" => TextField::Attachment,
        "order" => TextField::Order,
        "customer" => TextField::Customer,
        "message-id" | "messageid" => TextField::MessageId,
        "kind" => return Ok(Query::Kind(value.to_owned())),
        "has" if value.eq_ignore_ascii_case("attachment") => return Ok(Query::HasAttachment),
        "has" => {
            return Err(QueryError {
                position,
                message: format!("has:{value} is not supported; use has:attachment"),
            });
        }
        "after" | "before" | "date" => return date_query(&lower, value, position, zone),
        _ => match lower.strip_prefix("meta.") {
            Some(key) if !key.is_empty() => TextField::Meta(key.to_owned()),
            _ => {
                return Err(QueryError {
                    position: position.saturating_sub(name.chars().count() + 1),
                    message: format!(
                        "unknown field '{name}'; use one of {FIELD_NAMES}, or put the text in quotes"
                    ),
                });
            }
        },
    };
    let value = match field {
        TextField::MessageId => value.trim_start_matches('<').trim_end_matches('>'),
        _ => value,
    };
    text_query(field, value, position)
}

fn date_query(
    name: &str,
    value: &str,
    position: usize,
    zone: FixedOffset,
) -> Result<Query, QueryError> {
    let (start, end) = parse_date_span(value, zone).ok_or_else(|| QueryError {
        position,
        message: format!(
            "invalid date '{value}'; use YYYY-MM-DD, YYYY-MM or YYYY-MM-DDTHH:MM, optionally with Z or an offset such as +09:00"
        ),
    })?;
    Ok(match name {
        "after" => Query::Date {
            start: Some(start),
            end: None,
        },
        "before" => Query::Date {
            start: None,
            end: Some(start),
        },
        _ => Query::Date {
            start: Some(start),
            end: Some(end),
        },
    })
}

/// Reads a date, month or time and returns the span it names: the start
/// and the end (exclusive). It accepts RFC 3339, `YYYY-MM-DD`, `YYYY-MM`
/// and `YYYY-MM-DDTHH:MM[:SS]` with an optional `Z` or offset such as
/// `+09:00`, and `/` in place of `-`. Text without an offset is read in
/// `zone`. Returns `None` for anything else.
pub fn parse_date_span(value: &str, zone: FixedOffset) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let value = value.replace('/', "-");
    if let Ok(with_offset) = DateTime::parse_from_rfc3339(&value) {
        let start = with_offset.to_utc();
        return Some((start, start + chrono::Duration::seconds(1)));
    }
    let (local, offset) = split_offset(&value, zone)?;
    for format in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"] {
        if let Ok(time) = NaiveDateTime::parse_from_str(local, format) {
            let start = offset.from_local_datetime(&time).single()?.to_utc();
            let step = if format.ends_with("%S") { 1 } else { 60 };
            return Some((start, start + chrono::Duration::seconds(step)));
        }
    }
    if let Ok(day) = NaiveDate::parse_from_str(local, "%Y-%m-%d") {
        let start = offset
            .from_local_datetime(&day.and_hms_opt(0, 0, 0)?)
            .single()?;
        return Some((start.to_utc(), (start + chrono::Duration::days(1)).to_utc()));
    }
    let first = NaiveDate::parse_from_str(&format!("{local}-01"), "%Y-%m-%d").ok()?;
    let next = first.checked_add_months(chrono::Months::new(1))?;
    let start = offset
        .from_local_datetime(&first.and_hms_opt(0, 0, 0)?)
        .single()?;
    let end = offset
        .from_local_datetime(&next.and_hms_opt(0, 0, 0)?)
        .single()?;
    Some((start.to_utc(), end.to_utc()))
}

/// Splits a trailing `Z` or `±HH:MM` from a local date or time.
fn split_offset(value: &str, zone: FixedOffset) -> Option<(&str, FixedOffset)> {
    if let Some(local) = value.strip_suffix(['Z', 'z']) {
        return Some((local, FixedOffset::east_opt(0)?));
    }
    if let Some(time_start) = value.find('T') {
        let time = &value[time_start..];
        if let Some(sign_at) = time.rfind(['+', '-']) {
            let (local, offset) = value.split_at(time_start + sign_at);
            let sign = if offset.starts_with('-') { -1 } else { 1 };
            let (hours, minutes) = offset[1..].split_once(':').unwrap_or((&offset[1..], "0"));
            let seconds =
                sign * (hours.parse::<i32>().ok()? * 3600 + minutes.parse::<i32>().ok()? * 60);
            return Some((local, FixedOffset::east_opt(seconds)?));
        }
    }
    Some((value, zone))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jst() -> FixedOffset {
        FixedOffset::east_opt(9 * 3600).unwrap()
    }

    fn parse(text: &str) -> Query {
        parse_query(text, jst()).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    fn error(text: &str) -> QueryError {
        parse_query(text, jst()).expect_err(text)
    }

    fn any(text: &str) -> Query {
        Query::Text(TextTerm::new(TextField::Any, text))
    }

    fn utc(text: &str) -> Option<DateTime<Utc>> {
        Some(DateTime::parse_from_rfc3339(text).unwrap().to_utc())
    }

    #[test]
    fn terms_combine_with_and_or_and_not() {
        assert_eq!(parse("発送"), any("発送"));
        assert_eq!(
            parse("山田 発送"),
            Query::And(vec![any("山田"), any("発送")])
        );
        assert_eq!(
            parse("a OR b c"),
            Query::Or(vec![any("a"), Query::And(vec![any("b"), any("c")])])
        );
        assert_eq!(
            parse("発送 -キャンセル"),
            Query::And(vec![any("発送"), Query::Not(Box::new(any("キャンセル")))])
        );
        assert_eq!(
            parse("( a OR b ) c"),
            Query::And(vec![Query::Or(vec![any("a"), any("b")]), any("c")])
        );
        assert_eq!(
            parse("a or b"),
            Query::And(vec![any("a"), any("or"), any("b")]),
            "only upper-case OR is an operator"
        );
    }

    #[test]
    fn quotes_and_parentheses_inside_words_are_text() {
        assert_eq!(parse("\"注文番号 A-2026\""), any("注文番号 A-2026"));
        assert_eq!(parse("(株)サンプル"), any("(株)サンプル"));
        assert_eq!(parse("12:30"), any("12:30"));
        assert_eq!(
            parse("\"http://example.com/x\""),
            any("http://example.com/x")
        );
        assert_eq!(
            parse("!!!"),
            any("!!!"),
            "punctuation is a term like any other"
        );
    }

    #[test]
    fn fields_restrict_terms() {
        assert_eq!(
            parse("to:hoge.12"),
            Query::Text(TextTerm::new(TextField::To, "hoge.12"))
        );
        assert_eq!(
            parse("TO:\"hoge 12\""),
            Query::Text(TextTerm::new(TextField::To, "hoge 12"))
        );
        assert_eq!(
            parse("from:shop"),
            Query::Text(TextTerm::new(TextField::From, "shop"))
        );
        assert_eq!(
            parse("message-id:<a@b>"),
            Query::Text(TextTerm::new(TextField::MessageId, "a@b"))
        );
        assert_eq!(
            parse("meta.Template:welcome"),
            Query::Text(TextTerm::new(TextField::Meta("template".into()), "welcome"))
        );
        assert_eq!(
            parse("kind:order_confirmation"),
            Query::Kind("order_confirmation".into())
        );
        assert_eq!(parse("has:attachment"), Query::HasAttachment);
        assert_eq!(
            parse("-to:x"),
            Query::Not(Box::new(Query::Text(TextTerm::new(TextField::To, "x"))))
        );
    }

    #[test]
    fn dates_default_to_the_zone() {
        assert_eq!(
            parse("after:2026-12-04"),
            Query::Date {
                start: utc("2026-12-03T15:00:00Z"),
                end: None
            }
        );
        assert_eq!(
            parse("before:2026/12/05"),
            Query::Date {
                start: None,
                end: utc("2026-12-04T15:00:00Z")
            }
        );
        assert_eq!(
            parse("before:2026-12-05T12:00+09:00"),
            Query::Date {
                start: None,
                end: utc("2026-12-05T03:00:00Z")
            }
        );
        assert_eq!(
            parse("after:2026-12-05T12:00Z"),
            Query::Date {
                start: utc("2026-12-05T12:00:00Z"),
                end: None
            }
        );
        assert_eq!(
            parse("date:2026-12"),
            Query::Date {
                start: utc("2026-11-30T15:00:00Z"),
                end: utc("2026-12-31T15:00:00Z")
            }
        );
        assert_eq!(
            parse("date:2026-12-04"),
            Query::Date {
                start: utc("2026-12-03T15:00:00Z"),
                end: utc("2026-12-04T15:00:00Z")
            }
        );
    }

    #[test]
    fn bad_queries_say_where_and_why() {
        let quote = error("発送 \"未完");
        assert_eq!(quote.position, 3);
        assert!(quote.message.contains("never closed"), "{quote}");

        let field = error("foo:bar");
        assert_eq!(field.position, 0);
        assert!(field.message.contains("unknown field 'foo'"), "{field}");

        assert!(error("").message.contains("empty"));
        assert!(error("   \u{3000} ").message.contains("empty"));
        assert!(error("-").message.contains("followed by the term"));
        assert!(error("OR").message.contains("both sides"));
        assert!(error("a OR").message.contains("end of the query"));
        assert!(error("( a").message.contains("never closed"));
        assert!(error("a )").message.contains("no '('"));
        assert!(
            error("after:yesterday")
                .message
                .contains("invalid date 'yesterday'")
        );
        assert!(error("has:pdf").message.contains("has:attachment"));
        assert!(error("to:").message.contains("needs a value"));

        let long = error(&"あ".repeat(10_240));
        assert!(long.message.contains("10240 characters"), "{long}");
        let many = error(&"a ".repeat(40));
        assert!(many.message.contains("40 terms"), "{many}");
    }
}
