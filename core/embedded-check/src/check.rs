//! What the firmware does with jframe: serve requests, then verify replies.

use jframe::{Decoder, Event, Header, Op, Status, encode_frame};

/// Largest body this check answers.
const MAX_BODY: usize = 64;

/// Serves every request in `input` (fed `chunk` bytes at a time), then
/// checks the replies. `true` when everything came back as expected.
pub fn run(input: &[u8], chunk: usize) -> bool {
    let mut wire = [0u8; 512];
    let Some(len) = serve(input, chunk, &mut wire) else {
        return false;
    };
    let replies = wire.get(..len).unwrap_or_default();
    #[cfg(feature = "io")]
    if !io_matches(input, replies) {
        return false;
    }
    verify(replies, chunk)
}

/// Decodes the requests and writes one reply per request into `wire`;
/// returns the replies' total length.
fn serve(input: &[u8], chunk: usize, wire: &mut [u8]) -> Option<usize> {
    let mut decoder = Decoder::new([0u8; 128]);
    let mut len = 0;
    for piece in input.chunks(chunk.max(1)) {
        let mut rest = piece;
        while !rest.is_empty() {
            let (used, event) = decoder.feed(rest);
            let out = wire.get_mut(len..)?;
            len += match event {
                Ok(Event::Frame(frame)) => match frame.header() {
                    Ok(header) => reply(&header, frame.body, out)?,
                    Err(_) => encode_frame(
                        out,
                        &Header::error_reply(Status::BadRequest, "bad header"),
                        &[],
                    )
                    .ok()?,
                },
                Ok(_) => 0,
                Err(e) if e.is_recoverable() => {
                    encode_frame(out, &Header::error_reply(e.status(), "rejected"), &[]).ok()?
                }
                Err(_) => return None,
            };
            rest = rest.get(used..)?;
        }
    }
    decoder.is_idle().then_some(len)
}

/// The reply to one request: its header, and its body in `out`.
fn answer(request: &Header, body: &[u8], out: &mut [u8; MAX_BODY]) -> Option<(Header, usize)> {
    let reply_body = out.get_mut(..body.len())?;
    reply_body.copy_from_slice(body);
    match request.op() {
        Ok(Op::Upper) => reply_body.make_ascii_uppercase(),
        Ok(Op::Echo) => {}
        _ => return Some((Header::error_reply(Status::BadRequest, "unknown op"), 0)),
    }
    Some((Header::reply(Status::Ok, body.len() as u64), body.len()))
}

/// The reply to one frame, encoded into `out`.
fn reply(request: &Header, body: &[u8], out: &mut [u8]) -> Option<usize> {
    let mut reply_body = [0u8; MAX_BODY];
    let (header, len) = answer(request, body, &mut reply_body)?;
    encode_frame(out, &header, reply_body.get(..len)?).ok()
}

/// Decodes the replies and compares them with what the requests asked for.
fn verify(replies: &[u8], chunk: usize) -> bool {
    let expected: [(Status, &[u8]); 3] = [
        (Status::Ok, b"HELLO"),
        (Status::Ok, b"abc"),
        (Status::BadRequest, b""),
    ];
    let mut decoder = Decoder::new([0u8; 128]);
    let mut seen = 0;
    for piece in replies.chunks(chunk.max(1)) {
        let mut rest = piece;
        while !rest.is_empty() {
            let (used, event) = decoder.feed(rest);
            match event {
                Ok(Event::Frame(frame)) => {
                    let Some((status, body)) = expected.get(seen) else {
                        return false;
                    };
                    let Ok(header) = Header::parse(frame.header_json) else {
                        return false;
                    };
                    if header.status() != Some(*status) || frame.body != *body {
                        return false;
                    }
                    seen += 1;
                }
                Ok(_) => {}
                Err(_) => return false,
            }
            let Some(next) = rest.get(used..) else {
                return false;
            };
            rest = next;
        }
    }
    seen == expected.len() && decoder.is_idle()
}

/// The blocking I/O helpers produce the same replies from the same requests.
#[cfg(feature = "io")]
fn io_matches(input: &[u8], expected: &[u8]) -> bool {
    use jframe::Received;
    use jframe::io::blocking::{read_frame, write_frame};

    let mut reader = input;
    let mut decoder = Decoder::new([0u8; 128]);
    let mut wire = [0u8; 512];
    let mut writer: &mut [u8] = &mut wire;
    let mut scratch = [0u8; 256];
    let mut body = [0u8; MAX_BODY];
    loop {
        let (header, len) = match read_frame(&mut reader, &mut decoder) {
            Ok(None) => break,
            Ok(Some(Received::Frame(frame))) => match frame.header() {
                Ok(request) => match answer(&request, frame.body, &mut body) {
                    Some(answered) => answered,
                    None => return false,
                },
                Err(_) => (Header::error_reply(Status::BadRequest, "bad header"), 0),
            },
            Ok(Some(Received::Head(_))) | Err(_) => return false,
        };
        if write_frame(
            &mut writer,
            &mut scratch,
            &header,
            body.get(..len).unwrap_or_default(),
        )
        .is_err()
        {
            return false;
        }
    }
    let left = writer.len();
    let written = wire.len() - left;
    wire.get(..written) == Some(expected)
}
