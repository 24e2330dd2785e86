//! Events between two versions of a GOV.UK item. One alert per fact: a change note is a
//! major update; a body edit without one is a silent edit; attachments, title and summary,
//! withdrawal, removal and redirects each have their own event.

use chrono::DateTime;
use serde_json::json;

use super::sections::{section_diff, SectionDiff};
use super::{human_time, Attachment, ChangeNote, Item};
use crate::data::{Event, Severity, Tone};

/// A note is the same note when it has the same instant; failing that, the same text within
/// a day (a publishing app re-stamping old notes must not look like a major update).
const SAME_NOTE_WINDOW_SECS: i64 = 24 * 3600;

/// Sections named in a silent edit's summary; the rest are in the annotations.
const SUMMARY_SECTIONS: usize = 3;

pub(super) fn events(old: &Item, new: &Item) -> Vec<Event> {
    match (&old.removed, &new.removed) {
        (None, Some(r)) => {
            return vec![removed(new, &r.explanation, r.alternative_path.as_deref())]
        }
        (Some(_), Some(_)) => return Vec::new(),
        (Some(_), None) => return vec![restored(new, "Back on GOV.UK after being removed")],
        (None, None) => {}
    }
    if old.redirected_to != new.redirected_to {
        // Comparing the old page with what now answers at the path would be noise: the move
        // is the news.
        return vec![match &new.redirected_to {
            Some(to) => redirected(new, to),
            None => restored(new, "No longer redirected: the page is back at its path"),
        }];
    }

    let mut events = Vec::new();
    match (&old.withdrawn_notice, &new.withdrawn_notice) {
        (None, Some(w)) => events.push(withdrawn(new, w, false)),
        (Some(o), Some(w)) if o.explanation != w.explanation => {
            events.push(withdrawn(new, w, true))
        }
        (Some(_), None) => events.push(restored(new, "No longer withdrawn")),
        _ => {}
    }

    let notes = new_notes(&old.change_history, &new.change_history);
    let text = section_diff(&old.reading(), &new.reading());
    let att = attachment_changes(&old.attachments, &new.attachments);
    let newest_note = notes.last().copied();

    if let Some(note) = newest_note {
        events.push(major_update(&notes, note, &text, &att));
    } else if old.body != new.body || !att.removed.is_empty() {
        events.push(silent_edit(&text, &att, old.body != new.body));
    }
    for a in &att.added {
        events.push(attachment_added(a, newest_note));
    }
    for (o, a) in &att.changed {
        events.push(attachment_changed(o, a, newest_note));
    }
    if old.title != new.title || old.description != new.description {
        events.push(metadata_changed(old, new));
    }
    events
}

/// Notes in `new` that `old` did not have, oldest first, whatever order the API sent.
fn new_notes<'a>(old: &[ChangeNote], new: &'a [ChangeNote]) -> Vec<&'a ChangeNote> {
    let secs = |ts: &str| DateTime::parse_from_rfc3339(ts).ok().map(|t| t.timestamp());
    new.iter()
        .filter(|n| {
            !old.iter().any(|o| {
                o.public_timestamp == n.public_timestamp
                    || (o.note == n.note
                        && matches!((secs(&o.public_timestamp), secs(&n.public_timestamp)),
                            (Some(a), Some(b)) if (a - b).abs() <= SAME_NOTE_WINDOW_SECS))
            })
        })
        .collect()
}

fn quote(s: &str) -> String {
    format!("“{s}”")
}

fn major_update(
    notes: &[&ChangeNote],
    note: &ChangeNote,
    text: &SectionDiff,
    att: &AttachmentChanges,
) -> Event {
    let mut e = Event::new(
        "govuk.major_update",
        format!(
            "Major update, {}: {}",
            human_time(&note.public_timestamp),
            quote(&note.note)
        ),
    );
    e.severity = Severity::Major;
    // Several notes since the last check: the others, newest first, after the one quoted.
    e.annotations = notes
        .iter()
        .rev()
        .skip(1)
        .map(|n| {
            format!(
                "Also noted, {}: {}",
                human_time(&n.public_timestamp),
                quote(&n.note)
            )
        })
        .collect();
    e.annotations
        .extend(text.sections.iter().map(|s| s.describe()));
    e.annotations.extend(att.describe());
    e.keyword_text = std::iter::once(note.note.clone())
        .chain(text.changes.added_lines.iter().cloned())
        .chain(text.changes.removed_lines.iter().cloned())
        .collect::<Vec<_>>()
        .join("\n");
    e.diff = Some(text.unified.clone() + &att.diff()).filter(|d| !d.is_empty());
    e.fields = json!({
        "note": note.note,
        "public_timestamp": note.public_timestamp,
        "notes": notes,
        "sections": text.sections.iter().map(|s| s.section.clone()).collect::<Vec<_>>(),
    });
    e
}

