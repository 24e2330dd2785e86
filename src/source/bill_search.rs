//! `bill_search` watches: bills matching a Bills API search (`SearchTerm`, session, house,
//! bill type; every page) and/or the all-bills RSS feed. A bill id never seen by the watch
//! raises `bill.new`; ids are the key, so a renamed bill is not new, and a bill that drops out
//! of the results (the RSS keeps only the latest 50) and comes back is not new either.

use serde::{Deserialize, Serialize};

use futures_util::future::BoxFuture;

use crate::config::{SourceBase, Sources};
use crate::data::{Event, Severity};
use crate::error::{Error, Result};
use crate::source::bill::snapshot::named_house;
use crate::source::bill::{api, Bill};
use crate::source::kind::{target_of, EventInfo, SourceKind};
use crate::source::{Context, Document, FollowTarget, Job, Observed, Outcome};
use crate::text::html::fold;
use crate::watchlist::{KindKeys, KindSyntax, KindTarget, Target, Watch};

/// `[sources] bills_rss`.
pub const BILLS_RSS: SourceBase = SourceBase {
    key: "bills_rss",
    default: "https://bills.parliament.uk/rss/allbills.rss",
    meaning: "the all-bills RSS feed",
};

/// A Bills API search and/or the all-bills RSS feed (`search = "slavery"` or a table): a
/// `bill_search` watch's target.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BillQuery {
    /// `SearchTerm`; bills whose titles match.
    pub term: Option<String>,
    pub session: Option<u32>,
    /// `Commons`, `Lords` or `Unassigned`.
    pub house: Option<String>,
    pub bill_type: Option<u32>,
    /// Also read the all-bills RSS feed, keeping items whose title or long title matches `term`.
    pub rss: bool,
}

impl KindTarget for BillQuery {
    const KIND: &'static str = "bill_search";
    fn key(&self) -> String {
        format!("{self:?}")
    }
}

const SEARCH_KEYS: &[&str] = &["term", "session", "house", "bill_type", "rss"];
const HOUSES: &[&str] = &["Commons", "Lords", "Unassigned"];

pub struct BillSearchKind;

impl KindSyntax for BillSearchKind {
    fn name(&self) -> &'static str {
        BillQuery::KIND
    }
    fn keys(&self) -> &'static [&'static str] {
        &["search"]
    }
    fn can_follow(&self) -> bool {
        true
    }
    fn parse(&self, keys: &mut KindKeys<'_, '_, '_>) -> Option<Target> {
        let q = keys.search(
            "a search term",
            SEARCH_KEYS,
            |term| BillQuery {
                term: Some(term),
                ..BillQuery::default()
            },
            |t| {
                let mut q = BillQuery::default();
                if let Some(i) = t.get("term") {
                    q.term = t.string("term", i).map(str::to_string);
                }
                if let Some(i) = t.get("session") {
                    q.session = t.positive_u32("session", i);
                }
                if let Some(i) = t.get("house") {
                    q.house = t
                        .choice("house", i, HOUSES, ("house", "houses"))
                        .map(str::to_string);
                }
                if let Some(i) = t.get("bill_type") {
                    q.bill_type = t.positive_u32("bill_type", i);
                }
                if let Some(i) = t.get("rss") {
                    q.rss = t.bool("rss", i).unwrap_or(false);
                }
                q
            },
        )?;
        Some(Target::new(q))
    }
}

impl SourceKind for BillSearchKind {
    fn about(&self) -> &'static str {
        "a Bills API search and/or the all-bills RSS feed: new bills that match"
    }
    fn events(&self) -> &'static [EventInfo] {
        &[EventInfo {
            name: "bill.new",
            severity: Severity::Notice,
            meaning: "a bill that matches the search, not seen before",
        }]
    }
    fn bases(&self) -> &'static [SourceBase] {
        &[api::BILLS_API, BILLS_RSS, api::BILLS_SITE]
    }
    fn human_url(&self, _: &Target, sources: &Sources) -> String {
        sources.url(&api::BILLS_SITE).to_string()
    }
    fn reads_previous(&self) -> bool {
        true
    }
    fn observe<'a>(&'a self, ctx: &'a Context, job: &'a Job) -> BoxFuture<'a, Result<Observed>> {
        Box::pin(observe(ctx, job))
    }
    fn compare(&self, watch: &Watch, previous: &Document, next: &Document) -> Result<Vec<Event>> {
        compare(watch, previous, next)
    }
    fn follows(&self, document: &Document) -> Result<Vec<FollowTarget>> {
        follows(document)
    }
}

