//! Finding the messages in the paths given to `sentmail import`.
//!
//! A path may be an `.eml` file, an mbox file, a Maildir or any directory,
//! which is walked recursively. Files are classified by content: a file
//! starting with `From ` is an mbox, anything else one message. In a
//! Maildir the `tmp` directory (deliveries in progress) is skipped.

use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};

use super::mbox::MboxReader;

/// Where a message came from: a file, and an offset for mbox entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file.
    pub path: PathBuf,
    /// Byte offset of the entry's `From ` line, for mbox files.
    pub offset: Option<u64>,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offset {
            Some(offset) => write!(f, "{} at offset {offset}", self.path.display()),
            None => write!(f, "{}", self.path.display()),
        }
    }
}

/// One message found, or one input that could not be read as a message.
#[derive(Debug)]
pub enum Item {
    /// A message to record.
    Message {
        /// Its source.
        origin: Origin,
        /// The raw bytes.
        raw: Vec<u8>,
        /// The mbox separator's timestamp, when there is one.
        received_at: Option<DateTime<Utc>>,
    },
    /// An input that yields no message, with the reason.
    Failure {
        /// Its source.
        origin: Origin,
        /// Why it was not imported.
        reason: String,
    },
}

/// The files to read, found by walking the paths given.
#[derive(Debug, Default)]
pub struct Plan {
    /// Regular files, in walk order.
    pub files: Vec<PathBuf>,
    /// Total size of those files in bytes.
    pub total_bytes: u64,
    /// Paths that could not be walked, with the reason.
    pub failures: Vec<(PathBuf, String)>,
}

/// Walks `paths` and lists every file to import, sorted by name within each
/// directory. Hidden files inside directories are skipped.
pub fn plan(paths: &[PathBuf]) -> Plan {
    let mut plan = Plan::default();
    for path in paths {
        let walker = walkdir::WalkDir::new(path)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|entry| entry.depth() == 0 || !skipped(entry.path()));
        for entry in walker {
            match entry {
                Ok(entry) if entry.file_type().is_file() => {
                    plan.total_bytes += entry.metadata().map_or(0, |meta| meta.len());
                    plan.files.push(entry.into_path());
                }
                Ok(_) => {}
                Err(error) => {
                    let failed = error.path().unwrap_or(path).to_owned();
                    plan.failures.push((failed, walk_reason(&error)));
                }
            }
        }
    }
    plan
}

fn walk_reason(error: &walkdir::Error) -> String {
    match error.io_error() {
        Some(io) if io.kind() == std::io::ErrorKind::NotFound => {
            "path not found; check the spelling".to_owned()
        }
        Some(io) => format!("cannot read: {io}"),
        None => error.to_string(),
    }
}

/// Hidden files, and the `tmp` directory of a Maildir.
fn skipped(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
        return false;
    };
    if name.starts_with('.') && path.is_file() {
        return true;
    }
    name == "tmp" && path.parent().is_some_and(is_maildir)
}

fn is_maildir(dir: &Path) -> bool {
    ["cur", "new", "tmp"]
        .iter()
        .all(|sub| dir.join(sub).is_dir())
}

/// Reads every file of `plan` and hands each message or failure to `send`,
/// which returns false to stop. `progress` counts the bytes read.
pub fn read_all(
    plan: &Plan,
    max_len: u64,
    zone: FixedOffset,
    progress: &Arc<AtomicU64>,
    mut send: impl FnMut(Item) -> bool,
) {
    for (path, reason) in &plan.failures {
        let origin = Origin {
            path: path.clone(),
            offset: None,
        };
        let reason = reason.clone();
        if !send(Item::Failure { origin, reason }) {
            return;
        }
    }
    for path in &plan.files {
        if !read_file(path, max_len, zone, progress, &mut send) {
            return;
        }
    }
}