fn silent_edit(text: &SectionDiff, att: &AttachmentChanges, body_changed: bool) -> Event {
    let mut what: Vec<String> = if body_changed {
        text.sections
            .iter()
            .take(SUMMARY_SECTIONS)
            .map(|s| s.describe())
            .collect()
    } else {
        Vec::new()
    };
    if body_changed && text.sections.len() > SUMMARY_SECTIONS {
        what.push(format!(
            "and {} more sections",
            text.sections.len() - SUMMARY_SECTIONS
        ));
    }
    what.extend(
        att.removed
            .iter()
            .map(|a| format!("attachment {} removed", quote(&a.title))),
    );
    let mut e = Event::new(
        "govuk.silent_edit",
        format!("Edited without a change note: {}", what.join("; ")),
    );
    e.severity = if text.changes.percent >= 20 {
        Severity::Major
    } else {
        Severity::Notice
    };
    e.annotations =
        vec!["No change note was published, so GOV.UK sent no email about this edit".into()];
    e.annotations
        .extend(text.sections.iter().map(|s| s.describe()));
    e.annotations.extend(att.describe());
    e.keyword_text = text
        .changes
        .added_lines
        .iter()
        .chain(&text.changes.removed_lines)
        .cloned()
        .collect::<Vec<_>>()
        .join("\n");
    e.diff = Some(text.unified.clone() + &att.diff()).filter(|d| !d.is_empty());
    e.fields = json!({
        "sections": text.sections.iter().map(|s| s.section.clone()).collect::<Vec<_>>(),
        "percent": text.changes.percent,
    });
    e
}

/// How a change was announced, for attachment events.
fn announced(note: Option<&ChangeNote>) -> String {
    match note {
        Some(n) => format!("change note: {}", quote(&n.note)),
        None => "without a change note".to_string(),
    }
}

fn attachment_added(a: &Attachment, note: Option<&ChangeNote>) -> Event {
    let about = a.describe();
    let about = if about.is_empty() {
        String::new()
    } else {
        format!(" ({about})")
    };
    let mut e = Event::new(
        "govuk.attachment_added",
        format!(
            "New attachment {}{about}, {}",
            quote(&a.title),
            announced(note)
        ),
    );
    e.annotations = vec![format!("New: {}", a.url)];
    e.keyword_text = a.title.clone();
    e.diff = Some(format!("@@ Documents @@\n+{}\n", a.line()));
    e.fields = json!({ "attachment": a, "change_note": note.map(|n| &n.note) });
    e
}

fn attachment_changed(o: &Attachment, a: &Attachment, note: Option<&ChangeNote>) -> Event {
    let mut what = Vec::new();
    if o.url != a.url {
        what.push("replaced with a new file".to_string());
    }
    if o.title != a.title {
        what.push(format!("renamed from {}", quote(&o.title)));
    }
    if o.content_type != a.content_type
        || o.file_size != a.file_size
        || o.number_of_pages != a.number_of_pages
    {
        what.push(format!("now {}", a.describe()));
    }
    let mut e = Event::new(
        "govuk.attachment_changed",
        format!(
            "Attachment {} {}, {}",
            quote(&a.title),
            what.join(", "),
            announced(note)
        ),
    );
    e.annotations = vec![format!("Was: {}", o.url), format!("Now: {}", a.url)];
    e.keyword_text = a.title.clone();
    e.diff = Some(format!("@@ Documents @@\n-{}\n+{}\n", o.line(), a.line()));
    e.fields = json!({ "from": o, "to": a, "change_note": note.map(|n| &n.note) });
    e
}

fn metadata_changed(old: &Item, new: &Item) -> Event {
    let mut what = Vec::new();
    let mut diff = String::new();
    if old.title != new.title {
        what.push(format!(
            "title {} → {}",
            quote(&old.title),
            quote(&new.title)
        ));
        diff.push_str(&format!("-Title: {}\n+Title: {}\n", old.title, new.title));
    }
    if old.description != new.description {
        what.push(format!(
            "summary {} → {}",
            quote(&old.description),
            quote(&new.description)
        ));
        diff.push_str(&format!(
            "-Summary: {}\n+Summary: {}\n",
            old.description, new.description
        ));
    }
    let mut e = Event::new(
        "govuk.metadata_changed",
        format!("Changed {}", what.join("; ")),
    );
    e.keyword_text = format!("{}\n{}", new.title, new.description);
    e.diff = Some(diff);
    e.fields = json!({
        "title": { "from": old.title, "to": new.title },
        "description": { "from": old.description, "to": new.description },
    });
    e
}

