use std::io::Write;

use chrono::{DateTime, NaiveDate};

use super::*;
use crate::ArchiveId;

fn partition() -> Partition {
    Partition::new("default", NaiveDate::from_ymd_opt(2026, 12, 4).unwrap()).unwrap()
}

fn info(n: u32) -> EntryInfo {
    EntryInfo {
        id: ArchiveId::of(&n.to_le_bytes()),
        date: DateTime::from_timestamp_millis(1_764_840_000_000).unwrap(),
        recorded_at: DateTime::from_timestamp_millis(1_764_840_000_500).unwrap(),
        raw_len: 1000,
        message_id: Some(format!("{n}@example.com")),
        idempotency_key: None,
        role: crate::EntryRole::Message,
        source: crate::Source::App,
    }
}

fn frame(n: u32) -> Vec<u8> {
    n.to_le_bytes().repeat(250)
}

fn small_segments() -> JournalOptions {
    JournalOptions {
        segment_bytes: 4096,
        ..JournalOptions::default()
    }
}

async fn append_many(journal: &Journal, range: std::ops::Range<u32>) -> Vec<JournalPos> {
    let mut positions = Vec::new();
    for n in range {
        positions.push(
            journal
                .append(&partition(), &info(n), &frame(n))
                .await
                .unwrap(),
        );
    }
    positions
}

fn replayed_ids(recovery: &Recovery) -> Vec<ArchiveId> {
    recovery.entries.iter().map(|entry| entry.info.id).collect()
}

#[tokio::test]
async fn append_then_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let (journal, recovery) = Journal::open(dir.path(), JournalOptions::default()).unwrap();
    assert!(recovery.entries.is_empty());

    let pos = journal
        .append(&partition(), &info(1), &frame(1))
        .await
        .unwrap();
    let (read_partition, read_info, read_frame) = journal.read(pos).unwrap();
    assert_eq!(read_partition, partition());
    assert_eq!(read_info, info(1));
    assert_eq!(&read_frame[..], &frame(1)[..]);
    assert_eq!(journal.sync_count(), 1);
}

#[tokio::test]
async fn reopen_replays_unreleased_entries_in_order() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (journal, _) = Journal::open(dir.path(), JournalOptions::default()).unwrap();
        append_many(&journal, 0..5).await;
    }

    let (_journal, recovery) = Journal::open(dir.path(), JournalOptions::default()).unwrap();
    let expected: Vec<ArchiveId> = (0..5).map(|n| info(n).id).collect();
    assert_eq!(replayed_ids(&recovery), expected);
    assert_eq!(recovery.torn_bytes, 0);
}

#[tokio::test]
async fn released_segments_are_deleted_and_not_replayed() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (journal, _) = Journal::open(dir.path(), small_segments()).unwrap();
        let positions = append_many(&journal, 0..20).await;
        assert!(journal.segment_count() > 2, "small segments rotate");
        for pos in positions {
            journal.release(pos);
        }
        assert_eq!(
            journal.segment_count(),
            1,
            "only the active segment is left"
        );
    }

    let (journal, recovery) = Journal::open(dir.path(), small_segments()).unwrap();
    assert!(
        recovery.entries.is_empty(),
        "released entries are not replayed"
    );
    assert_eq!(
        journal.used_bytes(),
        0,
        "the empty old active segment was deleted"
    );
}

#[tokio::test]
async fn torn_tail_is_cut_and_good_entries_survive() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (journal, _) = Journal::open(dir.path(), JournalOptions::default()).unwrap();
        append_many(&journal, 0..3).await;
    }
    let segment = segment_path(dir.path(), 1);
    let whole = encode_entry(&partition(), &info(99), &frame(99));
    let mut file = OpenOptions::new().append(true).open(&segment).unwrap();
    file.write_all(&whole[..whole.len() / 2]).unwrap();
    drop(file);

    let (_journal, recovery) = Journal::open(dir.path(), JournalOptions::default()).unwrap();
    let expected: Vec<ArchiveId> = (0..3).map(|n| info(n).id).collect();
    assert_eq!(replayed_ids(&recovery), expected);
    assert_eq!(recovery.torn_bytes, (whole.len() / 2) as u64);
    assert!(recovery.damaged.is_empty());
}

