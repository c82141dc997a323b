//! The message after DATA: dot-unstuffing and the end-of-data marker
//! (RFC 5321 section 4.5.2).
//!
//! Lines end in CRLF only. A bare LF or CR is message content and is kept,
//! so `LF . LF` does not end the data (this closes the "SMTP smuggling"
//! ambiguity: the end is `CRLF . CRLF` and nothing else). A line that
//! starts with a period loses that one period; a line holding only a
//! period ends the data. The CRLF before that line belongs to the message.

use memchr::memmem::Finder;

/// Decodes the byte stream that follows `354`, in pieces as they arrive.
pub struct DataDecoder {
    /// Whether the next byte starts a line.
    at_line_start: bool,
    /// Maximum message size in bytes.
    limit: u64,
    /// Message bytes decoded so far, including those dropped past `limit`.
    size: u64,
    line_break_dot: Finder<'static>,
}

impl DataDecoder {
    /// Creates a decoder that keeps at most `limit` message bytes.
    pub fn new(limit: u64) -> DataDecoder {
        DataDecoder {
            at_line_start: true,
            limit,
            size: 0,
            line_break_dot: Finder::new(b"\r\n."),
        }
    }

    /// Decodes bytes from the front of `input` and appends the message
    /// bytes to `message`. Returns how many input bytes were consumed and
    /// whether the end-of-data line was among them. Bytes that may start
    /// the end marker (a trailing CR, CRLF or CRLF period) are left
    /// unconsumed until more input shows what they are.
    ///
    /// Once the message exceeds the limit, `message` is emptied and stays
    /// empty while the decoder keeps reading to the end marker.
    pub fn decode(&mut self, input: &[u8], message: &mut Vec<u8>) -> (usize, bool) {
        let mut pos = 0;
        loop {
            let rest = &input[pos..];
            if self.at_line_start {
                match rest {
                    [] | [b'.'] | [b'.', b'\r'] => return (pos, false),
                    [b'.', b'\r', b'\n', ..] => return (pos + 3, true),
                    // A stuffed period: drop it, keep the rest of the line.
                    [b'.', ..] => pos += 1,
                    _ => {}
                }
                self.at_line_start = false;
                continue;
            }
            match self.line_break_dot.find(rest) {
                Some(index) => {
                    // Keep the CRLF: it ends the previous line of the message.
                    self.emit(&rest[..index + 2], message);
                    pos += index + 2;
                    self.at_line_start = true;
                }
                None => {
                    let keep = if rest.ends_with(b"\r\n") {
                        2
                    } else if rest.ends_with(b"\r") {
                        1
                    } else {
                        0
                    };
                    let take = rest.len() - keep;
                    self.emit(&rest[..take], message);
                    return (pos + take, false);
                }
            }
        }
    }

    /// Message bytes decoded so far, including those past the limit.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Returns true once the message is larger than the limit.
    pub fn exceeded(&self) -> bool {
        self.size > self.limit
    }

    fn emit(&mut self, bytes: &[u8], message: &mut Vec<u8>) {
        self.size += bytes.len() as u64;
        if self.size > self.limit {
            message.clear();
        } else {
            message.extend_from_slice(bytes);
        }
    }
}

