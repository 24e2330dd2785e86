//! What the Parliament search kinds share (`written_questions`, `written_statements`,
//! `hansard`): JSON pages read to the end within a bound, the watch's phrases matched
//! locally, members named "Name (Party, Constituency)" with a cache kept across cycles, and
//! the APIs' dates (UK calendar days, no zone).

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::marker::PhantomData;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::de::{DeserializeOwned, IgnoredAny, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use url::Url;

use crate::annotate::{self, KeywordHit};
use crate::config::SourceBase;
use crate::error::{Error, Result};
use crate::source::{Context, Document, Observed, Outcome};
use crate::text::html::{self, fold};
use crate::watchlist::{KindKeys, Watch};

/// `[sources] members`: where members are looked up by id.
pub const MEMBERS: SourceBase = SourceBase {
    key: "members",
    default: "https://members-api.parliament.uk/",
    meaning: "Members API (names, parties and constituencies of members looked up by id)",
};

/// `[sources] questions_statements`.
pub const QUESTIONS_STATEMENTS: SourceBase = SourceBase {
    key: "questions_statements",
    default: "https://questions-statements-api.parliament.uk/",
    meaning: "Written Questions and Statements API",
};

/// Results asked for per page.
pub const PAGE_SIZE: usize = 100;

/// Pages read per query in one cycle. A query with more results than this fails with a
/// message asking for a narrower search, rather than silently missing some.
pub const MAX_PAGES: usize = 10;

/// Days re-read before the last successful poll: the APIs filter on calendar days (UK
/// time), and items are sometimes indexed a little after their date.
pub const OVERLAP_DAYS: i64 = 1;

/// Members remembered by a watch, by id.
const MAX_CACHED_MEMBERS: usize = 2000;

/// `base` + a path under it, whether or not the configured base ends in a slash.
pub fn endpoint(base: &Url, path: &str) -> Result<Url> {
    crate::source::bill::api::endpoint(base, path)
}

/// GETs `url` and decodes its JSON body as `T`; `api` names the API in errors;
/// `allow_redirects` are the watch's extra redirect hosts.
pub async fn get_json<T: DeserializeOwned>(
    ctx: &Context,
    url: &Url,
    api: &str,
    allow_redirects: &[String],
) -> Result<T> {
    let body = ctx.get(url, "application/json", allow_redirects).await?;
    decode(&body.bytes, url.as_str(), api)
}

/// Decodes a JSON body, naming the API and the place it went wrong.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], url: &str, api: &str) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| {
        let why = if e.is_eof() {
            "the response is cut short".to_string()
        } else if e.is_syntax() {
            "the response is not valid JSON".to_string()
        } else {
            "the response is not in the shape expected".to_string()
        };
        Error::extract(url, format!("{api}: {why} ({e})"))
    })
}

/// One page of a search: its items and the total the API reports, when it does.
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: Option<usize>,
}

/// Reads every page of a search: `url_for(skip)` builds a page's URL, `page` decodes it.
/// Stops at a short or empty page or at the reported total; fails past [`MAX_PAGES`] (the
/// caller then stores nothing, so the next cycle starts again with nothing lost).
pub async fn read_pages<T, E>(
    ctx: &Context,
    api: &str,
    allow_redirects: &[String],
    url_for: impl Fn(usize) -> Result<Url>,
    page: impl Fn(E) -> Page<T>,
) -> Result<Vec<T>>
where
    E: DeserializeOwned,
{
    let mut all = Vec::new();
    let mut skip = 0;
    for _ in 0..MAX_PAGES {
        let url = url_for(skip)?;
        let Page { items, total } = page(get_json::<E>(ctx, &url, api, allow_redirects).await?);
        let n = items.len();
        all.extend(items);
        skip += n;
        if n < PAGE_SIZE || total.is_some_and(|t| skip >= t) {
            return Ok(all);
        }
    }
    let url = url_for(skip)?;
    Err(Error::extract(
        url.as_str(),
        format!(
            "{api}: more than {} results ({MAX_PAGES} pages); narrow the watch (search, house, …)",
            MAX_PAGES * PAGE_SIZE
        ),
    ))
}

