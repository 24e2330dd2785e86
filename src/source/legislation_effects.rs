//! `legislation_effects` watches: the effects legislation.gov.uk records against a piece of
//! legislation (`legislation = "ukpga/2015/30"`), read from its changes feed
//! (`/changes/affected/<legislation>/data.feed?results-count=100&sort=modified`, newest
//! modified first).
//!
//! Only parsed values are compared, keyed on `EffectId`: within one `<ukm:Effect>` the
//! attribute order changes from request to request, the feed's `<updated>` is the time it was
//! generated, entry ids end in `/modified/<timestamp>` and `Row` is a position in the
//! listing, so none of them counts as a change. An effect newly listed raises
//! `legislation.effect_recorded`; one whose `Applied` turns true (the revised text now
//! published) raises `legislation.effect_applied`.

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event as Xml};
use quick_xml::Reader;
use serde::{Deserialize, Serialize};
use url::Url;

use futures_util::future::BoxFuture;

use crate::config::{SourceBase, Sources};
use crate::error::{Error, Result};
use crate::event::{Event, Severity};
use crate::source::bill::api::endpoint;
use crate::source::kind::{target_of, EventInfo, SourceKind};
use crate::source::{Context, Document, Job, Observed, Outcome};
use crate::text::html::fold;
use crate::watchlist::{KindKeys, KindSyntax, KindTarget, Target, Watch};

/// `[sources] legislation`: legislation.gov.uk.
pub const LEGISLATION: SourceBase = SourceBase {
    key: "legislation",
    default: "https://www.legislation.gov.uk/",
    meaning: "legislation.gov.uk (changes feeds)",
};

/// A `legislation_effects` watch's target: `ukpga/2015/30`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Legislation {
    pub id: String,
}

impl KindTarget for Legislation {
    const KIND: &'static str = "legislation_effects";
    fn key(&self) -> String {
        self.id.clone()
    }
}

pub struct LegislationEffectsKind;

impl KindSyntax for LegislationEffectsKind {
    fn name(&self) -> &'static str {
        Legislation::KIND
    }
    fn keys(&self) -> &'static [&'static str] {
        &["legislation"]
    }
    fn parse(&self, keys: &mut KindKeys<'_, '_, '_>) -> Option<Target> {
        let item = keys.required(
            "legislation",
            "the legislation.gov.uk identifier, e.g. \"ukpga/2015/30\"",
        )?;
        let id = keys
            .string("legislation", item)?
            .trim_matches('/')
            .to_string();
        match validate(&id) {
            Ok(()) => Some(Target::new(Legislation { id })),
            Err(m) => {
                keys.problem(item, m);
                None
            }
        }
    }
}

impl SourceKind for LegislationEffectsKind {
    fn about(&self) -> &'static str {
        "effects legislation.gov.uk records against a piece of legislation (its changes feed)"
    }
    fn events(&self) -> &'static [EventInfo] {
        &[
            EventInfo {
                name: "legislation.effect_recorded",
                severity: Severity::Major,
                meaning: "a new effect: which provision, type of effect, by which instrument, in-force date",
            },
            EventInfo {
                name: "legislation.effect_applied",
                severity: Severity::Major,
                meaning: "an effect is now applied: the revised text is published",
            },
        ]
    }
    fn bases(&self) -> &'static [SourceBase] {
        &[LEGISLATION]
    }
    fn human_url(&self, target: &Target, sources: &Sources) -> String {
        match target.get::<Legislation>() {
            Some(l) => format!("{}changes/affected/{}", sources.url(&LEGISLATION), l.id),
            None => sources.url(&LEGISLATION).to_string(),
        }
    }
    fn reads_previous(&self) -> bool {
        // Effects beyond the pages read are carried over from the previous version.
        true
    }
    fn observe<'a>(&'a self, ctx: &'a Context, job: &'a Job) -> BoxFuture<'a, Result<Observed>> {
        Box::pin(async move {
            let l = target_of::<Legislation>(&job.watch)?;
            let doc = observe(ctx, &ctx.base(&LEGISLATION), &l.id, job.previous.as_ref()).await?;
            Ok(Observed {
                outcome: Outcome::Document(doc),
                state: serde_json::Value::Null,
            })
        })
    }
    fn compare(&self, _: &Watch, previous: &Document, next: &Document) -> Result<Vec<Event>> {
        compare(previous, next)
    }
}

/// Effects asked for per feed page.
pub const PAGE_SIZE: usize = 100;
/// Pages read per check at most (newest modified first, so anything new is on page 1);
/// effects beyond them are carried over from the previous version.
pub const MAX_PAGES: usize = 5;
/// Effects kept per version, whatever a feed claims.
pub const MAX_EFFECTS: usize = 20_000;

