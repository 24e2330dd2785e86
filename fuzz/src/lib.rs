//! The fuzz harnesses, shared by the cargo-fuzz targets (`fuzz_targets/`) and the stable
//! mutation runner (`src/bin/smoke.rs`). Each takes arbitrary bytes, as a hostile server
//! would send them, and checks more than "no panic": extraction is deterministic, a
//! document compared with itself raises nothing, and rendered alerts stay inside every
//! Discord limit.

use std::path::Path;
use std::sync::OnceLock;

use chrono::{TimeZone, Utc};
use policywatch::config::Config;
use policywatch::event::{Alert, Severity};
use policywatch::notify::discord::render::{self, discord_len};
use policywatch::source::bill::api::{BillDetail, PublicationList, SearchResult, StageSummary};
use policywatch::source::bill::snapshot::Snapshot;
use policywatch::text::html::{self, Narrowing};
use policywatch::source::{self, bill_search, feed, govuk, Document};
use policywatch::store::ChangeRecord;
use policywatch::watchlist::{self, Mention, Watch};
use regex::Regex;
use url::Url;

mod parliament;
pub use parliament::{hansard_json, questions_json, statements_json};

/// Separates the parts of a multi-part input (two versions of a document, or a bill's
/// detail, stages and publications). Seeds carry it; mutations may move or break it.
pub const SEPARATOR: &[u8] = b"\n--8<--\n";

/// A harness: one input, panics on a finding.
pub type Target = fn(&[u8]);

/// Targets by name, for the smoke runner.
pub const TARGETS: &[(&str, Target)] = &[
    ("page_extract", page_extract),
    ("feed_parse", feed_parse),
    ("bills_rss", bills_rss),
    ("bills_json", bills_json),
    ("govuk_json", govuk_json),
    ("discord_render", discord_render),
    ("committee_json", committee_json),
    ("si_json", si_json),
    ("legislation_feed", legislation_feed),
    ("pdf_extract", pdf_extract),
    ("questions_json", questions_json),
    ("statements_json", statements_json),
    ("hansard_json", hansard_json),
];

/// Splits `data` at [`SEPARATOR`] into exactly `n` parts (missing ones empty, extra ones
/// left in the last).
pub fn parts(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut out = Vec::with_capacity(n);
    let mut rest = data;
    while out.len() + 1 < n {
        match rest.windows(SEPARATOR.len()).position(|w| w == SEPARATOR) {
            Some(i) => {
                out.push(&rest[..i]);
                rest = &rest[i + SEPARATOR.len()..];
            }
            None => break,
        }
    }
    out.push(rest);
    out.resize(n, &[]);
    out
}

