//! What a sequence holds: the [`Content`] trait for a run of consecutive elements, and its two
//! implementations, [`TextContent`] (Unicode scalar values of a string) and [`ListContent`]
//! (arbitrary values).
//!
//! The engine never looks inside content; it only needs lengths, splitting and concatenation. A
//! leaf of the tree keeps the concatenated content of its live runs in one `Content` value, so
//! typing never allocates per character and deleted runs keep no content at all.
//!
//! Invariant kept by every implementation: `len()` and `utf16_len()` are O(1), and all offsets
//! are element offsets (chars for text), never bytes.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A run of sequence elements: the unit the engine stores, splits and sends.
///
/// Offsets are in elements. Methods taking offsets may assume them in range (the engine checks
/// positions before calling); implementations clamp rather than panic where that is cheap.
pub trait Content: Clone + Default + fmt::Debug + Serialize + DeserializeOwned {
    /// Number of elements (Unicode scalar values for text).
    fn len(&self) -> usize;

    /// True when the run holds no element.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Length in UTF-16 code units (equal to [`Content::len`] for non-text content).
    fn utf16_len(&self) -> usize;

    /// Splits at element offset `at`: `self` keeps `[..at]`, the result holds `[at..]`.
    fn split_off(&mut self, at: usize) -> Self;

    /// Appends `other` at the end (run-length extension).
    fn append(&mut self, other: &Self);

    /// Inserts `other` before element offset `at`.
    fn insert(&mut self, at: usize, other: &Self);

    /// Removes elements `start..end`.
    fn remove(&mut self, start: usize, end: usize);

    /// A copy of elements `start..end`.
    fn slice(&self, start: usize, end: usize) -> Self;

    /// UTF-16 length of the first `pos` elements.
    fn utf16_offset(&self, pos: usize) -> usize;

    /// The element offset whose UTF-16 offset is exactly `utf16`, or `None` when `utf16` falls
    /// inside an element (the middle of a surrogate pair) or past the end.
    fn offset_of_utf16(&self, utf16: usize) -> Option<usize>;

    /// Cuts the content into consecutive pieces of the given lengths (the last pieces come out
    /// short or empty if the content runs out). Must be linear in the total length; the default
    /// slices piece by piece, which is linear when [`Content::slice`] is O(piece).
    fn split_into(&self, lens: &[usize]) -> Vec<Self> {
        let mut at = 0usize;
        lens.iter()
            .map(|&n| {
                let end = at.saturating_add(n).min(self.len());
                let piece = self.slice(at.min(end), end);
                at = end;
                piece
            })
            .collect()
    }
}

/// Text content: a string whose elements are Unicode scalar values (Rust `char`s).
///
/// Keeps its char and UTF-16 lengths alongside the string so both are O(1). Serialized as a
/// plain string.
///
/// ```
/// use crdt_core::seq::{Content, TextContent};
///
/// let mut t = TextContent::from("héllo");
/// assert_eq!((t.len(), t.utf16_len()), (5, 5));
/// let tail = t.split_off(2);
/// assert_eq!((t.as_str(), tail.as_str()), ("hé", "llo"));
/// t.insert(1, &TextContent::from("😀"));
/// assert_eq!((t.as_str(), t.len(), t.utf16_len()), ("h😀é", 3, 4));
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct TextContent {
    text: String,
    chars: usize,
    utf16: usize,
}

/// Spare bytes a text content may keep beyond twice its length before it gives them back.
const SPARE_KEPT: usize = 256;

impl TextContent {
    /// The text as a string slice.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Bytes allocated for the string (its capacity), for memory accounting.
    pub fn capacity(&self) -> usize {
        self.text.capacity()
    }

    /// Consumes the content, returning its string.
    pub fn into_string(self) -> String {
        self.text
    }

    /// Empties the content, keeping its buffer.
    pub fn clear(&mut self) {
        self.text.clear();
        self.chars = 0;
        self.utf16 = 0;
    }

    /// Gives back the buffer's room beyond `kept` bytes, when it has more (the text stays).
    pub(crate) fn shrink_to(&mut self, kept: usize) {
        if self.text.capacity() > kept {
            self.text.shrink_to(kept);
        }
    }

    /// Gives back the buffer's spare room when it is much larger than the text, as it is in a
    /// leaf that held a long paste and then lost most of it to deletes or a split: a tree
    /// keeps hundreds of leaves, and their unused capacity would outweigh the live text.
    fn trim_spare(&mut self) {
        let len = self.text.len();
        if self.text.capacity() > 2 * len + SPARE_KEPT {
            self.text.shrink_to(len + SPARE_KEPT / 2);
        }
    }

    /// Appends a string slice (no intermediate allocation).
    pub fn push_str(&mut self, s: &str) {
        let (chars, utf16) = counts(s);
        self.text.push_str(s);
        self.chars += chars;
        self.utf16 += utf16;
    }

