//! How sync frames travel on a data channel: cut into messages of at most [`CHUNK_BYTES`] plus a
//! flag byte (1: more parts follow, 0: the last part), joined again on the other side, at most
//! [`MAX_FRAME_BYTES`] a frame. Browsers refuse data channel messages past 256 KiB, while a
//! catch-up `Changes` frame may be megabytes. The same layout as the browser package's
//! `chunkFrame`/`FrameAssembler` (wasm/js/webrtc.js), so native and browser peers interoperate.

/// Largest part of a frame in one data channel message (the message adds a flag byte).
pub const CHUNK_BYTES: usize = 64 << 10;

/// Largest frame reassembled (the protocol's own frame limit).
pub const MAX_FRAME_BYTES: usize = crdt_core::sync::DEFAULT_MAX_FRAME;

/// The data channel messages of one frame.
pub fn chunk_frame(frame: &[u8]) -> Vec<Vec<u8>> {
    if frame.is_empty() {
        return vec![vec![0]];
    }
    let parts = frame.chunks(CHUNK_BYTES);
    let last = parts.len() - 1;
    parts
        .enumerate()
        .map(|(i, part)| {
            let mut message = Vec::with_capacity(part.len() + 1);
            message.push(u8::from(i < last));
            message.extend_from_slice(part);
            message
        })
        .collect()
}

/// A frame past [`MAX_FRAME_BYTES`], or an empty message (no flag byte).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// The parts add up to more than the limit.
    #[error("a direct peer sent a frame over {max} bytes")]
    TooLarge {
        /// The limit.
        max: usize,
    },
    /// A message without its flag byte.
    #[error("a direct peer sent an empty data channel message")]
    Empty,
}

/// Joins the messages [`chunk_frame`] made, bounded by a maximum frame size.
#[derive(Debug)]
pub struct FrameAssembler {
    max: usize,
    frame: Vec<u8>,
}

impl Default for FrameAssembler {
    fn default() -> Self {
        FrameAssembler::new(MAX_FRAME_BYTES)
    }
}

impl FrameAssembler {
    /// An assembler refusing frames over `max` bytes.
    pub fn new(max: usize) -> Self {
        FrameAssembler {
            max,
            frame: Vec::new(),
        }
    }

    /// Takes one message; returns a whole frame once its last part came.
    pub fn push(&mut self, message: &[u8]) -> Result<Option<Vec<u8>>, FramingError> {
        let (&flag, part) = message.split_first().ok_or(FramingError::Empty)?;
        if self.frame.len() + part.len() > self.max {
            self.frame = Vec::new();
            return Err(FramingError::TooLarge { max: self.max });
        }
        self.frame.extend_from_slice(part);
        Ok((flag == 0).then(|| std::mem::take(&mut self.frame)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_through_their_parts() {
        for len in [
            0,
            1,
            CHUNK_BYTES - 1,
            CHUNK_BYTES,
            CHUNK_BYTES + 1,
            3 * CHUNK_BYTES + 5,
        ] {
            let frame: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let parts = chunk_frame(&frame);
            assert_eq!(parts.len(), len.div_ceil(CHUNK_BYTES).max(1), "{len}");
            let mut assembler = FrameAssembler::default();
            let out: Vec<_> = parts.iter().map(|p| assembler.push(p).unwrap()).collect();
            assert!(out[..out.len() - 1].iter().all(Option::is_none));
            assert_eq!(out.last().unwrap().as_deref(), Some(&frame[..]));
        }
    }

    #[test]
    fn oversized_and_empty_messages_are_refused() {
        let mut assembler = FrameAssembler::new(10);
        assert_eq!(assembler.push(&[1; 8]), Ok(None));
        assert_eq!(
            assembler.push(&[0; 8]),
            Err(FramingError::TooLarge { max: 10 })
        );
        assert_eq!(assembler.push(&[]), Err(FramingError::Empty));
        assert_eq!(assembler.push(&[0, 5]), Ok(Some(vec![5])), "starts afresh");
    }
}
