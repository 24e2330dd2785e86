//! Chat renderings of the data the command line prints: the same [`StatusReport`], history
//! records and change record that `status`, `history` and `show` read, written as short
//! Discord markdown. Everything from outside is escaped ([`quote`]).

use chrono::{DateTime, Utc};

use super::{quote, REPLY_MAX};
use crate::status::StatusReport;
use crate::store::ChangeRecord;

/// A diff longer than this goes as a file rather than inline.
pub const DIFF_INLINE: usize = 1500;

/// "1 watch", "2 watches".
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn when(t: Option<DateTime<Utc>>) -> String {
    // Discord shows `<t:…:f>` in each reader's own time zone.
    t.map_or("never".into(), |t| format!("<t:{}:f>", t.timestamp()))
}

/// Lines joined, cut to what a reply holds with a note of how many were left out.
fn lines(head: String, body: Vec<String>) -> String {
    let mut out = head;
    let total = body.len();
    for (i, line) in body.into_iter().enumerate() {
        if out.chars().count() + line.chars().count() + 40 > REPLY_MAX {
            out.push_str(&format!("\n… and {} more", total - i));
            break;
        }
        out.push('\n');
        out.push_str(&line);
    }
    out
}

fn health(w: &crate::status::WatchStatus) -> String {
    match (&w.last_error, w.consecutive_failures) {
        (Some(e), n) if n > 0 => format!("**failing** ({n} in a row): {}", quote(e, 200)),
        _ if w.last_check.is_none() => "not checked yet".into(),
        _ => "ok".into(),
    }
}

fn followed(w: &crate::status::WatchStatus) -> String {
    w.followed_from
        .as_ref()
        .map(|s| format!(", followed via {}", quote(s, 120)))
        .unwrap_or_default()
}

/// `/watches [watchlist]`: each watch, its kind, last change and health.
pub fn watches(report: &StatusReport, watchlist: Option<&str>) -> String {
    let shown: Vec<String> = report
        .watches
        .iter()
        .filter(|w| watchlist.is_none_or(|l| w.watchlist == l))
        .map(|w| {
            format!(
                "`{}` [{}] in {}{}: last change {}, {}",
                quote(&w.watch, 100),
                w.kind,
                quote(&w.watchlist, 60),
                followed(w),
                when(w.last_change),
                health(w)
            )
        })
        .collect();
    if shown.is_empty() {
        return match watchlist {
            Some(l) => format!("No watches in watchlist `{}`.", quote(l, 100)),
            None => "No watches.".into(),
        };
    }
    lines(
        format!("**{}**", count(shown.len(), "watch", "watches")),
        shown,
    )
}

/// `/status`: failing watches, the outbox, the last cycle, who followed what.
pub fn status(report: &StatusReport) -> String {
    let failing: Vec<String> = report
        .watches
        .iter()
        .filter(|w| w.consecutive_failures > 0)
        .map(|w| format!("`{}`: {}", quote(&w.watch, 100), health(w)))
        .collect();
    let last_cycle = report.watches.iter().filter_map(|w| w.last_check).max();
    let mut head = format!(
        "**{}**, {} failing · outbox: {} queued, {} dead · last check {}",
        count(report.watches.len(), "watch", "watches"),
        failing.len(),
        report.queued,
        report.dead,
        when(last_cycle)
    );
    if let Some(h) = &report.delivery_halt {
        head.push_str(&format!(
            "\n**delivery stopped** since {}: {}",
            when(Some(h.since)),
            quote(&h.reason, 300)
        ));
    }
    if !report.watchlist_problems.is_empty() {
        head.push_str("\n**a watchlist edit was not loaded**; `policywatch status` shows why");
    }
    let mut body = failing;
    body.extend(
        report
            .watches
            .iter()
            .filter(|w| w.followed_from.is_some())
            .map(|w| format!("`{}`{}", quote(&w.watch, 100), followed(w))),
    );
    lines(head, body)
}

/// The marks of a change, as a short phrase: `✅ alice · 👀 bob`.
fn marks(r: &ChangeRecord) -> String {
    r.reviews
        .iter()
        .map(|m| {
            let emoji = if m.mark == crate::store::REVIEWED {
                super::REVIEWED_EMOJI
            } else {
                super::LOOKING_EMOJI
            };
            format!("{emoji} {}", quote(&m.by, 60))
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// `/history <watch> [count]`: the latest changes, newest last like `history`.
pub fn history(watch: &str, records: &[ChangeRecord]) -> String {
    if records.is_empty() {
        return format!("No changes recorded for `{}` yet.", quote(watch, 100));
    }
    let body = records
        .iter()
        .map(|r| {
            let a = &r.alert;
            let m = marks(r);
            format!(
                "`#{}` {} **{}**: {}{}",
                a.id,
                when(Some(a.detected_at)),
                a.event,
                quote(&a.summary, 200),
                if m.is_empty() {
                    String::new()
                } else {
                    format!(" ({m})")
                }
            )
        })
        .collect();
    lines(
        format!(
            "**History of `{}`** (`/show <id>` for one)",
            quote(watch, 100)
        ),
        body,
    )
}

/// `/show <id>`: one change as `show` prints it, its full diff attached as a file.
pub fn show(r: &ChangeRecord) -> String {
    let a = &r.alert;
    let mut out = format!(
        "`#{}` **{}** · {}\n{}\n{}",
        a.id,
        quote(&a.title, 200),
        a.event,
        quote(&a.summary, 400),
        quote(&a.url, 300)
    );
    for note in &a.annotations {
        out.push_str(&format!("\n• {}", quote(note, 200)));
    }
    out.push_str(&format!(
        "\ndetected {}; {}",
        when(Some(a.detected_at)),
        match r.delivered_at {
            Some(t) => format!("delivered {}", when(Some(t))),
            None if crate::data::is_quiet(&a.event) => "recorded without an alert".into(),
            None => "not yet delivered".into(),
        }
    ));
    for m in &r.reviews {
        out.push_str(&format!(
            "\n{} by {} {}",
            m.mark,
            quote(&m.by, 60),
            when(Some(m.at))
        ));
    }
    if !r.full_diff.is_empty() {
        out.push_str("\nThe full diff is attached.");
    }
    super::quote_cut(out)
}

/// `/diff <watch>`: the latest two versions' diff (as `diff` prints it), inline when short.
pub fn diff(watch: &str, text: &str) -> String {
    if text.chars().count() > DIFF_INLINE {
        return format!(
            "The diff of `{}`'s latest two versions is attached.",
            quote(watch, 100)
        );
    }
    // Inside a code block only a closing fence could escape; break any.
    format!(
        "```diff\n{}\n```",
        text.replace("```", "`\u{200b}``").trim_end()
    )
}