    /// Replaces the content by `s`, keeping the buffer (a scratch content reused for each
    /// edit allocates only when it grows).
    pub(crate) fn assign(&mut self, s: &str) {
        self.clear();
        self.push_str(s);
    }

    /// Inserts a string slice before char offset `at`.
    pub fn insert_str(&mut self, at: usize, s: &str) {
        let (chars, utf16) = counts(s);
        let byte = self.byte_of(at);
        self.text.insert_str(byte, s);
        self.chars += chars;
        self.utf16 += utf16;
    }

    /// True when every char is one byte (then char, byte and UTF-16 offsets coincide).
    fn is_ascii_fast(&self) -> bool {
        self.text.len() == self.chars
    }

    /// Byte offset of char offset `at` (clamped to the end).
    fn byte_of(&self, at: usize) -> usize {
        if self.is_ascii_fast() {
            return at.min(self.text.len());
        }
        if at >= self.chars {
            return self.text.len();
        }
        self.text
            .char_indices()
            .nth(at)
            .map_or(self.text.len(), |(i, _)| i)
    }
}

/// (chars, UTF-16 units) of a string; ASCII strings take the fast path.
fn counts(s: &str) -> (usize, usize) {
    if s.is_ascii() {
        (s.len(), s.len())
    } else {
        s.chars()
            .fold((0, 0), |(c, u), ch| (c + 1, u + ch.len_utf16()))
    }
}

impl From<&str> for TextContent {
    fn from(s: &str) -> Self {
        let (chars, utf16) = counts(s);
        TextContent {
            text: s.to_owned(),
            chars,
            utf16,
        }
    }
}

impl From<String> for TextContent {
    fn from(text: String) -> Self {
        let (chars, utf16) = counts(&text);
        TextContent { text, chars, utf16 }
    }
}

impl fmt::Debug for TextContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text, f)
    }
}

impl fmt::Display for TextContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for TextContent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for TextContent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(TextContent::from)
    }
}

impl Content for TextContent {
    fn len(&self) -> usize {
        self.chars
    }

    fn utf16_len(&self) -> usize {
        self.utf16
    }

    fn split_off(&mut self, at: usize) -> Self {
        let byte = self.byte_of(at);
        let tail = TextContent::from(self.text.split_off(byte));
        self.chars -= tail.chars;
        self.utf16 -= tail.utf16;
        self.trim_spare();
        tail
    }

    fn append(&mut self, other: &Self) {
        self.text.push_str(&other.text);
        self.chars += other.chars;
        self.utf16 += other.utf16;
    }

    fn insert(&mut self, at: usize, other: &Self) {
        let byte = self.byte_of(at);
        self.text.insert_str(byte, &other.text);
        self.chars += other.chars;
        self.utf16 += other.utf16;
    }

    fn remove(&mut self, start: usize, end: usize) {
        if start >= end {
            return;
        }
        let (b0, b1) = (self.byte_of(start), self.byte_of(end));
        let (chars, utf16) = counts(&self.text[b0..b1]);
        self.text.replace_range(b0..b1, "");
        self.chars -= chars;
        self.utf16 -= utf16;
        self.trim_spare();
    }

    fn slice(&self, start: usize, end: usize) -> Self {
        let (b0, b1) = (self.byte_of(start), self.byte_of(end.max(start)));
        TextContent::from(&self.text[b0..b1])
    }

    fn split_into(&self, lens: &[usize]) -> Vec<Self> {
        // One forward walk over the chars: linear even for non-ASCII text.
        let mut out = Vec::with_capacity(lens.len());
        let mut chars = self
            .text
            .char_indices()
            .map(|(i, _)| i)
            .chain([self.text.len()]);
        let mut start = chars.next().unwrap_or(0);
        for &n in lens {
            let mut end = start;
            for _ in 0..n {
                match chars.next() {
                    Some(b) => end = b,
                    None => break,
                }
            }
            out.push(TextContent::from(&self.text[start..end]));
            start = end;
        }
        out
    }

    fn utf16_offset(&self, pos: usize) -> usize {
        if self.is_ascii_fast() {
            return pos.min(self.chars);
        }
        self.text.chars().take(pos).map(char::len_utf16).sum()
    }

    fn offset_of_utf16(&self, utf16: usize) -> Option<usize> {
        if utf16 > self.utf16 {
            return None;
        }
        if self.is_ascii_fast() {
            return Some(utf16);
        }
        let mut units = 0;
        for (i, ch) in self.text.chars().enumerate() {
            if units == utf16 {
                return Some(i);
            }
            units += ch.len_utf16();
            if units > utf16 {
                return None;
            }
        }
        (units == utf16).then_some(self.chars)
    }
}

