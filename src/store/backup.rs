//! Backups: the whole store (every sled tree, byte for byte) in one file,
//! and back.
//!
//! Format (all integers big-endian):
//! ```text
//! "TIDINGS-BACKUP\n" · u32 format version
//! per tree:  u8 1 · u32 name length · name · u64 record count
//!            per record: u32 key length · key · u32 value length · value
//! u8 0 (end of trees) · 32-byte SHA-256 of everything before it
//! ```
//! A backup is taken from a store this process holds exclusively, so it is
//! a consistent snapshot; it is written to a temporary file and renamed,
//! so a crash never leaves a half-written backup under the final name. A
//! restore checks the checksum before it writes anything.

use super::{Store, StoreError};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;

const MAGIC: &[u8] = b"TIDINGS-BACKUP\n";
const FORMAT_VERSION: u32 = 1;

/// What a backup or restore moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupSummary {
    pub trees: usize,
    pub records: u64,
    pub bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("not a tidings backup (bad header)")]
    NotABackup,
    #[error("backup format version {0} is newer than this tidings understands")]
    TooNew(u32),
    #[error("the backup is damaged (checksum mismatch)")]
    Checksum,
    #[error("the backup is damaged: {0}")]
    Damaged(&'static str),
}

impl From<sled::Error> for BackupError {
    fn from(e: sled::Error) -> Self {
        BackupError::Store(StoreError::Sled(e))
    }
}

/// Writes through to `inner` while hashing and counting.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl Store {
    /// Writes a backup of the whole store to `path`.
    pub fn backup(&self, path: &Path) -> Result<BackupSummary, BackupError> {
        self.db.flush()?;
        let tmp = path.with_extension("partial");
        let mut out = Hashing {
            inner: BufWriter::new(File::create(&tmp)?),
            hasher: Sha256::new(),
            bytes: 0,
        };
        out.write_all(MAGIC)?;
        out.write_all(&FORMAT_VERSION.to_be_bytes())?;
        let mut summary = BackupSummary {
            trees: 0,
            records: 0,
            bytes: 0,
        };
        for name in self.db.tree_names() {
            let tree = self.db.open_tree(&name)?;
            out.write_all(&[1])?;
            write_chunk(&mut out, &name)?;
            out.write_all(&(tree.len() as u64).to_be_bytes())?;
            let mut written = 0u64;
            for record in tree.iter() {
                let (key, value) = record?;
                write_chunk(&mut out, &key)?;
                write_chunk(&mut out, &value)?;
                written += 1;
            }
            // `len` and the iteration agree because nothing else writes.
            if written != tree.len() as u64 {
                return Err(BackupError::Damaged("the store changed during the backup"));
            }
            summary.trees += 1;
            summary.records += written;
        }
        out.write_all(&[0])?;
        let digest = out.hasher.finalize_reset();
        out.inner.write_all(&digest)?;
        summary.bytes = out.bytes + digest.len() as u64;
        let file = out.inner.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        Ok(summary)
    }

    /// Restores `backup` into a new store at `store_path`, which must not
    /// hold a store yet. The backup is verified completely first.
    pub fn restore(
        backup: &Path,
        store_path: &Path,
        cache_bytes: u64,
    ) -> Result<BackupSummary, BackupError> {
        verify(backup)?;
        let store = Store::open(store_path, cache_bytes)?;
        let mut input = BufReader::new(File::open(backup)?);
        let mut header = [0u8; MAGIC.len() + 4];
        input.read_exact(&mut header)?;
        let mut summary = BackupSummary {
            trees: 0,
            records: 0,
            bytes: 0,
        };
        loop {
            let mut marker = [0u8; 1];
            input.read_exact(&mut marker)?;
            if marker[0] == 0 {
                break;
            }
            let name = read_chunk(&mut input)?;
            let tree = store.db.open_tree(&name)?;
            let count = read_u64(&mut input)?;
            let mut batch = sled::Batch::default();
            for _ in 0..count {
                let key = read_chunk(&mut input)?;
                let value = read_chunk(&mut input)?;
                batch.insert(key, value);
            }
            tree.apply_batch(batch)?;
            summary.trees += 1;
            summary.records += count;
        }
        store.db.flush()?;
        summary.bytes = std::fs::metadata(backup)?.len();
        Ok(summary)
    }
}

