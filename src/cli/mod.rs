//! The command line: arguments are parsed, validated into an [`App`] (config, watchlists,
//! store), and only then acted on.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};

use crate::config::Config;
use crate::cycle::Engine;
use crate::error::{Error, Result};
use crate::fetch::Fetcher;
use crate::notify::stdout::Format;
use crate::schedule::{Clock, SystemClock};
use crate::source::registry;
use crate::store::{SledStore, Store};
use crate::watchlist::{self, Watchlists};

mod check;
mod kinds;
mod outbox;
mod query;
mod status;

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
    /// Stop following a watch that a search started following
    Unfollow(UnfollowArgs),
    /// List the source kinds: their watchlist keys, `[sources]` keys and events
    Kinds(kinds::KindsArgs),
}

#[derive(Debug, Args)]
pub struct UnfollowArgs {
    /// Id of the followed watch (see `status`)
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
}

impl App {
    /// Loads and validates the config and watchlists named by the flags.
    pub fn load(cli: &Cli) -> Result<App> {
        let config = match &cli.config {
            Some(path) => Config::load(path)?,
            None if Path::new("policywatch.toml").exists() => {
                Config::load(Path::new("policywatch.toml"))?
            }
            None => Config::default(),
        };
        let known: Vec<&str> = registry::bases().iter().map(|b| b.key).collect();
        let unknown = config.sources.unknown(&known);
        if !unknown.is_empty() {
            return Err(Error::Invalid(unknown));
        }
        let watchlists = watchlist::load_dir(&cli.watchlists, &config, registry::kinds())?;
        Ok(App {
            config: Arc::new(config),
            watchlists: Arc::new(watchlists),
            data: cli.data.clone(),
            clock: Arc::new(SystemClock),
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

/// Runs a parsed command line; the binary maps the error to an exit code.
pub async fn run(cli: Cli) -> Result<()> {
    // The catalogue needs no config or watchlists.
    if let Command::Kinds(args) = &cli.command {
        return kinds::kinds(args);
    }
    let app = App::load(&cli)?;
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
        Command::History(args) => query::history(&app, args),
        Command::Show(args) => query::show(&app, args),
        Command::Diff(args) => query::diff(&app, args),
        Command::Export(args) => query::export(&app, args),
        Command::Status(args) => status::status(&app, args),
        Command::Outbox(args) => outbox::outbox(&app, args),
        Command::Kinds(_) => unreachable!("handled before loading"),
        Command::Unfollow(args) => {
            let store = app.open_store()?;
            if store.unfollow(&args.watch)? {
                store.flush()?;
                println!("no longer following {}", args.watch);
                Ok(())
            } else {
                Err(Error::NotFound {
                    what: "followed watch",
                    id: args.watch,
                })
            }
        }
    }
}

/// Output format of `check`, re-exported for the flag.
pub type AlertFormat = Format;
