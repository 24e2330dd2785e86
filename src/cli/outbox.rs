//! `outbox list | retry ID [--to NAME] | drop ID [--to NAME]`.

use std::io::Write;

use clap::{Args, Subcommand};

use crate::config::Config;
use crate::data::Destination;
use crate::error::{Error, Result};
use crate::store::{OutboxEntry, Store};

#[derive(Debug, Args)]
pub struct OutboxArgs {
    #[command(subcommand)]
    pub action: OutboxAction,
}

#[derive(Debug, Subcommand)]
pub enum OutboxAction {
    /// Queued and dead alerts, in delivery order, each with its destination
    List,
    /// Queue a dead or waiting alert for delivery again, now (every destination it waits
    /// for, or only --to)
    Retry {
        /// Change id of the alert (see `outbox list`)
        id: u64,
        /// Only its delivery to this destination: a `[destinations.NAME]`, or the
        /// destination as `outbox list` shows it (`slack:team`, `discord:123…`, `default`)
        #[arg(long, value_name = "NAME")]
        to: Option<String>,
    },
    /// Remove an alert from the outbox without delivering it (every destination, or only
    /// --to)
    Drop {
        /// Change id of the alert (see `outbox list`)
        id: u64,
        /// Only its delivery to this destination (as for `retry`)
        #[arg(long, value_name = "NAME")]
        to: Option<String>,
    },
}

/// How `outbox list` names an entry's destination: `kind:address` (a webhook's name, never
/// its URL), or `default` for the configured default.
fn shown(destination: Option<&Destination>) -> String {
    destination.map_or_else(|| "default".to_string(), Destination::to_string)
}

/// Whether `to` (a configured destination's name, or the destination as listed) names
/// this entry's destination.
fn names(config: &Config, to: &str, entry: &OutboxEntry) -> bool {
    let listed = shown(entry.destination.as_ref());
    listed == to
        || config
            .destination(to)
            .is_some_and(|d| entry.destination.as_ref() == Some(&d))
}

pub fn outbox(
    store: &dyn Store,
    config: &Config,
    args: OutboxArgs,
    w: &mut dyn Write,
) -> Result<()> {
    let io = |source| Error::Io {
        path: "<stdout>".into(),
        source,
    };
    let entries = store.outbox()?;
    // The alert's entries, one per destination it waits for, narrowed to `to`.
    let find = |id: u64, to: Option<&str>| {
        let found: Vec<OutboxEntry> = entries
            .iter()
            .filter(|e| e.id == id && to.is_none_or(|to| names(config, to, e)))
            .cloned()
            .collect();
        if found.is_empty() {
            return Err(Error::NotFound {
                what: "outbox entry",
                id: match to {
                    Some(to) => format!("{id} to {to}"),
                    None => id.to_string(),
                },
            });
        }
        Ok(found)
    };
    let whom = |found: &[OutboxEntry]| {
        found
            .iter()
            .map(|e| shown(e.destination.as_ref()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match args.action {
        OutboxAction::List => {
            for e in &entries {
                let record = store.change(e.id)?;
                let what = record
                    .map(|r| format!("{} {}: {}", r.alert.watch, r.alert.event, r.alert.summary))
                    .unwrap_or_default();
                let state = match (&e.dead, &e.last_error) {
                    (Some(reason), _) => format!("dead: {reason}"),
                    (None, Some(err)) => format!("retrying (attempt {}): {err}", e.attempts),
                    (None, None) => "queued".into(),
                };
                let to = shown(e.destination.as_ref());
                writeln!(w, "{:>5}  to {to}: {state}\n       {what}", e.id).map_err(io)?;
            }
            if entries.is_empty() {
                writeln!(w, "outbox is empty").map_err(io)?;
            }
        }
        OutboxAction::Retry { id, to } => {
            let found = find(id, to.as_deref())?;
            for mut e in found.iter().cloned() {
                e.dead = None;
                e.next_attempt_at = None;
                store.put_outbox(&e)?;
            }
            writeln!(w, "alert {id} queued for delivery to {}", whom(&found)).map_err(io)?;
        }
        OutboxAction::Drop { id, to } => {
            let found = find(id, to.as_deref())?;
            for e in &found {
                store.drop_outbox_entry(e.id, e.slot)?;
            }
            writeln!(w, "alert {id} dropped for {}", whom(&found)).map_err(io)?;
        }
    }
    store.flush()
}
