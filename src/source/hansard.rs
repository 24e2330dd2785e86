//! `hansard` watches: what is said in either House, from the Hansard API's contribution
//! search (`<hansard>search/contributions/{Spoken|Written}.json`, newest sitting first).
//! Event `hansard.mentioned`: one alert per debate and sitting day, listing each new
//! contribution that contains a phrase, with the speaker, the sentence around each phrase
//! and a link to the debate. Contributions added later to a debate already reported raise
//! one more alert with only them.
//!
//! A cycle asks, per phrase and contribution type, for contributions from the day before the
//! last poll on, read to the last page; the API's match is fuzzy, so each contribution's full
//! text is checked for the phrase itself.

use std::collections::HashSet;

use chrono::{Duration, NaiveDate};
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use crate::config::{SourceBase, Sources};
use crate::error::{Error, Result};
use crate::event::{Event, Severity};
use crate::source::kind::{target_of, EventInfo, SourceKind};
use crate::source::parliament::{
    day, endpoint, html_to_text, long_day, observed, phrase_hits, read_search, search_each, stored,
    uk_today, window_start, Bases, House, MemberCache, Page, MEMBERS, PAGE_SIZE,
};
use crate::source::{Context, Document, Job, Observed};
use crate::text::html::fold;
use crate::watchlist::{KindKeys, KindSyntax, KindTarget, Target, Watch};

/// `[sources] hansard`.
pub const HANSARD: SourceBase = SourceBase {
    key: "hansard",
    default: "https://hansard-api.parliament.uk/",
    meaning: "Hansard API (contribution search)",
};

pub const API: &str = "the Hansard API";

/// Days looked back on a watch's first run.
pub const FIRST_RUN_DAYS: i64 = 7;

/// Debates kept in the document, newest sitting first.
pub const MAX_DEBATES: usize = 200;

/// Contribution ids remembered as reported.
const MAX_KNOWN: usize = 20_000;

/// `contributions = ["spoken", "written"]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContributionType {
    Spoken,
    Written,
}

impl ContributionType {
    fn api(self) -> &'static str {
        match self {
            ContributionType::Spoken => "Spoken",
            ContributionType::Written => "Written",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "spoken" => Some(ContributionType::Spoken),
            "written" => Some(ContributionType::Written),
            _ => None,
        }
    }
}

/// A `hansard` watch's keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// At least one phrase.
    pub phrases: Vec<String>,
    pub house: Option<House>,
    /// Default: spoken only.
    pub contributions: Vec<ContributionType>,
}

impl KindTarget for Query {
    const KIND: &'static str = "hansard";
    fn key(&self) -> String {
        format!("{self:?}")
    }
}

pub struct HansardKind;

impl KindSyntax for HansardKind {
    fn name(&self) -> &'static str {
        Query::KIND
    }
    fn keys(&self) -> &'static [&'static str] {
        &["search", "house", "contributions"]
    }
    fn parse(&self, keys: &mut KindKeys<'_, '_, '_>) -> Option<Target> {
        let before = keys.problems();
        let (phrases, house) = read_search(
            keys,
            Some("a phrase, or an array of phrases, said in Parliament"),
        );
        let mut contributions = Vec::new();
        if let Some(item) = keys.get("contributions") {
            for c in keys.strings("contributions", item) {
                match ContributionType::parse(&c) {
                    Some(t) if !contributions.contains(&t) => contributions.push(t),
                    Some(_) => {}
                    None => keys.problem(
                        item,
                        format!("unknown contribution type `{c}`; valid types: spoken, written"),
                    ),
                }
            }
        }
        (keys.problems() == before).then(|| {
            Target::new(Query {
                phrases,
                house,
                contributions,
            })
        })
    }
}

