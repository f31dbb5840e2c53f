//! Reports of a run: the counts by verdict and group, JSON lines (with the
//! `cli` feature) and JUnit XML for CI systems.

use std::fmt;

use super::{Group, Outcome, Verdict};

/// Counts by verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Strict passes.
    pub pass: usize,
    /// Passes whose replies depart from what SPEC asks of senders.
    pub non_strict: usize,
    /// Failures.
    pub fail: usize,
}

impl Counts {
    /// Counts `outcomes`.
    pub fn of<'a>(outcomes: impl IntoIterator<Item = &'a Outcome>) -> Counts {
        let mut c = Counts::default();
        for o in outcomes {
            match o.verdict() {
                Verdict::Pass => c.pass += 1,
                Verdict::NonStrict => c.non_strict += 1,
                Verdict::Fail => c.fail += 1,
            }
        }
        c
    }

    /// Cases that did what SPEC requires, strictly or not.
    pub fn passed(&self) -> usize {
        self.pass + self.non_strict
    }

    /// Every case.
    pub fn total(&self) -> usize {
        self.pass + self.non_strict + self.fail
    }

    /// Cases that fail the run ([`Verdict::fails`]).
    pub fn failed(&self, strict: bool) -> usize {
        [
            (Verdict::Fail, self.fail),
            (Verdict::NonStrict, self.non_strict),
        ]
        .iter()
        .filter(|(v, _)| v.fails(strict))
        .map(|(_, n)| n)
        .sum()
    }
}

/// Whether a run passed (`strict`: non-strict passes fail it): its counts,
/// or, when some case failed, a message that lists each failed case on a
/// line of its own. What a test that plays the table against its own
/// server asserts.
///
/// # Example
///
/// ```no_run
/// use jframe_std::conform::{self, Options, report};
///
/// let outcomes = conform::run_tcp("127.0.0.1:5000".parse()?, &Options::default());
/// if let Err(failed) = report::all_pass(&outcomes, false) {
///     panic!("{failed}");
/// }
/// # Ok::<(), std::net::AddrParseError>(())
/// ```
pub fn all_pass(outcomes: &[Outcome], strict: bool) -> Result<Counts, String> {
    let counts = Counts::of(outcomes);
    if counts.total() == 0 {
        return Err("no case ran".to_string());
    }
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|o| o.verdict().fails(strict))
        .map(|o| o.to_string())
        .collect();
    if failed.is_empty() {
        return Ok(counts);
    }
    Err(format!(
        "{} of {} cases failed:\n{}",
        failed.len(),
        counts.total(),
        failed.join("\n")
    ))
}

impl fmt::Display for Counts {
    /// `12 passed (12 non-strict), 66 failed`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} passed ({} non-strict), {} failed",
            self.passed(),
            self.non_strict,
            self.fail
        )
    }
}

/// The counts of each group present in `outcomes`, framing first.
pub fn by_group(outcomes: &[Outcome]) -> Vec<(Group, Counts)> {
    [Group::Framing, Group::Demo]
        .into_iter()
        .filter(|g| outcomes.iter().any(|o| o.group == *g))
        .map(|g| (g, Counts::of(outcomes.iter().filter(|o| o.group == g))))
        .collect()
}

/// One case as a JSON object: `id`, `transport`, `group`, `verdict`,
/// `spec` (section names), `rule`, `reason` (failures) and `departures`
/// (non-strict).
#[cfg(feature = "cli")]
pub fn json_case(o: &Outcome) -> serde_json::Value {
    serde_json::json!({
        "type": "case",
        "id": o.name,
        "transport": o.transport(),
        "group": o.group.as_str(),
        "verdict": o.verdict().as_str(),
        "spec": o.spec(),
        "rule": o.why,
        "reason": o.result.as_ref().err(),
        "departures": o.departures,
    })
}

/// The summary as a JSON object: the counts, overall and by group.
#[cfg(feature = "cli")]
pub fn json_summary(outcomes: &[Outcome]) -> serde_json::Value {
    let counts = |c: Counts| {
        serde_json::json!({
            "total": c.total(),
            "pass": c.pass,
            "non_strict": c.non_strict,
            "fail": c.fail,
        })
    };
    let mut groups = serde_json::Map::new();
    for (g, c) in by_group(outcomes) {
        groups.insert(g.as_str().into(), counts(c));
    }
    let mut v = counts(Counts::of(outcomes));
    v["type"] = "summary".into();
    v["groups"] = groups.into();
    v
}

