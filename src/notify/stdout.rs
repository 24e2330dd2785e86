//! Alerts to standard output: readable text, or one JSON object per line (the contract of
//! `check --format json`). Used when no chat is configured.

use std::io::Write;
use std::sync::Mutex;

use super::{Delivery, Sink};
use crate::data::{Alert, Destination};
use crate::schedule::BoxFuture;
use crate::store::ChangeRecord;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
}

/// Writes alerts to a writer (stdout in the binary).
pub struct StdoutSink {
    format: Format,
    out: Mutex<Box<dyn Write + Send>>,
}

impl StdoutSink {
    pub fn new(format: Format) -> Self {
        StdoutSink::to_writer(format, Box::new(std::io::stdout()))
    }

    pub fn to_writer(format: Format, out: Box<dyn Write + Send>) -> Self {
        StdoutSink {
            format,
            out: Mutex::new(out),
        }
    }
}

impl Sink for StdoutSink {
    fn name(&self) -> &str {
        "stdout"
    }

    fn send<'a>(
        &'a self,
        _to: Option<&'a Destination>,
        records: &'a [ChangeRecord],
    ) -> BoxFuture<'a, Vec<Delivery>> {
        Box::pin(async move {
            let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
            let mut outcomes = Vec::with_capacity(records.len());
            for r in records {
                let written = match self.format {
                    Format::Json => serde_json::to_string(&r.alert)
                        .map_err(std::io::Error::other)
                        .and_then(|line| writeln!(out, "{line}")),
                    Format::Text => write!(out, "{}", render_text(&r.alert)),
                }
                .and_then(|_| out.flush());
                match written {
                    Ok(()) => outcomes.push(Delivery::Delivered),
                    // A closed pipe will not reopen: keep the alert queued and stop.
                    Err(e) => {
                        outcomes.push(Delivery::Halt(format!(
                            "cannot write alerts to stdout: {e}"
                        )));
                        break;
                    }
                }
            }
            outcomes
        })
    }
}

/// The readable form of an alert, for a terminal or a log.
/// How a severity reads in text: `MAJOR` stands out, the others do not.
pub fn severity_word(severity: crate::data::Severity) -> &'static str {
    match severity {
        crate::data::Severity::Info => "info",
        crate::data::Severity::Notice => "notice",
        crate::data::Severity::Major => "MAJOR",
    }
}

/// Starts with the change id (`show ID` has it all) and the severity.
pub fn render_text(a: &Alert) -> String {
    let severity = severity_word(a.severity);
    let mut s = format!(
        "#{} {severity} [{}] {} — {}\n  {}\n  {}\n",
        a.id, a.event, a.watch, a.title, a.summary, a.url
    );
    for note in &a.annotations {
        s.push_str(&format!("  • {note}\n"));
    }
    if !a.diff.is_empty() {
        for line in a.diff.lines() {
            s.push_str(&format!("    {line}\n"));
        }
    }
    s.push('\n');
    s
}
