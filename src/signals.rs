//! Signals the daemon answers. SIGINT, SIGTERM and SIGQUIT stop it, and each is logged by
//! name before the stop begins. SIGHUP never stops it: it is logged and asks for a reload
//! of the configuration and watchlists. SIGUSR1 and SIGUSR2, whose default action would
//! kill the process without a word, are logged and ignored.

use std::future::Future;

/// What a signal asks of the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    Stop(&'static str),
    Reload,
    Nothing(&'static str),
}

/// Resolves when a stopping signal arrives, after logging it. Every SIGHUP in the meantime
/// is logged and `reload` is run (the daemon keeps going whatever it returns).
pub async fn until_stopped<F, Fut>(reload: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => {
            // Without handlers the defaults apply (SIGTERM still stops, unlogged).
            tracing::warn!(error = %e, "cannot install signal handlers; stopping on Ctrl-C only");
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!(signal = "SIGINT", "stop requested");
            return;
        }
    };
    loop {
        match signals.next().await {
            Asked::Stop(name) => {
                tracing::info!(signal = name, "stop requested");
                return;
            }
            Asked::Reload => {
                tracing::info!(
                    signal = "SIGHUP",
                    "reload requested: reading the configuration and watchlists again"
                );
                reload().await;
            }
            Asked::Nothing(name) => {
                tracing::warn!(
                    signal = name,
                    "signal ignored (SIGHUP reloads; SIGTERM stops)"
                );
            }
        }
    }
}

#[cfg(unix)]
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    quit: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    usr1: tokio::signal::unix::Signal,
    usr2: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            quit: signal(SignalKind::quit())?,
            hup: signal(SignalKind::hangup())?,
            usr1: signal(SignalKind::user_defined1())?,
            usr2: signal(SignalKind::user_defined2())?,
        })
    }

    async fn next(&mut self) -> Asked {
        tokio::select! {
            _ = self.int.recv() => Asked::Stop("SIGINT"),
            _ = self.term.recv() => Asked::Stop("SIGTERM"),
            _ = self.quit.recv() => Asked::Stop("SIGQUIT"),
            _ = self.hup.recv() => Asked::Reload,
            _ = self.usr1.recv() => Asked::Nothing("SIGUSR1"),
            _ = self.usr2.recv() => Asked::Nothing("SIGUSR2"),
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn install() -> std::io::Result<Self> {
        Ok(Signals)
    }

    async fn next(&mut self) -> Asked {
        let _ = tokio::signal::ctrl_c().await;
        Asked::Stop("Ctrl-C")
    }
}
