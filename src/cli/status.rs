//! `status`: how each watch is doing. Read from the store, or, while the daemon holds the
//! store, from the snapshot it leaves after every cycle.

use std::io::Write;

use chrono::{DateTime, Utc};
use clap::Args;

use super::App;
use crate::error::{Error, Result};
use crate::status::{self, StatusReport};

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// `text` for people, or `json`: one document with the watches, outbox and delivery
    #[arg(long, value_enum, default_value = "text")]
    pub format: StatusFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatusFormat {
    Text,
    Json,
}

/// `status` when the store is busy and no daemon answers on the control socket: the
/// report the daemon left after its last cycle.
pub fn from_snapshot(app: &App, args: StatusArgs, busy: Error, w: &mut dyn Write) -> Result<()> {
    let Error::StoreOpen { path, reason, hint } = busy else {
        return Err(busy);
    };
    // No readable snapshot: the store's own error says more than the snapshot's.
    match status::read_snapshot(&status::snapshot_path(&app.data)).unwrap_or(None) {
        Some(report) => {
            super::warn(&format!(
                "cannot open the store ({reason}; is the daemon running?); \
                 showing the daemon's report of {}",
                report.generated_at.format("%Y-%m-%d %H:%M:%S UTC")
            ));
            print(&report, args, w)
        }
        // The daemon holds the store and has not finished its first cycle.
        None if reason.contains("in use by another policywatch") => writeln!(
            w,
            "starting: the daemon holds the store and has not finished its first cycle \
                 yet; its report follows each cycle"
        )
        .map_err(|source| Error::Io {
            path: "<stdout>".into(),
            source,
        }),
        None => Err(Error::StoreOpen { path, reason, hint }),
    }
}

/// A report that could not be read because a record is damaged is damage (exit 4), never
/// a partial report.
pub fn damaged(data: &std::path::Path, e: Error) -> Error {
    match e {
        Error::Store(reason) if reason.contains("corrupt") || reason.contains("unreadable") => {
            Error::StoreDamaged {
                path: data.to_path_buf(),
                reason,
            }
        }
        e => e,
    }
}

/// Prints a report in the chosen format.
pub fn print(report: &StatusReport, args: StatusArgs, w: &mut dyn Write) -> Result<()> {
    let io = |source| Error::Io {
        path: "<stdout>".into(),
        source,
    };
    match args.format {
        StatusFormat::Json => {
            writeln!(w, "{}", serde_json::to_string(&json(report))?).map_err(io)?;
        }
        StatusFormat::Text => print_text(report, w).map_err(io)?,
    }
    w.flush().map_err(io)
}

/// The whole report as one JSON document: watches, outbox, delivery, unfollowed watches and
/// any watchlist edit the daemon refused.
pub fn json(report: &StatusReport) -> serde_json::Value {
    serde_json::json!({
        "generated_at": report.generated_at,
        "watches": report.watches,
        "outbox": { "queued": report.queued, "dead": report.dead },
        "delivery": {
            "state": if report.delivery_halt.is_some() { "stopped" } else { "running" },
            "halt": report.delivery_halt,
        },
        "unfollowed": report.unfollowed,
        "watchlist_problems": report.watchlist_problems,
    })
}

fn print_text(report: &StatusReport, w: &mut dyn Write) -> std::io::Result<()> {
    for r in &report.watches {
        // In the zone the watch's schedule is read in, with its abbreviation (BST, GMT).
        let tz: chrono_tz::Tz = r
            .timezone
            .parse()
            .unwrap_or(crate::schedule::DEFAULT_TIMEZONE);
        let t = |t: Option<DateTime<Utc>>| {
            t.map_or("never".to_string(), |t| {
                t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string()
            })
        };
        let health = match (&r.last_error, r.consecutive_failures) {
            (Some(e), n) if n > 0 => format!("FAILING ({n} in a row): {e}"),
            _ if r.last_check.is_none() => "not checked yet".into(),
            _ => "ok".into(),
        };
        let followed = r
            .followed_from
            .as_ref()
            .map(|s| format!(" (followed via {s})"))
            .unwrap_or_default();
        writeln!(
            w,
            "{} [{}]{followed}: {health}\n    last check {}, last change {}, next run {}, {} versions",
            r.watch,
            r.kind,
            t(r.last_check),
            t(r.last_change),
            t(r.next_run),
            r.versions
        )?;
    }
    writeln!(w, "outbox: {} queued, {} dead", report.queued, report.dead)?;
    if let Some(h) = &report.delivery_halt {
        let since = h.since.format("%Y-%m-%d %H:%M UTC");
        writeln!(w, "delivery: STOPPED since {since}: {}", h.reason)?;
    }
    for u in &report.unfollowed {
        writeln!(
            w,
            "{} [{}]: unfollowed {} (found by search {}; `policywatch follow {}` follows it again)",
            u.watch,
            u.kind,
            u.unfollowed_at.format("%Y-%m-%d %H:%M UTC"),
            u.followed_by,
            u.watch
        )?;
    }
    if !report.watchlist_problems.is_empty() {
        writeln!(
            w,
            "watchlists: an edit was NOT loaded; the previous watchlists keep running until it is fixed:"
        )?;
        for p in &report.watchlist_problems {
            writeln!(w, "    {p}")?;
        }
    }
    Ok(())
}
