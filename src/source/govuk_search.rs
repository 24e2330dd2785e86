//! `govuk_search` watches.

use crate::error::{Error, Result};
use crate::event::Event;
use crate::source::{Context, Document, FollowTarget, Job, Observed};
use crate::watchlist::Watch;

pub async fn observe(_ctx: &Context, job: &Job) -> Result<Observed> {
    Err(Error::extract(
        job.watch.id.clone(),
        "govuk_search: in progress",
    ))
}

pub fn compare(_watch: &Watch, _previous: &Document, _next: &Document) -> Vec<Event> {
    Vec::new()
}

pub fn follows(_document: &Document) -> Vec<FollowTarget> {
    Vec::new()
}