impl SourceKind for HansardKind {
    fn about(&self) -> &'static str {
        "phrases said or written in either House (Hansard API contribution search)"
    }
    fn events(&self) -> &'static [EventInfo] {
        &[EventInfo {
            name: "hansard.mentioned",
            severity: Severity::Notice,
            meaning: "one alert per debate and sitting day: each new contribution with a phrase, its speaker and the sentence around it",
        }]
    }
    fn bases(&self) -> &'static [SourceBase] {
        &[HANSARD, MEMBERS]
    }
    fn human_url(&self, _: &Target, _: &Sources) -> String {
        "https://hansard.parliament.uk/search".into()
    }
    fn reads_previous(&self) -> bool {
        true
    }
    fn observe<'a>(&'a self, ctx: &'a Context, job: &'a Job) -> BoxFuture<'a, Result<Observed>> {
        Box::pin(async move {
            let query = target_of::<Query>(&job.watch)?;
            let bases = Bases::of(ctx, &HANSARD, &job.watch);
            observed(observe(ctx, &bases, query, job.previous.as_ref(), &job.state).await)
        })
    }
    fn compare(&self, _: &Watch, previous: &Document, next: &Document) -> Result<Vec<Event>> {
        compare(previous, next)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    pub last_poll: Option<NaiveDate>,
    pub members: MemberCache,
}

/// `search/contributions/{type}.json`: PascalCase keys; only `TotalResultCount` is a real
/// count.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct SearchResult {
    pub results: Option<Vec<Row>>,
    pub total_result_count: Option<usize>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Row {
    pub member_name: Option<String>,
    pub member_id: Option<u32>,
    pub attributed_to: Option<String>,
    pub contribution_ext_id: Option<String>,
    pub contribution_text: Option<String>,
    pub contribution_text_full: Option<String>,
    pub debate_section: Option<String>,
    pub debate_section_id: Option<u64>,
    pub debate_section_ext_id: Option<String>,
    pub sitting_date: Option<String>,
    pub section: Option<String>,
    pub house: Option<String>,
    pub order_in_debate_section: Option<u32>,
}