/// Reads every page of one search per phrase (the APIs take one search term); no phrases:
/// one search without a term. `url_for(term, skip)` builds a page's URL.
pub async fn search_each<T, E>(
    ctx: &Context,
    api: &str,
    allow_redirects: &[String],
    phrases: &[String],
    url_for: impl Fn(Option<&str>, usize) -> Result<Url>,
    page: impl Fn(E) -> Page<T>,
) -> Result<Vec<T>>
where
    E: DeserializeOwned,
{
    let terms: Vec<Option<&str>> = if phrases.is_empty() {
        vec![None]
    } else {
        phrases.iter().map(|p| Some(p.as_str())).collect()
    };
    let mut all = Vec::new();
    for term in terms {
        all.extend(read_pages(ctx, api, allow_redirects, |skip| url_for(term, skip), &page).await?);
    }
    Ok(all)
}

/// Where a Parliament search kind reads: its API, the Members API, and the watch's extra
/// redirect hosts.
#[derive(Debug, Clone)]
pub struct Bases {
    pub api: Url,
    pub members: Url,
    /// The watch's `allow_redirects`.
    pub allow_redirects: Vec<String>,
}

impl Bases {
    pub fn of(ctx: &Context, api: &SourceBase, watch: &Watch) -> Bases {
        Bases {
            api: ctx.base(api),
            members: ctx.base(&MEMBERS),
            allow_redirects: watch.allow_redirects.clone(),
        }
    }
}

/// A search kind's document and state, as the cycle takes them.
pub fn observed(found: Result<(Document, serde_json::Value)>) -> Result<Observed> {
    let (doc, state) = found?;
    Ok(Observed {
        outcome: Outcome::Document(doc),
        state,
    })
}

/// Ids a listing remembers as seen, so an item that left the document is never announced
/// again.
const MAX_KNOWN: usize = 20_000;

/// An item a search kind follows in its document (a question, a statement).
pub trait Tracked: Clone {
    /// The name the items are stored under (`questions`, `statements`): stored documents
    /// keep it, so it never changes.
    const FIELD: &'static str;
    /// Items kept in the document.
    const MAX_KEPT: usize;
    fn id(&self) -> u32;
    /// Kept before the others when the document is over its bound (open questions).
    fn keep_first(&self) -> bool {
        false
    }
}

/// The stored shape of a search kind's document (`fields`): the items followed, newest
/// (highest id) first, and every id ever followed, sorted.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub known: Vec<u32>,
}

impl<T> Default for Listing<T> {
    fn default() -> Self {
        Listing {
            items: Vec::new(),
            known: Vec::new(),
        }
    }
}

impl<T: Tracked + DeserializeOwned> Listing<T> {
    pub fn from_document(doc: &Document) -> Result<Listing<T>> {
        stored(&doc.fields)
    }

    /// The listing of a watch's previous document; empty on its first run.
    pub fn previous(doc: Option<&Document>) -> Result<Listing<T>> {
        doc.map_or_else(|| Ok(Listing::default()), Listing::from_document)
    }
}

impl<T: Tracked + Serialize> Listing<T> {
    /// The stored document: `# title`, then each item's `record` (or `empty` when there is
    /// none), the listing itself as its fields.
    pub fn document(
        &self,
        title: String,
        url: &str,
        empty: &str,
        record: impl Fn(&T) -> String,
    ) -> Result<Document> {
        let mut text = vec![format!("# {title}")];
        if self.items.is_empty() {
            text.push(empty.to_string());
        }
        text.extend(self.items.iter().map(record));
        Ok(Document {
            title,
            url: url.to_string(),
            text: text.join("\n\n"),
            fields: serde_json::to_value(self)?,
        })
    }
}

impl<T: Tracked> Listing<T> {
    pub fn get(&self, id: u32) -> Option<&T> {
        self.items.iter().find(|i| i.id() == id)
    }

    pub fn knows(&self, id: u32) -> bool {
        self.known.binary_search(&id).is_ok()
    }

    pub fn upsert(&mut self, item: T) {
        let id = item.id();
        if let Err(i) = self.known.binary_search(&id) {
            self.known.insert(i, id);
        }
        match self.items.iter_mut().find(|o| o.id() == id) {
            Some(o) => *o = item,
            None => self.items.push(item),
        }
    }

