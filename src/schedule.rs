//! When watches run: cron schedules, read in a time zone, and the clock they are read
//! against.
//!
//! cron 0.17 wants 6–7 fields (seconds first) and numbers Sunday as 1; watchlists may use
//! the familiar 5-field form, which is widened here.
//!
//! Schedules are wall-clock times in their zone (default `Europe/London`), and the clock
//! changes are handled as cron users expect, rather than as the crate does:
//!
//! - a job at a fixed hour (`30 1 * * *`) runs once when the autumn change repeats 01:30,
//!   and, when the spring change skips 01:30, runs at the first minute after the gap;
//! - a job on every hour (`*/10 * * * *`) keeps its pace in real time: through the repeated
//!   hour it fires in both passes, and the skipped hour simply does not exist.
//!
//! Fire times are worked out here from the cron expression's wall-clock times (the crate
//! iterates them in UTC, where no clock changes), and are always strictly later than both
//! `now` and the last fire.

use std::str::FromStr;
use std::sync::Mutex;

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The zone schedules are read in when none is configured.
pub const DEFAULT_TIMEZONE: Tz = chrono_tz::Europe::London;

/// A validated cron schedule in a time zone, keeping the expression as written for
/// messages.
#[derive(Debug, Clone)]
pub struct Schedule {
    expr: String,
    /// Shared: a parsed schedule holds every second, minute, hour… it can fire at (several
    /// KB), and each watch carries its watchlist's schedule: 5,000 watches held 18 MB of
    /// copies of one schedule.
    cron: std::sync::Arc<cron::Schedule>,
    tz: Tz,
    /// The hour field names fixed hours (not `*` or `*/n`): such a job runs once per wall
    /// clock time, whatever the clock changes do.
    fixed_hour: bool,
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        self.expr == other.expr && self.tz == other.tz
    }
}

/// Each cron field's name, what one value is called, and its range (cron 0.17 numbers
/// weekdays from Sunday = 1).
const FIELDS: [(&str, &str, u32, u32); 7] = [
    ("second", "seconds", 0, 59),
    ("minute", "minutes", 0, 59),
    ("hour", "hours", 0, 23),
    ("day-of-month", "days of the month", 1, 31),
    ("month", "months", 1, 12),
    ("day-of-week", "days of the week", 1, 7),
    ("year", "years", 1970, 2099),
];

/// The names cron 0.17 accepts, with their numbers.
const MONTHS: &[(&str, u32)] = &[
    ("jan", 1),
    ("january", 1),
    ("feb", 2),
    ("february", 2),
    ("mar", 3),
    ("march", 3),
    ("apr", 4),
    ("april", 4),
    ("may", 5),
    ("jun", 6),
    ("june", 6),
    ("jul", 7),
    ("july", 7),
    ("aug", 8),
    ("august", 8),
    ("sep", 9),
    ("september", 9),
    ("oct", 10),
    ("october", 10),
    ("nov", 11),
    ("november", 11),
    ("dec", 12),
    ("december", 12),
];
const WEEKDAYS: &[(&str, u32)] = &[
    ("sun", 1),
    ("sunday", 1),
    ("mon", 2),
    ("monday", 2),
    ("tue", 3),
    ("tues", 3),
    ("tuesday", 3),
    ("wed", 4),
    ("wednesday", 4),
    ("thu", 5),
    ("thurs", 5),
    ("thursday", 5),
    ("fri", 6),
    ("friday", 6),
    ("sat", 7),
    ("saturday", 7),
];

