//! Choosing the body and the attachments from the MIME tree.
//!
//! - multipart/alternative: `text` comes from the text/plain alternative and
//!   `html` from the text/html one, also when it is the root of a nested
//!   multipart/related. Other text alternatives are dropped, other types
//!   are attachments.
//! - multipart/related: the root (the `start` part, else the first) is the
//!   body, and the other parts are inline parts.
//! - multipart/mixed and every other multipart: the first text/plain or
//!   text/html part (or alternative or related group) is the body. Later
//!   text parts with `Content-Disposition: inline` are inline parts, and
//!   the rest are regular attachments.
//! - A part with `Content-Disposition: attachment` is never the body.
//! - A nested message is one attachment holding its raw bytes.
//!
//! Afterwards, an attachment whose Content-ID the HTML body references
//! (`cid:`) is marked inline.

use mail_parser::{Message, MessagePart, PartType};

use super::charset;
use super::flags::Flags;
use super::header::HeaderContext;
use super::part::{PartInfo, normalize_line_ends};
use super::structure::{MAX_DEPTH, boundary_of, has_closing_delimiter, with_tree};
use crate::{Attachment, ParseFlag};

/// The body and attachments of a message.
pub(crate) struct Body {
    pub text: String,
    pub html: Option<String>,
    pub attachments: Vec<Attachment>,
}

/// Extracts the body and the attachments of `raw`.
pub(crate) fn extract_body(raw: &[u8], context: &HeaderContext, flags: &mut Flags) -> Body {
    let walked = with_tree(raw, flags, |buffer, message, flags| {
        let mut walker = Walker {
            buffer,
            message,
            context,
            flags,
            text: None,
            html: None,
            body_found: false,
            attachments: Vec::new(),
        };
        walker.visit_mixed_child(0, "text/plain", 0);
        walker.finish()
    });
    walked.unwrap_or_else(|| text_only(raw, flags))
}

/// The body of bytes without a header block: all of it, as text.
pub(crate) fn text_only(raw: &[u8], flags: &mut Flags) -> Body {
    let text = normalize_line_ends(charset::decode_unlabelled(raw, flags));
    Body {
        text,
        html: None,
        attachments: Vec::new(),
    }
}

/// Where a text part goes when its body slot is taken already.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Overflow {
    /// A further alternative of the same type: dropped.
    Drop,
    /// A further part in a mixed sequence: an attachment.
    Attach,
}

struct Walker<'a, 'm, 'f> {
    buffer: &'a [u8],
    message: &'a Message<'m>,
    context: &'a HeaderContext,
    flags: &'f mut Flags,
    text: Option<String>,
    html: Option<String>,
    /// True once a part, an alternative or a related group became the body.
    body_found: bool,
    attachments: Vec<Attachment>,
}

