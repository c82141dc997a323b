//! Kill -9 a process that is recording, then check after restart that
//! every message it acknowledged is archived, intact and stored once.
//!
//! The test re-runs its own binary as the child: the ignored test
//! `crash_child` records messages when `CRASH_CHILD_DIR` is set and prints
//! the number of each message whose `record` returned.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use archive_core::{Archive, ArchiveId, RecordMeta, Source};
use archive_fs::FsStorage;
use support::ids_in_packs;

mod support;

const ROUNDS: u64 = 6;
const CHILD_CALLERS: u64 = 8;

fn message(number: u64) -> Vec<u8> {
    let padding = "x".repeat((number % 13 * 700) as usize);
    format!(
        "From: shop@example.jp\r\nTo: customer{number}@example.com\r\n\
         Subject: crash test {number}\r\nDate: Fri, 04 Dec 2026 19:20:00 +0900\r\n\
         Message-ID: <crash-{number}@example.jp>\r\n\r\nbody {number}\r\n{padding}\r\n"
    )
    .into_bytes()
}

async fn open(dir: &Path) -> Archive {
    let storage = FsStorage::open(dir).await.expect("open storage");
    Archive::builder(Arc::new(storage), dir.join("journal"))
        .open()
        .await
        .expect("open archive")
}

/// The child: records messages from `CRASH_CHILD_START` upwards until it is
/// killed, printing the number of each message after `record` returned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by crash_kill_restart as a child process"]
async fn crash_child() {
    let dir = std::env::var("CRASH_CHILD_DIR").expect("CRASH_CHILD_DIR is set by the parent");
    let start: u64 = std::env::var("CRASH_CHILD_START").unwrap().parse().unwrap();
    let archive = open(Path::new(&dir)).await;
    let mut callers = Vec::new();
    for caller in 0..CHILD_CALLERS {
        let archive = archive.clone();
        callers.push(tokio::spawn(async move {
            // Bounded, although the parent kills the child long before.
            for round in 0..100_000 {
                let number = start + caller + round * CHILD_CALLERS;
                let meta = RecordMeta::new(Source::App);
                archive.record(message(number), meta).await.expect("record");
                println!("acked {number}");
            }
        }));
    }
    for caller in callers {
        caller.await.unwrap();
    }
}

fn spawn_child(dir: &Path, start: u64) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "crash_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("CRASH_CHILD_DIR", dir)
        .env("CRASH_CHILD_START", start.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child")
}

/// A small xorshift generator; the seed is printed so a failure can be rerun.
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_kill_restart() {
    let dir = tempfile::tempdir().unwrap();
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("crash test seed {seed} (set CRASH_SEED to repeat)");
    let mut random = seed;
    let mut acked = BTreeSet::new();

    for round in 0..ROUNDS {
        let start = round * 1_000_000;
        let mut child = spawn_child(dir.path(), start);
        let stdout = child.stdout.take().unwrap();
        let kill_after = Duration::from_millis(100 + next_random(&mut random) % 900);

        let reader = std::thread::spawn(move || {
            let mut numbers = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(number) = line.strip_prefix("acked ") {
                    numbers.push(number.parse::<u64>().unwrap());
                }
            }
            numbers
        });
        let deadline = Instant::now() + kill_after;
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        child.kill().expect("kill -9 the child");
        child.wait().unwrap();
        let round_acked = reader.join().unwrap();
        eprintln!(
            "round {round}: killed after {kill_after:?}, {} acknowledged",
            round_acked.len()
        );
        acked.extend(round_acked);

        let archive = open(dir.path()).await;
        for &number in &acked {
            let id = ArchiveId::of(&message(number));
            let raw = archive.get_raw(&id).await.unwrap_or_else(|e| {
                panic!("acknowledged message {number} missing after kill: {e}")
            });
            assert_eq!(&raw[..], &message(number)[..], "message {number} intact");
        }
        archive.close(Duration::from_secs(60)).await.unwrap();
    }

    assert!(
        acked.len() > 50,
        "the children recorded messages before the kills"
    );
    let stored = ids_in_packs(dir.path());
    let unique: BTreeSet<ArchiveId> = stored.iter().copied().collect();
    assert_eq!(
        unique.len(),
        stored.len(),
        "no message is stored twice in the packs"
    );
    for &number in &acked {
        assert!(
            unique.contains(&ArchiveId::of(&message(number))),
            "message {number} is in a pack"
        );
    }
    let archive = open(dir.path()).await;
    let report = archive.verify(|_, _| {}).await.unwrap();
    assert!(
        report.damaged.is_empty(),
        "damage after crashes: {:?}",
        report.damaged
    );
    archive.close(Duration::from_secs(60)).await.unwrap();
}
