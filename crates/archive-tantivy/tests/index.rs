//! Behaviour of `TantivyIndex` beyond the conformance suite: value
//! boundaries, partitions, writer eviction, dates to the nanosecond, and
//! queries that only code can build.

use std::collections::BTreeSet;

use archive_core::ArchiveId;
use archive_core::search::{
    Index, IndexDocument, Query, TextField, TextTerm, matches, parse_query,
};
use archive_tantivy::{TantivyIndex, TantivyOptions};
use chrono::{DateTime, Duration, FixedOffset, Utc};

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

fn jst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).unwrap()
}

fn empty_document(name: &str, date: DateTime<Utc>) -> IndexDocument {
    IndexDocument {
        id: ArchiveId::of(name.as_bytes()),
        date,
        kind: None,
        has_attachment: false,
        from: Vec::new(),
        to: Vec::new(),
        subject: Vec::new(),
        body: Vec::new(),
        attachment: Vec::new(),
        message_id: Vec::new(),
        order: Vec::new(),
        customer: Vec::new(),
        meta: Vec::new(),
    }
}

/// Runs `query` on the index and on the reference matcher, asserts they
/// agree, and returns the matching ids.
async fn agree(
    index: &TantivyIndex,
    documents: &[IndexDocument],
    query: &Query,
) -> BTreeSet<ArchiveId> {
    let expected: BTreeSet<ArchiveId> = documents
        .iter()
        .filter(|document| matches(document, query))
        .map(|document| document.id)
        .collect();
    let page = index.search(query, 0, 100_000).await.expect("search");
    let found: BTreeSet<ArchiveId> = page.hits.iter().map(|hit| hit.id).collect();
    assert_eq!(
        found.len(),
        page.hits.len(),
        "{query:?} returned an id twice"
    );
    assert_eq!(found, expected, "{query:?}");
    assert_eq!(page.total as usize, expected.len(), "total of {query:?}");
    found
}

fn text(field: TextField, term: &str) -> Query {
    Query::Text(TextTerm::new(field, term))
}

#[tokio::test]
async fn phrases_stay_inside_one_value() {
    let root = tempfile::tempdir().unwrap();
    let index = TantivyIndex::open(root.path()).unwrap();
    let date = utc("2026-12-04T00:00:00Z");
    let mut split = empty_document("split", date);
    split.body = vec!["注文の発".into(), "送です".into()];
    split.to = vec!["xy".into(), "zw".into(), "a".into(), "bc".into()];
    let mut whole = empty_document("whole", date);
    whole.body = vec!["注文の発送です".into()];
    whole.to = vec!["xyzw".into()];
    let documents = vec![split.clone(), whole.clone()];
    index.add(documents.clone()).await.unwrap();
    index.commit().await.unwrap();

    for term in ["発送", "の発送", "注文の発送です", "文の発送で"] {
        let found = agree(&index, &documents, &text(TextField::Body, term)).await;
        assert_eq!(found, BTreeSet::from([whole.id]), "{term}");
    }
    for term in ["xyzw", "yz", "xyz", "yzw", "abc", "ab"] {
        let found = agree(&index, &documents, &text(TextField::To, term)).await;
        assert!(!found.contains(&split.id), "{term} spans two values");
    }
    for term in ["注文の発", "送です", "xy", "zw", "bc"] {
        agree(&index, &documents, &text(TextField::Any, term)).await;
    }
}

#[tokio::test]
async fn repeated_characters_and_spaces() {
    let root = tempfile::tempdir().unwrap();
    let index = TantivyIndex::open(root.path()).unwrap();
    let date = utc("2026-12-04T00:00:00Z");
    let bodies = [
        "ああああ",
        "あああ",
        "ああ あ",
        "aaaa bbbb",
        "aa aa",
        "ＡＡ　ａａ",
    ];
    let documents: Vec<IndexDocument> = bodies
        .iter()
        .map(|body| {
            let mut document = empty_document(body, date);
            document.body = vec![(*body).to_owned()];
            document
        })
        .collect();
    index.add(documents.clone()).await.unwrap();
    index.commit().await.unwrap();
    for term in [
        "ああああ",
        "あああ",
        "ああ",
        "あ あ",
        "ああ あ",
        "aaaa",
        "aa aa",
        "a b",
        "aaa",
        "ａａ ａａ",
    ] {
        agree(&index, &documents, &text(TextField::Body, term)).await;
    }
}

