//! What an index stores about one message: the searchable values of each
//! field, taken from the decoded message and its metadata.

use chrono::{DateTime, Utc};

use super::normalize::strip_subaddress;
use super::query::TextField;
use crate::{ArchiveId, Mailbox, Message};

/// Application metadata keys whose values `order:` searches.
pub const ORDER_KEYS: &[&str] = &[crate::meta::keys::ORDER_ID, "order", "order_number"];
/// Application metadata keys whose values `customer:` searches.
pub const CUSTOMER_KEYS: &[&str] = &[crate::meta::keys::CUSTOMER_ID, "customer"];

/// The searchable values of one message, as written (not normalized).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDocument {
    /// The archive id.
    pub id: ArchiveId,
    /// The effective message date.
    pub date: DateTime<Utc>,
    /// The mail kind.
    pub kind: Option<String>,
    /// True if the message has an attachment that is not inline.
    pub has_attachment: bool,
    /// `From` display names and address forms.
    pub from: Vec<String>,
    /// Every recipient's display names and address forms.
    pub to: Vec<String>,
    /// The subject.
    pub subject: Vec<String>,
    /// The text body and inline text parts.
    pub body: Vec<String>,
    /// Attachment file names.
    pub attachment: Vec<String>,
    /// The Message-ID.
    pub message_id: Vec<String>,
    /// Order ids from the application's metadata.
    pub order: Vec<String>,
    /// Customer ids from the application's metadata.
    pub customer: Vec<String>,
    /// Every application metadata entry, keys in lower case.
    pub meta: Vec<(String, String)>,
}

impl IndexDocument {
    /// Builds the document of a decoded message.
    pub fn from_message(message: &Message) -> IndexDocument {
        let mut to = mailbox_values(&message.to);
        to.extend(mailbox_values(&message.cc));
        to.extend(mailbox_values(&message.bcc));
        for address in &message.meta.envelope_to {
            to.extend(address_forms(address));
        }

        let mut body = vec![message.text.clone()];
        body.extend(
            message
                .attachments
                .iter()
                .filter(|part| part.inline)
                .filter_map(|part| part.text.clone()),
        );

        let meta: Vec<(String, String)> = message
            .meta
            .app
            .iter()
            .map(|(key, value)| (meta_key(key), value.clone()))
            .collect();
        let values_of = |keys: &[&str]| -> Vec<String> {
            meta.iter()
                .filter(|(key, _)| keys.contains(&key.as_str()))
                .map(|(_, value)| value.clone())
                .collect()
        };

        IndexDocument {
            id: message.id,
            date: message.date,
            kind: message.kind.clone(),
            has_attachment: message.regular_attachments().next().is_some(),
            from: mailbox_values(&message.from),
            to,
            subject: message.subject.clone().into_iter().collect(),
            body,
            attachment: message
                .attachments
                .iter()
                .filter_map(|part| part.name.clone())
                .collect(),
            message_id: message.message_id.clone().into_iter().collect(),
            order: values_of(ORDER_KEYS),
            customer: values_of(CUSTOMER_KEYS),
            meta,
        }
    }

    /// Returns the values a term restricted to `field` is matched against.
    pub fn values(&self, field: &TextField) -> Vec<&str> {
        match field {
            TextField::From => strings(&self.from),
            TextField::To => strings(&self.to),
            TextField::Subject => strings(&self.subject),
            TextField::Body => strings(&self.body),
            TextField::Attachment => strings(&self.attachment),
            TextField::MessageId => strings(&self.message_id),
            TextField::Customer => strings(&self.customer),
            TextField::Order => {
                let mut values = strings(&self.order);
                values.extend(strings(&self.subject));
                values.extend(strings(&self.body));
                values
            }
            TextField::Meta(key) => {
                let key = meta_key(key);
                self.meta
                    .iter()
                    .filter(|(k, _)| *k == key)
                    .map(|(_, v)| v.as_str())
                    .collect()
            }
            TextField::Any => {
                let mut values = strings(&self.from);
                for list in [
                    &self.to,
                    &self.subject,
                    &self.body,
                    &self.attachment,
                    &self.message_id,
                ] {
                    values.extend(strings(list));
                }
                values.extend(self.meta.iter().map(|(_, value)| value.as_str()));
                values.extend(self.kind.as_deref());
                values
            }
        }
    }
}

fn strings(list: &[String]) -> Vec<&str> {
    list.iter().map(String::as_str).collect()
}

/// Lower-cases a metadata key and writes `-` as `_`.
pub fn meta_key(key: &str) -> String {
    key.trim().to_lowercase().replace('-', "_")
}

fn mailbox_values(list: &[Mailbox]) -> Vec<String> {
    let mut values = Vec::new();
    for mailbox in list {
        if let Some(name) = mailbox.name.as_ref().filter(|name| !name.is_empty()) {
            values.push(name.clone());
        }
        values.extend(address_forms(&mailbox.address));
    }
    values
}

/// The address as written, plus `local@domain` for a `local+tag@domain`.
fn address_forms(address: &str) -> Vec<String> {
    let mut forms = Vec::new();
    if !address.is_empty() {
        forms.push(address.to_owned());
        forms.extend(strip_subaddress(address));
    }
    forms
}