fn withdrawn(new: &Item, w: &super::Withdrawal, changed: bool) -> Event {
    let when = w.withdrawn_at.as_deref().map(human_time);
    let summary = match (changed, &when) {
        (true, _) => format!("Withdrawal notice changed: {}", quote(&w.explanation)),
        (false, Some(at)) => format!("Withdrawn on {at}: {}", quote(&w.explanation)),
        (false, None) => format!("Withdrawn: {}", quote(&w.explanation)),
    };
    let mut e = Event::new("govuk.withdrawn", summary);
    e.severity = Severity::Major;
    e.tone = Tone::Bad;
    e.annotations = vec![
        "GOV.UK now shows this page as withdrawn: it is no longer current policy or guidance"
            .into(),
    ];
    e.keyword_text = format!("{}\n{}", new.title, w.explanation);
    e.diff = Some(format!("+## Withdrawn\n+{}\n", w.explanation));
    e.fields = json!({ "explanation": w.explanation, "withdrawn_at": w.withdrawn_at });
    e
}

fn removed(new: &Item, explanation: &str, alternative: Option<&str>) -> Event {
    let mut summary = "Removed from GOV.UK (the Content API answers 410 Gone)".to_string();
    if !explanation.is_empty() {
        summary.push_str(&format!(": {}", quote(explanation)));
    }
    let mut e = Event::new("govuk.removed", summary);
    e.severity = Severity::Major;
    e.tone = Tone::Bad;
    if let Some(alt) = alternative {
        e.annotations
            .push(format!("GOV.UK suggests instead: {alt}"));
    }
    e.keyword_text = new.title.clone();
    e.fields =
        json!({ "path": new.path, "explanation": explanation, "alternative_path": alternative });
    e
}

fn redirected(new: &Item, to: &str) -> Event {
    let mut e = Event::new(
        "govuk.redirected",
        format!("Redirected: {} now leads to {to}", new.path),
    );
    e.annotations = vec![format!("New path: {to}")];
    e.keyword_text = new.title.clone();
    e.diff = Some(format!("-{}\n+{to}\n", new.path));
    e.fields = json!({ "from": new.path, "to": to });
    e
}

fn restored(new: &Item, summary: &str) -> Event {
    let mut e = Event::new("govuk.restored", summary);
    e.keyword_text = new.title.clone();
    e
}

#[derive(Default)]
struct AttachmentChanges<'a> {
    added: Vec<&'a Attachment>,
    changed: Vec<(&'a Attachment, &'a Attachment)>,
    removed: Vec<&'a Attachment>,
}

fn attachment_changes<'a>(old: &'a [Attachment], new: &'a [Attachment]) -> AttachmentChanges<'a> {
    let mut c = AttachmentChanges::default();
    for a in new {
        match old.iter().find(|o| o.key() == a.key()) {
            None => c.added.push(a),
            Some(o) if o != a => c.changed.push((o, a)),
            Some(_) => {}
        }
    }
    c.removed = old
        .iter()
        .filter(|o| !new.iter().any(|a| a.key() == o.key()))
        .collect();
    c
}

impl AttachmentChanges<'_> {
    fn describe(&self) -> Vec<String> {
        let added = self
            .added
            .iter()
            .map(|a| format!("Attachment added: {}", quote(&a.title)));
        let changed = self
            .changed
            .iter()
            .map(|(_, a)| format!("Attachment changed: {}", quote(&a.title)));
        let removed = self
            .removed
            .iter()
            .map(|a| format!("Attachment removed: {}", quote(&a.title)));
        added.chain(changed).chain(removed).collect()
    }

    fn diff(&self) -> String {
        if self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty() {
            return String::new();
        }
        let mut d = "@@ Documents @@\n".to_string();
        for a in &self.removed {
            d.push_str(&format!("-{}\n", a.line()));
        }
        for (o, a) in &self.changed {
            d.push_str(&format!("-{}\n+{}\n", o.line(), a.line()));
        }
        for a in &self.added {
            d.push_str(&format!("+{}\n", a.line()));
        }
        d
    }
}
