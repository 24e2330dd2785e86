//! `history`, `show`, `diff` and `export`: reading what the store kept.

use std::io::Write;

use chrono::{DateTime, NaiveDate, Utc};
use clap::Args;
use regex::Regex;

use super::TableFormat;
use crate::error::{Error, Result};
use crate::notify::stdout::render_text;
use crate::store::{
    phrase_history, phrase_matcher, ChangeFilter, ChangeRecord, Store, Unreadable, Version,
};

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Only this watch (its id, see `watches`)
    #[arg(long, value_name = "WATCH")]
    pub watch: Option<String>,
    /// From this time on (RFC 3339 or YYYY-MM-DD)
    #[arg(long, value_parser = parse_time)]
    pub since: Option<DateTime<Utc>>,
    /// Up to this time (RFC 3339 or YYYY-MM-DD, inclusive)
    #[arg(long, value_parser = parse_time_end)]
    pub until: Option<DateTime<Utc>>,
    /// Only changes whose title, summary, annotations or diff match this regex
    #[arg(long, value_name = "REGEX")]
    pub grep: Option<String>,
    /// Instead of changes: the versions where this phrase first appeared and where it
    /// disappeared (case and line breaks ignored), like `git log -S`
    #[arg(short = 'S', long = "phrase", value_name = "PHRASE")]
    pub phrase: Option<String>,
    /// Also list versions recorded without an alert (settings edits, invisible changes),
    /// each with why it stayed quiet
    #[arg(long)]
    pub all: bool,
    /// Output format (`csv` only for the change history, not with -S)
    #[arg(long, value_enum, default_value = "text")]
    pub format: TableFormat,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Change id: the number `history` and each alert start with (`#12`)
    #[arg(value_name = "ID")]
    pub change: u64,
    /// `text` for people, or `json`: the alert with its full diff, one object
    #[arg(long, value_enum, default_value = "text")]
    pub format: super::TextOrJson,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Watch id (see `watches`)
    pub watch: String,
    /// Older version: its sequence number, 1 for the baseline (see `export`) [default: the one before --to]
    #[arg(long, value_name = "SEQ")]
    pub from: Option<u64>,
    /// Newer version: its sequence number [default: the latest]
    #[arg(long, value_name = "SEQ")]
    pub to: Option<u64>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Only this watch (its id)
    #[arg(long, value_name = "WATCH")]
    pub watch: Option<String>,
}

fn parse_time(s: &str) -> std::result::Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
        .map_err(|_| format!("`{s}` is not a date (YYYY-MM-DD) or an RFC 3339 time"))
}

/// A bare date as `--until` means the end of that day.
fn parse_time_end(s: &str) -> std::result::Result<DateTime<Utc>, String> {
    let t = parse_time(s)?;
    Ok(if DateTime::parse_from_rfc3339(s).is_ok() {
        t
    } else {
        t + chrono::Duration::days(1) - chrono::Duration::nanoseconds(1)
    })
}

fn io(e: std::io::Error) -> Error {
    Error::Io {
        path: "<stdout>".into(),
        source: e,
    }
}

use crate::store::known_watch;

pub fn history(store: &dyn Store, args: HistoryArgs, w: &mut dyn Write) -> Result<()> {
    if let Some(watch) = &args.watch {
        known_watch(store, watch)?;
    }
    if let Some(phrase) = &args.phrase {
        return phrase_log(store, &args, phrase, w);
    }
    let grep = args
        .grep
        .as_deref()
        .map(|g| Regex::new(&format!("(?i){g}")).map_err(|e| Error::Usage(format!("--grep: {e}"))))
        .transpose()?;
    let records: Vec<ChangeRecord> = crate::store::history(
        store,
        &ChangeFilter {
            watch: args.watch.clone(),
            since: args.since,
            until: args.until,
        },
        args.all,
        &mut warn_unreadable,
    )?
    .into_iter()
    .filter(|r| grep.as_ref().is_none_or(|re| matches(re, r)))
    .collect();
    match args.format {
        TableFormat::Text => {
            for r in &records {
                let a = &r.alert;
                writeln!(
                    w,
                    "{:>5}  {}  {:<24} {:<26} {}{}",
                    a.id,
                    a.detected_at.format("%Y-%m-%d %H:%M UTC"),
                    a.watch,
                    a.event,
                    a.summary,
                    crate::store::review_tag(&r.reviews)
                )
                .map_err(io)?;
            }
        }
        TableFormat::Json => {
            for r in &records {
                let mut v = serde_json::to_value(&r.alert)?;
                v["delivered_at"] = serde_json::to_value(r.delivered_at)?;
                if !r.reviews.is_empty() {
                    v["reviews"] = serde_json::to_value(&r.reviews)?;
                }
                writeln!(w, "{v}").map_err(io)?;
            }
        }
        TableFormat::Csv => return crate::store::history_csv::write(w, &records),
    }
    w.flush().map_err(io)
}