#[tokio::test]
async fn search_opens_only_overlapping_months() {
    let root = tempfile::tempdir().unwrap();
    let months = [
        "2026-09-15T00:00:00Z",
        "2026-10-15T00:00:00Z",
        "2026-11-15T00:00:00Z",
        "2026-12-15T00:00:00Z",
    ];
    let documents: Vec<IndexDocument> = months
        .iter()
        .map(|date| {
            let mut document = empty_document(date, utc(date));
            document.subject = vec!["ご注文の確認".into()];
            document
        })
        .collect();
    {
        let index = TantivyIndex::open(root.path()).unwrap();
        index.add(documents.clone()).await.unwrap();
        index.commit().await.unwrap();
        assert_eq!(index.months(), ["2026-09", "2026-10", "2026-11", "2026-12"]);
    }

    let index = TantivyIndex::open(root.path()).unwrap();
    assert_eq!(
        index.stats().partitions_opened,
        0,
        "opening reads no partition"
    );
    let november = parse_query("注文 date:2026-11-15", jst()).unwrap();
    let found = agree(&index, &documents, &november).await;
    assert_eq!(found.len(), 1);
    assert_eq!(index.stats().partitions_searched, 1);
    assert_eq!(index.stats().partitions_opened, 1);

    let from_november = parse_query("注文 after:2026-11-01T09:00", jst()).unwrap();
    agree(&index, &documents, &from_november).await;
    assert_eq!(index.stats().partitions_searched, 2);
    assert_eq!(index.stats().partitions_opened, 2);

    let everything = parse_query("注文", jst()).unwrap();
    agree(&index, &documents, &everything).await;
    assert_eq!(index.stats().partitions_searched, 4);
    assert_eq!(index.stats().partitions_opened, 4);
}

#[tokio::test]
async fn results_merge_newest_first_across_months() {
    let root = tempfile::tempdir().unwrap();
    let index = TantivyIndex::open(root.path()).unwrap();
    let start = utc("2026-01-01T00:00:00Z");
    // Dates repeat, so the order within a date comes from the ids.
    let documents: Vec<IndexDocument> = (0..90)
        .map(|n| {
            let date = start + Duration::days(i64::from(n % 30) * 11);
            let mut document = empty_document(&format!("merge {n}"), date);
            document.subject = vec![format!("お知らせ {n}")];
            document
        })
        .collect();
    index.add(documents.clone()).await.unwrap();
    index.commit().await.unwrap();

    let query = parse_query("お知らせ", jst()).unwrap();
    let mut expected: Vec<(DateTime<Utc>, ArchiveId)> = documents
        .iter()
        .map(|document| (document.date, document.id))
        .collect();
    expected.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (offset, limit) in [(0, 90), (0, 7), (7, 7), (30, 25), (85, 10), (90, 5)] {
        let page = index.search(&query, offset, limit).await.unwrap();
        assert_eq!(page.total, 90);
        let got: Vec<(DateTime<Utc>, ArchiveId)> =
            page.hits.iter().map(|hit| (hit.date, hit.id)).collect();
        let want: Vec<(DateTime<Utc>, ArchiveId)> =
            expected.iter().copied().skip(offset).take(limit).collect();
        assert_eq!(got, want, "offset {offset}, limit {limit}");
    }
}

#[tokio::test]
async fn dates_are_exact_to_the_nanosecond() {
    let root = tempfile::tempdir().unwrap();
    let index = TantivyIndex::open(root.path()).unwrap();
    let base = utc("2026-12-31T23:59:59Z");
    let documents: Vec<IndexDocument> =
        [0, 1, 499_999_999, 500_000_000, 999_999_999, 1_000_000_000]
            .iter()
            .map(|nanos| {
                empty_document(&format!("at {nanos}"), base + Duration::nanoseconds(*nanos))
            })
            .collect();
    index.add(documents.clone()).await.unwrap();
    index.commit().await.unwrap();

    let page = index.search(&Query::All, 0, 10).await.unwrap();
    let mut newest_first: Vec<DateTime<Utc>> = documents.iter().map(|d| d.date).collect();
    newest_first.reverse();
    let dates: Vec<DateTime<Utc>> = page.hits.iter().map(|hit| hit.date).collect();
    assert_eq!(dates, newest_first, "hits carry the exact dates");

    let bounds = [
        base,
        base + Duration::nanoseconds(1),
        base + Duration::nanoseconds(500_000_000),
        base + Duration::nanoseconds(999_999_999),
        base + Duration::seconds(1),
        base - Duration::nanoseconds(1),
    ];
    for start in bounds {
        for end in bounds {
            let queries = [
                Query::Date {
                    start: Some(start),
                    end: Some(end),
                },
                Query::Date {
                    start: Some(start),
                    end: None,
                },
                Query::Date {
                    start: None,
                    end: Some(end),
                },
            ];
            for query in queries {
                agree(&index, &documents, &query).await;
            }
        }
    }
}

