//! [`DecodeBudget`]: how much one message may cost to decode, derived from the bytes received.
//!
//! A decoder must not let bytes claim work: a run-length column can repeat a value for free, and
//! deflate multiplies bytes by up to about a thousand, so counts checked only against the bytes
//! present still let a small message decode into gigabytes (issue #17: a 61 KiB batch of
//! run-length map deletes took 797 MB). So every decoder of a message charges one budget, fixed
//! when the message arrives, for everything it produces: the bytes it inflates and the memory of
//! every value it decodes (the size of the value and the heap bytes it owns). Running out is a
//! [`FormatError::BudgetExceeded`], before the allocation it would have paid for.
//!
//! The budget is [`DECODE_RATIO`] times the bytes received, and never more than [`MAX_DECODED`].
//! The ratio is what honest documents need, measured, and it is large because deflate and the
//! columns are good at what people do: a change per keystroke costs about half a byte on the wire
//! when typing prose (a document fed the first 60,000 edits of the automerge-paper trace holds
//! 577 bytes per byte of the batch), and typing a repetitive text then backspacing it all (the
//! `typing_costs_about_a_byte_per_change` test) decodes to about 8,700 times its bytes. So the
//! ratio alone does not keep a large message small, [`MAX_DECODED`] does: no message, honest or
//! not, decodes into more than 256 MiB (a message at the relay's 4 MiB frame limit used to ask for
//! 36 GB and abort the relay). The attack that found this costs far less now, because the other
//! half of the rule holds too: the inflated body may be at most 64 times the deflate stream, and
//! bytes after the stream are an error ([`compress`](super::compress)), so the 61 KiB map-delete
//! bomb that took 797 MB is refused after inflating 4 MB (`crdt-core/tests/decode_bombs.rs`).
//!
//! Invariant: the sum of all charges of one budget never exceeds its limit; a decoder charges
//! before it allocates what it charges for.

use super::column::FormatError;

/// Bytes a message may decode into, per byte received.
pub const DECODE_RATIO: usize = 16 << 10;

/// The most any one message may decode into, whatever its size: 256 MiB.
pub const MAX_DECODED: usize = 256 << 20;

/// What is left of one message's decoding budget; see the [module docs](self).
#[derive(Clone, Debug)]
pub(crate) struct DecodeBudget {
    limit: usize,
    left: usize,
}

impl DecodeBudget {
    /// The budget of a message of `received` bytes.
    pub(crate) fn for_input(received: usize) -> Self {
        let limit = received.saturating_mul(DECODE_RATIO).min(MAX_DECODED);
        DecodeBudget { limit, left: limit }
    }

    /// Bytes not charged yet.
    pub(crate) fn left(&self) -> usize {
        self.left
    }

    /// Takes `bytes` from the budget, or fails (charging nothing) when fewer are left.
    pub(crate) fn charge(&mut self, bytes: usize, what: &'static str) -> Result<(), FormatError> {
        match self.left.checked_sub(bytes) {
            Some(left) => {
                self.left = left;
                Ok(())
            }
            None => Err(self.exceeded(what)),
        }
    }

    /// The error for running out while decoding `what`.
    pub(crate) fn exceeded(&self, what: &'static str) -> FormatError {
        FormatError::BudgetExceeded {
            what,
            limit: self.limit,
        }
    }

    /// Charges `n` values of type `T` (their inline size), plus `heap` bytes they own.
    pub(crate) fn charge_values<T>(
        &mut self,
        n: usize,
        heap: usize,
        what: &'static str,
    ) -> Result<(), FormatError> {
        let bytes = n
            .saturating_mul(std::mem::size_of::<T>())
            .saturating_add(heap);
        self.charge(bytes, what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_stop_at_the_limit_and_fail_whole() {
        let mut b = DecodeBudget::for_input(2);
        assert_eq!(b.left(), 2 * DECODE_RATIO);
        assert_eq!(b.charge(DECODE_RATIO, "a"), Ok(()));
        assert_eq!(
            b.charge(DECODE_RATIO + 1, "b"),
            Err(FormatError::BudgetExceeded {
                what: "b",
                limit: 2 * DECODE_RATIO
            })
        );
        // A refused charge takes nothing.
        assert_eq!(b.left(), DECODE_RATIO);
        assert!(b.charge_values::<u64>(DECODE_RATIO / 8, 0, "c").is_ok());
        assert_eq!(b.left(), 0);
        assert!(b.charge_values::<u64>(usize::MAX, usize::MAX, "d").is_err());
        assert_eq!(DecodeBudget::for_input(usize::MAX).left(), MAX_DECODED);
    }
}
