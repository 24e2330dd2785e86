//! `backup`, `restore`, `import` and `doctor`: see [`crate::store::recovery`].

use std::path::PathBuf;

use clap::Args;

use super::App;
use crate::error::{Error, Result};
use crate::store::{recovery, Store};

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// File to write (JSON Lines; written whole or not at all)
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A file written by `backup`; restored into --data, which must be new or empty
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// `export` output (JSON Lines of versions), loaded into --data
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Where to write the salvaged store when the store is damaged [default: DATA.salvaged]
    #[arg(long, value_name = "DIR")]
    pub into: Option<PathBuf>,
}

/// Runs on the store the command opened, or in the daemon that holds it (a relative FILE
/// is then relative to the daemon's working directory: give an absolute path).
pub fn backup(store: &dyn Store, args: BackupArgs, w: &mut dyn std::io::Write) -> Result<()> {
    let n = recovery::backup(store, &args.file)?;
    writeln!(w, "backed up {n} records to {}", args.file.display()).map_err(|source| Error::Io {
        path: "<stdout>".into(),
        source,
    })
}

pub fn restore(app: &App, args: RestoreArgs) -> Result<()> {
    let n = recovery::restore(&args.file, &app.data, app.config.store.cache_capacity)?;
    super::say(&format!("restored {n} records into {}", app.data.display()));
    Ok(())
}

pub fn import(app: &App, args: ImportArgs) -> Result<()> {
    let store = app.open_store()?;
    let (added, known) = recovery::import(&args.file, &store)?;
    super::say(&format!(
        "imported {added} versions into {} ({known} already there)",
        app.data.display()
    ));
    Ok(())
}

pub fn doctor(app: &App, args: DoctorArgs) -> Result<()> {
    let into = args.into.unwrap_or_else(|| {
        let mut name = app.data.as_os_str().to_owned();
        name.push(".salvaged");
        PathBuf::from(name)
    });
    let report = recovery::doctor(&app.data, &into, app.config.store.cache_capacity)?;
    for (tree, n) in &report.read {
        println!("{tree}: {n} records readable");
    }
    if let Some(e) = &report.snapshot_error {
        // Rebuilt from the log, the store is sled's last intact state: a log cut short
        // loses its newest writes in a way nothing left can show, so no "nothing lost".
        println!(
            "snapshot: damaged ({e}); every record still in sled's log was read instead. If \
             the log was cut short too (a truncated `db` file), its newest writes are gone \
             without a trace: compare with your latest backup"
        );
    }
    for lost in &report.lost {
        println!("LOST: {lost}");
    }
    if !report.damaged() {
        println!("store OK: nothing damaged");
        return Ok(());
    }
    let Some(into) = report.salvaged_into else {
        println!(
            "nothing could be read, so nothing was salvaged: restore the latest backup \
             (`policywatch restore FILE` into an empty directory); {} is left as it was",
            app.data.display()
        );
        return Err(Error::StoreDamaged {
            path: app.data.clone(),
            reason: "no record could be read".into(),
        });
    };
    println!(
        "salvaged every readable record into {}. To use it: stop the daemon, move {} aside \
         (keep it until you are satisfied), move {} to {}, start again.",
        into.display(),
        app.data.display(),
        into.display(),
        app.data.display()
    );
    Err(Error::StoreDamaged {
        path: app.data.clone(),
        reason: if report.lost.is_empty() {
            "its snapshot was unreadable; every record still in sled's log was salvaged".into()
        } else {
            format!(
                "{} unreadable record(s) or runs of records",
                report.lost.len()
            )
        },
    })
}
