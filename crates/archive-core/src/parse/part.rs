//! What one MIME part's own headers say, and its decoded content.

use bytes::Bytes;
use mail_parser::MessagePart;
use sha2::{Digest, Sha256};

use super::block::HeaderBlock;
use super::charset;
use super::flags::Flags;
use super::header::{HeaderContext, decode_value};
use super::ids::parse_message_id;
use super::params::ContentHeader;
use super::structure::part_content;
use super::transfer::TransferEncoding;
use crate::Attachment;

/// The headers of one part that decide how it is shown.
pub(crate) struct PartInfo {
    /// `Content-Type`, lower-cased, with a default when missing or invalid.
    pub content_type: ContentHeader,
    /// `Content-Disposition`, if present.
    pub disposition: Option<ContentHeader>,
    /// `Content-Transfer-Encoding`.
    pub encoding: TransferEncoding,
    /// `Content-ID` without angle brackets.
    pub content_id: Option<String>,
}

impl PartInfo {
    /// Reads the headers of `part`. `default_type` applies when the part
    /// has no valid `Content-Type`: `message/rfc822` inside
    /// multipart/digest, else `text/plain` (RFC 2046).
    pub(crate) fn read(
        buffer: &[u8],
        part: &MessagePart<'_>,
        default_type: &str,
        context: &HeaderContext,
    ) -> PartInfo {
        let end = (part.offset_body as usize).min(buffer.len());
        let start = (part.offset_header as usize).min(end);
        let block = HeaderBlock::scan(&buffer[start..end]);

        let mut content_type = block
            .get("Content-Type")
            .map(|field| ContentHeader::parse_with(field.value, context))
            .unwrap_or_default();
        if !content_type.value.contains('/') {
            content_type.value = default_type.to_owned();
        }
        PartInfo {
            content_type,
            disposition: block
                .get("Content-Disposition")
                .map(|field| ContentHeader::parse_with(field.value, context)),
            encoding: block
                .get("Content-Transfer-Encoding")
                .map_or(TransferEncoding::Identity, |field| {
                    TransferEncoding::parse(field.value)
                }),
            content_id: block
                .get("Content-ID")
                .and_then(|field| parse_message_id(field.value)),
        }
    }

    /// The lower-case MIME type, such as `text/plain`.
    pub(crate) fn mime_type(&self) -> &str {
        &self.content_type.value
    }

    /// Returns true for `text/*` parts.
    pub(crate) fn is_text(&self) -> bool {
        self.content_type.main_type() == "text"
    }

    /// Returns true for `message/rfc822` and `message/global` parts.
    pub(crate) fn is_message(&self) -> bool {
        matches!(self.mime_type(), "message/rfc822" | "message/global")
    }

    /// Returns true for `Content-Disposition: attachment`.
    pub(crate) fn is_attachment(&self) -> bool {
        self.disposition
            .as_ref()
            .is_some_and(|disposition| disposition.value == "attachment")
    }

    /// Returns true for `Content-Disposition: inline`.
    pub(crate) fn is_inline(&self) -> bool {
        self.disposition
            .as_ref()
            .is_some_and(|disposition| disposition.value == "inline")
    }

    /// Returns the `charset` parameter.
    pub(crate) fn charset(&self) -> Option<String> {
        self.content_type.raw_param("charset")
    }

    /// Returns the decoded file name, preferring RFC 2231 values, then
    /// `filename`, then `name`.
    pub(crate) fn file_name(&self, context: &HeaderContext, flags: &mut Flags) -> Option<String> {
        let disposition = self.disposition.as_ref();
        if let Some(name) = disposition.filter(|header| header.has_extended("filename")) {
            return name.extended_param("filename", flags);
        }
        if self.content_type.has_extended("name") {
            return self.content_type.extended_param("name", flags);
        }
        disposition
            .and_then(|header| header.plain_param("filename", context, flags))
            .or_else(|| self.content_type.plain_param("name", context, flags))
            .filter(|name| !name.is_empty())
    }

    /// Returns the content after transfer decoding.
    pub(crate) fn decode_content(
        &self,
        buffer: &[u8],
        part: &MessagePart<'_>,
        flags: &mut Flags,
    ) -> Vec<u8> {
        self.encoding.decode(part_content(buffer, part), flags)
    }

    /// Decodes the content to text with the part's charset.
    pub(crate) fn decode_text(
        &self,
        buffer: &[u8],
        part: &MessagePart<'_>,
        flags: &mut Flags,
    ) -> String {
        let content = self.decode_content(buffer, part, flags);
        charset::decode(&content, self.charset().as_deref(), flags)
    }

    /// Builds the attachment for this part.
    pub(crate) fn to_attachment(
        &self,
        buffer: &[u8],
        part: &MessagePart<'_>,
        inline: bool,
        context: &HeaderContext,
        flags: &mut Flags,
    ) -> Attachment {
        let data = self.decode_content(buffer, part, flags);
        let mut name = self.file_name(context, flags);
        if name.is_none() && self.is_message() {
            name = Some(nested_message_name(&data));
        }
        let text = self
            .is_text()
            .then(|| normalize_line_ends(charset::decode(&data, self.charset().as_deref(), flags)));

        Attachment {
            name,
            content_type: self.mime_type().to_owned(),
            size: data.len() as u64,
            sha256: hex::encode(Sha256::digest(&data)),
            inline,
            content_id: self.content_id.clone(),
            text,
            data: Bytes::from(data),
        }
    }
}

/// Names a nested message after its subject: `subject.eml`, or
/// `message.eml` when it has none. Problems inside the nested message do
/// not flag the outer one.
fn nested_message_name(raw: &[u8]) -> String {
    let block = HeaderBlock::scan(raw);
    let context = HeaderContext::for_block(&block);
    let subject = block
        .get("Subject")
        .map(|field| decode_value(field.value, &context, &mut Flags::default()))
        .filter(|subject| !subject.is_empty());
    match subject {
        Some(subject) => format!("{subject}.eml"),
        None => "message.eml".to_owned(),
    }
}

/// Converts CRLF line ends to LF. Runs of CR before an LF, which double
/// line-end conversion leaves, are removed too. Other CRs are kept.
pub(crate) fn normalize_line_ends(text: String) -> String {
    if !text.contains('\r') {
        return text;
    }
    let bytes = text.as_bytes();
    let mut output = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\r' {
            let run_end = i + bytes[i..].iter().take_while(|&&b| b == b'\r').count();
            if bytes.get(run_end) != Some(&b'\n') {
                output.extend_from_slice(&bytes[i..run_end]);
            }
            i = run_end;
        } else {
            output.push(bytes[i]);
            i += 1;
        }
    }
    // Only ASCII CR bytes were removed, so the bytes are still UTF-8.
    String::from_utf8(output).unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ends_are_normalized() {
        assert_eq!(
            normalize_line_ends("a\r\nb\r\r\nc\rd\n".to_owned()),
            "a\nb\nc\rd\n"
        );
    }
}