pub mod rss;

/// Details of newly found bills fetched per cycle at most (the search results carry no long
/// title or sponsor); the rest are listed without them.
const MAX_DETAILS: usize = 20;

/// Bill ids remembered as seen, at most.
const MAX_KNOWN: usize = 20_000;

/// A bill the search matches, as listed in the document and announced by `bill.new`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Match {
    pub id: u32,
    pub title: String,
    pub long_title: Option<String>,
    pub sponsor: Option<String>,
    pub house: Option<String>,
    pub stage: Option<String>,
    pub bill_type: Option<String>,
    pub link: String,
}

impl Match {
    fn from_summary(s: &api::BillSummary) -> Match {
        let stage = s.current_stage.as_ref();
        Match {
            id: s.bill_id,
            title: s
                .short_title
                .as_deref()
                .map(fold)
                .unwrap_or_else(|| format!("Bill {}", s.bill_id)),
            house: named_house(
                stage
                    .and_then(|c| c.house.as_deref())
                    .or(s.current_house.as_deref()),
            )
            .map(str::to_string),
            stage: stage.and_then(|c| c.description.as_deref()).map(fold),
            bill_type: s
                .bill_type_id
                .and_then(api::bill_type_name)
                .map(str::to_string),
            link: api::public_url(s.bill_id),
            ..Match::default()
        }
    }

    fn from_rss(b: &rss::RssBill) -> Match {
        Match {
            id: b.id,
            title: b.title.clone(),
            long_title: Some(b.description.clone()).filter(|d| !d.is_empty()),
            house: b.house().map(str::to_string),
            stage: b.stage.clone(),
            bill_type: b.categories.iter().find(|c| c.contains("Bill")).cloned(),
            link: b.link.clone().unwrap_or_else(|| api::public_url(b.id)),
            ..Match::default()
        }
    }

    /// Fills what this source left out from another view of the same bill.
    fn fill_from(&mut self, other: &Match) {
        for (mine, theirs) in [
            (&mut self.long_title, &other.long_title),
            (&mut self.sponsor, &other.sponsor),
            (&mut self.house, &other.house),
            (&mut self.stage, &other.stage),
            (&mut self.bill_type, &other.bill_type),
        ] {
            if mine.is_none() {
                mine.clone_from(theirs);
            }
        }
    }

    /// "Commons: 2nd reading".
    fn stage_label(&self) -> Option<String> {
        match (&self.house, &self.stage) {
            (Some(h), Some(s)) => Some(format!("{h}: {s}")),
            (None, Some(s)) => Some(s.clone()),
            (Some(h), None) => Some(h.clone()),
            (None, None) => None,
        }
    }

    fn text(&self) -> String {
        let mut lines = vec![format!("## {}", self.title)];
        let mut about = vec![format!("Bill {}", self.id)];
        about.extend(self.stage_label());
        about.extend(self.bill_type.clone());
        lines.push(about.join(" · "));
        if let Some(s) = &self.sponsor {
            lines.push(format!("Sponsor: {s}"));
        }
        if let Some(t) = &self.long_title {
            lines.push(t.clone());
        }
        lines.push(self.link.clone());
        lines.join("\n")
    }
}

/// The stored shape of a search's document (`fields`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Listing {
    /// Bills matching now, newest id first.
    pub bills: Vec<Match>,
    /// Every bill id the watch has ever matched, so one that drops out and returns is not new.
    #[serde(default)]
    pub known: Vec<u32>,
}

impl Listing {
    fn from_document(doc: &Document) -> Result<Listing> {
        crate::source::decode_fields(doc, "bill search listing")
    }

