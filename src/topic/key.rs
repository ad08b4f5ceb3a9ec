//! Hashed word keys: how a query term finds its words in a document in a
//! few integer comparisons. A query hashes its words once when it is
//! parsed; a document keeps sorted (hash, word) tables; a lookup is a
//! binary search on the hash and a string comparison to confirm.

use std::hash::{BuildHasherDefault, Hash, Hasher};

/// FNV-1a, 64 bits: fast on the short strings words are, and stable.
#[derive(Clone, Copy)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// A hash for text kept in memory only (tables of words, fingerprints of
/// entry text): eight bytes a step, where FNV takes one, in the manner of
/// rustc's FxHash. Not stable across versions, so never stored.
#[derive(Clone, Copy, Default)]
pub struct TextHasher(u64);

impl TextHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for TextHasher {
    fn finish(&self) -> u64 {
        // A product's low bits depend only on the factors' low bits, that
        // is on a word's first letters, and tables pick buckets by low
        // bits: the rotation brings the well-mixed high bits down.
        self.0.rotate_left(26)
    }

    fn write_u64(&mut self, word: u64) {
        self.add(word);
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            // The length keeps "ab" and "ab\0" apart.
            self.add(u64::from_le_bytes(word) ^ (rest.len() as u64) << 59);
        }
    }
}

/// For in-memory `HashMap`s keyed by words (see [`TextHasher`]).
pub type TextBuild = BuildHasherDefault<TextHasher>;

pub fn hash_str(text: &str) -> u64 {
    let mut h = Fnv::default();
    h.write(text.as_bytes());
    h.finish()
}

/// Characters of a word's head: a prefix term of at least this many
/// characters can only match words that start with the same ones.
const HEAD_CHARS: usize = 3;

/// A key for the first [`HEAD_CHARS`] characters of `word`, when it has
/// that many: documents file every word under it, so that a prefix term
/// (`chip*`) is known absent without searching the document's words.
pub fn head_hash(word: &str) -> Option<u64> {
    let (end, _) = word.char_indices().nth(HEAD_CHARS - 1)?;
    let end = end + word[end..].chars().next().map_or(0, char::len_utf8);
    // Salted, so a head does not share its key with the equal short word.
    Some(hash_str(&word[..end]) ^ 0x6865_6164_6b65_7973)
}

/// A word with its hash computed once.
#[derive(Clone, Debug)]
pub struct Key {
    text: Box<str>,
    hash: u64,
}

impl Key {
    pub fn new(text: &str) -> Key {
        Key {
            hash: hash_str(text),
            text: text.into(),
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn hash(&self) -> u64 {
        self.hash
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.text == other.text
    }
}

impl Eq for Key {}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.text.hash(state);
    }
}

/// Word ids by the hash of some key of theirs (the word, its stem, one of
/// its bases), sorted by hash. Callers confirm candidates, as different
/// keys may share a hash.
#[derive(Default)]
pub struct KeyTable(Vec<(u64, u32)>);

impl KeyTable {
    pub fn new(mut entries: Vec<(u64, u32)>) -> KeyTable {
        entries.sort_unstable();
        entries.dedup();
        KeyTable(entries)
    }

    /// The ids filed under `hash`.
    pub fn get(&self, hash: u64) -> impl Iterator<Item = u32> + '_ {
        let from = self.0.partition_point(|(h, _)| *h < hash);
        self.0[from..]
            .iter()
            .take_while(move |(h, _)| *h == hash)
            .map(|(_, id)| *id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_tables() {
        assert_eq!(hash_str("китай"), Key::new("китай").hash());
        assert_ne!(hash_str("china"), hash_str("chine"));
        assert_eq!(Key::new("a"), Key::new("a"));
        let t = KeyTable::new(vec![(7, 2), (3, 1), (7, 0), (7, 2)]);
        assert_eq!(t.get(7).collect::<Vec<_>>(), [0, 2]);
        assert_eq!(t.get(3).collect::<Vec<_>>(), [1]);
        assert_eq!(t.get(5).count(), 0);
        assert_eq!(head_hash("китайск"), head_hash("кит"));
        assert_ne!(head_hash("китайск"), head_hash("кин"));
        assert_eq!(head_hash("chip"), head_hash("chinese"));
        assert_eq!(head_hash("ки"), None);
    }

    #[test]
    fn text_hasher_tells_apart_what_differs_in_any_byte_or_length() {
        let hash = |bytes: &[u8]| {
            let mut h = TextHasher::default();
            h.write(bytes);
            h.finish()
        };
        let words: [&[u8]; 7] = [
            b"",
            b"ab",
            b"ab\0",
            b"abcdefgh",
            b"abcdefgh\0",
            b"abcdefgi",
            "росси".as_bytes(),
        ];
        let hashes: std::collections::HashSet<u64> = words.iter().map(|w| hash(w)).collect();
        assert_eq!(hashes.len(), words.len());
        assert_eq!(hash(b"abcdefghij"), hash(b"abcdefghij"));
    }
}
