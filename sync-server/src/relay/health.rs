//! The body of `GET /healthz`: `ok`, and a second line when acknowledged changes may not survive
//! a crash of the store (`durable_acks: false (why)`). The status stays 200 either way: the
//! relay serves; whether its promise of durability holds is for the operator to read (and for
//! the `sync_durable_acks` gauge to alert on).

use crate::storage::AckDurability;

/// What `/healthz` answers for a store of this durability.
pub(crate) fn healthz_body(durability: &AckDurability) -> String {
    match durability {
        AckDurability::Durable => "ok\n".to_owned(),
        AckDurability::NotDurable { why } => format!("ok\ndurable_acks: false ({why})\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_durable_store_answers_ok_and_another_says_why_not() {
        assert_eq!(healthz_body(&AckDurability::Durable), "ok\n");
        let body = healthz_body(&AckDurability::NotDurable {
            why: "appendonly no".into(),
        });
        assert_eq!(body, "ok\ndurable_acks: false (appendonly no)\n");
    }
}
