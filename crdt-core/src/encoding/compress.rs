//! The envelope of every columnar body: a format version byte, a flags byte, and the body,
//! deflated (RFC 1951, flate2 over the pure-Rust miniz_oxide backend, which builds for wasm32)
//! when that makes it smaller.
//!
//! Invariant: `unseal` never inflates more than [`MAX_RATIO`] times the compressed size nor
//! more than [`MAX_INFLATED`] bytes, so a decompression bomb costs at most that much memory and is
//! an error. `seal` only deflates bodies that stay within both limits, so every body this crate
//! writes can be read back.

use std::borrow::Cow;
use std::io::{Read, Write};

use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use flate2::Compression;

use super::column::FormatError;

/// Largest inflated/deflated size ratio accepted (deflate's own maximum is about 1032).
pub const MAX_RATIO: usize = 64;
/// Largest inflated body accepted, in bytes.
pub const MAX_INFLATED: usize = 256 << 20;

/// Flag bit: the body is deflated.
const DEFLATED: u8 = 1;

/// The deflate level `seal` writes with: miniz_oxide's fastest (level 1, greedy parsing, one
/// probe per hash chain). On the automerge-paper trace it deflates a snapshot about twice as fast
/// as level 3 did, for bodies about 15% larger (103,296 -> 119,148 bytes for the `Text`
/// snapshot, 81,427 -> 94,559 for its full ops batch). Readers accept any level: bytes written
/// at level 3 still load (`tests/format_compat.rs`).
const LEVEL: Compression = Compression::fast();

/// Bodies shorter than this are stored raw without trying deflate: on a few dozen bytes it
/// saves little, and setting up a compressor costs far more than the body (miniz_oxide zeroes
/// about 170 KiB of tables per stream, which made a relay fanning out one small change per
/// keystroke spend most of its time in `memset` and page faults).
pub const MIN_DEFLATE: usize = 256;

/// Wraps `raw` in the envelope for format `version`, deflating it when that is smaller (never
/// when it is shorter than [`MIN_DEFLATE`]).
pub(crate) fn seal(version: u8, raw: &[u8]) -> Vec<u8> {
    if raw.len() < MIN_DEFLATE {
        return stored(version, raw);
    }
    let mut out = Vec::with_capacity(2 + raw.len() / 2);
    out.push(version);
    out.push(DEFLATED);
    let deflated = {
        let mut enc = DeflateEncoder::new(out, LEVEL);
        // Writing into a Vec cannot fail.
        enc.write_all(raw).and_then(|()| enc.finish()).ok()
    };
    match deflated {
        Some(d)
            if d.len() - 2 < raw.len()
                && raw.len() <= MAX_INFLATED
                && raw.len() <= (d.len() - 2).saturating_mul(MAX_RATIO) =>
        {
            d
        }
        _ => stored(version, raw),
    }
}

/// The envelope holding `raw` as it is.
fn stored(version: u8, raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + raw.len());
    out.push(version);
    out.push(0);
    out.extend_from_slice(raw);
    out
}

/// Opens an envelope made by `seal` for format `version`: the raw body, inflated within the
/// limits of the module docs.
pub(crate) fn unseal(version: u8, bytes: &[u8]) -> Result<Cow<'_, [u8]>, FormatError> {
    let [v, flags, body @ ..] = bytes else {
        return Err(FormatError::Truncated("envelope header"));
    };
    if *v != version {
        return Err(FormatError::UnsupportedVersion(*v));
    }
    match *flags {
        0 => Ok(Cow::Borrowed(body)),
        DEFLATED => {
            let limit = body.len().saturating_mul(MAX_RATIO).min(MAX_INFLATED);
            let mut out = Vec::new();
            DeflateDecoder::new(body)
                .take(limit as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|_| FormatError::Deflate)?;
            if out.len() > limit {
                return Err(FormatError::InflateLimit(limit));
            }
            Ok(Cow::Owned(out))
        }
        f => Err(FormatError::UnknownFlags(f)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_or_random_bodies_stay_raw_and_text_is_deflated() {
        let tiny = seal(7, b"ab");
        assert_eq!(tiny, [7, 0, b'a', b'b']);
        assert_eq!(unseal(7, &tiny).unwrap().as_ref(), b"ab");
        let text = "the quick brown fox jumps over the lazy dog. ".repeat(20);
        let sealed = seal(7, text.as_bytes());
        assert_eq!(sealed[1], DEFLATED);
        assert!(sealed.len() < text.len() / 4);
        assert_eq!(unseal(7, &sealed).unwrap().as_ref(), text.as_bytes());
        assert_eq!(unseal(8, &sealed), Err(FormatError::UnsupportedVersion(7)));
        assert_eq!(
            unseal(7, &[7]),
            Err(FormatError::Truncated("envelope header"))
        );
        assert_eq!(unseal(7, &[7, 4]), Err(FormatError::UnknownFlags(4)));
        // Compressible but short: kept raw, as deflate costs more than it saves.
        let short = "ab".repeat(MIN_DEFLATE / 2 - 1);
        assert_eq!(seal(7, short.as_bytes())[1], 0);
        assert_eq!(
            seal(7, "ab".repeat(MIN_DEFLATE / 2).as_bytes())[1],
            DEFLATED
        );
    }

    #[test]
    fn bodies_beyond_the_ratio_are_stored_raw_and_read_back() {
        let zeros = vec![0u8; 1 << 20];
        let sealed = seal(1, &zeros);
        // Deflate would shrink this ~1000x, past MAX_RATIO: the encoder keeps what it can read.
        let back = unseal(1, &sealed).unwrap();
        assert_eq!(back.len(), zeros.len());
    }

    #[test]
    fn decompression_bombs_are_refused() {
        // 4 MiB of zeros deflated: about 4 KiB, a ratio near 1000.
        let mut enc = DeflateEncoder::new(vec![1, DEFLATED], Compression::best());
        enc.write_all(&vec![0u8; 4 << 20]).unwrap();
        let bomb = enc.finish().unwrap();
        assert!(bomb.len() < (4 << 20) / MAX_RATIO);
        assert!(matches!(
            unseal(1, &bomb),
            Err(FormatError::InflateLimit(_))
        ));
        // Corrupt streams are errors too.
        assert_eq!(
            unseal(1, &[1, DEFLATED, 0xff, 0xff, 0xff]),
            Err(FormatError::Deflate)
        );
    }
}
