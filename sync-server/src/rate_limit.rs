//! [`RateLimiter`]: a token bucket bounding how much one connection may send: one bucket counts
//! messages (a token each), another bytes (a token per byte).
//!
//! Invariant: over any interval of `t` seconds the costs allowed sum to at most
//! `burst + rate * t`, plus, once, what one cost larger than the burst exceeds it by: such a cost
//! (a frame larger than the byte burst) is allowed from a full bucket and leaves it in debt, so
//! it is slowed, never refused forever. The clock is passed in, so the limiter is tested without
//! sleeping. This is the classic token bucket (as in tower's and governor's limiters), kept to a
//! few lines.

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
        Self::with_rate(u64::from(per_sec), u64::from(burst), now)
    }

    /// [`RateLimiter::new`] for rates past `u32`, such as bytes per second.
    pub fn with_rate(per_sec: u64, burst: u64, now: Instant) -> Self {
        let burst = burst.max(1) as f64;
        RateLimiter {
            per_sec: per_sec as f64,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes one token if there is one.
    pub fn allow(&mut self, now: Instant) -> bool {
        self.allow_cost(now, 1)
    }

    /// Takes `cost` tokens if there are that many, or if the bucket is full (a cost above the
    /// burst then leaves the bucket in debt).
    pub fn allow_cost(&mut self, now: Instant, cost: u64) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = self.last.max(now);
        self.tokens = (self.tokens + elapsed * self.per_sec).min(self.burst);
        let cost = cost as f64;
        if self.tokens >= cost.min(self.burst) {
            self.tokens -= cost;
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

    proptest! {
        #[test]
        fn costs_stay_within_burst_plus_rate_plus_one_oversized_cost(
            per_sec in 1u64..100_000,
            burst in 1u64..10_000,
            steps in prop::collection::vec((0u64..50_000, 0u64..20_000), 1..300),
        ) {
            let start = Instant::now();
            let mut limit = RateLimiter::with_rate(per_sec, burst, start);
            let mut now = start;
            let mut allowed = 0u64;
            let mut largest = 0u64;
            for (micros, cost) in steps {
                now += Duration::from_micros(micros);
                if limit.allow_cost(now, cost) {
                    allowed += cost;
                    largest = largest.max(cost);
                }
            }
            let excess = largest.saturating_sub(burst) as f64;
            let bound = burst as f64 + per_sec as f64 * (now - start).as_secs_f64() + excess;
            prop_assert!(allowed as f64 <= bound + 1e-6, "{} > {}", allowed, bound);
        }
    }

    #[test]
    fn a_cost_above_the_burst_waits_for_a_full_bucket_and_leaves_a_debt() {
        let start = Instant::now();
        let mut bytes = RateLimiter::with_rate(1000, 100, start);
        assert!(bytes.allow_cost(start, 10));
        assert!(!bytes.allow_cost(start, 500), "the bucket is not full");
        let full = start + Duration::from_millis(10);
        assert!(bytes.allow_cost(full, 500), "a full bucket lets it through");
        let later = full + Duration::from_millis(300);
        assert!(
            !bytes.allow_cost(later, 1),
            "400 bytes of debt take 400 ms to pay"
        );
        assert!(bytes.allow_cost(later + Duration::from_millis(101), 1));
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