#[tokio::test]
async fn damaged_entry_is_skipped_and_segment_kept() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (journal, _) = Journal::open(dir.path(), JournalOptions::default()).unwrap();
        append_many(&journal, 0..3).await;
    }
    let segment = segment_path(dir.path(), 1);
    let mut data = std::fs::read(&segment).unwrap();
    let entry_len = encode_entry(&partition(), &info(0), &frame(0)).len();
    data[entry_len + 40] ^= 0xff;
    std::fs::write(&segment, &data).unwrap();

    let (journal, recovery) = Journal::open(dir.path(), JournalOptions::default()).unwrap();
    assert_eq!(replayed_ids(&recovery), vec![info(0).id, info(2).id]);
    assert_eq!(recovery.damaged.len(), 1);

    for entry in &recovery.entries {
        journal.release(entry.pos);
    }
    assert!(!segment.exists(), "the damaged segment is moved aside");
    assert!(
        segment.with_extension("damaged").exists(),
        "and kept for inspection"
    );
}

#[tokio::test]
async fn full_journal_rejects_until_released() {
    let dir = tempfile::tempdir().unwrap();
    let options = JournalOptions {
        max_bytes: 5000,
        segment_bytes: 2048,
        group_commit: true,
    };
    let (journal, _) = Journal::open(dir.path(), options).unwrap();
    let mut positions = Vec::new();
    let error = loop {
        let n = positions.len() as u32;
        match journal.append(&partition(), &info(n), &frame(n)).await {
            Ok(pos) => positions.push(pos),
            Err(error) => break error,
        }
        assert!(positions.len() < 100, "the limit must stop appends");
    };
    assert!(
        matches!(error, JournalError::Full { limit: 5000, .. }),
        "got {error:?}"
    );
    assert!(error.is_retryable());

    for pos in positions.drain(..) {
        journal.release(pos);
    }
    journal
        .append(&partition(), &info(500), &frame(500))
        .await
        .expect("room again after release");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_share_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let (journal, _) = Journal::open(dir.path(), JournalOptions::default()).unwrap();
    let journal = Arc::new(journal);

    let mut tasks = Vec::new();
    for task in 0..16u32 {
        let journal = journal.clone();
        tasks.push(tokio::spawn(async move {
            append_many(&journal, task * 100..task * 100 + 50).await
        }));
    }
    let mut positions = Vec::new();
    for task in tasks {
        positions.extend(task.await.unwrap());
    }

    assert_eq!(positions.len(), 800);
    let mut unique = positions.clone();
    unique.sort_by_key(|pos| (pos.segment, pos.offset));
    unique.dedup();
    assert_eq!(unique.len(), 800, "every append has its own position");
    assert!(
        journal.sync_count() < 800,
        "{} syncs for 800 concurrent appends",
        journal.sync_count()
    );
}

#[tokio::test]
async fn without_group_commit_every_append_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let options = JournalOptions {
        group_commit: false,
        ..JournalOptions::default()
    };
    let (journal, _) = Journal::open(dir.path(), options).unwrap();
    append_many(&journal, 0..10).await;
    assert_eq!(journal.sync_count(), 10);
}

#[tokio::test]
async fn second_open_of_same_directory_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let (_journal, _) = Journal::open(dir.path(), JournalOptions::default()).unwrap();
    let error = Journal::open(dir.path(), JournalOptions::default()).unwrap_err();
    assert!(
        matches!(error, JournalError::Locked { .. }),
        "got {error:?}"
    );
    assert!(error.to_string().contains("in use by another process"));
}

#[tokio::test]
async fn append_after_close_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (journal, _) = Journal::open(dir.path(), JournalOptions::default()).unwrap();
    journal.close();
    let error = journal
        .append(&partition(), &info(1), &frame(1))
        .await
        .unwrap_err();
    assert!(matches!(error, JournalError::Closed));
    assert_eq!(journal.used_bytes(), 0, "the reservation is returned");
}

#[tokio::test]
async fn close_unlocks_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (journal, _) = Journal::open(dir.path(), JournalOptions::default()).unwrap();
    journal.close();
    let (_reopened, _) = Journal::open(dir.path(), JournalOptions::default())
        .expect("a closed journal can be opened again while the first handle lives");
}
