//! Text diffs with `similar`: always under a deadline (a pathological pair of documents must
//! not stall a cycle), graded by how much of the text changed.

use std::time::{Duration, Instant};

use similar::{ChangeTag, DiffOp, TextDiff};

/// How long one diff may take before `similar` falls back to a coarser answer.
const DEADLINE: Duration = Duration::from_millis(500);

/// Lines of context around each change in the unified diff.
const CONTEXT: usize = 2;

/// What changed between two texts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    pub added: usize,
    pub removed: usize,
    /// Share of the text that changed, 0–100 (from similar's ratio).
    pub percent: u32,
    /// Unified diff (`-`/`+`/` ` lines, `@@` hunk headers), complete.
    pub unified: String,
    pub added_lines: Vec<String>,
    pub removed_lines: Vec<String>,
    /// Word-level edits inside replaced lines: (old words, new words).
    pub word_edits: Vec<(String, String)>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.added == 0 && self.removed == 0
    }

    /// "+3 −1 lines, 4% of the text".
    pub fn summary(&self) -> String {
        let lines = if self.added + self.removed == 1 {
            "line"
        } else {
            "lines"
        };
        format!(
            "+{} −{} {lines}, {}% of the text",
            self.added,
            self.removed,
            self.percent.max(u32::from(!self.is_empty()))
        )
    }
}

/// Line-level diff of two texts, with word-level detail for replaced lines.
pub fn diff(old: &str, new: &str) -> Changes {
    // A last line without its newline would otherwise differ from the same line with one.
    let (old, new) = (with_newline(old), with_newline(new));
    let (old, new) = (old.as_ref(), new.as_ref());
    let deadline = Instant::now() + DEADLINE;
    let d = TextDiff::configure()
        .algorithm(similar::Algorithm::Patience)
        .deadline(deadline)
        .diff_lines(old, new);
    let mut c = Changes::default();
    for change in d.iter_all_changes() {
        let line = change.value().trim_end_matches('\n').to_string();
        match change.tag() {
            ChangeTag::Insert => {
                c.added += 1;
                c.added_lines.push(line);
            }
            ChangeTag::Delete => {
                c.removed += 1;
                c.removed_lines.push(line);
            }
            ChangeTag::Equal => {}
        }
    }
    // Share of characters in changed lines, of both texts together: a one-line edit to a
    // long page is a small change, a rewritten page a large one.
    let changed: usize = c
        .added_lines
        .iter()
        .chain(&c.removed_lines)
        .map(|l| l.len() + 1)
        .sum();
    let total = (old.len() + new.len()).max(1);
    c.percent = ((changed * 100) as f64 / total as f64).round() as u32;
    c.unified = d
        .unified_diff()
        .context_radius(CONTEXT)
        .missing_newline_hint(false)
        .to_string();
    for op in d.ops() {
        if let DiffOp::Replace {
            old_index,
            old_len,
            new_index,
            new_len,
        } = *op
        {
            if old_len == new_len {
                let olds = &d.old_slices()[old_index..old_index + old_len];
                let news = &d.new_slices()[new_index..new_index + new_len];
                for (o, n) in olds.iter().zip(news) {
                    c.word_edits.extend(word_edits(o, n, deadline));
                }
            }
        }
    }
    c
}

fn with_newline(s: &str) -> std::borrow::Cow<'_, str> {
    if s.is_empty() || s.ends_with('\n') {
        s.into()
    } else {
        format!("{s}\n").into()
    }
}

/// Runs of changed words between two versions of one line.
fn word_edits(old: &str, new: &str, deadline: Instant) -> Vec<(String, String)> {
    let d = TextDiff::configure()
        .deadline(deadline)
        .diff_words(old, new);
    let mut edits = Vec::new();
    let (mut o, mut n) = (String::new(), String::new());
    for change in d.iter_all_changes() {
        match change.tag() {
            ChangeTag::Equal => {
                if !(o.trim().is_empty() && n.trim().is_empty()) {
                    edits.push((o.trim().to_string(), n.trim().to_string()));
                }
                o.clear();
                n.clear();
            }
            ChangeTag::Delete => o.push_str(change.value()),
            ChangeTag::Insert => n.push_str(change.value()),
        }
    }
    if !(o.trim().is_empty() && n.trim().is_empty()) {
        edits.push((o.trim().to_string(), n.trim().to_string()));
    }
    edits
}

/// The start of a unified diff, cut at a line boundary so it fits in `max_chars`; says how
/// much was left out.
pub fn excerpt(unified: &str, max_chars: usize) -> String {
    if unified.chars().count() <= max_chars {
        return unified.to_string();
    }
    let total = unified.lines().count();
    let mut out = String::new();
    let mut used = 0;
    let mut taken = 0;
    // Leave room for the trailer line.
    let budget = max_chars.saturating_sub(40);
    for line in unified.lines() {
        let len = line.chars().count() + 1;
        if used + len > budget {
            break;
        }
        out.push_str(line);
        out.push('\n');
        used += len;
        taken += 1;
    }
    if taken == 0 {
        // One enormous line: cut it at a character boundary.
        out = unified.chars().take(budget).collect();
        out.push('\n');
        taken = 1;
    }
    out.push_str(&format!("… {} more lines\n", total - taken));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_lines_words_and_share() {
        let old = "Title\nVictims must apply within 30 days.\nEnd";
        let new = "Title\nVictims must apply within 45 days.\nEnd\nNew line";
        let c = diff(old, new);
        assert_eq!((c.added, c.removed), (2, 1));
        assert!(c.unified.contains("-Victims must apply within 30 days."));
        assert!(c.unified.contains("+Victims must apply within 45 days."));
        assert_eq!(c.word_edits, vec![("30".to_string(), "45".to_string())]);
        assert!(c.summary().starts_with("+2 −1 lines, "));
    }

    #[test]
    fn identical_texts_have_no_changes() {
        assert!(diff("a\nb", "a\nb").is_empty());
    }

    #[test]
    fn excerpts_cut_at_lines_and_say_what_is_left() {
        let unified: String = (0..100).map(|i| format!("+line {i}\n")).collect();
        let e = excerpt(&unified, 200);
        assert!(e.chars().count() <= 200);
        assert!(e.ends_with("more lines\n"));
        assert!(e
            .lines()
            .all(|l| l.starts_with("+line") || l.starts_with('…')));
    }
}
