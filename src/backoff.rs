//! The one backoff rule, shared by fetch retries and alert delivery: after the `n`th failed
//! attempt (1-based), wait `base × 2^(n-1)`, capped at `max`.

use std::time::Duration;

/// The wait after failed attempt number `attempt` (1 for the first). `0` is treated as 1.
pub fn delay(attempt: u32, base: Duration, max: Duration) -> Duration {
    let factor = 1u32
        .checked_shl(attempt.saturating_sub(1))
        .unwrap_or(u32::MAX);
    base.saturating_mul(factor).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_base_and_caps() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(1);
        assert_eq!(delay(0, base, max), Duration::from_millis(100));
        assert_eq!(delay(1, base, max), Duration::from_millis(100));
        assert_eq!(delay(2, base, max), Duration::from_millis(200));
        assert_eq!(delay(4, base, max), Duration::from_millis(800));
        assert_eq!(delay(5, base, max), max);
        assert_eq!(delay(u32::MAX, base, max), max);
    }
}
