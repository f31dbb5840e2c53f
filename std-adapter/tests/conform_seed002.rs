//! `jframe conform` against seed 002's Python server, which is not
//! jframe's: the SPEC vectors pass non-strict, `bad_frame` is never
//! answered, and the `--json` and JUnit reports say so, well formed.

mod common;

use common::*;

/// Seed 002's `socketserver.ThreadingTCPServer` (tests/py/seed002_server.py,
/// stdlib only, on 127.0.0.1): it frames correctly and upper-cases every
/// body, writes `{"data_size": N}` with no status, and on a bad frame raises
/// and drops the connection (its tracebacks are expected: not shown).
fn seed002() -> PyServer {
    PyServer::start_with("seed002_server.py", &[], std::process::Stdio::null())
}

#[test]
fn seed002_python_server_gets_the_vectors_non_strict_and_never_answers_bad_frame() {
    let seed = seed002();
    let addr = seed.addr.clone();
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("seed002.xml");
    let common = ["--timeout", "3s", "--jobs", "16"];

    // The whole table, as a new user runs it.
    let mut args = vec![addr.as_str(), "--json", "--junit", junit.to_str().unwrap()];
    args.extend(common);
    let (status, text) = conform_quietly(&args);
    assert_eq!(status.code(), Some(1), "{text}");
    let (cases, summary) = json_report(&text);
    check_junit(&junit, &cases, &summary);
    // What it gets right: the vectors it can read, non-strict because its
    // replies carry no status (and json.dumps's spacing).
    for id in ["tcp/vector/python-dialect", "tcp/vector/jframe-dialect"] {
        let c = case(&cases, id);
        assert_eq!(c["verdict"], "non-strict", "{c}");
        assert_eq!(c["group"], "framing", "{c}");
        let d = c["departures"].to_string();
        assert!(
            d.contains("no status") && d.contains("not compact JSON"),
            "{c}"
        );
    }
    assert_eq!(
        case(&cases, "tcp/service/upper-ascii")["verdict"],
        "non-strict"
    );
    // What it gets wrong: it never answers bad_frame (it drops the
    // connection), echo upper-cases, and the old key size is not read.
    let fatal: Vec<&serde_json::Value> = cases
        .iter()
        .filter(|c| c["id"].as_str().unwrap().starts_with("tcp/fatal/"))
        .collect();
    assert!(fatal.len() > 40);
    for c in fatal
        .iter()
        .chain([&case(&cases, "tcp/vector/negative-prefix")])
    {
        assert_eq!(c["verdict"], "fail", "{c}");
    }
    let eof = case(&cases, "tcp/vector/negative-prefix")["reason"]
        .as_str()
        .unwrap();
    assert!(eof.contains("EOF"), "{eof}");
    assert_eq!(case(&cases, "tcp/service/echo")["verdict"], "fail");
    assert_eq!(case(&cases, "tcp/vector/size-alias")["verdict"], "fail");
    assert_eq!(summary["pass"], 0, "{summary}");
    assert!(summary["non_strict"].as_u64().unwrap() >= 3, "{summary}");
    // Its framing shows even with the demo table: the framing cases' echo
    // bodies read the same upper-cased.
    for id in [
        "tcp/header/whitespace",
        "tcp/boundary/second-frame-starts-at-4096",
    ] {
        assert_eq!(case(&cases, id)["verdict"], "non-strict", "{id}");
    }
    assert!(summary["groups"]["framing"]["non_strict"].as_u64().unwrap() >= 15);

    // The text report says the same, and not "0 passed".
    let (status, text) = conform_quietly(&[&addr, "--only", "tcp/vector/", common[0], common[1]]);
    assert_eq!(status.code(), Some(1), "{text}");
    assert!(
        text.contains("non-strict tcp/vector/python-dialect: no status (readers take it as ok; senders write it): {\"data_size\": 2}; not compact JSON"),
        "{text}"
    );
    assert!(
        text.contains("FAIL       tcp/vector/negative-prefix: expected 1 reply, got 0 then EOF"),
        "{text}"
    );
    assert_eq!(
        text.lines().last(),
        Some("2 passed (2 non-strict), 2 failed"),
        "{text}"
    );

    // Framing only, with an op it answers ok (it answers any): its framing
    // shows, header forms, pipelining and buffer boundaries included.
    let mut args = vec![
        addr.as_str(),
        "--framing-only",
        "--ok-op",
        "upper",
        "--json",
    ];
    args.extend(common);
    let (status, text) = conform_quietly(&args);
    assert_eq!(status.code(), Some(1), "{text}");
    let (cases, summary) = json_report(&text);
    assert!(cases.iter().all(|c| c["group"] == "framing"));
    for id in [
        "tcp/header/whitespace",
        "tcp/header/unknown-keys",
        "tcp/pipeline/byte-at-a-time",
        "tcp/boundary/second-frame-starts-at-8192",
        "tcp/boundary/prefix-split-by-1",
    ] {
        assert_eq!(case(&cases, id)["verdict"], "non-strict", "{id}");
    }
    assert_eq!(case(&cases, "tcp/recover/unknown-op")["verdict"], "fail");
    assert_eq!(
        case(&cases, "tcp/fatal/duplicate-key/size-first")["verdict"],
        "fail"
    );
    assert!(summary["non_strict"].as_u64().unwrap() >= 15, "{summary}");
    assert_eq!(summary["pass"], 0, "{summary}");
}
