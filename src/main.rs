//! The `policywatch` binary: parse arguments, set up logging and TLS, run, map errors to
//! exit codes (see `EXIT_CODES` in the library's `cli`).

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use policywatch::cli::{Cli, LogFormat};

/// mimalloc: a baseline cycle allocates and frees many mid-sized buffers per page (bodies,
/// tokens, JSON, compressed records) across threads; with glibc's allocator that was a
/// tenth of its CPU (`bench/cycle.sh`). Without transparent huge pages, so a small
/// daemon's resident memory stays small.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() && json_asked() => {
            // A usage mistake is a log line like any other with `--log-format json`.
            init_logging(LogFormat::Json);
            tracing::error!(exit_code = 2, "{}", e.to_string().trim_end());
            return ExitCode::from(2);
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    init_logging(cli.log_format);
    policywatch::cli::set_log_format(cli.log_format);
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
    let cli_json = cli.log_format == LogFormat::Json;
    match runtime.block_on(policywatch::cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = u8::try_from(e.exit_code()).unwrap_or(1);
            let lines = match e {
                // Already `file:line:col: message`, one per line, as editors expect.
                policywatch::Error::Invalid(problems) => problems,
                e => vec![format!("policywatch: {:#}", anyhow::Error::from(e))],
            };
            for line in lines {
                if cli_json {
                    // Like every other stderr line: one JSON object.
                    let message = line.trim_start_matches("policywatch: ");
                    tracing::error!(exit_code = code, "{message}");
                } else {
                    eprintln!("{line}");
                }
            }
            ExitCode::from(code)
        }
    }
}

/// Whether the command line or environment asks for JSON logs, read before clap has
/// accepted the rest (for the usage error itself).
fn json_asked() -> bool {
    let args: Vec<String> = std::env::args().collect();
    let flag = args
        .windows(2)
        .any(|w| w[0] == "--log-format" && w[1] == "json")
        || args.iter().any(|a| a == "--log-format=json");
    flag || std::env::var("POLICYWATCH_LOG_FORMAT").is_ok_and(|v| v == "json")
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
