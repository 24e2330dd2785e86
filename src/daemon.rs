//! The daemon: a scheduler fires each watch on its cron schedule, an outbox loop delivers
//! what the cycles recorded, and a supervisor tells systemd how both are doing (READY,
//! STATUS, WATCHDOG, STOPPING).
//!
//! Every commit is one sled transaction, so stopping mid-cycle leaves nothing half-written:
//! the interrupted watches simply run again at their next fire. The outbox flushes the store
//! before it sends, so nothing is posted that a crash could make the store forget (and so
//! raise and post again), and it waits while a cycle is committing, so it never posts part
//! of a cycle's alerts.
//!
//! Watchdog pings mean "both loops are alive": a loop waiting for its next time is alive; a
//! loop at work is alive while it makes progress (the scheduler's fetcher keeps sending
//! requests, the outbox pass ends within its send timeouts). A hung loop stops the pings,
//! and systemd restarts the service.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

use crate::cycle::Engine;
use crate::error::Result;
use crate::live::Live;
use crate::notify::Dispatcher;
use crate::watchlist::Watch;

/// How long a delivery in flight may run on after a stop is asked for, so an alert that was
/// posted is also marked delivered.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// What the daemon tells its service manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Ready,
    Status(String),
    Watchdog,
    Stopping,
}

/// Where [`Notice`]s go: systemd's notify socket in production, a recorder in tests.
pub trait Notifier: Send + Sync {
    fn notify(&self, notice: &Notice);
}

/// Sends notices to `$NOTIFY_SOCKET`; does nothing outside systemd.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemdNotifier;

impl Notifier for SystemdNotifier {
    fn notify(&self, notice: &Notice) {
        use sd_notify::NotifyState;
        let state = match notice {
            Notice::Ready => NotifyState::Ready,
            Notice::Status(s) => NotifyState::Status(s),
            Notice::Watchdog => NotifyState::Watchdog,
            Notice::Stopping => NotifyState::Stopping,
        };
        let _ = sd_notify::notify(false, &[state]);
    }
}

/// The daemon's state as the outside may watch it (tests wait on it; STATUS is made of it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    /// Watches known at the last look (configured and followed).
    pub watches: usize,
    /// Cycles completed since start.
    pub cycles: u64,
    /// Watches in the cycle under way, if one is.
    pub checking: Option<usize>,
    pub next_check: Option<DateTime<Utc>>,
    /// An outbox pass is under way.
    pub delivering: bool,
    /// Number of cycles whose alerts a finished outbox pass has had the chance to send.
    pub delivered_through: u64,
    /// Alerts left waiting after the last pass.
    pub queued: usize,
    /// Delivery stopped by the sink (e.g. bad credentials), with its reason.
    pub halted: Option<String>,
    /// Which loop the supervisor found stuck, if any (watchdog pings withheld).
    pub stuck: Option<String>,
    /// Checks paused because the store cannot be used (disk full, failing disk), with why.
    pub paused: Option<String>,
}

impl Progress {
    /// Nothing under way and every finished cycle's alerts offered to the sink.
    pub fn settled(&self) -> bool {
        self.checking.is_none() && !self.delivering && self.delivered_through >= self.cycles
    }

    /// The one-line STATUS systemd shows in `systemctl status`.
    pub fn status_line(&self) -> String {
        let mut parts = Vec::new();
        if let Some(what) = &self.stuck {
            parts.push(format!("STUCK: {what}"));
        }
        if let Some(why) = &self.paused {
            parts.push(format!(
                "CHECKS PAUSED: the store cannot be written ({why})"
            ));
        }
        match self.checking {
            Some(n) => parts.push(format!("checking {n} of {} watches", self.watches)),
            None => parts.push(format!("watching {} watches", self.watches)),
        }
        if let Some(t) = self.next_check {
            parts.push(format!("next check {}", t.format("%Y-%m-%d %H:%M:%S UTC")));
        }
        parts.push(format!(
            "{} alert{} queued",
            self.queued,
            if self.queued == 1 { "" } else { "s" }
        ));
        if let Some(reason) = &self.halted {
            parts.push(format!("delivery stopped: {reason}"));
        }
        parts.join("; ")
    }
}

/// How the daemon reports and supervises itself.
pub struct Options {
    pub notifier: Arc<dyn Notifier>,
    /// systemd's `WatchdogSec`; pings go out at half of it. `None`: no pings.
    pub watchdog: Option<Duration>,
    /// Receives every change of [`Progress`].
    pub progress: watch::Sender<Progress>,
    /// Where to leave the `status` report after every cycle (see [`crate::status`]).
    pub status_snapshot: Option<std::path::PathBuf>,
}

