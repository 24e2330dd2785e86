//! Typed events between two snapshots of a bill, each with the one-line narrative a
//! parliamentary officer would write.

use serde_json::{json, Value};

use super::snapshot::{readable_day, Publication, Snapshot, Stage};
use crate::data::{Event, Severity, Tone};

/// New publications alerted one by one; beyond this, one alert lists how many more (a bill
/// that gains dozens at once, e.g. after an outage, must not flood the channel).
const MAX_PUBLICATION_ALERTS: usize = 10;

pub fn events(prev: &Snapshot, next: &Snapshot) -> Vec<Event> {
    let mut out = Vec::new();
    // Sittings already told as part of a stage change.
    let mut told_sittings: Vec<u32> = Vec::new();

    let newly_enacted = !prev.enacted() && next.enacted();
    if newly_enacted {
        out.push(royal_assent(next));
        told_sittings.extend(
            next.royal_assent()
                .iter()
                .flat_map(|s| s.sittings.iter().map(|t| t.id)),
        );
    }
    if let Some(to) = &next.current_stage {
        let moved = prev
            .current_stage
            .as_ref()
            .is_none_or(|from| !from.same_as(to));
        if moved && !(to.is_royal_assent() && (newly_enacted || prev.enacted())) {
            told_sittings.extend(to.sittings.iter().map(|t| t.id));
            out.push(stage_changed(prev.current_stage.as_ref(), to, next));
        }
    }
    if prev.withdrawn.is_none() {
        if let Some(day) = &next.withdrawn {
            let mut e = base(
                next,
                "bill.withdrawn",
                format!("Withdrawn on {}{}", readable_day(day), at_stage(next)),
            );
            e.severity = Severity::Major;
            e.tone = Tone::Bad;
            e.fields = fields(
                next,
                json!({ "withdrawn": day, "stage": stage_fields(next.current_stage.as_ref()) }),
            );
            out.push(e);
        }
    }
    if !prev.defeated && next.defeated {
        let mut e = base(next, "bill.defeated", format!("Defeated{}", at_stage(next)));
        e.severity = Severity::Major;
        e.tone = Tone::Bad;
        e.fields = fields(
            next,
            json!({ "stage": stage_fields(next.current_stage.as_ref()) }),
        );
        out.push(e);
    }
    if prev.short_title != next.short_title {
        // One fact, one alert: Royal Assent already says the Bill became an Act.
        if newly_enacted {
            if let Some(assent) = out.iter_mut().find(|e| e.kind == "bill.royal_assent") {
                assent.annotations.push(format!(
                    "Renamed: {} → {}",
                    prev.short_title, next.short_title
                ));
                assent.keyword_text = format!("{}\n{}", assent.keyword_text, prev.short_title);
                if let Value::Object(m) = &mut assent.fields {
                    m.insert("renamed_from".into(), prev.short_title.clone().into());
                }
            }
        }
    }
    if prev.short_title != next.short_title && !newly_enacted {
        let became_act = !is_act_title(&prev.short_title) && is_act_title(&next.short_title);
        let mut e = base(
            next,
            "bill.renamed",
            format!("Renamed: {} → {}", prev.short_title, next.short_title),
        );
        if became_act {
            e.annotations.push("The Bill is now an Act".into());
        }
        e.keyword_text = format!("{}\n{}", prev.short_title, e.keyword_text);
        e.fields = fields(
            next,
            json!({ "from": prev.short_title, "to": next.short_title, "became_act": became_act }),
        );
        out.push(e);
    }
    out.extend(sittings_added(prev, next, &told_sittings));
    out.extend(publications_added(prev, next));
    // Keywords are looked for only in what changed: the bill's descriptive text (titles,
    // long title, summary) counts only where it differs from the previous version.
    let (before, after) = (prev.keyword_text(), next.keyword_text());
    let unchanged: Vec<&str> = after
        .lines()
        .filter(|l| before.lines().any(|b| b == *l))
        .collect();
    for e in &mut out {
        if let Some(i) = e.keyword_text.find(after.as_str()) {
            let changed: Vec<&str> = after.lines().filter(|l| !unchanged.contains(l)).collect();
            e.keyword_text
                .replace_range(i..i + after.len(), &changed.join("\n"));
        }
    }
    out
}

/// Every event shares the bill's identity and keyword text.
fn base(next: &Snapshot, kind: &str, summary: String) -> Event {
    let mut e = Event::new(kind, summary);
    e.keyword_text = next.keyword_text();
    e
}

fn fields(next: &Snapshot, extra: Value) -> Value {
    let mut v = json!({ "bill_id": next.bill_id, "bill_title": next.short_title });
    if let (Value::Object(m), Value::Object(extra)) = (&mut v, extra) {
        m.extend(extra);
    }
    v
}

fn stage_fields(s: Option<&Stage>) -> Value {
    match s {
        Some(s) => json!({ "house": s.house, "stage": s.description, "stage_id": s.stage_id }),
        None => Value::Null,
    }
}

/// " at Commons: 2nd reading", or nothing when the stage is unknown.
fn at_stage(next: &Snapshot) -> String {
    next.current_stage
        .as_ref()
        .map(|s| format!(" at {}", s.label()))
        .unwrap_or_default()
}