    /// Newest first; over the bound, the items to keep first (then the newest) stay.
    pub fn settle(&mut self) {
        self.items.sort_by_key(|i| std::cmp::Reverse(i.id()));
        if self.items.len() > T::MAX_KEPT {
            let mut order: Vec<usize> = (0..self.items.len()).collect();
            // Stable: within each group, newest first.
            order.sort_by_key(|&i| !self.items[i].keep_first());
            let keep: HashSet<usize> = order.into_iter().take(T::MAX_KEPT).collect();
            let mut i = 0;
            self.items.retain(|_| {
                i += 1;
                keep.contains(&(i - 1))
            });
        }
        if self.known.len() > MAX_KNOWN {
            let drop = self.known.len() - MAX_KNOWN;
            self.known.drain(..drop);
        }
    }
}

// Stored as `{"<FIELD>": [...], "known": [...]}`, as each kind's own struct wrote it.
impl<T: Tracked + Serialize> Serialize for Listing<T> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry(T::FIELD, &self.items)?;
        map.serialize_entry("known", &self.known)?;
        map.end()
    }
}

impl<'de, T: Tracked + Deserialize<'de>> Deserialize<'de> for Listing<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct ListingVisitor<T>(PhantomData<T>);
        impl<'de, T: Tracked + Deserialize<'de>> Visitor<'de> for ListingVisitor<T> {
            type Value = Listing<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a map with `{}` and `known`", T::FIELD)
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Listing<T>, A::Error> {
                // Either field may be missing (older records): it reads as empty.
                let mut listing = Listing::default();
                while let Some(key) = map.next_key::<String>()? {
                    if key == T::FIELD {
                        listing.items = map.next_value()?;
                    } else if key == "known" {
                        listing.known = map.next_value()?;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(listing)
            }
        }
        d.deserialize_map(ListingVisitor(PhantomData))
    }
}

/// A Written Questions or Statements API list: `path?searchTerm=&answeringBodies=&house=`,
/// then `extra` (the kind's own filters, in order), then `expandMember=true&skip=&take=`.
pub fn list_url(
    base: &Url,
    path: &str,
    search_term: Option<&str>,
    answering_body: Option<u32>,
    house: Option<House>,
    extra: &[(&str, String)],
    skip: usize,
) -> Result<Url> {
    let mut url = endpoint(base, path)?;
    {
        let mut q = url.query_pairs_mut();
        if let Some(t) = search_term {
            q.append_pair("searchTerm", t);
        }
        if let Some(b) = answering_body {
            q.append_pair("answeringBodies", &b.to_string());
        }
        if let Some(h) = house {
            q.append_pair("house", h.api());
        }
        for (k, v) in extra {
            q.append_pair(k, v);
        }
        q.append_pair("expandMember", "true");
        q.append_pair("skip", &skip.to_string());
        q.append_pair("take", &PAGE_SIZE.to_string());
    }
    Ok(url)
}

/// The watch's phrases found in `text` (case-insensitive, whole words, as keywords are
/// matched), each with the sentence around its first occurrence. No phrases: everything
/// matches, with nothing to quote.
pub fn phrase_hits(phrases: &[String], text: &str) -> Vec<KeywordHit> {
    annotate::find_keywords(phrases, text)
}

/// Whether a candidate the API found really contains one of the phrases.
pub fn matches(phrases: &[String], text: &str) -> bool {
    phrases.is_empty() || !phrase_hits(phrases, text).is_empty()
}

/// A text the API cut to a snippet (list results end such texts with `...`).
pub fn looks_cut(text: &str) -> bool {
    text.trim_end().ends_with("...")
}

/// Readable text of an HTML field (answers and statements are HTML), paragraphs kept as
/// lines.
pub fn html_to_text(html: &str) -> String {
    // Hansard breaks paragraphs with `\r\n` around inline markup; answers use `<p>`.
    let lines: Vec<String> = html
        .lines()
        .map(|line| {
            if line.contains('<') || line.contains('&') {
                html::fragment_text(line)
            } else {
                line.to_string()
            }
        })
        .collect();
    paragraphs(&lines.join("\n"))
}

