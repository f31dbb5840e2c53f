//! The session's reply buffer: what is gathered in `tx` and still to be
//! written, and the reply heads and bodies appended to it.

use crate::encoder::{EncodeError, encode_reply_head, encode_welcome_head};
use crate::header::Status;

use super::api::Service;
use super::request::Refusal;
use super::session::HEAD_RESERVE;
use super::transform::Transform;

/// Reply bytes gathered in `tx`: `buf[sent..len]` are still to be written.
#[derive(Debug)]
pub(super) struct Out<'b> {
    pub(super) buf: &'b mut [u8],
    pub(super) len: usize,
    pub(super) sent: usize,
}

impl Out<'_> {
    pub(super) fn room(&self) -> usize {
        self.buf.len().saturating_sub(self.len)
    }

    pub(super) fn free(&mut self) -> &mut [u8] {
        self.buf.get_mut(self.len..).unwrap_or_default()
    }

    pub(super) fn pending(&self) -> &[u8] {
        self.buf.get(self.sent..self.len).unwrap_or_default()
    }

    /// Appends `data`, transformed; returns how much fitted.
    pub(super) fn put(&mut self, data: &[u8], transform: Option<Transform>) -> usize {
        let n = data.len().min(self.room());
        if let (Some(dst), Some(src)) = (self.buf.get_mut(self.len..self.len + n), data.get(..n)) {
            crate::copy::copy(dst, src);
            if let Some(t) = transform {
                t.apply(dst);
            }
        }
        self.len += n;
        n
    }

    pub(super) fn ok_head(&mut self, size: u64) -> Result<(), EncodeError> {
        let n = encode_reply_head(self.free(), Status::Ok, size, None)?;
        self.len += n;
        Ok(())
    }

    /// Appends `data`, transformed by `t`, or by the service's own map for
    /// [`Transform::Map`].
    pub(super) fn put_transformed<X: Service>(
        &mut self,
        data: &[u8],
        t: Transform,
        service: &mut X,
    ) {
        let at = self.len;
        if t == Transform::Map {
            self.put(data, None);
            if let Some(dst) = self.buf.get_mut(at..self.len) {
                service.map(dst);
            }
        } else {
            self.put(data, Some(t));
        }
    }

    /// A transformed reply: head, prefix, body transformed, suffix. The
    /// caller made room for it.
    pub(super) fn reply<X: Service>(
        &mut self,
        t: Transform,
        size: u64,
        body: &[u8],
        service: &mut X,
    ) -> Result<(), EncodeError> {
        self.ok_head(size)?;
        self.put(t.prefix(), None);
        self.put_transformed(body, t, service);
        self.put(t.suffix(), None);
        Ok(())
    }

    /// An error reply with its message if its head fits [`HEAD_RESERVE`],
    /// else the bare status: a refusal never becomes a disconnect, and the
    /// choice never depends on how full the buffer happens to be.
    pub(super) fn refusal_head(&mut self, r: &Refusal) -> Result<(), EncodeError> {
        let free = self.buf.get_mut(self.len..).unwrap_or_default();
        let within = free.len().min(HEAD_RESERVE);
        let area = free.get_mut(..within).ok_or(EncodeError::BufferTooSmall)?;
        self.len += r.encode_head(area)?;
        Ok(())
    }

    pub(super) fn welcome_head(&mut self, size: u64) -> Result<(), EncodeError> {
        let n = encode_welcome_head(self.free(), size)?;
        self.len += n;
        Ok(())
    }
}
