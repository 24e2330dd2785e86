//! `policywatch test`: one check of one watch (or of a URL not yet in a watchlist) through
//! the real cycle ([`Engine::preview`]), printing what it would store and alert. Nothing is
//! written: the store is opened without claiming it and no commit is made.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use clap::Args;
use serde::Serialize;

use super::App;
use crate::cycle::{Engine, Preview, RunResult};
use crate::data::Document;
use crate::error::{Error, Result};
use crate::store::{SledStore, Store};
use crate::watchlist::Watch;

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  policywatch test iasc-home
  policywatch test --url https://www.example.org/news --select main --ignore 'Updated \\d+ minutes ago'
  policywatch test --url https://www.example.org/feed.xml --kind feed --format json
  policywatch test --url https://www.gov.uk/government/publications/modern-slavery-how-to-identify-and-support-victims --kind govuk
  policywatch test --url https://bills.parliament.uk/bills/3548 --kind bill")]
pub struct TestArgs {
    /// Id of a configured watch (see `policywatch watches`)
    #[arg(
        required_unless_present = "url",
        conflicts_with = "url",
        value_name = "WATCH"
    )]
    pub watch: Option<String>,
    /// Test a page, feed, GOV.UK page or bill that no watchlist names yet, by its address
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// With --url: what the URL is (govuk: a GOV.UK page's address; bill: a bill's page)
    #[arg(long, value_enum, default_value = "page", requires = "url")]
    pub kind: UrlKind,
    /// With --url: CSS selector of the part to keep (repeatable)
    #[arg(long, value_name = "CSS", requires = "url")]
    pub select: Vec<String>,
    /// With --url: CSS selector of a part to drop (repeatable)
    #[arg(long = "ignore-selector", value_name = "CSS", requires = "url")]
    pub ignore_selectors: Vec<String>,
    /// With --url: regex of text to remove before comparing (repeatable)
    #[arg(long, value_name = "REGEX", requires = "url")]
    pub ignore: Vec<String>,
    /// With --url and a page: `text` (readable text) or `links` (the page's links)
    #[arg(long, value_enum, requires = "url")]
    pub mode: Option<PageMode>,
    /// `text` for people, or `json`: one object (result, text, fields, diff, alerts)
    #[arg(long, value_enum, default_value = "text")]
    pub format: super::TextOrJson,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum UrlKind {
    Page,
    Feed,
    // The address of a page on GOV.UK, read through its Content API as a `govuk` watch.
    Govuk,
    // The address of a bill's page on the bills site, read through the Bills API.
    Bill,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PageMode {
    Text,
    Links,
}

/// Id the watch made from `--url` goes by.
const URL_WATCH: &str = "url-test";

/// `test WATCH`: the configured watch, against its stored versions.
pub async fn test_watch(app: &App, args: TestArgs, w: &mut dyn Write) -> Result<()> {
    let id = args.watch.clone().unwrap_or_default();
    // sled writes on open (recovery, snapshots) and on close, so the store is read from a
    // copy: the data directory stays byte for byte as it was. No data directory: nothing
    // stored yet (and none is created just to look).
    let copy = if app.data.exists() {
        Some(StoreCopy::of(&app.data)?)
    } else {
        None
    };
    let opened = match &copy {
        Some(copy) => SledStore::open(&copy.dir, app.config.store.cache_capacity),
        None => SledStore::temporary(),
    };
    let (store, note): (Arc<dyn Store>, Option<String>) = match opened {
        Ok(store) => (Arc::new(store), None),
        // A copy taken while the daemon writes may not open: still show the extraction.
        Err(e) => (
            Arc::new(SledStore::temporary()?),
            Some(format!(
                "the stored versions cannot be read ({e}): no comparison with them"
            )),
        ),
    };
    let engine = app.engine(store.clone())?;
    let watch = engine
        .all_watches()?
        .into_iter()
        .find(|w| w.id == id)
        .ok_or_else(|| Error::UnknownWatch(id.clone()))?;
    report(&engine, watch, note, args.format, w).await
}

/// `test --url URL`: a watch written from the flags, read by the real watchlist reader (so
/// a bad selector or regex reads as it would in a file), against an empty store.
pub async fn test_url(
    config: Arc<crate::config::Config>,
    args: TestArgs,
    w: &mut dyn Write,
) -> Result<()> {
    let url = args.url.clone().unwrap_or_default();
    let list = |v: &[String]| {
        format!(
            "[{}]",
            v.iter()
                .map(|s| toml_string(s))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let target = url_target(&url, args.kind, &config)?;
    let mut text = format!("name = \"test\"\n[[watch]]\nid = \"{URL_WATCH}\"\n{target}");
    if let Some(mode) = args.mode {
        let mode = if mode == PageMode::Links {
            "links"
        } else {
            "text"
        };
        text.push_str(&format!("mode = \"{mode}\"\n"));
    }
    for (key, values) in [
        ("select", &args.select),
        ("ignore_selectors", &args.ignore_selectors),
        ("ignore", &args.ignore),
    ] {
        if !values.is_empty() {
            text.push_str(&format!("{key} = {}\n", list(values)));
        }
    }
    let parsed = crate::watchlist::parse_file(
        &text,
        Path::new("--url"),
        &config,
        crate::source::registry::kinds(),
    )
    .map_err(|problems| {
        // The problems point into the watch written from the flags: keep only the reason.
        Error::Usage(
            problems
                .iter()
                .map(|p| p.splitn(4, ':').nth(3).unwrap_or(p).trim().to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })?;
    let watch = parsed
        .watches
        .first()
        .cloned()
        .ok_or_else(|| Error::Usage("no watch could be made from --url".into()))?;
    let store: Arc<dyn Store> = Arc::new(SledStore::temporary()?);
    let engine = Engine {
        fetcher: Arc::new(crate::fetch::Fetcher::new(&config.fetch)?),
        config,
        watchlists: Arc::new(Default::default()),
        store,
        clock: Arc::new(crate::schedule::SystemClock),
    };
    report(&engine, watch, None, args.format, w).await
}

/// `s` as a TOML string.
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The watch keys naming what `--url` points at, as `--kind` reads it: the address itself
/// for a page or feed, the path of a GOV.UK page, the id of a bill.
fn url_target(url: &str, kind: UrlKind, config: &crate::config::Config) -> Result<String> {
    let parsed = || {
        url::Url::parse(url)
            .map_err(|e| Error::Usage(format!("--url `{url}` is not an address: {e}")))
    };
    let site = |base| config.sources.url(base);
    Ok(match kind {
        UrlKind::Page => format!("kind = \"page\"\nurl = {}\n", toml_string(url)),
        UrlKind::Feed => format!("kind = \"feed\"\nurl = {}\n", toml_string(url)),
        UrlKind::Govuk => {
            let path =
                crate::source::govuk::path_of(&parsed()?, &config.sources).ok_or_else(|| {
                    Error::Usage(format!(
                        "--url `{url}` is not a page on GOV.UK ({}, from `[sources] govuk`): \
                     --kind govuk takes a GOV.UK page address",
                        site(&crate::source::govuk::GOVUK)
                    ))
                })?;
            format!("kind = \"govuk\"\npath = {}\n", toml_string(&path))
        }
        UrlKind::Bill => {
            let id = crate::source::bill::id_of(&parsed()?, &config.sources).ok_or_else(|| {
                Error::Usage(format!(
                    "--url `{url}` is not a bill's page ({}bills/<id>, from \
                     `[sources] parliament_bills_site`): --kind bill takes a bill's address",
                    site(&crate::source::bill::api::BILLS_SITE)
                ))
            })?;
            format!("kind = \"bill\"\nbill = {id}\n")
        }
    })
}

/// A private copy of the store's files, removed when dropped.
struct StoreCopy {
    dir: std::path::PathBuf,
}

impl StoreCopy {
    fn of(data: &Path) -> Result<StoreCopy> {
        let dir = std::env::temp_dir().join(format!(
            "policywatch-test-{}-{}",
            std::process::id(),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ));
        let copy = StoreCopy { dir };
        copy_tree(data, &copy.dir)?;
        Ok(copy)
    }
}

impl Drop for StoreCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The store's files (not the daemon's socket, pid file or status snapshot).
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    std::fs::create_dir_all(to).map_err(io(to))?;
    for entry in std::fs::read_dir(from).map_err(io(from))? {
        let entry = entry.map_err(io(from))?;
        let (path, kind) = (entry.path(), entry.file_type().map_err(io(from))?);
        let name = entry.file_name();
        if matches!(
            name.to_str(),
            Some("owner.pid" | "control.sock" | "status.json" | "status.json.tmp")
        ) {
            continue;
        }
        if kind.is_dir() {
            copy_tree(&path, &to.join(&name))?;
        } else if kind.is_file() {
            std::fs::copy(&path, to.join(&name)).map_err(io(&path))?;
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct TestJson<'a> {
    watch: &'a str,
    kind: &'a str,
    /// `baseline`, `unchanged`, `changed`, `quiet`.
    result: &'static str,
    /// The stored version compared with.
    version: Option<u64>,
    /// The version a check would store now, if any.
    would_store: Option<u64>,
    title: &'a str,
    url: &'a str,
    text: &'a str,
    fields: &'a serde_json::Value,
    diff: String,
    alerts: Vec<AlertJson<'a>>,
    note: Option<String>,
}

#[derive(Serialize)]
struct AlertJson<'a> {
    event: &'a str,
    severity: crate::data::Severity,
    title: &'a str,
    summary: &'a str,
    annotations: &'a [String],
    keywords: &'a [String],
    diff: &'a str,
}

async fn report(
    engine: &Engine,
    watch: Arc<Watch>,
    note: Option<String>,
    format: super::TextOrJson,
    w: &mut dyn Write,
) -> Result<()> {
    let previews = engine.preview(std::slice::from_ref(&watch)).await?;
    let Some((_, preview)) = previews.into_iter().next() else {
        return Err(Error::Usage(format!("`{}` was not checked", watch.id)));
    };
    let Preview { run, seq, commit } = preview;
    if let RunResult::Failed(reason) = &run {
        return Err(Error::AllFailed(format!("test of {}: {reason}", watch.id)));
    }
    let stored = match seq {
        Some(seq) => engine.store.version(&watch.id, seq)?.map(|v| v.document),
        None => None,
    };
    // Unchanged: the source said so (304) or gave the stored document again.
    let new = commit.document.as_ref().map(|v| &v.document);
    let Some(document) = new.cloned().or_else(|| stored.clone()) else {
        return Err(Error::Usage(format!(
            "`{}` answered \"not modified\" but no version is stored",
            watch.id
        )));
    };
    let diff = match (&stored, new) {
        (Some(old), Some(new)) => crate::text::diff::diff(&old.text, &new.text).unified,
        _ => String::new(),
    };
    let result = match &run {
        RunResult::Baseline => "baseline",
        RunResult::Unchanged => "unchanged",
        RunResult::Changed { .. } => "changed",
        RunResult::Quiet(_) => "quiet",
        RunResult::Failed(_) => "failed",
    };
    let would_store = commit.document.as_ref().map(|_| seq.map_or(1, |s| s + 1));
    let alerts: Vec<AlertJson<'_>> = commit
        .changes
        .iter()
        .map(|c| AlertJson {
            event: &c.alert.event,
            severity: c.alert.severity,
            title: &c.alert.title,
            summary: &c.alert.summary,
            annotations: &c.alert.annotations,
            keywords: &c.alert.keywords,
            diff: &c.full_diff,
        })
        .collect();
    let io = |source| Error::Io {
        path: "<stdout>".into(),
        source,
    };
    if format == super::TextOrJson::Json {
        let json = TestJson {
            watch: &watch.id,
            kind: watch.target.kind(),
            result,
            version: seq,
            would_store,
            title: &document.title,
            url: &document.url,
            text: &document.text,
            fields: &document.fields,
            diff,
            alerts,
            note,
        };
        return writeln!(w, "{}", serde_json::to_string(&json)?).map_err(io);
    }
    print_text(
        w,
        &watch,
        &run,
        seq,
        &document,
        &diff,
        &alerts,
        note.as_deref(),
    )
    .map_err(io)
}

#[allow(clippy::too_many_arguments)]
fn print_text(
    w: &mut dyn Write,
    watch: &Watch,
    run: &RunResult,
    seq: Option<u64>,
    document: &Document,
    diff: &str,
    alerts: &[AlertJson<'_>],
    note: Option<&str>,
) -> std::io::Result<()> {
    let id = if watch.id == URL_WATCH {
        document.url.as_str()
    } else {
        watch.id.as_str()
    };
    writeln!(
        w,
        "test of {id} ({}): nothing was stored",
        watch.target.kind()
    )?;
    if let Some(note) = note {
        writeln!(w, "note: {note}")?;
    }
    let outcome = match (run, seq) {
        (RunResult::Baseline, _) => {
            "first version: a check would store it as the baseline (no alert)".to_string()
        }
        (RunResult::Unchanged, Some(seq)) => format!("unchanged: the same as stored version {seq}"),
        (RunResult::Unchanged, None) => "unchanged".to_string(),
        (RunResult::Changed { alerts }, seq) => format!(
            "changed: a check would store version {} and raise {}",
            seq.map_or(1, |s| s + 1),
            super::check::plural(*alerts, "alert", "alerts")
        ),
        (RunResult::Quiet(why), seq) => format!(
            "changed quietly: a check would store version {} without an alert ({why})",
            seq.map_or(1, |s| s + 1)
        ),
        (RunResult::Failed(e), _) => format!("failed: {e}"),
    };
    writeln!(w, "{outcome}")?;
    writeln!(w, "title: {}", document.title)?;
    writeln!(w, "url: {}", document.url)?;
    writeln!(w, "\n--- text ---")?;
    writeln!(w, "{}", document.text.trim_end())?;
    if !document.fields.is_null() {
        writeln!(w, "\n--- fields ---")?;
        writeln!(
            w,
            "{}",
            serde_json::to_string_pretty(&document.fields).unwrap_or_default()
        )?;
    }
    if let Some(seq) = seq {
        if !diff.is_empty() {
            writeln!(w, "\n--- diff against stored version {seq} ---")?;
            writeln!(w, "{}", diff.trim_end())?;
        }
    }
    if !alerts.is_empty() {
        writeln!(w, "\n--- what a check would record ---")?;
        for a in alerts {
            let severity = crate::notify::stdout::severity_word(a.severity);
            writeln!(w, "{severity} [{}] {}: {}", a.event, a.title, a.summary)?;
            for note in a.annotations {
                writeln!(w, "    {note}")?;
            }
        }
    }
    Ok(())
}
