//! Searching: queries go to the index; hits are filled in from storage.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Archive, SearchError};
use crate::search::{IndexDocument, Query, Snippet, TextField, parse_query, snippet};
use crate::{ArchiveId, Mailbox, Message, ParseFlag};

/// Characters of body text in a snippet.
const SNIPPET_CHARS: usize = 120;
/// Documents added to the index between commits during a rebuild.
const REINDEX_BATCH: usize = 500;

/// One search result, ready to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SearchHit {
    /// The archive id.
    pub id: ArchiveId,
    /// The message date.
    pub date: DateTime<Utc>,
    /// The Message-ID.
    pub message_id: Option<String>,
    /// The `From` mailboxes.
    pub from: Vec<Mailbox>,
    /// The `To` mailboxes, or the envelope recipients when there are none.
    pub to: Vec<Mailbox>,
    /// The subject.
    pub subject: Option<String>,
    /// The mail kind.
    pub kind: Option<String>,
    /// Body text around the first match, with the matches marked.
    pub snippet: Snippet,
    /// Parse flags of the message.
    pub flags: Vec<ParseFlag>,
}

/// One page of search results and the count of all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SearchResults {
    /// Messages matching the query, in all pages.
    pub total: u64,
    /// The hits of this page, newest first.
    pub hits: Vec<SearchHit>,
}

impl Archive {
    /// Parses `text` (see [`parse_query`]) and returns one page of matching
    /// messages, newest first. Dates without an offset are read in
    /// `ParseOptions::default_zone`.
    pub async fn search(
        &self,
        text: &str,
        offset: usize,
        limit: usize,
    ) -> Result<SearchResults, SearchError> {
        let query = parse_query(text, self.options().parse.default_zone)?;
        self.search_query(&query, offset, limit).await
    }

    /// Returns one page of messages matching `query`, newest first.
    pub async fn search_query(
        &self,
        query: &Query,
        offset: usize,
        limit: usize,
    ) -> Result<SearchResults, SearchError> {
        let index = self
            .inner
            .shared
            .index
            .as_ref()
            .ok_or(SearchError::NoIndex)?;
        let page = index.search(query, offset, limit).await?;

        let mut hits = Vec::with_capacity(page.hits.len());
        for found in page.hits {
            hits.push(match self.open(&found.id).await {
                Ok(message) => hit_of(&message, query),
                Err(error) => {
                    tracing::error!(id = %found.id, %error, "a search hit cannot be read");
                    unreadable_hit(found.id, found.date)
                }
            });
        }
        Ok(SearchResults {
            total: page.total,
            hits,
        })
    }

    /// Rebuilds the search index from storage and the journal: clears it,
    /// adds every archived message, and commits. `progress` is called with
    /// (messages indexed, total). Returns the number indexed.
    pub async fn reindex(
        &self,
        mut progress: impl FnMut(u64, u64) + Send,
    ) -> Result<u64, SearchError> {
        let index = self
            .inner
            .shared
            .index
            .clone()
            .ok_or(SearchError::NoIndex)?;
        let entries = self.entries().await?;
        let total = entries.len() as u64;
        index.clear().await?;

        let mut batch = Vec::with_capacity(REINDEX_BATCH);
        let mut done = 0;
        for info in entries {
            let message = self.open(&info.id).await?;
            batch.push(IndexDocument::from_message(&message));
            done += 1;
            if batch.len() == REINDEX_BATCH {
                index.add(std::mem::take(&mut batch)).await?;
                index.commit().await?;
                progress(done, total);
            }
        }
        index.add(batch).await?;
        index.commit().await?;
        progress(done, total);
        Ok(done)
    }
}

fn hit_of(message: &Message, query: &Query) -> SearchHit {
    let terms: Vec<_> = query
        .positive_terms()
        .into_iter()
        .filter(|term| {
            matches!(
                term.field,
                TextField::Any | TextField::Body | TextField::Order
            )
        })
        .collect();
    let to = if message.to.is_empty() {
        message
            .meta
            .envelope_to
            .iter()
            .map(|address| Mailbox {
                name: None,
                address: address.clone(),
            })
            .collect()
    } else {
        message.to.clone()
    };
    SearchHit {
        id: message.id,
        date: message.date,
        message_id: message.message_id.clone(),
        from: message.from.clone(),
        to,
        subject: message.subject.clone(),
        kind: message.kind.clone(),
        snippet: snippet(&message.text, &terms, SNIPPET_CHARS),
        flags: message.flags.clone(),
    }
}

fn unreadable_hit(id: ArchiveId, date: DateTime<Utc>) -> SearchHit {
    SearchHit {
        id,
        date,
        message_id: None,
        from: Vec::new(),
        to: Vec::new(),
        subject: None,
        kind: None,
        snippet: Snippet {
            text: String::new(),
            highlights: Vec::new(),
        },
        flags: Vec::new(),
    }
}