/// Lines folded, blank lines dropped.
fn paragraphs(text: &str) -> String {
    text.lines()
        .map(fold)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first paragraph of a text, cut to a readable length for an alert.
pub fn first_paragraph(text: &str) -> String {
    const MAX: usize = 600;
    let first = text.lines().map(str::trim).find(|l| !l.is_empty());
    let first = first.unwrap_or_default();
    if first.chars().count() <= MAX {
        return first.to_string();
    }
    let cut: String = first.chars().take(MAX).collect();
    let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(a, _)| a);
    format!("{cut}…")
}

/// The calendar day of an API date-time (`2024-01-05T00:00:00`).
pub fn day(s: Option<&str>) -> Option<NaiveDate> {
    crate::source::bill::api::day(s?)
}

/// "5 January 2024".
pub fn long_date(d: NaiveDate) -> String {
    crate::source::bill::api::long_date(d)
}

/// "5 January 2024" for a stored `YYYY-MM-DD`, or the text as it is.
pub fn long_day(s: &str) -> String {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_or_else(|_| s.to_string(), long_date)
}

/// Today in the UK: the APIs' days are UK days.
pub fn uk_today(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&chrono_tz::Europe::London).date_naive()
}

/// The first day to ask for: the day before the last poll (the overlap), or `first` on a
/// watch's first run.
pub fn window_start(last_poll: Option<NaiveDate>, first: NaiveDate) -> NaiveDate {
    match last_poll {
        Some(d) => d - Duration::days(OVERLAP_DAYS),
        None => first,
    }
}

/// Reads `house = "commons" | "lords" | "both"` (absent: both).
pub fn read_house(keys: &mut KindKeys<'_, '_, '_>) -> Option<House> {
    let item = keys.get("house")?;
    let choice = keys.choice(
        "house",
        item,
        &["commons", "lords", "both"],
        ("house", "houses"),
    )?;
    House::parse(choice)
}

/// Reads `search` (one phrase or an array of them) and `house`, as every Parliament search
/// kind takes them. With `required` (the hint), `search` must be there with a phrase.
pub fn read_search(
    keys: &mut KindKeys<'_, '_, '_>,
    required: Option<&str>,
) -> (Vec<String>, Option<House>) {
    let before = keys.problems();
    let phrases = match required {
        Some(hint) => match keys.required("search", hint) {
            Some(item) => {
                let phrases = keys.strings("search", item);
                if keys.problems() == before && phrases.is_empty() {
                    keys.problem(item, "`search` needs at least one phrase");
                }
                phrases
            }
            None => Vec::new(),
        },
        None => keys
            .get("search")
            .map(|item| keys.strings("search", item))
            .unwrap_or_default(),
    };
    (phrases, read_house(keys))
}

/// Reads an answering body key (`answering_body`, `department`): a name or an id.
pub fn read_body(keys: &mut KindKeys<'_, '_, '_>, key: &str) -> Option<AnsweringBody> {
    let item = keys.get(key)?;
    if item.as_integer().is_some() {
        keys.positive_u32(key, item).map(AnsweringBody::Id)
    } else {
        keys.string(key, item)
            .map(|s| AnsweringBody::Name(s.to_string()))
    }
}

/// A kind's stored record or state, decoded; a first run's empty state is the default.
pub fn stored<T: DeserializeOwned + Default>(value: &serde_json::Value) -> Result<T> {
    if value.is_null() {
        return Ok(T::default());
    }
    Ok(serde_json::from_value(value.clone())?)
}

/// `commons` | `lords`; absent means both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum House {
    Commons,
    Lords,
}

impl House {
    /// As the APIs spell it.
    pub fn api(self) -> &'static str {
        match self {
            House::Commons => "Commons",
            House::Lords => "Lords",
        }
    }

    /// Whether the API's house (`Commons`, `Lords`, `Bicameral`) is this one.
    pub fn is(self, api_house: Option<&str>) -> bool {
        api_house.is_none_or(|h| h.eq_ignore_ascii_case(self.api()))
    }

    pub fn parse(s: &str) -> Option<House> {
        match s.trim().to_ascii_lowercase().as_str() {
            "commons" => Some(House::Commons),
            "lords" => Some(House::Lords),
            _ => None,
        }
    }
}

