//! Record encoding: one format-version byte, then postcard. The version byte
//! lets a later release read old records (and migrate them) instead of
//! misreading them.

use serde::{Serialize, de::DeserializeOwned};

const RECORD_V1: u8 = 1;

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("empty record")]
    Empty,
    #[error("unknown record format version {0}")]
    UnknownVersion(u8),
    #[error("undecodable record: {0}")]
    Postcard(#[from] postcard::Error),
}

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = vec![RECORD_V1];
    // Serializing our own plain structs into a Vec cannot fail.
    postcard::to_io(value, &mut out).expect("postcard encoding into a Vec is infallible");
    out
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    match bytes.split_first() {
        None => Err(CodecError::Empty),
        Some((&RECORD_V1, rest)) => Ok(postcard::from_bytes(rest)?),
        Some((&v, _)) => Err(CodecError::UnknownVersion(v)),
    }
}

pub fn decode_u32(bytes: &[u8]) -> Result<u32, CodecError> {
    let arr: [u8; 4] = bytes.try_into().map_err(|_| CodecError::Empty)?;
    Ok(u32::from_be_bytes(arr))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FeedState;

    #[test]
    fn round_trip_and_version_check() {
        let mut state = FeedState::new("https://a.example/rss");
        state.etag = Some("\"abc\"".into());
        state.next_due = Some(crate::model::now());
        let bytes = encode(&state);
        assert_eq!(decode::<FeedState>(&bytes).unwrap(), state);
        let mut future = bytes.clone();
        future[0] = 9;
        assert!(matches!(
            decode::<FeedState>(&future),
            Err(CodecError::UnknownVersion(9))
        ));
        assert!(decode::<FeedState>(&[]).is_err());
    }
}
