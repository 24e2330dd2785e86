//! `check` (one cycle now) and `run` (the daemon).

use std::io::IsTerminal;
use std::sync::Arc;

use clap::Args;

use super::App;
use crate::cycle::RunResult;
use crate::error::{Error, Result};
use crate::notify::stdout::{Format, StdoutSink};
use crate::notify::{self, Dispatcher};
use crate::store::Store;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Check only this watch (repeatable)
    #[arg(long = "watch", value_name = "ID")]
    pub watches: Vec<String>,
    /// How alerts are printed when no chat is configured
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

fn dispatcher(app: &App, store: Arc<dyn Store>, format: Format) -> Result<Dispatcher> {
    // Alerts go to the configured destinations; with no chat configured, to stdout.
    let sink = notify::sinks(&app.config, Arc::new(StdoutSink::new(format)))?;
    Ok(Dispatcher {
        unsent: Default::default(),
        store,
        sink,
        clock: app.clock.clone(),
        retry_base: app.config.discord.retry_base,
        retry_max: app.config.discord.retry_max,
    })
}

pub async fn check(app: &App, args: CheckArgs) -> Result<()> {
    let store: Arc<dyn Store> = app.open_store()?;
    let engine = app.engine(store.clone())?;
    let all = engine.all_watches()?;
    let chosen = if args.watches.is_empty() {
        all
    } else {
        args.watches
            .iter()
            .map(|id| {
                all.iter()
                    .find(|w| &w.id == id)
                    .cloned()
                    .ok_or_else(|| Error::UnknownWatch(id.clone()))
            })
            .collect::<Result<Vec<_>>>()?
    };

    // No bar between JSON log lines.
    let bar = (std::io::stderr().is_terminal() && !super::json_logs()).then(|| {
        let bar = indicatif::ProgressBar::new(chosen.len() as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} checking {pos}/{len} watches {wide_bar} {elapsed} {msg}",
        ) {
            bar.set_style(style);
        }
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    });
    let progress = |watch: &str, _: &RunResult| {
        if let Some(bar) = &bar {
            bar.set_message(watch.to_string());
            bar.inc(1);
        }
    };
    let report = engine.check_with_progress(&chosen, &progress).await?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if let Err(e) =
        crate::store::fault::flush_bounded(&store, crate::store::fault::FLUSH_LIMIT).await
    {
        return Err(abandon(store, e));
    }

    for (watch, run) in &report.runs {
        if let RunResult::Failed(reason) = run {
            super::warn(&format!("{watch}: {reason}"));
        }
    }
    let changed = report
        .runs
        .iter()
        .filter(|(_, r)| matches!(r, RunResult::Changed { .. }))
        .count();
    let baselines = report
        .runs
        .iter()
        .filter(|(_, r)| *r == RunResult::Baseline)
        .count();
    let quiet = report
        .runs
        .iter()
        .filter(|(_, r)| matches!(r, RunResult::Quiet(_)))
        .count();

    let dispatcher = dispatcher(app, store.clone(), args.format)?;
    let deadline = app.clock.now()
        + chrono::Duration::from_std(app.config.discord.deliver_wait).unwrap_or_default();
    let delivered = match dispatcher.drain_until(deadline).await {
        Ok(d) => d,
        Err(e) => return Err(abandon(store, e)),
    };
    let quiet = if quiet > 0 {
        format!(", {quiet} recorded without an alert (see `history --all`)")
    } else {
        String::new()
    };
    super::say(&format!(
        "checked {}: {} baseline, {} changed{quiet}, {} failed; {} delivered, {} queued, {} dead",
        plural(report.runs.len(), "watch", "watches"),
        baselines,
        changed,
        report.failures(),
        plural(delivered.delivered, "alert", "alerts"),
        delivered.waiting,
        delivered.dead,
    ));
    if let Some(reason) = delivered.halted {
        super::warn(&format!("delivery stopped: {reason}"));
    }
    let failed: Vec<&str> = report
        .runs
        .iter()
        .filter_map(|(_, r)| match r {
            RunResult::Failed(e) => Some(e.as_str()),
            _ => None,
        })
        .collect();
    if !report.runs.is_empty() && failed.len() == report.runs.len() {
        return Err(Error::AllFailed(format!(
            "{} of {} failed: {}",
            failed.len(),
            plural(report.runs.len(), "watch", "watches"),
            common_cause(&failed)
        )));
    }
    Ok(())
}

