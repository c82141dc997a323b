//! The read path: raw bytes, decoded messages, listings and verification.

use std::collections::HashSet;

use bytes::Bytes;

use super::{Archive, MAX_META_BYTES, ReadError, Shared};
use crate::{
    ArchiveId, EntryInfo, EntryRole, Message, RecordMeta, StorageError, decode_frame,
    frame_dictionary_id, parse_message,
};

/// A message read back and checked against its id.
pub(crate) struct Loaded {
    pub(crate) info: EntryInfo,
    pub(crate) meta: RecordMeta,
    pub(crate) raw: Bytes,
}

/// One damaged message or pack found by [`Archive::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// Location of the damage: the pack and offset, or the journal segment.
    pub location: String,
    /// What failed.
    pub reason: String,
}

/// Result of [`Archive::verify`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Messages read and checked.
    pub checked: u64,
    /// Send statuses read and checked; they are stored like messages.
    pub send_statuses: u64,
    /// Everything that failed a check.
    pub damaged: Vec<Damage>,
}

impl VerifyReport {
    fn count(&mut self, role: EntryRole) {
        match role {
            EntryRole::Message => self.checked += 1,
            EntryRole::SendStatus => self.send_statuses += 1,
        }
    }
}

impl Archive {
    /// Returns the original bytes of a message, exactly as recorded.
    pub async fn get_raw(&self, id: &ArchiveId) -> Result<Bytes, ReadError> {
        Ok(self.load_message(id).await?.raw)
    }

    /// Returns the metadata recorded with a message.
    pub async fn meta(&self, id: &ArchiveId) -> Result<RecordMeta, ReadError> {
        Ok(self.load_message(id).await?.meta)
    }

    /// Reads and decodes a message.
    pub async fn open(&self, id: &ArchiveId) -> Result<Message, ReadError> {
        let loaded = self.load_message(id).await?;
        let parse_options = self.inner.shared.options.parse.clone();
        let mut message = tokio::task::spawn_blocking(move || {
            parse_message(
                &loaded.raw,
                &loaded.meta,
                loaded.info.recorded_at,
                &parse_options,
            )
        })
        .await
        .expect("message parse task");
        message.send_statuses = self.send_statuses(id).await;
        Ok(message)
    }

    /// Loads a message; a send status entry is not one, so its id is not
    /// found.
    pub(super) async fn load_message(&self, id: &ArchiveId) -> Result<Loaded, ReadError> {
        let loaded = self.load(id).await?;
        if loaded.info.role != EntryRole::Message {
            return Err(ReadError::NotFound { id: *id });
        }
        Ok(loaded)
    }

    pub(super) async fn load(&self, id: &ArchiveId) -> Result<Loaded, ReadError> {
        let shared = self.inner.shared.clone();
        if let Some(pos) = shared.pending.position(id) {
            let read = tokio::task::spawn_blocking({
                let shared = shared.clone();
                move || shared.journal.read(pos)
            })
            .await
            .expect("journal read task");
            match read {
                Ok((_, info, frame)) => {
                    let location =
                        format!("journal segment {} at offset {}", pos.segment, pos.offset);
                    return decode_stored(&shared, info, &frame, &location).await;
                }
                // Moved to storage meanwhile, and the segment deleted.
                Err(error) if shared.pending.contains(id) => return Err(error.into()),
                Err(_) => {}
            }
        }

        let entry = shared.storage.get(id).await.map_err(|error| match error {
            StorageError::NotFound { id } => ReadError::NotFound { id },
            other => ReadError::Storage(other),
        })?;
        decode_stored(&shared, entry.info, &entry.frame, "storage").await
    }

    /// Facts about every archived message, stored or still in the journal,
    /// each once, in no particular order. Send statuses are not messages
    /// and are left out.
    pub async fn entries(&self) -> Result<Vec<EntryInfo>, ReadError> {
        let shared = &self.inner.shared;
        let mut seen = HashSet::new();
        let mut entries = Vec::new();
        for info in shared.pending.infos() {
            if info.role == EntryRole::Message {
                seen.insert(info.id);
                entries.push(info);
            }
        }
        for partition in shared.storage.partitions().await? {
            for listed in shared.storage.list(&partition).await? {
                if listed.info.role == EntryRole::Message && seen.insert(listed.info.id) {
                    entries.push(listed.info);
                }
            }
        }
        Ok(entries)
    }

    /// Lists messages newest first (by effective date, then id) and returns
    /// one page plus the total count.
    pub async fn list(
        &self,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<EntryInfo>, usize), ReadError> {
        let mut entries = self.entries().await?;
        entries.sort_unstable_by(|a, b| b.date.cmp(&a.date).then_with(|| a.id.cmp(&b.id)));
        let total = entries.len();
        let page = entries.into_iter().skip(offset).take(limit).collect();
        Ok((page, total))
    }