/// `answering_body` / `department`: a name as the API writes it (`"Home Office"`) or its id.
#[derive(Debug, Clone, PartialEq)]
pub enum AnsweringBody {
    Id(u32),
    Name(String),
}

impl AnsweringBody {
    /// The id to ask the API to filter on: given, or learnt from an earlier result.
    pub fn api_id(&self, learnt: Option<u32>) -> Option<u32> {
        match self {
            AnsweringBody::Id(id) => Some(*id),
            AnsweringBody::Name(_) => learnt,
        }
    }

    /// Whether a result is this body's; a name's id is learnt from its first result.
    pub fn accepts(&self, id: Option<u32>, name: Option<&str>, learnt: &mut Option<u32>) -> bool {
        match self {
            AnsweringBody::Id(want) => id == Some(*want),
            AnsweringBody::Name(want) => {
                let same = name.is_some_and(|n| fold(n).eq_ignore_ascii_case(&fold(want)));
                if same && learnt.is_none() {
                    *learnt = id;
                }
                same
            }
        }
    }

    /// "the Home Office", "answering body 1".
    pub fn describe(&self) -> String {
        match self {
            AnsweringBody::Id(id) => format!("answering body {id}"),
            AnsweringBody::Name(n) => format!("the {n}"),
        }
    }
}

/// A member as the questions and statements APIs expand it (`expandMember=true`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ExpandedMember {
    pub id: Option<u32>,
    pub name: Option<String>,
    pub party: Option<String>,
    pub member_from: Option<String>,
}

impl ExpandedMember {
    /// "Name (Party, Constituency)"; `None` without a name.
    pub fn named(&self) -> Option<String> {
        let name = self.name.as_deref().map(fold).filter(|n| !n.is_empty())?;
        Some(style(
            &name,
            self.party.as_deref(),
            self.member_from.as_deref(),
        ))
    }
}

/// "Name (Party, Constituency)", leaving out what is missing. Peers' "constituency" is the
/// kind of peerage ("Life peer"), which says nothing useful, so callers pass `None` for it.
pub fn style(name: &str, party: Option<&str>, from: Option<&str>) -> String {
    let extra: Vec<String> = [party, from]
        .into_iter()
        .flatten()
        .map(fold)
        .filter(|s| !s.is_empty())
        .collect();
    if extra.is_empty() {
        name.to_string()
    } else {
        format!("{name} ({})", extra.join(", "))
    }
}

