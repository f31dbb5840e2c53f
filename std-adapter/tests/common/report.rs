//! Checks of `jframe conform`'s reports: the `--json` lines and the JUnit
//! XML.

/// The JSON lines of `--json`: the cases, then the summary.
pub fn json_report(text: &str) -> (Vec<serde_json::Value>, serde_json::Value) {
    let mut lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect();
    let summary = lines.pop().expect("a summary line");
    assert_eq!(summary["type"], "summary", "{summary}");
    assert!(lines.iter().all(|c| c["type"] == "case"), "{text}");
    assert_eq!(summary["total"], lines.len(), "{summary}");
    for c in &lines {
        assert!(c["id"].as_str().is_some_and(|id| !id.is_empty()), "{c}");
        assert!(c["spec"].as_array().is_some_and(|s| !s.is_empty()), "{c}");
        let v = c["verdict"].as_str().unwrap_or("");
        assert!(["pass", "non-strict", "fail"].contains(&v), "{c}");
        assert_eq!(v == "fail", c["reason"].is_string(), "{c}");
    }
    (lines, summary)
}

pub fn case<'a>(cases: &'a [serde_json::Value], id: &str) -> &'a serde_json::Value {
    cases
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no case {id}"))
}

/// A check that `x` is well-formed XML (no XML crate in the lockfile): one
/// root, tags nested and closed, attributes quoted, `&` only in the five
/// entities or character references, no `<` in text or values, no control
/// characters. Returns the number of each element by name.
pub fn assert_well_formed_xml(x: &str) -> std::collections::HashMap<String, usize> {
    fn entities_ok(s: &str) -> bool {
        let mut rest = s;
        while let Some(at) = rest.find('&') {
            rest = &rest[at + 1..];
            let Some(end) = rest.find(';') else {
                return false;
            };
            let name = &rest[..end];
            let numeric = name
                .strip_prefix('#')
                .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
            if !numeric && !["amp", "lt", "gt", "quot", "apos"].contains(&name) {
                return false;
            }
            rest = &rest[end + 1..];
        }
        !s.chars()
            .any(|c| (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r'))
    }
    let is_name = |n: &str| {
        !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
    };
    let mut rest = x
        .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
        .expect("an XML declaration");
    let mut stack: Vec<&str> = Vec::new();
    let mut roots = 0;
    let mut count = std::collections::HashMap::new();
    // Each turn consumes at least one byte.
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('<') {
            let end = r.find('>').expect("an unclosed tag");
            let tag = &r[..end];
            rest = &r[end + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop(), Some(name), "mismatched </{name}>");
                continue;
            }
            let closed = tag.ends_with('/');
            let tag = tag.trim_end_matches('/');
            let (name, mut attrs) = tag.split_once(' ').unwrap_or((tag, ""));
            assert!(is_name(name), "bad element name {name:?}");
            while !attrs.trim().is_empty() {
                let (key, after) = attrs.trim_start().split_once("=\"").expect("key=\"value\"");
                assert!(is_name(key), "bad attribute name {key:?}");
                let (value, after) = after.split_once('"').expect("a closing quote");
                assert!(
                    !value.contains('<') && entities_ok(value),
                    "bad value {value:?}"
                );
                attrs = after;
            }
            if stack.is_empty() {
                roots += 1;
            }
            *count.entry(name.to_string()).or_insert(0) += 1;
            if !closed {
                stack.push(name);
            }
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            let text = &rest[..end];
            assert!(entities_ok(text), "bad text {text:?}");
            if stack.is_empty() {
                assert!(text.trim().is_empty(), "text outside the root: {text:?}");
            }
            rest = &rest[end..];
        }
    }
    assert!(stack.is_empty(), "unclosed {stack:?}");
    assert_eq!(roots, 1);
    count
}

/// The JUnit file: well-formed, one testcase per case, failures counted.
pub fn check_junit(
    path: &std::path::Path,
    cases: &[serde_json::Value],
    summary: &serde_json::Value,
) {
    let x = std::fs::read_to_string(path).expect("the JUnit file");
    let count = assert_well_formed_xml(&x);
    assert_eq!(count.get("testsuites"), Some(&1));
    assert_eq!(count.get("testcase").copied(), Some(cases.len()), "{x}");
    assert_eq!(
        count.get("failure").copied().unwrap_or(0),
        summary["fail"].as_u64().unwrap() as usize
    );
    assert!(
        x.contains(&format!(
            r#"tests="{}" failures="{}""#,
            cases.len(),
            summary["fail"]
        )),
        "{x}"
    );
}
