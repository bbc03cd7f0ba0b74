//! [`PerIp`]: how many WebSocket connections each IP address holds, so one address cannot take
//! every slot of `--max-connections` (`--max-connections-per-ip`, HTTP 429 past it).
//!
//! Invariant: an address's count is the number of live [`IpSlot`]s for it; a slot gives its
//! place back when dropped, however the connection ends, and an address with no connection has
//! no entry, so the map holds at most one entry per live connection. The lock is taken twice per
//! connection (open and close), never per frame.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

/// Connections per IP address; see the [module docs](self).
#[derive(Debug, Default)]
pub(crate) struct PerIp {
    counts: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection's place in its address's count.
#[derive(Debug)]
pub(crate) struct IpSlot {
    per_ip: Arc<PerIp>,
    ip: IpAddr,
}

impl PerIp {
    /// A place for one more connection from `ip`, unless it already holds `max`.
    pub fn acquire(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<IpSlot> {
        let mut counts = self.counts();
        let count = counts.entry(ip).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(IpSlot {
            per_ip: Arc::clone(self),
            ip,
        })
    }

    fn counts(&self) -> MutexGuard<'_, HashMap<IpAddr, usize>> {
        // The map stays consistent if a holder panicked: every update is one statement.
        self.counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut counts = self.per_ip.counts();
        if let Some(count) = counts.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_holds_at_most_max_and_gets_its_places_back() {
        let per_ip = Arc::new(PerIp::default());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let first = per_ip.acquire(a, 2).expect("first");
        let second = per_ip.acquire(a, 2).expect("second");
        assert!(
            per_ip.acquire(a, 2).is_none(),
            "a third from the same address"
        );
        assert!(
            per_ip.acquire(b, 2).is_some(),
            "another address is not affected"
        );
        drop(first);
        let third = per_ip.acquire(a, 2).expect("a place was given back");
        drop((second, third));
        assert!(
            per_ip.counts().is_empty(),
            "no entry for an address without connections"
        );
    }
}
