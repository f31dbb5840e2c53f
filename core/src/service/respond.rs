//! What a session does with one decoder event: plan the request, write
//! the reply's head and body into [`Out`], or refuse it; and the work it
//! leaves for the next events ([`Work`]).

use crate::header::Status;

use super::api::{Service, Source};
use super::end::End;
use super::out::Out;
use super::request::{Limits, Plan, Refusal, collect_whole, is_exit, plan};
use super::transform::{GREET_BYE, Transform};

/// What the session is producing or consuming beyond the decoder's own
/// state. Only the states that can happen: each is entered from one plan.
#[derive(Debug)]
pub(super) enum Work<'b, S> {
    /// Nothing beyond the decoder: between frames, in a header, or skipping.
    None,
    /// A built-in transform's body, chunk by chunk into the reply.
    Stream(Transform),
    /// The service collects the body.
    Collect,
    /// A greet body of `exit`'s length, held until it is all there.
    Exit { got: [u8; 4], len: u8 },
    /// A service's reply: its head (once written), then its body pulled
    /// as room allows.
    Source { source: S, head: bool, left: u64 },
    /// The rest of the welcome's body.
    Welcome(&'b [u8]),
}

/// What the session must do once an event's borrow of the decoder has
/// ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum After {
    Continue,
    /// Skip the rest of the body.
    SkipBody,
    /// The collected body is complete: ask the service to finish.
    Finish,
}

/// The parts of a session that answer one event.
pub(super) struct Responder<'s, 'b, X: Service> {
    pub(super) service: &'s mut X,
    pub(super) limits: &'s Limits,
    pub(super) out: &'s mut Out<'b>,
    pub(super) work: &'s mut Work<'b, X::Source>,
    pub(super) refusal: &'s mut Refusal,
}

impl<X: Service> Responder<'_, '_, X> {
    /// Writes the refusal [`plan`] (or the service) left in `refusal`,
    /// and tells the service; the session goes on.
    fn send_refusal(&mut self) -> Result<After, End> {
        self.out.refusal_head(self.refusal).map_err(End::Encode)?;
        self.service.replied(self.refusal.status, 0);
        Ok(After::Continue)
    }

    /// A request whose body arrived whole (it fits the room: see `Session::advance`).
    pub(super) fn whole(&mut self, header: &X::Header, body: &[u8]) -> Result<After, End> {
        let planned = plan(header, Some(body), self.limits, self.service, self.refusal);
        match planned {
            Plan::Transform {
                transform,
                reply_size,
            } => {
                self.out
                    .reply(transform, reply_size, body, self.service)
                    .map_err(End::Encode)?;
                self.service.replied(Status::Ok, reply_size);
            }
            Plan::MaybeExit => self.exit_or_greet(body)?,
            Plan::Reply(source) => self.source(source),
            Plan::Collect => match collect_whole(self.service, header, body, self.refusal) {
                Some(source) => self.source(source),
                None => return self.send_refusal(),
            },
            Plan::Refuse => return self.send_refusal(),
            Plan::Ignore => return Err(End::ReplyReceived),
        }
        Ok(After::Continue)
    }

    /// A request whose body follows in chunks.
    pub(super) fn head(&mut self, header: &X::Header) -> Result<After, End> {
        match plan(header, None, self.limits, self.service, self.refusal) {
            Plan::Transform {
                transform,
                reply_size,
            } => {
                self.out.ok_head(reply_size).map_err(End::Encode)?;
                self.service.replied(Status::Ok, reply_size);
                self.out.put(transform.prefix(), None);
                // A body of 0 bytes arrives whole: this one has chunks.
                *self.work = Work::Stream(transform);
                Ok(After::Continue)
            }
            Plan::MaybeExit => {
                *self.work = Work::Exit {
                    got: [0; 4],
                    len: 0,
                };
                Ok(After::Continue)
            }
            Plan::Reply(source) => {
                self.source(source);
                Ok(After::SkipBody)
            }
            Plan::Collect => {
                *self.work = Work::Collect;
                Ok(After::Continue)
            }
            Plan::Refuse => {
                self.send_refusal()?;
                Ok(After::SkipBody)
            }
            Plan::Ignore => Err(End::ReplyReceived),
        }
    }

    /// The next piece of a streamed body.
    pub(super) fn chunk(&mut self, data: &[u8], remaining: u64) -> Result<After, End> {
        match self.work {
            Work::Stream(t) => {
                // `advance` fed no more than the room takes.
                self.out.put_transformed(data, *t, self.service);
                if remaining == 0 {
                    self.out.put(t.suffix(), None);
                    *self.work = Work::None;
                }
                Ok(After::Continue)
            }
            Work::Exit { got, len } => {
                for &b in data {
                    if let Some(slot) = got.get_mut(usize::from(*len)) {
                        *slot = b;
                        *len += 1;
                    }
                }
                if remaining == 0 {
                    let body = *got;
                    let body = body.get(..usize::from(*len)).unwrap_or_default();
                    *self.work = Work::None;
                    self.exit_or_greet(body)?;
                }
                Ok(After::Continue)
            }
            Work::Collect => {
                if let Err(r) = self.service.collect(data) {
                    *self.work = Work::None;
                    self.service.abandon();
                    *self.refusal = r;
                    self.send_refusal()?;
                    return Ok(After::SkipBody);
                }
                if remaining == 0 {
                    *self.work = Work::None;
                    return Ok(After::Finish);
                }
                Ok(After::Continue)
            }
            _ => Ok(After::Continue),
        }
    }

    /// `greet` of a body of `exit`'s length: `Bye!` and the end, or
    /// `Hello, <body>!`.
    fn exit_or_greet(&mut self, body: &[u8]) -> Result<(), End> {
        if is_exit(body) {
            let size = GREET_BYE.len() as u64;
            self.out
                .reply(Transform::Echo, size, GREET_BYE, self.service)
                .map_err(End::Encode)?;
            self.service.replied(Status::Ok, size);
            return Err(End::Bye);
        }
        let t = Transform::Greet;
        let size = (body.len() + t.prefix().len() + t.suffix().len()) as u64;
        self.out
            .reply(t, size, body, self.service)
            .map_err(End::Encode)?;
        self.service.replied(Status::Ok, size);
        Ok(())
    }

    fn source(&mut self, source: X::Source) {
        let left = source.data_size();
        *self.work = Work::Source {
            source,
            head: false,
            left,
        };
    }
}
