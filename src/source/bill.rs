//! `bill` watches: a bill on the UK Parliament Bills API.

use crate::error::{Error, Result};
use crate::event::Event;
use crate::source::{Context, Document, Job, Observed};
use crate::watchlist::Watch;

/// Observes every bill watch of a cycle together, so summaries are asked for in batches.
pub async fn observe_batch(_ctx: &Context, jobs: Vec<Job>) -> Vec<(Job, Result<Observed>)> {
    jobs.into_iter()
        .map(|j| {
            let e = Err(Error::extract(
                j.watch.id.clone(),
                "bill watches: in progress",
            ));
            (j, e)
        })
        .collect()
}

pub fn compare(_watch: &Watch, _previous: &Document, _next: &Document) -> Vec<Event> {
    Vec::new()
}
