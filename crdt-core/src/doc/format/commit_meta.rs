//! The columns of a change batch that carry each change's [`CommitMeta`] (commit message and
//! wall-clock time), added in format 5. They follow the op columns in
//! [`changes`](super::changes):
//!
//! | column | per | value | encoding |
//! |---|---|---|---|
//! | `meta_flags` | change | `has_message << 1 \| has_time` | run-length |
//! | `meta_times` | change with a time | time minus the previous such change's time | zigzag varint |
//! | `meta_messages` | change with a message | the message | length-prefixed UTF-8 |
//!
//! A batch of changes without metadata (the common case: keystroke commits) costs one run of
//! zeros and two empty columns.
//!
//! Invariant of the reader: a message's claimed length is checked against the bytes left in its
//! column before anything is read, and its bytes are charged to the batch's [`DecodeBudget`]
//! before they are copied, so a hostile length allocates nothing. Each time consumes at least a
//! byte of its plain column, so the loop over changes is bounded by the input.

use crate::doc::CommitMeta;
use crate::encoding::budget::DecodeBudget;
use crate::encoding::column::{
    add_delta, delta, put_bytes, put_i64, ColumnReader, RleReader, RleWriter,
};
use crate::encoding::DecodeError;

const HAS_TIME: u64 = 1;
const HAS_MESSAGE: u64 = 2;

/// Builds the metadata columns of a batch, one change at a time.
#[derive(Default)]
pub(crate) struct MetaWriter {
    flags: RleWriter,
    times: Vec<u8>,
    last_time: u64,
    messages: Vec<u8>,
}

impl MetaWriter {
    /// Records the metadata of the next change.
    pub(crate) fn push(&mut self, meta: Option<&CommitMeta>) {
        let Some(meta) = meta else {
            self.flags.push(0);
            return;
        };
        let mut flags = 0;
        if let Some(time) = meta.time {
            flags |= HAS_TIME;
            put_i64(&mut self.times, delta(time, self.last_time));
            self.last_time = time;
        }
        if let Some(message) = &meta.message {
            flags |= HAS_MESSAGE;
            put_bytes(&mut self.messages, message.as_bytes());
        }
        self.flags.push(flags);
    }

    /// Appends the three columns to `raw`, each length-prefixed.
    pub(crate) fn finish(self, raw: &mut Vec<u8>) {
        put_bytes(raw, &self.flags.finish());
        put_bytes(raw, &self.times);
        put_bytes(raw, &self.messages);
    }
}

/// Reads the metadata columns of a batch, one change at a time.
pub(crate) struct MetaReader<'a> {
    flags: RleReader<'a>,
    times: ColumnReader<'a>,
    last_time: u64,
    messages: ColumnReader<'a>,
}

impl<'a> MetaReader<'a> {
    /// Takes the three columns from `r`; `changes` is the batch's change count.
    pub(crate) fn new(r: &mut ColumnReader<'a>, changes: usize) -> Result<Self, DecodeError> {
        Ok(MetaReader {
            flags: RleReader::new(r.bytes("meta flags")?, "meta flags").expecting(changes),
            times: ColumnReader::new(r.bytes("meta times")?),
            last_time: 0,
            messages: ColumnReader::new(r.bytes("meta messages")?),
        })
    }

    /// The metadata of the next change, charged to `budget`.
    pub(crate) fn next(
        &mut self,
        budget: &mut DecodeBudget,
    ) -> Result<Option<Box<CommitMeta>>, DecodeError> {
        let flags = self.flags.next_value()?;
        if flags == 0 {
            return Ok(None);
        }
        if flags > (HAS_TIME | HAS_MESSAGE) {
            return Err(DecodeError::Malformed("unknown commit metadata flags"));
        }
        budget.charge_values::<CommitMeta>(1, 0, "commit metadata")?;
        let time = if flags & HAS_TIME != 0 {
            let time = add_delta(self.last_time, self.times.i64("meta times")?);
            self.last_time = time;
            Some(time)
        } else {
            None
        };
        let message = if flags & HAS_MESSAGE != 0 {
            // `bytes` checks the claimed length against the column before reading it.
            let bytes = self.messages.bytes("commit message")?;
            let text = std::str::from_utf8(bytes)
                .map_err(|_| DecodeError::Malformed("commit message is not UTF-8"))?;
            budget.charge(text.len(), "commit message")?;
            Some(text.to_owned())
        } else {
            None
        };
        Ok(Some(Box::new(CommitMeta { message, time })))
    }

