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
mod test;
mod watches;

/// The history CSV (`history --format csv`, the web timeline's download).
pub use crate::store::history_csv::write as write_history_csv;

/// The exit codes, as `--help` and the README give them (a macro so that `concat!` can
/// put them under the top-level help).
macro_rules! exit_codes {
    () => {
        "Exit codes:
  0  done (a watch that failed is reported and recorded; the cycle still succeeds while any watch did)
  1  anything else (network, disk, …)
  2  bad configuration or usage: every problem as file:line:col: message; a --config file that
     does not exist; a watch, change or version that does not exist
  3  every watch of a `check` (or the one `test` tried) failed; the last line says what they share
  4  the store is damaged (`status`, `doctor`): `policywatch doctor` salvages every readable record"
    };
}

/// The exit codes (see [`Error::exit_code`]).
pub const EXIT_CODES: &str = exit_codes!();

/// Top-level help: a first session, then the exit codes.
const AFTER_HELP: &str = concat!(
    "Examples:
  policywatch validate                 # check the config and watchlists
  policywatch watches                  # every watch, and where it came from
  policywatch test iasc-home           # what a watch would store now (stores nothing)
  policywatch check                    # one cycle: baselines first, then alerts
  policywatch history --watch iasc-home
  policywatch show 12                  # change #12 in full

",
    exit_codes!()
);

#[derive(Debug, Parser)]
#[command(
    name = "policywatch",
    version,
    about = "Watches UK bills, GOV.UK guidance and commissioner publications; keeps every version; alerts on change",
    after_help = AFTER_HELP
)]
pub struct Cli {
    /// Config file [default: policywatch.toml if present, else built-in defaults]
    #[arg(
        long,
        global = true,
        env = "POLICYWATCH_CONFIG",
        value_name = "FILE",
        help_heading = GLOBAL
    )]
    pub config: Option<PathBuf>,
    /// Directory of watchlist files (*.toml)
    #[arg(
        long,
        global = true,
        env = "POLICYWATCH_WATCHLISTS",
        default_value = "watchlists",
        value_name = "DIR",
        help_heading = GLOBAL
    )]
    pub watchlists: PathBuf,
    /// Data directory (the sled store)
    #[arg(
        long,
        global = true,
        env = "POLICYWATCH_DATA",
        default_value = "data",
        value_name = "DIR",
        help_heading = GLOBAL
    )]
    pub data: PathBuf,
    /// Format of every line on stderr (logs, warnings, errors); level via POLICYWATCH_LOG
    #[arg(
        long,
        global = true,
        env = "POLICYWATCH_LOG_FORMAT",
        default_value = "text",
        value_enum,
        value_name = "FORMAT",
        help_heading = GLOBAL
    )]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// Heading of the options every command takes.
const GLOBAL: &str = "Global options";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: every watch on its schedule, delivering alerts as they come
    #[command(after_help = "Examples:
  policywatch run
  systemctl start policywatch     # as a service (see systemd/)")]
    Run,
    /// Check watches once now, deliver what was found, then exit
    #[command(after_help = "Examples:
  policywatch check
  policywatch check --watch iasc-home --format json")]
    Check(check::CheckArgs),
    /// Validate the config file and watchlists
    #[command(after_help = "Examples:
  policywatch validate
  policywatch --watchlists ./lists validate")]
    Validate,
    /// List recorded changes
    #[command(after_help = "Examples:
  policywatch history --watch iasc-home --since 2026-01-01
  policywatch history --all --format csv > changes.csv
  policywatch history -S 'reasonable grounds'")]
    History(query::HistoryArgs),
    /// Show one change in full
    #[command(after_help = "Examples:
  policywatch show 12
  policywatch show 12 --format json")]
    Show(query::ShowArgs),
    /// Diff two stored versions of a watch
    #[command(after_help = "Examples:
  policywatch diff iasc-home               # the last two versions
  policywatch diff iasc-home --from 1 --to 3")]
    Diff(query::DiffArgs),
    /// Export every stored version as JSON Lines
    #[command(after_help = "Examples:
  policywatch export > versions.jsonl
  policywatch export --watch iasc-home")]
    Export(query::ExportArgs),
    /// Per-watch health: last check, last change, last error, failures, next run
    #[command(after_help = "Examples:
  policywatch status
  policywatch status --format json | jq '.outbox'")]
    Status(status::StatusArgs),
    /// Inspect and manage queued and dead alerts
    #[command(after_help = "Examples:
  policywatch outbox list
  policywatch outbox retry 12")]
    Outbox(outbox::OutboxArgs),
    /// Stop following a watch that a search started following (it stays unfollowed until `follow`)
    #[command(after_help = "Examples:
  policywatch unfollow bill-3548")]
    Unfollow(UnfollowArgs),
    /// Follow again a watch you unfollowed
    #[command(after_help = "Examples:
  policywatch follow bill-3548")]
    Follow(UnfollowArgs),
    /// List the source kinds: their watchlist keys, `[sources]` keys and events
    #[command(after_help = "Examples:
  policywatch kinds
  policywatch kinds --json")]
    Kinds(kinds::KindsArgs),
    /// Write a consistent backup of the store to FILE
    #[command(after_help = "Examples:
  policywatch backup /var/backups/policywatch-$(date +%F).jsonl")]
    Backup(recovery::BackupArgs),
    /// Restore a backup into --data (a new or empty directory)
    #[command(after_help = "Examples:
  policywatch --data /var/lib/policywatch-new restore backup.jsonl")]
    Restore(recovery::RestoreArgs),
    /// Load `export` output into the store at --data
    #[command(after_help = "Examples:
  policywatch import versions.jsonl")]
    Import(recovery::ImportArgs),
    /// Check every record of the store; salvage what is readable when it is damaged (exit 4)
    #[command(after_help = "Examples:
  policywatch doctor
  policywatch doctor --into /var/lib/policywatch.salvaged")]
    Doctor(recovery::DoctorArgs),
    /// Ask the running daemon to re-read its config and watchlists now
    #[command(after_help = "Examples:
  policywatch reload
  systemctl reload policywatch     # the same, by SIGHUP")]
    Reload,
    /// Check one watch (or a URL no watchlist names yet) now and print what it would store
    /// and alert, and the diff against its stored version; stores nothing
    Test(test::TestArgs),
    /// List every watch: kind, schedule, destination, and where it came from
    Watches(watches::WatchesArgs),
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
                | Command::Watches(_)
        )
    }
}

