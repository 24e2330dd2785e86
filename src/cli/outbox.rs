//! `outbox list | retry ID | drop ID`.

use clap::{Args, Subcommand};

use super::App;
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

pub fn outbox(app: &App, args: OutboxArgs) -> Result<()> {
    let store = app.open_store()?;
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
                println!("{:>5}  {state}\n       {what}", e.id);
            }
            if entries.is_empty() {
                println!("outbox is empty");
            }
        }
        OutboxAction::Retry { id } => {
            let mut e = find(id)?;
            e.dead = None;
            e.next_attempt_at = None;
            store.put_outbox(&e)?;
            println!("alert {id} queued for delivery");
        }
        OutboxAction::Drop { id } => {
            find(id)?;
            store.drop_outbox(id)?;
            println!("alert {id} dropped");
        }
    }
    store.flush()
}
