//! `[[route]]` in a watchlist: which alerts go to which named destinations, when.
//!
//! A route matches an alert on watch ids (`watches`, globs), event types (`events`, globs
//! such as `bill.*`), a minimum `severity` and `keywords` (any of them among the alert's
//! matched keywords, or in its title or summary). Every matching route applies, in file
//! order, until one that matches has `stop = true`. An alert no route matches goes where it
//! would with no routes (the watch's `channel`, else the default). A route delivers
//! `immediately` (the default), or as a `digest` on a cron schedule; `quiet_hours` holds
//! its non-major alerts inside the period and releases them as a digest at its end. Times
//! are in the watchlist's time zone.

use chrono::{DateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::data::{Alert, Destination, Mention, Outgoing, Severity};
use crate::schedule::Schedule;

/// One `[[route]]`, validated.
#[derive(Debug, Clone)]
pub struct Route {
    /// `<watchlist>#<n>` (n from 1, file order): names the route's digests.
    pub key: String,
    pub watches: Vec<String>,
    pub events: Vec<String>,
    pub severity: Option<Severity>,
    pub keywords: Vec<String>,
    /// Resolved destinations, in the order named.
    pub to: Vec<Destination>,
    pub deliver: Deliver,
    pub quiet_hours: Option<QuietHours>,
    /// Who to ping where the destination can (Discord); replaces the watch's mentions.
    pub mentions: Option<Vec<Mention>>,
    pub stop: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Deliver {
    Immediately,
    Digest(Box<Schedule>),
}

/// `"22:00-07:00"`: from the first time to the second, wrapping past midnight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuietHours {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl QuietHours {
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("bad quiet_hours `{s}`: expected `HH:MM-HH:MM`, e.g. `22:00-07:00`");
        let (a, b) = s.split_once('-').ok_or_else(bad)?;
        let t = |x: &str| NaiveTime::parse_from_str(x.trim(), "%H:%M").map_err(|_| bad());
        let (start, end) = (t(a)?, t(b)?);
        if start == end {
            return Err(format!(
                "bad quiet_hours `{s}`: start and end are the same time"
            ));
        }
        Ok(QuietHours { start, end })
    }

    fn contains(&self, t: NaiveTime) -> bool {
        if self.start < self.end {
            self.start <= t && t < self.end
        } else {
            t >= self.start || t < self.end
        }
    }

    /// When the quiet period `now` falls in ends (None when `now` is not in one).
    pub fn release(&self, now: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let local = now.with_timezone(&tz);
        if !self.contains(local.time()) {
            return None;
        }
        // The end is today if still ahead, else tomorrow; a time the clock change skips
        // moves to the first minute that exists after it.
        for days in 0..=2 {
            let date = local.date_naive() + chrono::Duration::days(days);
            let wall = date.and_time(self.end);
            let at = (0..=120)
                .find_map(|m| {
                    tz.from_local_datetime(&(wall + chrono::Duration::minutes(m)))
                        .earliest()
                })
                .map(|t| t.with_timezone(&Utc));
            if let Some(at) = at.filter(|t| *t > now) {
                return Some(at);
            }
        }
        None
    }
}

/// `*` any run of characters, `?` one; everything else literal.
pub fn glob(pattern: &str, s: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = s.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

impl Route {
    pub fn matches(&self, a: &Alert) -> bool {
        let any = |globs: &[String], s: &str| globs.is_empty() || globs.iter().any(|g| glob(g, s));
        let keyword = || {
            self.keywords.is_empty()
                || self.keywords.iter().any(|k| {
                    let k = k.to_lowercase();
                    a.keywords.iter().any(|m| m.to_lowercase() == k)
                        || a.title.to_lowercase().contains(&k)
                        || a.summary.to_lowercase().contains(&k)
                })
        };
        any(&self.watches, &a.watch)
            && any(&self.events, &a.event)
            && self.severity.is_none_or(|s| a.severity >= s)
            && keyword()
    }

    /// Where this route sends `a` detected at `now`, and when.
    fn outgoing(&self, a: &Alert, now: DateTime<Utc>, tz: Tz) -> Vec<Outgoing> {
        let (hold_until, digest) = match &self.deliver {
            Deliver::Digest(s) => (s.next_after(now, None), Some(self.key.clone())),
            Deliver::Immediately => match self.quiet_hours {
                Some(q) if a.severity < Severity::Major => match q.release(now, tz) {
                    Some(at) => (Some(at), Some(format!("{}~quiet", self.key))),
                    None => (None, None),
                },
                _ => (None, None),
            },
        };
        self.to
            .iter()
            .map(|d| Outgoing {
                destination: Some(d.clone()),
                hold_until,
                digest: digest.clone(),
                mentions: self.mentions.clone(),
            })
            .collect()
    }
}

/// What the routes make of an alert: one outgoing entry per destination (the first route
/// to name a destination decides how it goes there). Empty when no route matches: the
/// alert then goes to its own destination, as with no routes.
pub fn plan(routes: &[Route], a: &Alert, now: DateTime<Utc>, tz: Tz) -> Vec<Outgoing> {
    let mut out: Vec<Outgoing> = Vec::new();
    for r in routes {
        if !r.matches(a) {
            continue;
        }
        for o in r.outgoing(a, now, tz) {
            if !out.iter().any(|x| x.destination == o.destination) {
                out.push(o);
            }
        }
        if r.stop {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("bill.*", "bill.stage_changed"));
        assert!(!glob("bill.*", "govuk.withdrawn"));
        assert!(glob("*", "anything"));
        assert!(glob("ho-*-guidance", "ho-nrm-guidance"));
        assert!(glob("page.change?", "page.changed"));
        assert!(!glob("page", "page.changed"));
    }

    #[test]
    fn quiet_hours_release_at_their_end_in_local_time() {
        let q = QuietHours::parse("22:00-07:00").unwrap();
        let tz = chrono_tz::Europe::London;
        // Winter: London is UTC.
        let night = Utc.with_ymd_and_hms(2026, 1, 14, 23, 30, 0).unwrap();
        assert_eq!(
            q.release(night, tz),
            Some(Utc.with_ymd_and_hms(2026, 1, 15, 7, 0, 0).unwrap())
        );
        // Summer: 07:00 BST is 06:00 UTC.
        let early = Utc.with_ymd_and_hms(2026, 7, 15, 4, 0, 0).unwrap();
        assert_eq!(
            q.release(early, tz),
            Some(Utc.with_ymd_and_hms(2026, 7, 15, 6, 0, 0).unwrap())
        );
        let day = Utc.with_ymd_and_hms(2026, 7, 15, 12, 0, 0).unwrap();
        assert_eq!(q.release(day, tz), None);
        assert!(QuietHours::parse("25:00-07:00").is_err());
    }
}
