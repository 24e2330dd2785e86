//! A daemon (`daemon::run_with`) running in the test's runtime: its progress reports, and a
//! stop that shuts it down as SIGTERM would.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use policywatch::cycle::Engine;
use policywatch::daemon::{self, Notifier, Options, Progress};
use policywatch::notify::Dispatcher;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

pub struct Running {
    /// The daemon's progress reports (cycles run, alerts settled, watches being checked).
    pub progress: watch::Receiver<Progress>,
    stop: oneshot::Sender<()>,
    handle: JoinHandle<policywatch::error::Result<()>>,
}

impl Running {
    /// Starts the daemon on `engine`, delivering through `dispatcher`, telling `notifier`
    /// what it would tell systemd (no watchdog).
    pub fn start(engine: Engine, dispatcher: Dispatcher, notifier: Arc<dyn Notifier>) -> Running {
        let (progress_tx, progress) = watch::channel(Progress::default());
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(daemon::run_with(
            engine,
            dispatcher,
            async {
                let _ = stopped.await;
            },
            Options {
                notifier,
                watchdog: None,
                progress: progress_tx,
                status_snapshot: None,
            },
        ));
        Running {
            progress,
            stop,
            handle,
        }
    }

    /// Waits (on the daemon's own progress reports, not on time) until it has finished
    /// `cycles` cycles and delivered what they found; it must not have run more.
    pub async fn settled(&mut self, cycles: u64) -> Progress {
        let p = tokio::time::timeout(
            Duration::from_secs(20),
            self.progress
                .wait_for(|p| p.cycles >= cycles && p.settled()),
        )
        .await
        .unwrap_or_else(|_| panic!("daemon did not settle after cycle {cycles}"))
        .expect("daemon alive")
        .clone();
        assert_eq!(p.cycles, cycles, "ran more cycles than scheduled");
        p
    }

    /// Whether the daemon is still running.
    pub fn is_running(&self) -> bool {
        !self.handle.is_finished()
    }

    /// Stops it and waits for it to finish; it must stop cleanly.
    pub async fn stop(self) {
        self.stop.send(()).unwrap();
        self.handle.await.unwrap().expect("daemon stops cleanly");
    }
}