#[derive(Debug, Args)]
pub struct UnfollowArgs {
    /// Id of the followed watch, e.g. `bill-3548` (see `status` or `watches`)
    pub watch: String,
}

/// `--format` of the commands that print text or JSON, and nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum TextOrJson {
    #[default]
    Text,
    Json,
}

/// Output format of `history` (the only command with CSV).
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
        App::from_source(list_source(cli), cli.data.clone())
    }

    /// [`App::load`] from where the config and watchlists are, and the data directory.
    pub fn from_source(source: ListSource, data: PathBuf) -> Result<App> {
        let (config, watchlists) = load_lists(&source)?;
        Ok(App {
            config: Arc::new(config),
            watchlists: Arc::new(watchlists),
            data,
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

/// Where the flags say the config and watchlists are.
fn list_source(cli: &Cli) -> ListSource {
    let config = cli
        .config
        .clone()
        .or_else(|| Some(PathBuf::from("policywatch.toml")).filter(|p| Path::new(p).exists()));
    ListSource {
        config,
        watchlists: cli.watchlists.clone(),
    }
}

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
    // A URL to try needs the config, not the watchlists.
    let (source, data) = (list_source(&cli), cli.data.clone());
    if let Command::Test(args) = cli.command {
        let mut out = std::io::stdout().lock();
        return match args.url {
            Some(_) => {
                let config = crate::live::load_config(&source)?;
                test::test_url(Arc::new(config), args, &mut out).await
            }
            None => test::test_watch(&App::from_source(source, data)?, args, &mut out).await,
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
            if lists == 0 {
                warn(&format!(
                    "warning: no watchlists in {} (no *.toml files): nothing will be checked; \
                     see `watchlists/` in the README, or point --watchlists at yours",
                    app.source.watchlists.display()
                ));
            }
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
        // Answered above (`--url` needs no watchlists).
        Command::Test(_) => Ok(()),
        // These write a store of their own, or need the store to themselves.
        Command::Restore(args) => recovery::restore(&app, args),
        Command::Import(args) => recovery::import(&app, args),
        Command::Doctor(args) => recovery::doctor(&app, args),
        command => read_or_ask(&app, command),
    }
}

/// The `--log-format` this process logs in, set once by `main`.
static LOG_FORMAT: std::sync::OnceLock<LogFormat> = std::sync::OnceLock::new();

/// Records the log format (`main`, before any command runs).
pub fn set_log_format(format: LogFormat) {
    let _ = LOG_FORMAT.set(format);
}

/// Whether stderr lines are JSON (`--log-format json`).
pub fn json_logs() -> bool {
    LOG_FORMAT.get() == Some(&LogFormat::Json)
}

/// A line for the person at the terminal on stderr: as it is in text mode, a JSON log line
/// (level INFO) with `--log-format json`, so every stderr line parses.
pub fn say(line: &str) {
    if json_logs() {
        tracing::info!(target: "policywatch", "{line}");
    } else {
        eprintln!("{line}");
    }
}

/// [`say`] at level WARN.
pub fn warn(line: &str) {
    if json_logs() {
        tracing::warn!(target: "policywatch", "{line}");
    } else {
        eprintln!("policywatch: {line}");
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
        Command::Watches(args) => watches::watches(&engine, args, w),
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
        | Command::Test(_)
        | Command::Restore(_)
        | Command::Import(_)
        | Command::Doctor(_) => Err(Error::Usage(
            "the daemon serves only history, show, diff, export, status, outbox, unfollow, \
             follow, backup, watches and reload"
                .into(),
        )),
    }
}

/// Output format of `check`, re-exported for the flag.
pub type AlertFormat = Format;