#[tokio::test]
async fn code_built_queries_match_reference() {
    let root = tempfile::tempdir().unwrap();
    let index = TantivyIndex::open(root.path()).unwrap();
    let date = utc("2026-12-04T00:00:00Z");
    let mut full = empty_document("full", date);
    full.kind = Some("Order_Confirmation".into());
    full.body = vec![String::new()];
    full.meta = vec![("Template".into(), "welcome".into())];
    let mut kind_only = empty_document("kind only", date);
    kind_only.kind = Some("  ".into());
    let nothing = empty_document("nothing", date);
    let mut meta_only = empty_document("meta only", date);
    meta_only.meta = vec![("order_id".into(), "A-1".into())];
    let documents = vec![full, kind_only, nothing, meta_only];
    index.add(documents.clone()).await.unwrap();
    index.commit().await.unwrap();

    let queries = [
        Query::All,
        Query::And(Vec::new()),
        Query::Or(Vec::new()),
        Query::Not(Box::new(Query::All)),
        Query::Kind(String::new()),
        Query::Kind("ORDER_CONFIRMATION".into()),
        Query::Kind("order".into()),
        text(TextField::Body, ""),
        text(TextField::Any, ""),
        text(TextField::Any, "   "),
        text(TextField::Order, ""),
        text(TextField::Meta("template".into()), ""),
        text(TextField::Meta("TEMPLATE".into()), "welcome"),
        text(TextField::Meta("order-id".into()), "a-1"),
        text(TextField::Meta("order_id".into()), "welcome"),
        text(TextField::Any, "order_confirmation"),
        text(TextField::Any, "a-1"),
        text(TextField::Order, "a-1"),
        Query::And(vec![
            Query::Not(Box::new(Query::HasAttachment)),
            Query::Not(Box::new(Query::Kind("order_confirmation".into()))),
        ]),
        Query::Or(vec![
            Query::Kind("  ".into()),
            text(TextField::Any, "welcome"),
        ]),
    ];
    for query in &queries {
        agree(&index, &documents, query).await;
    }
}

#[tokio::test]
async fn phones_and_long_digit_runs() {
    let root = tempfile::tempdir().unwrap();
    let index = TantivyIndex::open(root.path()).unwrap();
    let date = utc("2026-12-04T00:00:00Z");
    let long = "1234567890".repeat(5);
    let bodies = [
        "電話 090-1751-6382 まで".to_owned(),
        "（０３）１２３４－５６７８".to_owned(),
        format!("口座 {long}"),
        format!("口座 {}-{}", &long[..25], &long[25..]),
        "品番 12345678901234567890123456789012345678901234567890x".to_owned(),
    ];
    let documents: Vec<IndexDocument> = bodies
        .iter()
        .map(|body| {
            let mut document = empty_document(body, date);
            document.body = vec![body.clone()];
            document
        })
        .collect();
    index.add(documents.clone()).await.unwrap();
    index.commit().await.unwrap();

    let mut terms = vec![
        "09017516382".to_owned(),
        "090 1751 6382".to_owned(),
        "1751-6382".to_owned(),
        "0312345678".to_owned(),
        "(03)1234".to_owned(),
        long.clone(),
        long[3..47].to_owned(),
        format!("{}-{}", &long[..20], &long[20..45]),
        format!("{long}1"),
    ];
    terms.push(long[..41].to_owned());
    for term in &terms {
        agree(&index, &documents, &text(TextField::Any, term)).await;
        agree(&index, &documents, &text(TextField::Body, term)).await;
    }
}

#[tokio::test]
async fn evicted_writers_stay_invisible_until_commit() {
    let root = tempfile::tempdir().unwrap();
    let options = TantivyOptions {
        max_open_writers: 1,
        ..TantivyOptions::default()
    };
    let index = TantivyIndex::open_with(root.path(), options).unwrap();
    let months = [
        "2026-10-10T00:00:00Z",
        "2026-11-10T00:00:00Z",
        "2026-12-10T00:00:00Z",
    ];
    let documents: Vec<IndexDocument> = months
        .iter()
        .map(|date| {
            let mut document = empty_document(date, utc(date));
            document.subject = vec!["発送のお知らせ".into()];
            document
        })
        .collect();
    for document in &documents {
        index.add(vec![document.clone()]).await.unwrap();
    }
    assert_eq!(index.stats().open_writers, 1, "older writers were closed");
    assert_eq!(index.count().await.unwrap(), 0, "nothing before commit");
    let query = parse_query("発送", jst()).unwrap();
    assert_eq!(index.search(&query, 0, 10).await.unwrap().total, 0);

    index.commit().await.unwrap();
    assert_eq!(index.count().await.unwrap(), 3);
    agree(&index, &documents, &query).await;
}

