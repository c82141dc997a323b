//! `delete_partition`: list the partition's prefix and delete every object
//! under it.

use archive_core::{Partition, StorageError};
use futures_util::StreamExt;
use object_store::ObjectStore;
use object_store::path::Path;

use crate::error::RequestError;
use crate::request::{self, ATTEMPTS, Counters};
use crate::storage::Inner;

/// Deletes every object under the partition's prefix and returns how many
/// catalog entries the partition held. Waits until running puts and reads
/// have finished, and blocks new ones meanwhile.
///
/// The prefix is listed again after each round of deletes, and deleting
/// goes on until the listing is empty, at most [`ATTEMPTS`] rounds. When it
/// fails, the packs already deleted are gone from the catalog, the others
/// stay readable, and a second call deletes the rest.
pub(crate) async fn delete_partition(
    inner: &Inner,
    partition: &Partition,
) -> Result<u64, StorageError> {
    let _guard = inner.partition_guard.write().await;
    let prefix = inner.layout.partition(partition);
    let target = inner.display_prefix(&prefix);

    let mut removed = 0;
    let mut deleted_objects = 0;
    let mut round = 1;
    loop {
        let keys: Vec<Path> = request::list(inner, &prefix, &target)
            .await?
            .into_iter()
            .map(|meta| meta.location)
            .collect();
        if keys.is_empty() {
            break;
        }
        if round > ATTEMPTS {
            return Err(StorageError::Other {
                backend: crate::error::BACKEND,
                source: format!(
                    "DELETE {target} failed: {} objects remain after {ATTEMPTS} rounds of deletes; run the deletion again",
                    keys.len()
                )
                .into(),
            });
        }
        Counters::add(&inner.counters.deleted, keys.len() as u64);
        let locations = futures_util::stream::iter(keys.into_iter().map(Ok)).boxed();
        let results: Vec<_> = inner.store.delete_stream(locations).collect().await;
        let mut failure = None;
        for result in results {
            match result {
                Ok(key) => {
                    removed += inner.catalog().remove_pack(partition, &key);
                    deleted_objects += 1;
                }
                Err(error) => failure = Some(RequestError::new("DELETE", target.clone(), error)),
            }
        }
        if let Some(error) = failure {
            if !error.is_retryable() || round == ATTEMPTS {
                return Err(error.into());
            }
            tracing::info!(partition = %partition, round, %error, "deleting partition objects failed; retrying");
            tokio::time::sleep(std::time::Duration::from_millis(100 * u64::from(round))).await;
        }
        round += 1;
    }

    // Packs the catalog knew but the listing did not show were removed by
    // someone else; they are gone all the same.
    removed += {
        let mut catalog = inner.catalog();
        catalog.forget_damage_in(partition);
        catalog.remove_partition(partition)
    };
    let cache = inner.cache.clone();
    let _ = tokio::task::spawn_blocking(move || cache.remove_prefix(&prefix)).await;
    tracing::info!(%partition, messages = removed, objects = deleted_objects, "deleted partition");
    Ok(removed)
}
