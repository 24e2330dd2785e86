//! Section-aware diffs: which sections (by nearest preceding `#` heading) a text change
//! touched, and a unified diff whose hunk headers name them, as `git diff` names functions.

use crate::text::diff::{self, Changes};

/// Changed lines ("paragraphs": one line per paragraph, list item or table row) in a section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionChange {
    pub section: String,
    pub added: usize,
    pub removed: usize,
}

impl SectionChange {
    /// "Annex B: Recovery Needs Assessment: +2 −1 paragraphs".
    pub fn describe(&self) -> String {
        let mut counts = Vec::new();
        if self.added > 0 {
            counts.push(format!("+{}", self.added));
        }
        if self.removed > 0 {
            counts.push(format!("−{}", self.removed));
        }
        let noun = if self.added + self.removed == 1 {
            "paragraph"
        } else {
            "paragraphs"
        };
        format!("{}: {} {noun}", self.section, counts.join(" "))
    }
}

#[derive(Debug, Clone, Default)]
pub struct SectionDiff {
    pub changes: Changes,
    /// In order of first change.
    pub sections: Vec<SectionChange>,
    /// The unified diff with each hunk header naming its section.
    pub unified: String,
}

/// Name of the section each line of `text` is in: the nearest heading at or above it.
fn section_of_lines(text: &str) -> Vec<Option<String>> {
    let mut current = None;
    text.lines()
        .map(|line| {
            if let Some(h) = heading(line) {
                current = Some(h.to_string());
            }
            current.clone()
        })
        .collect()
}

/// The text of a `## Heading` line.
fn heading(line: &str) -> Option<&str> {
    let rest = line.trim_start_matches('#');
    let level = line.len() - rest.len();
    ((1..=6).contains(&level) && rest.starts_with(' ')).then(|| rest.trim())
}

/// Start (0-based) of one side of a hunk header range such as `-12,7` or `+3`.
fn range_start(spec: &str) -> usize {
    let mut it = spec[1..].split(',');
    let start: usize = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let len: usize = it.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    // An empty range names the line before it; it consumes no lines, so any start will do.
    if len == 0 {
        start
    } else {
        start.saturating_sub(1)
    }
}

/// Diffs two texts and attributes every changed line to its section.
pub fn section_diff(old: &str, new: &str) -> SectionDiff {
    let changes = diff::diff(old, new);
    if changes.is_empty() {
        return SectionDiff {
            changes,
            ..SectionDiff::default()
        };
    }
    let old_sections = section_of_lines(old);
    let new_sections = section_of_lines(new);
    let name = |s: Option<&Option<String>>| {
        s.cloned()
            .flatten()
            .unwrap_or_else(|| "Top of the page".to_string())
    };
    let mut sections: Vec<SectionChange> = Vec::new();
    let mut count = |section: String, added: usize, removed: usize| match sections
        .iter_mut()
        .find(|s| s.section == section)
    {
        Some(s) => {
            s.added += added;
            s.removed += removed;
        }
        None => sections.push(SectionChange {
            section,
            added,
            removed,
        }),
    };

    // Walk the hunks, tracking line numbers on both sides, and name each hunk by the
    // section of its first changed line.
    let mut out = String::new();
    let (mut o, mut n) = (0usize, 0usize);
    let mut hunk_header: Option<String> = None;
    let mut hunk_lines: Vec<&str> = Vec::new();
    let mut hunk_name: Option<String> = None;
    let mut flush =
        |header: &mut Option<String>, lines: &mut Vec<&str>, hname: &mut Option<String>| {
            if let Some(h) = header.take() {
                match hname.take() {
                    Some(s) => out.push_str(&format!("{h} {s}\n")),
                    None => out.push_str(&format!("{h}\n")),
                }
                for l in lines.drain(..) {
                    out.push_str(l);
                    out.push('\n');
                }
            }
        };
    for line in changes.unified.lines() {
        if line.starts_with("@@") {
            flush(&mut hunk_header, &mut hunk_lines, &mut hunk_name);
            let mut specs = line.split_whitespace().skip(1);
            o = specs.next().map(range_start).unwrap_or(0);
            n = specs.next().map(range_start).unwrap_or(0);
            hunk_header = Some(line.trim_end_matches(['@', ' ']).to_string() + " @@");
            continue;
        }
        match line.chars().next() {
            Some('-') => {
                let s = name(old_sections.get(o));
                hunk_name.get_or_insert_with(|| s.clone());
                count(s, 0, 1);
                o += 1;
            }
            Some('+') => {
                let s = name(new_sections.get(n));
                hunk_name.get_or_insert_with(|| s.clone());
                count(s, 1, 0);
                n += 1;
            }
            _ => {
                o += 1;
                n += 1;
            }
        }
        hunk_lines.push(line);
    }
    flush(&mut hunk_header, &mut hunk_lines, &mut hunk_name);
    SectionDiff {
        changes,
        sections,
        unified: out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "# Guidance\nIntro.\n## Annex A\nKeep.\n## Annex B: Recovery Needs Assessment\nOne.\nTwo.\nThree.\n## Annex C\nLast.";

    #[test]
    fn changes_are_named_by_their_section() {
        let new = "# Guidance\nIntro.\n## Annex A\nKeep.\n## Annex B: Recovery Needs Assessment\nOne.\nTwo, amended.\nTwo and a half.\nThree.\n## Annex C\nLast.";
        let d = section_diff(OLD, new);
        let described: Vec<String> = d.sections.iter().map(SectionChange::describe).collect();
        assert_eq!(
            described,
            ["Annex B: Recovery Needs Assessment: +2 −1 paragraphs"]
        );
        assert!(
            d.unified
                .contains("@@ Annex B: Recovery Needs Assessment\n"),
            "{}",
            d.unified
        );
        assert!(d
            .unified
            .contains("-Two.\n+Two, amended.\n+Two and a half.\n"));
    }

    #[test]
    fn several_sections_in_order_and_deletions_by_old_position() {
        let new = "# Guidance\nIntro, revised.\n## Annex A\nKeep.\n## Annex B: Recovery Needs Assessment\nOne.\nTwo.\nThree.\n## Annex C";
        let d = section_diff(OLD, new);
        let described: Vec<String> = d.sections.iter().map(SectionChange::describe).collect();
        assert_eq!(
            described,
            ["Guidance: +1 −1 paragraphs", "Annex C: −1 paragraph"]
        );
    }

    #[test]
    fn identical_texts_name_nothing() {
        let d = section_diff(OLD, OLD);
        assert!(d.sections.is_empty() && d.unified.is_empty());
    }
}