/// List content: a run of arbitrary values. Serialized as a plain sequence.
///
/// ```
/// use crdt_core::seq::{Content, ListContent};
///
/// let mut l = ListContent(vec![1, 2, 3]);
/// l.insert(1, &ListContent(vec![9]));
/// assert_eq!(l.0, vec![1, 9, 2, 3]);
/// assert_eq!(l.utf16_len(), 4);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ListContent<T>(pub Vec<T>);

impl<T> Default for ListContent<T> {
    fn default() -> Self {
        ListContent(Vec::new())
    }
}

impl<T: Clone + fmt::Debug + Serialize + DeserializeOwned> Content for ListContent<T> {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn utf16_len(&self) -> usize {
        self.0.len()
    }

    fn split_off(&mut self, at: usize) -> Self {
        ListContent(self.0.split_off(at.min(self.0.len())))
    }

    fn append(&mut self, other: &Self) {
        self.0.extend_from_slice(&other.0);
    }

    fn insert(&mut self, at: usize, other: &Self) {
        let at = at.min(self.0.len());
        self.0.splice(at..at, other.0.iter().cloned());
    }

    fn remove(&mut self, start: usize, end: usize) {
        let end = end.min(self.0.len());
        if start < end {
            self.0.drain(start..end);
        }
    }

    fn slice(&self, start: usize, end: usize) -> Self {
        let end = end.min(self.0.len());
        ListContent(self.0.get(start..end).map_or_else(Vec::new, <[T]>::to_vec))
    }

    fn utf16_offset(&self, pos: usize) -> usize {
        pos.min(self.0.len())
    }

    fn offset_of_utf16(&self, utf16: usize) -> Option<usize> {
        (utf16 <= self.0.len()).then_some(utf16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_counts_and_edits() {
        let mut t = TextContent::from("a😀b");
        assert_eq!((t.len(), t.utf16_len()), (3, 4));
        t.remove(1, 2);
        assert_eq!((t.as_str(), t.len(), t.utf16_len()), ("ab", 2, 2));
        t.insert(2, &TextContent::from("ü"));
        t.append(&TextContent::from("!"));
        assert_eq!(t.as_str(), "abü!");
        assert_eq!(t.slice(1, 3).as_str(), "bü");
        assert_eq!(t.slice(3, 1).as_str(), "", "inverted ranges are empty");
        let tail = t.split_off(3);
        assert_eq!((t.as_str(), tail.as_str()), ("abü", "!"));
        t.insert_str(0, "é");
        t.push_str("x");
        assert_eq!((t.as_str(), t.len(), t.utf16_len()), ("éabüx", 5, 5));
    }

    #[test]
    fn split_into_pieces() {
        let t = TextContent::from("aé😀bcd");
        let pieces = t.split_into(&[1, 2, 0, 2, 5]);
        let strs: Vec<&str> = pieces.iter().map(TextContent::as_str).collect();
        assert_eq!(strs, ["a", "é😀", "", "bc", "d"]);
        assert_eq!(pieces[1].utf16_len(), 3);
        let l = ListContent(vec![1, 2, 3]);
        let pieces: Vec<Vec<i32>> = l.split_into(&[2, 2, 1]).into_iter().map(|p| p.0).collect();
        assert_eq!(pieces, vec![vec![1, 2], vec![3], vec![]]);
    }

    #[test]
    fn utf16_offsets() {
        let t = TextContent::from("a😀b");
        assert_eq!(t.utf16_offset(0), 0);
        assert_eq!(t.utf16_offset(2), 3);
        assert_eq!(t.utf16_offset(3), 4);
        assert_eq!(t.offset_of_utf16(1), Some(1));
        assert_eq!(t.offset_of_utf16(2), None, "inside the surrogate pair");
        assert_eq!(t.offset_of_utf16(3), Some(2));
        assert_eq!(t.offset_of_utf16(4), Some(3));
        assert_eq!(t.offset_of_utf16(5), None);
        let ascii = TextContent::from("abc");
        assert_eq!(ascii.offset_of_utf16(3), Some(3));
        assert_eq!(ascii.offset_of_utf16(4), None);
    }

    #[test]
    fn text_serializes_as_a_string() {
        let t = TextContent::from("hé");
        let bytes = rmp_serde::to_vec(&t).unwrap();
        assert_eq!(bytes, rmp_serde::to_vec("hé").unwrap());
        let back: TextContent = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!((back.len(), back.utf16_len()), (2, 2));
        assert_eq!(back, t);
    }

    #[test]
    fn list_edits() {
        let mut l = ListContent(vec!['a', 'b', 'c']);
        let tail = l.split_off(1);
        assert_eq!((l.0.clone(), tail.0.clone()), (vec!['a'], vec!['b', 'c']));
        l.append(&tail);
        l.remove(0, 2);
        assert_eq!(l.0, vec!['c']);
        assert_eq!(l.slice(0, 5).0, vec!['c']);
        assert_eq!(l.offset_of_utf16(1), Some(1));
        assert_eq!(l.offset_of_utf16(2), None);
    }
}
