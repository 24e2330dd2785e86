//! The canonical snapshot of a bill (what is stored in `Document.fields`) and its readable
//! rendering (`Document.text`), which `diff` and `history` show: a bill's parliamentary
//! timeline, oldest first.

use serde::{Deserialize, Serialize};

use super::api::{self, BillDetail, Publication as ApiPublication, StageSummary};
use crate::source::Document;
use crate::text::html::{fold, fragment_text};

/// The `/api/v1/Stages` id of Royal Assent.
pub const ROYAL_ASSENT_STAGE: u32 = 11;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub bill_id: u32,
    pub short_title: String,
    pub former_short_title: Option<String>,
    pub long_title: Option<String>,
    pub summary: Option<String>,
    pub bill_type: Option<String>,
    pub sponsors: Vec<Sponsor>,
    pub originating_house: Option<String>,
    pub current_house: Option<String>,
    pub sessions: Vec<u32>,
    pub current_stage: Option<Stage>,
    pub is_act: bool,
    /// Day the bill was withdrawn, `YYYY-MM-DD`.
    pub withdrawn: Option<String>,
    pub defeated: bool,
    /// Every stage reached, in parliamentary order.
    pub stages: Vec<Stage>,
    /// Every publication, oldest first.
    pub publications: Vec<Publication>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sponsor {
    pub name: Option<String>,
    pub party: Option<String>,
    pub constituency: Option<String>,
    pub house: Option<String>,
    /// The department (government bills) or organisation.
    pub organisation: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    /// This bill stage's id (unique per bill and stage).
    pub id: u32,
    /// Kind of stage, `/api/v1/Stages` (11: Royal Assent).
    pub stage_id: u32,
    pub description: String,
    pub house: Option<String>,
    pub session_id: Option<u32>,
    pub sort_order: i32,
    pub sittings: Vec<Sitting>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sitting {
    pub id: u32,
    /// `YYYY-MM-DD`; none until the sitting is dated.
    pub date: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Publication {
    pub id: u32,
    pub title: String,
    /// Publication type, e.g. "Amendment Paper", "Explanatory Notes".
    #[serde(rename = "type")]
    pub kind: String,
    pub house: Option<String>,
    /// `YYYY-MM-DD`.
    pub date: Option<String>,
    pub links: Vec<Link>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Link {
    pub title: String,
    pub url: String,
    pub content_type: Option<String>,
}

/// A house worth naming: `Unassigned` / `All` (Royal Assent, joint committees) are not.
pub fn named_house(house: Option<&str>) -> Option<&str> {
    house.filter(|h| !h.is_empty() && !matches!(*h, "Unassigned" | "All"))
}

fn clean(s: Option<&str>) -> Option<String> {
    let s = s?;
    let text = if s.contains('<') {
        fragment_text(s)
    } else {
        fold(s)
    };
    (!text.is_empty()).then_some(text)
}

fn day_of(s: Option<&str>) -> Option<String> {
    s.and_then(api::day)
        .map(|d| d.format("%Y-%m-%d").to_string())
}

/// "13 March 2024" from a stored `YYYY-MM-DD`.
pub fn readable_day(d: &str) -> String {
    api::day(d).map_or_else(|| d.to_string(), api::long_date)
}

impl Stage {
    fn from_api(s: &StageSummary) -> Stage {
        let mut sittings: Vec<Sitting> = s
            .stage_sittings
            .iter()
            .map(|t| Sitting {
                id: t.id,
                date: day_of(t.date.as_deref()),
            })
            .collect();
        sittings.sort_by(|a, b| (&a.date, a.id).cmp(&(&b.date, b.id)));
        sittings.dedup_by_key(|t| t.id);
        Stage {
            id: s.id,
            stage_id: s.stage_id,
            description: clean(s.description.as_deref())
                .unwrap_or_else(|| format!("stage {}", s.stage_id)),
            house: named_house(s.house.as_deref()).map(str::to_string),
            session_id: s.session_id,
            sort_order: s.sort_order,
            sittings,
        }
    }

    /// "Commons: Committee stage", or "Royal Assent" where no house applies.
    pub fn label(&self) -> String {
        match &self.house {
            Some(h) => format!("{h}: {}", self.description),
            None => self.description.clone(),
        }
    }

    pub fn is_royal_assent(&self) -> bool {
        self.stage_id == ROYAL_ASSENT_STAGE || self.description.eq_ignore_ascii_case("royal assent")
    }

    /// Same stage of the same bill (the bill stage id, or the kind and house if the API
    /// gave no id).
    pub fn same_as(&self, other: &Stage) -> bool {
        if self.id != 0 && other.id != 0 {
            self.id == other.id
        } else {
            self.stage_id == other.stage_id && self.house == other.house
        }
    }
}

impl Publication {
    fn from_api(p: &ApiPublication) -> Publication {
        Publication {
            id: p.id,
            title: clean(p.title.as_deref()).unwrap_or_default(),
            kind: p
                .publication_type
                .as_ref()
                .and_then(|t| clean(t.name.as_deref()))
                .unwrap_or_else(|| "Publication".into()),
            house: named_house(p.house.as_deref()).map(str::to_string),
            date: day_of(p.display_date.as_deref()),
            links: p
                .links
                .iter()
                .filter_map(|l| {
                    Some(Link {
                        title: clean(l.title.as_deref()).unwrap_or_default(),
                        url: l.url.as_deref()?.trim().to_string(),
                        content_type: l.content_type.clone(),
                    })
                })
                .chain(p.files.iter().map(|f| Link {
                    title: f.filename.clone().unwrap_or_default(),
                    // Where bills.parliament.uk serves a publication's uploaded documents.
                    url: format!(
                        "https://bills.parliament.uk/publications/{}/documents/{}",
                        p.id, f.id
                    ),
                    content_type: f.content_type.clone(),
                }))
                .collect(),
        }
    }

    /// "Amendment Paper (Commons)".
    pub fn kind_label(&self) -> String {
        match &self.house {
            Some(h) => format!("{} ({h})", self.kind),
            None => self.kind.clone(),
        }
    }
}

impl Snapshot {
    /// Builds the snapshot from the detail, every stage and the publications. The detail's
    /// current stage is merged into the stages, so the snapshot agrees with itself even when
    /// the stages listing lags behind.
    pub fn build(
        detail: &BillDetail,
        stages: &[StageSummary],
        publications: &[ApiPublication],
    ) -> Snapshot {
        let b = &detail.bill;
        let current_stage = b.current_stage.as_ref().map(Stage::from_api);
        let mut all: Vec<Stage> = Vec::new();
        for s in stages
            .iter()
            .map(Stage::from_api)
            .chain(current_stage.clone())
        {
            match all.iter_mut().find(|o| o.same_as(&s)) {
                Some(known) => {
                    // The current stage comes last and is the fresher view of its sittings.
                    for t in s.sittings {
                        match known.sittings.iter_mut().find(|k| k.id == t.id) {
                            Some(k) => {
                                if t.date.is_some() {
                                    k.date = t.date;
                                }
                            }
                            None => known.sittings.push(t),
                        }
                    }
                    known
                        .sittings
                        .sort_by(|a, b| (&a.date, a.id).cmp(&(&b.date, b.id)));
                }
                None => all.push(s),
            }
        }
        all.sort_by_key(|s| (s.session_id, s.sort_order, s.id));

        let mut publications: Vec<Publication> =
            publications.iter().map(Publication::from_api).collect();
        publications.sort_by(|a, b| (&a.date, a.id).cmp(&(&b.date, b.id)));
        publications.dedup_by_key(|p| p.id);

        let mut sponsors: Vec<(i32, Sponsor)> = detail
            .sponsors
            .iter()
            .map(|s| {
                let m = s.member.as_ref();
                let sponsor = Sponsor {
                    name: clean(m.and_then(|m| m.name.as_deref())),
                    party: clean(m.and_then(|m| m.party.as_deref())),
                    constituency: clean(m.and_then(|m| m.member_from.as_deref())),
                    house: m
                        .and_then(|m| named_house(m.house.as_deref()))
                        .map(str::to_string),
                    organisation: clean(s.organisation.as_ref().and_then(|o| o.name.as_deref())),
                };
                (s.sort_order, sponsor)
            })
            .collect();
        sponsors.sort_by_key(|(order, _)| *order);

        let mut sessions = b.included_session_ids.clone();
        if sessions.is_empty() {
            sessions.extend(b.introduced_session_id);
        }
        Snapshot {
            bill_id: b.bill_id,
            short_title: clean(b.short_title.as_deref())
                .unwrap_or_else(|| format!("Bill {}", b.bill_id)),
            former_short_title: clean(b.former_short_title.as_deref()),
            long_title: clean(detail.long_title.as_deref()),
            summary: clean(detail.summary.as_deref()),
            bill_type: b.bill_type_id.map(|t| {
                api::bill_type_name(t).map_or_else(|| format!("Bill type {t}"), str::to_string)
            }),
            sponsors: sponsors.into_iter().map(|(_, s)| s).collect(),
            originating_house: named_house(b.originating_house.as_deref()).map(str::to_string),
            current_house: named_house(b.current_house.as_deref()).map(str::to_string),
            sessions,
            current_stage,
            is_act: b.is_act,
            withdrawn: day_of(b.bill_withdrawn.as_deref()),
            defeated: b.is_defeated,
            stages: all,
            publications,
        }
    }

    pub fn from_document(doc: &Document) -> Option<Snapshot> {
        serde_json::from_value(doc.fields.clone()).ok()
    }

    pub fn into_document(self) -> Document {
        Document {
            title: self.short_title.clone(),
            url: api::public_url(self.bill_id),
            text: self.render(),
            fields: serde_json::to_value(&self).unwrap_or_default(),
        }
    }

    /// The stage that gave Royal Assent, if the bill has reached it.
    pub fn royal_assent(&self) -> Option<&Stage> {
        self.current_stage
            .iter()
            .chain(&self.stages)
            .find(|s| s.is_royal_assent())
    }

    pub fn enacted(&self) -> bool {
        self.is_act || self.royal_assent().is_some()
    }

    /// "Jack Brereton (Conservative, Stoke-on-Trent South)"; departments separately.
    pub fn sponsor_names(&self) -> Vec<String> {
        self.sponsors
            .iter()
            .filter_map(|s| {
                let name = s.name.as_ref()?;
                let about: Vec<&str> = [&s.party, &s.constituency]
                    .into_iter()
                    .flatten()
                    .map(String::as_str)
                    .collect();
                Some(if about.is_empty() {
                    name.clone()
                } else {
                    format!("{name} ({})", about.join(", "))
                })
            })
            .collect()
    }

    pub fn departments(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for o in self.sponsors.iter().filter_map(|s| s.organisation.clone()) {
            if !out.contains(&o) {
                out.push(o);
            }
        }
        out
    }

    /// Titles and summaries: the text a watchlist's keywords are looked for in.
    pub fn keyword_text(&self) -> String {
        [
            Some(&self.short_title),
            self.former_short_title.as_ref(),
            self.long_title.as_ref(),
            self.summary.as_ref(),
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect::<Vec<_>>()
        .join("\n")
    }

    fn render(&self) -> String {
        let mut out = vec![format!("# {}", self.short_title)];
        let mut about = vec![format!("Bill {}", self.bill_id)];
        about.extend(self.bill_type.clone());
        if !self.sessions.is_empty() {
            let s: Vec<String> = self.sessions.iter().map(u32::to_string).collect();
            about.push(format!("session {}", s.join(", ")));
        }
        out.push(about.join(" · "));
        out.push(api::public_url(self.bill_id));
        if let Some(f) = &self.former_short_title {
            out.push(format!("Formerly: {f}"));
        }
        if let Some(t) = &self.long_title {
            out.push(format!("Long title: {t}"));
        }
        if let Some(s) = &self.summary {
            out.push(format!("Summary: {s}"));
        }
        for s in self.sponsor_names() {
            out.push(format!("Sponsor: {s}"));
        }
        for d in self.departments() {
            out.push(format!("Department: {d}"));
        }
        if let Some(h) = &self.originating_house {
            out.push(format!("Introduced in: {h}"));
        }
        if let Some(s) = &self.current_stage {
            out.push(format!("Current stage: {}", s.label()));
        }
        if self.enacted() {
            out.push("Status: Act of Parliament".into());
        }
        if let Some(d) = &self.withdrawn {
            out.push(format!("Status: withdrawn on {}", readable_day(d)));
        }
        if self.defeated {
            out.push("Status: defeated".into());
        }

        out.push(String::new());
        out.push("## Stages".into());
        if self.stages.is_empty() {
            out.push("(none yet)".into());
        }
        for s in &self.stages {
            let days: Vec<String> = s
                .sittings
                .iter()
                .map(|t| {
                    t.date
                        .as_deref()
                        .map_or_else(|| "date to be set".to_string(), readable_day)
                })
                .collect();
            if days.is_empty() {
                out.push(format!("- {}", s.label()));
            } else {
                out.push(format!("- {}: {}", s.label(), days.join("; ")));
            }
        }

        out.push(String::new());
        out.push("## Publications".into());
        if self.publications.is_empty() {
            out.push("(none yet)".into());
        }
        for p in &self.publications {
            let date = p
                .date
                .as_deref()
                .map_or_else(|| "undated".to_string(), readable_day);
            out.push(format!("- {date} · {}: {}", p.kind_label(), p.title));
            for l in &p.links {
                out.push(format!("  {}", l.url));
            }
        }
        out.join("\n") + "\n"
    }
}