fn is_act_title(title: &str) -> bool {
    title.split_whitespace().any(|w| w == "Act")
}

fn first_day(s: &Stage) -> Option<&str> {
    s.sittings.iter().find_map(|t| t.date.as_deref())
}

fn stage_changed(from: Option<&Stage>, to: &Stage, next: &Snapshot) -> Event {
    let mut summary = match from {
        Some(f) if f.house == to.house && to.house.is_some() => {
            format!(
                "{}: {} → {}",
                to.house.as_deref().unwrap_or_default(),
                f.description,
                to.description
            )
        }
        Some(f) => format!("{} → {}", f.label(), to.label()),
        None => format!("Now at {}", to.label()),
    };
    if let Some(d) = first_day(to) {
        summary.push_str(&format!(" (sitting {})", readable_day(d)));
    }
    let mut e = base(next, "bill.stage_changed", summary);
    e.severity = Severity::Major;
    let dates: Vec<&str> = to
        .sittings
        .iter()
        .filter_map(|t| t.date.as_deref())
        .collect();
    e.fields = fields(
        next,
        json!({ "from": stage_fields(from), "to": stage_fields(Some(to)), "sittings": dates }),
    );
    e
}

fn royal_assent(next: &Snapshot) -> Event {
    let day = next.royal_assent().and_then(first_day);
    let summary = match day {
        Some(d) => format!("Royal Assent: {}, {}", next.short_title, readable_day(d)),
        None => format!("Royal Assent: {}", next.short_title),
    };
    let mut e = base(next, "bill.royal_assent", summary);
    e.severity = Severity::Major;
    e.tone = Tone::Good;
    e.fields = fields(next, json!({ "act": next.short_title, "date": day }));
    e
}

fn sittings_added(prev: &Snapshot, next: &Snapshot, told: &[u32]) -> Vec<Event> {
    let known = |id: u32| {
        prev.stages
            .iter()
            .chain(&prev.current_stage)
            .flat_map(|s| &s.sittings)
            .find(|t| t.id == id)
    };
    let mut out = Vec::new();
    for stage in &next.stages {
        for t in &stage.sittings {
            if told.contains(&t.id) {
                continue;
            }
            let before = known(t.id);
            let what = match (before.map(|b| &b.date), &t.date) {
                (None, Some(d)) => format!("sitting on {}", readable_day(d)),
                (None, None) => "sitting added, date to be set".to_string(),
                (Some(None), Some(d)) => format!("sitting now dated {}", readable_day(d)),
                (Some(Some(old)), Some(d)) if old != d => {
                    format!(
                        "sitting moved from {} to {}",
                        readable_day(old),
                        readable_day(d)
                    )
                }
                _ => continue,
            };
            let mut e = base(
                next,
                "bill.sitting_added",
                format!("{} — {what}", stage.label()),
            );
            e.fields = fields(
                next,
                json!({
                    "house": stage.house,
                    "stage": stage.description,
                    "stage_id": stage.stage_id,
                    "sitting_id": t.id,
                    "date": t.date,
                    "previous_date": before.and_then(|b| b.date.clone()),
                }),
            );
            out.push(e);
        }
    }
    out
}

fn publications_added(prev: &Snapshot, next: &Snapshot) -> Vec<Event> {
    let new: Vec<&Publication> = next
        .publications
        .iter()
        .filter(|p| !prev.publications.iter().any(|o| o.id == p.id))
        .collect();
    let mut out: Vec<Event> = new
        .iter()
        .take(MAX_PUBLICATION_ALERTS)
        .map(|p| publication_added(p, next))
        .collect();
    if new.len() > MAX_PUBLICATION_ALERTS {
        let rest = &new[MAX_PUBLICATION_ALERTS..];
        let mut e = base(
            next,
            "bill.publication_added",
            format!("{} more publications", rest.len()),
        );
        e.annotations = rest
            .iter()
            .map(|p| format!("{}: {}", p.kind_label(), p.title))
            .collect();
        e.keyword_text = format!(
            "{}\n{}",
            e.keyword_text,
            rest.iter()
                .map(|p| p.title.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        );
        e.fields = fields(next, json!({ "publications": rest }));
        out.push(e);
    }
    out
}

fn publication_added(p: &Publication, next: &Snapshot) -> Event {
    let date = p
        .date
        .as_deref()
        .map(|d| format!(" ({})", readable_day(d)))
        .unwrap_or_default();
    let mut e = base(
        next,
        "bill.publication_added",
        format!("{}: {}{date}", p.kind_label(), p.title),
    );
    e.url = p.links.first().map(|l| l.url.clone());
    e.annotations = p
        .links
        .iter()
        .map(|l| match &l.content_type {
            Some(t) => format!("Link ({t}): {}", l.url),
            None => format!("Link: {}", l.url),
        })
        .collect();
    e.keyword_text = format!("{}\n{}", p.title, e.keyword_text);
    e.fields = fields(
        next,
        json!({
            "publication_id": p.id,
            "type": p.kind,
            "title": p.title,
            "house": p.house,
            "date": p.date,
            "links": p.links,
        }),
    );
    e
}