    /// Errors unless every column was read exactly.
    pub(crate) fn finish(&self) -> Result<(), DecodeError> {
        self.flags.finish()?;
        self.times.finish("meta times")?;
        self.messages.finish("meta messages")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::column::{put_u64, FormatError};

    /// The three columns of one change whose flags are `flags`, with `times` and `messages` as
    /// given, length-prefixed as a batch holds them.
    fn columns(flags: u64, times: &[u8], messages: &[u8]) -> Vec<u8> {
        let mut flag_column = RleWriter::default();
        flag_column.push(flags);
        let mut raw = Vec::new();
        put_bytes(&mut raw, &flag_column.finish());
        put_bytes(&mut raw, times);
        put_bytes(&mut raw, messages);
        raw
    }

    fn read_one(
        raw: &[u8],
        budget: &mut DecodeBudget,
    ) -> Result<Option<Box<CommitMeta>>, DecodeError> {
        let mut r = ColumnReader::new(raw);
        let mut reader = MetaReader::new(&mut r, 1)?;
        let meta = reader.next(budget)?;
        reader.finish()?;
        Ok(meta)
    }

    #[test]
    fn metadata_round_trips_with_deltas_between_times() {
        let metas = [
            Some(CommitMeta {
                message: Some("first".into()),
                time: Some(1_700_000_000_000),
            }),
            None,
            Some(CommitMeta {
                message: None,
                time: Some(1_699_999_999_000),
            }),
            Some(CommitMeta {
                message: Some(String::new()),
                time: None,
            }),
        ];
        let mut writer = MetaWriter::default();
        for meta in &metas {
            writer.push(meta.as_ref());
        }
        let mut raw = Vec::new();
        writer.finish(&mut raw);
        let mut r = ColumnReader::new(&raw);
        let mut reader = MetaReader::new(&mut r, metas.len()).unwrap();
        let budget = &mut DecodeBudget::for_input(raw.len());
        for meta in &metas {
            assert_eq!(reader.next(budget).unwrap().map(|b| *b), *meta);
        }
        assert!(reader.finish().is_ok());
    }

    #[test]
    fn a_huge_claimed_message_length_is_refused_before_anything_is_charged() {
        let mut messages = Vec::new();
        put_u64(&mut messages, 1 << 60);
        messages.extend_from_slice(b"hi");
        let raw = columns(HAS_MESSAGE, &[], &messages);
        let mut budget = DecodeBudget::for_input(raw.len());
        let before = budget.left() - std::mem::size_of::<CommitMeta>();
        assert!(matches!(
            read_one(&raw, &mut budget),
            Err(DecodeError::Format(FormatError::CountTooLarge { claimed, .. })) if claimed == 1 << 60
        ));
        assert_eq!(
            budget.left(),
            before,
            "no message bytes were charged (nor allocated)"
        );
    }

    #[test]
    fn hostile_metadata_columns_are_typed_errors() {
        // Unknown flags.
        assert!(matches!(
            read_one(&columns(4, &[], &[]), &mut DecodeBudget::for_input(64)),
            Err(DecodeError::Malformed(_))
        ));
        // A time flag without a time.
        assert!(matches!(
            read_one(
                &columns(HAS_TIME, &[], &[]),
                &mut DecodeBudget::for_input(64)
            ),
            Err(DecodeError::Format(FormatError::Truncated(_)))
        ));
        // A message that is not UTF-8.
        assert!(matches!(
            read_one(
                &columns(HAS_MESSAGE, &[], &[2, 0xff, 0xfe]),
                &mut DecodeBudget::for_input(64)
            ),
            Err(DecodeError::Malformed(_))
        ));
        // Bytes left over in a column.
        assert!(read_one(
            &columns(HAS_TIME, &[2, 2], &[]),
            &mut DecodeBudget::for_input(64)
        )
        .is_err());
        // A message beyond the budget.
        let mut big = Vec::new();
        put_bytes(&mut big, &[b'x'; 100]);
        let mut tiny = DecodeBudget::for_input(0);
        assert!(matches!(
            read_one(&columns(HAS_MESSAGE, &[], &big), &mut tiny),
            Err(DecodeError::Format(FormatError::BudgetExceeded { .. }))
        ));
    }
}
