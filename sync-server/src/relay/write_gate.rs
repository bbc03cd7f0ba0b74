//! [`WriteGate`]: whether the relay accepts changes now, given how the store's last write went.
//!
//! Invariant: after a failed write (disk full, read-only database, I/O error) changes are refused
//! for the retry period, with the store's reason, before any room applies them; so while the
//! store cannot write, nothing new is accepted, fanned out or acknowledged, and documents stay
//! readable. The first successful write reopens the gate. This is the circuit-breaker pattern
//! (fail fast for a cool-down, then let one attempt through).

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// See the [module docs](self).
#[derive(Debug)]
pub(crate) struct WriteGate {
    retry: Duration,
    failure: Mutex<Option<(Instant, String)>>,
}

impl WriteGate {
    /// An open gate that stays shut for `retry` after each failure.
    pub fn new(retry: Duration) -> Self {
        WriteGate {
            retry,
            failure: Mutex::new(None),
        }
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<(Instant, String)>> {
        // The slot holds plain data; a panic elsewhere leaves it usable.
        self.failure.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The store failed to write, for `reason`.
    pub fn failed(&self, reason: String) {
        *self.slot() = Some((Instant::now(), reason));
    }

    /// The store wrote successfully.
    pub fn succeeded(&self) {
        *self.slot() = None;
    }

    /// Why changes are refused now, or `None` when they are accepted.
    pub fn refusal(&self) -> Option<String> {
        self.slot()
            .as_ref()
            .filter(|(at, _)| at.elapsed() < self.retry)
            .map(|(_, why)| why.clone())
    }

    /// The reason of the last failure, refused now or not.
    pub fn last_failure(&self) -> Option<String> {
        self.slot().as_ref().map(|(_, why)| why.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuts_for_the_retry_period_and_reopens_on_success() {
        let gate = WriteGate::new(Duration::from_secs(3600));
        assert_eq!(gate.refusal(), None);
        gate.failed("database or disk is full".into());
        assert_eq!(gate.refusal().as_deref(), Some("database or disk is full"));
        gate.succeeded();
        assert_eq!(gate.refusal(), None);
        assert_eq!(gate.last_failure(), None);
        let brief = WriteGate::new(Duration::from_nanos(1));
        brief.failed("read-only".into());
        std::thread::sleep(Duration::from_millis(1));
        assert_eq!(
            brief.refusal(),
            None,
            "after the retry period a write may try again"
        );
        assert_eq!(brief.last_failure().as_deref(), Some("read-only"));
    }
}
