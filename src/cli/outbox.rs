//! `outbox list | retry ID | drop ID`.

use std::io::Write;

use clap::{Args, Subcommand};

use crate::error::{Error, Result};
use crate::store::Store;

#[derive(Debug, Args)]
pub struct OutboxArgs {
    #[command(subcommand)]
    pub action: OutboxAction,
}

#[derive(Debug, Subcommand)]
pub enum OutboxAction {
    /// Queued and dead alerts, in delivery order
    List,
    /// Queue a dead or waiting alert for delivery again, now
    Retry { id: u64 },
    /// Remove an alert from the outbox without delivering it
    Drop { id: u64 },
}

pub fn outbox(store: &dyn Store, args: OutboxArgs, w: &mut dyn Write) -> Result<()> {
    let io = |source| Error::Io {
        path: "<stdout>".into(),
        source,
    };
    let entries = store.outbox()?;
    let find = |id: u64| {
        entries
            .iter()
            .find(|e| e.id == id)
            .cloned()
            .ok_or(Error::NotFound {
                what: "outbox entry",
                id: id.to_string(),
            })
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
                writeln!(w, "{:>5}  {state}\n       {what}", e.id).map_err(io)?;
            }
            if entries.is_empty() {
                writeln!(w, "outbox is empty").map_err(io)?;
            }
        }
        OutboxAction::Retry { id } => {
            let mut e = find(id)?;
            e.dead = None;
            e.next_attempt_at = None;
            store.put_outbox(&e)?;
            writeln!(w, "alert {id} queued for delivery").map_err(io)?;
        }
        OutboxAction::Drop { id } => {
            find(id)?;
            store.drop_outbox(id)?;
            writeln!(w, "alert {id} dropped").map_err(io)?;
        }
    }
    store.flush()
}