    fn knows(&self, id: u32) -> bool {
        self.known.binary_search(&id).is_ok() || self.bills.iter().any(|b| b.id == id)
    }
}

fn describe(q: &BillQuery) -> String {
    let mut parts = Vec::new();
    if let Some(t) = &q.term {
        parts.push(format!("“{t}”"));
    }
    if let Some(s) = q.session {
        parts.push(format!("session {s}"));
    }
    if let Some(h) = &q.house {
        parts.push(h.clone());
    }
    if let Some(t) = q.bill_type {
        parts.push(api::bill_type_name(t).map_or_else(|| format!("bill type {t}"), str::to_string));
    }
    if q.rss {
        parts.push("all-bills RSS".into());
    }
    format!("Bills matching {}", parts.join(", "))
}

fn uses_api(q: &BillQuery) -> bool {
    q.term.as_deref().is_some_and(|t| !t.trim().is_empty())
        || q.session.is_some()
        || q.house.is_some()
        || q.bill_type.is_some()
}

/// Whether an RSS item passes the query's filters (the feed covers the current session).
fn rss_matches(q: &BillQuery, b: &rss::RssBill) -> bool {
    let term_ok = q
        .term
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .is_none_or(|t| {
            let t = t.to_lowercase();
            b.title.to_lowercase().contains(&t) || b.description.to_lowercase().contains(&t)
        });
    let house_ok = q
        .house
        .as_deref()
        .is_none_or(|h| b.house().is_some_and(|bh| bh.eq_ignore_ascii_case(h)));
    let type_ok = q
        .bill_type
        .and_then(api::bill_type_name)
        .is_none_or(|name| b.categories.iter().any(|c| c == name));
    term_ok && house_ok && type_ok
}

async fn read_rss(ctx: &Context) -> Result<Vec<rss::RssBill>> {
    let url = &ctx.base(&BILLS_RSS);
    let accept = "application/rss+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1";
    let body = ctx.get(url, accept, &[]).await?;
    rss::parse(&String::from_utf8_lossy(&body.bytes)).map_err(|e| Error::extract(url.as_str(), e))
}

/// "Jack Brereton (Conservative)", or the department when no member is named.
fn sponsor_of(d: &api::BillDetail) -> Option<String> {
    let mut sponsors: Vec<&api::Sponsor> = d.sponsors.iter().collect();
    sponsors.sort_by_key(|s| s.sort_order);
    sponsors
        .iter()
        .find_map(|s| {
            let m = s.member.as_ref()?;
            let name = fold(m.name.as_deref()?);
            let dept = s
                .organisation
                .as_ref()
                .and_then(|o| o.name.as_deref())
                .map(fold);
            Some(match (m.party.as_deref().map(fold), dept) {
                (Some(p), Some(d)) => format!("{name} ({p}), {d}"),
                (Some(p), None) => format!("{name} ({p})"),
                (None, Some(d)) => format!("{name}, {d}"),
                (None, None) => name,
            })
        })
        .or_else(|| {
            sponsors
                .iter()
                .find_map(|s| s.organisation.as_ref()?.name.as_deref().map(fold))
        })
}

