//! A streaming mbox reader: one message at a time, in bounded memory.
//!
//! Messages start at lines beginning with `From ` that open the file or
//! follow a blank line. Lines quoted as `>From `, `>>From ` and so on lose
//! one `>` (the mboxrd rule, which also reads mboxo files correctly for
//! every line that was quoted). The blank line that separates a message
//! from the next `From ` line belongs to the separator, not the message.

use std::io::{self, BufRead};

/// One message read from an mbox, or the reason it was skipped.
#[derive(Debug)]
pub struct MboxMessage {
    /// Byte offset of the message's `From ` line in the file.
    pub offset: u64,
    /// The `From ` separator line without its line end.
    pub from_line: Vec<u8>,
    /// The message bytes, or its size if it exceeded the maximum and was
    /// skipped.
    pub body: Result<Vec<u8>, u64>,
}

/// Splits an mbox stream into messages.
pub struct MboxReader<R> {
    input: R,
    max_len: u64,
    offset: u64,
    line: Vec<u8>,
    /// The separator line that starts the next message, with its offset.
    next_start: Option<(u64, Vec<u8>)>,
    finished: bool,
}

impl<R: BufRead> MboxReader<R> {
    /// Reads `input`, which must start with a `From ` line. Messages longer
    /// than `max_len` bytes are skipped and reported with their size.
    pub fn new(input: R, max_len: u64) -> MboxReader<R> {
        MboxReader {
            input,
            max_len,
            offset: 0,
            line: Vec::with_capacity(1024),
            next_start: None,
            finished: false,
        }
    }

    /// Reads one line into `self.line`; returns false at end of input.
    fn read_line(&mut self) -> io::Result<bool> {
        self.line.clear();
        let read = self.input.read_until(b'\n', &mut self.line)?;
        self.offset += read as u64;
        Ok(read > 0)
    }

    fn read_message(&mut self, offset: u64, from_line: Vec<u8>) -> io::Result<MboxMessage> {
        let mut body = Vec::new();
        let mut size: u64 = 0;
        let mut previous_blank = false;
        loop {
            let line_start = self.offset;
            if !self.read_line()? {
                self.finished = true;
                break;
            }
            if previous_blank && self.line.starts_with(b"From ") {
                let separator = trim_line_end(&self.line).to_vec();
                self.next_start = Some((line_start, separator));
                break;
            }
            previous_blank = matches!(self.line.as_slice(), b"\n" | b"\r\n");
            let unquoted = unquote(&self.line);
            size += unquoted.len() as u64;
            if size <= self.max_len {
                body.extend_from_slice(unquoted);
            } else {
                body = Vec::new();
            }
        }

        // The blank line before the next separator, or at the end of the
        // file, was added by the mbox writer.
        if previous_blank {
            let cut: usize = if body.ends_with(b"\r\n") { 2 } else { 1 };
            size = size.saturating_sub(cut as u64);
            body.truncate(body.len().saturating_sub(cut));
        }
        let body = if size <= self.max_len { Ok(body) } else { Err(size) };
        Ok(MboxMessage {
            offset,
            from_line,
            body,
        })
    }
}

impl<R: BufRead> Iterator for MboxReader<R> {
    type Item = io::Result<MboxMessage>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some((offset, from_line)) = self.next_start.take() {
            return Some(self.read_message(offset, from_line));
        }
        if self.finished {
            return None;
        }
        // The first line of the file is the first separator.
        let start = self.offset;
        match self.read_line() {
            Ok(false) => {
                self.finished = true;
                None
            }
            Ok(true) => {
                let from_line = trim_line_end(&self.line).to_vec();
                Some(self.read_message(start, from_line))
            }
            Err(error) => {
                self.finished = true;
                Some(Err(error))
            }
        }
    }
}

/// Removes one `>` from a line of the form `>+From `.
fn unquote(line: &[u8]) -> &[u8] {
    let quotes = line.iter().take_while(|&&byte| byte == b'>').count();
    if quotes > 0 && line[quotes..].starts_with(b"From ") {
        &line[1..]
    } else {
        line
    }
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(data: &[u8], max_len: u64) -> Vec<MboxMessage> {
        MboxReader::new(data, max_len).map(|m| m.unwrap()).collect()
    }

    #[test]
    fn splits_messages_and_unquotes() {
        let data = b"From a@x Fri Dec  4 19:20:05 2026\nSubject: one\n\n>From here\n>>From deeper\n\nFrom b@x Fri Dec  4 19:21:05 2026\nSubject: two\n\nbody\n\n";
        let messages = split(data, 1 << 20);
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0].offset, 0);
        assert_eq!(messages[0].from_line, b"From a@x Fri Dec  4 19:20:05 2026");
        assert_eq!(
            messages[0].body.as_ref().unwrap(),
            b"Subject: one\n\nFrom here\n>From deeper\n"
        );
        let second_offset = data.windows(8).position(|w| w == b"From b@x").unwrap() as u64;
        assert_eq!(messages[1].offset, second_offset);
        assert_eq!(messages[1].body.as_ref().unwrap(), b"Subject: two\n\nbody\n");
    }

    #[test]
    fn from_inside_a_paragraph_is_not_a_separator() {
        let data = b"From a@x Fri Dec  4 19:20:05 2026\nSubject: one\n\ntext\nFrom the shop\n";
        let messages = split(data, 1 << 20);
        assert_eq!(messages.len(), 1);
        assert_eq!(
            messages[0].body.as_ref().unwrap(),
            b"Subject: one\n\ntext\nFrom the shop\n"
        );
    }

    #[test]
    fn crlf_mbox_keeps_crlf() {
        let data = b"From a@x Fri Dec  4 19:20:05 2026\r\nSubject: one\r\n\r\nbody\r\n\r\nFrom b@x Fri Dec  4 19:20:05 2026\r\nSubject: two\r\n";
        let messages = split(data, 1 << 20);
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0].body.as_ref().unwrap(), b"Subject: one\r\n\r\nbody\r\n");
        assert_eq!(messages[1].body.as_ref().unwrap(), b"Subject: two\r\n");
    }

    #[test]
    fn oversized_message_is_skipped_with_size() {
        let data = b"From a@x\nSubject: big\n\n0123456789\n\nFrom b@x\nSubject: small\n";
        let messages = split(data, 20);
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0].body, Err(25), "size of the skipped message without the separator line");
        assert_eq!(messages[1].body.as_ref().unwrap(), b"Subject: small\n");
    }

    #[test]
    fn empty_input_has_no_messages() {
        assert!(split(b"", 100).is_empty());
    }
}
