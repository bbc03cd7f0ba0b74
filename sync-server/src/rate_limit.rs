//! [`RateLimiter`]: a token bucket bounding how many messages one connection may send.
//!
//! Invariant: over any interval of `t` seconds at most `burst + rate * t` messages are allowed.
//! The clock is passed in, so the limiter is tested without sleeping. This is the classic token
//! bucket (as in tower's and governor's limiters), kept to a few lines.

use std::time::Instant;

/// A token bucket; see the [module docs](self).
///
/// ```
/// use std::time::{Duration, Instant};
/// use sync_server::rate_limit::RateLimiter;
/// let start = Instant::now();
/// let mut limit = RateLimiter::new(10, 2, start);
/// assert!(limit.allow(start) && limit.allow(start));
/// assert!(!limit.allow(start), "the burst is spent");
/// assert!(limit.allow(start + Duration::from_millis(100)), "one token per 100 ms");
/// ```
#[derive(Clone, Debug)]
pub struct RateLimiter {
    per_sec: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimiter {
    /// A full bucket of `burst` tokens refilled at `per_sec` tokens per second.
    pub fn new(per_sec: u32, burst: u32, now: Instant) -> Self {
        RateLimiter {
            per_sec: f64::from(per_sec),
            burst: f64::from(burst.max(1)),
            tokens: f64::from(burst.max(1)),
            last: now,
        }
    }

    /// Takes one token if there is one.
    pub fn allow(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = self.last.max(now);
        self.tokens = (self.tokens + elapsed * self.per_sec).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::Duration;

    proptest! {
        #[test]
        fn never_more_than_burst_plus_rate_times_elapsed(
            per_sec in 1u32..1000,
            burst in 1u32..100,
            steps in prop::collection::vec(0u64..50_000, 1..300),
        ) {
            let start = Instant::now();
            let mut limit = RateLimiter::new(per_sec, burst, start);
            let mut now = start;
            let mut allowed = 0u64;
            for micros in steps {
                now += Duration::from_micros(micros);
                allowed += u64::from(limit.allow(now));
            }
            let bound = f64::from(burst) + f64::from(per_sec) * (now - start).as_secs_f64();
            prop_assert!(allowed as f64 <= bound + 1e-9, "{} > {}", allowed, bound);
        }
    }

    #[test]
    fn refills_but_not_past_the_burst() {
        let start = Instant::now();
        let mut limit = RateLimiter::new(1000, 5, start);
        let later = start + Duration::from_secs(60);
        let allowed = (0..100).filter(|_| limit.allow(later)).count();
        assert_eq!(allowed, 5);
    }
}
