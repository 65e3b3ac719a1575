//! Parsing the command line's values: signals, durations and pids. Each parser returns a
//! message that says what is accepted, for a one-line error.

use std::time::Duration;

/// Signal names and numbers on this platform, without the `SIG` prefix.
#[cfg(unix)]
const SIGNALS: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("IOT", libc::SIGABRT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("SYS", libc::SIGSYS),
    #[cfg(any(target_os = "linux", target_os = "android"))]
    ("PWR", libc::SIGPWR),
];

/// Where there are no unix signals, the names the library understands (on Windows: TERM asks
/// with WM_CLOSE or Ctrl-C, INT with Ctrl-C, BREAK with Ctrl-Break, KILL terminates).
#[cfg(not(unix))]
const SIGNALS: &[(&str, i32)] = &[("INT", 2), ("KILL", 9), ("TERM", 15), ("BREAK", 21)];

/// The signal's name with `SIG`, or its number.
pub(crate) fn signal_name(sig: i32) -> String {
    match SIGNALS.iter().find(|(_, n)| *n == sig) {
        Some((name, _)) => format!("SIG{name}"),
        None => format!("signal {sig}"),
    }
}

/// `TERM`, `SIGTERM`, `term`, `15` (and on Linux `RTMIN+3`, `SIGRTMAX-1`).
pub(crate) fn parse_signal(text: &str) -> Result<i32, String> {
    let bad = || {
        format!(
            "expected a signal name such as TERM, SIGINT or hup, or a number such as 15 \
             (got {text:?})"
        )
    };
    if let Ok(n) = text.parse::<i32>() {
        return Ok(n); // the range is checked by safe_kill, with its own message
    }
    let upper = text.trim().to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some((_, n)) = SIGNALS.iter().find(|(s, _)| *s == name) {
        return Ok(*n);
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let (base, rest) = if let Some(rest) = name.strip_prefix("RTMIN") {
            (libc::SIGRTMIN(), rest)
        } else if let Some(rest) = name.strip_prefix("RTMAX") {
            (libc::SIGRTMAX(), rest)
        } else {
            return Err(bad());
        };
        return match rest {
            "" => Ok(base),
            _ => {
                let offset: i32 = rest.parse().map_err(|_| bad())?;
                Ok(base + offset)
            }
        };
    }
    #[allow(unreachable_code)]
    Err(bad())
}

/// `500ms`, `4s`, `1.5s`, `2m`, `1h`; a bare number is seconds.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = |why: &str| {
        format!("{why} (got {text:?}); write a number and a unit: 500ms, 4s, 1.5s, 2m, 1h")
    };
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    if number.is_empty() {
        return Err(bad("no number"));
    }
    let value: f64 = number.parse().map_err(|_| bad("not a number"))?;
    let scale = match unit.trim() {
        "ms" => 0.001,
        "" | "s" | "sec" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return Err(bad("unknown unit")),
    };
    Duration::try_from_secs_f64(value * scale).map_err(|_| bad("out of range"))
}

/// A pid: a positive decimal number. Zero and numbers too large for a pid are passed on to
/// safe_kill, which refuses them with its own explanation.
pub(crate) fn parse_pid(text: &str) -> Result<u32, String> {
    if text.starts_with('-') {
        return Err(format!(
            "negative numbers name process groups, not processes (got {text:?}); to end a \
             process group pass its leader's pid with --group"
        ));
    }
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "expected a process id, a positive number (got {text:?})"
        ));
    }
    text.parse().map_err(|_| {
        format!("{text} is far too large for a process id; pids are at most 2147483647")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_or_number() {
        for text in ["TERM", "SIGTERM", "term", "sigterm", "SigTerm", "15"] {
            assert_eq!(parse_signal(text), Ok(15), "{text}");
        }
        assert_eq!(parse_signal("INT"), Ok(2));
        assert_eq!(parse_signal("kill"), Ok(9));
        assert_eq!(parse_signal("0"), Ok(0)); // refused later by safe_kill
        for bad in ["", "FOO", "SIG", "TERM15", "1.5"] {
            let e = parse_signal(bad).unwrap_err();
            assert!(e.contains("such as TERM"), "{bad}: {e}");
        }
        assert_eq!(signal_name(15), "SIGTERM");
        assert_eq!(signal_name(200), "signal 200");
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn realtime_signals() {
        assert_eq!(parse_signal("RTMIN"), Ok(libc::SIGRTMIN()));
        assert_eq!(parse_signal("sigrtmin+2"), Ok(libc::SIGRTMIN() + 2));
        assert_eq!(parse_signal("RTMAX-1"), Ok(libc::SIGRTMAX() - 1));
        assert!(parse_signal("RTMIN+x").is_err());
    }

    #[test]
    fn durations() {
        let ms = Duration::from_millis;
        assert_eq!(parse_duration("500ms"), Ok(ms(500)));
        assert_eq!(parse_duration("4s"), Ok(ms(4000)));
        assert_eq!(parse_duration("1.5s"), Ok(ms(1500)));
        assert_eq!(parse_duration("2m"), Ok(ms(120_000)));
        assert_eq!(parse_duration("1h"), Ok(ms(3_600_000)));
        assert_eq!(parse_duration("3"), Ok(ms(3000)));
        assert_eq!(parse_duration("0"), Ok(ms(0)));
        assert_eq!(parse_duration("0.25s"), Ok(ms(250)));
        for bad in [
            "",
            "s",
            "-1s",
            "4 parsecs",
            "1..2s",
            "ms500",
            "1e9999s",
            "4d",
        ] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.contains("500ms, 4s"), "{bad}: {e}");
        }
    }

    #[test]
    fn pids() {
        assert_eq!(parse_pid("1234"), Ok(1234));
        assert_eq!(parse_pid("4294967295"), Ok(u32::MAX)); // refused later by safe_kill
        assert!(parse_pid("-1").unwrap_err().contains("--group"));
        assert!(parse_pid("abc").unwrap_err().contains("process id"));
        assert!(parse_pid("").is_err());
        assert!(parse_pid("+5").is_err());
        assert!(parse_pid("99999999999").unwrap_err().contains("too large"));
    }
}
