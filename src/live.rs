//! Live watchlists: the daemon's current config and watchlists, swapped whole on reload.
//!
//! A reload reads the config file and every watchlist again and validates them exactly as
//! startup does. Only a fully valid set replaces the running one; otherwise the running
//! lists stay and every problem (`file:line:col: message`) is logged and kept for `status`
//! and the web status page until an edit fixes it. The scheduler picks up the new lists at
//! once: new watches get their baseline, removed ones stop firing, history stays.
//!
//! Reloads come from `policywatch reload` (the control socket), SIGHUP, and
//! [`Live::watch_files`], which notices edited files by their size and modification time.
//! Settings that shape long-lived parts (`[fetch]`, `[discord]`, `[store]`, `[web]`) are
//! read at startup only; the rest of the config (schedule, sources, health, bills) applies
//! from the reload on.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use tokio::sync::Notify;

use crate::config::Config;
use crate::cycle::Engine;
use crate::error::{Error, Result};
use crate::source::registry;
use crate::status::StatusReport;
use crate::watchlist::{self, Watchlists};

/// How often [`Live::watch_files`] looks at the files.
pub const POLL: Duration = Duration::from_secs(2);

/// Where the running lists were read from.
#[derive(Debug, Clone)]
pub struct ListSource {
    /// The config file, if one was used.
    pub config: Option<PathBuf>,
    pub watchlists: PathBuf,
}

/// Reads and validates the config and every watchlist: at startup, and again on each
/// reload.
pub fn load_lists(source: &ListSource) -> Result<(Config, Watchlists)> {
    let config = load_config(source)?;
    let watchlists = watchlist::load_dir(&source.watchlists, &config, registry::kinds())?;
    Ok((config, watchlists))
}

/// The config file alone (commands that need no watchlists, such as `test --url`).
pub fn load_config(source: &ListSource) -> Result<Config> {
    let config = match &source.config {
        // A file named on purpose that is not there is a usage mistake, not "no config".
        Some(path) if !path.exists() => {
            return Err(Error::Usage(format!(
                "config file `{}` does not exist (named by --config or POLICYWATCH_CONFIG)",
                path.display()
            )))
        }
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    let known: Vec<&str> = registry::bases().iter().map(|b| b.key).collect();
    let mut unknown = config.sources.unknown(&known);
    unknown.extend(crate::notify::check_destinations(&config));
    if !unknown.is_empty() {
        return Err(Error::Invalid(unknown));
    }
    Ok(config)
}

/// What a reload did.
#[derive(Debug, Clone, PartialEq)]
pub enum Reloaded {
    /// The new lists run now.
    Applied { lists: usize, watches: usize },
    /// Nothing changed: these problems keep the previous lists running.
    Rejected(Vec<String>),
}

impl std::fmt::Display for Reloaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reloaded::Applied { lists, watches } => write!(
                f,
                "reloaded: {lists} watchlist{}, {watches} watch{}",
                if *lists == 1 { "" } else { "s" },
                if *watches == 1 { "" } else { "es" }
            ),
            Reloaded::Rejected(problems) => {
                writeln!(f, "not reloaded; the running watchlists stay:")?;
                for p in problems {
                    writeln!(f, "{p}")?;
                }
                Ok(())
            }
        }
    }
}

/// The running engine, replaceable by a reload.
pub struct Live {
    engine: RwLock<Engine>,
    source: Option<ListSource>,
    problems: RwLock<Vec<String>>,
    changed: Notify,
    /// Sizes and modification times of the files at the last reload attempt.
    stamp: Mutex<Vec<(PathBuf, Option<SystemTime>, u64)>>,
    /// One reload at a time: a SIGHUP and a file change at once must not interleave.
    reloading: Mutex<()>,
}

impl Live {
    /// An engine that never reloads (tests, benchmarks, `check`).
    pub fn fixed(engine: Engine) -> Arc<Live> {
        Arc::new(Live {
            engine: RwLock::new(engine),
            source: None,
            problems: RwLock::default(),
            changed: Notify::new(),
            stamp: Mutex::default(),
            reloading: Mutex::default(),
        })
    }

