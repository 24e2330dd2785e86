//! `policywatch kinds`: the catalogue of source kinds, straight from the registry.

use clap::Args;
use serde::Serialize;

use crate::data::Severity;
use crate::error::Result;
use crate::source::registry;

#[derive(Debug, Args)]
pub struct KindsArgs {
    /// Print JSON (one object per kind per line) instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct KindJson {
    kind: &'static str,
    about: &'static str,
    keys: &'static [&'static str],
    follow: bool,
    sources: Vec<SourceJson>,
    events: Vec<EventJson>,
}

#[derive(Serialize)]
struct SourceJson {
    key: &'static str,
    default: &'static str,
    meaning: &'static str,
}

#[derive(Serialize)]
struct EventJson {
    event: &'static str,
    severity: Severity,
    meaning: &'static str,
}

pub fn kinds(args: &KindsArgs) -> Result<()> {
    for kind in registry::all() {
        let entry = KindJson {
            kind: kind.name(),
            about: kind.about(),
            keys: kind.keys(),
            follow: kind.can_follow(),
            sources: kind
                .bases()
                .iter()
                .map(|b| SourceJson {
                    key: b.key,
                    default: b.default,
                    meaning: b.meaning,
                })
                .collect(),
            events: kind
                .events()
                .iter()
                .map(|e| EventJson {
                    event: e.name,
                    severity: e.severity,
                    meaning: e.meaning,
                })
                .collect(),
        };
        if args.json {
            println!("{}", serde_json::to_string(&entry)?);
            continue;
        }
        println!("{}: {}", entry.kind, entry.about);
        let keys: Vec<String> = entry.keys.iter().map(|k| format!("`{k}`")).collect();
        let follow = if entry.follow { "; may `follow`" } else { "" };
        println!("  keys: {}{follow}", keys.join(", "));
        for s in &entry.sources {
            println!("  [sources] {} = \"{}\"  ({})", s.key, s.default, s.meaning);
        }
        for e in &entry.events {
            let severity = serde_json::to_value(e.severity)?;
            let severity = severity.as_str().unwrap_or_default();
            println!("  {:<28} {:<7} {}", e.event, severity, e.meaning);
        }
        println!();
    }
    if !args.json {
        println!("any kind: the watch's own health");
        for e in crate::cycle::HEALTH_EVENTS {
            println!("  {:<28} {:<7} {}", e.name, "info", e.meaning);
        }
    }
    Ok(())
}
