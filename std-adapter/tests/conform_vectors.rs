//! Golden vectors for the Cortex-M0 run (`core/m0-check`): every TCP case of
//! the conformance table (`jframe_std::conform::cases()`), played through
//! core's engine in memory on this host by the very function the firmware
//! calls (`core/m0-check/src/serve.rs`, included below), checked against the
//! case's own SPEC expectations, and written as byte-exact replies to
//! `core/m0-check/src/vectors.rs`, which the firmware replays on QEMU
//! `microbit` and compares byte for byte.
//!
//! The test fails if the committed vectors differ from what this host makes
//! now. After a deliberate change to the table or the engine, regenerate:
//!
//! ```text
//! JFRAME_BLESS=1 cargo test -p jframe-std --test conform_vectors
//! ```
//!
//! How a case becomes a vector:
//! - `Afterwards::Open`: the request, then the probe; the client
//!   half-closes; the replies must be the expected ones then the probe's
//!   `ok`/`OK`, and the session must end because the client closed;
//! - `Afterwards::Closed`: the request (which carries a probe after the
//!   offence); the client stays connected and silent; the server must
//!   close on its own, after exactly the expected replies;
//! - `Afterwards::Stop`: the request; the client stays silent; the expected
//!   replies must come first (what follows is recorded, not judged).
//!
//! Every case is also served with the request cut into reads of 1 and of 5
//! bytes: the replies and the close must not depend on it.

#[path = "../../core/m0-check/src/serve.rs"]
mod serve;

use std::fmt::Write as _;
use std::path::PathBuf;

use jframe_std::conform::{self, Afterwards, Exchange, Expect};
use serve::{OUT, serve_in_memory};

/// Read sizes each case is served with (the first one is the golden run).
const CHUNKS: [usize; 3] = [usize::MAX, 1, 5];

struct Vector {
    name: String,
    input: Vec<u8>,
    close: bool,
    reply: Vec<u8>,
    closed: bool,
}

/// A reply as read back: its status and its body.
type Reply = (Option<String>, Vec<u8>);

/// The reply frames in `bytes`, parsed with core's stateless `parse_frame`;
/// an error if bytes remain that are not a frame.
fn frames(bytes: &[u8]) -> Result<Vec<Reply>, String> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let mut header = jframe::Header::default();
        match jframe::parse_frame(rest, 1 << 16, &mut header) {
            Ok(jframe::Parse::Complete { body, len, .. }) => {
                out.push((header.status.as_deref().map(str::to_string), body.to_vec()));
                rest = &rest[len..];
            }
            other => return Err(format!("reply bytes {rest:?} are not a frame: {other:?}")),
        }
    }
    Ok(out)
}

fn matches(want: &Expect, got: &Reply) -> bool {
    got.0.as_deref() == Some(want.status) && want.body.as_ref().is_none_or(|b| *b == got.1)
}

/// The largest request a vector carries (the M0's flash holds them all,
/// and its 1 KiB client buffer their replies).
const M0_REQUEST_MAX: usize = 1024;

