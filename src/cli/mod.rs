//! The command line: arguments are parsed, validated into an [`App`] (config, watchlists,
//! store), and only then acted on.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};

use crate::config::Config;
use crate::cycle::Engine;
use crate::error::{Error, Result};
use crate::fetch::Fetcher;
use crate::live::{ListSource, Live};
use crate::notify::stdout::Format;
use crate::schedule::{Clock, SystemClock};
use crate::store::{SledStore, Store};
use crate::watchlist::Watchlists;

mod check;
mod kinds;
mod outbox;
mod query;
mod recovery;
mod status;

/// The history CSV (`history --format csv`, the web timeline's download).
pub use crate::store::history_csv::write as write_history_csv;

#[derive(Debug, Parser)]
#[command(
    name = "policywatch",
    version,
    about = "Watches UK bills, GOV.UK guidance and commissioner publications; keeps every version; alerts on change"
)]
pub struct Cli {
    /// Config file [default: policywatch.toml if present, else built-in defaults]
    #[arg(long, global = true, env = "POLICYWATCH_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory of watchlist files (*.toml)
    #[arg(
        long,
        global = true,
        env = "POLICYWATCH_WATCHLISTS",
        default_value = "watchlists",
        value_name = "DIR"
    )]
    pub watchlists: PathBuf,
    /// Data directory (the sled store)
    #[arg(
        long,
        global = true,
        env = "POLICYWATCH_DATA",
        default_value = "data",
        value_name = "DIR"
    )]
    pub data: PathBuf,
    /// Log format on stderr
    #[arg(
        long,
        global = true,
        env = "POLICYWATCH_LOG_FORMAT",
        default_value = "text",
        value_enum
    )]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: every watch on its schedule, delivering alerts as they come
    Run,
    /// Check watches once now, deliver what was found, then exit
    Check(check::CheckArgs),
    /// Validate the config file and watchlists
    Validate,
    /// List recorded changes
    History(query::HistoryArgs),
    /// Show one change in full
    Show(query::ShowArgs),
    /// Diff two stored versions of a watch
    Diff(query::DiffArgs),
    /// Export every stored version as JSON Lines
    Export(query::ExportArgs),
    /// Per-watch health: last check, last change, last error, failures, next run
    Status(status::StatusArgs),
    /// Inspect and manage queued and dead alerts
    Outbox(outbox::OutboxArgs),
    /// Stop following a watch that a search started following (it stays unfollowed until `follow`)
    Unfollow(UnfollowArgs),
    /// Follow again a watch you unfollowed
    Follow(UnfollowArgs),
    /// List the source kinds: their watchlist keys, `[sources]` keys and events
    Kinds(kinds::KindsArgs),
    /// Write a consistent backup of the store to FILE
    Backup(recovery::BackupArgs),
    /// Restore a backup into --data (a new or empty directory)
    Restore(recovery::RestoreArgs),
    /// Load `export` output into the store at --data
    Import(recovery::ImportArgs),
    /// Check every record of the store; salvage what is readable when it is damaged (exit 4)
    Doctor(recovery::DoctorArgs),
    /// Ask the running daemon to re-read its config and watchlists now
    Reload,
}

impl Command {
    /// Commands that read (or, for `outbox` and `unfollow`, change) the store, and that the
    /// running daemon serves over its control socket while it holds the store.
    fn served_by_daemon(&self) -> bool {
        matches!(
            self,
            Command::History(_)
                | Command::Show(_)
                | Command::Diff(_)
                | Command::Export(_)
                | Command::Status(_)
                | Command::Outbox(_)
                | Command::Unfollow(_)
                | Command::Follow(_)
                | Command::Backup(_)
        )
    }
}

#[derive(Debug, Args)]
pub struct UnfollowArgs {
    /// Id of the followed watch, e.g. `bill-3548` (see `status` or `watches`)
    pub watch: String,
}

/// Output format shared by the query commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum TableFormat {
    #[default]
    Text,
    Json,
    Csv,
}

/// The validated inputs of a command.
pub struct App {
    pub config: Arc<Config>,
    pub watchlists: Arc<Watchlists>,
    pub data: PathBuf,
    pub clock: Arc<dyn Clock>,
    /// Where the config and watchlists came from, for live reloads.
    pub source: ListSource,
}

impl App {
    /// Loads and validates the config and watchlists named by the flags.
    pub fn load(cli: &Cli) -> Result<App> {
        let config_path = cli
            .config
            .clone()
            .or_else(|| Some(PathBuf::from("policywatch.toml")).filter(|p| Path::new(p).exists()));
        let source = ListSource {
            config: config_path,
            watchlists: cli.watchlists.clone(),
        };
        let (config, watchlists) = load_lists(&source)?;
        Ok(App {
            config: Arc::new(config),
            watchlists: Arc::new(watchlists),
            data: cli.data.clone(),
            clock: Arc::new(SystemClock),
            source,
        })
    }

    pub fn open_store(&self) -> Result<Arc<SledStore>> {
        Ok(Arc::new(SledStore::open(
            &self.data,
            self.config.store.cache_capacity,
        )?))
    }

    pub fn engine(&self, store: Arc<dyn Store>) -> Result<Engine> {
        Ok(Engine {
            config: self.config.clone(),
            watchlists: self.watchlists.clone(),
            store,
            fetcher: Arc::new(Fetcher::new(&self.config.fetch)?),
            clock: self.clock.clone(),
        })
    }
}