/// A watch of `kind` as a watchlist would declare it, built once per kind.
fn watch(kind: &'static str) -> &'static Watch {
    static WATCHES: OnceLock<Vec<(&'static str, Watch)>> = OnceLock::new();
    let all = WATCHES.get_or_init(|| {
        let config = Config::default();
        let text = r#"
name = "fuzz"
schedule = "0 * * * *"
keywords = ["consultation", "modern slavery"]

[[watch]]
id = "page"
kind = "page"
url = "https://example.org/page"

[[watch]]
id = "feed"
kind = "feed"
url = "https://example.org/feed"

[[watch]]
id = "bill"
kind = "bill"
bill = 3548

[[watch]]
id = "govuk"
kind = "govuk"
path = "/guidance/fuzz"
"#;
        let list = watchlist::parse_file(
            text,
            Path::new("fuzz.toml"),
            &config,
            policywatch::source::registry::kinds(),
        )
            .expect("the fuzz watchlist is valid");
        list.watches
            .iter()
            .map(|w| (w.target.kind(), (**w).clone()))
            .collect()
    });
    &all.iter().find(|(k, _)| *k == kind).expect("known kind").1
}

/// Comparing a document with itself must find nothing; with another, must not panic.
fn compare_pair(kind: &'static str, a: &Document, b: &Document) {
    let w = watch(kind);
    let k = source::registry::of(w).expect("registered kind");
    let same = k.compare(w, a, a).unwrap_or_default();
    assert!(
        same.is_empty(),
        "{kind}: a document differs from itself: {same:?}"
    );
    let _ = k.compare(w, a, b);
    let _ = k.compare(w, b, a);
}

/// Page extraction with each kind of narrowing a watchlist can ask for.
pub fn page_extract(data: &[u8]) {
    let Some((&mode, html)) = data.split_first() else {
        return;
    };
    let html = String::from_utf8_lossy(html);
    let select = ["main".to_string(), "#content, article".to_string()];
    let ignore_selectors = [".nav".to_string(), "footer, aside".to_string()];
    static IGNORE: OnceLock<Vec<Regex>> = OnceLock::new();
    let ignore = IGNORE.get_or_init(|| vec![Regex::new(r"(?i)last updated:? .*").unwrap()]);
    let narrowing = Narrowing {
        select: if mode & 1 != 0 { &select } else { &[] },
        ignore_selectors: if mode & 2 != 0 {
            &ignore_selectors
        } else {
            &[]
        },
        ignore: if mode & 4 != 0 { ignore } else { &[] },
    };
    let base = Url::parse("https://example.org/dir/page.html").unwrap();
    let first = html::extract(&html, Some(&base), narrowing);
    // Change detection relies on the same page always reading the same.
    let again = html::extract(&html, Some(&base), narrowing);
    assert_eq!(first, again, "extraction is not deterministic");
    // Wherever streaming (and our tokenizer under it) answers, it answers what the tree does.
    if let Ok(streamed) = html::extract_streaming(&html, Some(&base), narrowing) {
        let tree = html::extract_by_tree(&html, Some(&base), narrowing);
        assert_eq!(streamed, tree, "streaming and the tree disagree");
    }
    let _ = html::fragment_text(&html);
    if let Ok(e) = first {
        let doc = Document {
            title: e.title,
            url: base.to_string(),
            text: e.text,
            fields: serde_json::Value::Null,
        };
        compare_pair("page", &doc, &empty_page(&base));
    }
}

/// Two versions of a feed: parsed (twice, to catch made-up ids) and compared.
pub fn feed_parse(data: &[u8]) {
    let p = parts(data, 2);
    let url = "https://example.org/feed";
    let Ok(a) = feed::parse(p[0], url) else {
        return;
    };
    let again = feed::parse(p[0], url).expect("parsed once, parses again");
    assert!(source::same(&a, &again), "a feed parses differently twice");
    let b = feed::parse(p[1], url).unwrap_or_else(|_| a.clone());
    compare_pair("feed", &a, &b);
}

/// The all-bills RSS (its own parser: the stage is an attribute feed-rs does not keep).
/// Parsing is deterministic and every bill it yields has an id.
pub fn bills_rss(data: &[u8]) {
    let xml = String::from_utf8_lossy(data);
    let Ok(bills) = bill_search::rss::parse(&xml) else {
        return;
    };
    assert_eq!(
        bill_search::rss::parse(&xml).as_ref(),
        Ok(&bills),
        "the RSS parses differently twice"
    );
    assert!(bills.iter().all(|b| b.id > 0), "a bill without an id");
}

/// A bill's snapshot from its detail, stages and publications JSON.
fn bill_document(detail: &[u8], stages: &[u8], publications: &[u8]) -> Option<Document> {
    let detail: BillDetail = serde_json::from_slice(detail).ok()?;
    let stages: Vec<StageSummary> = serde_json::from_slice::<SearchResult<StageSummary>>(stages)
        .map(|s| s.items)
        .unwrap_or_default();
    let publications = serde_json::from_slice::<PublicationList>(publications)
        .map(|p| p.publications)
        .unwrap_or_default();
    let snapshot = Snapshot::build(&detail, &stages, &publications);
    let doc = snapshot.clone().into_document();
    assert_eq!(
        Snapshot::from_document(&doc).as_ref(),
        Some(&snapshot),
        "a bill snapshot does not survive the store"
    );
    Some(doc)
}

/// Two versions of a bill (detail, stages, publications each), snapshotted and compared.
pub fn bills_json(data: &[u8]) {
    let p = parts(data, 6);
    let Some(a) = bill_document(p[0], p[1], p[2]) else {
        return;
    };
    let b = bill_document(p[3], p[4], p[5]).unwrap_or_else(|| a.clone());
    compare_pair("bill", &a, &b);
}

fn govuk_document(json: &[u8]) -> Option<Document> {
    let json: serde_json::Value = serde_json::from_slice(json).ok()?;
    let site = Url::parse("https://www.gov.uk/").unwrap();
    let item = govuk::extract(&json, "/guidance/fuzz", &site);
    // As govuk.rs stores it (its `document` is private).
    Some(Document {
        title: item.title.clone(),
        url: format!("https://www.gov.uk{}", item.path),
        text: item.text(),
        fields: serde_json::to_value(&item).ok()?,
    })
}

/// Two versions of a GOV.UK Content API item, extracted and compared.
pub fn govuk_json(data: &[u8]) {
    let p = parts(data, 2);
    let Some(a) = govuk_document(p[0]) else {
        return;
    };
    let b = govuk_document(p[1]).unwrap_or_else(|| a.clone());
    compare_pair("govuk", &a, &b);
}

/// Alerts made of hostile text, rendered and grouped: every Discord limit holds.
pub fn discord_render(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    // Up to four alerts, each of seven fields separated by U+0001.
    let records: Vec<ChangeRecord> = text
        .split('\u{2}')
        .take(4)
        .enumerate()
        .map(|(i, alert)| {
            let f: Vec<&str> = alert.split('\u{1}').collect();
            let get = |n: usize| f.get(n).copied().unwrap_or_default().to_string();
            let list = |n: usize| -> Vec<String> {
                f.get(n)
                    .map(|s| s.split('\n').map(str::to_string).collect())
                    .unwrap_or_default()
            };
            let mentions = get(6)
                .bytes()
                .take(40)
                .enumerate()
                .map(|(j, b)| {
                    let id = 100_000 + u64::from(b) * 1000 + j as u64;
                    if b & 1 == 0 {
                        Mention::User(id)
                    } else {
                        Mention::Role(id)
                    }
                })
                .collect();
            let diff = get(5);
            ChangeRecord {
                alert: Alert {
                    id: i as u64 + 1,
                    watch: get(0),
                    event: "page.changed".into(),
                    title: get(1),
                    url: get(2),
                    summary: get(3),
                    annotations: list(4),
                    keywords: list(4).into_iter().take(3).collect(),
                    diff: diff.chars().take(3000).collect(),
                    detected_at: Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap(),
                    severity: Severity::Notice,
                    tone: Default::default(),
                    watchlist: "fuzz".into(),
                    destination: Some(policywatch::data::Destination::discord(42)),
                    mentions,
                    from_version: Some(1),
                    to_version: Some(2),
                    fields: serde_json::Value::Null,
                },
                full_diff: diff,
                delivered_at: None,
                reviews: Vec::new(),
            }
        })
        .collect();
    let rendered: Vec<_> = records.iter().map(render::render).collect();
    for r in &rendered {
        let e = &r.embed;
        assert!(discord_len(&e.title) <= render::TITLE_MAX, "title too long");
        assert!(
            discord_len(&e.description) <= render::DESCRIPTION_MAX,
            "description too long"
        );
        assert!(e.fields.len() <= render::FIELDS_MAX, "too many fields");
        for f in &e.fields {
            assert!(
                discord_len(&f.name) <= render::FIELD_NAME_MAX,
                "field name too long"
            );
            assert!(
                discord_len(&f.value) <= render::FIELD_VALUE_MAX,
                "field value too long"
            );
        }
        assert!(
            discord_len(&e.footer) <= render::FOOTER_MAX,
            "footer too long"
        );
        assert!(
            e.size() <= render::MESSAGE_EMBED_CHARS_MAX,
            "one embed over 6000"
        );
        if let Some(a) = &r.attachment {
            assert!(
                a.data.len() <= render::ATTACHMENT_BYTES_MAX,
                "attachment too big"
            );
        }
        // Scraped text never pings anyone (inside the diff's code block it cannot).
        let prose = e.description.split("```").next().unwrap_or_default();
        for text in [e.title.as_str(), prose] {
            assert!(
                !text.contains("@everyone") && !text.contains("@here"),
                "{text:?}"
            );
        }
    }
    let ids: Vec<u64> = rendered.iter().map(|r| r.id).collect();
    let messages = render::group(rendered);
    let mut grouped: Vec<u64> = Vec::new();
    for m in &messages {
        assert!(!m.embeds.is_empty() && m.embeds.len() <= render::EMBEDS_MAX);
        assert!(
            m.embeds.iter().map(|e| e.size()).sum::<usize>() <= render::MESSAGE_EMBED_CHARS_MAX,
            "message over 6000"
        );
        if let Some(c) = &m.content {
            assert!(discord_len(c) <= render::CONTENT_MAX, "content too long");
        }
        grouped.extend(m.alert_ids.iter().copied());
    }
    assert_eq!(grouped, ids, "alerts lost or reordered");
}

/// An empty page, to compare against.
fn empty_page(url: &Url) -> Document {
    Document {
        title: String::new(),
        url: url.to_string(),
        text: String::new(),
        fields: serde_json::Value::Null,
    }
}

/// Committees API inquiries, publications and written evidence (three parts), read into a
/// snapshot: the same data reads the same, compared with itself raises nothing, and the
/// stored document reads back as what was stored.
pub fn committee_json(data: &[u8]) {
    use policywatch::source::committee::{api, events, CommitteeQuery, Snapshot};
    let p = parts(data, 3);
    macro_rules! read {
        ($b:expr, $t:ty) => {
            serde_json::from_slice::<api::Collection<$t>>($b)
                .map(|c| c.items)
                .unwrap_or_default()
        };
    }
    let business = read!(p[0], api::Business);
    let pubs = read!(p[1], api::Publication);
    let evidence = read!(p[2], api::WrittenEvidence);
    let q = CommitteeQuery {
        committee: Some("203".into()),
        organisations: vec!["Anti-Slavery International".into()],
        deadline_days: 7,
        ..CommitteeQuery::default()
    };
    let base = Url::parse("https://committees-api.parliament.uk/").unwrap();
    let now = Utc.with_ymd_and_hms(2027, 2, 6, 9, 0, 0).unwrap();
    let build = || Snapshot::build(&base, None, &business, &pubs, &evidence, &q, now);
    let a = build();
    assert_eq!(a, build(), "committee snapshot is not deterministic");
    assert!(events(&a, &a).is_empty(), "a committee snapshot differs from itself");
    let _ = events(&Snapshot::default(), &a);
    let doc = a.clone().into_document(&q, "https://committees.parliament.uk/".into());
    assert_eq!(Snapshot::from_document(&doc).ok(), Some(a));
}

/// A Statutory Instruments API instrument detail and its business items.
pub fn si_json(data: &[u8]) {
    use policywatch::source::statutory_instruments::{events, BusinessItem, Instrument, Resource, Snapshot};
    let p = parts(data, 2);
    let Ok(detail) = serde_json::from_slice::<Resource<Instrument>>(p[0]) else {
        return;
    };
    let items: Vec<BusinessItem> = serde_json::from_slice(p[1]).unwrap_or_default();
    let now = Utc.with_ymd_and_hms(2027, 6, 1, 9, 0, 0).unwrap();
    let pair = vec![(detail.value, items)];
    let a = Snapshot::build(&pair, now);
    assert_eq!(a, Snapshot::build(&pair, now), "SI snapshot is not deterministic");
    assert!(events(&a, &a).is_empty(), "an SI snapshot differs from itself");
    let _ = events(&Snapshot::default(), &a);
}

/// Two legislation.gov.uk changes feeds: parsing is deterministic, a document compared with
/// itself raises nothing.
pub fn legislation_feed(data: &[u8]) {
    use policywatch::source::legislation_effects::{compare, into_document, parse};
    let p = parts(data, 2);
    let url = Url::parse("https://www.legislation.gov.uk/changes/affected/ukpga/2018/12/data.feed").unwrap();
    let doc = |b: &[u8]| {
        let text = String::from_utf8_lossy(b);
        let first = parse(&text);
        assert_eq!(first, parse(&text), "feed parsing is not deterministic");
        first.ok().map(|page| into_document("ukpga/2018/12", &url, page.effects))
    };
    let Some(a) = doc(p[0]) else {
        return;
    };
    let b = doc(p[1]).unwrap_or_else(|| a.clone());
    assert!(compare(&a, &a).unwrap().is_empty(), "an effects document differs from itself");
    let _ = compare(&a, &b);
}

/// PDF (or HTML) text extraction under the production limits, minus the timeout (the fuzzer
/// has its own): refuses or reads, never panics; a document diffed with itself is empty.
pub fn pdf_extract(data: &[u8]) {
    use policywatch::source::documents::{diff_by_page, extract_blocking, keyword_pages, Limits};
    let Ok(ex) = extract_blocking(data, Some("application/pdf"), Limits::default()) else {
        return;
    };
    let _ = keyword_pages(&["modern slavery".to_string()], &ex.pages);
    let (diff, pages) = diff_by_page(&ex.pages, &ex.pages);
    assert!(diff.is_empty() && pages.is_empty(), "a document differs from itself");
}