pub async fn observe(ctx: &Context, job: &Job) -> Result<Observed> {
    let q = target_of::<BillQuery>(&job.watch)?;
    if !uses_api(q) && !q.rss {
        return Err(Error::extract(
            job.watch.id.clone(),
            "the search has no term, filter or `rss = true`",
        ));
    }
    let previous = job
        .previous
        .as_ref()
        .map(Listing::from_document)
        .transpose()?;

    let (found, from_rss) = futures_util::try_join!(
        async {
            if uses_api(q) {
                api::search(ctx, q).await
            } else {
                Ok(Vec::new())
            }
        },
        async {
            if q.rss {
                read_rss(ctx).await
            } else {
                Ok(Vec::new())
            }
        }
    )?;

    let mut bills: Vec<Match> = found.iter().map(Match::from_summary).collect();
    for b in from_rss
        .iter()
        .filter(|b| rss_matches(q, b))
        .map(Match::from_rss)
    {
        match bills.iter_mut().find(|m| m.id == b.id) {
            Some(m) => m.fill_from(&b),
            None => bills.push(b),
        }
    }
    bills.sort_by_key(|b| std::cmp::Reverse(b.id));
    bills.dedup_by_key(|b| b.id);

    if let Some(prev) = &previous {
        for b in &mut bills {
            if let Some(old) = prev.bills.iter().find(|o| o.id == b.id) {
                b.fill_from(old);
            }
        }
        // New bills are announced with their long title and sponsor, which only the
        // detail has; the baseline goes without, to keep the first cycle cheap.
        let wanted: Vec<usize> = bills
            .iter()
            .enumerate()
            .filter(|(_, b)| !prev.knows(b.id) && (b.long_title.is_none() || b.sponsor.is_none()))
            .map(|(i, _)| i)
            .take(MAX_DETAILS)
            .collect();
        let details =
            futures_util::future::join_all(wanted.iter().map(|&i| api::detail(ctx, bills[i].id)))
                .await;
        for (i, detail) in wanted.into_iter().zip(details) {
            // A detail that fails leaves the bill announced with what the search had.
            if let Ok(d) = detail {
                let b = &mut bills[i];
                if b.long_title.is_none() {
                    b.long_title = d.long_title.as_deref().map(fold).filter(|t| !t.is_empty());
                }
                if b.sponsor.is_none() {
                    b.sponsor = sponsor_of(&d);
                }
            }
        }
    }

    let mut known: Vec<u32> = previous.map(|p| p.known).unwrap_or_default();
    known.extend(bills.iter().map(|b| b.id));
    known.sort_unstable();
    known.dedup();
    if known.len() > MAX_KNOWN {
        known.drain(..known.len() - MAX_KNOWN);
    }

    let title = describe(q);
    let mut text = vec![format!("# {title}")];
    if bills.is_empty() {
        text.push("(no matching bills)".into());
    }
    text.extend(bills.iter().map(|b| format!("\n{}", b.text())));
    let mut url = url::Url::parse("https://bills.parliament.uk/").expect("a constant URL");
    if let Some(t) = &q.term {
        url.query_pairs_mut().append_pair("SearchTerm", t);
    }
    let document = Document {
        title,
        url: url.to_string(),
        text: text.join("\n") + "\n",
        fields: serde_json::to_value(Listing { bills, known })?,
    };
    Ok(Observed {
        outcome: Outcome::Document(document),
        state: job.state.clone(),
    })
}

pub fn compare(_watch: &Watch, previous: &Document, next: &Document) -> Result<Vec<Event>> {
    new_bills(previous, next)
}

/// One `bill.new` per bill id the previous version had never seen.
fn new_bills(previous: &Document, next: &Document) -> Result<Vec<Event>> {
    let prev = Listing::from_document(previous)?;
    Ok(Listing::from_document(next)?
        .bills
        .iter()
        .filter(|b| !prev.knows(b.id))
        .map(|b| new_bill(b, &next.title))
        .collect())
}

fn new_bill(b: &Match, search: &str) -> Event {
    let mut summary = format!("New bill: {}", b.title);
    if let Some(s) = b.stage_label() {
        summary.push_str(&format!(" — {s}"));
    }
    if let Some(s) = &b.sponsor {
        summary.push_str(&format!(", sponsored by {s}"));
    }
    let mut e = Event::new("bill.new", summary);
    e.title = Some(b.title.clone());
    e.url = Some(b.link.clone());
    e.severity = Severity::Notice;
    if let Some(t) = &b.long_title {
        e.annotations.push(format!("Long title: {t}"));
    }
    e.annotations.push(format!("Found by: {search}"));
    e.keyword_text = [Some(&b.title), b.long_title.as_ref()]
        .into_iter()
        .flatten()
        .cloned()
        .collect::<Vec<_>>()
        .join("\n");
    e.diff = Some(b.text().lines().map(|l| format!("+{l}\n")).collect());
    e.fields = serde_json::to_value(b).unwrap_or_default();
    e
}