fn read_file(
    path: &Path,
    max_len: u64,
    zone: FixedOffset,
    progress: &Arc<AtomicU64>,
    send: &mut impl FnMut(Item) -> bool,
) -> bool {
    let origin = Origin {
        path: path.to_owned(),
        offset: None,
    };
    let fail = |reason: String| Item::Failure {
        origin: origin.clone(),
        reason,
    };
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(error) => return send(fail(format!("cannot open: {error}"))),
    };
    let size = file.metadata().map_or(0, |meta| meta.len());

    let mut head = [0u8; 8];
    let head_len = read_head(&mut file, &mut head);
    let head = &head[..head_len];
    let bom = if head.starts_with(UTF8_BOM) {
        UTF8_BOM.len()
    } else {
        0
    };
    if head[bom..].starts_with(b"From ") {
        // The byte order mark belongs to the file, not to the first message.
        let rest = head[bom..].to_vec();
        let reader = BufReader::with_capacity(1 << 20, std::io::Cursor::new(rest).chain(file));
        let mbox = Mbox {
            path,
            size,
            skipped: bom as u64,
        };
        return read_mbox(&mbox, reader, max_len, zone, progress, send);
    }

    progress.fetch_add(size, Ordering::Relaxed);
    if size > max_len {
        return send(fail(too_large(size, max_len)));
    }
    let mut raw = head.to_vec();
    if let Err(error) = file.read_to_end(&mut raw) {
        return send(fail(format!("read failed: {error}")));
    }
    match check_mail(&raw) {
        Ok(()) => send(Item::Message {
            origin,
            raw,
            received_at: None,
        }),
        Err(reason) => send(fail(reason)),
    }
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

fn read_head(file: &mut File, head: &mut [u8; 8]) -> usize {
    let mut filled = 0;
    while filled < head.len() {
        match file.read(&mut head[filled..]) {
            Ok(0) | Err(_) => break,
            Ok(read) => filled += read,
        }
    }
    filled
}

/// An mbox file being read.
struct Mbox<'a> {
    path: &'a Path,
    /// File size in bytes.
    size: u64,
    /// Bytes before the first `From ` line (a byte order mark).
    skipped: u64,
}

fn read_mbox(
    mbox: &Mbox<'_>,
    reader: impl std::io::BufRead,
    max_len: u64,
    zone: FixedOffset,
    progress: &Arc<AtomicU64>,
    send: &mut impl FnMut(Item) -> bool,
) -> bool {
    let (path, size) = (mbox.path, mbox.size);
    let mut reported = 0;
    for message in MboxReader::new(reader, max_len) {
        let message = match message {
            Ok(message) => message,
            Err(error) => {
                let origin = Origin {
                    path: path.to_owned(),
                    offset: None,
                };
                let reason = format!("read failed after {reported} bytes: {error}");
                return send(Item::Failure { origin, reason });
            }
        };
        let offset = message.offset + mbox.skipped;
        progress.fetch_add(offset - reported, Ordering::Relaxed);
        reported = offset;

        let origin = Origin {
            path: path.to_owned(),
            offset: Some(offset),
        };
        let item = match message.body {
            Err(len) => Item::Failure {
                origin,
                reason: too_large(len, max_len),
            },
            Ok(raw) => match check_mail(&raw) {
                Ok(()) => Item::Message {
                    origin,
                    raw,
                    received_at: separator_date(&message.from_line, zone),
                },
                Err(reason) => Item::Failure { origin, reason },
            },
        };
        if !send(item) {
            return false;
        }
    }
    progress.fetch_add(size.saturating_sub(reported), Ordering::Relaxed);
    true
}

fn too_large(size: u64, max_len: u64) -> String {
    format!(
        "message of {size} bytes exceeds the maximum of {max_len} bytes; raise --max-size to import it"
    )
}

/// Rejects input that is certainly not an e-mail message: an empty or
/// blank file, a file with a known binary signature, or one with NUL bytes
/// near the start that does not begin with a header field. Everything else
/// passes, including text without headers, which is archived and flagged,
/// because nothing that might be mail is dropped.
pub fn check_mail(raw: &[u8]) -> Result<(), String> {
    if raw
        .iter()
        .all(|byte| matches!(byte, b'\r' | b'\n' | b' ' | b'\t'))
    {
        return Err(if raw.is_empty() {
            "file is empty; there is no message to import".to_owned()
        } else {
            "file contains only blank lines; there is no message to import".to_owned()
        });
    }
    if let Some(kind) = file_signature(raw) {
        return Err(format!("not an e-mail message: it is a {kind} file"));
    }
    let head = &raw[..raw.len().min(8192)];
    if head.contains(&0) && !starts_with_header(raw) {
        return Err(
            "not an e-mail message: it is a binary file (it contains NUL bytes and no header)"
                .to_owned(),
        );
    }
    Ok(())
}