    /// Finds the messages with this Message-ID (angle brackets optional).
    pub async fn find_by_message_id(&self, message_id: &str) -> Result<Vec<EntryInfo>, ReadError> {
        let wanted = message_id
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>');
        let mut found: Vec<EntryInfo> = self
            .entries()
            .await?
            .into_iter()
            .filter(|info| info.message_id.as_deref() == Some(wanted))
            .collect();
        found.sort_unstable_by(|a, b| b.date.cmp(&a.date).then_with(|| a.id.cmp(&b.id)));
        Ok(found)
    }

    /// Resolves a full archive id, or a unique prefix of at least 8 hex
    /// digits, to an id.
    pub async fn resolve_id(&self, text: &str) -> Result<ArchiveId, ReadError> {
        let text = text.trim().to_ascii_lowercase();
        if let Ok(id) = text.parse::<ArchiveId>() {
            return Ok(id);
        }
        if text.len() < 8 || !text.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(ReadError::Ambiguous {
                reason: format!(
                    "invalid archive id {text:?}: give the 64 hex digits or a prefix of at least 8"
                ),
            });
        }
        let matches: Vec<ArchiveId> = self
            .entries()
            .await?
            .into_iter()
            .map(|info| info.id)
            .filter(|id| id.to_hex().starts_with(&text))
            .collect();
        match matches.as_slice() {
            [id] => Ok(*id),
            [] => Err(ReadError::Ambiguous {
                reason: format!("no archived message has an id starting with {text}"),
            }),
            _ => Err(ReadError::Ambiguous {
                reason: format!(
                    "{} archived messages have ids starting with {text}; give more digits",
                    matches.len()
                ),
            }),
        }
    }

    /// Re-reads every archived message, checks its SHA-256 against its id,
    /// and reports everything damaged with its location. `progress` is
    /// called after each message with (checked, total).
    pub async fn verify(
        &self,
        mut progress: impl FnMut(u64, u64) + Send,
    ) -> Result<VerifyReport, ReadError> {
        let shared = &self.inner.shared;
        let mut report = VerifyReport::default();
        for damage in shared.storage.damage().await? {
            report.damaged.push(Damage {
                location: damage.location,
                reason: damage.reason,
            });
        }

        let mut listed = Vec::new();
        for partition in shared.storage.partitions().await? {
            listed.extend(shared.storage.list(&partition).await?);
        }
        let pending = shared.pending.infos();
        let total = (listed.len() + pending.len()) as u64;

        for entry in listed {
            let location = entry.location.to_string();
            let outcome = match shared.storage.get(&entry.info.id).await {
                Ok(stored) => decode_stored(shared, stored.info, &stored.frame, &location)
                    .await
                    .map(|_| ()),
                Err(error) => Err(ReadError::Storage(error)),
            };
            if let Err(error) = outcome {
                report.damaged.push(Damage {
                    location,
                    reason: error.to_string(),
                });
            }
            report.count(entry.info.role);
            progress(report.checked + report.send_statuses, total);
        }
        for info in pending {
            if let Err(error) = self.load(&info.id).await {
                report.damaged.push(Damage {
                    location: format!("capture journal, message {}", info.id),
                    reason: error.to_string(),
                });
            }
            report.count(info.role);
            progress(report.checked + report.send_statuses, total);
        }
        Ok(report)
    }
}

/// Decompresses a frame, with the dictionary it names, and checks that the
/// bytes hash to the id.
pub(crate) async fn decode_stored(
    shared: &Shared,
    info: EntryInfo,
    frame: &[u8],
    location: &str,
) -> Result<Loaded, ReadError> {
    let corrupt = |reason: String| ReadError::Corrupt {
        id: info.id,
        location: location.to_owned(),
        reason,
    };
    let dictionary = match frame_dictionary_id(frame) {
        None => None,
        Some(id) => {
            let found = shared
                .dictionaries
                .resolve(shared.storage.as_ref(), id)
                .await;
            Some(found.map_err(|e| corrupt(format!("compression dictionary {id}: {e}")))?)
        }
    };
    let max_len = usize::try_from(info.raw_len)
        .unwrap_or(usize::MAX)
        .saturating_add(MAX_META_BYTES + 4);
    let (meta, raw) =
        decode_frame(frame, max_len, dictionary.as_ref()).map_err(|e| corrupt(e.to_string()))?;
    if ArchiveId::of(&raw) != info.id {
        return Err(corrupt("content does not match its SHA-256 id".into()));
    }
    Ok(Loaded { info, meta, raw })
}