impl Options {
    /// Notices to systemd, with the watchdog interval systemd gave (`WATCHDOG_USEC`).
    pub fn from_env() -> Self {
        let mut usec = 0;
        let watchdog =
            sd_notify::watchdog_enabled(false, &mut usec).then(|| Duration::from_micros(usec));
        Options {
            notifier: Arc::new(SystemdNotifier),
            watchdog,
            progress: watch::channel(Progress::default()).0,
            status_snapshot: None,
        }
    }
}

/// Runs until `shutdown` resolves, reporting to systemd when run under it.
pub async fn run(
    engine: Engine,
    dispatcher: Dispatcher,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    run_with(engine, dispatcher, shutdown, Options::from_env()).await
}

/// [`run`] with the reporting and supervision chosen by the caller.
pub async fn run_with(
    engine: Engine,
    dispatcher: Dispatcher,
    shutdown: impl Future<Output = ()>,
    options: Options,
) -> Result<()> {
    run_live(Live::fixed(engine), dispatcher, shutdown, options).await
}

/// [`run_with`] on an engine whose watchlists may be reloaded while it runs (see
/// [`crate::live`]): the scheduler picks up each applied reload at once.
pub async fn run_live(
    live: Arc<Live>,
    dispatcher: Dispatcher,
    shutdown: impl Future<Output = ()>,
    options: Options,
) -> Result<()> {
    // Store, fetcher and clock never change on reload; the lists are read from `live`.
    let engine = live.engine();
    let shared = Shared {
        status_snapshot: options.status_snapshot,
        progress: options.progress,
        beats: Mutex::new(Beats::default()),
        kick: Notify::new(),
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let limits = Limits::from_config(&engine);

    options.notifier.notify(&Notice::Ready);
    let scheduler = scheduler_loop(&live, &shared);
    let outbox = outbox_loop(&engine, &dispatcher, &shared, &limits, stop_rx);
    let supervisor = supervise(
        &engine,
        &shared,
        &limits,
        &*options.notifier,
        options.watchdog,
    );
    tokio::pin!(scheduler, outbox, shutdown);

    let result = tokio::select! {
        r = &mut scheduler => r,
        r = &mut outbox => r,
        never = supervisor => match never {},
        _ = &mut shutdown => Ok(()),
    };
    options.notifier.notify(&Notice::Stopping);
    if result.is_ok() {
        tracing::info!("stopping");
        // The scheduler is simply dropped: a cycle cut short has committed whole watches
        // only. A delivery in flight gets a moment to finish and be recorded.
        let _ = stop_tx.send(true);
        if tokio::time::timeout(STOP_GRACE, &mut outbox).await.is_err() {
            tracing::warn!("delivery still under way at stop; unconfirmed alerts stay queued");
        }
    }
    crate::store::fault::flush_bounded(&engine.store, crate::store::fault::FLUSH_LIMIT).await?;
    tracing::info!("stopped");
    result
}

struct Shared {
    status_snapshot: Option<std::path::PathBuf>,
    progress: watch::Sender<Progress>,
    beats: Mutex<Beats>,
    /// The scheduler wakes the outbox after every cycle.
    kick: Notify,
}

impl Shared {
    fn beats(&self) -> std::sync::MutexGuard<'_, Beats> {
        self.beats.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Real (monotonic) times the supervisor judges liveness by; the engine's clock may be a
/// simulation, a hang is not.
#[derive(Default)]
struct Beats {
    /// When the scheduler last showed progress in the cycle under way (None: idle).
    cycle_progress: Option<Instant>,
    requests_seen: u64,
    /// When the outbox pass under way started, and how long it may take (None: idle).
    pass: Option<(Instant, Duration)>,
}

/// How long work may go without progress before the supervisor calls it stuck.
struct Limits {
    /// Longest a working cycle may go without sending a request: one request's timeout
    /// and a retry's wait, twice over, with room to spare.
    cycle_stall: Duration,
    /// An outbox pass may take a send timeout per alert it sends.
    send_timeout: Duration,
}

impl Limits {
    fn from_config(engine: &Engine) -> Self {
        let f = &engine.config.fetch;
        Limits {
            cycle_stall: (f.connect_timeout + f.timeout + f.retry_max) * 2
                + Duration::from_secs(60),
            send_timeout: engine.config.discord.send_timeout,
        }
    }

    fn pass_limit(&self, alerts: usize) -> Duration {
        self.send_timeout
            .saturating_mul(u32::try_from(alerts).unwrap_or(u32::MAX).saturating_add(1))
            + Duration::from_secs(60)
    }
}

/// How often a daemon whose store failed tries it again.
pub const PAUSE_RETRY: Duration = Duration::from_secs(30);

/// On a store error: pauses checks (logged, and shown in STATUS) until the store can be
/// written again, then carries on. Nothing is lost meanwhile: a check whose commit failed
/// recorded nothing, so it runs again and finds the same change.
macro_rules! or_pause {
    ($engine:expr, $shared:expr, $e:expr) => {
        match $e {
            Ok(v) => v,
            Err(error) => {
                pause_until_writable($engine, $shared, error).await;
                continue;
            }
        }
    };
}

async fn pause_until_writable(engine: &Engine, shared: &Shared, error: crate::error::Error) {
    let cause = crate::store::fault::describe(&error);
    tracing::error!(
        error = %cause,
        "cannot write to the store: checks paused until it works again (unrecorded checks run again then)"
    );
    shared.beats().cycle_progress = None;
    shared.progress.send_modify(|p| {
        p.paused = Some(cause.clone());
        p.checking = None;
    });
    shared.kick.notify_one();
    loop {
        let retry_at =
            engine.clock.now() + chrono::Duration::from_std(PAUSE_RETRY).unwrap_or_default();
        engine.clock.sleep_until(retry_at).await;
        let flushed =
            crate::store::fault::flush_bounded(&engine.store, crate::store::fault::FLUSH_LIMIT)
                .await;
        if flushed.is_ok() && engine.store.states().is_ok() {
            break;
        }
    }
    tracing::info!("the store can be written again: checks resumed");
    shared.progress.send_modify(|p| p.paused = None);
}

/// Checks the scheduler started together: a batched kind's due watches, or one watch.
struct Run {
    /// The round (the watches due at one moment) it belongs to.
    round: u64,
    watches: Vec<Arc<Watch>>,
    fired: DateTime<Utc>,
    report: Result<crate::cycle::CycleReport>,
}

/// The first store failure among a report's runs: such a check recorded nothing.
fn unrecorded(report: &crate::cycle::CycleReport) -> Option<crate::error::Error> {
    report.runs.iter().find_map(|(_, run)| match run {
        crate::cycle::RunResult::Failed(e) if e.starts_with("store: ") => Some(
            crate::error::Error::Store(e.trim_start_matches("store: ").to_string()),
        ),
        _ => None,
    })
}

/// Fires due watches, forever. Each watch runs on its own (a batched kind's due watches
/// together), so a slow or hung host delays only its own watches: the others keep their
/// schedules. A watch is not fired again while its check is under way. A store that fails
/// pauses checks (see [`pause_until_writable`]).
async fn scheduler_loop(live: &Live, shared: &Shared) -> Result<()> {
    use futures_util::StreamExt;
    let clock = live.engine().clock;
    let mut next_fire: HashMap<String, DateTime<Utc>> = HashMap::new();
    let mut in_flight: HashSet<String> = HashSet::new();
    // Runs not yet finished, per round: a round ends when all its runs have.
    let mut rounds: std::collections::BTreeMap<u64, usize> = std::collections::BTreeMap::new();
    let mut round = 0u64;
    let mut runs = futures_util::stream::FuturesUnordered::new();
    loop {
        // The lists may have been reloaded: each pass reads the current ones.
        let engine = &live.engine();
        let now = clock.now();
        let watches = or_pause!(engine, shared, engine.all_watches());
        let mut due: Vec<Arc<Watch>> = Vec::new();
        for w in &watches {
            if in_flight.contains(&w.id) {
                continue;
            }
            let next = match next_fire.get(&w.id) {
                Some(t) => *t,
                None => or_pause!(engine, shared, first_fire(engine, w, now)),
            };
            if next <= now {
                due.push(w.clone());
            } else {
                next_fire.insert(w.id.clone(), next);
            }
        }
        // By id, not by scanning the list for each: this runs each time a check ends, and
        // with a thousand watches a scan per entry was most of the daemon's CPU.
        let current: HashSet<&str> = watches.iter().map(|w| w.id.as_str()).collect();
        next_fire.retain(|id, _| current.contains(id.as_str()));

        if !due.is_empty() {
            round += 1;
            tracing::info!(watches = due.len(), "cycle starting");
            // A batched kind's due watches run together; every other watch on its own.
            let mut batches: Vec<Vec<Arc<Watch>>> = Vec::new();
            let mut of_kind: HashMap<&'static str, usize> = HashMap::new();
            for w in due {
                in_flight.insert(w.id.clone());
                next_fire.remove(&w.id);
                match crate::source::registry::of(&w) {
                    Ok(kind) if kind.batched() => match of_kind.get(kind.name()) {
                        Some(&i) => batches[i].push(w),
                        None => {
                            of_kind.insert(kind.name(), batches.len());
                            batches.push(vec![w]);
                        }
                    },
                    _ => batches.push(vec![w]),
                }
            }
            rounds.insert(round, batches.len());
            for batch in batches {
                let this_round = round;
                let engine = engine.clone();
                runs.push(async move {
                    let report = engine.check(&batch).await;
                    Run {
                        round: this_round,
                        watches: batch,
                        fired: now,
                        report,
                    }
                });
            }
            let mut beats = shared.beats();
            if beats.cycle_progress.is_none() {
                beats.cycle_progress = Some(Instant::now());
                beats.requests_seen = engine.fetcher.requests_made();
            }
        }

        let wake = next_fire.values().copied().min();
        shared.progress.send_modify(|p| {
            p.watches = watches.len();
            p.checking = (!in_flight.is_empty()).then_some(in_flight.len());
            p.next_check = wake;
        });
        let sleep = async {
            match wake {
                Some(wake) => clock.sleep_until(wake).await,
                // Nothing scheduled (no watches, or all under way): wait for a run to end.
                None => std::future::pending::<()>().await,
            }
        };
        // A reload wakes the scheduler too, so new watches get their baseline now.
        let run = tokio::select! {
            Some(run) = runs.next(), if !runs.is_empty() => run,
            _ = sleep => continue,
            _ = live.changed() => continue,
        };

        for w in &run.watches {
            in_flight.remove(&w.id);
        }
        let round_done = match rounds.get_mut(&run.round) {
            Some(left) if *left > 1 => {
                *left -= 1;
                false
            }
            _ => {
                rounds.remove(&run.round);
                true
            }
        };
        if in_flight.is_empty() {
            shared.beats().cycle_progress = None;
        }
        let report = or_pause!(engine, shared, run.report);
        tracing::info!(
            watches = run.watches.len(),
            alerts = report.alerts.len(),
            failed = report.failures(),
            "checks done"
        );
        for (watch, result) in &report.runs {
            if let crate::cycle::RunResult::Failed(error) = result {
                tracing::warn!(watch = %watch, error = %error, "check failed");
            }
        }
        // Durable before the outbox may send any of it. A check that could not be recorded
        // is not done: its watch stays due (no next fire set) and runs once the store works.
        let flushed =
            crate::store::fault::flush_bounded(&engine.store, crate::store::fault::FLUSH_LIMIT)
                .await;
        or_pause!(
            engine,
            shared,
            flushed.and_then(|()| unrecorded(&report).map_or(Ok(()), Err))
        );
        // The engine's commit recorded `last_check` (this fire) for every watch it ran;
        // writing the fire again here would double the store's writes per check.
        for w in &run.watches {
            if let Some(next) = w.schedule.next_after(run.fired, Some(run.fired)) {
                next_fire.insert(w.id.clone(), next);
            }
        }
        if round_done {
            if let Some(path) = &shared.status_snapshot {
                // Monitoring is a courtesy: a failed write is logged, never fatal.
                if let Err(e) = live
                    .status()
                    .and_then(|report| crate::status::write_snapshot(path, &report))
                {
                    tracing::warn!(error = %e, "could not write the status snapshot");
                }
            }
        }
        shared.progress.send_modify(|p| {
            p.checking = (!in_flight.is_empty()).then_some(in_flight.len());
            if round_done {
                p.cycles += 1;
            }
        });
        shared.kick.notify_one();
    }
}

/// Delivers the outbox after every cycle and when retries fall due; returns on a stop
/// request (between passes) or never.
async fn outbox_loop(
    engine: &Engine,
    dispatcher: &Dispatcher,
    shared: &Shared,
    limits: &Limits,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    let clock = engine.clock.clone();
    loop {
        // Checks may be under way (each watch keeps its own time): a pass sends what is
        // committed. A resend after a crash regroups exactly the alerts whose send was
        // recorded (`sending_since`), so Discord's nonce dedup never swallows a new alert.
        let cycles_seen = shared.progress.borrow().cycles;
        let pending = match engine.store.outbox() {
            Ok(entries) => entries.iter().filter(|e| e.dead.is_none()).count(),
            Err(e) => {
                tracing::error!(error = %e, "cannot read the outbox");
                0
            }
        };
        shared.beats().pass = Some((Instant::now(), limits.pass_limit(pending)));
        shared.progress.send_modify(|p| p.delivering = true);
        // Whatever a cycle committed must survive a crash before it is posted.
        let drained = match crate::store::fault::flush_bounded(
            &engine.store,
            crate::store::fault::FLUSH_LIMIT,
        )
        .await
        {
            Ok(()) => dispatcher.drain_once().await,
            Err(e) => Err(e),
        };
        shared.beats().pass = None;

        let retry_at = match &drained {
            Ok(r) => {
                if let Some(reason) = &r.halted {
                    tracing::error!(reason = %reason, "delivery stopped; alerts stay queued");
                }
                r.next_attempt.filter(|_| r.halted.is_none())
            }
            Err(e) => {
                tracing::error!(error = %e, "delivery failed; alerts stay queued");
                // Try again in a while rather than only after the next cycle.
                Some(
                    clock.now()
                        + chrono::Duration::from_std(dispatcher.retry_max).unwrap_or_default(),
                )
            }
        };
        shared.progress.send_modify(|p| {
            p.delivering = false;
            p.delivered_through = p.delivered_through.max(cycles_seen);
            if let Ok(r) = &drained {
                p.queued = r.waiting;
                p.halted = r.halted.clone();
            }
        });

        let retry = async {
            match retry_at {
                Some(t) => clock.sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = shared.kick.notified() => {}
            _ = retry => {}
            _ = stop.wait_for(|stop| *stop) => return Ok(()),
        }
    }
}

/// Sends STATUS on every change and, when systemd wants them, watchdog pings while both
/// loops are alive. Never returns.
async fn supervise(
    engine: &Engine,
    shared: &Shared,
    limits: &Limits,
    notifier: &dyn Notifier,
    watchdog: Option<Duration>,
) -> std::convert::Infallible {
    let mut changes = shared.progress.subscribe();
    let mut ticker = watchdog.map(|w| {
        let mut t = tokio::time::interval((w / 2).max(Duration::from_millis(10)));
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    let mut last_status = String::new();
    loop {
        let status = changes.borrow_and_update().status_line();
        if status != last_status {
            notifier.notify(&Notice::Status(status.clone()));
            last_status = status;
        }
        let tick = async {
            match ticker.as_mut() {
                Some(t) => {
                    t.tick().await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            changed = changes.changed() => {
                if changed.is_err() {
                    // Every sender gone cannot happen while `shared` lives; idle anyway.
                    std::future::pending::<()>().await;
                }
            }
            _ = tick => {
                let stuck = stuck_loop(engine, shared, limits);
                if stuck.is_none() {
                    notifier.notify(&Notice::Watchdog);
                }
                if shared.progress.borrow().stuck != stuck {
                    if let Some(what) = &stuck {
                        tracing::error!(loop_ = %what, "no progress; withholding watchdog pings so systemd restarts the service");
                    }
                    shared.progress.send_modify(|p| p.stuck = stuck);
                }
            }
        }
    }
}

/// Which loop, if any, has gone too long without progress.
fn stuck_loop(engine: &Engine, shared: &Shared, limits: &Limits) -> Option<String> {
    let now = Instant::now();
    let mut beats = shared.beats();
    if let Some(since) = beats.cycle_progress {
        let requests = engine.fetcher.requests_made();
        if requests != beats.requests_seen {
            beats.requests_seen = requests;
            beats.cycle_progress = Some(now);
        } else if now - since > limits.cycle_stall {
            return Some(format!(
                "scheduler: a cycle has sent no request for {}s",
                (now - since).as_secs()
            ));
        }
    }
    if let Some((since, limit)) = beats.pass {
        if now - since > limit {
            return Some(format!(
                "outbox: a delivery pass has run for {}s",
                (now - since).as_secs()
            ));
        }
    }
    None
}

/// When a watch first fires after start: now if it has never run or missed a fire while
/// the daemon was down, else its next scheduled time.
fn first_fire(engine: &Engine, w: &Watch, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let state = engine.store.state(&w.id)?.unwrap_or_default();
    Ok(match crate::status::last_fired(&state) {
        None => now,
        Some(last) => match w.schedule.next_after(last, Some(last)) {
            Some(t) if t <= now => now,
            Some(t) => t,
            None => DateTime::<Utc>::MAX_UTC,
        },
    })
}