/// Returns true if the first non-blank line, after an optional byte order
/// mark, has the form `name:` of a header field.
fn starts_with_header(raw: &[u8]) -> bool {
    let raw = raw.strip_prefix(UTF8_BOM).unwrap_or(raw);
    let start = raw.iter().position(|byte| !matches!(byte, b'\r' | b'\n'));
    let Some(line) = start.map(|start| &raw[start..]) else {
        return false;
    };
    let name_len = line
        .iter()
        .position(|&byte| !(33..=126).contains(&byte) || byte == b':')
        .unwrap_or(line.len());
    let after_name = line[name_len..]
        .iter()
        .find(|&&byte| byte != b' ' && byte != b'\t');
    name_len > 0 && after_name == Some(&b':')
}

/// Names the file type of common binary formats by their first bytes.
fn file_signature(raw: &[u8]) -> Option<&'static str> {
    const SIGNATURES: &[(&[u8], &str)] = &[
        (b"%PDF-", "PDF"),
        (b"\x89PNG\r\n\x1a\n", "PNG"),
        (b"\xFF\xD8\xFF", "JPEG"),
        (b"GIF87a", "GIF"),
        (b"GIF89a", "GIF"),
        (b"PK\x03\x04", "ZIP"),
        (b"\x1F\x8B", "gzip"),
        (b"\x7FELF", "ELF executable"),
        (b"7z\xBC\xAF\x27\x1C", "7-Zip"),
        (b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", "Microsoft Office"),
    ];
    SIGNATURES
        .iter()
        .find(|(magic, _)| raw.starts_with(magic))
        .map(|(_, kind)| *kind)
}

/// Reads the timestamp of an mbox separator such as
/// `From sender@example.com Fri Dec  4 19:20:05 2026`, in `zone`.
fn separator_date(from_line: &[u8], zone: FixedOffset) -> Option<DateTime<Utc>> {
    let text = std::str::from_utf8(from_line).ok()?;
    let mut words = text.split_whitespace().skip(2);
    let stamp: Vec<&str> = words.by_ref().take(5).collect();
    if stamp.len() != 5 {
        return None;
    }
    let stamp = stamp.join(" ");
    let local = NaiveDateTime::parse_from_str(&stamp, "%a %b %e %H:%M:%S %Y").ok()?;
    Some(local.and_local_timezone(zone).single()?.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_check_accepts_text_and_rejects_binary() {
        assert!(check_mail(b"Subject: x\r\n\r\nbody").is_ok());
        assert!(check_mail(b"\r\nX-Odd-Header : spaced\r\n").is_ok());
        assert!(check_mail("\u{feff}From: a@example.com\r\n".as_bytes()).is_ok());
        assert!(
            check_mail(b"just some text without headers\n").is_ok(),
            "kept and flagged"
        );

        let empty = check_mail(b"").unwrap_err();
        assert!(empty.contains("empty"), "{empty}");
        let blank = check_mail(b"\n\n  \n").unwrap_err();
        assert!(blank.contains("blank"), "{blank}");
        let png = check_mail(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap_err();
        assert_eq!(png, "not an e-mail message: it is a PNG file");
        let pdf = check_mail(b"%PDF-1.4\n%stuff").unwrap_err();
        assert_eq!(pdf, "not an e-mail message: it is a PDF file");
        let binary = check_mail(b"abc\0def").unwrap_err();
        assert!(binary.contains("NUL bytes"), "{binary}");
        assert!(
            check_mail(b"Subject: x\r\n\r\nnul \0 in body").is_ok(),
            "mail with NUL bytes"
        );
    }

    #[test]
    fn separator_dates_use_the_zone() {
        let jst = FixedOffset::east_opt(9 * 3600).unwrap();
        let date = separator_date(b"From shop@example.jp Fri Dec  4 19:20:05 2026", jst).unwrap();
        assert_eq!(date.to_rfc3339(), "2026-12-04T10:20:05+00:00");
        assert_eq!(separator_date(b"From shop@example.jp", jst), None);
        assert_eq!(separator_date(b"From x garbage words here now", jst), None);
    }
}
