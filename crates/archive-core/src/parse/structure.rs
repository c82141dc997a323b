//! The MIME tree, as `mail-parser` 0.11.9 builds it, with two guards.
//!
//! - A multipart nested in another whose closing boundary is missing makes
//!   `mail-parser` read the rest of the message, later parts of the outer
//!   multipart included, as the content of the inner part that runs to the
//!   end. The tree is repaired by parsing a copy of the message with the
//!   missing closing delimiters inserted where the outer delimiter shows up.
//!   The copy differs only between parts, so every part's content is the
//!   same bytes as in the original.
//! - `mail-parser` nests a `Message` value for every unencoded
//!   `message/rfc822` part, and dropping a deeply nested chain recursively
//!   overflows the stack. The tree is dropped iteratively.

use std::borrow::Cow;
use std::sync::LazyLock;

use mail_parser::{HeaderName, Message, MessageParser, MessagePart, PartType};
use memchr::memmem;

use super::flags::Flags;
use crate::ParseFlag;

/// Multipart nesting deeper than this is not followed: the inner parts are
/// kept as attachments and the message is flagged `NestingTooDeep`.
pub(crate) const MAX_DEPTH: usize = 32;

/// Repairs made to one message at most. Each inserts the missing closing
/// delimiters of one nested multipart.
const MAX_REPAIRS: usize = 8;

static PARSER: LazyLock<MessageParser> = LazyLock::new(|| {
    MessageParser::new()
        .with_mime_headers()
        .default_header_ignore()
});

/// Parses the MIME tree of `raw` and calls `visit` with the bytes the part
/// offsets refer to and the tree. Returns `None` when `raw` has no header
/// block at all.
pub(crate) fn with_tree<R>(
    raw: &[u8],
    flags: &mut Flags,
    visit: impl FnOnce(&[u8], &Message<'_>, &mut Flags) -> R,
) -> Option<R> {
    let mut buffer: Cow<'_, [u8]> = Cow::Borrowed(raw);
    let mut repairs = 0;
    loop {
        let message = PARSER.parse(&buffer[..])?;
        let repair = if repairs < MAX_REPAIRS {
            find_repair(&buffer, &message)
        } else {
            None
        };
        match repair {
            None => {
                let result = visit(&buffer, &message, flags);
                drop_iteratively(message);
                return Some(result);
            }
            Some((offset, insertion)) => {
                drop_iteratively(message);
                flags.add(ParseFlag::MissingClosingBoundary);
                let mut repaired = Vec::with_capacity(buffer.len() + insertion.len());
                repaired.extend_from_slice(&buffer[..offset]);
                repaired.extend_from_slice(&insertion);
                repaired.extend_from_slice(&buffer[offset..]);
                buffer = Cow::Owned(repaired);
                repairs += 1;
            }
        }
    }
}

/// Returns the boundary that `mail-parser` used for a multipart part.
pub(crate) fn boundary_of<'a>(part: &'a MessagePart<'_>) -> Option<&'a str> {
    part.headers
        .iter()
        .find(|header| header.name == HeaderName::ContentType)
        .and_then(|header| header.value.as_content_type())
        .and_then(|content_type| content_type.attribute("boundary"))
}

/// Returns true when the closing delimiter `--boundary--` of a multipart
/// part appears after its body start.
pub(crate) fn has_closing_delimiter(buffer: &[u8], part: &MessagePart<'_>, boundary: &str) -> bool {
    let start = (part.offset_body as usize).min(buffer.len());
    let end = (part.offset_end as usize)
        .saturating_add(boundary.len() + 4)
        .min(buffer.len())
        .max(start);
    let closing = [b"--", boundary.as_bytes(), b"--"].concat();
    memmem::find(&buffer[start..end], &closing).is_some()
}

/// Returns the bytes of a part's content, before transfer decoding.
pub(crate) fn part_content<'a>(buffer: &'a [u8], part: &MessagePart<'_>) -> &'a [u8] {
    let end = (part.offset_end as usize).min(buffer.len());
    let start = (part.offset_body as usize).min(end);
    &buffer[start..end]
}

/// Finds a part that runs to the end of the message although an outer
/// delimiter appears in it. Returns where to insert the missing closing
/// delimiters, and the bytes to insert.
fn find_repair(buffer: &[u8], message: &Message<'_>) -> Option<(usize, Vec<u8>)> {
    let mut stack: Vec<(u32, Vec<&str>)> = vec![(0, Vec::new())];

    while let Some((id, boundaries)) = stack.pop() {
        let part = message.parts.get(id as usize)?;
        if let PartType::Multipart(children) = &part.body {
            let Some(boundary) = boundary_of(part) else {
                continue;
            };
            if boundaries.len() >= MAX_DEPTH {
                continue;
            }
            let mut inner = boundaries.clone();
            inner.push(boundary);
            stack.extend(
                children
                    .iter()
                    .filter(|&&child| child > id)
                    .map(|&child| (child, inner.clone())),
            );
        } else if part.is_encoding_problem
            && part.offset_end as usize >= buffer.len()
            && boundaries.len() >= 2
            && let Some(repair) = closing_repair(buffer, part, &boundaries)
        {
            return Some(repair);
        }
    }
    None
}

/// For a part inside the multiparts with `boundaries` (outermost first):
/// finds the first delimiter line of an outer multipart in its content, and
/// builds the closing delimiters of every multipart inside that one.
fn closing_repair(
    buffer: &[u8],
    part: &MessagePart<'_>,
    boundaries: &[&str],
) -> Option<(usize, Vec<u8>)> {
    let start = (part.offset_body as usize).min(buffer.len());
    let content = &buffer[start..];

    let (line_break, outer) = boundaries[..boundaries.len() - 1]
        .iter()
        .enumerate()
        .filter_map(|(index, boundary)| Some((find_delimiter_line(content, boundary)?, index)))
        .min()?;

    let mut offset = start + line_break;
    if offset > start && buffer[offset - 1] == b'\r' {
        offset -= 1;
    }
    let line_end: &[u8] = if buffer[offset] == b'\r' {
        b"\r\n"
    } else {
        b"\n"
    };
    let mut insertion = Vec::new();
    for boundary in boundaries[outer + 1..].iter().rev() {
        insertion.extend_from_slice(line_end);
        insertion.extend_from_slice(b"--");
        insertion.extend_from_slice(boundary.as_bytes());
        insertion.extend_from_slice(b"--");
    }
    Some((offset, insertion))
}

/// Returns the offset of the line break before the first line of `content`
/// that is a delimiter for `boundary`.
fn find_delimiter_line(content: &[u8], boundary: &str) -> Option<usize> {
    let pattern = [b"\n--", boundary.as_bytes()].concat();
    memmem::find_iter(content, &pattern).find(|&at| {
        let after = content.get(at + pattern.len()).copied();
        matches!(after, None | Some(b'-' | b'\r' | b'\n' | b' ' | b'\t'))
    })
}

/// Drops a parsed tree without recursion, so that a deep chain of nested
/// messages cannot overflow the stack.
fn drop_iteratively(message: Message<'_>) {
    let mut pending = vec![message];
    while let Some(mut message) = pending.pop() {
        for part in &mut message.parts {
            if matches!(part.body, PartType::Message(_))
                && let PartType::Message(nested) =
                    std::mem::replace(&mut part.body, PartType::Multipart(Vec::new()))
            {
                pending.push(nested);
            }
        }
    }
}