/// Checks every field of a cron expression (`fields` as the user wrote them; `first` is the
/// index in [`FIELDS`] of the first one: 1 when seconds are left out), naming the field and
/// its allowed range in the user's own expression.
fn check_fields(expr: &str, fields: &[&str], first: usize) -> Result<(), String> {
    for (i, field) in fields.iter().enumerate() {
        let Some(&(name, plural, min, max)) = FIELDS.get(first + i) else {
            break;
        };
        let range = match name {
            "month" => "1–12 or Jan–Dec".to_string(),
            "day-of-week" => "Sun–Sat (names, e.g. `Mon-Fri`)".to_string(),
            _ => format!("{min}–{max}"),
        };
        let fail = |why: String| {
            format!("{name} field `{field}` in `{expr}`: {why}; {plural} are {range}")
        };
        for item in field.split(',') {
            let (base, step) = match item.split_once('/') {
                Some((b, s)) => (b, Some(s)),
                None => (item, None),
            };
            if let Some(step) = step {
                if !step.parse::<u32>().is_ok_and(|n| n >= 1) {
                    return Err(fail(format!(
                        "the step `/{step}` must be a whole number from 1"
                    )));
                }
            }
            if base == "*" || (base == "?" && matches!(name, "day-of-month" | "day-of-week")) {
                continue;
            }
            if base.is_empty() {
                return Err(fail(
                    "a value is missing (two commas, or nothing before `/`?)".into(),
                ));
            }
            let value = |v: &str| -> Result<u32, String> {
                let names: &[(&str, u32)] = match name {
                    "month" => MONTHS,
                    "day-of-week" => WEEKDAYS,
                    _ => &[],
                };
                let lower = v.to_ascii_lowercase();
                if let Some((_, n)) = names.iter().find(|(n, _)| *n == lower) {
                    return Ok(*n);
                }
                match v.parse::<u32>() {
                    Ok(n) if (min..=max).contains(&n) => Ok(n),
                    Ok(_) => Err(format!("`{v}` is out of range")),
                    Err(_) => Err(format!(
                        "`{v}` is not a number{}",
                        if names.is_empty() { "" } else { " or a name" }
                    )),
                }
            };
            let (lo, hi) = match base.split_once('-') {
                Some((a, b)) => (value(a).map_err(&fail)?, value(b).map_err(&fail)?),
                None => {
                    let v = value(base).map_err(&fail)?;
                    (v, v)
                }
            };
            if lo > hi {
                return Err(fail(format!("the range `{base}` runs backwards")));
            }
        }
    }
    Ok(())
}

/// Parses a time zone name (`Europe/London`, `UTC`), with a message naming it when unknown.
pub fn parse_timezone(name: &str) -> Result<Tz, String> {
    name.trim().parse::<Tz>().map_err(|_| {
        format!(
            "unknown time zone `{}`: use an IANA name such as `Europe/London` or `UTC`",
            name.trim()
        )
    })
}

impl Schedule {
    /// Parses a 5-, 6- or 7-field cron expression or an `@hourly`-style alias, read in
    /// [`DEFAULT_TIMEZONE`].
    pub fn parse(expr: &str) -> Result<Self, String> {
        Self::parse_in(expr, DEFAULT_TIMEZONE)
    }