/// Checks header, structure and checksum without writing anything.
fn verify(backup: &Path) -> Result<(), BackupError> {
    let mut input = BufReader::new(File::open(backup)?);
    let mut hasher = Sha256::new();
    let mut header = [0u8; MAGIC.len() + 4];
    input
        .read_exact(&mut header)
        .map_err(|_| BackupError::NotABackup)?;
    if &header[..MAGIC.len()] != MAGIC {
        return Err(BackupError::NotABackup);
    }
    let version = u32::from_be_bytes(
        header[MAGIC.len()..]
            .try_into()
            .map_err(|_| BackupError::NotABackup)?,
    );
    if version > FORMAT_VERSION {
        return Err(BackupError::TooNew(version));
    }
    hasher.update(header);
    let damaged = |_| BackupError::Damaged("truncated");
    loop {
        let mut marker = [0u8; 1];
        input.read_exact(&mut marker).map_err(damaged)?;
        hasher.update(marker);
        match marker[0] {
            0 => break,
            1 => {}
            _ => return Err(BackupError::Checksum),
        }
        let name = read_chunk(&mut input).map_err(damaged)?;
        hasher.update((name.len() as u32).to_be_bytes());
        hasher.update(&name);
        let count = read_u64(&mut input).map_err(damaged)?;
        hasher.update(count.to_be_bytes());
        for _ in 0..count.saturating_mul(2) {
            let chunk = read_chunk(&mut input).map_err(damaged)?;
            hasher.update((chunk.len() as u32).to_be_bytes());
            hasher.update(&chunk);
        }
    }
    let mut expected = [0u8; 32];
    input.read_exact(&mut expected).map_err(damaged)?;
    if hasher.finalize()[..] != expected {
        return Err(BackupError::Checksum);
    }
    if input.read(&mut [0u8; 1])? != 0 {
        return Err(BackupError::Damaged("trailing bytes"));
    }
    Ok(())
}

fn write_chunk(out: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    let len =
        u32::try_from(bytes.len()).map_err(|_| io::Error::other("record larger than 4 GiB"))?;
    out.write_all(&len.to_be_bytes())?;
    out.write_all(bytes)
}

/// Records are at most this large (sled values of a feed store are far
/// smaller); a bigger length means a damaged file, not an allocation.
const MAX_CHUNK: usize = 256 << 20;

fn read_chunk(input: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    input.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_CHUNK {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "record length out of range",
        ));
    }
    let mut buf = vec![0u8; len];
    input.read_exact(&mut buf)?;
    Ok(buf)
}

fn read_u64(input: &mut impl Read) -> io::Result<u64> {
    let mut buf = [0u8; 8];
    input.read_exact(&mut buf)?;
    Ok(u64::from_be_bytes(buf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Entry, FeedState};

    fn store_with_entries(path: &Path, n: usize) -> Store {
        let store = Store::open(path, 1 << 20).unwrap();
        let feed = FeedState::new("https://a.example/rss");
        let now = crate::model::now();
        let entries = (0..n)
            .map(|i| Entry {
                identity: format!("guid:{i}"),
                ..Entry::bare(&feed.url, &i.to_string(), &format!("Entry {i}"), now)
            })
            .collect();
        store.store_fetch(&feed, entries).unwrap();
        store
    }

    #[test]
    fn round_trip_restores_every_record() {
        let dir = tempfile::tempdir().unwrap();
        let original = store_with_entries(&dir.path().join("a"), 25);
        let file = dir.path().join("backup.tidings");
        let written = original.backup(&file).unwrap();
        // 25 entries, their 25 time-index keys, 1 feed state, 1 schema
        // version; and dedup state: per entry an identity alias and a story
        // record.
        assert_eq!(written.records, 52 + 25 * 2, "{written:?}");
        let restored = Store::restore(&file, &dir.path().join("b"), 1 << 20).unwrap();
        assert_eq!(restored.records, written.records);
        let copy = Store::open(&dir.path().join("b"), 1 << 20).unwrap();
        assert_eq!(
            copy.newest(100, |_| true).unwrap(),
            original.newest(100, |_| true).unwrap()
        );
        assert_eq!(copy.feed_states().unwrap(), original.feed_states().unwrap());
    }

    #[test]
    fn damaged_backups_are_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let original = store_with_entries(&dir.path().join("a"), 5);
        let file = dir.path().join("backup.tidings");
        original.backup(&file).unwrap();
        let mut bytes = std::fs::read(&file).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x40;
        std::fs::write(&file, &bytes).unwrap();
        let target = dir.path().join("b");
        assert!(matches!(
            Store::restore(&file, &target, 1 << 20),
            Err(BackupError::Checksum | BackupError::Damaged(_))
        ));
        assert!(!target.exists(), "nothing written");
        std::fs::write(&file, b"hello").unwrap();
        assert!(matches!(
            Store::restore(&file, &target, 1 << 20),
            Err(BackupError::NotABackup)
        ));
    }
}
