//! Byte layouts of the store's keys. Big-endian throughout, so sled's
//! lexicographic order is numeric order.

use crate::model::EntryId;
use chrono::{DateTime, Utc};

pub const SCHEMA_VERSION: &[u8] = b"schema_version";

/// `by_time` key: 8 bytes of sort time (microseconds since the epoch, sign
/// bit flipped so negative times order before positive ones), then the id
/// (so equal times never collide).
pub fn time_key(at: DateTime<Utc>, id: EntryId) -> [u8; 24] {
    let micros = at.timestamp_micros() as u64 ^ (1 << 63);
    let mut key = [0u8; 24];
    key[..8].copy_from_slice(&micros.to_be_bytes());
    key[8..].copy_from_slice(&id.0);
    key
}

pub fn id_of_time_key(key: &[u8]) -> Option<EntryId> {
    let id: [u8; 16] = key.get(8..24)?.try_into().ok()?;
    Some(EntryId(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_keys_sort_by_time() {
        let id = EntryId([7; 16]);
        let old = DateTime::from_timestamp(-1000, 0).unwrap();
        let new = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        assert!(time_key(old, id) < time_key(new, id));
        assert_eq!(id_of_time_key(&time_key(new, id)), Some(id));
    }
}