const ACCEPT_ATOM: &str = "application/atom+xml, application/xml;q=0.9, */*;q=0.1";

/// Checks a `legislation` key: type, year (or regnal years) and number, as in the
/// legislation.gov.uk URL (`ukpga/2015/30`, `uksi/2015/1833`, `ukpga/Geo5/15-16/20`).
pub fn validate(key: &str) -> std::result::Result<(), String> {
    let parts: Vec<&str> = key.split('/').collect();
    let ok_part = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    let shape = matches!(parts.len(), 3 | 4)
        && parts.iter().all(|p| ok_part(p))
        && parts[0].chars().all(|c| c.is_ascii_lowercase())
        && parts
            .last()
            .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()));
    if shape {
        Ok(())
    } else {
        Err(format!(
            "`{key}` is not a legislation.gov.uk identifier: expected type/year/number, e.g. \"ukpga/2015/30\""
        ))
    }
}

/// One effect, as compared.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Effect {
    pub id: String,
    /// "word substituted", "inserted", "repealed"…
    pub kind: String,
    pub affected_title: String,
    /// "s. 65 heading".
    pub affected_provisions: String,
    /// Public link to the first affected provision, when given.
    pub affected_url: Option<String>,
    pub affecting_title: String,
    /// "S.I. 2026/386" / "2025 c. 18".
    pub affecting: String,
    pub affecting_provisions: String,
    pub affecting_url: Option<String>,
    pub applied: bool,
    pub requires_applied: bool,
    /// "2026-09-30 wholly in force" per in-force entry.
    pub in_force: Vec<InForce>,
    pub comments: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct InForce {
    pub date: Option<String>,
    pub qualification: Option<String>,
    pub applied: bool,
}

impl Effect {
    fn in_force_text(&self) -> String {
        let dates: Vec<String> = self
            .in_force
            .iter()
            .map(|f| {
                let date = f
                    .date
                    .as_deref()
                    .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                    .map(crate::source::bill::api::long_date)
                    .or_else(|| f.date.clone())
                    .unwrap_or_else(|| "date not given".into());
                match &f.qualification {
                    Some(q) => format!("{date} ({q})"),
                    None => date,
                }
            })
            .collect();
        if dates.is_empty() {
            "not yet in force".into()
        } else {
            dates.join(", ")
        }
    }

    fn line(&self) -> String {
        format!(
            "{} {} by {} {} — in force {}{}",
            self.affected_provisions,
            self.kind,
            self.affecting,
            self.affecting_provisions,
            self.in_force_text(),
            if self.applied { " — applied" } else { "" }
        )
    }
}

/// A parsed changes feed page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeedPage {
    pub effects: Vec<Effect>,
    pub total_pages: Option<u64>,
    pub more_pages: Option<u64>,
}

/// legislation.gov.uk's `/id/...` URIs as the public page (`/ukpga/...`), over https.
fn public(uri: &str) -> String {
    uri.replacen(
        "http://www.legislation.gov.uk/id/",
        "https://www.legislation.gov.uk/",
        1,
    )
    .replacen(
        "http://www.legislation.gov.uk/",
        "https://www.legislation.gov.uk/",
        1,
    )
}

fn attr(start: &BytesStart<'_>, name: &[u8]) -> Option<String> {
    start.attributes().flatten().find_map(|a| {
        (a.key.local_name().as_ref() == name)
            .then(|| a.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok())
            .flatten()
            .map(|v| fold(&v))
            .filter(|v| !v.is_empty())
    })
}

fn affecting_label(start: &BytesStart<'_>) -> String {
    let year = attr(start, b"AffectingYear").unwrap_or_default();
    let number = attr(start, b"AffectingNumber").unwrap_or_default();
    let class = attr(start, b"AffectingClass").unwrap_or_default();
    if class.contains("StatutoryInstrument") {
        format!("S.I. {year}/{number}")
    } else if class.contains("Act") || class.is_empty() {
        format!("{year} c. {number}")
    } else {
        format!("{class} {year}/{number}")
    }
}

