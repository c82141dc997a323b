//! Crash test: a child process puts batches in a loop and is killed with
//! SIGKILL at a random moment. After each kill the parent reopens the
//! directory and checks that every put the child reported as returned is
//! fully readable, and that no pack is damaged.
//!
//! This target runs without the libtest harness. The same binary is the
//! child when `CHILD_DIR_ENV` is set. SIGKILL ends the process but not the
//! kernel, so this checks atomicity against process crashes. It does not
//! check that data survives a power loss, which needs the `fsync` calls
//! and a real power cut (or a fault-injecting block device) to test.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use archive_core::testing::storage::{entry_for, partition};
use archive_core::{PackEntry, Partition, Storage};
use archive_fs::FsStorage;

mod common;
use common::files_below;

const CHILD_DIR_ENV: &str = "ARCHIVE_FS_CRASH_CHILD_DIR";
const CHILD_ROUND_ENV: &str = "ARCHIVE_FS_CRASH_ROUND";
const TEST_NAME: &str = "kill_during_puts";
/// Rounds of start, random wait and kill.
const ROUNDS: u32 = 10;
/// Upper bound of the random wait between the child's ready line and the kill.
const MAX_WAIT_MS: u64 = 200;
/// Puts a child makes before it stops by itself, so an orphan cannot run on.
const CHILD_MAX_PUTS: u32 = 2_000;
/// New messages per batch. Every fourth batch also replays the previous one.
const BATCH_LEN: usize = 50;
/// Size of each frame in bytes, about that of a compressed mail.
const FRAME_LEN: usize = 5_000;
/// Hang guard for a child that never reports ready, not a timing assertion.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

fn main() {
    if let Ok(dir) = std::env::var(CHILD_DIR_ENV) {
        let round = std::env::var(CHILD_ROUND_ENV)
            .expect("round set")
            .parse()
            .expect("round is a number");
        run_child(Path::new(&dir), round);
        return;
    }
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with('-'))
        .collect();
    if !filters.is_empty()
        && !filters
            .iter()
            .any(|filter| TEST_NAME.contains(filter.as_str()))
    {
        return;
    }
    let list_only = std::env::args().any(|arg| arg == "--list");
    if list_only {
        println!("{TEST_NAME}: test");
        return;
    }
    run_parent();
}

/// Returns message `i` of batch `n` in `round`. Storage treats frames as
/// opaque, so the frame is `FRAME_LEN` random-looking bytes derived from
/// those numbers instead of compressed mail. That keeps the child's time in
/// `put` rather than in compression.
fn message(round: u32, n: u32, i: usize) -> PackEntry {
    let message_id = format!("r{round}.b{n}.m{i}@example.com");
    let raw = format!("Message-ID: <{message_id}>\r\n\r\nbody\r\n");
    let mut entry = entry_for(raw.as_bytes(), Some(&message_id));
    let mut state = u64::from(round) << 48 ^ u64::from(n) << 16 ^ i as u64 ^ 0x9E37_79B9_7F4A_7C15;
    let frame: Vec<u8> = (0..FRAME_LEN)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    entry.frame = frame.into();
    entry
}

/// Returns batch `n` of `round`: its new messages, after a replay of batch
/// `n - 1` when `n % 4 == 3`, and the partition it goes to.
fn batch(round: u32, n: u32) -> (Partition, Vec<PackEntry>) {
    let mut entries = Vec::new();
    if n % 4 == 3 {
        entries.extend((0..BATCH_LEN).map(|i| message(round, n - 1, i)));
    }
    entries.extend((0..BATCH_LEN).map(|i| message(round, n, i)));
    (partition("default", 1 + n % 3), entries)
}

/// Opens the directory, prints `ready`, then puts batches and prints
/// `stored <round> <n>` after each put returns.
fn run_child(dir: &Path, round: u32) {
    let runtime = tokio::runtime::Runtime::new().expect("start Tokio runtime");
    runtime.block_on(async {
        let storage = FsStorage::open(dir)
            .await
            .expect("open FsStorage in the child");
        print_line("ready");
        for n in 0..CHILD_MAX_PUTS {
            let (day, entries) = batch(round, n);
            let len = entries.len();
            let outcome = storage.put(&day, entries).await.expect("put in the child");
            assert_eq!(
                outcome.stored + outcome.skipped,
                len,
                "every entry is stored or skipped"
            );
            print_line(&format!("stored {round} {n}"));
        }
    });
}

