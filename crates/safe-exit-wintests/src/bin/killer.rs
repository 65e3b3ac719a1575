//! A program that uses safe_kill and must stay safe itself: `killer TARGET SIGNAL [OPTION]`.
//!
//! It configures safe-exit with `DEFAULT_CONFIG` (plus `AUTO_CREATE_CONSOLE` with the option
//! `auto-console`) and registers a hook that prints `killer hook ran {exit_reason:?}`. With
//! `companion` it first starts a copy of itself that shares its console (`killer park`), so
//! that it is not alone on its console. `TARGET` is a pid, or `shared` for a target that it
//! starts itself on its own console. It prints `console-before window=W visible=V`, the
//! result of `safe_kill_with(TARGET, signal SIGNAL, 2 s)` as `outcome X` or `error X`, and
//! `console-after window=W visible=V`, then `ready`, and blocks: the test then sends Ctrl-C
//! to its console, and its hook must run.

#[cfg(windows)]
fn main() {
    imp::main()
}

#[cfg(not(windows))]
fn main() {
    eprintln!("this test program runs on Windows only");
    std::process::exit(2);
}

#[cfg(windows)]
mod imp {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::time::Duration;

    use safe_exit::{ConfigFlag, KillError, KillOptions};
    use safe_exit_wintests::child::{park_forever, say};
    use windows_sys::Win32::System::Console::GetConsoleWindow;
    use windows_sys::Win32::UI::WindowsAndMessaging::IsWindowVisible;

    fn console(when: &str) {
        // SAFETY: console and window queries without preconditions; null is checked for.
        let (window, visible) = unsafe {
            let w = GetConsoleWindow();
            (w as usize, !w.is_null() && IsWindowVisible(w) != 0)
        };
        say(&format!(
            "{when} window={window} visible={}",
            u8::from(visible)
        ));
    }

    /// Another copy of this program on our console (inherited, no window of its own), once
    /// it has said `ready` (so it is attached to the console).
    fn spawn_self(mode: &str) -> std::process::Child {
        let mut child = Command::new(std::env::current_exe().expect("our own path"))
            .arg(mode)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn a copy of ourselves");
        let mut line = String::new();
        let out = child.stdout.take().expect("piped");
        BufReader::new(out)
            .read_line(&mut line)
            .expect("its ready line");
        assert_eq!(line.trim_end(), "ready");
        child
    }

    pub(crate) fn main() {
        let args: Vec<String> = std::env::args().collect();
        match args[1].as_str() {
            "park" => {
                say("ready");
                park_forever()
            }
            "park-configured" => {
                safe_exit::register(|| {});
                say("ready");
                park_forever()
            }
            _ => {}
        }
        let option = args.get(3).map_or("", String::as_str);
        let mut flags = safe_exit::DEFAULT_CONFIG;
        if option == "auto-console" {
            flags |= ConfigFlag::AUTO_CREATE_CONSOLE;
        }
        safe_exit::config(flags).expect("config");
        safe_exit::register(|| say(&format!("killer hook ran {:?}", safe_exit::exit_reason())));
        let _companion = (option == "companion").then(|| spawn_self("park"));
        let mut shared = (args[1] == "shared").then(|| spawn_self("park-configured"));
        let target = match &shared {
            Some(child) => child.id(),
            None => args[1].parse().expect("a pid"),
        };
        let signal: i32 = args[2].parse().expect("a signal number");
        console("console-before");
        let opts = KillOptions::new()
            .signal(signal)
            .timeout(Duration::from_secs(2));
        match safe_exit::safe_kill_with(target, &opts) {
            Ok(outcome) => say(&format!("outcome {outcome:?}")),
            Err(KillError::CannotAsk { reason, .. }) => say(&format!("error CannotAsk {reason}")),
            Err(e) => say(&format!("error {e}")),
        }
        console("console-after");
        if let Some(child) = &mut shared {
            let _ = child.kill();
        }
        say("ready");
        park_forever()
    }
}
