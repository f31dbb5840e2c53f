//! SPEC's services as the std server serves them, as one core
//! [`Service`]: Unicode `upper` and `get` here, `echo` and `greet` from
//! core's [`jframe::service::demo`]. The statuses, the unknown-op rule and
//! the chunk-wise transforms stay in core.
//!
//! - `upper`: Unicode upper-casing and how much it can grow;
//! - `reply`: the replies (held in memory, or a file).

mod reply;
mod upper;

use jframe::service::{Answer, Refusal, Request, Service};
use jframe::{Header, Status};

use crate::budget::{Budget, Reservation, Shortfall};
use crate::files::Root;
pub use reply::{FileBody, Held, StdBody, StdReply};
pub use upper::UPPER_GROWTH;
use upper::{push_upper, unicode_text, upper_len};

/// A body being collected whole, with the budget it holds: its own size
/// plus room for the largest reply it can make ([`UPPER_GROWTH`] times as
/// large), so a body admitted is always answered.
#[derive(Debug)]
struct Collecting {
    body: Vec<u8>,
    hold: Reservation,
}

/// The std adapter's services on top of core's.
///
/// Memory held whole on a peer's behalf is reserved from a [`Budget`]
/// shared by every connection of a server before it is allocated: a
/// streamed Unicode `upper` body reserves its size times `1 +`
/// [`UPPER_GROWTH`] before collecting (then keeps only what its reply
/// needs, until the reply has been sent), and the reply to a whole-frame
/// body reserves its exact size. Past the budget a request is answered
/// `busy`; one that alone exceeds it, `too_large`. Reservations are given
/// back on drop, however the request ends. `echo`, `greet` and ASCII
/// `upper` of whole frames stream and hold nothing.
///
/// ```
/// use jframe_std::server::{Config, Server};
/// use jframe_std::services::StdServices;
///
/// // What a server serves by default, made by hand: no root (every `get`
/// // is `forbidden`), bodies collected whole up to 1 MiB.
/// let server = Server::bind("127.0.0.1:0".parse()?, None, Config::default())?
///     .with_service(|| StdServices::new(None, 1 << 20));
/// # drop(server);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct StdServices {
    /// Where `get` serves from; `None`: every `get` is `forbidden`.
    pub root: Option<Root>,
    /// Largest body collected whole (Unicode `upper` of a streamed body).
    pub max_collect: u64,
    budget: Budget,
    collecting: Option<Collecting>,
}

impl StdServices {
    /// Services with `get` beneath `root`, collecting bodies up to
    /// `max_collect`, with a budget of their own
    /// ([`crate::budget::DEFAULT_BODY_BUDGET`]). A server shares one
    /// budget between its connections: see [`Self::with_budget`].
    pub fn new(root: Option<Root>, max_collect: u64) -> Self {
        Self::with_budget(root, max_collect, Budget::default())
    }

    /// Services drawing on `budget`, which clones share: give every
    /// connection of a server a clone of the same one.
    pub fn with_budget(root: Option<Root>, max_collect: u64, budget: Budget) -> Self {
        StdServices {
            root,
            max_collect,
            budget,
            collecting: None,
        }
    }

    /// The budget these services draw on.
    pub fn budget(&self) -> &Budget {
        &self.budget
    }

    fn get(&self, header: &Header) -> Answer<StdReply> {
        let Some(root) = &self.root else {
            return refusal_answer(Status::Forbidden, "get is disabled: the server has no root");
        };
        let Some(name) = header.name.as_deref() else {
            return refusal_answer(Status::BadRequest, "get needs a name");
        };
        match root.prepare(name) {
            Err(refusal) => {
                log::info!("get {name:?}: {}", refusal.message);
                refusal_answer(refusal.status, &refusal.message)
            }
            Ok(prepared) => {
                log::info!("get {name:?}: sending {} bytes", prepared.size);
                let head = Header::reply(Status::Ok, prepared.size).with_sha256(&prepared.sha256);
                match head {
                    Ok(head) => Answer::Reply(StdReply {
                        head,
                        body: StdBody::File(FileBody::new(prepared)),
                    }),
                    Err(e) => refusal_answer(Status::Error, &e.to_string()),
                }
            }
        }
    }

    /// Reserves for, and starts collecting, a streamed `upper` body.
    fn start_collect(&mut self, size: u64) -> Answer<StdReply> {
        self.collecting = None;
        if size > self.max_collect {
            let max = self.max_collect;
            let why = format!("upper holds bodies whole: {size} bytes exceeds {max}");
            return refusal_answer(Status::TooLarge, &why);
        }
        let need = size.saturating_mul(1 + UPPER_GROWTH);
        let hold = match self.budget.reserve(need) {
            Ok(hold) => hold,
            Err(short) => return shortfall(short, need, &self.budget),
        };
        let mut body = Vec::new();
        let Ok(len) = usize::try_from(size) else {
            return refusal_answer(Status::TooLarge, "body too large for this machine");
        };
        if body.try_reserve_exact(len).is_err() {
            return refusal_answer(Status::Busy, "out of memory; try again");
        }
        self.collecting = Some(Collecting { body, hold });
        Answer::Collect
    }
}