/// A debate on a sitting day, with the contributions that mention a phrase.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Debate {
    /// `DebateSectionExtId`, upper case.
    pub id: String,
    pub section_id: Option<u64>,
    pub title: String,
    pub house: String,
    /// "Lords Chamber", "Westminster Hall"…
    pub section: String,
    /// `YYYY-MM-DD`.
    pub sitting_date: String,
    pub url: String,
    /// In debate order.
    pub contributions: Vec<Contribution>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Contribution {
    /// `ContributionExtId`, upper case.
    pub id: String,
    pub member_id: Option<u32>,
    /// "Name (Party, Constituency)".
    pub speaker: String,
    pub order: Option<u32>,
    pub kind: String,
    /// `[phrase, sentence]` pairs.
    pub quotes: Vec<(String, String)>,
    pub url: String,
    /// The whole contribution, paragraphs as lines.
    pub text: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Listing {
    /// Newest sitting first.
    pub debates: Vec<Debate>,
    /// Contribution ids ever reported, sorted.
    pub known: Vec<String>,
}

impl Listing {
    pub fn from_document(doc: &Document) -> Result<Listing> {
        stored(&doc.fields)
    }

    fn knows(&self, id: &str) -> bool {
        self.known.binary_search_by(|k| k.as_str().cmp(id)).is_ok()
    }

    fn has(&self, debate: &str, date: &str, contribution: &str) -> bool {
        self.debates.iter().any(|d| {
            d.id == debate
                && d.sitting_date == date
                && d.contributions.iter().any(|c| c.id == contribution)
        })
    }
}

/// `search/contributions/{Spoken|Written}.json?queryParameters.searchTerm=…&startDate=…
/// &house=…&orderBy=SittingDateDesc&skip=…&take=…`.
pub fn search_url(
    base: &Url,
    kind: ContributionType,
    phrase: &str,
    house: Option<House>,
    since: NaiveDate,
    skip: usize,
) -> Result<Url> {
    let mut url = endpoint(base, &format!("search/contributions/{}.json", kind.api()))?;
    {
        let mut q = url.query_pairs_mut();
        // Quoted, so the API looks for the phrase rather than any of its words.
        q.append_pair("queryParameters.searchTerm", &format!("\"{phrase}\""));
        q.append_pair("queryParameters.startDate", &since.to_string());
        if let Some(h) = house {
            q.append_pair("queryParameters.house", h.api());
        }
        q.append_pair("queryParameters.orderBy", "SittingDateDesc");
        q.append_pair("queryParameters.skip", &skip.to_string());
        q.append_pair("queryParameters.take", &PAGE_SIZE.to_string());
    }
    Ok(url)
}

/// The debate on Hansard's site.
pub fn debate_url(house: &str, date: &str, ext_id: &str, title: &str) -> String {
    let slug: String = title
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    format!("https://hansard.parliament.uk/{house}/{date}/debates/{ext_id}/{slug}")
}

fn page(r: SearchResult) -> Page<Row> {
    Page {
        items: r.results.unwrap_or_default(),
        total: r.total_result_count,
    }
}

pub async fn observe(
    ctx: &Context,
    bases: &Bases,
    query: &Query,
    previous: Option<&Document>,
    state: &Value,
) -> Result<(Document, Value)> {
    if query.phrases.is_empty() {
        return Err(Error::extract(
            bases.api.as_str(),
            "a hansard watch needs at least one `search` phrase",
        ));
    }
    let mut st: State = stored(state)?;
    let prev = match previous {
        Some(doc) => Listing::from_document(doc)?,
        None => Listing::default(),
    };
    let today = uk_today(ctx.now);
    let since = window_start(st.last_poll, today - Duration::days(FIRST_RUN_DAYS));
    let kinds = if query.contributions.is_empty() {
        vec![ContributionType::Spoken]
    } else {
        query.contributions.clone()
    };
    let mut found: Vec<(ContributionType, Row)> = Vec::new();
    for &kind in &kinds {
        let rows = search_each(
            ctx,
            API,
            &bases.allow_redirects,
            &query.phrases,
            // Never without a term: a watch has at least one phrase (checked above).
            |term, skip| {
                let phrase = term.unwrap_or_default();
                search_url(&bases.api, kind, phrase, query.house, since, skip)
            },
            page,
        )
        .await?;
        found.extend(rows.into_iter().map(|r| (kind, r)));
    }
    let mut named = Vec::new();
    for c in candidates(&prev, query, found) {
        let fallback = c
            .row
            .attributed_to
            .as_deref()
            .or(c.row.member_name.as_deref());
        let speaker = st
            .members
            .name(ctx, &bases.members, c.row.member_id, None, fallback)
            .await;
        named.push((c, speaker));
    }
    let mut next = prev.clone();
    add(&mut next, named);
    st.last_poll = Some(today);
    Ok((
        document(describe(query), &next)?,
        serde_json::to_value(&st)?,
    ))
}

/// The stored document of a listing.
pub fn document(title: String, listing: &Listing) -> Result<Document> {
    let mut text = vec![format!("# {title}")];
    if listing.debates.is_empty() {
        text.push("(no mentions yet)".into());
    }
    text.extend(
        listing
            .debates
            .iter()
            .map(|d| debate_text(d, &d.contributions)),
    );
    Ok(Document {
        title,
        url: "https://hansard.parliament.uk/search".into(),
        text: text.join("\n\n"),
        fields: serde_json::to_value(listing)?,
    })
}

/// The named candidates of a search page (speakers as the API attributes them), filed into
/// `previous`: what a cycle does, without the Members API.
pub fn listing_from(previous: &Listing, query: &Query, rows: Vec<Row>) -> Listing {
    let found = rows
        .into_iter()
        .map(|r| (ContributionType::Spoken, r))
        .collect();
    let named = candidates(previous, query, found)
        .into_iter()
        .map(|c| {
            let who = c
                .row
                .attributed_to
                .clone()
                .or_else(|| c.row.member_name.clone())
                .unwrap_or_default();
            (c, who)
        })
        .collect();
    let mut next = previous.clone();
    add(&mut next, named);
    next
}

/// A contribution the API found that is new and really contains a phrase.
pub struct Candidate {
    kind: ContributionType,
    row: Row,
    contribution: String,
    debate: String,
    date: String,
    text: String,
    hits: Vec<crate::annotate::KeywordHit>,
}

/// The new contributions among `found` that are in the watch's house and contain a phrase.
pub fn candidates(
    prev: &Listing,
    query: &Query,
    found: Vec<(ContributionType, Row)>,
) -> Vec<Candidate> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (kind, row) in found {
        let (Some(contribution), Some(debate), Some(date)) = (
            row.contribution_ext_id
                .as_deref()
                .map(str::to_ascii_uppercase),
            row.debate_section_ext_id
                .as_deref()
                .map(str::to_ascii_uppercase),
            day(row.sitting_date.as_deref()).map(|d| d.to_string()),
        ) else {
            continue;
        };
        if !seen.insert(contribution.clone())
            || prev.knows(&contribution)
            || prev.has(&debate, &date, &contribution)
        {
            continue;
        }
        if query.house.is_some_and(|h| !h.is(row.house.as_deref())) {
            continue;
        }
        let text = html_to_text(
            row.contribution_text_full
                .as_deref()
                .or(row.contribution_text.as_deref())
                .unwrap_or_default(),
        );
        let hits = phrase_hits(&query.phrases, &text);
        if hits.is_empty() {
            continue;
        }
        out.push(Candidate {
            kind,
            row,
            contribution,
            debate,
            date,
            text,
            hits,
        });
    }
    out
}

