//! The SPEC services that answer from the request body alone.

/// `upper`: valid UTF-8 goes through Unicode upper-casing (which may change
/// the length: `ß` becomes `SS`); anything else is upper-cased as ASCII,
/// byte for byte, like Python's `bytes.upper`.
pub fn upper(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    upper_into(body, &mut out);
    out
}

/// [`upper`] into `out` (cleared first), so a connection can reuse one
/// buffer instead of allocating a reply per request.
pub fn upper_into(body: &[u8], out: &mut Vec<u8>) {
    out.clear();
    if body.is_ascii() {
        out.extend_from_slice(body);
        out.make_ascii_uppercase();
        return;
    }
    match std::str::from_utf8(body) {
        Ok(s) => out.extend_from_slice(s.to_uppercase().as_bytes()),
        Err(_) => {
            out.extend_from_slice(body);
            out.make_ascii_uppercase();
        }
    }
}

/// What `greet` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Greeting {
    /// `Hello, <body>!`; the session goes on.
    Hello(Vec<u8>),
    /// The body was `exit`: reply `Bye!` and close (seed 001).
    Bye,
}

/// The `Bye!` that ends a greet session.
pub const BYE: &[u8] = b"Bye!";

/// `greet`: `Hello, <body>!`, or [`Greeting::Bye`] for `exit`.
pub fn greet(body: &[u8]) -> Greeting {
    if body == b"exit" {
        return Greeting::Bye;
    }
    let mut out = Vec::with_capacity(body.len() + GREET_EXTRA);
    out.extend_from_slice(b"Hello, ");
    out.extend_from_slice(body);
    out.push(b'!');
    Greeting::Hello(out)
}

/// How many bytes `greet` adds to a body.
pub const GREET_EXTRA: usize = "Hello, !".len();

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
        // The reused buffer is cleared, whatever it held.
        let mut out = b"leftover bytes".to_vec();
        upper_into(b"ab", &mut out);
        assert_eq!(out, b"AB");
        upper_into("ß".as_bytes(), &mut out);
        assert_eq!(out, b"SS");
    }

    #[test]
    fn greet_rules() {
        assert_eq!(
            greet(b"Michael"),
            Greeting::Hello(b"Hello, Michael!".to_vec())
        );
        assert_eq!(greet(b"exit"), Greeting::Bye);
        assert_eq!(greet(b"exit "), Greeting::Hello(b"Hello, exit !".to_vec()));
    }
}