/// The answer that refuses a request with `status` and `message`.
fn refusal_answer<S>(status: Status, message: &str) -> Answer<S> {
    Answer::Refuse(Refusal::text(status, message))
}

fn shortfall<S>(short: Shortfall, need: u64, budget: &Budget) -> Answer<S> {
    let status = match short {
        Shortfall::TooLarge => Status::TooLarge,
        Shortfall::Busy => Status::Busy,
    };
    let limit = budget.limit();
    refusal_answer(
        status,
        &format!("needs {need} bytes of memory: {short} ({limit} bytes)"),
    )
}

/// A reply of bytes held in memory, with the budget they hold.
fn held_reply(out: Vec<u8>, hold: Reservation) -> Answer<StdReply> {
    Answer::Reply(StdReply {
        head: Header::reply(Status::Ok, out.len() as u64),
        body: StdBody::Held(Held::new(out, hold)),
    })
}

/// Upper-cases a whole-frame body known to be non-ASCII UTF-8 into a
/// reply whose size is reserved first.
fn upper_whole(text: &str, budget: &Budget) -> Answer<StdReply> {
    let len = upper_len(text);
    let hold = match budget.reserve(len as u64) {
        Ok(hold) => hold,
        Err(short) => return shortfall(short, len as u64, budget),
    };
    let mut out = Vec::new();
    if out.try_reserve_exact(len).is_err() {
        return refusal_answer(Status::Busy, "out of memory; try again");
    }
    push_upper(text, &mut out);
    held_reply(out, hold)
}

/// Upper-cases a collected body: ASCII (or not UTF-8) in place; Unicode
/// into one new buffer of the exact size, within what was reserved, after
/// which the body is freed and the reservation cut to the reply.
fn upper_collected(c: Collecting) -> Answer<StdReply> {
    let Collecting { mut body, mut hold } = c;
    let len = match std::str::from_utf8(&body) {
        Ok(text) if !text.is_ascii() => upper_len(text),
        _ => {
            body.make_ascii_uppercase();
            hold.shrink_to(body.capacity() as u64);
            return held_reply(body, hold);
        }
    };
    let mut out = Vec::new();
    if (len as u64) > hold.bytes().saturating_sub(body.capacity() as u64)
        || out.try_reserve_exact(len).is_err()
    {
        // Not expected (UPPER_GROWTH bounds it), but never past the budget.
        return refusal_answer(Status::Busy, "out of memory; try again");
    }
    if let Ok(text) = std::str::from_utf8(&body) {
        push_upper(text, &mut out);
    }
    drop(body);
    hold.shrink_to(out.capacity() as u64);
    held_reply(out, hold)
}

impl Service for StdServices {
    type Source = StdReply;
    type Header = Header;

    fn call(&mut self, request: &Request<'_, Header>) -> Answer<StdReply> {
        match (request.op, request.body) {
            (Some("get"), _) => self.get(request.header),
            // ASCII (or not UTF-8 at all) is core's ASCII upper, streamed.
            (None | Some("upper"), Some(body)) => match unicode_text(body) {
                Some(text) => upper_whole(text, &self.budget),
                None => jframe::service::demo::answer(request.op),
            },
            (None | Some("upper"), None) => self.start_collect(request.header.data_size),
            (op, _) => jframe::service::demo::answer(op),
        }
    }

    fn collect(&mut self, chunk: &[u8]) -> Result<(), Refusal> {
        let Some(c) = self.collecting.as_mut() else {
            return Err(Refusal::text(Status::Error, "no body is being collected"));
        };
        // The capacity is the announced size: never grow past it.
        if chunk.len() > c.body.capacity() - c.body.len() {
            self.collecting = None;
            return Err(Refusal::text(Status::Error, "body longer than announced"));
        }
        c.body.extend_from_slice(chunk);
        Ok(())
    }

    fn finish(&mut self, _header: &Header) -> Answer<StdReply> {
        match self.collecting.take() {
            Some(c) => upper_collected(c),
            None => refusal_answer(Status::Error, "no body was collected"),
        }
    }

    fn abandon(&mut self) {
        self.collecting = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `upper` of a whole body: valid UTF-8 goes through Unicode
    /// upper-casing (which may change the length: `ß` becomes `SS`);
    /// anything else is upper-cased as ASCII, byte for byte, like Python's
    /// `bytes.upper`.
    fn upper(body: &[u8]) -> Vec<u8> {
        match unicode_text(body) {
            Some(text) => {
                let mut out = Vec::with_capacity(upper_len(text));
                push_upper(text, &mut out);
                out
            }
            None => body.to_ascii_uppercase(),
        }
    }

    #[test]
    fn upper_rules() {
        assert_eq!(upper(b"hello world!"), b"HELLO WORLD!");
        assert_eq!(upper("straße".as_bytes()), "STRASSE".as_bytes());
        assert_eq!(upper("héllo".as_bytes()), "HÉLLO".as_bytes());
        // Invalid UTF-8: ASCII letters only, other bytes untouched.
        assert_eq!(upper(b"ab\xffc"), b"AB\xffC");
        assert_eq!(upper(b""), b"");
    }

    #[test]
    fn upper_grows_at_most_upper_growth_times() {
        let mut worst = (0u64, 'a');
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            let out: usize = c.to_uppercase().map(char::len_utf8).sum();
            let growth = (out as u64 * 1000) / c.len_utf8() as u64;
            if growth > worst.0 {
                worst = (growth, c);
            }
        }
        assert!(worst.0 <= UPPER_GROWTH * 1000, "{worst:?}");
        assert_eq!(upper("\u{390}".as_bytes()).len(), 6);
    }

