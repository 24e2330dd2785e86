//! Retry timing: how long a server's `Retry-After` asks us to wait. The backoff itself is
//! the crate's one helper, [`crate::backoff`].

use std::time::{Duration, SystemTime};

/// How long a `Retry-After` value (delay in seconds, or an HTTP date) asks to wait from
/// `now`, capped at `cap`. `None` when the value is neither.
pub fn retry_after(value: &str, now: SystemTime, cap: Duration) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        let secs = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(secs).min(cap));
    }
    let when = parse_http_date(value)?;
    let wait = when.duration_since(now).unwrap_or(Duration::ZERO);
    Some(wait.min(cap))
}

/// An HTTP date in any of the three forms RFC 9110 allows.
fn parse_http_date(value: &str) -> Option<SystemTime> {
    use chrono::{DateTime, NaiveDateTime};
    let naive = DateTime::parse_from_rfc2822(value)
        .ok()
        .map(|d| d.naive_utc())
        .or_else(|| {
            // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
            NaiveDateTime::parse_from_str(value, "%A, %d-%b-%y %H:%M:%S GMT").ok()
        })
        .or_else(|| {
            // asctime: Sun Nov  6 08:49:37 1994
            let folded = value.split_whitespace().collect::<Vec<_>>().join(" ");
            NaiveDateTime::parse_from_str(&folded, "%a %b %e %H:%M:%S %Y").ok()
        })?;
    let secs = naive.and_utc().timestamp();
    if secs >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs as u64))
    } else {
        Some(SystemTime::UNIX_EPOCH)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // 1994-11-06 08:49:37
        let cap = Duration::from_secs(60);
        assert_eq!(retry_after("0", now, cap), Some(Duration::ZERO));
        assert_eq!(retry_after(" 5 ", now, cap), Some(Duration::from_secs(5)));
        assert_eq!(retry_after("99999999999999999999999", now, cap), Some(cap));
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now, cap),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after("Sunday, 06-Nov-94 08:49:47 GMT", now, cap),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            retry_after("Sun Nov  6 08:49:57 1994", now, cap),
            Some(Duration::from_secs(20))
        );
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now, cap),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("-1", now, cap), None);
        assert_eq!(retry_after("soon", now, cap), None);
        assert_eq!(retry_after("", now, cap), None);
    }
}
