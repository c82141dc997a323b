//! The `Archive` engine on `S3Storage` over object_store's in-memory store:
//! what the mover sends to storage.

mod support;

use std::sync::Arc;
use std::time::Duration;

use archive_core::{Archive, ArchiveId, ArchiveOptions, RecordMeta, Source};
use support::mail::message;
use support::memory::MemoryFixture;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_pack_costs_one_put() {
    let fixture = MemoryFixture::new();
    let storage = Arc::new(fixture.open_s3().await);
    let journal = tempfile::tempdir().unwrap();
    let options = ArchiveOptions {
        pack_max_messages: 500,
        dictionary_training_messages: 0,
        ..ArchiveOptions::default()
    };
    let archive = Archive::builder(storage.clone(), journal.path())
        .options(options)
        .open()
        .await
        .unwrap();

    // 3,000 messages over three days: 1,000 per partition, two packs each.
    let mut ids = Vec::new();
    for n in 0..3000 {
        let receipt = archive
            .record(message(n), RecordMeta::new(Source::App))
            .await
            .unwrap();
        ids.push(receipt.id);
    }
    archive.close(Duration::from_secs(60)).await.unwrap();

    let stats = storage.stats();
    assert_eq!(stats.packs_stored, 6);
    assert_eq!(stats.put_requests, 6, "one PUT per pack");
    assert_eq!(stats.list_requests, 2, "the LISTs of open only");
    for (n, id) in ids.iter().enumerate() {
        let stored = archive_core::Storage::get(storage.as_ref(), id)
            .await
            .unwrap();
        assert_eq!(stored.info.id, *id, "message {n}");
    }
    assert_eq!(
        ids.iter()
            .collect::<std::collections::HashSet<&ArchiveId>>()
            .len(),
        3000
    );
}
