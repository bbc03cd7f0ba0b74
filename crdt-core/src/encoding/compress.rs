//! The envelope of every columnar body: a format version byte, a flags byte, and the body,
//! deflated (RFC 1951, with miniz_oxide, the pure-Rust deflate that flate2 wraps; it builds for
//! wasm32) when that makes it smaller. miniz_oxide is called directly, not through flate2, so the
//! bytes do not depend on which backend another crate of the build selects for flate2 (Automerge
//! switches it to zlib-rs, which made the side-by-side benches measure a codec we do not ship).
//!
//! Invariant: `unseal` never inflates more than [`MAX_RATIO`] times the bytes of the deflate
//! stream, nor more than [`MAX_INFLATED`] bytes, nor more than the message's decoding budget
//! (`DecodeBudget`, see [`DECODE_RATIO`](super::DECODE_RATIO)) has left (the inflated bytes are
//! charged to it), so a decompression bomb costs at most that much memory and is an error. The stream must end exactly where the body
//! ends: bytes after it (zero padding that would otherwise count as compressed input and raise
//! the ratio allowed) are an error, [`FormatError::TrailingBytes`]. `seal` only deflates bodies
//! that stay within the ratio and size limits, so every body this crate writes can be read back
//! (within the budget of its own size).

use std::borrow::Cow;

use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};
use miniz_oxide::inflate::TINFLStatus;

use super::budget::DecodeBudget;
use super::column::FormatError;

/// Largest inflated/deflated size ratio accepted (deflate's own maximum is about 1032).
pub const MAX_RATIO: usize = 64;
/// Largest inflated body accepted, in bytes.
pub const MAX_INFLATED: usize = 256 << 20;

/// Flag bit: the body is deflated.
const DEFLATED: u8 = 1;

/// The deflate level `seal` writes with. Level 1 deflates the automerge-paper snapshot about
/// twice as fast, but makes every stored and synced body 15-23% larger (103,296 -> 119,148 bytes
/// for the `Text` snapshot; 101,677 -> 126,350 for a `Doc`'s changes); for a sync library the
/// bytes on the wire and on disk weigh more than a few milliseconds of whole-history encoding,
/// so this stays at 3. Readers accept any level (`tests/format_compat.rs`).
const LEVEL: u8 = 3;

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
    let deflated = miniz_oxide::deflate::compress_to_vec(raw, LEVEL);
    if deflated.len() < raw.len()
        && raw.len() <= MAX_INFLATED
        && raw.len() <= deflated.len().saturating_mul(MAX_RATIO)
    {
        let mut out = Vec::with_capacity(2 + deflated.len());
        out.push(version);
        out.push(DEFLATED);
        out.extend_from_slice(&deflated);
        out
    } else {
        stored(version, raw)
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
/// limits of the module docs and charged to `budget`.
pub(crate) fn unseal<'a>(
    version: u8,
    bytes: &'a [u8],
    budget: &mut DecodeBudget,
) -> Result<Cow<'a, [u8]>, FormatError> {
    let [v, flags, body @ ..] = bytes else {
        return Err(FormatError::Truncated("envelope header"));
    };
    if *v != version {
        return Err(FormatError::UnsupportedVersion(*v));
    }
    match *flags {
        0 => Ok(Cow::Borrowed(body)),
        DEFLATED => {
            let ratio_limit = body.len().saturating_mul(MAX_RATIO).min(MAX_INFLATED);
            let budget_bound = budget.left() < ratio_limit;
            let out = inflate_exact(body, ratio_limit.min(budget.left())).map_err(|e| match e {
                FormatError::InflateLimit(_) if budget_bound => budget.exceeded("inflated body"),
                other => other,
            })?;
            budget.charge(out.len(), "inflated body")?;
            Ok(Cow::Owned(out))
        }
        f => Err(FormatError::UnknownFlags(f)),
    }
}