/// The Members API's `/api/Members/{id}` (and each item of `/api/Members/Search`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct MemberItem {
    pub value: MemberValue,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MemberValue {
    pub id: Option<u32>,
    pub name_display_as: Option<String>,
    pub latest_party: Option<Party>,
    pub latest_house_membership: Option<Membership>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Party {
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Membership {
    pub membership_from: Option<String>,
    /// 1 Commons, 2 Lords.
    pub house: Option<u8>,
}

impl MemberValue {
    /// "Name (Party, Constituency)" (peers without the "constituency").
    pub fn named(&self) -> Option<String> {
        let name = self
            .name_display_as
            .as_deref()
            .map(fold)
            .filter(|n| !n.is_empty())?;
        let membership = self.latest_house_membership.as_ref();
        let from = membership
            .filter(|m| m.house == Some(1))
            .and_then(|m| m.membership_from.as_deref());
        let party = self.latest_party.as_ref().and_then(|p| p.name.as_deref());
        Some(style(&name, party, from))
    }
}

/// Members a watch has named, kept in its state so each is looked up once.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemberCache {
    pub names: BTreeMap<u32, String>,
}

impl MemberCache {
    pub fn remember(&mut self, id: u32, name: String) {
        self.names.insert(id, name);
        while self.names.len() > MAX_CACHED_MEMBERS {
            // Forget the lowest ids (the longest-serving members are the likeliest to be
            // asked about again, but the cache is only a saving: a miss costs a request).
            let first = *self.names.keys().next().expect("non-empty");
            self.names.remove(&first);
        }
    }

    /// A member's name: from the expanded response when it has one (and remembered), else
    /// the cache, else the Members API (`<members>api/Members/{id}`). A failed lookup
    /// names the member by id rather than failing the watch: the alert matters more.
    pub async fn name(
        &mut self,
        ctx: &Context,
        members: &Url,
        id: Option<u32>,
        expanded: Option<&ExpandedMember>,
        fallback: Option<&str>,
    ) -> String {
        let expanded_name = expanded.and_then(ExpandedMember::named);
        let id = id.or_else(|| expanded.and_then(|m| m.id));
        if let Some(name) = expanded_name {
            if let Some(id) = id {
                self.remember(id, name.clone());
            }
            return name;
        }
        let Some(id) = id else {
            return fallback.unwrap_or("an unnamed member").to_string();
        };
        if let Some(name) = self.names.get(&id) {
            return name.clone();
        }
        match lookup(ctx, members, id).await {
            Ok(Some(name)) => {
                self.remember(id, name.clone());
                name
            }
            Ok(None) => fallback.map_or_else(|| format!("member {id}"), str::to_string),
            Err(e) => {
                tracing::warn!(member = id, error = %e, "member lookup failed");
                fallback.map_or_else(|| format!("member {id}"), str::to_string)
            }
        }
    }
}

async fn lookup(ctx: &Context, members: &Url, id: u32) -> Result<Option<String>> {
    let url = endpoint(members, &format!("api/Members/{id}"))?;
    // The Members API is another site than the watch's: no extra redirect hosts.
    let item: MemberItem = get_json(ctx, &url, "the Members API", &[]).await?;
    Ok(item.value.named())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(path: &str) -> Vec<u8> {
        let p = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    #[derive(Debug, Deserialize)]
    struct Search {
        items: Vec<MemberItem>,
    }

    #[test]
    fn members_are_named_with_party_and_constituency_and_peers_without_peerage() {
        let s: Search = decode(
            &fixture("members/GET_Members_Search__3_items_assembled_upstream.json"),
            "members",
            "the Members API",
        )
        .unwrap();
        let names: Vec<String> = s.items.iter().filter_map(|i| i.value.named()).collect();
        assert_eq!(
            names,
            [
                "Sir Keir Starmer (Labour, Holborn and St Pancras)",
                "Lord Aberconway (Conservative)",
                "Baroness Mone (Conservative)",
            ]
        );
    }

    #[test]
    fn expanded_members_use_the_api_fields() {
        let m = ExpandedMember {
            id: Some(1),
            name: Some("Jess Phillips".into()),
            party: Some("Labour".into()),
            member_from: Some("Birmingham Yardley".into()),
        };
        assert_eq!(
            m.named().unwrap(),
            "Jess Phillips (Labour, Birmingham Yardley)"
        );
        assert_eq!(ExpandedMember::default().named(), None);
    }

    #[test]
    fn phrases_match_whole_words_only() {
        let p = vec!["modern slavery".to_string()];
        assert!(matches(&p, "victims of Modern\nSlavery in the UK"));
        assert!(!matches(&p, "postmodern slavery? no: modernslavery"));
        assert!(matches(&[], "anything"));
    }

    #[test]
    fn truncated_and_malformed_bodies_say_so() {
        let e = decode::<Search>(b"{\"items\": [", "u", "the Members API").unwrap_err();
        assert!(e.to_string().contains("cut short"), "{e}");
        let e = decode::<Search>(b"<html>", "u", "the Members API").unwrap_err();
        assert!(e.to_string().contains("not valid JSON"), "{e}");
        let e = decode::<Search>(b"{\"items\": 3}", "u", "the Members API").unwrap_err();
        assert!(e.to_string().contains("not in the shape expected"), "{e}");
    }

    #[test]
    fn answers_keep_paragraphs() {
        assert_eq!(
            html_to_text("<p>First  para.</p><p>Second &amp; last.</p>"),
            "First para.\nSecond & last."
        );
        assert_eq!(first_paragraph("\nOne.\nTwo."), "One.");
    }
}
