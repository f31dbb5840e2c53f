//! The general path from a header's JSON to its values: the scanner's
//! members sorted into the sizes and the keys SPEC names, each checked.

use heapless::String;

use crate::error::{DecodeError, HeaderError};
use crate::json::{self, RawStr, Value};

use super::fast::compact;

/// Scans a general header: the sizes resolved, every key SPEC names handed
/// to `store` when it is a string (of another type: `InvalidField`), and
/// `welcome` set when the key `welcome` is `true`.
pub(super) fn parse_known(
    json: &[u8],
    welcome: &mut bool,
    mut store: impl FnMut(Field, RawStr<'_>) -> Result<(), HeaderError>,
) -> Result<u64, DecodeError> {
    let mut sizes = Sizes::default();
    // The first semantic error is kept while the scan goes on: the whole
    // header must still be validated, and `data_size` found, so that the
    // body can be skipped exactly.
    let mut invalid = None;
    json::scan(json, |key, value| {
        if sizes.visit(key, value)? {
            return Ok(());
        }
        if key.eq_str("welcome") {
            *welcome = matches!(value, Value::Bool(true));
            return Ok(());
        }
        let Some(field) = Field::of(key) else {
            return Ok(());
        };
        let stored = match value {
            Value::Str(s) => store(field, s),
            _ => Err(HeaderError::InvalidField),
        };
        if let Err(e) = stored {
            invalid.get_or_insert(e);
        }
        Ok(())
    })
    .map_err(DecodeError::Header)?;
    let data_size = sizes.resolve().map_err(DecodeError::Header)?;
    match invalid {
        None => Ok(data_size),
        Some(error) => Err(DecodeError::request(error, data_size, json)),
    }
}

/// Validates `json` as a header and returns its `data_size`; every error is
/// fatal ([`DecodeError::Header`]).
///
/// # Example
///
/// ```
/// use jframe::header::validate;
///
/// assert_eq!(validate(br#"{"size": 7, "x": [1]}"#), Ok(7));
/// assert!(validate(br#"{"data_size": 1} trailing"#).is_err());
/// ```
pub fn validate(json: &[u8]) -> Result<u64, DecodeError> {
    if let Some(c) = compact(json) {
        return Ok(c.data_size);
    }
    let mut sizes = Sizes::default();
    json::scan(json, |k, v| sizes.visit(k, v).map(|_| ())).map_err(DecodeError::Header)?;
    sizes.resolve().map_err(DecodeError::Header)
}

/// The keys SPEC names, besides the sizes.
#[derive(Debug, Clone, Copy)]
pub(super) enum Field {
    Op,
    Name,
    Status,
    Error,
    Sha256,
}

impl Field {
    fn of(key: RawStr<'_>) -> Option<Field> {
        Some(if key.eq_str("op") {
            Field::Op
        } else if key.eq_str("name") {
            Field::Name
        } else if key.eq_str("status") {
            Field::Status
        } else if key.eq_str("error") {
            Field::Error
        } else if key.eq_str("sha256") {
            Field::Sha256
        } else {
            return None;
        })
    }
}

/// A string checked against a capacity without being kept: what
/// [`store`] into a string of that capacity would accept.
pub(super) fn fits(s: RawStr<'_>, capacity: usize) -> Result<(), HeaderError> {
    if s.unescaped_len() <= capacity {
        Ok(())
    } else {
        Err(HeaderError::FieldTooLong)
    }
}

pub(super) fn store<const N: usize>(
    slot: &mut Option<String<N>>,
    s: RawStr<'_>,
) -> Result<(), HeaderError> {
    // Unescape in place: a Header is large (see its docs), and moving
    // strings of up to 256 bytes around was a fifth of the parse time.
    s.unescape_into(slot.insert(String::new()))
}

/// `data_size` and `size` as seen while scanning.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Sizes {
    data_size: Option<u64>,
    size: Option<u64>,
}

impl Sizes {
    /// Records the member if it is a size key; returns whether it was.
    pub(crate) fn visit(&mut self, key: RawStr<'_>, value: Value<'_>) -> Result<bool, HeaderError> {
        let slot = if key.eq_str("data_size") {
            &mut self.data_size
        } else if key.eq_str("size") {
            &mut self.size
        } else {
            return Ok(false);
        };
        let Value::Number(n) = value else {
            return Err(HeaderError::InvalidDataSize);
        };
        *slot = Some(json::parse_size(n).ok_or(HeaderError::InvalidDataSize)?);
        Ok(true)
    }

    pub(crate) fn resolve(&self) -> Result<u64, HeaderError> {
        match (self.data_size, self.size) {
            (Some(a), Some(b)) if a != b => Err(HeaderError::SizeMismatch),
            (Some(a), _) | (None, Some(a)) => Ok(a),
            (None, None) => Err(HeaderError::MissingDataSize),
        }
    }
}
