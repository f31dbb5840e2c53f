//! `get`, safely: which names are allowed, confinement to the root, refusal
//! of anything but regular files, and the hash sent ahead of the body.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek};
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cap_std::fs::{Dir, OpenOptionsExt};

use jframe::Status;
use sha2::{Digest, Sha256};

/// Why a `get` is refused: the reply status and a message for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetError {
    /// `forbidden`, `not_found`, `busy` (every hashing slot taken for
    /// [`HASH_WAIT`]) or `error`.
    pub status: Status,
    /// Human-readable reason.
    pub message: String,
}

/// A [`GetError`] with `status` and `message`.
fn get_error(status: Status, message: impl Into<String>) -> GetError {
    GetError {
        status,
        message: message.into(),
    }
}

/// A file ready to send: open, hashed, with the size the hash covers.
#[derive(Debug)]
pub struct Prepared {
    /// Open handle, positioned at the start.
    pub file: File,
    /// Bytes hashed (= the `data_size` to announce).
    pub size: u64,
    /// Hex SHA-256 of those bytes.
    pub sha256: String,
}

/// Digests kept at most (per served root, shared by every connection).
pub const DIGEST_CACHE_ENTRIES: usize = 1024;
/// Files hashed at once at most (per served root, server-wide).
pub const MAX_CONCURRENT_HASHES: usize = 2;
/// Longest a `get` waits for a hashing slot before it is answered `busy`.
pub const HASH_WAIT: Duration = Duration::from_secs(5);
/// A digest is cached only for a file last changed at least this long
/// before it was hashed. File times are coarse (a clock tick, or whole
/// seconds on some file systems), so a file written again within the same
/// tick would keep its times; a file that settled before the hash began
/// cannot have been rewritten under the same times since ("racy git").
pub const SETTLED: Duration = Duration::from_secs(2);

/// What identifies a file's content for the digest cache: the same inode
/// with the same size, modification and change times (to the nanosecond).
/// Writing the file changes its mtime and ctime; setting the mtime back
/// still changes the ctime, which no unprivileged user can set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FileKey {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileKey {
    fn of(meta: &std::fs::Metadata) -> Self {
        FileKey {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// Whether the file's last change (mtime or ctime) was [`SETTLED`]
    /// or more before `when`.
    fn settled_before(&self, when: SystemTime) -> bool {
        let Ok(now) = when.duration_since(UNIX_EPOCH) else {
            return false;
        };
        let newest = self.mtime.max(self.ctime);
        let Ok(secs) = u64::try_from(newest.0) else {
            return true; // before 1970: long settled
        };
        let changed = Duration::new(secs, u32::try_from(newest.1).unwrap_or(0));
        now.checked_sub(changed).is_some_and(|age| age >= SETTLED)
    }
}

/// A bounded digest cache; the least recently used entry goes when full.
#[derive(Debug, Default)]
struct DigestCache {
    entries: HashMap<FileKey, (String, u64)>,
    tick: u64,
}

impl DigestCache {
    fn get(&mut self, key: &FileKey) -> Option<String> {
        self.tick += 1;
        let tick = self.tick;
        self.entries.get_mut(key).map(|(sha, used)| {
            *used = tick;
            sha.clone()
        })
    }

    fn insert(&mut self, key: FileKey, sha: String) {
        self.tick += 1;
        if self.entries.len() >= DIGEST_CACHE_ENTRIES && !self.entries.contains_key(&key) {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| *k);
            if let Some(oldest) = oldest {
                self.entries.remove(&oldest);
            }
        }
        self.entries.insert(key, (sha, self.tick));
    }
}

/// A counting semaphore: at most `max` holders, waits bounded.
#[derive(Debug)]
struct Gate {
    max: usize,
    held: Mutex<usize>,
    freed: Condvar,
}

struct Permit<'a>(&'a Gate);

impl Gate {
    fn acquire(&self, wait: Duration) -> Option<Permit<'_>> {
        let deadline = Instant::now() + wait;
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        while *held >= self.max {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            held = self
                .freed
                .wait_timeout(held, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        *held += 1;
        Some(Permit(self))
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut held = self.0.held.lock().unwrap_or_else(|e| e.into_inner());
        *held = held.saturating_sub(1);
        self.0.freed.notify_one();
    }
}

/// What every clone of a [`Root`] shares: the digest cache, the hashing
/// gate and a count of files hashed.
#[derive(Debug)]
struct Shared {
    cache: Mutex<DigestCache>,
    gate: Gate,
    hashes: AtomicU64,
}

/// The served directory: opened once, and every name is opened beneath it
/// in one step (`openat2` with `RESOLVE_BENEATH` through `cap-std`), so no
/// symlink or `..` swapped in while a name is resolved can lead outside.
/// Clones share the directory handle, the digest cache and the hashing
/// limit.
///
/// ```
/// use jframe::Status;
/// use jframe_std::files::Root;
///
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("a.txt"), b"abc")?;
/// let root = Root::new(dir.path())?;
/// let file = root.prepare("a.txt").expect("a regular file beneath the root");
/// assert_eq!(file.size, 3);
/// assert_eq!(root.prepare("../a.txt").unwrap_err().status, Status::Forbidden);
/// assert_eq!(root.prepare("b.txt").unwrap_err().status, Status::NotFound);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Root {
    dir: PathBuf,
    cap: Arc<Dir>,
    shared: Arc<Shared>,
}

