//! The source-kind trait: everything the engine needs to know about a kind, behind one
//! interface, so a new kind is one module plus one line in [`super::registry`].

use futures_util::future::BoxFuture;

use crate::config::{SourceBase, Sources};
use crate::data::{Event, Severity};
use crate::error::Result;
use crate::watchlist::{KindSyntax, Target, Watch};

use super::{Context, Document, FollowTarget, Job, Observed};

/// One entry of a kind's event catalogue (`policywatch kinds`).
#[derive(Debug, Clone, Copy)]
pub struct EventInfo {
    /// Dotted name, as in `check --format json`, e.g. `bill.stage_changed`.
    pub name: &'static str,
    /// The usual severity; some events are raised higher when the change is large.
    pub severity: Severity,
    /// What it means, in one line.
    pub meaning: &'static str,
}

/// A source kind. Its watchlist keys come through the [`KindSyntax`] supertrait.
pub trait SourceKind: KindSyntax {
    /// What a watch of this kind looks at, in one line.
    fn about(&self) -> &'static str;

    /// The events its [`compare`](SourceKind::compare) can raise.
    fn events(&self) -> &'static [EventInfo];

    /// The `[sources]` keys it reads (base URLs, each with its default).
    fn bases(&self) -> &'static [SourceBase] {
        &[]
    }

    /// A link a person can open for the watch (for alerts about the watch itself, such as
    /// `watch.failing`), built from `[sources]`.
    fn human_url(&self, target: &Target, sources: &Sources) -> String;

    /// Whether observing reads the previous document (`Job::previous`); the others are
    /// spared decoding a stored version on every check that turns out unchanged.
    fn reads_previous(&self) -> bool {
        false
    }

    /// Whether the cycle hands every watch of the kind to
    /// [`observe_batch`](SourceKind::observe_batch) at once instead of one by one.
    fn batched(&self) -> bool {
        false
    }

    /// Fetches and extracts one watch.
    fn observe<'a>(&'a self, ctx: &'a Context, job: &'a Job) -> BoxFuture<'a, Result<Observed>>;

    /// Observes many watches together (only called when [`batched`](SourceKind::batched)).
    fn observe_batch<'a>(
        &'a self,
        ctx: &'a Context,
        jobs: Vec<Job>,
    ) -> BoxFuture<'a, Vec<(Job, Result<Observed>)>> {
        Box::pin(async move {
            let mut out = Vec::with_capacity(jobs.len());
            for job in jobs {
                let result = self.observe(ctx, &job).await;
                out.push((job, result));
            }
            out
        })
    }

    /// The events between two stored versions of a watch.
    fn compare(&self, watch: &Watch, previous: &Document, next: &Document) -> Result<Vec<Event>>;

    /// Watches its document asks to follow (only consulted when the watch has
    /// `follow = true`).
    fn follows(&self, _document: &Document) -> Result<Vec<FollowTarget>> {
        Ok(Vec::new())
    }

    /// Rebuilds a target from a follow's key ([`FollowTarget::target`]), for kinds that
    /// searches can follow.
    fn follow_target(&self, _key: &str) -> Option<Target> {
        None
    }
}

/// The target of a watch as kind `T`'s type, or an error naming the mismatch (a kind's
/// own functions are only ever handed its own watches).
pub fn target_of<T: crate::watchlist::KindTarget>(watch: &Watch) -> Result<&T> {
    watch.target.get::<T>().ok_or_else(|| {
        crate::error::Error::extract(
            watch.id.clone(),
            format!(
                "a {} watch handed to the {} kind",
                watch.target.kind(),
                T::KIND
            ),
        )
    })
}
