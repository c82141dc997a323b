//! Behaviour against a real S3-compatible server (s3s-fs) that the
//! conformance suite does not reach: listings longer than one page.
//!
//! Needs the feature `server-tests` and the server that
//! scripts/with-s3s.sh starts.

#![cfg(feature = "server-tests")]

mod support;

use archive_core::testing::storage::{entries, partition};
use archive_core::{ArchiveId, Storage};
use archive_s3::S3Storage;
use support::server::{Server, unique_prefix};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopen_lists_more_than_one_page() {
    let server = Server::shared();
    let config = server.config(&unique_prefix("pages"));
    let cache = tempfile::tempdir().unwrap();
    let day = partition("default", 4);

    // S3 returns at most 1,000 keys per LIST request.
    let packs = 1_100;
    let mut expected: Vec<ArchiveId> = Vec::with_capacity(packs * 2);
    {
        let storage = S3Storage::open(&config, None).await.unwrap();
        for n in 0..packs {
            let batch = entries(&format!("page{n}"), 2);
            expected.extend(batch.iter().map(|entry| entry.info.id));
            storage.put(&day, batch).await.unwrap();
        }
    }

    let storage = S3Storage::open(&config, Some(cache.path().to_path_buf()))
        .await
        .unwrap();
    let listed: Vec<ArchiveId> = storage
        .list(&day)
        .await
        .unwrap()
        .iter()
        .map(|entry| entry.info.id)
        .collect();
    assert_eq!(listed.len(), packs * 2, "every entry of every pack");
    assert_eq!(listed, expected, "store order");
    assert_eq!(
        storage.stats().get_requests,
        packs as u64,
        "one footer GET per pack on a cold cache"
    );
}
