//! `--json` output: one object per pid per line.
//!
//! Written by hand rather than with serde: the objects have three fixed shapes with numbers,
//! fixed words and one free-text message, so a string escaper is all that is needed, and the
//! tool keeps two dependencies (clap and the library).

use safe_exit::{KillError, KillOutcome};

/// `{"pid":1234,"outcome":"exited"}` or
/// `{"pid":0,"error":"invalid_pid","message":"refusing to signal pid 0: ..."}`.
pub(crate) fn line(pid: u32, result: &Result<KillOutcome, KillError>) -> String {
    match result {
        Ok(outcome) => format!(r#"{{"pid":{pid},"outcome":"{}"}}"#, outcome.as_str()),
        Err(e) => format!(
            r#"{{"pid":{pid},"error":"{}","message":{}}}"#,
            e.kind(),
            string(&with_causes(e))
        ),
    }
}

/// An error and its causes on one line, each said once: `safe_kill failed, ...: kill on pid 42:
/// Operation not permitted (os error 1)`.
pub(crate) fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A JSON string literal.
fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        assert_eq!(string(r#"a "b" \c"#), r#""a \"b\" \\c""#);
        assert_eq!(string("x\ny\u{1}"), r#""x\ny\u0001""#);
        assert_eq!(string("pid ü"), "\"pid ü\"");
    }

    #[test]
    fn lines() {
        assert_eq!(
            line(5, &Ok(KillOutcome::StillRunning)),
            r#"{"pid":5,"outcome":"still_running"}"#
        );
        let l = line(7, &Err(KillError::PermissionDenied { pid: 7 }));
        assert!(
            l.starts_with(r#"{"pid":7,"error":"permission_denied","message":"not allowed"#),
            "{l}"
        );
        let l = line(8, &Err(KillError::OwnThread { pid: 8 }));
        assert!(l.starts_with(r#"{"pid":8,"error":"own_thread","#), "{l}");
        let e = KillError::NotAProcess {
            pid: 9,
            process: Some(4),
        };
        let l = line(9, &Err(e));
        assert!(l.starts_with(r#"{"pid":9,"error":"not_a_process","#), "{l}");
    }
}
