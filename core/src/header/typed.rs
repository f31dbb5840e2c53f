//! Headers decoded into an application's own serde types, after jframe's
//! validation: [`Typed`] (beside what the session reads), [`Serde`] (alone)
//! and [`parse_header_as`] (borrowing from the JSON).

use crate::error::{DecodeError, HeaderError};

use super::scan::validate;
use super::{CompactHeader, ParseHeader, ServiceHeader};

/// A request header parsed into your own serde type `T` beside what the
/// session reads (`data_size`, `op`, `status`, as [`CompactHeader`]): the
/// header a [`Service`](crate::service::Service) with typed requests
/// declares. Validation is jframe's (fatal versus recoverable as SPEC
/// says); a header that validates but does not fit `T` is a recoverable
/// `bad_request` ([`HeaderError::Deserialize`]). Strings are unescaped
/// through a 256-byte scratch buffer.
///
/// # Example
///
/// ```
/// use jframe::header::Typed;
/// use jframe::{Decoder, Event};
///
/// #[derive(serde::Deserialize, Debug, Default, PartialEq)]
/// struct Led {
///     on: bool,
/// }
///
/// let mut decoder = Decoder::with_header([0u8; 128], Typed::<Led>::default());
/// let json = br#"{"data_size":0,"op":"led","on":true}"#;
/// let wire = [&(json.len() as i32).to_le_bytes()[..], json].concat();
/// match decoder.feed(&wire) {
///     (_, Ok(Event::Frame(frame))) => {
///         assert_eq!(frame.header.base.op.as_deref(), Some("led"));
///         assert_eq!(frame.header.value, Led { on: true });
///     }
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Typed<T> {
    /// What the session reads.
    pub base: CompactHeader,
    /// Your type.
    pub value: T,
}

impl<T: serde::de::DeserializeOwned> ParseHeader for Typed<T> {
    fn parse_into(&mut self, json: &[u8]) -> Result<u64, DecodeError> {
        let data_size = self.base.parse_into(json)?;
        self.value = deserialize(json, data_size)?;
        Ok(data_size)
    }
}

impl<T: serde::de::DeserializeOwned + Default> ServiceHeader for Typed<T> {
    fn data_size(&self) -> u64 {
        self.base.data_size()
    }

    fn op_name(&self) -> Option<&str> {
        self.base.op_name()
    }

    fn is_reply(&self) -> bool {
        self.base.is_reply()
    }
}

/// An application's own header type, decoded with serde after jframe's
/// validation. Strings are unescaped through a 256-byte scratch buffer, so
/// an escaped string longer than that is a [`HeaderError::Deserialize`].
///
/// # Example
///
/// ```
/// use jframe::header::Serde;
/// use jframe::{Decoder, Event};
///
/// #[derive(serde::Deserialize, Debug, Default)]
/// struct Mine {
///     data_size: u64,
///     tag: heapless::String<8>,
/// }
///
/// let mut decoder = Decoder::with_header([0u8; 128], Serde(Mine::default()));
/// let json = br#"{"data_size":1,"tag":"x"}"#;
/// let wire = [&(json.len() as i32).to_le_bytes()[..], json, b"!"].concat();
/// match decoder.feed(&wire) {
///     (_, Ok(Event::Frame(frame))) => assert_eq!(frame.header.0.tag, "x"),
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Serde<T>(pub T);

impl<T: serde::de::DeserializeOwned> ParseHeader for Serde<T> {
    fn parse_into(&mut self, json: &[u8]) -> Result<u64, DecodeError> {
        let data_size = validate(json)?;
        self.0 = deserialize(json, data_size)?;
        Ok(data_size)
    }
}

/// `T` from a header already validated (with a valid `data_size`): a
/// mismatch is the recoverable [`HeaderError::Deserialize`]. Strings are
/// unescaped through a 256-byte scratch buffer.
fn deserialize<T: serde::de::DeserializeOwned>(
    json: &[u8],
    data_size: u64,
) -> Result<T, DecodeError> {
    let mut scratch = [0u8; 256];
    match serde_json_core::from_slice_escaped::<T>(json, &mut scratch) {
        Ok((value, _)) => Ok(value),
        Err(_) => Err(DecodeError::request(
            HeaderError::Deserialize,
            data_size,
            json,
        )),
    }
}

/// Decodes a header into the caller's own serde type, after the same
/// validation [`Header::parse`](super::Header::parse) applies (depth, duplicates, trailing bytes,
/// a valid `data_size`). Escaped strings are unescaped into `scratch`, which
/// must be as large as the longest escaped string.
///
/// # Example
///
/// ```
/// use jframe::{HeaderError, parse_header_as};
///
/// #[derive(serde::Deserialize)]
/// struct Mine<'a> {
///     data_size: u64,
///     tag: &'a str,
/// }
///
/// let mine: Mine<'_> = parse_header_as(br#"{"data_size":3,"tag":"x"}"#, &mut [0u8; 16])?;
/// assert_eq!((mine.data_size, mine.tag), (3, "x"));
/// // What jframe's scanner forbids, a serde type never gets.
/// let twice = br#"{"data_size":3,"data_size":3,"tag":"x"}"#;
/// let refused = parse_header_as::<Mine<'_>>(twice, &mut [0u8; 16]);
/// assert_eq!(refused.err(), Some(HeaderError::DuplicateKey));
/// # Ok::<(), HeaderError>(())
/// ```
pub fn parse_header_as<'a, T>(json: &'a [u8], scratch: &mut [u8]) -> Result<T, HeaderError>
where
    T: serde::Deserialize<'a>,
{
    validate(json).map_err(|e| match e {
        DecodeError::Header(e) => e,
        _ => HeaderError::Syntax,
    })?;
    match serde_json_core::from_slice_escaped::<T>(json, scratch) {
        Ok((value, _)) => Ok(value),
        Err(_) => Err(HeaderError::Deserialize),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_types() {
        #[derive(serde::Deserialize)]
        struct Mine<'a> {
            data_size: u64,
            tag: heapless::String<8>,
            #[serde(borrow)]
            raw: &'a str,
        }
        let json = br#"{"data_size":3,"tag":"a\"b","raw":"plain","extra":[1]}"#;
        let m: Mine<'_> = parse_header_as(json, &mut [0; 16]).unwrap();
        assert_eq!((m.data_size, m.tag.as_str(), m.raw), (3, "a\"b", "plain"));
        let deep = br#"{"data_size":3,"tag":"x","raw":"y","d":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}"#;
        assert_eq!(
            parse_header_as::<Mine<'_>>(deep, &mut [0; 16]).err(),
            Some(HeaderError::TooDeep)
        );
    }
}
