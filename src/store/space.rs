//! Whether the store can be written: the file system's read-only flag and
//! free space, checked (statvfs, one cheap system call) before every write
//! batch, and whether sled has already failed a write.
//!
//! Why check first rather than let the write fail: sled 0.34 *poisons*
//! itself on the first failed write to its log (`set_global_error` in
//! `pagecache/iobuf.rs` and `pagecache/logger.rs`); every later write and
//! flush returns that stored error, and only opening the database again
//! (`PageCache::start` → `reset_global_error`) clears it. Refusing a write
//! while the disk is nearly full or read-only means sled never sees the
//! error, so storing resumes by itself once the admin frees space. Reads
//! keep working either way.
//!
//! The reserve ([`DEFAULT_MIN_FREE`], `[storage] min_free_mb`) is what one
//! fetch can need: a 16 MiB body stored as entries, their story records
//! and sled's log overhead.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Free space below which writes are refused.
pub const DEFAULT_MIN_FREE: u64 = 64 * 1024 * 1024;

/// Why the store cannot be written right now, with what to do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotWritable {
    /// The file system is mounted read-only.
    ReadOnly { path: PathBuf },
    /// Less than the reserve is free.
    DiskFull {
        path: PathBuf,
        free: u64,
        reserve: u64,
    },
    /// sled failed a write earlier and refuses every write since.
    Poisoned { path: PathBuf, error: String },
    /// The file system cannot be asked (the directory is gone?).
    Unknown { path: PathBuf, error: String },
    /// This store was compacted into a new database and is no longer the
    /// one to write to (only a stale handle can see this).
    Retired { path: PathBuf },
}

impl std::fmt::Display for NotWritable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotWritable::ReadOnly { path } => write!(
                f,
                "read-only file system (store at {}): remount it read-write; tidings retries at the next poll",
                path.display()
            ),
            NotWritable::DiskFull {
                path,
                free,
                reserve,
            } => write!(
                f,
                "no space left on device: {} free, tidings keeps {} in reserve (store at {}): free disk space (or lower [storage] min_free_mb); tidings retries at the next poll",
                mib(*free),
                mib(*reserve),
                path.display()
            ),
            NotWritable::Poisoned { path, error } => write!(
                f,
                "a write failed ({error}); the store's database accepts no more writes (store at {}): free disk space or fix the file system, and the daemon moves the store to a fresh database by itself (`tidings poll --once` needs a new start); entries stored before are safe",
                path.display()
            ),
            NotWritable::Retired { path } => write!(
                f,
                "the store at {} was compacted into a new database; this write went to the old one and was refused",
                path.display()
            ),
            NotWritable::Unknown { path, error } => write!(
                f,
                "cannot check the file system of the store at {}: {error}",
                path.display()
            ),
        }
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// What the store knows about its own writability.
pub(super) struct Space {
    path: PathBuf,
    reserve: AtomicU64,
    /// sled's first failed write, once it happened (see the module docs).
    poisoned: Mutex<Option<String>>,
    /// Writes refused or failed.
    pub(super) write_errors: AtomicU64,
    /// Compacted into another database (see `compact`).
    retired: AtomicBool,
}

impl Space {
    pub(super) fn new(path: &Path) -> Space {
        Space {
            path: path.to_owned(),
            reserve: AtomicU64::new(DEFAULT_MIN_FREE),
            poisoned: Mutex::new(None),
            write_errors: AtomicU64::new(0),
            retired: AtomicBool::new(false),
        }
    }

    pub(super) fn reserve(&self) -> u64 {
        self.reserve.load(Ordering::Relaxed)
    }

    pub(super) fn is_poisoned(&self) -> bool {
        self.poisoned().is_some()
    }

    pub(super) fn retire(&self) {
        self.retired.store(true, Ordering::Release);
    }

    pub(super) fn set_reserve(&self, bytes: u64) {
        self.reserve.store(bytes, Ordering::Relaxed);
    }