/// Serves the case in memory and checks it against its expectations.
fn vector(case: &conform::Case) -> Option<Result<Vector, String>> {
    let Exchange::Tcp {
        request,
        replies,
        end,
        ..
    } = &case.exchange
    else {
        return None;
    };
    // The cases at a std driver's 4 and 8 KiB read buffers carry more than
    // the M0's 1 KiB client buffer holds; the device-sized ones (256 B)
    // stay, and the std drivers run those two in their own tests.
    if request.len() > M0_REQUEST_MAX {
        return None;
    }
    let (input, close) = match end {
        Afterwards::Open => ([request.clone(), conform::probe()].concat(), true),
        Afterwards::Closed | Afterwards::Stop => (request.clone(), false),
    };
    let mut runs = Vec::new();
    for chunk in CHUNKS {
        let mut out = [0u8; OUT];
        let (n, closed) = serve_in_memory(&input, chunk, close, &mut out);
        runs.push((out[..n].to_vec(), closed));
    }
    let (reply, closed) = runs[0].clone();
    Some((|| {
        for (chunk, run) in CHUNKS.iter().zip(&runs).skip(1) {
            if *run != runs[0] {
                return Err(format!(
                    "reads of {chunk} bytes change the replies or the close"
                ));
            }
        }
        if reply.len() >= OUT {
            return Err(format!("the replies fill the {OUT}-byte client buffer"));
        }
        let got = frames(&reply)?;
        let mut want: Vec<Expect> = replies.clone();
        if *end == Afterwards::Open {
            want.push(Expect::ok(b"OK"));
        }
        let exact = *end != Afterwards::Stop;
        let count_ok = if exact {
            got.len() == want.len()
        } else {
            got.len() >= want.len()
        };
        if !count_ok || !want.iter().zip(&got).all(|(w, g)| matches(w, g)) {
            return Err(format!("expected replies {want:?}, got {got:?}"));
        }
        match end {
            Afterwards::Open if closed => return Err("the server closed an open connection".into()),
            Afterwards::Closed if !closed => return Err("the server did not close".into()),
            _ => {}
        }
        Ok(Vector {
            name: case.name.clone(),
            input,
            close,
            reply,
            closed,
        })
    })())
}

fn bytes(b: &[u8]) -> String {
    let escaped: String = b.escape_ascii().to_string();
    format!("b\"{escaped}\"")
}

fn render(vectors: &[Vector]) -> String {
    let mut s = String::new();
    s.push_str(
        "//! Generated by `JFRAME_BLESS=1 cargo test -p jframe-std --test conform_vectors`\n\
         //! (std-adapter/tests/conform_vectors.rs): do not edit. Every TCP case of\n\
         //! `jframe_std::conform::cases()`, served in memory by core's engine on the\n\
         //! host and checked against the case's expectations: the client's bytes,\n\
         //! whether it half-closes, the server's exact reply bytes, and whether the\n\
         //! server closes on its own.\n\n\
         /// One conformance case, in memory.\n\
         pub struct Vector {\n\
         \x20   /// The case's name in the conformance table.\n\
         \x20   pub name: &'static str,\n\
         \x20   /// Everything the client writes.\n\
         \x20   pub input: &'static [u8],\n\
         \x20   /// The client half-closes after `input` (else it stays silent).\n\
         \x20   pub close: bool,\n\
         \x20   /// Everything the server writes.\n\
         \x20   pub reply: &'static [u8],\n\
         \x20   /// The server closes on its own.\n\
         \x20   pub closed: bool,\n\
         }\n\n",
    );
    let _ = writeln!(s, "/// The {} TCP cases, in table order.", vectors.len());
    s.push_str("pub static VECTORS: &[Vector] = &[\n");
    for v in vectors {
        let _ = writeln!(
            s,
            "    Vector {{\n        name: {:?},\n        input: {},\n        close: {},\n        reply: {},\n        closed: {},\n    }},",
            v.name,
            bytes(&v.input),
            v.close,
            bytes(&v.reply),
            v.closed
        );
    }
    s.push_str("];\n");
    s
}

#[test]
fn conformance_vectors_for_the_m0_are_current_and_pass_on_the_host() {
    let mut failed = Vec::new();
    let mut vectors = Vec::new();
    for case in conform::cases() {
        match vector(&case) {
            None => {}
            Some(Ok(v)) => vectors.push(v),
            Some(Err(e)) => failed.push(format!("FAIL {}: {e} [SPEC: {}]", case.name, case.why)),
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    assert!(!vectors.is_empty(), "no TCP case in the table");
    let text = render(&vectors);
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../core/m0-check/src/vectors.rs");
    if std::env::var_os("JFRAME_BLESS").is_some() {
        std::fs::write(&path, &text).expect("write the vectors");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == text,
        "{} is stale: regenerate it with \
         JFRAME_BLESS=1 cargo test -p jframe-std --test conform_vectors",
        path.display()
    );
}