/// `s` escaped for XML text and attribute values; characters XML 1.0
/// cannot carry are written as `\u{..}`.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// A JUnit XML report: one `<testsuite>` per group, one `<testcase>` per
/// outcome (class `jframe.conform.<group>.<transport>`, name the case id).
/// A failure is a `<failure>`; a non-strict pass is a pass whose
/// `<system-out>` says how it departs from SPEC.
pub fn junit(outcomes: &[Outcome]) -> String {
    let all = Counts::of(outcomes);
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(&format!(
        "<testsuites name=\"jframe conform\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"0\">\n",
        all.total(),
        all.fail
    ));
    for (group, c) in by_group(outcomes) {
        x.push_str(&format!(
            "  <testsuite name=\"jframe conform {group}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"0\">\n",
            c.total(),
            c.fail
        ));
        x.push_str(&format!(
            "    <properties><property name=\"non_strict\" value=\"{}\"/></properties>\n",
            c.non_strict
        ));
        for o in outcomes.iter().filter(|o| o.group == group) {
            x.push_str(&format!(
                "    <testcase classname=\"jframe.conform.{group}.{}\" name=\"{}\">\n",
                xml_escape(o.transport()),
                xml_escape(&o.name)
            ));
            let spec = o.spec().join(", ");
            match (&o.result, o.verdict()) {
                (Err(reason), _) => {
                    x.push_str(&format!(
                        "      <failure message=\"{}\" type=\"fail\">{}\nSPEC: {}</failure>\n",
                        xml_escape(reason),
                        xml_escape(reason),
                        xml_escape(o.why)
                    ));
                }
                (Ok(()), Verdict::NonStrict) => {
                    x.push_str(&format!(
                        "      <system-out>verdict: non-strict (SPEC: {})\n{}\nSPEC asks: {}</system-out>\n",
                        xml_escape(&spec),
                        xml_escape(&o.departures.join("\n")),
                        xml_escape(super::WHY_SENDERS)
                    ));
                }
                (Ok(()), _) => {
                    x.push_str(&format!(
                        "      <system-out>verdict: pass (SPEC: {})</system-out>\n",
                        xml_escape(&spec)
                    ));
                }
            }
            x.push_str("    </testcase>\n");
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(name: &str, group: Group, result: Result<(), &str>, dep: &[&str]) -> Outcome {
        Outcome {
            name: name.into(),
            group,
            why: "Errors and recovery: a <rule> & \"more\"",
            result: result.map_err(str::to_string),
            departures: dep.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn counts_and_junit() {
        let all = [
            outcome("tcp/a", Group::Framing, Ok(()), &[]),
            outcome(
                "tcp/b",
                Group::Framing,
                Ok(()),
                &["no status: {\"data_size\": 2}"],
            ),
            outcome("udp/c<&>", Group::Demo, Err("got \u{1}\"x\" <y>"), &[]),
        ];
        let c = Counts::of(&all);
        assert_eq!((c.pass, c.non_strict, c.fail), (1, 1, 1));
        assert_eq!(c.to_string(), "2 passed (1 non-strict), 1 failed");
        assert_eq!(by_group(&all).len(), 2);
        let x = junit(&all);
        assert!(
            x.contains(r#"<testsuites name="jframe conform" tests="3" failures="1""#),
            "{x}"
        );
        assert!(x.contains(r#"name="udp/c&lt;&amp;&gt;""#), "{x}");
        assert!(
            x.contains(r#"message="got \u{1}&quot;x&quot; &lt;y&gt;""#),
            "{x}"
        );
        assert!(x.contains("verdict: non-strict"), "{x}");
        assert!(!x.contains('\u{1}'));
        assert_eq!(xml_escape("a'b\u{ffff}"), "a&apos;b\\u{ffff}");
    }

    #[test]
    fn all_pass_names_each_failure_and_is_strict_on_request() {
        let pass = outcome("tcp/a", Group::Framing, Ok(()), &[]);
        let non_strict = outcome("tcp/b", Group::Framing, Ok(()), &["no status"]);
        let fail = outcome("tcp/c", Group::Demo, Err("got nothing"), &[]);
        let two = [pass.clone(), non_strict.clone()];
        assert_eq!(all_pass(&two, false).map(|c| c.passed()), Ok(2));
        let strict = all_pass(&two, true).unwrap_err();
        assert!(strict.starts_with("1 of 2 cases failed:\n"), "{strict}");
        assert!(strict.contains("tcp/b"), "{strict}");
        let failed = all_pass(&[pass, non_strict, fail], false).unwrap_err();
        assert!(failed.starts_with("1 of 3 cases failed:\n"), "{failed}");
        assert!(
            failed.contains("tcp/c") && !failed.contains("tcp/a"),
            "{failed}"
        );
        assert_eq!(all_pass(&[], false), Err("no case ran".to_string()));
        assert_eq!(Counts::of(&two).failed(true), 1);
    }

    #[cfg(feature = "cli")]
    #[test]
    fn json_lines() {
        let all = [
            outcome("tcp/a", Group::Framing, Ok(()), &["x"]),
            outcome("tcp/b", Group::Demo, Err("EOF"), &[]),
        ];
        let v = json_case(&all[0]);
        assert_eq!(v["verdict"], "non-strict");
        assert_eq!(v["spec"][0], "Errors and recovery");
        assert_eq!(v["reason"], serde_json::Value::Null);
        assert_eq!(json_case(&all[1])["reason"], "EOF");
        let s = json_summary(&all);
        assert_eq!(s["type"], "summary");
        assert_eq!(s["total"], 2);
        assert_eq!(s["groups"]["demo"]["fail"], 1);
        assert_eq!(s["groups"]["framing"]["non_strict"], 1);
    }
}