fn print_line(line: &str) {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}").expect("write to stdout");
    stdout.flush().expect("flush stdout");
}

fn run_parent() {
    let temp = tempfile::tempdir().expect("create temporary directory");
    let runtime = tokio::runtime::Runtime::new().expect("start Tokio runtime");
    let random = RandomState::new();
    let mut reported: Vec<(u32, u32)> = Vec::new();

    for round in 0..ROUNDS {
        let wait_ms = random.hash_one(round) % (MAX_WAIT_MS + 1);
        let mut child = spawn_child(temp.path(), round);
        let lines = read_lines(&mut child);
        wait_for_ready(&mut child, &lines);

        std::thread::sleep(Duration::from_millis(wait_ms));
        child.kill().expect("send SIGKILL to the child");
        let status = child.wait().expect("wait for the child");
        if status.code().is_some_and(|code| code != 0) {
            panic!(
                "child failed before the kill ({status}); its stderr:\n{}",
                read_stderr(&mut child)
            );
        }
        let stored = collect_stored(&lines);
        println!(
            "round {round}: killed after {wait_ms} ms ({status}), {} puts reported",
            stored.len()
        );
        reported.extend(stored);

        runtime.block_on(verify(temp.path(), &reported));
    }

    println!(
        "{TEST_NAME}: ok, {ROUNDS} rounds, {} puts checked",
        reported.len()
    );
}

fn spawn_child(dir: &Path, round: u32) -> Child {
    Command::new(std::env::current_exe().expect("path of the test binary"))
        .env(CHILD_DIR_ENV, dir)
        .env(CHILD_ROUND_ENV, round.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the child process")
}

/// Forwards the child's complete stdout lines through a channel. A line cut
/// off by the kill has no newline and is dropped.
fn read_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().expect("child stdout is piped");
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|read| read > 0) {
            if let Some(complete) = line.strip_suffix('\n')
                && sender.send(complete.to_owned()).is_err()
            {
                return;
            }
            line.clear();
        }
    });
    receiver
}

fn wait_for_ready(child: &mut Child, lines: &mpsc::Receiver<String>) {
    match lines.recv_timeout(READY_TIMEOUT) {
        Ok(line) if line == "ready" => {}
        other => {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "child did not report ready ({other:?}); its stderr:\n{}",
                read_stderr(child)
            );
        }
    }
}

fn read_stderr(child: &mut Child) -> String {
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    stderr
}

/// Returns the `(round, n)` of every `stored` line the child printed.
fn collect_stored(lines: &mpsc::Receiver<String>) -> Vec<(u32, u32)> {
    let mut stored = Vec::new();
    for line in lines.iter() {
        let fields: Vec<&str> = line.split(' ').collect();
        match fields.as_slice() {
            ["stored", round, n] => stored.push((round.parse().unwrap(), n.parse().unwrap())),
            _ => panic!("unexpected line from the child: {line:?}"),
        }
    }
    stored
}

/// Reopens the directory and checks every reported put, every listed
/// entry, the damage report and the absence of temporary files.
async fn verify(dir: &Path, reported: &[(u32, u32)]) {
    let storage = FsStorage::open(dir).await.expect("reopen after the kill");
    let damage = storage.damage().await.unwrap();
    assert!(
        damage.is_empty(),
        "no pack is damaged after a kill: {damage:?}"
    );
    let temp_files: Vec<PathBuf> = files_below(&dir.join("packs"))
        .into_iter()
        .filter(|path| path.extension().is_some_and(|ext| ext == "tmp"))
        .collect();
    assert!(
        temp_files.is_empty(),
        "open removed every temporary file: {temp_files:?}"
    );

    for &(round, n) in reported {
        let (day, entries) = batch(round, n);
        for expected in entries {
            let got = storage
                .get(&expected.info.id)
                .await
                .unwrap_or_else(|error| {
                    panic!(
                        "reported put {round}/{n} lost message {}: {error}",
                        expected.info.id
                    )
                });
            assert_eq!(got.info, expected.info, "facts of put {round}/{n}");
            assert_eq!(got.frame, expected.frame, "frame of put {round}/{n}");
        }
        assert!(storage.partitions().await.unwrap().contains(&day));
    }

    for day in storage.partitions().await.unwrap() {
        for listed in storage.list(&day).await.unwrap() {
            storage.get(&listed.info.id).await.unwrap_or_else(|error| {
                panic!("listed message {} is unreadable: {error}", listed.info.id)
            });
        }
    }
}
