//! The replies std's services make: a header and a body that is held in
//! memory (against the budget) or read from a file.

use std::fs::File;
use std::io::{self, Read};

use jframe::service::{Source, SourceError};
use jframe::{EncodeError, Header, Status};

use crate::budget::Reservation;
use crate::files::Prepared;

/// The body of a std reply.
#[derive(Debug)]
pub enum StdBody {
    /// Bytes in memory that hold part of the server's budget until sent
    /// (or dropped).
    Held(Held),
    /// A file being sent.
    File(FileBody),
}

/// A std reply: its header, and its body.
#[derive(Debug)]
pub struct StdReply {
    /// The reply header (`data_size` = the body's length).
    pub head: Header,
    /// The body.
    pub body: StdBody,
}

impl Source for StdReply {
    fn status(&self) -> Status {
        self.head.status().unwrap_or(Status::Ok)
    }

    fn data_size(&self) -> u64 {
        self.head.data_size
    }

    fn encode_head(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        jframe::encode_head(out, &self.head)
    }

    fn fill(&mut self, buf: &mut [u8]) -> Result<usize, SourceError> {
        self.body.fill(buf)
    }
}

impl StdBody {
    pub(super) fn fill(&mut self, buf: &mut [u8]) -> Result<usize, SourceError> {
        match self {
            StdBody::Held(h) => h.bytes.read(buf).map_err(|_| SourceError),
            StdBody::File(f) => f.fill(buf),
        }
    }
}

/// A reply body held in memory, and the budget it holds.
#[derive(Debug)]
pub struct Held {
    bytes: io::Cursor<Vec<u8>>,
    _hold: Reservation,
}

impl Held {
    /// `bytes`, holding `hold` of the budget until sent (or dropped).
    pub(super) fn new(bytes: Vec<u8>, hold: Reservation) -> Self {
        Held {
            bytes: io::Cursor::new(bytes),
            _hold: hold,
        }
    }
}

/// A file sent as a reply body. A file that changes size while being sent
/// fails the reply: the announced size can no longer be honoured.
#[derive(Debug)]
pub struct FileBody {
    file: File,
    size: u64,
    left: u64,
}

impl FileBody {
    pub(super) fn new(p: Prepared) -> Self {
        FileBody {
            file: p.file,
            size: p.size,
            left: p.size,
        }
    }

    fn fill(&mut self, buf: &mut [u8]) -> Result<usize, SourceError> {
        let want = usize::try_from(self.left)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let into = buf.get_mut(..want).unwrap_or_default();
        let n = loop {
            match self.file.read(into) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    log::warn!("get: read failed: {e}");
                    return Err(SourceError);
                }
            }
        };
        if n == 0 {
            log::warn!("get: file shrank while being sent; aborting");
            return Err(SourceError);
        }
        self.left -= n as u64;
        if self.left == 0 {
            // The last bytes go out only once the size is confirmed, so a
            // file that grew or shrank never completes a reply.
            let grew = matches!(self.file.read(&mut [0u8; 1]), Ok(1..));
            let len = self.file.metadata().map(|m| m.len()).ok();
            if grew || len != Some(self.size) {
                log::warn!("get: file changed size while being sent; aborting");
                return Err(SourceError);
            }
        }
        Ok(n)
    }
}
