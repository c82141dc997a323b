//! A collector that counts every match and keeps the first `limit` in the
//! archive's order: newest first, then by id.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use archive_core::search::IndexHit;
use chrono::{DateTime, Utc};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::ColumnValues;
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use crate::document::id_from_words;

/// The sort key of one hit; smaller keys come first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HitKey {
    seconds: Reverse<i64>,
    nanos: Reverse<u64>,
    id: [u64; 4],
}

impl HitKey {
    /// Returns the hit this key describes.
    pub fn hit(&self) -> IndexHit {
        let Reverse(seconds) = self.seconds;
        let Reverse(nanos) = self.nanos;
        let date = u32::try_from(nanos)
            .ok()
            .and_then(|nanos| DateTime::<Utc>::from_timestamp(seconds, nanos))
            .unwrap_or_default();
        IndexHit {
            id: id_from_words(self.id),
            date,
        }
    }
}

/// The result of a search of one partition.
#[derive(Debug, Default)]
pub struct Found {
    /// Every match.
    pub total: u64,
    /// The first matches in the archive's order, at most the limit.
    pub keys: Vec<HitKey>,
}

/// Counts matches and keeps the `limit` smallest [`HitKey`]s.
#[derive(Debug, Clone, Copy)]
pub struct TopHits {
    /// How many keys to keep; 0 only counts.
    pub limit: usize,
}

impl Collector for TopHits {
    type Fruit = Found;
    type Child = SegmentTopHits;

    fn for_segment(
        &self,
        _segment_local_id: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<SegmentTopHits> {
        let columns = if self.limit == 0 {
            None
        } else {
            let fast = segment.fast_fields();
            Some(Columns {
                seconds: fast.column_first_or_default::<i64>("seconds")?,
                nanos: fast.column_first_or_default::<u64>("nanos")?,
                id: [
                    fast.column_first_or_default::<u64>("id0")?,
                    fast.column_first_or_default::<u64>("id1")?,
                    fast.column_first_or_default::<u64>("id2")?,
                    fast.column_first_or_default::<u64>("id3")?,
                ],
            })
        };
        Ok(SegmentTopHits {
            limit: self.limit,
            columns,
            total: 0,
            heap: BinaryHeap::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Found>) -> tantivy::Result<Found> {
        Ok(merge(fruits, self.limit))
    }
}

/// Merges results of segments or partitions, keeping the `limit` first.
pub fn merge(parts: Vec<Found>, limit: usize) -> Found {
    let mut total = 0;
    let mut keys = Vec::new();
    for part in parts {
        total += part.total;
        keys.extend(part.keys);
    }
    keys.sort_unstable();
    keys.truncate(limit);
    Found { total, keys }
}

struct Columns {
    seconds: Arc<dyn ColumnValues<i64>>,
    nanos: Arc<dyn ColumnValues<u64>>,
    id: [Arc<dyn ColumnValues<u64>>; 4],
}

/// The per-segment part of [`TopHits`].
pub struct SegmentTopHits {
    limit: usize,
    columns: Option<Columns>,
    total: u64,
    /// The smallest keys seen so far; the largest of them on top.
    heap: BinaryHeap<HitKey>,
}

impl SegmentTopHits {
    fn offer(&mut self, doc: DocId) {
        let Some(columns) = &self.columns else {
            return;
        };
        let seconds = Reverse(columns.seconds.get_val(doc));
        if self.heap.len() == self.limit
            && self
                .heap
                .peek()
                .is_some_and(|worst| seconds > worst.seconds)
        {
            return;
        }
        let key = HitKey {
            seconds,
            nanos: Reverse(columns.nanos.get_val(doc)),
            id: [
                columns.id[0].get_val(doc),
                columns.id[1].get_val(doc),
                columns.id[2].get_val(doc),
                columns.id[3].get_val(doc),
            ],
        };
        if self.heap.len() < self.limit {
            self.heap.push(key);
        } else if let Some(mut worst) = self.heap.peek_mut()
            && key < *worst
        {
            *worst = key;
        }
    }
}

impl SegmentCollector for SegmentTopHits {
    type Fruit = Found;

    fn collect(&mut self, doc: DocId, _score: Score) {
        self.total += 1;
        self.offer(doc);
    }

    fn collect_block(&mut self, docs: &[DocId]) {
        self.total += docs.len() as u64;
        if self.columns.is_some() {
            for &doc in docs {
                self.offer(doc);
            }
        }
    }

    fn harvest(self) -> Found {
        Found {
            total: self.total,
            keys: self.heap.into_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seconds: i64, nanos: u64, id: u64) -> HitKey {
        HitKey {
            seconds: Reverse(seconds),
            nanos: Reverse(nanos),
            id: [id, 0, 0, 0],
        }
    }

    #[test]
    fn keys_sort_newest_first_then_by_id() {
        let mut keys = vec![key(1, 0, 5), key(2, 0, 9), key(2, 0, 3), key(1, 7, 1)];
        keys.sort();
        assert_eq!(
            keys,
            vec![key(2, 0, 3), key(2, 0, 9), key(1, 7, 1), key(1, 0, 5)]
        );
    }

    #[test]
    fn merge_sums_totals_and_keeps_the_first() {
        let merged = merge(
            vec![
                Found {
                    total: 10,
                    keys: vec![key(5, 0, 0), key(1, 0, 0)],
                },
                Found {
                    total: 3,
                    keys: vec![key(3, 0, 0)],
                },
            ],
            2,
        );
        assert_eq!(merged.total, 13);
        assert_eq!(merged.keys, vec![key(5, 0, 0), key(3, 0, 0)]);
    }
}