    fn head(size: u64) -> Header {
        Header::request(jframe::Op::Upper, size)
    }

    fn call(s: &mut StdServices, h: &Header, body: Option<&[u8]>) -> Answer<StdReply> {
        let op = h.op.as_deref();
        s.call(&Request {
            header: h,
            op,
            body,
        })
    }

    fn collect_all(s: &mut StdServices, body: &[u8]) -> Answer<StdReply> {
        let h = head(body.len() as u64);
        match call(s, &h, None) {
            Answer::Collect => {}
            other => return other,
        }
        for chunk in body.chunks(1000) {
            if let Err(r) = s.collect(chunk) {
                return Answer::Refuse(r);
            }
        }
        s.finish(&h)
    }

    fn reply_bytes(claim: Answer<StdReply>) -> Vec<u8> {
        let Answer::Reply(mut reply) = claim else {
            panic!("expected a reply, got {claim:?}");
        };
        let mut out = vec![0u8; reply.head.data_size as usize];
        let mut at = 0;
        while at < out.len() {
            at += reply.body.fill(&mut out[at..]).unwrap();
        }
        out
    }

    fn status(claim: &Answer<StdReply>) -> Option<Status> {
        match claim {
            Answer::Refuse(r) => Some(r.status),
            _ => None,
        }
    }

    #[test]
    fn collected_bodies_hold_the_budget_until_the_reply_is_dropped() {
        let budget = Budget::new(40_000);
        let mut a = StdServices::with_budget(None, 1 << 20, budget.clone());
        let mut b = StdServices::with_budget(None, 1 << 20, budget.clone());
        let text = "\u{390}".repeat(2_000); // 4,000 bytes -> 12,000
        let reply = collect_all(&mut a, text.as_bytes());
        assert_eq!(budget.used(), 12_000, "only the reply is held");
        // 4 x 4,000 + 12,000 fits; a second 8,000-byte body needs 32,000: busy.
        let big = "\u{390}".repeat(4_000);
        assert_eq!(
            status(&collect_all(&mut b, big.as_bytes())),
            Some(Status::Busy)
        );
        assert_eq!(budget.used(), 12_000);
        // Alone, more than the budget: too_large.
        let huge = "a".repeat(10_001);
        assert_eq!(
            status(&collect_all(&mut b, huge.as_bytes())),
            Some(Status::TooLarge)
        );
        assert_eq!(reply_bytes(reply), text.to_uppercase().as_bytes());
        assert_eq!(budget.used(), 0, "given back once the reply is gone");
        // ASCII: in place, the reply holds its own size only.
        let ascii = collect_all(&mut b, b"hello");
        assert_eq!(budget.used(), 5);
        assert_eq!(reply_bytes(ascii), b"HELLO");
        assert_eq!(budget.used(), 0);
        // Abandoned half-way: given back.
        assert!(matches!(call(&mut b, &head(100), None), Answer::Collect));
        b.collect(&[b'x'; 10]).unwrap();
        assert_eq!(budget.used(), 400);
        b.abandon();
        assert_eq!(budget.used(), 0);
        // Services dropped mid-body (the connection died): given back.
        assert!(matches!(call(&mut b, &head(100), None), Answer::Collect));
        drop(b);
        assert_eq!(budget.used(), 0);
        // More than announced is refused, never stored.
        assert!(matches!(call(&mut a, &head(4), None), Answer::Collect));
        assert!(a.collect(b"12345").is_err());
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn whole_frame_replies_reserve_their_size() {
        let budget = Budget::new(10);
        let mut s = StdServices::with_budget(None, 1 << 20, budget.clone());
        let h = head(2);
        let r = call(&mut s, &h, Some("\u{390}".as_bytes()));
        assert_eq!(budget.used(), 6);
        let busy = call(&mut s, &h, Some("\u{390}".as_bytes()));
        assert_eq!(status(&busy), Some(Status::Busy));
        assert_eq!(reply_bytes(r), "\u{390}".to_uppercase().as_bytes());
        assert_eq!(budget.used(), 0);
        // ASCII streams through core: nothing held.
        assert!(matches!(
            call(&mut s, &h, Some(b"hi")),
            Answer::Transform(_)
        ));
        let echo = Header::request(jframe::Op::Echo, 2);
        assert!(matches!(call(&mut s, &echo, None), Answer::Transform(_)));
        assert_eq!(budget.used(), 0);
    }
}
