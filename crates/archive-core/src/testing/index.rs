//! The index conformance suite: exact result sets for every rule of the
//! [`Index`](crate::search::Index) contract, checked against the reference
//! [`matches`](crate::search::matches).

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{FixedOffset, TimeZone, Utc};

use crate::search::{Index, IndexDocument, MemoryIndex, Query, matches, parse_query};
use crate::{ArchiveId, ParseOptions, RecordMeta, parse_message};

/// Opens the index under test. A second `open` on the same fixture must
/// reach the same committed documents, as a process restart would.
#[async_trait]
pub trait IndexFixture: Send + Sync {
    /// Opens (or reopens) the index.
    async fn open(&self) -> Arc<dyn Index>;
}

/// The fixture for [`MemoryIndex`]: every `open` returns the same instance.
#[derive(Debug, Default)]
pub struct MemoryIndexFixture {
    index: Arc<MemoryIndex>,
}

#[async_trait]
impl IndexFixture for MemoryIndexFixture {
    async fn open(&self) -> Arc<dyn Index> {
        self.index.clone()
    }
}

macro_rules! case_file {
    ($path:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/cases/",
            $path
        ))
    };
}

/// Parses a test message into its index document.
pub fn document_of(raw: &[u8]) -> IndexDocument {
    let recorded_at = Utc.with_ymd_and_hms(2026, 12, 5, 0, 0, 0).unwrap();
    let message = parse_message(
        raw,
        &RecordMeta::default(),
        recorded_at,
        &ParseOptions::default(),
    );
    IndexDocument::from_message(&message)
}

fn jst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("valid offset")
}

/// A document with a label, for readable failures.
struct Labeled {
    label: &'static str,
    document: IndexDocument,
}

