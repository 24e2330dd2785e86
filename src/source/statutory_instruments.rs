//! `statutory_instruments` watches: instruments made under an Act (`act`, name or id) and/or
//! matching a name search, on the UK Parliament Statutory Instruments API (v2):
//!
//! - `/api/v2/ActOfParliament?Name=…` resolves an Act's name to its id;
//! - `/api/v2/StatutoryInstrument?ActOfParliamentId=…&Name=…` lists the instruments;
//! - `/api/v2/StatutoryInstrument/{id}` gives the coming-into-force date;
//! - `/api/v2/StatutoryInstrument/{id}/BusinessItems` the procedure steps.
//!
//! `si.in_force` is raised by time passing: the snapshot records whether the check's UK day
//! has reached each coming-into-force date, so the version changes on that day, once.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

use futures_util::future::BoxFuture;

use crate::config::{SourceBase, Sources};
use crate::error::{Error, Result};
use crate::event::{Event, Severity};
use crate::source::api_json::{day, get_items, get_json, long_day, null_default, uk_today};
use crate::source::bill::api::endpoint;
use crate::source::kind::{target_of, EventInfo, SourceKind};
use crate::source::{Context, Document, Job, Observed, Outcome};
use crate::watchlist::{KindKeys, KindSyntax, KindTarget, Target, Watch};

/// `[sources] statutory_instruments`: the Statutory Instruments API.
pub const STATUTORY_INSTRUMENTS: SourceBase = SourceBase {
    key: "statutory_instruments",
    default: "https://statutoryinstruments-api.parliament.uk/",
    meaning: "UK Parliament Statutory Instruments API (v2)",
};

pub struct StatutoryInstrumentsKind;

impl KindTarget for SiQuery {
    const KIND: &'static str = "statutory_instruments";
    fn key(&self) -> String {
        format!("{:?}|{:?}", self.act, self.search)
    }
}

impl KindSyntax for StatutoryInstrumentsKind {
    fn name(&self) -> &'static str {
        SiQuery::KIND
    }
    fn keys(&self) -> &'static [&'static str] {
        &["act", "search"]
    }
    fn parse(&self, keys: &mut KindKeys<'_, '_, '_>) -> Option<Target> {
        let before = keys.problems();
        let q = SiQuery {
            act: keys.optional_string("act"),
            search: keys.optional_string("search"),
        };
        keys.need_one_of(
            &["act", "search"],
            "statutory_instruments watch needs `act` (e.g. \"Modern Slavery Act 2015\") and/or `search`",
        );
        (keys.problems() == before).then(|| Target::new(q))
    }
}

