//! systemd's notification protocol, against a real `AF_UNIX` datagram listener standing in
//! for the service manager: `notify_ready` sends `READY=1`; when shutdown starts the service
//! sends `STOPPING=1` and an `EXTEND_TIMEOUT_USEC=` that covers its policy's budget, never an
//! unbounded one; a process that is not the service says nothing.

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use safe_exit_tests::{bin, command, Child, Finished, WATCHDOG};

/// A listener in the place of systemd's notification socket.
struct Manager {
    socket: UnixDatagram,
    /// `$NOTIFY_SOCKET` for it.
    address: String,
    path: Option<PathBuf>,
}

impl Manager {
    /// Listens on a socket file (`abstract_name: false`) or an abstract name (`@...`).
    fn new(abstract_name: bool) -> Manager {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "safe-exit-notify-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let (socket, address, path) = if abstract_name {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(&name).unwrap();
            (
                UnixDatagram::bind_addr(&addr).unwrap(),
                format!("@{name}"),
                None,
            )
        } else {
            let path = std::env::temp_dir().join(name);
            let _ = std::fs::remove_file(&path);
            let socket = UnixDatagram::bind(&path).unwrap();
            (socket, path.to_str().unwrap().to_string(), Some(path))
        };
        socket.set_read_timeout(Some(WATCHDOG)).unwrap();
        Manager {
            socket,
            address,
            path,
        }
    }

    /// The next message (watchdog).
    fn receive(&self) -> String {
        let mut buf = [0u8; 512];
        let n = self
            .socket
            .recv(&mut buf)
            .expect("no notification within the watchdog");
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    /// Nothing more was sent (call once the sender has exited).
    fn assert_nothing_more(&self) {
        self.socket.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 512];
        match self.socket.recv(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            other => panic!(
                "unexpected notification: {:?}",
                other.map(|n| String::from_utf8_lossy(&buf[..n]).into_owned())
            ),
        }
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        if let Some(path) = &self.path {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// `shutdown phases OPTIONS...` with `$NOTIFY_SOCKET` set to `address` (or removed), ready.
fn service(address: Option<&str>, options: &[&str]) -> Child {
    let mut cmd = command(bin!("shutdown"));
    cmd.arg("phases")
        .args(options)
        .env_remove("SYSTEMD_EXEC_PID");
    match address {
        Some(a) => cmd.env("NOTIFY_SOCKET", a),
        None => cmd.env_remove("NOTIFY_SOCKET"),
    };
    let mut child = Child::from_command(cmd);
    child.ready();
    child
}

/// Ends a service in notify mode: SIGTERM, then `return` once it has been woken.
fn stop(mut child: Child) -> Finished {
    child.signal(libc::SIGTERM);
    child.expect_line("woken ");
    child.send_line("return");
    child.finish()
}

#[test]
fn ready_then_stopping_with_the_policys_budget_on_a_socket_file_and_an_abstract_name() {
    for abstract_name in [false, true] {
        let manager = Manager::new(abstract_name);
        let child = service(
            Some(&manager.address),
            &[
                "--notify",
                "--grace",
                "2000",
                "--hook-deadline",
                "500",
                "--ready",
            ],
        );
        assert_eq!(child.seen_lines()[0], "notify_ready Ok(true)");
        assert_eq!(manager.receive(), "READY=1");
        let out = stop(child);
        out.assert_signalled(libc::SIGTERM);
        // At the signal: the grace period (from the signal), the hooks' deadline, 1 s margin.
        assert_eq!(manager.receive(), "STOPPING=1\nEXTEND_TIMEOUT_USEC=3500000");
        // When the hooks start: their deadline and the margin.
        assert_eq!(manager.receive(), "STOPPING=1\nEXTEND_TIMEOUT_USEC=1500000");
        manager.assert_nothing_more();
    }
}

#[test]
fn an_unbounded_shutdown_is_never_extended() {
    let manager = Manager::new(false);
    // No grace period: main may drain for ever, so nothing is extended at the signal; the
    // hooks have no deadline either.
    let child = service(Some(&manager.address), &["--notify", "--ready"]);
    assert_eq!(manager.receive(), "READY=1");
    stop(child).assert_signalled(libc::SIGTERM);
    assert_eq!(manager.receive(), "STOPPING=1");
    assert_eq!(manager.receive(), "STOPPING=1");
    manager.assert_nothing_more();

    // Exit mode: the hooks' deadline is the budget.
    let manager = Manager::new(true);
    let child = service(
        Some(&manager.address),
        &["--hook-deadline", "250", "--ready"],
    );
    assert_eq!(manager.receive(), "READY=1");
    child.signal(libc::SIGTERM);
    child.finish().assert_signalled(libc::SIGTERM);
    assert_eq!(manager.receive(), "STOPPING=1\nEXTEND_TIMEOUT_USEC=1250000");
    manager.assert_nothing_more();
}

#[test]
fn only_the_service_itself_says_it_is_stopping() {
    // $NOTIFY_SOCKET inherited, but neither notify_ready nor $SYSTEMD_EXEC_PID: a child of the
    // service, whose STOPPING=1 would be taken for the service's (NotifyAccess=all).
    let manager = Manager::new(false);
    let child = service(
        Some(&manager.address),
        &["--notify", "--grace", "2000", "--hook-deadline", "500"],
    );
    stop(child).assert_signalled(libc::SIGTERM);
    manager.assert_nothing_more();

    // Started by systemd itself ($SYSTEMD_EXEC_PID is its pid): told without notify_ready.
    let manager = Manager::new(false);
    let mut cmd = command("sh");
    cmd.args([
        "-c",
        "SYSTEMD_EXEC_PID=$$ exec \"$0\" phases --hook-deadline 500",
        bin!("shutdown"),
    ])
    .env("NOTIFY_SOCKET", &manager.address);
    let mut child = Child::from_command(cmd);
    child.ready();
    child.signal(libc::SIGTERM);
    child.finish().assert_signalled(libc::SIGTERM);
    assert_eq!(manager.receive(), "STOPPING=1\nEXTEND_TIMEOUT_USEC=1500000");
    manager.assert_nothing_more();
}

#[test]
fn notify_ready_without_systemd_or_with_a_bad_socket_says_so() {
    let mut child = service(None, &["--ready"]);
    assert_eq!(child.seen_lines()[0], "notify_ready Ok(false)");
    child.send_line("return");
    child.finish().assert_code(0);

    let mut child = service(Some("relative/path"), &["--ready"]);
    assert_eq!(
        child.seen_lines()[0],
        "notify_ready Err(NOTIFY_SOCKET=relative/path is neither a path nor an @abstract name)"
    );
    child.send_line("return");
    child.finish().assert_code(0);

    let gone =
        std::env::temp_dir().join(format!("safe-exit-no-such-socket-{}", std::process::id()));
    let mut child = service(Some(gone.to_str().unwrap()), &["--ready"]);
    let line = &child.seen_lines()[0];
    assert!(
        line.starts_with("notify_ready Err(") && line.contains("No such file"),
        "{line}"
    );
    child.send_line("return");
    child.finish().assert_code(0);
}