impl Root {
    /// Canonicalizes and opens `dir`; fails if it is not a directory.
    pub fn new(dir: &Path) -> io::Result<Root> {
        let dir = dir.canonicalize()?;
        if !dir.is_dir() {
            return Err(io::Error::other(format!(
                "{} is not a directory",
                dir.display()
            )));
        }
        let cap = Dir::open_ambient_dir(&dir, cap_std::ambient_authority())?;
        Ok(Root {
            dir,
            cap: Arc::new(cap),
            shared: Arc::new(Shared {
                cache: Mutex::new(DigestCache::default()),
                gate: Gate {
                    max: MAX_CONCURRENT_HASHES,
                    held: Mutex::new(0),
                    freed: Condvar::new(),
                },
                hashes: AtomicU64::new(0),
            }),
        })
    }

    /// The canonical directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// How many files have been hashed (digest cache misses) through this
    /// root and its clones (for the digest cache's tests).
    #[doc(hidden)]
    pub fn hashes(&self) -> u64 {
        self.shared.hashes.load(Ordering::SeqCst)
    }

    /// Checks `name` and opens it beneath the root, as a regular file.
    ///
    /// The open is one step beneath the root's handle, following symlinks
    /// only while they stay beneath it. A name whose resolution leaves
    /// (an absolute symlink, or one with `..`) gets one more chance: if its
    /// canonical path lies inside the root, that relative path is opened
    /// beneath the root the same way. The canonical path is only a hint:
    /// whatever it says, what is opened is beneath the root.
    ///
    /// The open is non-blocking (a FIFO must not stall the server); the
    /// type is checked on the opened handle, never on the path.
    pub fn open(&self, name: &str) -> Result<File, GetError> {
        let path = check_name(name)?;
        let file = match self.open_beneath(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                let rel = self.inside(name, path)?;
                self.open_beneath(&rel)
                    .map_err(|e| io_get_error(name, &e))?
            }
            Err(e) => return Err(io_get_error(name, &e)),
        };
        let meta = file.metadata().map_err(|e| io_get_error(name, &e))?;
        if !meta.is_file() {
            return Err(get_error(
                Status::Forbidden,
                format!("{name} is not a regular file"),
            ));
        }
        clear_nonblocking(&file).map_err(|e| io_get_error(name, &e))?;
        Ok(file)
    }

    fn open_beneath(&self, path: &Path) -> io::Result<File> {
        let mut options = cap_std::fs::OpenOptions::new();
        options
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
        Ok(self.cap.open_with(path, &options)?.into_std())
    }

    /// Where `path` leads, relative to the root, if that is inside it.
    fn inside(&self, name: &str, path: &Path) -> Result<PathBuf, GetError> {
        let real = match self.dir.join(path).canonicalize() {
            Ok(real) => real,
            Err(e) => return Err(io_get_error(name, &e)),
        };
        match real.strip_prefix(&self.dir) {
            Ok(rel) if !rel.as_os_str().is_empty() => Ok(rel.to_path_buf()),
            _ => Err(get_error(
                Status::Forbidden,
                format!("{name} is outside the root"),
            )),
        }
    }

    /// Opens and hashes `name` (see [`Self::open`]). The digest comes from
    /// the cache when the opened file's inode, size, mtime and ctime match
    /// an entry; otherwise the opened handle is hashed (at most
    /// [`MAX_CONCURRENT_HASHES`] at once server-wide; past [`HASH_WAIT`] in
    /// line, `busy`), and cached if the file did not change meanwhile. The
    /// reply body is read from the same handle, and a size that changed by
    /// then fails the reply.
    pub fn prepare(&self, name: &str) -> Result<Prepared, GetError> {
        let mut file = self.open(name)?;
        let meta = file.metadata().map_err(|e| io_get_error(name, &e))?;
        let key = FileKey::of(&meta);
        // The cache is asked again once a hashing slot is ours: another
        // request may have hashed the file while this one waited.
        let mut permit = None;
        let _permit = loop {
            if let Some(sha256) = self.cached(&key) {
                crate::metrics::digest_cache(true);
                return Ok(Prepared {
                    file,
                    size: key.size,
                    sha256,
                });
            }
            match permit {
                Some(held) => break held,
                None => match self.shared.gate.acquire(HASH_WAIT) {
                    Some(got) => permit = Some(got),
                    None => {
                        return Err(get_error(
                            Status::Busy,
                            "too many files are being hashed; try again",
                        ));
                    }
                },
            }
        };
        self.shared.hashes.fetch_add(1, Ordering::SeqCst);
        crate::metrics::digest_cache(false);
        let started = SystemTime::now();
        let (size, sha256) = hash(&mut file).map_err(|e| io_get_error(name, &e))?;
        file.rewind().map_err(|e| io_get_error(name, &e))?;
        let unchanged = file
            .metadata()
            .map(|after| FileKey::of(&after) == key && size == key.size)
            .unwrap_or(false);
        if !unchanged {
            log::info!("get {name:?}: changed while being hashed; digest not cached");
        } else if key.settled_before(started) {
            self.cache().insert(key, sha256.clone());
        }
        Ok(Prepared { file, size, sha256 })
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, DigestCache> {
        self.shared.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn cached(&self, key: &FileKey) -> Option<String> {
        self.cache().get(key)
    }
}

/// The name checks that need no file system: empty, NUL, absolute, `..`.
fn check_name(name: &str) -> Result<&Path, GetError> {
    if name.is_empty() {
        return Err(get_error(Status::Forbidden, "empty name"));
    }
    if name.contains('\0') {
        return Err(get_error(Status::Forbidden, "name contains NUL"));
    }
    let path = Path::new(name);
    if path.is_absolute() {
        return Err(get_error(
            Status::Forbidden,
            "absolute names are not allowed",
        ));
    }
    if path.components().any(|c| {
        matches!(
            c,
            Component::ParentDir | Component::RootDir | Component::Prefix(_)
        )
    }) {
        return Err(get_error(Status::Forbidden, "'..' is not allowed in names"));
    }
    Ok(path)
}

/// Clears `O_NONBLOCK` (set so that opening a FIFO could not block).
fn clear_nonblocking(file: &File) -> io::Result<()> {
    use rustix::fs::{OFlags, fcntl_getfl, fcntl_setfl};
    let flags = fcntl_getfl(file)?;
    fcntl_setfl(file, flags.difference(OFlags::NONBLOCK))?;
    Ok(())
}

fn io_get_error(name: &str, e: &io::Error) -> GetError {
    match e.kind() {
        // `a.txt/` (a file where a directory was named) is not found too.
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => {
            get_error(Status::NotFound, format!("{name}: no such file"))
        }
        io::ErrorKind::PermissionDenied => {
            get_error(Status::Forbidden, format!("{name}: permission denied"))
        }
        _ if e.raw_os_error() == Some(libc::ELOOP) => {
            get_error(Status::Forbidden, format!("{name}: too many symlinks"))
        }
        _ => get_error(Status::Error, format!("{name}: {e}")),
    }
}

/// SHA-256 and length of everything `reader` yields.
pub fn hash<R: Read>(reader: &mut R) -> io::Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hex(&hasher.finalize())))
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hashing_gate_is_bounded() {
        let gate = Gate {
            max: 2,
            held: Mutex::new(0),
            freed: Condvar::new(),
        };
        let a = gate.acquire(Duration::ZERO).expect("first");
        let _b = gate.acquire(Duration::ZERO).expect("second");
        assert!(gate.acquire(Duration::from_millis(10)).is_none());
        drop(a);
        assert!(gate.acquire(Duration::ZERO).is_some());
    }

    #[test]
    fn a_full_gate_answers_busy() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), b"x").unwrap();
        let root = Root::new(dir.path()).unwrap();
        let held: Vec<_> = (0..MAX_CONCURRENT_HASHES)
            .map(|_| root.shared.gate.acquire(Duration::ZERO).unwrap())
            .collect();
        // HASH_WAIT passes, then busy (bounded: 5 s).
        let refused = root.prepare("f").unwrap_err();
        assert_eq!(refused.status, Status::Busy);
        drop(held);
        assert!(root.prepare("f").is_ok());
    }

    #[test]
    fn the_cache_is_bounded_and_drops_the_least_recently_used() {
        let mut cache = DigestCache::default();
        let key = |i: u64| FileKey {
            dev: 1,
            ino: i,
            size: 0,
            mtime: (0, 0),
            ctime: (0, 0),
        };
        for i in 0..DIGEST_CACHE_ENTRIES as u64 {
            cache.insert(key(i), i.to_string());
        }
        assert!(cache.get(&key(0)).is_some()); // 0 is now the most recent
        cache.insert(key(9999), "new".into());
        assert_eq!(cache.entries.len(), DIGEST_CACHE_ENTRIES);
        assert!(cache.get(&key(0)).is_some());
        assert!(cache.get(&key(1)).is_none(), "the least recently used went");
        assert!(cache.get(&key(9999)).is_some());
    }
}
