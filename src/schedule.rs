//! When watches run: cron schedules and the clock they are read against.
//!
//! cron 0.17 wants 6–7 fields (seconds first) and numbers Sunday as 1; watchlists may use
//! the familiar 5-field form, which is widened here. Around DST folds the crate can return
//! a time at or before one already fired, so [`Schedule::next_after`] insists on strictly
//! later than both `now` and the last fire.

use std::str::FromStr;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

/// A validated cron schedule, keeping the expression as written for messages.
#[derive(Debug, Clone)]
pub struct Schedule {
    expr: String,
    cron: cron::Schedule,
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        self.expr == other.expr
    }
}

impl Schedule {
    /// Parses a 5-, 6- or 7-field cron expression or an `@hourly`-style alias.
    pub fn parse(expr: &str) -> Result<Self, String> {
        let trimmed = expr.trim();
        let fields: Vec<&str> = trimmed.split_whitespace().collect();
        let widened = match fields.len() {
            _ if trimmed.starts_with('@') => trimmed.to_string(),
            5 => {
                if let Some(dow) = fields.get(4) {
                    if dow.chars().any(|c| c.is_ascii_digit()) {
                        return Err(format!(
                            "day-of-week `{dow}` uses numbers; write names (e.g. `Mon-Fri`), \
                             since numbering differs between cron dialects"
                        ));
                    }
                }
                format!("0 {trimmed}")
            }
            6 | 7 => trimmed.to_string(),
            n => {
                return Err(format!(
                    "cron expression `{trimmed}` has {n} fields; expected 5 (min hour day month weekday), 6 or 7 (with seconds first)"
                ))
            }
        };
        let cron = cron::Schedule::from_str(&widened)
            .map_err(|e| format!("bad cron expression `{trimmed}`: {e}"))?;
        if cron.upcoming(Utc).next().is_none() {
            return Err(format!("cron expression `{trimmed}` never fires"));
        }
        Ok(Schedule {
            expr: trimmed.to_string(),
            cron,
        })
    }

    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// The next fire time strictly after `now` and after `last_fire`.
    pub fn next_after(
        &self,
        now: DateTime<Utc>,
        last_fire: Option<DateTime<Utc>>,
    ) -> Option<DateTime<Utc>> {
        let floor = match last_fire {
            Some(last) if last > now => last,
            _ => now,
        };
        self.cron.after(&floor).find(|t| *t > floor)
    }
}

/// The time seam: the daemon asks the clock for now and sleeps through it, so tests can
/// drive schedules without waiting.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
    /// Resolves once the clock reads `when` or later.
    fn sleep_until(&self, when: DateTime<Utc>) -> BoxFuture<'_, ()>;
}

pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Wall-clock time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, when: DateTime<Utc>) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let wait = (when - Utc::now()).to_std().unwrap_or_default();
            tokio::time::sleep(wait).await;
        })
    }
}

/// A clock that only moves when told to: for tests of schedules and for simulations.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
    moved: tokio::sync::Notify,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        ManualClock {
            now: Mutex::new(start),
            moved: tokio::sync::Notify::new(),
        }
    }

    /// Moves the clock to `to` (never backwards) and wakes every sleeper that is due.
    pub fn set(&self, to: DateTime<Utc>) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        if to > *now {
            *now = to;
        }
        drop(now);
        self.moved.notify_waiters();
    }

    pub fn advance(&self, by: chrono::Duration) {
        let to = self.now() + by;
        self.set(to);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sleep_until(&self, when: DateTime<Utc>) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            loop {
                let moved = self.moved.notified();
                if self.now() >= when {
                    return;
                }
                moved.await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn five_fields_are_widened_and_fire_strictly_later() {
        let s = Schedule::parse("*/15 * * * *").unwrap();
        let now = Utc.with_ymd_and_hms(2026, 3, 29, 0, 15, 0).unwrap();
        assert_eq!(
            s.next_after(now, None),
            Some(Utc.with_ymd_and_hms(2026, 3, 29, 0, 30, 0).unwrap())
        );
        let later = Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap();
        assert_eq!(
            s.next_after(now, Some(later)),
            Some(Utc.with_ymd_and_hms(2026, 3, 29, 1, 15, 0).unwrap())
        );
    }

    #[test]
    fn numeric_weekdays_and_bad_field_counts_are_refused_with_reasons() {
        assert!(Schedule::parse("0 9 * * 1-5")
            .unwrap_err()
            .contains("Mon-Fri"));
        assert!(Schedule::parse("0 9 *").unwrap_err().contains("3 fields"));
        assert!(Schedule::parse("0 9 * * Mon-Fri").is_ok());
        assert!(Schedule::parse("@hourly").is_ok());
    }
}