/// Files each named candidate under its debate and sitting day.
pub fn add(next: &mut Listing, named: Vec<(Candidate, String)>) {
    for (c, speaker) in named {
        let house = c.row.house.clone().unwrap_or_default();
        let title = c
            .row
            .debate_section
            .as_deref()
            .map(fold)
            .unwrap_or_default();
        let url = debate_url(&house, &c.date, &c.debate, &title);
        let contribution = Contribution {
            url: format!("{url}#contribution-{}", c.contribution),
            id: c.contribution,
            member_id: c.row.member_id,
            speaker,
            order: c.row.order_in_debate_section,
            kind: c.kind.api().to_string(),
            quotes: c
                .hits
                .into_iter()
                .map(|h| (h.keyword, h.sentence))
                .collect(),
            text: c.text,
        };
        let at = next
            .debates
            .iter()
            .position(|d| d.id == c.debate && d.sitting_date == c.date);
        let debate = match at {
            Some(i) => &mut next.debates[i],
            None => {
                next.debates.push(Debate {
                    id: c.debate,
                    section_id: c.row.debate_section_id,
                    title,
                    house,
                    section: c.row.section.clone().unwrap_or_default(),
                    sitting_date: c.date,
                    url,
                    contributions: Vec::new(),
                });
                next.debates.last_mut().expect("just pushed")
            }
        };
        debate.contributions.push(contribution);
    }
    settle(next);
}

fn settle(l: &mut Listing) {
    for d in &mut l.debates {
        d.contributions
            .sort_by(|a, b| a.order.cmp(&b.order).then(a.id.cmp(&b.id)));
        for c in &d.contributions {
            if let Err(i) = l.known.binary_search(&c.id) {
                l.known.insert(i, c.id.clone());
            }
        }
    }
    l.debates
        .sort_by(|a, b| b.sitting_date.cmp(&a.sitting_date).then(a.id.cmp(&b.id)));
    l.debates.truncate(MAX_DEBATES);
    if l.known.len() > MAX_KNOWN {
        // Ids are GUIDs, so which go is arbitrary; the debates kept still guard theirs.
        let drop = l.known.len() - MAX_KNOWN;
        l.known.drain(..drop);
    }
}

/// "Hansard mentions of “modern slavery” (Commons)".
pub fn describe(q: &Query) -> String {
    let quoted: Vec<String> = q.phrases.iter().map(|p| format!("“{p}”")).collect();
    let mut s = format!("Hansard mentions of {}", quoted.join(" or "));
    if let Some(h) = q.house {
        s.push_str(&format!(" ({})", h.api()));
    }
    s
}

