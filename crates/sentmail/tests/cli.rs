//! The `sentmail` binary end to end: import, show, list, verify and reconcile.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn sentmail(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sentmail"))
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .expect("run sentmail")
}

fn testdata(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(relative)
}

fn stdout_json(output: &Output) -> Value {
    let text = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {text}"))
}

fn import_json(data: &Path, paths: &[&Path], extra: &[&str]) -> (Output, Value) {
    let mut args = vec!["import", "--json"];
    args.extend_from_slice(extra);
    let paths: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    args.extend(paths.iter().map(String::as_str));
    let output = sentmail(data, &args);
    let summary = stdout_json(&output);
    (output, summary)
}

#[test]
fn real_corpus_imports_without_failures() {
    let data = tempfile::tempdir().unwrap();
    let corpus = testdata("real");

    let (output, summary) = import_json(data.path(), &[&corpus], &[]);
    assert!(output.status.success(), "import failed: {summary}");
    assert_eq!(summary["files"], 966, "every file is read");
    assert_eq!(summary["messages"], 1002, "mbox files count each message");
    assert_eq!(summary["failed"], 0, "failures: {}", summary["failures"]);
    assert_eq!(summary["stored"], 938);
    assert_eq!(
        summary["already_archived"], 64,
        "identical files are stored once"
    );

    let (again_output, again) = import_json(data.path(), &[&corpus], &[]);
    assert!(again_output.status.success());
    assert_eq!(again["stored"], 0, "a second import stores nothing");
    assert_eq!(again["already_archived"], 1002);

    let verify = sentmail(data.path(), &["verify"]);
    let text = String::from_utf8_lossy(&verify.stdout);
    assert!(verify.status.success(), "verify failed: {text}");
    assert!(
        text.contains("Checked 938 messages: no damage found."),
        "{text}"
    );
}