pub fn follows(document: &Document) -> Result<Vec<FollowTarget>> {
    Ok(Listing::from_document(document)?
        .bills
        .iter()
        .map(|b| FollowTarget {
            id: format!("bill-{}", b.id),
            kind: Bill::KIND.into(),
            target: b.id.to_string(),
            title: b.title.clone(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FEED: &str = include_str!("../../tests/fixtures/bills-rss/allbills__2025-02-01.rss");
    const FEED_WITHOUT_3929: &str =
        include_str!("../../tests/fixtures/bills-rss/allbills__2025-02-01__without_3929.rss");

    fn listing(feed: &str, q: &BillQuery, known: &[u32]) -> Document {
        let bills: Vec<Match> = rss::parse(feed)
            .unwrap()
            .iter()
            .filter(|b| rss_matches(q, b))
            .map(Match::from_rss)
            .collect();
        let mut all: Vec<u32> = known.to_vec();
        all.extend(bills.iter().map(|b| b.id));
        all.sort_unstable();
        all.dedup();
        Document {
            title: describe(q),
            url: String::new(),
            text: String::new(),
            fields: serde_json::to_value(Listing { bills, known: all }).unwrap(),
        }
    }

    fn immigration() -> BillQuery {
        BillQuery {
            term: Some("immigration".into()),
            rss: true,
            ..BillQuery::default()
        }
    }

    #[test]
    fn rss_filters_by_term_in_title_or_long_title_and_house() {
        let q = immigration();
        let ids: Vec<u32> = rss::parse(FEED)
            .unwrap()
            .iter()
            .filter(|b| rss_matches(&q, b))
            .map(|b| b.id)
            .collect();
        assert_eq!(ids, [3929, 3868]);
        let lords = BillQuery {
            house: Some("Lords".into()),
            ..q
        };
        assert!(rss::parse(FEED)
            .unwrap()
            .iter()
            .all(|b| !rss_matches(&lords, b) || b.house() == Some("Lords")));
    }

    #[test]
    fn one_new_bill_once() {
        let q = immigration();
        let before = listing(FEED_WITHOUT_3929, &q, &[]);
        let after = listing(FEED, &q, &[]);
        let watch_free = new_bills(&before, &after).unwrap();
        assert_eq!(watch_free.len(), 1);
        let e = &watch_free[0];
        assert_eq!(e.kind, "bill.new");
        assert_eq!(
            e.summary,
            "New bill: Border Security, Asylum and Immigration Bill — Commons: 2nd reading"
        );
        assert_eq!(
            e.url.as_deref(),
            Some("https://bills.parliament.uk/bills/3929")
        );
        assert_eq!(e.fields["id"], 3929);
        assert_eq!(e.fields["bill_type"], "Government Bill");
        assert!(e.annotations[0]
            .starts_with("Long title: A Bill to make provision about border security;"));
        assert_eq!(
            e.annotations[1],
            "Found by: Bills matching “immigration”, all-bills RSS"
        );
        // The next cycle sees the same feed: nothing new.
        assert!(new_bills(&after, &listing(FEED, &q, &[]))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn a_bill_that_drops_out_and_returns_is_not_new() {
        let q = immigration();
        let gone = listing(FEED_WITHOUT_3929, &q, &[3929, 3868]);
        assert!(new_bills(&gone, &listing(FEED, &q, &[]))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn a_renamed_bill_is_not_new() {
        let q = immigration();
        let before = listing(FEED, &q, &[]);
        let renamed = FEED.replace(
            "<title>Border Security, Asylum and Immigration Bill</title>",
            "<title>Border Security and Immigration Bill</title>",
        );
        assert!(new_bills(&before, &listing(&renamed, &q, &[]))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn follows_every_matching_bill_by_id() {
        let f = follows(&listing(FEED, &immigration(), &[])).unwrap();
        assert_eq!(
            f[0],
            FollowTarget {
                id: "bill-3929".into(),
                kind: "bill".into(),
                target: "3929".into(),
                title: "Border Security, Asylum and Immigration Bill".into(),
            }
        );
        assert_eq!(f.len(), 2);
    }
}