fn labeled(files: &[(&'static str, &[u8])]) -> Vec<Labeled> {
    files
        .iter()
        .map(|(label, raw)| Labeled {
            label,
            document: document_of(raw),
        })
        .collect()
}

async fn load(index: &dyn Index, documents: &[Labeled]) {
    let batch = documents
        .iter()
        .map(|entry| entry.document.clone())
        .collect();
    index.add(batch).await.expect("add");
    index.commit().await.expect("commit");
}

/// Runs `query` and returns the labels of the hits, sorted.
async fn labels(index: &dyn Index, documents: &[Labeled], query: &str) -> Vec<&'static str> {
    let parsed = parse_query(query, jst()).unwrap_or_else(|e| panic!("query {query:?}: {e}"));
    let page = index.search(&parsed, 0, 1000).await.expect("search");
    let mut found: Vec<&'static str> = page
        .hits
        .iter()
        .map(|hit| {
            documents
                .iter()
                .find(|entry| entry.document.id == hit.id)
                .map_or("unknown", |entry| entry.label)
        })
        .collect();
    assert_eq!(
        page.total as usize,
        found.len(),
        "total of {query:?} counts the hits"
    );
    found.sort_unstable();
    let unique: BTreeSet<&str> = found.iter().copied().collect();
    assert_eq!(
        unique.len(),
        found.len(),
        "{query:?} returned a message twice: {found:?}"
    );
    found
}

async fn check_table(index: &dyn Index, documents: &[Labeled], table: &[(&str, &[&'static str])]) {
    for (query, expected) in table {
        assert_eq!(
            labels(index, documents, query).await,
            *expected,
            "query {query:?}"
        );
    }
}

/// Partial, case-folded and sub-addressed recipients, with and without
/// `to:`.
pub async fn address_substrings(fixture: &dyn IndexFixture) {
    let index = fixture.open().await;
    let documents = labeled(&[
        (
            "A",
            case_file!("16-search-address-partial-case-plus/msg-A.eml"),
        ),
        (
            "B",
            case_file!("16-search-address-partial-case-plus/msg-B.eml"),
        ),
        (
            "C",
            case_file!("16-search-address-partial-case-plus/msg-C.eml"),
        ),
        (
            "D",
            case_file!("16-search-address-partial-case-plus/msg-D.eml"),
        ),
    ]);
    load(index.as_ref(), &documents).await;
    let table: &[(&str, &[&str])] = &[
        ("hoge.12", &["A", "B", "C"]),
        ("hoge.123", &["A", "B", "C"]),
        ("hoge.1234", &["C"]),
        ("hoge.123@example.com", &["A", "B"]),
        ("HOGE.123@EXAMPLE.COM", &["A", "B"]),
        ("example.com", &["A", "B", "D"]),
        ("@example.org", &["C"]),
        ("4@example", &["C"]),
        ("returns", &["B"]),
        ("shop-support", &["D"]),
        ("山田", &["B"]),
        ("hoge", &["A", "B", "C"]),
    ];
    check_table(index.as_ref(), &documents, table).await;
    for (query, expected) in table {
        let restricted = format!("to:{query}");
        assert_eq!(
            labels(index.as_ref(), &documents, &restricted).await,
            *expected,
            "{restricted}"
        );
    }
}

/// Japanese substrings without spaces, AND of terms, no over-matching.
pub async fn japanese_substrings(fixture: &dyn IndexFixture) {
    let index = fixture.open().await;
    let documents = labeled(&[
        (
            "A",
            case_file!("17-search-japanese-without-spaces/msg-A.eml"),
        ),
        (
            "B",
            case_file!("17-search-japanese-without-spaces/msg-B.eml"),
        ),
        (
            "C",
            case_file!("17-search-japanese-without-spaces/msg-C.eml"),
        ),
    ]);
    load(index.as_ref(), &documents).await;
    let table: &[(&str, &[&str])] = &[
        ("発送", &["A"]),
        ("商品を発送", &["A"]),
        ("送し", &["A"]),
        ("注文", &["A", "B"]),
        ("商品", &["A", "B"]),
        ("サンプル運輸", &["A"]),
        ("運輸", &["A"]),
        ("A1234", &["A"]),
        ("注文番号", &["A"]),
        ("返品", &["C"]),
        ("お知らせ", &["B", "C"]),
        ("準備ができ次第", &["B"]),
        ("12月10日", &["C"]),
        ("発", &["A"]),
        ("商品 発送", &["A"]),
        ("発注", &[]),
        ("送品", &[]),
    ];
    check_table(index.as_ref(), &documents, table).await;
}

/// Full-width and half-width forms and enclosed characters fold together.
pub async fn width_folding(fixture: &dyn IndexFixture) {
    let index = fixture.open().await;
    let documents = labeled(&[
        (
            "A",
            case_file!("18-search-fullwidth-halfwidth-normalization/msg-A.eml"),
        ),
        (
            "B",
            case_file!("18-search-fullwidth-halfwidth-normalization/msg-B.eml"),
        ),
    ]);
    load(index.as_ref(), &documents).await;
    let table: &[(&str, &[&str])] = &[
        ("ABC-1234", &["A"]),
        ("abc-1234", &["A"]),
        ("ＡＢＣ－１２３４", &["A"]),
        ("1234", &["A"]),
        ("サンプルショップ", &["A", "B"]),
        ("ｻﾝﾌﾟﾙｼｮｯﾌﾟ", &["A", "B"]),
        ("メール便", &["A"]),
        ("ﾒｰﾙ便", &["A"]),
        ("㈱サンプル", &["A"]),
        ("(株)サンプル", &["A"]),
        ("株式会社サンプル", &["B"]),
        ("XYZ-9999", &["B"]),
        ("ｘｙｚ－９９９９", &["B"]),
        ("ＸＹＺ", &["B"]),
    ];
    check_table(index.as_ref(), &documents, table).await;
}

/// Text decoded from tricky encodings is found, each case in its own
/// index.
pub async fn decoded_text_is_searchable(fixture: &dyn IndexFixture) {
    let cases: &[(&[u8], &[&str])] = &[
        (
            case_file!("01-multibyte-split-across-encoding-chunks/input.eml"),
            &[
                "発送しました",
                "サンプル商店",
                "カスタマーサポート",
                "2026年12月6日",
                "A-20261204-0001",
            ],
        ),
        (
            case_file!("03-iso2022jp-nec-special-chars/input.eml"),
            &["㈱サンプル商店", "サンプル急須", "ご注文内容のご確認"],
        ),
        (
            case_file!("04-iso2022jp-halfwidth-katakana/input.eml"),
            &["ｻﾝﾌﾟﾙﾀｵﾙ", "サンプルタオル", "メール便"],
        ),
        (
            case_file!("05-shiftjis-label-cp932-chars-in-filename/input.eml"),
            &["髙品質ソファ", "㈱サンプル家具", "attachment:ご注文明細表"],
        ),
        (
            case_file!("07-iso2022jp-body-without-charset/input.eml"),
            &["返品受付番号", "カスタマーサポート", "R-20261204-0007"],
        ),
        (
            case_file!("08-raw-utf8-bytes-in-headers/input.eml"),
            &[
                "\"注文番号 A-20261204-0008\"",
                "サンプル商店",
                "\"山田 太郎\"",
                "from:サンプル商店",
            ],
        ),
        (
            case_file!("09-bare-lf-line-endings/input.eml"),
            &["合計金額"],
        ),
        (
            case_file!("10-missing-closing-boundary/input.eml"),
            &["納品書をお送りいたします"],
        ),
        (
            case_file!("11-alternative-with-related-inline-images/input.eml"),
            &["領収書を添付いたします", "attachment:領収書.pdf"],
        ),
        (
            case_file!("12-base64-with-non-alphabet-characters/input.eml"),
            &["CSVファイルでお送りします", "お届けは12月6日"],
        ),
    ];
    for (raw, queries) in cases {
        let index = fixture.open().await;
        index.clear().await.expect("clear");
        let documents = labeled(&[("case", raw)]);
        load(index.as_ref(), &documents).await;
        for query in *queries {
            assert_eq!(
                labels(index.as_ref(), &documents, query).await,
                ["case"],
                "query {query:?}"
            );
        }
        assert!(
            labels(index.as_ref(), &documents, "存在しない語句")
                .await
                .is_empty()
        );
    }
}

fn synthetic(n: u32) -> IndexDocument {
    let date = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap()
        + chrono::Duration::hours(i64::from(n % 50));
    IndexDocument {
        id: ArchiveId::of(format!("synthetic {n}").as_bytes()),
        date,
        kind: Some(
            if n.is_multiple_of(3) {
                "order_confirmation"
            } else {
                "campaign"
            }
            .to_owned(),
        ),
        has_attachment: n.is_multiple_of(4),
        from: vec!["サンプル商店".into(), "order@shop.example.jp".into()],
        to: vec![format!("customer{n}@example.com")],
        subject: vec![format!("ご注文番号 ORD-2026-{n:07}")],
        body: vec![format!("お電話 090-1751-{n:04} までどうぞ。商品{n}")],
        attachment: Vec::new(),
        message_id: vec![format!("m{n}@shop.example.jp")],
        order: vec![format!("ORD-2026-{n:07}")],
        customer: vec![format!("C{n:05}")],
        meta: vec![
            ("order_id".into(), format!("ORD-2026-{n:07}")),
            ("template".into(), format!("t{}", n % 5)),
        ],
    }
}

async fn ids_of(index: &dyn Index, query: &str) -> Vec<ArchiveId> {
    let parsed = parse_query(query, jst()).unwrap_or_else(|e| panic!("{query:?}: {e}"));
    let page = index.search(&parsed, 0, 10_000).await.expect("search");
    page.hits.iter().map(|hit| hit.id).collect()
}

/// Added documents are invisible until commit; deletes too.
pub async fn commit_controls_visibility(fixture: &dyn IndexFixture) {
    let index = fixture.open().await;
    index.add(vec![synthetic(1), synthetic(2)]).await.unwrap();
    assert_eq!(index.count().await.unwrap(), 0, "nothing before commit");
    assert!(!index.contains(&synthetic(1).id).await.unwrap());

    index.commit().await.unwrap();
    assert_eq!(index.count().await.unwrap(), 2);
    assert!(index.contains(&synthetic(1).id).await.unwrap());

    index.delete(&[synthetic(1).id]).await.unwrap();
    assert!(
        index.contains(&synthetic(1).id).await.unwrap(),
        "the delete waits for commit"
    );
    index.commit().await.unwrap();
    assert!(!index.contains(&synthetic(1).id).await.unwrap());
    assert_eq!(
        ids_of(index.as_ref(), "ORD-2026").await,
        vec![synthetic(2).id]
    );
}

/// Adding a document twice keeps one; adding a changed one replaces it.
pub async fn add_replaces_same_id(fixture: &dyn IndexFixture) {
    let index = fixture.open().await;
    index.add(vec![synthetic(3)]).await.unwrap();
    index.commit().await.unwrap();
    index.add(vec![synthetic(3)]).await.unwrap();
    let mut changed = synthetic(3);
    changed.subject = vec!["差し替え後".into()];
    index.add(vec![changed]).await.unwrap();
    index.commit().await.unwrap();

    assert_eq!(index.count().await.unwrap(), 1);
    assert_eq!(
        ids_of(index.as_ref(), "差し替え後").await,
        vec![synthetic(3).id]
    );
    assert!(
        ids_of(index.as_ref(), "subject:ORD-2026").await.is_empty(),
        "the old subject is gone"
    );
}

/// Results come newest first, pages add up to the whole, and the total
/// counts every match.
pub async fn newest_first_and_paging(fixture: &dyn IndexFixture) {
    let index = fixture.open().await;
    let documents: Vec<IndexDocument> = (0..120).map(synthetic).collect();
    index.add(documents.clone()).await.unwrap();
    index.commit().await.unwrap();

    let query = parse_query("ORD-2026", jst()).unwrap();
    let all = index.search(&query, 0, 1000).await.unwrap();
    assert_eq!(all.total, 120);
    assert_eq!(all.hits.len(), 120);
    for pair in all.hits.windows(2) {
        assert!(pair[0].date >= pair[1].date, "newest first");
    }
    let mut paged = Vec::new();
    for offset in (0..120).step_by(25) {
        let page = index.search(&query, offset, 25).await.unwrap();
        assert_eq!(page.total, 120, "every page reports the total");
        paged.extend(page.hits);
    }
    assert_eq!(paged, all.hits, "pages concatenate to the full result");
    let beyond = index.search(&query, 500, 10).await.unwrap();
    assert_eq!(beyond.total, 120);
    assert!(beyond.hits.is_empty());
}

fn reference_ids(documents: &[IndexDocument], query: &Query) -> BTreeSet<ArchiveId> {
    documents
        .iter()
        .filter(|d| matches(d, query))
        .map(|d| d.id)
        .collect()
}

async fn assert_same_as_reference(index: &dyn Index, documents: &[IndexDocument], query: &str) {
    let parsed = parse_query(query, jst()).unwrap_or_else(|e| panic!("{query:?}: {e}"));
    let expected = reference_ids(documents, &parsed);
    let page = index.search(&parsed, 0, 10_000).await.expect("search");
    let found: BTreeSet<ArchiveId> = page.hits.iter().map(|hit| hit.id).collect();
    assert_eq!(
        found.len(),
        page.hits.len(),
        "{query:?} returned a message twice"
    );
    assert_eq!(found, expected, "query {query:?}");
    assert_eq!(page.total as usize, expected.len(), "total of {query:?}");
}

/// Dates, kinds, attachments, boolean operators, identifiers, phone
/// numbers and metadata fields, against the reference.
pub async fn filters_and_fields(fixture: &dyn IndexFixture) {
    let index = fixture.open().await;
    let documents: Vec<IndexDocument> = (0..60).map(synthetic).collect();
    index.add(documents.clone()).await.unwrap();
    index.commit().await.unwrap();

    let queries = [
        "after:2026-12-02 before:2026-12-02T12:00",
        "date:2026-12-01",
        "kind:order_confirmation",
        "kind:ORDER_CONFIRMATION has:attachment",
        "kind:order",
        "has:attachment -kind:campaign",
        "-商品1",
        "商品1 OR 商品2",
        "( 商品1 OR 商品2 ) -商品12",
        "0000042",
        "ORD-2026-000004",
        "order:0000042",
        "customer:C0004",
        "meta.template:t3",
        "meta.order_id:ORD-2026-0000017",
        "message-id:m17@shop",
        "09017510017",
        "090-1751-0017",
        "（090）1751-0017",
        "from:order@shop",
        "to:customer1",
        "subject:番号",
        "body:お電話",
        "商",
        "7",
    ];
    for query in queries {
        assert_same_as_reference(index.as_ref(), &documents, query).await;
    }
}

/// Committed documents are there after a reopen.
pub async fn survives_reopen(fixture: &dyn IndexFixture) {
    {
        let index = fixture.open().await;
        index.add((0..10).map(synthetic).collect()).await.unwrap();
        index.commit().await.unwrap();
    }
    let index = fixture.open().await;
    assert_eq!(index.count().await.unwrap(), 10);
    assert_eq!(
        ids_of(index.as_ref(), "ORD-2026-0000007").await,
        vec![synthetic(7).id]
    );
}

/// `clear` removes every document.
pub async fn clear_removes_everything(fixture: &dyn IndexFixture) {
    let index = fixture.open().await;
    index.add((0..10).map(synthetic).collect()).await.unwrap();
    index.commit().await.unwrap();
    index.clear().await.unwrap();
    assert_eq!(index.count().await.unwrap(), 0);
    assert!(ids_of(index.as_ref(), "ORD").await.is_empty());
}

/// A small deterministic random number generator (xorshift).
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const PIECES: &[&str] = &[
    "山田",
    "太郎",
    "様",
    "ご注文",
    "番号",
    "発送",
    "しました",
    "サンプル",
    "ｻﾝﾌﾟﾙ",
    "ショップ",
    "ｼｮｯﾌﾟ",
    "ﾒｰﾙ便",
    "メール便",
    "㈱",
    "(株)",
    "ＡＢＣ",
    "abc",
    "XyZ",
    "-",
    "０１２",
    "012",
    "345",
    "6789",
    " ",
    "、",
    "。",
    "ｶﾞｲﾄﾞ",
    "ガイド",
    "hoge",
    ".",
    "@",
    "example",
    "com",
    "+",
    "returns",
    "090-1751-6382",
    "０９０１７５１６３８２",
    "（",
    "）",
    "ORD-2026-",
    "00123",
    "Straße",
    "Ⅱ",
    "①",
    "髙橋",
    "〜",
    "ﾊﾟﾝ",
    "パン",
    "\n",
    "\t",
];

fn random_text(random: &mut Random) -> String {
    let pieces = 2 + random.below(12);
    (0..pieces).map(|_| *random.pick(PIECES)).collect()
}

fn random_document(random: &mut Random, n: u32) -> IndexDocument {
    let mut document = synthetic(n);
    document.date = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
        + chrono::Duration::minutes(random.below(500_000) as i64);
    document.subject = vec![random_text(random)];
    document.body = (0..1 + random.below(2))
        .map(|_| random_text(random))
        .collect();
    document.from = vec![
        random_text(random),
        format!(
            "{}@{}",
            random_text(random).replace([' ', '\n', '\t'], ""),
            "shop.example.jp"
        ),
    ];
    document.to = vec![random_text(random)];
    document.attachment = if random.below(3) == 0 {
        vec![random_text(random) + ".pdf"]
    } else {
        Vec::new()
    };
    document.meta = vec![("order_id".into(), random_text(random))];
    document.order = vec![document.meta[0].1.clone()];
    document
}

/// Turns ASCII into full-width and changes case, so the query differs from
/// the text in width and case.
fn disguise(text: &str, random: &mut Random) -> String {
    match random.below(3) {
        0 => text.to_uppercase(),
        1 => text
            .chars()
            .map(|c| match c {
                '!'..='~' => char::from_u32(c as u32 + 0xFEE0).unwrap_or(c),
                _ => c,
            })
            .collect(),
        _ => text.to_owned(),
    }
}

fn random_term(random: &mut Random, documents: &[IndexDocument]) -> String {
    let document = random.pick(documents);
    let fields = [
        &document.subject,
        &document.body,
        &document.from,
        &document.to,
        &document.order,
    ];
    let values = *random.pick(&fields);
    let Some(value) = values.first() else {
        return "発送".into();
    };
    let chars: Vec<char> = value.chars().collect();
    let length = 1 + random.below(8.min(chars.len()));
    let start = random.below(chars.len() + 1 - length);
    let piece: String = chars[start..start + length].iter().collect();
    let piece = disguise(piece.trim(), random);
    if piece.is_empty() || piece.contains('"') {
        return "発送".into();
    }
    let field = *random.pick(&[
        "",
        "",
        "",
        "subject:",
        "body:",
        "from:",
        "to:",
        "order:",
        "meta.order_id:",
    ]);
    format!("{field}\"{piece}\"")
}

/// Random substrings of random documents, disguised in width and case and
/// combined with operators, give the same results as the reference.
pub async fn agrees_with_reference(fixture: &dyn IndexFixture) {
    let index = fixture.open().await;
    let mut random = Random(0x5eed_1234_abcd_ef01);
    let documents: Vec<IndexDocument> = (0..300).map(|n| random_document(&mut random, n)).collect();
    index.add(documents.clone()).await.unwrap();
    index.commit().await.unwrap();

    for _ in 0..250 {
        let query = match random.below(5) {
            0 => format!(
                "{} {}",
                random_term(&mut random, &documents),
                random_term(&mut random, &documents)
            ),
            1 => format!(
                "{} OR {}",
                random_term(&mut random, &documents),
                random_term(&mut random, &documents)
            ),
            2 => format!(
                "{} -{}",
                random_term(&mut random, &documents),
                random_term(&mut random, &documents)
            ),
            _ => random_term(&mut random, &documents),
        };
        assert_same_as_reference(index.as_ref(), &documents, &query).await;
    }
}

/// Expands to one `#[tokio::test]` per index conformance check.
/// `$fixture` is evaluated once per test, so each test starts empty.
#[macro_export]
macro_rules! index_conformance {
    ($fixture:expr) => {
        mod index_conformance {
            #[allow(unused_imports)]
            use super::*;
            use $crate::testing::index as suite;

            #[tokio::test]
            async fn address_substrings() {
                suite::address_substrings(&$fixture).await;
            }
            #[tokio::test]
            async fn japanese_substrings() {
                suite::japanese_substrings(&$fixture).await;
            }
            #[tokio::test]
            async fn width_folding() {
                suite::width_folding(&$fixture).await;
            }
            #[tokio::test]
            async fn decoded_text_is_searchable() {
                suite::decoded_text_is_searchable(&$fixture).await;
            }
            #[tokio::test]
            async fn commit_controls_visibility() {
                suite::commit_controls_visibility(&$fixture).await;
            }
            #[tokio::test]
            async fn add_replaces_same_id() {
                suite::add_replaces_same_id(&$fixture).await;
            }
            #[tokio::test]
            async fn newest_first_and_paging() {
                suite::newest_first_and_paging(&$fixture).await;
            }
            #[tokio::test]
            async fn filters_and_fields() {
                suite::filters_and_fields(&$fixture).await;
            }
            #[tokio::test]
            async fn survives_reopen() {
                suite::survives_reopen(&$fixture).await;
            }
            #[tokio::test]
            async fn clear_removes_everything() {
                suite::clear_removes_everything(&$fixture).await;
            }
            #[tokio::test]
            async fn agrees_with_reference() {
                suite::agrees_with_reference(&$fixture).await;
            }
        }
    };
}
