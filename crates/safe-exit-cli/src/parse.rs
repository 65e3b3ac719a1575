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
///
/// A number that fits an `i32` is passed on as it is: 0, negative numbers and numbers above
/// the platform's last signal are refused by safe_kill, with its own message (0 only tests
/// whether a process exists; it cannot ask one to end). A longer number, or a real-time
/// name outside `RTMIN`..=`RTMAX`, is refused here. Never panics: all arithmetic is checked.
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
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{text} is not a signal number: it is far out of range; use a name such as TERM or a \
             number such as 15"
        ));
    }
    let upper = text.trim().to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some((_, n)) = SIGNALS.iter().find(|(s, _)| *s == name) {
        return Ok(*n);
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let (min, max) = (libc::SIGRTMIN(), libc::SIGRTMAX());
        return realtime(name, min, max).ok_or_else(|| {
            if name.starts_with("RTMIN") || name.starts_with("RTMAX") {
                format!(
                    "{text:?} is not a real-time signal here: they are RTMIN ({min}) to RTMAX \
                     ({max}), written RTMIN, RTMIN+N, RTMAX-N or RTMAX"
                )
            } else {
                bad()
            }
        });
    }
    #[allow(unreachable_code)]
    Err(bad())
}

/// `RTMIN`, `RTMIN+N`, `RTMAX-N`, `RTMAX` (upper case, without `SIG`) as a signal number in
/// `min..=max`; `None` for anything else, including offsets that leave the range or
/// overflow.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn realtime(name: &str, min: i32, max: i32) -> Option<i32> {
    let (base, rest) = if let Some(rest) = name.strip_prefix("RTMIN") {
        (min, rest)
    } else {
        (max, name.strip_prefix("RTMAX")?)
    };
    let sig = if rest.is_empty() {
        base
    } else {
        // A sign and decimal digits, nothing else ("RTMIN3", "RTMIN+-1", "RTMIN+ 1" are not
        // spellings of a signal).
        let (up, digits) = match (rest.strip_prefix('+'), rest.strip_prefix('-')) {
            (Some(digits), _) => (true, digits),
            (_, Some(digits)) => (false, digits),
            _ => return None,
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let offset: i32 = digits.parse().ok()?;
        if up {
            base.checked_add(offset)?
        } else {
            base.checked_sub(offset)?
        }
    };
    (min..=max).contains(&sig).then_some(sig)
}

/// `500ms`, `4s`, `1.5s`, `2m`, `1h`; a bare number is seconds.
///
/// The number is decimal digits with at most one `.` (no sign, exponent, `inf` or `NaN`),
/// read exactly, to the nanosecond (rounded down), never through a float. Any such number is
/// accepted, however large: one beyond what a [`Duration`] holds is [`Duration::MAX`], and
/// safe_kill treats a duration too long for a deadline as no deadline.
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
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if fraction.contains('.') || (whole.is_empty() && fraction.is_empty()) {
        return Err(bad("not a number"));
    }
    let unit_nanos: u128 = match unit.trim() {
        "ms" => 1_000_000,
        "" | "s" | "sec" => 1_000_000_000,
        "m" | "min" => 60 * 1_000_000_000,
        "h" => 3600 * 1_000_000_000,
        _ => return Err(bad("unknown unit")),
    };
    Ok(scaled(whole, fraction, unit_nanos))
}

/// `whole.fraction` (decimal digits) times `unit_nanos` nanoseconds, rounded down to the
/// nanosecond; [`Duration::MAX`] if that is more than a `Duration` holds.
fn scaled(whole: &str, fraction: &str, unit_nanos: u128) -> Duration {
    const NANOS: u128 = 1_000_000_000;
    let max = Duration::MAX.as_nanos();
    // The whole part, saturating: anything above `max` is too long anyway.
    let mut units: u128 = 0;
    for d in whole.bytes() {
        units = units
            .saturating_mul(10)
            .saturating_add(u128::from(d - b'0'))
            .min(max + 1);
    }
    // The fraction, to 20 digits: a unit is at most 3.6e12 ns, so later digits are worth
    // less than a nanosecond (and 10^20 units of 3.6e12 ns fit a u128).
    let digits = &fraction.as_bytes()[..fraction.len().min(20)];
    let mut part: u128 = 0;
    for &d in digits {
        part = part * 10 + u128::from(d - b'0');
    }
    let part_nanos = part * unit_nanos / 10u128.pow(digits.len() as u32);
    let total = units.saturating_mul(unit_nanos).saturating_add(part_nanos);
    if total > max {
        return Duration::MAX;
    }
    // total <= Duration::MAX: the seconds fit a u64.
    Duration::new((total / NANOS) as u64, (total % NANOS) as u32)
}

