//! What the std adapter adds to core's services, through core's extension
//! point ([`jframe::service::Extension`]): Unicode `upper` and `get`. The
//! dispatch, the statuses and the chunk-wise services stay in core.

use std::fs::File;
use std::io::{self, Read};

use jframe::service::{Claim, Extension, Refusal, Reply, Source, SourceError};
use jframe::{Header, Op, Status};

use crate::files::{Prepared, Root};

/// `upper` of a whole body: valid UTF-8 goes through Unicode upper-casing
/// (which may change the length: `ß` becomes `SS`); anything else is
/// upper-cased as ASCII, byte for byte, like Python's `bytes.upper`.
pub fn upper(body: &[u8]) -> Vec<u8> {
    if !body.is_ascii()
        && let Ok(s) = std::str::from_utf8(body)
    {
        return s.to_uppercase().into_bytes();
    }
    body.to_ascii_uppercase()
}

/// The std adapter's services on top of core's.
#[derive(Debug, Default)]
pub struct StdServices {
    /// Where `get` serves from; `None`: every `get` is `forbidden`.
    pub root: Option<Root>,
    /// Largest body collected whole (Unicode `upper` of a streamed body).
    pub max_collect: u64,
    collected: Vec<u8>,
}

impl StdServices {
    /// Services with `get` beneath `root`, collecting bodies up to `max_collect`.
    pub fn new(root: Option<Root>, max_collect: u64) -> Self {
        StdServices {
            root,
            max_collect,
            collected: Vec::new(),
        }
    }

    fn get(&self, header: &Header) -> Claim<StdBody> {
        let Some(root) = &self.root else {
            return refuse(Status::Forbidden, "get is disabled: the server has no root");
        };
        let Some(name) = header.name.as_deref() else {
            return refuse(Status::BadRequest, "get needs a name");
        };
        match root.prepare(name) {
            Err(refusal) => {
                log::info!("get {name:?}: {}", refusal.message);
                refuse(refusal.status, &refusal.message)
            }
            Ok(prepared) => {
                log::info!("get {name:?}: sending {} bytes", prepared.size);
                let head = Header::reply(Status::Ok, prepared.size).with_sha256(&prepared.sha256);
                match head {
                    Ok(head) => Claim::Reply(Reply {
                        head,
                        body: StdBody::File(FileBody::new(prepared)),
                    }),
                    Err(e) => refuse(Status::Error, &e.to_string()),
                }
            }
        }
    }
}

fn refuse<S>(status: Status, message: &str) -> Claim<S> {
    Claim::Refuse(Refusal::new(status, format_args!("{message}")))
}

/// An upper-cased body as a reply.
fn upper_reply(body: &[u8]) -> Claim<StdBody> {
    let out = upper(body);
    Claim::Reply(Reply {
        head: Header::reply(Status::Ok, out.len() as u64),
        body: StdBody::Bytes(io::Cursor::new(out)),
    })
}

impl Extension for StdServices {
    type Source = StdBody;

    fn claim(&mut self, header: &Header, op: Op, body: Option<&[u8]>) -> Claim<StdBody> {
        match (op, body) {
            (Op::Get, _) => self.get(header),
            // ASCII (or not UTF-8 at all) is core's ASCII upper, streamed.
            (Op::Upper, Some(body)) if body.is_ascii() || std::str::from_utf8(body).is_err() => {
                Claim::Builtin
            }
            (Op::Upper, Some(body)) => upper_reply(body),
            (Op::Upper, None) => {
                if header.data_size > self.max_collect {
                    let (size, max) = (header.data_size, self.max_collect);
                    let why = format!("upper holds bodies whole: {size} bytes exceeds {max}");
                    return refuse(Status::TooLarge, &why);
                }
                self.collected.clear();
                Claim::Collect
            }
            _ => Claim::Builtin,
        }
    }

    fn collect(&mut self, chunk: &[u8]) -> Result<(), Refusal> {
        self.collected.extend_from_slice(chunk);
        Ok(())
    }

    fn finish(&mut self, _header: &Header) -> Claim<StdBody> {
        let body = std::mem::take(&mut self.collected);
        upper_reply(&body)
    }

    fn abandon(&mut self) {
        self.collected = Vec::new();
    }
}

/// The body of a std reply.
#[derive(Debug)]
pub enum StdBody {
    /// Bytes in memory.
    Bytes(io::Cursor<Vec<u8>>),
    /// A file being sent.
    File(FileBody),
}

impl Source for StdBody {
    fn fill(&mut self, buf: &mut [u8]) -> Result<usize, SourceError> {
        match self {
            StdBody::Bytes(c) => c.read(buf).map_err(|_| SourceError),
            StdBody::File(f) => f.fill(buf),
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
    fn new(p: Prepared) -> Self {
        FileBody {
            file: p.file,
            size: p.size,
            left: p.size,
        }
    }

    fn fill(&mut self, buf: &mut [u8]) -> Result<usize, SourceError> {
        let want = usize::try_from(self.left).unwrap_or(usize::MAX).min(buf.len());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_rules() {
        assert_eq!(upper(b"hello world!"), b"HELLO WORLD!");
        assert_eq!(upper("straße".as_bytes()), "STRASSE".as_bytes());
        assert_eq!(upper("héllo".as_bytes()), "HÉLLO".as_bytes());
        // Invalid UTF-8: ASCII letters only, other bytes untouched.
        assert_eq!(upper(b"ab\xffc"), b"AB\xffC");
        assert_eq!(upper(b""), b"");
    }
}