#[test]
fn bad_inputs_are_reported_and_import_goes_on() {
    let data = tempfile::tempdir().unwrap();
    let inputs = tempfile::tempdir().unwrap();
    let dir = inputs.path();
    std::fs::write(dir.join("empty.eml"), b"").unwrap();
    std::fs::write(dir.join("image.png"), b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap();
    std::fs::write(
        dir.join("big.eml"),
        format!("Subject: big\r\n\r\n{}", "x".repeat(5000)),
    )
    .unwrap();
    std::fs::write(dir.join("good.eml"), b"Subject: good\r\n\r\nfine\r\n").unwrap();
    std::fs::write(dir.join("no-headers.txt"), b"just a note without headers\n").unwrap();
    std::os::unix::fs::symlink(dir.join("missing-target.eml"), dir.join("dangling.eml")).unwrap();
    let missing = dir.join("does-not-exist");

    let (output, summary) = import_json(data.path(), &[dir, &missing], &["--max-size", "4KB"]);
    assert_eq!(
        output.status.code(),
        Some(3),
        "exit status 3 when some inputs failed"
    );
    assert_eq!(
        summary["stored"], 2,
        "good.eml and no-headers.txt are archived"
    );
    assert_eq!(summary["failed"], 5);

    let failures = summary["failures"].as_array().unwrap();
    let reason = |name: &str| -> String {
        failures
            .iter()
            .find(|f| f["file"].as_str().unwrap().ends_with(name))
            .unwrap_or_else(|| panic!("no failure for {name}: {failures:?}"))["reason"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(reason("empty.eml").contains("file is empty"));
    assert_eq!(
        reason("image.png"),
        "not an e-mail message: it is a PNG file"
    );
    assert!(
        reason("big.eml").contains("exceeds the maximum of 4000 bytes"),
        "{}",
        reason("big.eml")
    );
    assert!(reason("big.eml").contains("--max-size"), "the fix is named");
    assert!(
        reason("dangling.eml").contains("not found"),
        "{}",
        reason("dangling.eml")
    );
    assert!(
        reason("does-not-exist").contains("not found"),
        "{}",
        reason("does-not-exist")
    );
    assert_eq!(summary["flag_counts"]["no_headers"], 1);
}

#[test]
fn show_prints_decoded_message_and_raw_bytes() {
    let data = tempfile::tempdir().unwrap();
    let case = testdata("cases/01-multibyte-split-across-encoding-chunks/input.eml");
    let (output, _) = import_json(data.path(), &[&case], &[]);
    assert!(output.status.success());

    let shown = sentmail(
        data.path(),
        &[
            "show",
            "--message-id",
            "<case01-20261204-0001@shop.example.jp>",
            "--json",
        ],
    );
    assert!(
        shown.status.success(),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    let message = stdout_json(&shown);
    assert_eq!(
        message["subject"],
        "【発送完了】ご注文の商品を発送しました（注文番号 A-20261204-0001）"
    );
    assert_eq!(message["from"]["name"], "サンプル商店 カスタマーサポート");
    assert_eq!(message["from"]["address"], "support@shop.example.jp");
    assert_eq!(message["to"][0]["address"], "hoge.123@example.com");
    assert_eq!(message["date"], "2026-12-04T10:20:00Z");
    assert_eq!(
        message["message_id"],
        "case01-20261204-0001@shop.example.jp"
    );
    assert_eq!(message["html"], Value::Null);
    assert!(
        message["text"]
            .as_str()
            .unwrap()
            .contains("お届け予定日：2026年12月6日")
    );
    assert_eq!(message["attachments"], serde_json::json!([]));
    assert_eq!(message["meta"]["source"], "import");

    let id = message["id"].as_str().unwrap();
    let raw = sentmail(data.path(), &["show", &id[..12], "--raw"]);
    assert!(raw.status.success());
    assert_eq!(
        raw.stdout,
        std::fs::read(&case).unwrap(),
        "--raw gives the original bytes"
    );

    let text = sentmail(data.path(), &["show", id]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("From:       サンプル商店 カスタマーサポート <support@shop.example.jp>"),
        "{text}"
    );
}

#[test]
fn list_is_newest_first_with_paging() {
    let data = tempfile::tempdir().unwrap();
    let names = [
        "a-two-digit-year",
        "b-asctime-no-zone",
        "c-missing",
        "d-no-weekday-comment",
        "e-empty-garbage",
    ];
    let files: Vec<PathBuf> = names
        .iter()
        .map(|name| testdata(&format!("cases/14-date-header-variants/{name}.eml")))
        .collect();
    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let (output, _) = import_json(data.path(), &paths, &[]);
    assert!(output.status.success());

    let listed = sentmail(
        data.path(),
        &["list", "--json", "--limit", "3", "--offset", "1"],
    );
    assert!(listed.status.success());
    let lines: Vec<Value> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let dates: Vec<&str> = lines
        .iter()
        .map(|line| line["date"].as_str().unwrap())
        .collect();
    let subjects: Vec<&str> = lines
        .iter()
        .map(|line| line["subject"].as_str().unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(
        dates,
        vec![
            "2026-12-04T10:33:05Z",
            "2026-12-04T10:33:00Z",
            "2026-12-04T10:33:00Z"
        ]
    );
    assert!(
        subjects[0].ends_with("c-missing") || subjects[0].ends_with("e-empty-garbage"),
        "{subjects:?}"
    );
    for line in &lines {
        assert!(line["id"].as_str().unwrap().len() == 64);
        assert!(line["subject"].is_string());
    }
}

#[test]
fn unknown_id_is_a_clear_error() {
    let data = tempfile::tempdir().unwrap();
    let output = sentmail(data.path(), &["show", "0123456789abcdef"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no archived message has an id starting with 0123456789abcdef"),
        "{stderr}"
    );
}

#[test]
fn search_finds_partial_addresses_and_japanese() {
    let data = tempfile::tempdir().unwrap();
    let case = |name: &str| {
        testdata(&format!(
            "cases/16-search-address-partial-case-plus/{name}.eml"
        ))
    };
    let files = [case("msg-A"), case("msg-B"), case("msg-C"), case("msg-D")];
    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let (output, _) = import_json(data.path(), &paths, &[]);
    assert!(output.status.success());

    let count = |query: &str| -> String {
        let output = sentmail(data.path(), &["search", "--count", "--", query]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };
    assert_eq!(count("to:hoge.12"), "3");
    assert_eq!(count("HOGE.123@EXAMPLE.COM"), "2");
    assert_eq!(count("returns"), "1");
    assert_eq!(count("山田"), "1");
    assert_eq!(count("-hoge"), "1", "a leading '-' works after '--'");

    let json = sentmail(data.path(), &["search", "to:hoge.1234", "--json"]);
    let lines: Vec<Value> = String::from_utf8_lossy(&json.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["to"][0]["address"], "hoge.1234@example.org");
    assert_eq!(lines[0]["id"].as_str().unwrap().len(), 64);
    for key in ["message_id", "date", "from", "subject", "kind"] {
        assert!(lines[0].get(key).is_some(), "hit has {key}");
    }
    assert!(String::from_utf8_lossy(&json.stderr).contains("1 message matches"));

    let bad = sentmail(data.path(), &["search", "\"unclosed"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("never closed"));
}

#[test]
fn reindex_rebuilds_a_removed_index() {
    let data = tempfile::tempdir().unwrap();
    let case = |name: &str| {
        testdata(&format!(
            "cases/17-search-japanese-without-spaces/{name}.eml"
        ))
    };
    let files = [case("msg-A"), case("msg-B"), case("msg-C")];
    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let (output, _) = import_json(data.path(), &paths, &[]);
    assert!(output.status.success());
    std::fs::remove_dir_all(data.path().join("index")).unwrap();

    let empty = sentmail(data.path(), &["search", "--count", "発送"]);
    assert_eq!(String::from_utf8_lossy(&empty.stdout).trim(), "0");
    let rebuilt = sentmail(data.path(), &["reindex"]);
    assert!(rebuilt.status.success());
    assert!(String::from_utf8_lossy(&rebuilt.stdout).contains("Indexed"));
    let found = sentmail(data.path(), &["search", "--count", "商品を発送"]);
    assert_eq!(String::from_utf8_lossy(&found.stdout).trim(), "1");
}

/// Records one message per key through the library, as the shop's
/// application does, into the archive in `data`, and closes it.
fn record_with_keys(data: &Path, keys: &[&str]) {
    use archive_core::{Archive, RecordMeta, Source};

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let storage = archive_fs::FsStorage::open(data).await.unwrap();
        let archive = Archive::builder(std::sync::Arc::new(storage), data.join("journal"))
            .open()
            .await
            .unwrap();
        for key in keys {
            let raw = format!(
                "From: shop@example.jp\r\nTo: customer@example.com\r\n\
                 Subject: {key}\r\nMessage-ID: <{key}@shop.example.jp>\r\n\r\nThank you.\r\n"
            );
            let meta = RecordMeta::new(Source::App).with_idempotency_key(*key);
            archive.record(raw.into_bytes(), meta).await.unwrap();
        }
        archive
            .close(std::time::Duration::from_secs(60))
            .await
            .unwrap();
    });
}

/// Runs sentmail with `input` on standard input.
fn sentmail_with_input(data: &Path, args: &[&str], input: &str) -> Output {
    use std::io::Write;
    use std::process::Stdio;

    let mut child = Command::new(env!("CARGO_BIN_EXE_sentmail"))
        .arg("--data")
        .arg(data)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sentmail");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stdout_text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn reconcile_lists_missing_keys() {
    let data = tempfile::tempdir().unwrap();
    record_with_keys(data.path(), &["order-1", "order-2", "order-4"]);
    let inputs = tempfile::tempdir().unwrap();
    let keys = inputs.path().join("keys.txt");
    std::fs::write(
        &keys,
        "# sent 2026-12-01\norder-1\norder-2\norder-3\n\norder-4\norder-3\n",
    )
    .unwrap();

    let output = sentmail(data.path(), &["reconcile", keys.to_str().unwrap()]);
    assert_eq!(
        stdout_text(&output),
        "all time: expected 4, archived 3, missing 1\n  order-3\n"
    );
    assert_eq!(output.status.code(), Some(1), "exit status 1 when missing");

    std::fs::write(&keys, "order-4\norder-1\n").unwrap();
    let output = sentmail(data.path(), &["reconcile", keys.to_str().unwrap()]);
    assert_eq!(
        stdout_text(&output),
        "all time: expected 2, archived 2, missing 0\n"
    );
    assert_eq!(output.status.code(), Some(0), "exit status 0 when complete");
}

const WINDOWS: &str = r#"{"after": "2026-12-01", "before": "2026-12-02", "keys": ["order-1", "order-3"]}
{"count": 3}
{"after": "2000-01-01", "count": 5}
"#;

#[test]
fn reconcile_reads_windows_from_stdin() {
    let data = tempfile::tempdir().unwrap();
    record_with_keys(data.path(), &["order-1", "order-2", "order-4"]);
    let case = testdata("cases/01-multibyte-split-across-encoding-chunks/input.eml");
    let (imported, _) = import_json(data.path(), &[&case], &[]);
    assert!(imported.status.success(), "imported mail does not count");

    let output = sentmail_with_input(data.path(), &["reconcile", "-"], WINDOWS);
    assert_eq!(
        stdout_text(&output),
        "2026-12-01T00:00:00+09:00 .. 2026-12-02T00:00:00+09:00: expected 2, archived 1, missing 1\n\
         \x20 order-3\n\
         all time: expected 3, archived 3, missing 0\n\
         2000-01-01T00:00:00+09:00 .. (no end): expected 5, archived 3, missing 2\n"
    );
    assert_eq!(output.status.code(), Some(1));

    let output = sentmail_with_input(data.path(), &["reconcile", "--json", "-"], WINDOWS);
    let lines: Vec<Value> = stdout_text(&output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(
        lines,
        [
            serde_json::json!({
                "after": "2026-11-30T15:00:00Z", "before": "2026-12-01T15:00:00Z",
                "expected": 2, "archived": 1, "missing": 1, "extra": 0,
                "missing_keys": ["order-3"],
            }),
            serde_json::json!({
                "after": null, "before": null,
                "expected": 3, "archived": 3, "missing": 0, "extra": 0,
                "missing_keys": null,
            }),
            serde_json::json!({
                "after": "1999-12-31T15:00:00Z", "before": null,
                "expected": 5, "archived": 3, "missing": 2, "extra": 0,
                "missing_keys": null,
            }),
        ]
    );
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn reconcile_count_options() {
    let data = tempfile::tempdir().unwrap();
    record_with_keys(data.path(), &["order-1", "order-2"]);

    let output = sentmail(
        data.path(),
        &[
            "reconcile",
            "--count",
            "1",
            "--after",
            "2000-01-01T00:00:00Z",
        ],
    );
    assert_eq!(
        stdout_text(&output),
        "2000-01-01T09:00:00+09:00 .. (no end): expected 1, archived 2, missing 0, extra 1\n",
        "text output shows times in JST"
    );
    assert_eq!(output.status.code(), Some(0), "extra mail is not missing");

    let output = sentmail(
        data.path(),
        &["reconcile", "--count", "4", "--before", "2000-01-01"],
    );
    assert_eq!(
        stdout_text(&output),
        "(no start) .. 2000-01-01T00:00:00+09:00: expected 4, archived 0, missing 4\n"
    );
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn reconcile_bad_input_exits_2() {
    let data = tempfile::tempdir().unwrap();
    let inputs = tempfile::tempdir().unwrap();
    let file = inputs.path().join("windows.jsonl");
    std::fs::write(
        &file,
        "{\"count\": 1}\n{\"after\": \"yesterday\", \"count\": 2}\n",
    )
    .unwrap();

    let output = sentmail(data.path(), &["reconcile", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("windows.jsonl line 2: invalid \"after\" value \"yesterday\""),
        "{stderr}"
    );
    assert_eq!(stdout_text(&output), "", "nothing is reported");

    let missing = inputs.path().join("missing.txt");
    let output = sentmail(data.path(), &["reconcile", missing.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("missing.txt failed"), "{stderr}");

    let output = sentmail(data.path(), &["reconcile", "--after", "2026-12-01"]);
    assert_eq!(output.status.code(), Some(2), "usage error from clap");
}