/// Parses a changes feed page. Errors say where (byte offset) and why.
pub fn parse(xml: &str) -> std::result::Result<FeedPage, String> {
    let mut reader = Reader::from_str(xml);
    let mut page = FeedPage::default();
    let mut effect: Option<Effect> = None;
    // Local name of the element whose text is read, and the text so far.
    let mut field: Option<(Vec<u8>, String)> = None;
    // Inside `<ukm:AffectedProvisions>` / `<ukm:AffectingProvisions>`.
    let mut within: Option<Vec<u8>> = None;
    let mut saw_feed = false;
    loop {
        let event = reader.read_event().map_err(|e| {
            format!(
                "not a readable legislation.gov.uk feed at byte {}: {e}",
                reader.buffer_position()
            )
        })?;
        match event {
            Xml::Start(ref s) | Xml::Empty(ref s) => {
                let empty = matches!(event, Xml::Empty(_));
                let name = s.local_name().as_ref().to_vec();
                match name.as_slice() {
                    b"feed" => saw_feed = true,
                    b"Effect" => {
                        let Some(id) = attr(s, b"EffectId") else {
                            continue;
                        };
                        effect = Some(Effect {
                            id,
                            kind: attr(s, b"Type").unwrap_or_default(),
                            affected_provisions: attr(s, b"AffectedProvisions").unwrap_or_default(),
                            affecting_provisions: attr(s, b"AffectingProvisions")
                                .unwrap_or_default(),
                            affecting: affecting_label(s),
                            affecting_url: attr(s, b"AffectingURI").map(|u| public(&u)),
                            applied: attr(s, b"Applied").as_deref() == Some("true"),
                            requires_applied: attr(s, b"RequiresApplied").as_deref()
                                == Some("true"),
                            comments: attr(s, b"Comments"),
                            ..Effect::default()
                        });
                        if empty {
                            finish(&mut page, effect.take());
                        }
                    }
                    b"AffectedProvisions" | b"AffectingProvisions" if !empty => {
                        within = Some(name);
                    }
                    b"Section" => {
                        if let (Some(e), Some(w)) = (&mut effect, &within) {
                            if w == b"AffectedProvisions" && e.affected_url.is_none() {
                                e.affected_url = attr(s, b"URI").map(|u| public(&u));
                            }
                        }
                    }
                    b"InForce" => {
                        if let Some(e) = &mut effect {
                            e.in_force.push(InForce {
                                date: attr(s, b"Date"),
                                qualification: attr(s, b"Qualification"),
                                applied: attr(s, b"Applied").as_deref() == Some("true"),
                            });
                        }
                    }
                    b"AffectedTitle" | b"AffectingTitle" | b"totalResults" | b"totalPages"
                    | b"morePages"
                        if !empty =>
                    {
                        field = Some((name, String::new()));
                    }
                    _ => {}
                }
            }
            Xml::Text(t) => {
                if let Some((_, text)) = &mut field {
                    text.push_str(&t.xml10_content().map_err(|e| e.to_string())?);
                }
            }
            Xml::CData(c) => {
                if let Some((_, text)) = &mut field {
                    text.push_str(&c.decode().map_err(|e| e.to_string())?);
                }
            }
            Xml::GeneralRef(r) => {
                if let Some((_, text)) = &mut field {
                    if let Ok(Some(ch)) = r.resolve_char_ref() {
                        text.push(ch);
                    } else {
                        let name = r.decode().map_err(|e| e.to_string())?;
                        text.push_str(resolve_predefined_entity(&name).unwrap_or(""));
                    }
                }
            }
            Xml::End(e) => {
                let name = e.local_name().as_ref().to_vec();
                if within.as_deref() == Some(name.as_slice()) {
                    within = None;
                }
                if name == b"Effect" {
                    finish(&mut page, effect.take());
                    if page.effects.len() >= MAX_EFFECTS {
                        break;
                    }
                }
                if let Some((fname, text)) = field.take_if(|(f, _)| *f == name) {
                    let text = fold(&text);
                    match fname.as_slice() {
                        b"AffectedTitle" => {
                            if let Some(e) = &mut effect {
                                e.affected_title = text;
                            }
                        }
                        b"AffectingTitle" => {
                            if let Some(e) = &mut effect {
                                e.affecting_title = text;
                            }
                        }
                        b"totalPages" => page.total_pages = text.parse().ok(),
                        b"morePages" => page.more_pages = text.parse().ok(),
                        _ => {}
                    }
                }
            }
            Xml::Eof => break,
            _ => {}
        }
    }
    if !saw_feed {
        return Err("not an Atom feed (no <feed> element)".into());
    }
    Ok(page)
}

fn finish(page: &mut FeedPage, effect: Option<Effect>) {
    if let Some(e) = effect {
        if !page.effects.iter().any(|o| o.id == e.id) {
            page.effects.push(e);
        }
    }
}

/// The changes feed of `legislation`, page `page` (1-based).
pub fn feed_url(base: &Url, legislation: &str, page: usize) -> Result<Url> {
    let mut url = endpoint(base, &format!("changes/affected/{legislation}/data.feed"))?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("results-count", &PAGE_SIZE.to_string());
        q.append_pair("sort", "modified");
        if page > 1 {
            q.append_pair("page", &page.to_string());
        }
    }
    Ok(url)
}