/// Inflates the raw deflate stream `body` into at most `limit` bytes; the stream must end with
/// the last byte of `body`.
fn inflate_exact(mut body: &[u8], limit: usize) -> Result<Vec<u8>, FormatError> {
    // Not `decompress_to_vec_with_limit`: it does not say how much input the stream took.
    let flags = inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
    // A first guess of four times the stream: our columnar bodies inflate to two to four times
    // their deflated size, and each doubling past the guess zeroes and copies what came before.
    let mut out = vec![0; body.len().saturating_mul(4).clamp(64, limit.max(64))];
    let mut state = Box::<DecompressorOxide>::default();
    let mut written = 0;
    loop {
        let (status, consumed, produced) = decompress(&mut state, body, &mut out, written, flags);
        written += produced;
        // `consumed` never exceeds the input; `get` keeps that from being a panic path.
        body = body.get(consumed..).ok_or(FormatError::Deflate)?;
        match status {
            TINFLStatus::Done if body.is_empty() => {
                out.truncate(written);
                return Ok(out);
            }
            TINFLStatus::Done => return Err(FormatError::TrailingBytes("deflate stream")),
            TINFLStatus::HasMoreOutput if out.len() < limit => {
                let grown = out.len().saturating_mul(2).min(limit);
                out.resize(grown, 0);
            }
            TINFLStatus::HasMoreOutput => return Err(FormatError::InflateLimit(limit)),
            _ => return Err(FormatError::Deflate),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_or_random_bodies_stay_raw_and_text_is_deflated() {
        let tiny = seal(7, b"ab");
        assert_eq!(tiny, [7, 0, b'a', b'b']);
        let budget = &mut DecodeBudget::for_input(1 << 20);
        assert_eq!(unseal(7, &tiny, budget).unwrap().as_ref(), b"ab");
        let text = "the quick brown fox jumps over the lazy dog. ".repeat(20);
        let sealed = seal(7, text.as_bytes());
        assert_eq!(sealed[1], DEFLATED);
        assert!(sealed.len() < text.len() / 4);
        assert_eq!(
            unseal(7, &sealed, budget).unwrap().as_ref(),
            text.as_bytes()
        );
        assert_eq!(
            unseal(8, &sealed, budget),
            Err(FormatError::UnsupportedVersion(7))
        );
        assert_eq!(
            unseal(7, &[7], budget),
            Err(FormatError::Truncated("envelope header"))
        );
        assert_eq!(
            unseal(7, &[7, 4], budget),
            Err(FormatError::UnknownFlags(4))
        );
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
        let back = unseal(1, &sealed, &mut DecodeBudget::for_input(sealed.len())).unwrap();
        assert_eq!(back.len(), zeros.len());
    }

    #[test]
    fn decompression_bombs_are_refused() {
        // 4 MiB of zeros deflated: about 4 KiB, a ratio near 1000.
        let mut bomb = vec![1, DEFLATED];
        bomb.extend(miniz_oxide::deflate::compress_to_vec(
            &vec![0u8; 4 << 20],
            10,
        ));
        assert!(bomb.len() < (4 << 20) / MAX_RATIO);
        let budget = &mut DecodeBudget::for_input(1 << 30);
        assert!(matches!(
            unseal(1, &bomb, budget),
            Err(FormatError::InflateLimit(_))
        ));
        // Corrupt streams are errors too.
        assert_eq!(
            unseal(1, &[1, DEFLATED, 0xff, 0xff, 0xff], budget),
            Err(FormatError::Deflate)
        );
    }

    /// `n` pseudo-random letters of four: deflate shrinks them about four times.
    fn letters(n: usize) -> Vec<u8> {
        let mut x: u32 = 12345;
        (0..n)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                b'a' + (x >> 29) as u8 % 4
            })
            .collect()
    }

    #[test]
    fn padding_after_the_stream_is_refused_not_counted() {
        // 512 KiB of zeros deflates to about half a KiB: past the ratio. Padding the body with
        // zeros up to 16 KiB used to raise the limit to 1 MiB and let it through.
        let stream = miniz_oxide::deflate::compress_to_vec(&vec![0u8; 512 << 10], 10);
        let mut padded = vec![1, DEFLATED];
        padded.extend_from_slice(&stream);
        padded.resize(16 << 10, 0);
        let budget = &mut DecodeBudget::for_input(padded.len());
        assert_eq!(
            unseal(1, &padded, budget),
            Err(FormatError::TrailingBytes("deflate stream"))
        );
        // Without padding it is past the ratio.
        let mut bare = vec![1, DEFLATED];
        bare.extend_from_slice(&stream);
        assert!(matches!(
            unseal(1, &bare, &mut DecodeBudget::for_input(1 << 20)),
            Err(FormatError::InflateLimit(_))
        ));
        // A sealed body takes its stream exactly, whatever its length.
        for n in [300, 4096, 100_000] {
            let text = letters(n);
            let sealed = seal(1, &text);
            assert_eq!(sealed[1], DEFLATED);
            let mut budget = DecodeBudget::for_input(sealed.len());
            assert_eq!(unseal(1, &sealed, &mut budget).unwrap().as_ref(), &text[..]);
            assert_eq!(
                budget.left(),
                DecodeBudget::for_input(sealed.len()).left() - n
            );
        }
    }

    #[test]
    fn inflating_is_charged_to_the_budget() {
        let text = letters(32_000);
        let sealed = seal(1, &text);
        assert_eq!(sealed[1], DEFLATED);
        let mut budget = DecodeBudget::for_input(sealed.len());
        budget
            .charge(budget.left() - text.len() + 1, "earlier values")
            .unwrap();
        assert!(matches!(
            unseal(1, &sealed, &mut budget),
            Err(FormatError::BudgetExceeded { .. })
        ));
    }
}