    /// The same schedule read in another zone.
    pub fn in_timezone(&self, tz: Tz) -> Self {
        Schedule { tz, ..self.clone() }
    }

    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// [`Schedule::parse`] in the zone `tz`.
    pub fn parse_in(expr: &str, tz: Tz) -> Result<Self, String> {
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
        if !trimmed.starts_with('@') {
            let first = if fields.len() == 5 { 1 } else { 0 };
            check_fields(trimmed, &fields, first)?;
        }
        // The crate's own messages ("Hours must be less than 23") never reach the user:
        // the fields were checked above, so what is left is an alias or an odd combination.
        let cron = cron::Schedule::from_str(&widened).map_err(|_| {
            if trimmed.starts_with('@') {
                format!(
                    "bad cron expression `{trimmed}`: unknown alias; use @yearly, @monthly, \
                     @weekly, @daily or @hourly"
                )
            } else {
                format!(
                    "bad cron expression `{trimmed}`: not a schedule cron understands; write 5 \
                     fields (minute hour day-of-month month day-of-week), e.g. `*/30 * * * *`"
                )
            }
        })?;
        if cron.upcoming(Utc).next().is_none() {
            return Err(format!("cron expression `{trimmed}` never fires"));
        }
        let fixed_hour = if trimmed.starts_with('@') {
            !matches!(trimmed, "@hourly")
        } else {
            let hour = widened.split_whitespace().nth(2).unwrap_or("*");
            !(hour == "*" || hour.starts_with("*/"))
        };
        Ok(Schedule {
            expr: trimmed.to_string(),
            cron: std::sync::Arc::new(cron),
            tz,
            fixed_hour,
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
        // Wall-clock candidates, from a little before the floor's wall-clock time: a
        // repeated hour can put an instant after the floor on an earlier wall-clock time.
        let margin = chrono::Duration::hours(3);
        let start = floor.with_timezone(&self.tz).naive_local() - margin;
        let mut best: Option<DateTime<Utc>> = None;
        for wall in self.cron.after(&start.and_utc()).map(|t| t.naive_utc()) {
            if best.is_some_and(|b| wall - margin > b.with_timezone(&self.tz).naive_local()) {
                break;
            }
            for instant in self.instants(wall) {
                if instant > floor && best.is_none_or(|b| instant < b) {
                    best = Some(instant);
                }
            }
        }
        best
    }

    /// The instants a wall-clock fire time stands for in the zone.
    fn instants(&self, wall: NaiveDateTime) -> Vec<DateTime<Utc>> {
        let utc = |t: DateTime<Tz>| t.with_timezone(&Utc);
        match self.tz.from_local_datetime(&wall) {
            LocalResult::Single(t) => vec![utc(t)],
            // The autumn change repeats this time: a fixed-hour job runs in the first pass
            // only; a job on every hour keeps its pace in both.
            LocalResult::Ambiguous(first, _) if self.fixed_hour => vec![utc(first)],
            LocalResult::Ambiguous(first, second) => vec![utc(first), utc(second)],
            // The spring change skips this time: a fixed-hour job runs at the first minute
            // that exists after it; for a job on every hour the time simply never comes.
            LocalResult::None if self.fixed_hour => (1..=24 * 60)
                .map(|m| wall + chrono::Duration::minutes(m))
                .find_map(|w| self.tz.from_local_datetime(&w).earliest())
                .map(utc)
                .into_iter()
                .collect(),
            LocalResult::None => Vec::new(),
        }
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
    fn a_bad_field_is_named_with_its_range_in_the_users_expression() {
        let cases = [
            ("0 25 * * *", "hour field `25` in `0 25 * * *`: `25` is out of range; hours are 0–23"),
            ("0 0 24 * * *", "hour field `24` in `0 0 24 * * *`: `24` is out of range; hours are 0–23"),
            ("61 * * * *", "minute field `61` in `61 * * * *`: `61` is out of range; minutes are 0–59"),
            ("0 9 32 * *", "day-of-month field `32` in `0 9 32 * *`: `32` is out of range; days of the month are 1–31"),
            ("0 9 * Jnu *", "month field `Jnu` in `0 9 * Jnu *`: `Jnu` is not a number or a name; months are 1–12 or Jan–Dec"),
            ("0 9 * * Mon-Fry", "day-of-week field `Mon-Fry` in `0 9 * * Mon-Fry`: `Fry` is not a number or a name; days of the week are Sun–Sat (names, e.g. `Mon-Fri`)"),
            ("*/0 * * * *", "minute field `*/0` in `*/0 * * * *`: the step `/0` must be a whole number from 1; minutes are 0–59"),
            ("0 17-9 * * *", "hour field `17-9` in `0 17-9 * * *`: the range `17-9` runs backwards; hours are 0–23"),
        ];
        for (expr, expected) in cases {
            let e = Schedule::parse(expr).unwrap_err();
            assert_eq!(e, expected);
            assert!(!e.contains("must be less than"));
        }
        assert!(Schedule::parse("0 9 * Jan,Mar * ").is_ok());
        assert!(Schedule::parse("0 9 1-7 * Monday").is_ok());
        assert!(Schedule::parse("0 0 9 ? * Mon-Fri").is_ok());
        assert!(Schedule::parse("@fortnightly")
            .unwrap_err()
            .contains("unknown alias"));
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

    fn london(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        DEFAULT_TIMEZONE
            .with_ymd_and_hms(y, mo, d, h, mi, 0)
            .earliest()
            .unwrap()
            .with_timezone(&Utc)
    }

    /// Every fire from `from` (exclusive) to `to`, as the daemon would see them.
    fn fires(s: &Schedule, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        let mut last = None;
        let mut now = from;
        while let Some(t) = s.next_after(now, last) {
            if t > to {
                break;
            }
            out.push(t);
            last = Some(t);
            now = t;
        }
        out
    }

    #[test]
    fn schedules_are_read_in_london_time_by_default() {
        let s = Schedule::parse("0 9 * * Mon-Fri").unwrap();
        // A summer Monday: 09:00 BST is 08:00 UTC.
        let sunday = Utc.with_ymd_and_hms(2026, 6, 14, 12, 0, 0).unwrap();
        assert_eq!(
            s.next_after(sunday, None),
            Some(Utc.with_ymd_and_hms(2026, 6, 15, 8, 0, 0).unwrap())
        );
        // A winter Monday: 09:00 GMT is 09:00 UTC.
        let sunday = Utc.with_ymd_and_hms(2026, 1, 11, 12, 0, 0).unwrap();
        assert_eq!(
            s.next_after(sunday, None),
            Some(Utc.with_ymd_and_hms(2026, 1, 12, 9, 0, 0).unwrap())
        );
        let utc = Schedule::parse_in("0 9 * * Mon-Fri", chrono_tz::UTC).unwrap();
        let sunday = Utc.with_ymd_and_hms(2026, 6, 14, 12, 0, 0).unwrap();
        assert_eq!(
            utc.next_after(sunday, None),
            Some(Utc.with_ymd_and_hms(2026, 6, 15, 9, 0, 0).unwrap())
        );
        assert!(parse_timezone("Mars/Olympus")
            .unwrap_err()
            .contains("Mars/Olympus"));
    }

    #[test]
    fn a_0130_job_runs_once_on_the_autumn_fold() {
        // 2026-10-25: 02:00 BST goes back to 01:00 GMT, so 01:30 happens twice.
        let s = Schedule::parse("30 1 * * *").unwrap();
        let got = fires(
            &s,
            Utc.with_ymd_and_hms(2026, 10, 24, 12, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2026, 10, 26, 12, 0, 0).unwrap(),
        );
        assert_eq!(
            got,
            [
                Utc.with_ymd_and_hms(2026, 10, 25, 0, 30, 0).unwrap(), // 01:30 BST
                Utc.with_ymd_and_hms(2026, 10, 26, 1, 30, 0).unwrap(), // 01:30 GMT
            ]
        );
    }

    #[test]
    fn a_0130_job_is_not_skipped_in_the_spring_gap() {
        // 2026-03-29: 01:00 GMT jumps to 02:00 BST, so 01:30 never happens: the job runs
        // when the clock reaches the end of the gap, once.
        let s = Schedule::parse("30 1 * * *").unwrap();
        let got = fires(
            &s,
            Utc.with_ymd_and_hms(2026, 3, 28, 12, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2026, 3, 30, 12, 0, 0).unwrap(),
        );
        assert_eq!(
            got,
            [
                Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap(), // 02:00 BST
                Utc.with_ymd_and_hms(2026, 3, 30, 0, 30, 0).unwrap(), // 01:30 BST
            ]
        );
    }

    #[test]
    fn frequent_jobs_keep_their_pace_through_both_changes() {
        let s = Schedule::parse("*/30 * * * *").unwrap();
        // Autumn: from 00:00 BST to 03:00 GMT is four real hours: eight fires, every 30 min.
        let from = london(2026, 10, 25, 0, 0);
        let got = fires(&s, from, from + chrono::Duration::hours(4));
        assert_eq!(got.len(), 8, "{got:?}");
        assert!(got
            .windows(2)
            .all(|w| w[1] - w[0] == chrono::Duration::minutes(30)));
        // Spring: 00:00 GMT to 03:00 BST is two real hours.
        let from = london(2026, 3, 29, 0, 0);
        let got = fires(&s, from, from + chrono::Duration::hours(2));
        assert_eq!(got.len(), 4, "{got:?}");
        assert!(got
            .windows(2)
            .all(|w| w[1] - w[0] == chrono::Duration::minutes(30)));
    }
}