    /// An engine whose lists can be reloaded from `source`.
    pub fn new(engine: Engine, source: ListSource) -> Arc<Live> {
        let stamp = stamp(&source);
        Arc::new(Live {
            engine: RwLock::new(engine),
            source: Some(source),
            problems: RwLock::default(),
            changed: Notify::new(),
            stamp: Mutex::new(stamp),
            reloading: Mutex::default(),
        })
    }

    /// The engine as of now (cheap: every part is shared).
    pub fn engine(&self) -> Engine {
        self.engine
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Problems of the last reload that were not applied (empty when the lists are current).
    pub fn problems(&self) -> Vec<String> {
        self.problems
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// `status`'s report, with the problems of a rejected reload.
    pub fn status(&self) -> Result<StatusReport> {
        let mut report = crate::status::collect(&self.engine())?;
        report.watchlist_problems = self.problems();
        Ok(report)
    }

    /// Tells the scheduler the set of watches changed without a reload (a follow or
    /// unfollow made in chat), so a new watch gets its baseline now.
    pub fn follows_changed(&self) {
        self.changed.notify_one();
    }

    /// Resolves after the next applied reload.
    pub async fn changed(&self) {
        self.changed.notified().await
    }

    /// Reads and validates the config and watchlists again; applies them only if valid.
    pub fn reload(&self) -> Reloaded {
        let _one = self.reloading.lock().unwrap_or_else(|e| e.into_inner());
        let Some(source) = &self.source else {
            return Reloaded::Rejected(vec!["this engine was not loaded from files".into()]);
        };
        *self.stamp.lock().unwrap_or_else(|e| e.into_inner()) = stamp(source);
        let outcome = load_lists(source).map(|(config, lists)| {
            let mut engine = self.engine.write().unwrap_or_else(|e| e.into_inner());
            let counts = (lists.lists.len(), lists.watches().count());
            engine.config = Arc::new(config);
            engine.watchlists = Arc::new(lists);
            counts
        });
        let result = match outcome {
            Ok((lists, watches)) => {
                self.problems
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .clear();
                tracing::info!(lists, watches, "watchlists reloaded");
                self.changed.notify_one();
                Reloaded::Applied { lists, watches }
            }
            Err(e) => {
                let problems = match e {
                    Error::Invalid(problems) => problems,
                    other => vec![other.to_string()],
                };
                for p in &problems {
                    tracing::error!(problem = %p, "watchlists not reloaded; the running ones stay");
                }
                *self.problems.write().unwrap_or_else(|e| e.into_inner()) = problems.clone();
                Reloaded::Rejected(problems)
            }
        };
        result
    }

    /// Reloads if a file was added, removed or edited since the last look.
    pub fn reload_if_edited(&self) -> Option<Reloaded> {
        let source = self.source.as_ref()?;
        let now = stamp(source);
        let before = self.stamp.lock().unwrap_or_else(|e| e.into_inner()).clone();
        (now != before).then(|| self.reload())
    }

    /// Looks for edited files every `every`, forever.
    pub async fn watch_files(self: Arc<Self>, every: Duration) {
        loop {
            tokio::time::sleep(every).await;
            let me = self.clone();
            // Reading and parsing files is blocking work.
            let _ = tokio::task::spawn_blocking(move || me.reload_if_edited()).await;
        }
    }
}

/// Size and modification time of the config file and of each watchlist file.
fn stamp(source: &ListSource) -> Vec<(PathBuf, Option<SystemTime>, u64)> {
    let mut paths: Vec<PathBuf> = source.config.iter().cloned().collect();
    if let Ok(entries) = std::fs::read_dir(&source.watchlists) {
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        files.sort();
        paths.extend(files);
    }
    paths
        .into_iter()
        .map(|p| {
            let meta = std::fs::metadata(&p).ok();
            let at = meta.as_ref().and_then(|m| m.modified().ok());
            let len = meta.map_or(0, |m| m.len());
            (p, at, len)
        })
        .collect()
}