impl SourceKind for StatutoryInstrumentsKind {
    fn about(&self) -> &'static str {
        "statutory instruments made under an Act and/or matching a name: laid, made, procedure steps, in force"
    }
    fn events(&self) -> &'static [EventInfo] {
        &[
            EventInfo {
                name: "si.laid",
                severity: Severity::Major,
                meaning: "a new instrument under the Act (or matching the search), with its procedure and laying dates",
            },
            EventInfo {
                name: "si.made",
                severity: Severity::Major,
                meaning: "an instrument was made (signed into law), with its coming-into-force date",
            },
            EventInfo {
                name: "si.procedure_step",
                severity: Severity::Notice,
                meaning: "a business item: approved, prayed against, withdrawn, debated… (Major for approvals, prayers, withdrawals)",
            },
            EventInfo {
                name: "si.in_force",
                severity: Severity::Major,
                meaning: "the coming-into-force date is reached: once, raised by the clock",
            },
        ]
    }
    fn bases(&self) -> &'static [SourceBase] {
        &[STATUTORY_INSTRUMENTS]
    }
    fn human_url(&self, _: &Target, _: &Sources) -> String {
        "https://statutoryinstruments.parliament.uk/".into()
    }
    fn observe<'a>(&'a self, ctx: &'a Context, job: &'a Job) -> BoxFuture<'a, Result<Observed>> {
        Box::pin(async move {
            let q = target_of::<SiQuery>(&job.watch)?;
            let doc = observe(ctx, &ctx.base(&STATUTORY_INSTRUMENTS), q).await?;
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

const API: &str = "Statutory Instruments API";

/// Instruments listed per check; each costs two more requests (detail, business items).
pub const MAX_INSTRUMENTS: usize = 50;

/// What a `statutory_instruments` watch asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SiQuery {
    /// An Act's name ("Modern Slavery Act 2015") or its 8-character API id.
    pub act: Option<String>,
    /// Words in the instrument's name.
    pub search: Option<String>,
}

// ---- API shapes (lenient: every field defaults, null reads as empty) ----

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Act {
    pub id: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de> + Default"))]
pub struct Resource<T> {
    #[serde(default)]
    pub value: T,
}

/// `StatutoryInstrument` (detail) and `StatutoryInstrumentSummary` (listing) share these.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Instrument {
    pub id: Option<String>,
    pub name: Option<String>,
    pub paper_prefix: Option<String>,
    pub paper_number: Option<i64>,
    pub paper_year: Option<String>,
    pub procedure: Option<Named>,
    pub paper_made_date: Option<String>,
    pub commons_laying_date: Option<String>,
    pub lords_laying_date: Option<String>,
    pub paper_coming_into_force_date: Option<String>,
    pub paper_coming_into_force_note: Option<String>,
    pub link: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Named {
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BusinessItem {
    pub id: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub steps: Vec<String>,
    pub item_date: Option<String>,
    pub link: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub houses: Vec<String>,
}

// ---- requests ----

fn looks_like_id(s: &str) -> bool {
    s.len() == 8
        && s.chars().all(|c| c.is_ascii_alphanumeric())
        && s.chars().any(|c| c.is_ascii_digit())
}

/// The Act's API id and name.
pub async fn resolve_act(ctx: &Context, base: &Url, key: &str) -> Result<(String, String)> {
    let key = key.trim();
    if looks_like_id(key) {
        return Ok((key.to_string(), key.to_string()));
    }
    let mut url = endpoint(base, "api/v2/ActOfParliament")?;
    url.query_pairs_mut().append_pair("Name", key);
    let acts: Vec<Act> = get_json(ctx, &url, API).await?;
    let named = |a: &Act| a.name.clone().unwrap_or_default();
    let pick = acts
        .iter()
        .find(|a| named(a).trim().eq_ignore_ascii_case(key))
        .or(match acts.as_slice() {
            [one] => Some(one),
            _ => None,
        });
    match pick {
        Some(a) => match &a.id {
            Some(id) => Ok((id.clone(), named(a))),
            None => Err(Error::extract(url.as_str(), format!("the Act `{}` has no id", named(a)))),
        },
        None if acts.is_empty() => Err(Error::extract(
            url.as_str(),
            format!("no Act of Parliament is named `{key}`; give its full short title (e.g. \"Modern Slavery Act 2015\") or its id"),
        )),
        None => Err(Error::extract(
            url.as_str(),
            format!(
                "`{key}` names {} Acts ({}); give the full short title",
                acts.len(),
                acts.iter().take(5).map(named).collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}

pub fn list_url(base: &Url, act: Option<&str>, search: Option<&str>) -> Result<Url> {
    let mut url = endpoint(base, "api/v2/StatutoryInstrument")?;
    {
        let mut q = url.query_pairs_mut();
        if let Some(a) = act {
            q.append_pair("ActOfParliamentId", a);
        }
        if let Some(s) = search {
            q.append_pair("Name", s);
        }
        q.append_pair("Take", &MAX_INSTRUMENTS.to_string());
    }
    Ok(url)
}

/// Reads the instruments, their dates and procedure steps into a document.
pub async fn observe(ctx: &Context, base: &Url, q: &SiQuery) -> Result<Document> {
    let act = match q.act.as_deref() {
        Some(a) => Some(resolve_act(ctx, base, a).await?),
        None => None,
    };
    let search = q.search.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let url = list_url(base, act.as_ref().map(|a| a.0.as_str()), search)?;
    let listed: Vec<Resource<Instrument>> = get_items(ctx, &url, API).await?;
    let ids: Vec<String> = listed
        .iter()
        .filter_map(|r| r.value.id.clone())
        .take(MAX_INSTRUMENTS)
        .collect();
    let details = futures_util::future::try_join_all(ids.iter().map(|id| async move {
        let detail_url = endpoint(base, &format!("api/v2/StatutoryInstrument/{id}"))?;
        let items_url = endpoint(
            base,
            &format!("api/v2/StatutoryInstrument/{id}/BusinessItems"),
        )?;
        let (detail, items) = futures_util::try_join!(
            get_json::<Resource<Instrument>>(ctx, &detail_url, API),
            get_json::<Vec<BusinessItem>>(ctx, &items_url, API)
        )?;
        Ok::<_, Error>((detail.value, items))
    }))
    .await?;
    let snapshot = Snapshot::build(&details, ctx.now);
    let title = match (&act, search) {
        (Some(a), Some(s)) => format!("Instruments under the {}: “{s}”", a.1),
        (Some(a), None) => format!("Instruments under the {}", a.1),
        (None, Some(s)) => format!("Statutory instruments: “{s}”"),
        (None, None) => "Statutory instruments".into(),
    };
    Ok(snapshot.into_document(title, url.to_string()))
}

// ---- snapshot ----

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Snapshot {
    /// Sorted by id.
    pub instruments: Vec<Si>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Si {
    pub id: String,
    pub name: String,
    /// "SI 2015/1833".
    pub number: Option<String>,
    pub procedure: Option<String>,
    pub laid_commons: Option<NaiveDate>,
    pub laid_lords: Option<NaiveDate>,
    pub made: Option<NaiveDate>,
    pub in_force_date: Option<NaiveDate>,
    pub in_force_note: Option<String>,
    /// The check's UK day has reached `in_force_date`.
    pub in_force: bool,
    pub steps: Vec<Step>,
    pub link: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Step {
    pub id: String,
    pub date: Option<NaiveDate>,
    pub steps: Vec<String>,
    pub houses: Vec<String>,
}

impl Si {
    fn label(&self) -> String {
        match &self.number {
            Some(n) => format!("{} ({n})", self.name),
            None => self.name.clone(),
        }
    }

    fn laid(&self) -> String {
        let mut houses = Vec::new();
        if let Some(d) = self.laid_commons {
            houses.push(format!("Commons {}", long_day(Some(d))));
        }
        if let Some(d) = self.laid_lords {
            houses.push(format!("Lords {}", long_day(Some(d))));
        }
        if houses.is_empty() {
            "not laid".into()
        } else {
            houses.join(", ")
        }
    }
}

impl Snapshot {
    pub fn build(details: &[(Instrument, Vec<BusinessItem>)], now: DateTime<Utc>) -> Snapshot {
        let today = uk_today(now);
        let mut instruments: Vec<Si> = details
            .iter()
            .filter_map(|(i, items)| {
                let id = i.id.clone()?;
                let in_force_date = day(i.paper_coming_into_force_date.as_deref());
                let mut steps: Vec<Step> = items
                    .iter()
                    .filter_map(|b| {
                        Some(Step {
                            id: b.id.clone()?,
                            date: day(b.item_date.as_deref()),
                            steps: b.steps.iter().map(|s| s.trim().to_string()).collect(),
                            houses: b.houses.clone(),
                        })
                    })
                    .collect();
                steps.sort_by(|a, b| a.date.cmp(&b.date).then(a.id.cmp(&b.id)));
                steps.dedup_by(|a, b| a.id == b.id);
                Some(Si {
                    id,
                    name: i.name.clone().unwrap_or_default().trim().to_string(),
                    number: match (&i.paper_year, i.paper_number) {
                        (Some(y), Some(n)) => Some(format!(
                            "{} {y}/{n}",
                            i.paper_prefix.as_deref().unwrap_or("SI")
                        )),
                        _ => None,
                    },
                    procedure: i.procedure.as_ref().and_then(|p| p.name.clone()),
                    laid_commons: day(i.commons_laying_date.as_deref()),
                    laid_lords: day(i.lords_laying_date.as_deref()),
                    made: day(i.paper_made_date.as_deref()),
                    in_force_date,
                    in_force_note: i.paper_coming_into_force_note.clone(),
                    in_force: in_force_date.is_some_and(|d| today >= d),
                    steps,
                    link: i.link.clone(),
                })
            })
            .collect();
        instruments.sort_by(|a, b| a.id.cmp(&b.id));
        instruments.dedup_by(|a, b| a.id == b.id);
        Snapshot { instruments }
    }

    pub fn from_document(doc: &Document) -> Result<Snapshot> {
        serde_json::from_value(doc.fields.clone()).map_err(|e| {
            Error::extract(
                doc.url.clone(),
                format!("stored statutory instruments version unreadable: {e}"),
            )
        })
    }

    pub fn into_document(self, title: String, url: String) -> Document {
        let mut lines = Vec::new();
        for i in &self.instruments {
            lines.push(format!("## {}", i.label()));
            if let Some(p) = &i.procedure {
                lines.push(format!("Procedure: {p}"));
            }
            lines.push(format!("Laid: {}", i.laid()));
            lines.push(format!("Made: {}", long_day(i.made)));
            lines.push(format!(
                "In force: {}{}",
                long_day(i.in_force_date),
                i.in_force_note
                    .as_deref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default()
            ));
            for s in &i.steps {
                lines.push(format!(
                    "- {} {} ({})",
                    long_day(s.date),
                    s.steps.join("; "),
                    s.houses.join(", ")
                ));
            }
        }
        Document {
            title,
            url,
            text: lines.join("\n"),
            fields: serde_json::to_value(&self).unwrap_or_default(),
        }
    }
}

// ---- events ----

pub fn compare(previous: &Document, next: &Document) -> Result<Vec<Event>> {
    Ok(events(
        &Snapshot::from_document(previous)?,
        &Snapshot::from_document(next)?,
    ))
}

pub fn events(old: &Snapshot, new: &Snapshot) -> Vec<Event> {
    let mut out = Vec::new();
    for i in &new.instruments {
        let about = |mut e: Event| {
            e.title = Some(i.label());
            e.url = i.link.clone();
            e.keyword_text = i.name.clone();
            e.fields = serde_json::json!({ "instrument": i.id, "number": i.number });
            e
        };
        let Some(before) = old.instruments.iter().find(|o| o.id == i.id) else {
            let mut e = Event::new(
                "si.laid",
                format!(
                    "New instrument: {} — {}, laid: {}",
                    i.label(),
                    i.procedure.as_deref().unwrap_or("procedure not given"),
                    i.laid()
                ),
            );
            e.severity = Severity::Major;
            if i.made.is_some() {
                e.annotations.push(format!("Made {}", long_day(i.made)));
            }
            if i.in_force_date.is_some() {
                e.annotations
                    .push(format!("Comes into force {}", long_day(i.in_force_date)));
            }
            out.push(about(e));
            continue;
        };
        if before.made.is_none() && i.made.is_some() {
            let mut e = Event::new(
                "si.made",
                format!("Made {}: {}", long_day(i.made), i.label()),
            );
            e.severity = Severity::Major;
            if i.in_force_date.is_some() {
                e.annotations
                    .push(format!("Comes into force {}", long_day(i.in_force_date)));
            }
            out.push(about(e));
        }
        for s in &i.steps {
            if before.steps.iter().any(|o| o.id == s.id) {
                continue;
            }
            let what = if s.steps.is_empty() {
                "Procedure step".to_string()
            } else {
                s.steps.join("; ")
            };
            let houses = if s.houses.is_empty() {
                String::new()
            } else {
                format!(" ({})", s.houses.join(", "))
            };
            let mut e = Event::new(
                "si.procedure_step",
                format!("{what}{houses}, {}: {}", long_day(s.date), i.label()),
            );
            let lower = what.to_lowercase();
            if [
                "approved",
                "prayer",
                "withdrawn",
                "revoked",
                "annul",
                "rejected",
                "motion",
            ]
            .iter()
            .any(|w| lower.contains(w))
            {
                e.severity = Severity::Major;
            }
            out.push(about(e));
        }
        if !before.in_force && i.in_force {
            let mut e = Event::new(
                "si.in_force",
                format!("In force from {}: {}", long_day(i.in_force_date), i.label()),
            );
            e.severity = Severity::Major;
            if let Some(n) = &i.in_force_note {
                e.annotations.push(n.clone());
            }
            out.push(about(e));
        }
    }
    out
}

#[cfg(test)]
mod tests;