/// Reads the newest pages of the feed; effects not on them are carried over from
/// `previous` (the feed is sorted by modification, so they did not change).
pub async fn observe(
    ctx: &Context,
    base: &Url,
    legislation: &str,
    previous: Option<&Document>,
) -> Result<Document> {
    validate(legislation).map_err(|m| Error::extract(base.as_str(), m))?;
    let mut effects: Vec<Effect> = Vec::new();
    let first = feed_url(base, legislation, 1)?;
    let mut complete = false;
    for n in 1..=MAX_PAGES {
        let url = feed_url(base, legislation, n)?;
        let body = ctx.get(&url, ACCEPT_ATOM, &[]).await?;
        let text = body.text()?;
        let page = parse(&text).map_err(|m| Error::extract(url.as_str(), m))?;
        let got = page.effects.len();
        for e in page.effects {
            if !effects.iter().any(|o| o.id == e.id) {
                effects.push(e);
            }
        }
        let last = page
            .total_pages
            .map(|t| n as u64 >= t)
            .or(page.more_pages.map(|m| m == 0))
            .unwrap_or(true);
        if got == 0 || last {
            complete = true;
            break;
        }
    }
    if !complete {
        if let Some(prev) = previous {
            for e in effects_of(prev)? {
                if !effects.iter().any(|o| o.id == e.id) {
                    effects.push(e);
                }
            }
        }
    }
    effects.truncate(MAX_EFFECTS);
    Ok(into_document(legislation, &first, effects))
}

/// The document: effects sorted by id, so the feed's order never shows as a change.
pub fn into_document(legislation: &str, url: &Url, mut effects: Vec<Effect>) -> Document {
    effects.sort_by(|a, b| a.id.cmp(&b.id));
    let title = effects
        .iter()
        .map(|e| e.affected_title.as_str())
        .find(|t| !t.is_empty())
        .map(|t| format!("Changes to {t}"))
        .unwrap_or_else(|| format!("Changes to {legislation}"));
    let mut sorted: Vec<&Effect> = effects.iter().collect();
    sorted.sort_by(|a, b| {
        a.affected_provisions
            .cmp(&b.affected_provisions)
            .then(a.id.cmp(&b.id))
    });
    let text = sorted
        .iter()
        .map(|e| e.line())
        .collect::<Vec<_>>()
        .join("\n");
    Document {
        title,
        url: url.to_string(),
        text,
        fields: serde_json::json!({ "legislation": legislation, "effects": effects }),
    }
}

pub fn effects_of(doc: &Document) -> Result<Vec<Effect>> {
    serde_json::from_value(doc.fields["effects"].clone()).map_err(|e| {
        Error::extract(
            doc.url.clone(),
            format!("stored legislation effects version unreadable: {e}"),
        )
    })
}

pub fn compare(previous: &Document, next: &Document) -> Result<Vec<Event>> {
    let old = effects_of(previous)?;
    let mut out = Vec::new();
    for e in effects_of(next)? {
        let before = old.iter().find(|o| o.id == e.id);
        let (kind, summary) = match before {
            None => (
                "legislation.effect_recorded",
                format!(
                    "{} {}: {} by {} {}",
                    e.affected_title,
                    e.affected_provisions,
                    e.kind,
                    e.affecting,
                    e.affecting_provisions
                ),
            ),
            Some(o) if !o.applied && e.applied => (
                "legislation.effect_applied",
                format!(
                    "Revised text published: {} {} ({} by {})",
                    e.affected_title, e.affected_provisions, e.kind, e.affecting
                ),
            ),
            Some(_) => continue,
        };
        let mut ev = Event::new(kind, summary);
        ev.severity = Severity::Major;
        ev.title = Some(format!("{} {}", e.affected_title, e.affected_provisions));
        ev.url = e.affected_url.clone().or_else(|| e.affecting_url.clone());
        ev.annotations
            .push(format!("In force: {}", e.in_force_text()));
        ev.annotations
            .push(format!("By: {} ({})", e.affecting_title, e.affecting));
        if kind == "legislation.effect_recorded" {
            ev.annotations.push(if e.applied {
                "Already applied to the revised text".into()
            } else {
                "Not yet applied to the revised text".into()
            });
        }
        ev.keyword_text = format!("{}\n{}\n{}", e.affected_title, e.affecting_title, e.kind);
        ev.diff = Some(format!("+{}\n", e.line()));
        ev.fields = serde_json::to_value(&e).unwrap_or_default();
        out.push(ev);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
