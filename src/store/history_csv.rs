//! The change history as CSV: `history --format csv` and the web timeline's download.

use std::io::Write;

use super::ChangeRecord;
use crate::error::{Error, Result};

/// Writes `records` as CSV, one row a change.
pub fn write(w: &mut dyn Write, records: &[ChangeRecord]) -> Result<()> {
    let csv_err = |e: csv::Error| Error::Usage(e.to_string());
    let mut csv = csv::Writer::from_writer(w);
    csv.write_record([
        "id",
        "detected_at",
        "watch",
        "event",
        "title",
        "url",
        "summary",
        "keywords",
        "delivered_at",
    ])
    .map_err(csv_err)?;
    for r in records {
        let a = &r.alert;
        csv.write_record([
            a.id.to_string(),
            a.detected_at.to_rfc3339(),
            a.watch.clone(),
            a.event.to_string(),
            a.title.clone(),
            a.url.clone(),
            a.summary.clone(),
            a.keywords.join("; "),
            r.delivered_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
        ])
        .map_err(csv_err)?;
    }
    csv.flush().map_err(io)
}

fn io(e: std::io::Error) -> Error {
    Error::Io {
        path: "<stdout>".into(),
        source: e,
    }
}