impl<'a, 'm> Walker<'a, 'm, '_> {
    fn part(&self, id: u32) -> Option<&'a MessagePart<'m>> {
        self.message.parts.get(id as usize)
    }

    fn info(&self, id: u32, default_type: &str) -> Option<PartInfo> {
        Some(PartInfo::read(
            self.buffer,
            self.part(id)?,
            default_type,
            self.context,
        ))
    }

    /// Visits a part of a multipart/mixed (or of any multipart without
    /// special rules), or the top-level part.
    fn visit_mixed_child(&mut self, id: u32, default_type: &str, depth: usize) {
        let Some(info) = self.info(id, default_type) else {
            return;
        };
        if depth > MAX_DEPTH {
            self.flags.add(ParseFlag::NestingTooDeep);
            self.collect_leaves(id);
            return;
        }
        if !self.body_found && !info.is_attachment() && self.is_body_candidate(id, &info) {
            self.visit_body(id, &info, Overflow::Attach, depth);
            self.body_found = true;
            return;
        }
        match self.children(id) {
            Some(children) => self.visit_multipart(id, &info, &children, depth),
            None => {
                let inline = info.is_inline() && info.is_text();
                self.attach(id, &info, inline);
            }
        }
    }

    /// Returns true for parts that can be the body: text/plain, text/html,
    /// a multipart whose boundary is missing (kept as text), and
    /// multipart/alternative and multipart/related groups.
    fn is_body_candidate(&self, id: u32, info: &PartInfo) -> bool {
        match self.children(id) {
            Some(_) => matches!(info.content_type.subtype(), "alternative" | "related"),
            None => {
                matches!(info.mime_type(), "text/plain" | "text/html")
                    || info.content_type.main_type() == "multipart"
            }
        }
    }

    /// Visits a part that provides the body.
    fn visit_body(&mut self, id: u32, info: &PartInfo, overflow: Overflow, depth: usize) {
        if let Some(children) = self.children(id) {
            self.visit_multipart(id, info, &children, depth);
            return;
        }
        if info.content_type.main_type() == "multipart" {
            self.flags.add(ParseFlag::MissingBoundary);
        }
        let Some(part) = self.part(id) else { return };
        let is_html = info.mime_type() == "text/html";
        let slot_taken = if is_html {
            self.html.is_some()
        } else {
            self.text.is_some()
        };
        if slot_taken {
            if overflow == Overflow::Attach {
                self.attach(id, info, false);
            }
            return;
        }
        let text = info.decode_text(self.buffer, part, self.flags);
        if is_html {
            self.html = Some(text);
        } else {
            self.text = Some(normalize_line_ends(text));
        }
    }

    fn visit_multipart(&mut self, id: u32, info: &PartInfo, children: &[u32], depth: usize) {
        self.check_closing_delimiter(id);
        let subtype = if info.content_type.main_type() == "multipart" {
            info.content_type.subtype()
        } else {
            "mixed"
        };
        match subtype {
            "alternative" if !self.body_found => self.visit_alternative(children, depth + 1),
            "related" if !self.body_found => self.visit_related(info, children, depth + 1),
            "related" => self.visit_related_parts(children, None, depth + 1),
            _ => {
                let default_type = if subtype == "digest" {
                    "message/rfc822"
                } else {
                    "text/plain"
                };
                for &child in children {
                    self.visit_mixed_child(child, default_type, depth + 1);
                }
            }
        }
    }

    fn visit_alternative(&mut self, children: &[u32], depth: usize) {
        for &child in children {
            let Some(info) = self.info(child, "text/plain") else {
                continue;
            };
            if depth > MAX_DEPTH {
                self.flags.add(ParseFlag::NestingTooDeep);
                self.collect_leaves(child);
            } else if info.is_attachment() {
                self.attach(child, &info, false);
            } else if self.children(child).is_some()
                || matches!(info.mime_type(), "text/plain" | "text/html")
            {
                self.visit_body(child, &info, Overflow::Drop, depth);
            } else if !info.is_text() {
                self.attach(child, &info, false);
            }
        }
        self.body_found = true;
    }

    fn visit_related(&mut self, info: &PartInfo, children: &[u32], depth: usize) {
        let root = self.related_root(info, children);
        if let Some(root) = root {
            match self.info(root, "text/plain") {
                Some(_) if depth > MAX_DEPTH => {
                    self.flags.add(ParseFlag::NestingTooDeep);
                    self.collect_leaves(root);
                }
                Some(root_info)
                    if !root_info.is_attachment() && self.is_body_candidate(root, &root_info) =>
                {
                    self.visit_body(root, &root_info, Overflow::Attach, depth);
                }
                Some(_) => self.visit_mixed_child(root, "text/plain", depth),
                None => {}
            }
        }
        self.body_found = true;
        self.visit_related_parts(children, root, depth);
    }

    /// Adds the parts of a multipart/related other than `root` as inline
    /// parts, unless they say `Content-Disposition: attachment`.
    fn visit_related_parts(&mut self, children: &[u32], root: Option<u32>, depth: usize) {
        for &child in children.iter().filter(|&&child| Some(child) != root) {
            match (self.children(child), self.info(child, "text/plain")) {
                (Some(_), _) => self.visit_mixed_child(child, "text/plain", depth),
                (None, Some(info)) => {
                    let inline = !info.is_attachment();
                    self.attach(child, &info, inline);
                }
                (None, None) => {}
            }
        }
    }

    /// Returns the root of a multipart/related: the part whose Content-ID
    /// is the `start` parameter (RFC 2387), else the first part.
    fn related_root(&self, info: &PartInfo, children: &[u32]) -> Option<u32> {
        if let Some(start) = info.content_type.raw_param("start") {
            let start = start.trim().trim_start_matches('<').trim_end_matches('>');
            let found = children.iter().copied().find(|&child| {
                self.info(child, "text/plain")
                    .and_then(|info| info.content_id)
                    .as_deref()
                    == Some(start)
            });
            if found.is_some() {
                return found;
            }
        }
        children.first().copied()
    }

    /// Returns the children of a multipart part, skipping ids that do not
    /// point forward (which would loop).
    fn children(&self, id: u32) -> Option<Vec<u32>> {
        match &self.part(id)?.body {
            PartType::Multipart(children) => Some(
                children
                    .iter()
                    .copied()
                    .filter(|&child| child > id)
                    .collect(),
            ),
            _ => None,
        }
    }

    fn attach(&mut self, id: u32, info: &PartInfo, inline: bool) {
        let Some(part) = self.part(id) else { return };
        let attachment = info.to_attachment(self.buffer, part, inline, self.context, self.flags);
        self.attachments.push(attachment);
    }

    /// Adds every leaf below `id` as a regular attachment, without
    /// recursion.
    fn collect_leaves(&mut self, id: u32) {
        let mut pending = vec![id];
        while let Some(id) = pending.pop() {
            match self.children(id) {
                Some(children) => pending.extend(children.iter().rev()),
                None => {
                    if let Some(info) = self.info(id, "text/plain") {
                        self.attach(id, &info, false);
                    }
                }
            }
        }
    }

    fn check_closing_delimiter(&mut self, id: u32) {
        let Some(part) = self.part(id) else { return };
        if let Some(boundary) = boundary_of(part)
            && !has_closing_delimiter(self.buffer, part, boundary)
        {
            self.flags.add(ParseFlag::MissingClosingBoundary);
        }
    }

    fn finish(mut self) -> Body {
        if let Some(html) = &self.html {
            for attachment in &mut self.attachments {
                if let Some(id) = &attachment.content_id
                    && html.contains(&format!("cid:{id}"))
                {
                    attachment.inline = true;
                }
            }
        }
        let text = match (self.text, &self.html) {
            (Some(text), _) => text,
            (None, Some(html)) => {
                normalize_line_ends(mail_parser::decoders::html::html_to_text(html))
            }
            (None, None) => String::new(),
        };
        Body {
            text,
            html: self.html,
            attachments: self.attachments,
        }
    }
}
