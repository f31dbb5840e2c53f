//! `get`, safely: which names are allowed, confinement to the root, refusal
//! of anything but regular files, and the hash sent ahead of the body.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use jframe::Status;
use sha2::{Digest, Sha256};

/// Why a `get` is refused: the reply status and a message for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// `forbidden`, `not_found` or `error`.
    pub status: Status,
    /// Human-readable reason.
    pub message: String,
}

fn refuse(status: Status, message: impl Into<String>) -> Refusal {
    Refusal {
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

/// The served directory, canonicalized once.
#[derive(Debug, Clone)]
pub struct Root {
    dir: PathBuf,
}

impl Root {
    /// Canonicalizes `dir`; fails if it is not a directory.
    pub fn new(dir: &Path) -> io::Result<Root> {
        let dir = dir.canonicalize()?;
        if !dir.is_dir() {
            return Err(io::Error::other(format!(
                "{} is not a directory",
                dir.display()
            )));
        }
        Ok(Root { dir })
    }

    /// The canonical directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Checks `name` and resolves it (through symlinks) inside the root.
    pub fn resolve(&self, name: &str) -> Result<PathBuf, Refusal> {
        if name.is_empty() {
            return Err(refuse(Status::Forbidden, "empty name"));
        }
        if name.contains('\0') {
            return Err(refuse(Status::Forbidden, "name contains NUL"));
        }
        let path = Path::new(name);
        if path.is_absolute() {
            return Err(refuse(Status::Forbidden, "absolute names are not allowed"));
        }
        if path.components().any(|c| {
            matches!(
                c,
                Component::ParentDir | Component::RootDir | Component::Prefix(_)
            )
        }) {
            return Err(refuse(Status::Forbidden, "'..' is not allowed in names"));
        }
        let joined = self.dir.join(path);
        let real = match joined.canonicalize() {
            Ok(real) => real,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // A dangling symlink is also "not found": nothing to send.
                return Err(refuse(Status::NotFound, format!("{name}: no such file")));
            }
            Err(e) => return Err(io_refusal(name, &e)),
        };
        if !real.starts_with(&self.dir) || real == self.dir {
            return Err(refuse(
                Status::Forbidden,
                format!("{name} is outside the root"),
            ));
        }
        Ok(real)
    }

    /// Resolves, opens and hashes `name`. The file is opened non-blocking
    /// (a FIFO must not stall the server) and without following a final
    /// symlink (the resolved path has none, unless it was swapped in since),
    /// then refused unless `fstat` says it is a regular file.
    pub fn prepare(&self, name: &str) -> Result<Prepared, Refusal> {
        let real = self.resolve(name)?;
        let mut file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
            .open(&real)
            .map_err(|e| io_refusal(name, &e))?;
        let meta = file.metadata().map_err(|e| io_refusal(name, &e))?;
        if !meta.is_file() {
            return Err(refuse(
                Status::Forbidden,
                format!("{name} is not a regular file"),
            ));
        }
        let (size, sha256) = hash(&mut file).map_err(|e| io_refusal(name, &e))?;
        use std::io::Seek;
        file.rewind().map_err(|e| io_refusal(name, &e))?;
        Ok(Prepared { file, size, sha256 })
    }
}

fn io_refusal(name: &str, e: &io::Error) -> Refusal {
    match e.kind() {
        io::ErrorKind::NotFound => refuse(Status::NotFound, format!("{name}: no such file")),
        io::ErrorKind::PermissionDenied => {
            refuse(Status::Forbidden, format!("{name}: permission denied"))
        }
        _ if e.raw_os_error() == Some(libc::ELOOP) => {
            refuse(Status::Forbidden, format!("{name}: symlink refused"))
        }
        _ => refuse(Status::Error, format!("{name}: {e}")),
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
