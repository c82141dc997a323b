//! The scan at open: list the dictionaries and packs, and build the
//! catalog from footers, taken from the cache where it has them.

use archive_core::pack::FooterEntry;
use archive_core::{Damage, StorageError};
use futures_util::StreamExt;
use object_store::ObjectMeta;

use crate::catalog::Catalog;
use crate::dictionaries::{DictionaryObject, DictionaryObjects};
use crate::index::{self, IndexError};
use crate::layout::PackKey;
use crate::request;
use crate::storage::Inner;

/// Footers fetched at once while opening.
const CONCURRENT_FETCHES: usize = 16;

/// The result of the scan.
pub(crate) struct Scanned {
    /// The catalog of every readable pack.
    pub(crate) catalog: Catalog,
    /// The highest pack sequence number listed.
    pub(crate) max_seq: u64,
    /// The dictionaries in store order.
    pub(crate) dictionaries: DictionaryObjects,
    /// Footers read from the store because the cache lacked them.
    pub(crate) footers_fetched: usize,
}

/// A pack object found by the listing.
struct Found {
    key: PackKey,
    meta: ObjectMeta,
}

/// Lists the archive and reads every pack's footer.
///
/// A request failure makes the scan fail. A pack whose footer cannot be
/// decoded is left out of the catalog, logged at error level and reported
/// by `Storage::damage`.
pub(crate) async fn scan(inner: &Inner) -> Result<Scanned, StorageError> {
    let dictionaries = list_dictionaries(inner).await?;
    let mut found = list_packs(inner).await?;
    found.sort_by_key(|pack| pack.key.seq);
    let max_seq = found.last().map_or(0, |pack| pack.key.seq);

    let cached = load_cached(inner, &found).await;
    let mut footers_fetched = 0;
    let mut fetches = futures_util::stream::iter(found.into_iter().zip(cached))
        .map(|(pack, cached)| rows_of(inner, pack, cached))
        .buffered(CONCURRENT_FETCHES);

    let mut catalog = Catalog::default();
    while let Some((pack, rows, fetched)) = fetches.next().await {
        footers_fetched += usize::from(fetched);
        let location = inner.display(&pack.meta.location);
        match rows {
            Ok(rows) => {
                let count = rows.len();
                let served = catalog.add_pack(
                    &pack.key.partition,
                    pack.key.seq,
                    pack.meta.location.clone(),
                    location.clone(),
                    rows,
                );
                if served < count {
                    tracing::info!(pack = %location, duplicates = count - served, "pack contains ids that an older pack already stores; the older copies serve them");
                }
            }
            Err(IndexError::Damaged(reason)) => {
                tracing::error!(pack = %location, %reason, "pack is damaged; its entries are left out of the catalog");
                let damage = Damage { location, reason };
                catalog.record_damage(&pack.key.partition, damage);
            }
            Err(IndexError::Request(error)) => return Err(error.into()),
        }
    }
    Ok(Scanned {
        catalog,
        max_seq,
        dictionaries,
        footers_fetched,
    })
}

async fn list_dictionaries(inner: &Inner) -> Result<DictionaryObjects, StorageError> {
    let prefix = inner.layout.dictionaries();
    let listed = request::list(inner, &prefix, &inner.display_prefix(&prefix)).await?;
    let mut objects = Vec::with_capacity(listed.len());
    for meta in listed {
        match inner.layout.parse_dictionary(&meta.location) {
            Some((seq, id)) => objects.push(DictionaryObject {
                id,
                seq,
                key: meta.location,
                size: meta.size,
            }),
            None => ignore(inner, &meta, "not a dictionary"),
        }
    }
    Ok(DictionaryObjects::from_listing(objects))
}

async fn list_packs(inner: &Inner) -> Result<Vec<Found>, StorageError> {
    let prefix = inner.layout.packs();
    let listed = request::list(inner, &prefix, &inner.display_prefix(&prefix)).await?;
    let mut found = Vec::with_capacity(listed.len());
    for meta in listed {
        match inner.layout.parse_pack(&meta.location) {
            Some(key) => found.push(Found { key, meta }),
            None => ignore(inner, &meta, "not a pack"),
        }
    }
    Ok(found)
}

fn ignore(inner: &Inner, meta: &ObjectMeta, reason: &str) {
    tracing::warn!(key = %inner.display(&meta.location), reason, "ignoring unexpected object under the archive prefix");
}

/// Returns the cached footer rows of each pack, or `None` where the cache
/// has no valid entry.
async fn load_cached(inner: &Inner, found: &[Found]) -> Vec<Option<Vec<FooterEntry>>> {
    let cache = inner.cache.clone();
    let wanted: Vec<_> = found
        .iter()
        .map(|pack| (pack.meta.location.clone(), pack.meta.size))
        .collect();
    let loaded = tokio::task::spawn_blocking(move || {
        wanted
            .iter()
            .map(|(key, size)| {
                let tail = cache.load(key, *size)?;
                index::decode_tail(&tail, *size).ok()
            })
            .collect::<Vec<_>>()
    })
    .await;
    loaded.unwrap_or_else(|_| found.iter().map(|_| None).collect())
}

/// Returns the footer rows of `pack`, from `cached` or from the store, and
/// whether they were fetched.
async fn rows_of(
    inner: &Inner,
    pack: Found,
    cached: Option<Vec<FooterEntry>>,
) -> (Found, Result<Vec<FooterEntry>, IndexError>, bool) {
    match cached {
        Some(rows) => (pack, Ok(rows), false),
        None => {
            let rows = fetch_and_cache(inner, &pack).await;
            (pack, rows, true)
        }
    }
}

async fn fetch_and_cache(inner: &Inner, pack: &Found) -> Result<Vec<FooterEntry>, IndexError> {
    let key = &pack.meta.location;
    let index = index::fetch(inner, key, &inner.display(key), pack.meta.size).await?;
    let cache = inner.cache.clone();
    let key = key.clone();
    let (size, tail) = (index.size, index.tail);
    let _ = tokio::task::spawn_blocking(move || cache.store(&key, size, &tail)).await;
    Ok(index.rows)
}