#[tokio::test]
async fn replace_and_delete_across_months() {
    let root = tempfile::tempdir().unwrap();
    let index = TantivyIndex::open(root.path()).unwrap();
    let mut moved = empty_document("moved", utc("2026-10-10T00:00:00Z"));
    moved.subject = vec!["旧".into()];
    let mut later = moved.clone();
    later.date = utc("2026-12-10T00:00:00Z");
    later.subject = vec!["新".into()];

    // Within one batch the last document of an id wins.
    index.add(vec![moved.clone(), later.clone()]).await.unwrap();
    index.commit().await.unwrap();
    assert_eq!(index.count().await.unwrap(), 1);
    agree(
        &index,
        std::slice::from_ref(&later),
        &text(TextField::Subject, "新"),
    )
    .await;
    agree(
        &index,
        std::slice::from_ref(&later),
        &text(TextField::Subject, "旧"),
    )
    .await;

    // Between commits too.
    index.add(vec![moved.clone()]).await.unwrap();
    index.add(vec![later.clone()]).await.unwrap();
    index.commit().await.unwrap();
    assert_eq!(index.count().await.unwrap(), 1);

    // After a commit too: the committed copy in December goes.
    index.add(vec![moved.clone()]).await.unwrap();
    index.commit().await.unwrap();
    assert_eq!(index.count().await.unwrap(), 1);
    agree(
        &index,
        std::slice::from_ref(&moved),
        &text(TextField::Subject, "旧"),
    )
    .await;
    agree(
        &index,
        std::slice::from_ref(&moved),
        &text(TextField::Subject, "新"),
    )
    .await;
    index.add(vec![later.clone()]).await.unwrap();
    index.commit().await.unwrap();
    assert_eq!(index.count().await.unwrap(), 1);

    index.delete(&[later.id]).await.unwrap();
    assert!(
        index.contains(&later.id).await.unwrap(),
        "delete waits for commit"
    );
    index.commit().await.unwrap();
    assert!(!index.contains(&later.id).await.unwrap());
    assert_eq!(index.count().await.unwrap(), 0);

    // An add and a delete before one commit: the later one wins.
    index.add(vec![moved.clone()]).await.unwrap();
    index.delete(&[moved.id]).await.unwrap();
    index.commit().await.unwrap();
    assert!(!index.contains(&moved.id).await.unwrap());
    index.delete(&[moved.id]).await.unwrap();
    index.add(vec![moved.clone()]).await.unwrap();
    index.commit().await.unwrap();
    assert!(index.contains(&moved.id).await.unwrap());
}

#[tokio::test]
async fn open_names_the_failed_directory() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let error = TantivyIndex::open(&file).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("create index directory"), "{message}");
    assert!(message.contains(&file.display().to_string()), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searches_see_one_commit_across_months() {
    let root = tempfile::tempdir().unwrap();
    let index = TantivyIndex::open(root.path()).unwrap();
    let mut october = empty_document("moving", utc("2026-10-10T00:00:00Z"));
    october.subject = vec!["移動".into()];
    let mut december = october.clone();
    december.date = utc("2026-12-10T00:00:00Z");
    index.add(vec![october.clone()]).await.unwrap();
    index.commit().await.unwrap();

    // Every commit moves the document to the other month: a search that
    // saw one month before a commit and the other after it would count
    // the document twice or not at all.
    let writer = {
        let index = index.clone();
        tokio::spawn(async move {
            for round in 0..60 {
                let next = if round % 2 == 0 { &december } else { &october };
                index.add(vec![next.clone()]).await.unwrap();
                index.commit().await.unwrap();
            }
        })
    };
    let query = Query::All;
    while !writer.is_finished() {
        let page = index.search(&query, 0, 10).await.unwrap();
        assert_eq!(page.total, 1, "one document in every snapshot");
        assert_eq!(page.hits.len(), 1);
    }
    writer.await.unwrap();
    assert_eq!(index.count().await.unwrap(), 1);
}
