//! Loading the real-world messages under `testdata/real/`, shared by the
//! unit and integration tests.

use std::path::{Path, PathBuf};

/// Returns every message under `testdata/real/` with a label naming its
/// file (and its index inside an mbox file). The `*.mbox.txt` files are
/// split on their `From ` separator lines.
pub fn real_messages() -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/real");
    let mut messages = Vec::new();
    for path in files_below(&root) {
        let label = path
            .strip_prefix(&root)
            .unwrap_or(&path)
            .to_string_lossy()
            .into_owned();
        let raw = std::fs::read(&path).expect("test file is readable");
        if label.ends_with(".mbox.txt") {
            for (index, message) in split_mbox(&raw).into_iter().enumerate() {
                messages.push((format!("{label}#{index}"), message));
            }
        } else {
            messages.push((label, raw));
        }
    }
    messages
}

fn files_below(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("test data directory is readable") {
            let path = entry.expect("directory entry is readable").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Splits an mbox file on lines that start with `From `. The separator
/// lines are dropped, and text before the first one is ignored.
pub fn split_mbox(raw: &[u8]) -> Vec<Vec<u8>> {
    let mut messages = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    for line in raw.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b"From ") {
            messages.extend(current.take());
            current = Some(Vec::new());
        } else if let Some(message) = current.as_mut() {
            message.extend_from_slice(line);
        }
    }
    messages.extend(current);
    messages
}
