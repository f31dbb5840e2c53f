//! `service::engine::blocking::serve` over arbitrary bytes, arbitrary read
//! and write sizes and buffer sizes: no panic, it always ends, and what it
//! writes is a sequence of whole reply frames (each carrying `status`), at
//! most one per request frame plus the welcome.
#![no_main]

use jframe::service::engine::blocking::serve;
use jframe::service::{Buffers, Builtin, Config, Deadlines, End, Limits, Phase};
use jframe::{Decoder, Event};
use libfuzzer_sys::fuzz_target;

/// In-memory transport: reads and writes of the next of `sizes` bytes.
struct Memory<'a> {
    input: &'a [u8],
    sizes: &'a [usize],
    turn: usize,
    output: Vec<u8>,
    reads: usize,
}

impl Memory<'_> {
    fn next_size(&mut self) -> usize {
        let s = self
            .sizes
            .get(self.turn % self.sizes.len().max(1))
            .copied()
            .unwrap_or(usize::MAX);
        self.turn += 1;
        s
    }
}

impl embedded_io::ErrorType for Memory<'_> {
    type Error = core::convert::Infallible;
}

impl embedded_io::Read for Memory<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        assert!(!buf.is_empty(), "read into an empty buffer looks like EOF");
        self.reads += 1;
        assert!(
            self.reads <= 2 * self.input.len() + 1000 + 10 * 1024 * 1024,
            "no progress"
        );
        let n = buf.len().min(self.next_size()).min(self.input.len());
        buf[..n].copy_from_slice(&self.input[..n]);
        self.input = &self.input[n..];
        Ok(n)
    }
}

impl embedded_io::Write for Memory<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        assert!(!buf.is_empty());
        let n = buf.len().min(self.next_size());
        self.output.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

impl Deadlines for Memory<'_> {
    fn before_read(&mut self, _: Phase) -> bool {
        true
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((cfg, stream)) = data.split_at_checked(10) else {
        return;
    };
    let rx = 1 + usize::from(cfg[0]) * 4;
    let frame = 1 + usize::from(u16::from_le_bytes([cfg[1], cfg[2]])) % 2048;
    let tx = 16 + usize::from(cfg[3]) * 4;
    let max_body = if cfg[4] == 0xff {
        u64::MAX
    } else {
        u64::from(cfg[4]) * 16
    };
    let welcome = (cfg[5] & 1 != 0).then_some(&b"Welcome!"[..]);
    let sizes: Vec<usize> = cfg[6..]
        .iter()
        .map(|&c| {
            if c == 0 {
                4096
            } else {
                usize::from(c % 64) + 1
            }
        })
        .collect();

    let mut io = Memory {
        input: stream,
        sizes: &sizes,
        turn: 0,
        output: Vec::new(),
        reads: 0,
    };
    let (mut rx, mut fr, mut txb) = (vec![0u8; rx], vec![0u8; frame], vec![0u8; tx]);
    let config = Config {
        limits: Limits {
            max_header: 4096,
            max_body,
        },
        welcome,
    };
    let buffers = Buffers {
        rx: &mut rx,
        frame: &mut fr,
        tx: &mut txb,
    };
    let end = serve(&mut io, buffers, &mut Builtin, &config);
    assert!(
        !matches!(end, End::Io(_) | End::WriteZero | End::Source(_)),
        "{end:?}"
    );

    // The replies: whole frames, each with a status.
    let mut dec = Decoder::new(vec![0u8; 1 << 16]).streaming(true);
    let mut rest = &io.output[..];
    let mut frames = 0usize;
    while !rest.is_empty() {
        let (used, ev) = dec.feed(rest);
        match ev.expect("the engine wrote a malformed frame") {
            Event::Frame(f) => {
                assert!(f.header.status.is_some(), "a reply without status");
                frames += 1;
            }
            Event::Head(h) => {
                assert!(h.header.status.is_some(), "a reply without status");
                frames += 1;
            }
            Event::BodyChunk { .. } | Event::NeedMore => {}
        }
        rest = &rest[used..];
    }
    // A streamed reply is cut short when the peer leaves inside the request
    // body it answers, or when a reply head did not fit `tx`.
    assert!(
        dec.is_idle() || matches!(end, End::Encode(_) | End::Truncated),
        "reply cut short: {end:?}"
    );
    // One reply per request at most (a request is at least 6 bytes).
    assert!(frames <= usize::from(welcome.is_some()) + stream.len() / 6 + 1);
    if welcome.is_some() && !matches!(end, End::Encode(_)) {
        assert!(frames >= 1, "no welcome");
    }
});
