//! One JSON object per line with its keys in the order given, for the
//! `jframe` command's output and the proxy's reports (a `serde_json::Value`
//! object would sort them). Not part of the library's API.

use serde_json::Value;

/// A JSON object whose keys keep the order given (a `serde_json::Value`
/// object would sort them): the `-H` keys of a request header, and the
/// fields of a JSON line.
#[derive(Debug)]
pub struct Ordered<'a, K>(pub &'a [(K, Value)]);

impl<K: AsRef<str>> serde::Serialize for Ordered<'_, K> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            map.serialize_entry(k.as_ref(), v)?;
        }
        map.end()
    }
}

/// One JSON object on one line, its keys in the order given; `Null`
/// values are left out.
pub fn json_line(fields: &[(&str, Value)]) -> String {
    let kept: Vec<(&str, Value)> = fields
        .iter()
        .filter(|(_, v)| !v.is_null())
        .cloned()
        .collect();
    // Keys are strings and values JSON already: this cannot fail.
    serde_json::to_string(&Ordered(&kept)).unwrap_or_default()
}