pub use crate::live::load_lists;

/// Runs a parsed command line; the binary maps the error to an exit code.
pub async fn run(cli: Cli) -> Result<()> {
    // The catalogue needs no config or watchlists.
    if let Command::Kinds(args) = &cli.command {
        return kinds::kinds(args);
    }
    if matches!(cli.command, Command::Reload) {
        return match crate::control::ask(&cli.data, &argv()) {
            Some(result) => result,
            None => Err(Error::Usage(format!(
                "no policywatch daemon is running on {} (no {}): nothing to reload",
                cli.data.display(),
                crate::control::socket_path(&cli.data).display()
            ))),
        };
    }
    let app = match App::load(&cli) {
        Ok(app) => app,
        // A half-edited watchlist must not hide the running daemon's answers.
        Err(e) if cli.command.served_by_daemon() => {
            return match crate::control::ask(&cli.data, &argv()) {
                Some(result) => result,
                None => Err(e),
            }
        }
        Err(e) => return Err(e),
    };
    match cli.command {
        Command::Validate => {
            let lists = app.watchlists.lists.len();
            let watches = app.watchlists.watches().count();
            println!(
                "{lists} watchlist{}, {watches} watch{}: OK",
                if lists == 1 { "" } else { "s" },
                if watches == 1 { "" } else { "es" }
            );
            Ok(())
        }
        Command::Check(args) => check::check(&app, args).await,
        Command::Run => check::run(&app).await,
        Command::Kinds(args) => kinds::kinds(&args),
        // These write a store of their own, or need the store to themselves.
        Command::Restore(args) => recovery::restore(&app, args),
        Command::Import(args) => recovery::import(&app, args),
        Command::Doctor(args) => recovery::doctor(&app, args),
        command => read_or_ask(&app, command),
    }
}

/// This process's command line, as the daemon will parse it.
fn argv() -> Vec<String> {
    std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

/// Runs a store command on the store, or, when a running daemon holds it, asks the daemon
/// to run it (see [`crate::control`]).
fn read_or_ask(app: &App, command: Command) -> Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match app.open_store() {
        Ok(store) => {
            let live = Live::fixed(app.engine(store)?);
            execute(&live, command, &mut out)?;
            out.flush().map_err(|source| Error::Io {
                path: "<stdout>".into(),
                source,
            })
        }
        Err(busy @ Error::StoreOpen { .. }) => {
            drop(out);
            if let Some(result) = crate::control::ask(&app.data, &argv()) {
                return result;
            }
            match command {
                Command::Status(args) => {
                    status::from_snapshot(app, args, busy, &mut std::io::stdout().lock())
                }
                _ => Err(busy),
            }
        }
        Err(e) => Err(e),
    }
}

/// Runs a store command against `live`'s store, printing to `w`: the command line uses it
/// on the store it opened, the daemon on its own for a client of its control socket.
/// A command line sent to the running daemon (see [`crate::control`]), answered there.
pub fn execute_args(live: &Live, args: &[String], w: &mut dyn Write) -> Result<()> {
    match Cli::try_parse_from(args) {
        Ok(cli) => execute(live, cli.command, w),
        Err(e) => Err(Error::Usage(e.to_string().trim_end().to_string())),
    }
}

pub fn execute(live: &Live, command: Command, w: &mut dyn Write) -> Result<()> {
    let engine = live.engine();
    let store = engine.store.as_ref();
    let io = |source| Error::Io {
        path: "<stdout>".into(),
        source,
    };
    match command {
        Command::History(args) => query::history(store, args, w),
        Command::Show(args) => query::show(store, args, w),
        Command::Diff(args) => query::diff(store, args, w),
        Command::Export(args) => query::export(store, args, w),
        Command::Status(args) => {
            let report = live
                .status()
                .map_err(|e| status::damaged(std::path::Path::new("the data directory"), e))?;
            status::print(&report, args, w)
        }
        Command::Outbox(args) => outbox::outbox(store, &engine.config, args, w),
        Command::Backup(args) => recovery::backup(store, args, w),
        Command::Unfollow(args) => {
            if store.unfollow(&args.watch)? {
                store.flush()?;
                writeln!(w, "no longer following {}", args.watch).map_err(io)
            } else {
                Err(Error::NotFound {
                    what: "followed watch",
                    id: args.watch,
                })
            }
        }
        Command::Follow(args) => {
            if store.refollow(&args.watch)? {
                store.flush()?;
                writeln!(w, "following {} again", args.watch).map_err(io)
            } else {
                Err(Error::NotFound {
                    what: "unfollowed watch",
                    id: args.watch,
                })
            }
        }
        Command::Reload => match live.reload() {
            crate::live::Reloaded::Rejected(problems) => Err(Error::Invalid(problems)),
            applied => writeln!(w, "{applied}").map_err(io),
        },
        Command::Run
        | Command::Check(_)
        | Command::Validate
        | Command::Kinds(_)
        | Command::Restore(_)
        | Command::Import(_)
        | Command::Doctor(_) => Err(Error::Usage(
            "the daemon serves only history, show, diff, export, status, outbox, unfollow, \
             follow, backup and reload"
                .into(),
        )),
    }
}

/// Output format of `check`, re-exported for the flag.
pub type AlertFormat = Format;