fn debate_title(d: &Debate) -> String {
    format!(
        "Hansard: {} ({}, {})",
        d.title,
        d.house,
        long_day(&d.sitting_date)
    )
}

fn debate_text(d: &Debate, contributions: &[Contribution]) -> String {
    let mut lines = vec![format!("## {}", debate_title(d)), d.url.clone()];
    for c in contributions {
        lines.push(format!("{}:", c.speaker));
        lines.extend(c.text.lines().map(str::to_string));
    }
    lines.join("\n")
}

pub fn compare(previous: &Document, next: &Document) -> Result<Vec<Event>> {
    let prev = Listing::from_document(previous)?;
    let next = Listing::from_document(next)?;
    let mut events = Vec::new();
    // Oldest sitting first, so alerts read in the order things were said.
    for d in next.debates.iter().rev() {
        let new: Vec<Contribution> = d
            .contributions
            .iter()
            .filter(|c| !prev.knows(&c.id) && !prev.has(&d.id, &d.sitting_date, &c.id))
            .cloned()
            .collect();
        if !new.is_empty() {
            let earlier = d.contributions.len() - new.len();
            events.push(mentioned(d, &new, earlier));
        }
    }
    Ok(events)
}

fn mentioned(d: &Debate, new: &[Contribution], earlier: usize) -> Event {
    let mut phrases: Vec<&str> = Vec::new();
    for (p, _) in new.iter().flat_map(|c| &c.quotes) {
        if !phrases.contains(&p.as_str()) {
            phrases.push(p);
        }
    }
    let mut speakers: Vec<&str> = Vec::new();
    for c in new {
        if !speakers.contains(&c.speaker.as_str()) {
            speakers.push(&c.speaker);
        }
    }
    let said = phrases
        .iter()
        .map(|p| format!("“{p}”"))
        .collect::<Vec<_>>()
        .join(", ");
    let place = if d.section.is_empty() {
        d.house.clone()
    } else {
        d.section.clone()
    };
    let mut summary = format!(
        "{said} in {place}, {}: {} — {}",
        long_day(&d.sitting_date),
        d.title,
        speakers.join("; ")
    );
    if earlier > 0 {
        summary.push_str(&format!(" ({} new, {earlier} reported before)", new.len()));
    }
    let mut e = Event::new("hansard.mentioned", summary);
    e.title = Some(debate_title(d));
    e.url = Some(d.url.clone());
    e.severity = Severity::Notice;
    for c in new {
        for (_, sentence) in &c.quotes {
            e.annotations.push(format!("{}: “{sentence}”", c.speaker));
        }
    }
    e.keyword_text = new
        .iter()
        .map(|c| c.text.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    e.diff = Some(
        debate_text(d, new)
            .lines()
            .map(|l| format!("+{l}\n"))
            .collect(),
    );
    e.fields = serde_json::json!({
        "debate_id": d.id,
        "debate_section_id": d.section_id,
        "house": d.house,
        "section": d.section,
        "sitting_date": d.sitting_date,
        "contributions": new.iter().map(|c| serde_json::json!({
            "id": c.id,
            "member_id": c.member_id,
            "speaker": c.speaker,
            "order": c.order,
            "kind": c.kind,
            "url": c.url,
            "quotes": c.quotes.iter().map(|(p, s)| serde_json::json!({"phrase": p, "sentence": s})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::parliament::decode;

    const SPOKEN: &str =
        "GET_search_contributions_Spoken__artificial_superintelligence_2_results.json";

    fn rows() -> Vec<Row> {
        let path = format!(
            "{}/tests/fixtures/hansard/{SPOKEN}",
            env!("CARGO_MANIFEST_DIR")
        );
        let r: SearchResult = decode(&std::fs::read(path).unwrap(), "u", API).unwrap();
        assert_eq!(r.total_result_count, Some(2));
        r.results.unwrap()
    }

    #[test]
    fn the_real_response_decodes_and_its_html_reads_as_paragraphs() {
        let rows = rows();
        assert_eq!(rows.len(), 2);
        let text = html_to_text(rows[0].contribution_text_full.as_deref().unwrap());
        assert!(text.contains("outside American jurisdiction"), "{text}");
        assert!(!text.contains("<span"), "{text}");
        assert!(
            text.contains("AI Scenarios 2030") || text.contains("AI Scenario s 2030"),
            "{text}"
        );
        assert!(text.lines().count() > 5);
    }

    fn listing_after(prev: &Listing, found: Vec<Row>, phrases: &[&str]) -> Listing {
        let query = Query {
            phrases: phrases.iter().map(|p| p.to_string()).collect(),
            house: None,
            contributions: vec![],
        };
        listing_from(prev, &query, found)
    }

    fn doc(l: &Listing) -> Document {
        Document {
            title: "t".into(),
            url: "u".into(),
            text: String::new(),
            fields: serde_json::to_value(l).unwrap(),
        }
    }

    #[test]
    fn two_mentions_in_one_debate_are_one_alert_and_a_later_one_another() {
        let all = rows();
        let empty = Listing::default();
        // Only Lord Hanson's contribution at first (the fixture with Baroness Doocey's removed).
        let first = listing_after(
            &empty,
            vec![all[1].clone()],
            &["artificial superintelligence"],
        );
        let e = compare(&doc(&empty), &doc(&first)).unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(
            e[0].summary,
            "“artificial superintelligence” in Lords Chamber, 30 June 2026: National Security (State Threats) Bill — Lord Hanson of Flint (Lab)"
        );
        // Then both, as the real response has them: only Baroness Doocey's is new.
        let second = listing_after(&first, all.clone(), &["artificial superintelligence"]);
        let e = compare(&doc(&first), &doc(&second)).unwrap();
        assert_eq!(e.len(), 1, "{e:#?}");
        assert!(
            e[0].summary
                .ends_with("— Baroness Doocey (LD) (1 new, 1 reported before)"),
            "{}",
            e[0].summary
        );
        assert_eq!(
            e[0].annotations,
            ["Baroness Doocey (LD): “We are drawing a distinction between the AI tools we use today and what experts term artificial superintelligence, or ASI.”"]
        );
        assert_eq!(e[0].fields["contributions"].as_array().unwrap().len(), 1);
        // Both at once: one alert with both speakers.
        let both = listing_after(&empty, all.clone(), &["artificial superintelligence"]);
        let e = compare(&doc(&empty), &doc(&both)).unwrap();
        assert_eq!(e.len(), 1);
        assert!(
            e[0].summary
                .ends_with("— Baroness Doocey (LD); Lord Hanson of Flint (Lab)"),
            "{}",
            e[0].summary
        );
        // Seen again: nothing new.
        let again = listing_after(&both, all.clone(), &["artificial superintelligence"]);
        assert_eq!(again, both);
        // A phrase the API matched fuzzily but the text does not contain: nothing.
        let fuzzy = listing_after(&empty, all, &["superintelligent agents"]);
        assert!(fuzzy.debates.is_empty());
    }

    #[test]
    fn urls() {
        let base = Url::parse("https://hansard-api.parliament.uk").unwrap();
        let since = NaiveDate::from_ymd_opt(2026, 6, 29).unwrap();
        assert_eq!(
            search_url(&base, ContributionType::Spoken, "modern slavery", Some(House::Lords), since, 0)
                .unwrap()
                .as_str(),
            "https://hansard-api.parliament.uk/search/contributions/Spoken.json?queryParameters.searchTerm=%22modern+slavery%22&queryParameters.startDate=2026-06-29&queryParameters.house=Lords&queryParameters.orderBy=SittingDateDesc&queryParameters.skip=0&queryParameters.take=100"
        );
        assert_eq!(
            debate_url("Lords", "2026-06-30", "A9B3", "National Security (State Threats) Bill"),
            "https://hansard.parliament.uk/Lords/2026-06-30/debates/A9B3/NationalSecurityStateThreatsBill"
        );
    }
}