/// Encodes a message for DATA: doubles a period at the start of each line,
/// ends the message with CRLF when it does not end so, and appends the
/// end-of-data line. A client-side helper for tests and benchmarks.
pub fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 64 + 5);
    let mut at_line_start = true;
    for (index, &byte) in message.iter().enumerate() {
        if at_line_start && byte == b'.' {
            out.push(b'.');
        }
        out.push(byte);
        at_line_start = byte == b'\n' && index > 0 && message[index - 1] == b'\r';
    }
    if !message.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `stream` in pieces of `piece` bytes, as a socket would deliver
    /// them. Returns the message and the fed bytes left after the marker.
    fn decode_in_pieces(
        stream: &[u8],
        piece: usize,
        limit: u64,
    ) -> (Vec<u8>, Vec<u8>, DataDecoder) {
        let mut decoder = DataDecoder::new(limit);
        let mut message = Vec::new();
        let mut buffer = Vec::new();
        for chunk in stream.chunks(piece) {
            buffer.extend_from_slice(chunk);
            let (consumed, done) = decoder.decode(&buffer, &mut message);
            buffer.drain(..consumed);
            if done {
                return (message, buffer, decoder);
            }
        }
        panic!("no end marker in {stream:?}");
    }

    #[test]
    fn plain_message_keeps_final_crlf() {
        let (message, rest, _) =
            decode_in_pieces(b"Subject: a\r\n\r\nbody\r\n.\r\n", 1000, 1 << 20);
        assert_eq!(message, b"Subject: a\r\n\r\nbody\r\n");
        assert!(rest.is_empty());
    }

    #[test]
    fn stuffed_periods_are_removed() {
        let stream = b"..\r\n...\r\n.x\r\nend .\r\n.\r\n";
        let (message, _, _) = decode_in_pieces(stream, 1000, 1 << 20);
        assert_eq!(message, b".\r\n..\r\nx\r\nend .\r\n");
    }

    #[test]
    fn bare_lf_does_not_end_data() {
        let stream = b"a\n.\nb\r.\rc\r\n.\r\n";
        let (message, _, _) = decode_in_pieces(stream, 1000, 1 << 20);
        assert_eq!(message, b"a\n.\nb\r.\rc\r\n");
    }

    #[test]
    fn empty_message() {
        let (message, _, decoder) = decode_in_pieces(b".\r\nQUIT\r\n", 1000, 1 << 20);
        assert!(message.is_empty());
        assert_eq!(decoder.size(), 0);
    }

    #[test]
    fn bytes_after_marker_stay_unconsumed() {
        let mut decoder = DataDecoder::new(1 << 20);
        let mut message = Vec::new();
        let input = b"x\r\n.\r\nMAIL FROM:<a@b>\r\n";
        let (consumed, done) = decoder.decode(input, &mut message);
        assert!(done);
        assert_eq!(&input[consumed..], b"MAIL FROM:<a@b>\r\n");
    }

    #[test]
    fn every_split_point_gives_same_result() {
        let original =
            b".leading\r\nmid\r\n..two\r\n\xe6\x97\xa5\xe6\x9c\xac\r\nbare\nlf\r\n.\r\n".to_vec();
        let expected =
            b"leading\r\nmid\r\n.two\r\n\xe6\x97\xa5\xe6\x9c\xac\r\nbare\nlf\r\n".to_vec();
        for piece in 1..original.len() {
            let (message, _, _) = decode_in_pieces(&original, piece, 1 << 20);
            assert_eq!(message, expected, "pieces of {piece} bytes");
        }
    }

    #[test]
    fn over_limit_reads_to_end_and_keeps_nothing() {
        let stream = b"0123456789\r\n0123456789\r\n.\r\n";
        let (message, _, decoder) = decode_in_pieces(stream, 5, 15);
        assert!(message.is_empty());
        assert!(decoder.exceeded());
        assert_eq!(decoder.size(), 24);
    }

    #[test]
    fn at_limit_is_kept() {
        let (message, _, decoder) = decode_in_pieces(b"0123456789\r\n.\r\n", 3, 12);
        assert_eq!(message, b"0123456789\r\n");
        assert!(!decoder.exceeded());
    }

    #[test]
    fn dot_stuff_round_trips() {
        let cases: &[&[u8]] = &[
            b"a\r\n",
            b".\r\n",
            b"..x\r\n.\r\n.y",
            b"no final line break",
            b"bare\n.lf\r\n",
        ];
        for &case in cases {
            let stuffed = dot_stuff(case);
            let (message, rest, _) = decode_in_pieces(&stuffed, 7, 1 << 20);
            let mut expected = case.to_vec();
            if !expected.ends_with(b"\r\n") {
                expected.extend_from_slice(b"\r\n");
            }
            assert_eq!(message, expected, "case {case:?}");
            assert!(rest.is_empty());
        }
    }
}
