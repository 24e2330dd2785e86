//! The `policywatch` binary: parse arguments, set up logging and TLS, run, map errors to
//! exit codes (0 done, 2 configuration or usage, 1 anything else).

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use policywatch::cli::{Cli, LogFormat};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    init_logging(cli.log_format);
    // Both reqwest stacks pull in rustls; pick the provider before any client exists.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("policywatch: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(policywatch::cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = u8::try_from(e.exit_code()).unwrap_or(1);
            if let policywatch::Error::Invalid(problems) = &e {
                // Already `file:line:col: message`, one per line, as editors expect.
                for p in problems {
                    eprintln!("{p}");
                }
            } else {
                eprintln!("policywatch: {:#}", anyhow::Error::from(e));
            }
            ExitCode::from(code)
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("POLICYWATCH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,policywatch=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, never into the journal or a file.
        .with_ansi(std::io::stderr().is_terminal());
    // The journal stamps every line itself.
    let under_journald = std::env::var_os("JOURNAL_STREAM").is_some();
    match (format, under_journald) {
        (LogFormat::Json, _) => builder.json().init(),
        (LogFormat::Text, true) => builder.without_time().init(),
        (LogFormat::Text, false) => builder.init(),
    }
}
