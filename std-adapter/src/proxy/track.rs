//! Frame tracking for one direction of one connection: where each frame's
//! head and body are in the bytes as they come, found by core's streaming
//! `Decoder` (one header parse per frame, the head's length from core),
//! never by reading prefixes here; and which request each reply answers.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use jframe::{DecodeError, Decoder, Event, PREFIX_LEN};

use super::Dir;
use super::report::FrameReport;
use crate::MAX_HEADER;
use crate::client::identify;

/// Requests not yet answered, in order: when the proxy saw each end.
/// Shared by a connection's two directions.
pub(super) type Pending = Arc<Mutex<VecDeque<Instant>>>;

/// What the next bytes of a direction are.
#[derive(Debug)]
pub(super) enum Seen<'i> {
    /// Bytes after a bad frame: no frames any more.
    Raw(&'i [u8]),
    /// More of a head, held until it is complete.
    HeadPart,
    /// The head is complete (held in [`Track::head`], `len` bytes); its
    /// body is `data_size` bytes.
    Head { len: usize, data_size: u64 },
    /// Body bytes of the current frame ([`Track::body_done`] once it is whole).
    Body(&'i [u8]),
    /// A bad frame, and why; its bytes are held in [`Track::head`]. The
    /// rest of the direction is [`Seen::Raw`].
    Bad(String),
}

/// One direction's frames.
pub(super) struct Track {
    dir: Dir,
    /// When the connection opened.
    started: Instant,
    pending: Pending,
    /// Core's decoder, streaming every body: it finds each frame's head
    /// and parses its header once.
    decoder: Decoder<Vec<u8>>,
    /// After a bad frame the rest of this direction is raw bytes.
    raw: bool,
    /// Bytes of the current frame received before its head was complete
    /// (prefix and header, held until the frame's faults are known).
    pub(super) head: Vec<u8>,
    /// Body bytes of the current frame still to come, once its head is in.
    body_left: Option<u64>,
    /// Frames seen in this direction.
    pub(super) count: u64,
    /// The current frame: when its first byte came, whether it is marked
    /// `"welcome": true`, its body size, first body bytes, and what is
    /// wrong with it (a request the server must refuse).
    frame_start: Instant,
    welcome: bool,
    data_size: u64,
    preview: Vec<u8>,
    preview_max: usize,
    note: Option<String>,
    /// The time of the request this reply answers.
    request_at: Option<Instant>,
}

impl Track {
    pub(super) fn new(dir: Dir, started: Instant, pending: Pending, preview_max: usize) -> Self {
        Track {
            dir,
            started,
            pending,
            // Bodies are never held (`max_body` 0): each is passed through.
            decoder: Decoder::new(vec![0u8; MAX_HEADER as usize])
                .with_max_header(MAX_HEADER)
                .with_max_body(0)
                .streaming(true),
            raw: false,
            head: Vec::with_capacity(64),
            body_left: None,
            count: 0,
            frame_start: started,
            welcome: false,
            data_size: 0,
            preview: Vec::new(),
            preview_max,
            note: None,
            request_at: None,
        }
    }

    /// Whether the next byte starts a frame.
    pub(super) fn between_frames(&self) -> bool {
        !self.raw && self.body_left.is_none() && self.head.is_empty()
    }

    /// A frame's first byte is next.
    pub(super) fn begin(&mut self) {
        self.frame_start = Instant::now();
        self.preview.clear();
        self.note = None;
        self.data_size = 0;
    }

    /// Takes the next step's bytes off `input` (not empty).
    pub(super) fn next<'i>(&mut self, input: &mut &'i [u8]) -> Seen<'i> {
        if self.raw {
            return Seen::Raw(std::mem::take(input));
        }
        if let Some(left) = self.body_left {
            // The decoder streams (or skips) this body; it is fed no
            // further than the frame's end.
            let take = usize::try_from(left).unwrap_or(usize::MAX).min(input.len());
            let (now, rest) = input.split_at(take);
            *input = rest;
            let _ = self.decoder.feed(now);
            let room = self.preview_max.saturating_sub(self.preview.len());
            self.preview
                .extend_from_slice(now.get(..room.min(now.len())).unwrap_or_default());
            self.body_left = Some(left.saturating_sub(now.len() as u64));
            return Seen::Body(now);
        }
        let (used, event) = self.decoder.feed(input);
        // The frame's head, once core has parsed it: its length
        // (prefix + header), body size, welcome mark, and what is wrong
        // with a well-formed header whose body is skipped.
        let head_of = |json: &[u8]| PREFIX_LEN + json.len();
        let found = match event {
            Ok(Event::NeedMore | Event::BodyChunk { .. }) => None,
            Ok(Event::Frame(f)) => Some(Ok((head_of(f.header_json), 0, f.header.welcome, None))),
            Ok(Event::Head(h)) => Some(Ok((
                head_of(h.header_json),
                h.data_size,
                h.header.welcome,
                None,
            ))),
            Err(
                e @ DecodeError::Request {
                    data_size, head, ..
                },
            ) => Some(Ok((
                head,
                data_size,
                false,
                Some(format!("{}: {e}", e.status())),
            ))),
            Err(e) => Some(Err(e)),
        };
        // A fatal error may consume nothing: the frame's bytes at hand
        // all belong to the bad frame (what follows is raw anyway).
        let used = if matches!(found, Some(Err(_))) {
            input.len()
        } else {
            used.min(input.len())
        };
        let (now, rest) = input.split_at(used);
        *input = rest;
        self.head.extend_from_slice(now);
        match found {
            None => Seen::HeadPart,
            Some(Ok((len, data_size, welcome, note))) => {
                self.welcome = welcome;
                self.note = note;
                self.data_size = data_size;
                self.request_at = None;
                self.body_left = Some(data_size);
                Seen::Head { len, data_size }
            }
            Some(Err(e)) => {
                let what = identify(&self.head)
                    .map(|w| format!(" (the bytes look like {w})"))
                    .unwrap_or_default();
                let why = match e {
                    DecodeError::Header(h) => format!("bad header ({}): {h}{what}", e.status()),
                    DecodeError::HeaderTooShort { .. } | DecodeError::HeaderTooLong { .. } => {
                        format!("bad prefix: {e}{what}")
                    }
                    other => format!("bad header ({}): {other}{what}", e.status()),
                };
                self.count += 1;
                self.raw = true;
                Seen::Bad(why)
            }
        }
    }

    /// Whether the current frame's body (if any) is all in.
    pub(super) fn body_done(&self) -> bool {
        self.body_left == Some(0)
    }

    /// The current frame is whole: count it, pair a reply with its
    /// request, and describe it.
    pub(super) fn frame(&mut self, conn: u64, fault: Option<String>) -> FrameReport<'_> {
        self.count += 1;
        let now = Instant::now();
        if let Ok(mut q) = self.pending.lock() {
            if self.dir == Dir::ToServer {
                if q.len() >= 100_000 {
                    q.pop_front();
                }
                q.push_back(now);
            } else if !self.welcome {
                // A welcome (marked, SPEC) answers no request.
                self.request_at = q.pop_front();
            }
        }
        FrameReport {
            conn,
            dir: self.dir,
            n: self.count,
            t_ms: self.frame_start.duration_since(self.started).as_secs_f64() * 1000.0,
            head: &self.head,
            body_size: self.data_size,
            preview: &self.preview,
            preview_max: self.preview_max,
            since_request_ms: self
                .request_at
                .map(|r| self.frame_start.saturating_duration_since(r).as_secs_f64() * 1000.0),
            welcome: self.welcome,
            note: self.note.as_deref(),
            fault,
        }
    }

    /// After [`Self::frame`]: the next byte starts a frame.
    pub(super) fn end_frame(&mut self) {
        self.head.clear();
        self.body_left = None;
        self.welcome = false;
    }

    /// Whether the current frame's head is complete (and so passed on).
    pub(super) fn head_passed(&self) -> bool {
        self.body_left.is_some()
    }

    /// At the direction's end: the bytes held of a frame cut short, if
    /// one was.
    pub(super) fn cut_short(&mut self) -> Option<Vec<u8>> {
        (!self.raw && !self.decoder.is_idle()).then(|| std::mem::take(&mut self.head))
    }

    /// Milliseconds since the connection opened.
    pub(super) fn now_ms(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1000.0
    }
}
