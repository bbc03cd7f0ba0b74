//! [`RedisPersistence`]: whether the Redis server keeps acknowledged writes across its own crash.
//!
//! The relay acknowledges a change once the store says it is written ("ack after durable").
//! With Redis that promise is only as good as the server's persistence settings: writes survive
//! a crash of Redis only with the append-only file on (`appendonly yes`) and fsynced before
//! every reply (`appendfsync always`). With `appendfsync everysec` up to a second of
//! acknowledged writes is lost; with `appendonly no` everything since the last RDB snapshot is.
//! The relay reads both settings when it opens the store and says plainly when its acks are
//! not durable (the log, `/healthz`, the `sync_durable_acks` gauge). A server that refuses
//! `CONFIG GET` (managed services often rename it) cannot be checked, and is reported as not
//! durable: the relay makes no promise it cannot verify.

use crate::storage::AckDurability;

/// The persistence settings read from a Redis server (`None`: the server would not say).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisPersistence {
    /// `CONFIG GET appendonly`: `yes` or `no`.
    pub appendonly: Option<String>,
    /// `CONFIG GET appendfsync`: `always`, `everysec` or `no`.
    pub appendfsync: Option<String>,
}

impl RedisPersistence {
    /// Reads the settings over `conn`.
    pub fn read(conn: &mut redis::Connection) -> RedisPersistence {
        RedisPersistence {
            appendonly: config_get(conn, "appendonly"),
            appendfsync: config_get(conn, "appendfsync"),
        }
    }

    /// Whether an acknowledged write survives a crash of this server, and if not why.
    pub fn ack_durability(&self) -> AckDurability {
        let (appendonly, appendfsync) = match (&self.appendonly, &self.appendfsync) {
            (Some(a), Some(f)) => (a.as_str(), f.as_str()),
            _ => {
                return AckDurability::NotDurable {
                    why: "redis refused CONFIG GET appendonly/appendfsync; persistence unknown"
                        .into(),
                }
            }
        };
        if !appendonly.eq_ignore_ascii_case("yes") {
            return AckDurability::NotDurable {
                why: format!(
                    "redis has appendonly {appendonly}: a crash of redis loses acknowledged \
                     changes (set appendonly yes and appendfsync always)"
                ),
            };
        }
        if !appendfsync.eq_ignore_ascii_case("always") {
            return AckDurability::NotDurable {
                why: format!(
                    "redis has appendfsync {appendfsync}: a crash of redis loses recently \
                     acknowledged changes (set appendfsync always)"
                ),
            };
        }
        AckDurability::Durable
    }
}

/// `CONFIG GET name`: the value, or `None` when the server refuses or answers oddly.
fn config_get(conn: &mut redis::Connection, name: &str) -> Option<String> {
    let reply: Vec<String> = redis::cmd("CONFIG").arg("GET").arg(name).query(conn).ok()?;
    // The reply is a flat [name, value] list (a map in RESP3, flattened by the client).
    match reply.as_slice() {
        [key, value] if key.eq_ignore_ascii_case(name) => Some(value.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(appendonly: Option<&str>, appendfsync: Option<&str>) -> RedisPersistence {
        RedisPersistence {
            appendonly: appendonly.map(str::to_owned),
            appendfsync: appendfsync.map(str::to_owned),
        }
    }

    #[test]
    fn only_an_fsynced_append_only_file_makes_acks_durable() {
        assert_eq!(
            settings(Some("yes"), Some("always")).ack_durability(),
            AckDurability::Durable
        );
        for (appendonly, appendfsync, says) in [
            (Some("no"), Some("always"), "appendonly no"),
            (Some("yes"), Some("everysec"), "appendfsync everysec"),
            (Some("yes"), Some("no"), "appendfsync no"),
            (None, Some("always"), "unknown"),
            (Some("yes"), None, "unknown"),
        ] {
            match settings(appendonly, appendfsync).ack_durability() {
                AckDurability::NotDurable { why } => assert!(why.contains(says), "{why}"),
                AckDurability::Durable => panic!("{appendonly:?}/{appendfsync:?} is not durable"),
            }
        }
    }
}
