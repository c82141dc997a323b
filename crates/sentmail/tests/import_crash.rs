//! Kill -9 `sentmail import` in the middle of an mbox, import again, and
//! check that every message is archived exactly once.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use archive_core::ArchiveId;
use support::ids_in_packs;

mod support;

const MESSAGES: usize = 4000;
const KILLS: u64 = 3;

/// Writes an mbox of `MESSAGES` distinct messages made from the synthetic
/// sample and returns the ids they must get.
fn write_mbox(path: &Path) -> BTreeSet<ArchiveId> {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/synthetic-sample");
    let mut bases: Vec<Vec<u8>> = std::fs::read_dir(&sample)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
        .map(|path| std::fs::read(path).unwrap())
        .collect();
    bases.sort();

    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut ids = BTreeSet::new();
    for number in 0..MESSAGES {
        let mut message = format!("X-Test-Copy: {number}\r\n").into_bytes();
        message.extend_from_slice(&bases[number % bases.len()]);
        ids.insert(ArchiveId::of(&message));
        out.write_all(b"From shop@example.jp Fri Dec  4 19:20:05 2026\n")
            .unwrap();
        out.write_all(&message).unwrap();
        out.write_all(b"\n").unwrap();
    }
    out.flush().unwrap();
    ids
}

fn import(data: &Path, mbox: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sentmail"));
    command
        .arg("--data")
        .arg(data)
        .arg("import")
        .arg("--json")
        .arg(mbox);
    command
}

#[test]
fn killed_import_resumes_without_loss_or_duplicates() {
    let work = tempfile::tempdir().unwrap();
    let mbox = work.path().join("corpus.mbox");
    let data = work.path().join("data");
    let expected = write_mbox(&mbox);
    assert_eq!(expected.len(), MESSAGES, "the corpus messages are distinct");

    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    eprintln!("kill delays derived from seed {seed}");
    for round in 0..KILLS {
        let mut child = import(&data, &mbox)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let delay = Duration::from_millis(150 + (seed >> (round * 8)) % 700);
        std::thread::sleep(delay);
        child.kill().unwrap();
        let status = child.wait().unwrap();
        eprintln!("round {round}: killed after {delay:?}: {status}");
    }

    let output = import(&data, &mbox).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["messages"], MESSAGES);
    assert_eq!(summary["failed"], 0);
    let stored = summary["stored"].as_u64().unwrap();
    let before = summary["already_archived"].as_u64().unwrap();
    eprintln!("final import: {stored} stored, {before} already archived by the killed runs");
    assert_eq!(stored + before, MESSAGES as u64);

    let in_packs = ids_in_packs(&data);
    let unique: BTreeSet<ArchiveId> = in_packs.iter().copied().collect();
    assert_eq!(unique.len(), in_packs.len(), "no message is stored twice");
    assert_eq!(
        unique, expected,
        "exactly the messages of the mbox are stored"
    );

    let verify = Command::new(env!("CARGO_BIN_EXE_sentmail"))
        .arg("--data")
        .arg(&data)
        .arg("verify")
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}