/// `history -S PHRASE`: one line per version where the phrase came or went.
fn phrase_log(
    store: &dyn Store,
    args: &HistoryArgs,
    phrase: &str,
    w: &mut dyn Write,
) -> Result<()> {
    if args.format == TableFormat::Csv {
        return Err(Error::Usage(
            "history -S prints text or json; csv is for the change history (without -S)".into(),
        ));
    }
    let matcher = phrase_matcher(phrase)?;
    let watches: Vec<String> = match &args.watch {
        Some(id) => vec![id.clone()],
        // Every watch the store has checked (versions are read one watch at a time).
        None => store.states()?.into_iter().map(|(id, _)| id).collect(),
    };
    for watch in &watches {
        for c in phrase_history(store, watch, &matcher)? {
            if args.since.is_some_and(|t| c.fetched_at < t)
                || args.until.is_some_and(|t| c.fetched_at > t)
            {
                continue;
            }
            match args.format {
                TableFormat::Json => {
                    let mut v = serde_json::to_value(&c)?;
                    v["change"] = c.kind().into();
                    writeln!(w, "{v}").map_err(io)?;
                }
                TableFormat::Text | TableFormat::Csv => writeln!(
                    w,
                    "{:<24} v{:<4} {}  {:<11} {}",
                    c.watch,
                    c.seq,
                    c.fetched_at.format("%Y-%m-%d %H:%M UTC"),
                    c.kind(),
                    c.context
                )
                .map_err(io)?,
            }
        }
    }
    w.flush().map_err(io)
}

/// A damaged record is passed over with a warning naming it: the rest is still worth
/// reading (see `doctor`).
fn warn_unreadable(u: Unreadable) -> Result<()> {
    super::warn(&format!(
        "warning: skipped: {u}; `policywatch doctor` salvages the rest"
    ));
    Ok(())
}

fn matches(re: &Regex, r: &ChangeRecord) -> bool {
    let a = &r.alert;
    re.is_match(&a.title)
        || re.is_match(&a.summary)
        || a.annotations.iter().any(|n| re.is_match(n))
        || re.is_match(&r.full_diff)
}

pub fn show(store: &dyn Store, args: ShowArgs, w: &mut dyn Write) -> Result<()> {
    let record = store.change(args.change)?.ok_or(Error::NotFound {
        what: "change",
        id: args.change.to_string(),
    })?;
    match args.format {
        super::TextOrJson::Json => {
            let mut v = serde_json::to_value(&record.alert)?;
            v["full_diff"] = record.full_diff.clone().into();
            v["delivered_at"] = serde_json::to_value(record.delivered_at)?;
            v["reviews"] = serde_json::to_value(&record.reviews)?;
            writeln!(w, "{v}").map_err(io)?;
        }
        super::TextOrJson::Text => {
            let mut alert = record.alert.clone();
            alert.diff = String::new();
            write!(w, "{}", render_text(&alert)).map_err(io)?;
            writeln!(
                w,
                "detected {}; {}",
                alert.detected_at.to_rfc3339(),
                match record.delivered_at {
                    Some(t) => format!("delivered {}", t.to_rfc3339()),
                    None if crate::data::is_quiet(&alert.event) => {
                        "recorded without an alert".into()
                    }
                    None => "not yet delivered".into(),
                }
            )
            .map_err(io)?;
            for r in &record.reviews {
                writeln!(w, "{}", crate::store::review_line(r)).map_err(io)?;
            }
            if !record.full_diff.is_empty() {
                writeln!(w, "\n{}", record.full_diff.trim_end()).map_err(io)?;
            }
        }
    }
    w.flush().map_err(io)
}

pub fn diff(store: &dyn Store, args: DiffArgs, w: &mut dyn Write) -> Result<()> {
    let (a, b, changes) = crate::store::version_diff(store, &args.watch, args.from, args.to)?;
    writeln!(
        w,
        "--- {} v{} ({})",
        args.watch,
        a.seq,
        a.fetched_at.to_rfc3339()
    )
    .map_err(io)?;
    writeln!(
        w,
        "+++ {} v{} ({})",
        args.watch,
        b.seq,
        b.fetched_at.to_rfc3339()
    )
    .map_err(io)?;
    if changes.is_empty() {
        writeln!(w, "(no text differences)").map_err(io)?;
    } else {
        write!(w, "{}", changes.unified).map_err(io)?;
        writeln!(w, "# {}", changes.summary()).map_err(io)?;
    }
    w.flush().map_err(io)
}

pub fn export(store: &dyn Store, args: ExportArgs, w: &mut dyn Write) -> Result<()> {
    let mut write = |v: Version| -> Result<()> {
        serde_json::to_writer(&mut *w, &v)?;
        writeln!(w).map_err(io)
    };
    if let Some(id) = &args.watch {
        known_watch(store, id)?;
    }
    store.versions_skipping(args.watch.as_deref(), &mut write, &mut warn_unreadable)?;
    w.flush().map_err(io)
}