/// A duration as the options take it: `500ms`, `4s`, `1.5s`, `2m`.
pub(crate) fn humane(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms % 60_000 == 0 {
        format!("{}m", ms / 60_000)
    } else {
        format!("{}s", d.as_secs_f64())
    }
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
        let (min, max) = (libc::SIGRTMIN(), libc::SIGRTMAX());
        assert_eq!(parse_signal("RTMIN"), Ok(min));
        assert_eq!(parse_signal("sigrtmin+2"), Ok(min + 2));
        assert_eq!(parse_signal("RTMAX-1"), Ok(max - 1));
        assert_eq!(parse_signal("RTMAX"), Ok(max));
        assert_eq!(parse_signal("RTMIN+0"), Ok(min));
        assert_eq!(parse_signal(&format!("RTMIN+{}", max - min)), Ok(max));
        assert_eq!(parse_signal(&format!("RTMAX-{}", max - min)), Ok(min));
        assert!(parse_signal("RTMIN+x").is_err());
    }

    /// Out of range or overflowing: an error that names the range, never a panic (in a debug
    /// build, `RTMIN+2147483647` used to overflow an addition).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn realtime_signals_out_of_range_are_errors() {
        let (min, max) = (libc::SIGRTMIN(), libc::SIGRTMAX());
        for bad in [
            "RTMIN+2147483647",
            "RTMIN+2147483648",
            "RTMIN+99999999999999999999",
            "RTMAX-2147483648",
            "RTMAX+2147483647",
            "RTMIN-1",
            "RTMAX+1",
            "SIGRTMIN-2147483647",
            &format!("RTMIN+{}", max - min + 1),
            &format!("RTMAX-{}", max - min + 1),
        ] {
            let e = parse_signal(bad).unwrap_err();
            assert!(
                e.contains(&format!("RTMIN ({min}) to RTMAX ({max})")),
                "{bad}: {e}"
            );
        }
        for bad in [
            "RTMIN3", "RTMIN+", "RTMIN-", "RTMIN+-1", "RTMIN++1", "RTMIN+ 1", "RTMINX", "RTMINé",
        ] {
            assert!(parse_signal(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn numbers_beyond_i32_are_errors() {
        for bad in ["99999999999", "2147483648", "-2147483649", "+99999999999"] {
            let e = parse_signal(bad).unwrap_err();
            assert!(e.contains("not a signal number"), "{bad}: {e}");
        }
        // Within i32: passed on, refused by safe_kill with the platform's range.
        assert_eq!(parse_signal("-1"), Ok(-1));
        assert_eq!(parse_signal("2147483647"), Ok(i32::MAX));
        assert_eq!(parse_signal("-2147483648"), Ok(i32::MIN));
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
        assert_eq!(parse_duration(".5s"), Ok(ms(500)));
        assert_eq!(parse_duration("5."), Ok(ms(5000)));
        assert_eq!(parse_duration("4 s"), Ok(ms(4000)));
        for bad in [
            "",
            "s",
            "-1s",
            "4 parsecs",
            "1..2s",
            "1.2.3s",
            ".",
            ".s",
            "ms500",
            "1e9999s",
            "1e3",
            "4d",
            "+1s",
            "-0",
            "inf",
            "-inf",
            "infinity",
            "NaN",
            "nan s",
            "0x10s",
        ] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.contains("500ms, 4s"), "{bad}: {e}");
        }
    }

    /// Read exactly: no float rounding on the way.
    #[test]
    fn durations_are_exact() {
        assert_eq!(parse_duration("0.1s"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_duration("1.1h"), Ok(Duration::from_secs(3960)));
        assert_eq!(parse_duration("0.001ms"), Ok(Duration::from_micros(1)));
        assert_eq!(
            parse_duration("9007199254740993s"),
            Ok(Duration::from_secs(9_007_199_254_740_993))
        );
        assert_eq!(
            parse_duration("1.123456789123456789123456789s"),
            Ok(Duration::new(1, 123_456_789))
        );
    }

    /// Well-formed durations beyond a `Duration`'s range, or too long for any deadline, are
    /// accepted: safe_kill reads them as no deadline. They used to be "out of range".
    #[test]
    fn durations_too_long_for_a_deadline_are_accepted() {
        let secs = Duration::from_secs;
        assert_eq!(parse_duration("18446744073709551615s"), Ok(secs(u64::MAX)));
        assert_eq!(
            parse_duration("5124095576030431h"),
            Ok(secs(5_124_095_576_030_431 * 3600))
        );
        assert_eq!(
            parse_duration("18446744073709551615.999999999s"),
            Ok(Duration::MAX)
        );
        for huge in [
            "18446744073709551616s",
            "18446744073709551615.9999999999999s",
            "5124095576030432h",
            "307445734561825861m",
            "18446744073709551616000ms",
            "99999999999999999999999999999999999999999999999999h",
            &"9".repeat(400),
            &format!("{}.5s", "1".repeat(100)),
        ] {
            assert_eq!(parse_duration(huge), Ok(Duration::MAX), "{huge}");
        }
        // Both too long for a deadline: the library waits without one.
        for long in ["18446744073709551615s", "5124095576030431h"] {
            let d = parse_duration(long).unwrap();
            assert!(std::time::Instant::now().checked_add(d).is_none(), "{long}");
        }
    }

    #[test]
    fn durations_read_back() {
        assert_eq!(humane(Duration::from_millis(500)), "500ms");
        assert_eq!(humane(Duration::from_secs(4)), "4s");
        assert_eq!(humane(Duration::from_millis(1500)), "1.5s");
        assert_eq!(humane(Duration::from_secs(120)), "2m");
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
