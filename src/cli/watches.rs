//! `policywatch watches`: every watch that runs, with its kind, schedule, destination and
//! where it came from (a watchlist line, or the search that follows it).

use std::io::Write;

use clap::Args;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::store::Followed;

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  policywatch watches
  policywatch watches --format json | jq -r 'select(.kind == \"bill\") | .watch'")]
pub struct WatchesArgs {
    /// `json`: one object per watch per line
    #[arg(long, value_enum, default_value = "text")]
    pub format: super::TextOrJson,
}

/// One watch as `watches` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WatchInfo {
    pub watch: String,
    pub kind: String,
    pub watchlist: String,
    /// The cron expression, and the zone it is read in.
    pub schedule: String,
    pub timezone: String,
    /// Where its alerts go: `discord:<channel>`, or `stdout` when nothing is configured.
    pub destination: String,
    /// Destinations its watchlist's routes may send to instead.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routes_to: Vec<String>,
    /// `file:line` of its `[[watch]]` table, for a watch a watchlist defines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The search watch that follows it (`follow = true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub followed_by: Option<String>,
    /// When the search started following it (RFC 3339, UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub followed_since: Option<chrono::DateTime<chrono::Utc>>,
    /// Followed from chat (`/follow`): `followed_by` names the member, not a search.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub followed_in_chat: bool,
}

impl WatchInfo {
    /// "watchlists/team.toml:12", "followed by search `bills-slavery` since …", or
    /// "followed in chat by Olivia on Discord (user …) since …".
    pub fn origin(&self) -> String {
        match (&self.file, &self.followed_by, self.followed_since) {
            (Some(file), _, _) => file.clone(),
            (None, Some(by), Some(since)) if self.followed_in_chat => format!(
                "followed in chat by {by} since {}",
                since.format("%Y-%m-%d %H:%M UTC")
            ),
            (None, Some(by), Some(since)) => format!(
                "followed by search `{by}` since {}",
                since.format("%Y-%m-%d %H:%M UTC")
            ),
            (None, Some(by), None) => format!("followed by search `{by}`"),
            (None, None, _) => "unknown".into(),
        }
    }
}

/// Every watch the engine would check now, with the follows the store records.
pub fn list(engine: &crate::cycle::Engine) -> Result<Vec<WatchInfo>> {
    let follows: Vec<Followed> = engine.store.follows()?;
    let default_channel = engine.config.discord.default_channel;
    Ok(engine
        .all_watches()?
        .iter()
        .map(|w| {
            let follow = follows.iter().find(|f| f.target.id == w.id);
            let list = engine.watchlists.list(&w.list);
            let mut routes_to: Vec<String> = list
                .map(|l| l.routes.iter().flat_map(|r| r.to.iter()))
                .into_iter()
                .flatten()
                .map(|d| d.to_string())
                .collect();
            routes_to.dedup();
            WatchInfo {
                watch: w.id.clone(),
                kind: w.target.kind().to_string(),
                watchlist: w.list.clone(),
                schedule: w.schedule.expr().to_string(),
                timezone: w.schedule.timezone().name().to_string(),
                destination: w
                    .channel
                    .or(default_channel)
                    .map(|c| crate::data::Destination::discord(c).to_string())
                    .unwrap_or_else(|| "stdout".into()),
                routes_to,
                file: w.origin.clone(),
                followed_by: w.followed_from.clone(),
                followed_since: follow.map(|f| f.since),
                followed_in_chat: follow.is_some_and(|f| f.watchlist.is_some()),
            }
        })
        .collect())
}

/// Prints the list (run on the store, or by the daemon holding it).
pub fn watches(engine: &crate::cycle::Engine, args: WatchesArgs, w: &mut dyn Write) -> Result<()> {
    let infos = list(engine)?;
    let io = |source| Error::Io {
        path: "<stdout>".into(),
        source,
    };
    for i in &infos {
        match args.format {
            super::TextOrJson::Json => writeln!(w, "{}", serde_json::to_string(i)?),
            super::TextOrJson::Text => {
                let routes = if i.routes_to.is_empty() {
                    String::new()
                } else {
                    format!(" (routes: {})", i.routes_to.join(", "))
                };
                writeln!(
                    w,
                    "{} [{}] list {}: schedule `{}` ({}), to {}{routes}; from {}",
                    i.watch,
                    i.kind,
                    i.watchlist,
                    i.schedule,
                    i.timezone,
                    i.destination,
                    i.origin()
                )
            }
        }
        .map_err(io)?;
    }
    if args.format == super::TextOrJson::Text {
        writeln!(
            w,
            "{}",
            super::check::plural(infos.len(), "watch", "watches")
        )
        .map_err(io)?;
    }
    Ok(())
}