/// What a set of failures has in common, in a reader's words.
fn common_cause(errors: &[&str]) -> &'static str {
    const CAUSES: &[(&[&str], &str)] = &[
        (
            &[
                "dns error",
                "failed to lookup",
                "resolve",
                "name or service not known",
            ],
            "DNS errors — is this machine online?",
        ),
        (
            &[
                "connection refused",
                "connect error",
                "error trying to connect",
            ],
            "connections refused — are the sources (or the [sources] mirrors) up?",
        ),
        (
            &["timed out", "timeout"],
            "timeouts — is the network slow or blocked?",
        ),
        (
            &["refused: it leaves", "private address"],
            "addresses refused by the fetch policy ([fetch] allow_private, allow_redirects)",
        ),
        (
            &["http 4", " 404", " 403", " 401"],
            "the sources answered with client errors (4xx) — check the URLs",
        ),
        (
            &["http 5", " 500", " 502", " 503"],
            "the sources answered with server errors (5xx)",
        ),
    ];
    let has = |e: &str, needles: &[&str]| {
        let e = e.to_ascii_lowercase();
        needles.iter().any(|n| e.contains(n))
    };
    CAUSES
        .iter()
        .find(|(needles, _)| errors.iter().all(|e| has(e, needles)))
        .map_or("different errors (listed above)", |(_, cause)| cause)
}

pub async fn run(app: &App) -> Result<()> {
    let store: Arc<dyn Store> = app.open_store()?;
    let engine = app.engine(store.clone())?;
    let dispatcher = dispatcher(app, store, Format::Text)?;
    let options = crate::daemon::Options {
        status_snapshot: Some(crate::status::snapshot_path(&app.data)),
        ..crate::daemon::Options::from_env()
    };
    let live = crate::live::Live::new(engine, app.source.clone());
    // Bound before anything runs, so a bad `[web]` or data directory stops the start.
    let web = crate::web::bind(&app.config.web, crate::web::auth::token_from_env()?).await?;
    let control = crate::control::bind(&app.data)?;
    let mut side = tokio::task::JoinSet::new();
    side.spawn(crate::control::serve(
        control,
        live.clone(),
        super::execute_args,
    ));
    side.spawn(live.clone().watch_files(crate::live::POLL));
    if let Some((listener, access)) = web {
        let state = crate::web::WebState::new(live.clone());
        side.spawn(async move {
            if let Err(e) = crate::web::serve(listener, state, access).await {
                tracing::error!(error = %e, "the history browser stopped");
            }
        });
    }
    // Slash commands and triage over the gateway, beside (never in the way of) delivery.
    if app.config.discord.chat.guild.is_some() {
        match crate::notify::discord::DiscordToken::from_environment()? {
            Some(token) => {
                side.spawn(crate::chat::gateway::serve(live.clone(), token));
            }
            None => tracing::warn!(
                "[discord] guild is set but no bot token was found ({} or the {} credential): \
                 slash commands and triage are off",
                crate::notify::discord::TOKEN_ENV,
                crate::notify::discord::TOKEN_CREDENTIAL
            ),
        }
    }
    // SIGHUP reloads, as `policywatch reload` and edited files do.
    let hup = live.clone();
    let stopped = crate::signals::until_stopped(move || {
        let live = hup.clone();
        async move {
            let _ = tokio::task::spawn_blocking(move || live.reload()).await;
        }
    });
    let result = crate::daemon::run_live(live, dispatcher, stopped, options).await;
    // Dropping the tasks closes the listeners and removes the control socket.
    side.shutdown().await;
    result
}

/// "1 watch", "2 watches".
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// After a failed write: keeps the store open until the process ends, so sled does not
/// flush again on close (on a full disk that flush can wait forever). What reached the
/// disk is consistent; what did not is checked again next time.
fn abandon(store: Arc<dyn Store>, e: crate::error::Error) -> crate::error::Error {
    std::mem::forget(store);
    crate::error::Error::Store(format!(
        "{}; nothing is lost: what could not be recorded is checked again by the next run",
        crate::store::fault::describe(&e).trim_start_matches("store: ")
    ))
}