    fn poisoned(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.poisoned.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a write batch may go to sled now.
    pub(super) fn check(&self) -> Result<(), NotWritable> {
        if self.retired.load(Ordering::Acquire) {
            return Err(NotWritable::Retired {
                path: self.path.clone(),
            });
        }
        if let Some(error) = self.poisoned().clone() {
            return Err(NotWritable::Poisoned {
                path: self.path.clone(),
                error,
            });
        }
        check_dir(&self.path, self.reserve.load(Ordering::Relaxed))
    }

    /// Records a failed sled write and says what it means: an I/O error
    /// poisons sled (see the module docs); other errors (a corrupt record)
    /// do not.
    pub(super) fn failed(&self, error: &sled::Error) -> Option<NotWritable> {
        self.write_errors.fetch_add(1, Ordering::Relaxed);
        let sled::Error::Io(e) = error else {
            return None;
        };
        let mut poisoned = self.poisoned();
        let first = poisoned.get_or_insert_with(|| e.to_string()).clone();
        Some(NotWritable::Poisoned {
            path: self.path.clone(),
            error: first,
        })
    }
}

/// Whether the file system holding directory `path` is writable and has
/// `reserve` bytes free (also what `check-config` asks of the store path).
pub fn check_dir(path: &Path, reserve: u64) -> Result<(), NotWritable> {
    let fs = statvfs(path).map_err(|e| NotWritable::Unknown {
        path: path.to_owned(),
        error: e.to_string(),
    })?;
    if fs.read_only {
        return Err(NotWritable::ReadOnly {
            path: path.to_owned(),
        });
    }
    if fs.available < reserve {
        return Err(NotWritable::DiskFull {
            path: path.to_owned(),
            free: fs.available,
            reserve,
        });
    }
    Ok(())
}

/// The parts of `statvfs(3)` we use.
struct FsStats {
    read_only: bool,
    /// Bytes an unprivileged process may still write.
    available: u64,
}

fn statvfs(path: &Path) -> std::io::Result<FsStats> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    // SAFETY: `c_path` is a valid NUL-terminated string and `stats` a
    // properly sized, writable struct that statvfs fills in.
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), &mut stats) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(FsStats {
        read_only: stats.f_flag & libc::ST_RDONLY != 0,
        // f_bavail, not f_bfree: root's reserved blocks are not ours to
        // count on (tidings should not run as root).
        #[allow(clippy::unnecessary_cast)] // the field types differ by platform
        available: (stats.f_bavail as u64).saturating_mul(stats.f_frsize as u64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reserve_larger_than_the_disk_refuses_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let space = Space::new(dir.path());
        space.set_reserve(0);
        assert_eq!(space.check(), Ok(()));
        space.set_reserve(u64::MAX);
        let refused = space.check().unwrap_err();
        assert!(matches!(refused, NotWritable::DiskFull { .. }));
        let text = refused.to_string();
        assert!(
            text.contains("no space left on device") && text.contains("free disk space"),
            "{text}"
        );
    }

    #[test]
    fn an_io_error_poisons_and_other_errors_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let space = Space::new(dir.path());
        space.set_reserve(0);
        assert_eq!(space.failed(&sled::Error::Unsupported("x".into())), None);
        assert_eq!(space.check(), Ok(()));
        let failed = space.failed(&sled::Error::Io(std::io::Error::from_raw_os_error(
            libc::ENOSPC,
        )));
        assert!(matches!(failed, Some(NotWritable::Poisoned { .. })));
        let text = space.check().unwrap_err().to_string();
        assert!(text.contains("fresh database"), "{text}");
        assert_eq!(space.write_errors.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn a_missing_directory_is_reported() {
        let space = Space::new(Path::new("/nonexistent/tidings-store"));
        assert!(matches!(space.check(), Err(NotWritable::Unknown { .. })));
    }
}
