//! The graceful-shutdown examples, run for real: an HTTP service drains on SIGTERM, a blocking
//! worker pool finishes the jobs in hand.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use safe_exit_tests::{command, Child};

/// Path of an example of the `safe-exit` crate, built now. (Test runs build examples only as
/// test harnesses, under hashed names, so the runnable program may be missing or stale;
/// building it reuses the dependencies the tests were built with, and is quick when it is up
/// to date.)
fn example(name: &str) -> String {
    let test_exe = std::env::current_exe().expect("test binary path");
    let profile_dir = test_exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let path: PathBuf = profile_dir.join("examples").join(name);
    let target_dir = profile_dir.parent().expect("target dir");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = std::process::Command::new(cargo);
    build
        .args(["build", "--quiet", "-p", "safe-exit", "--example", name])
        .env("CARGO_TARGET_DIR", target_dir);
    if profile_dir.file_name().is_some_and(|p| p == "release") {
        build.arg("--release");
    }
    let status = build.status().expect("run cargo to build the example");
    assert!(status.success(), "cargo build --example {name} failed");
    assert!(
        path.exists(),
        "{} is missing after building it",
        path.display()
    );
    path.to_string_lossy().into_owned()
}

/// One request over its own connection; returns the whole response.
fn get(addr: &str, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

/// The `http_service` example on a free port, with a pre-drain delay of `pre_drain_ms`, ready;
/// and its address.
fn http_service(pre_drain_ms: &str) -> (Child, String) {
    let mut cmd = command(&example("http_service"));
    cmd.args(["127.0.0.1:0", pre_drain_ms])
        .env_remove("NOTIFY_SOCKET");
    let mut child = Child::from_command(cmd);
    let ready = child.ready();
    let addr = ready.rsplit("http://").next().unwrap().trim().to_owned();
    (child, addr)
}

/// The status line and body of a response.
fn status_and_body(response: &str) -> (&str, &str) {
    let status = response.lines().next().unwrap_or_default();
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    (status, body)
}

/// Kubernetes' pre-drain: on SIGTERM the readiness endpoint fails at once while the service
/// still accepts and serves in full for the delay (load balancers are still sending); then it
/// drains as before, and ends by the signal.
#[test]
fn the_http_service_fails_readiness_first_and_keeps_serving_for_the_delay() {
    let delay = Duration::from_millis(2000);
    let (mut child, addr) = http_service("2000");
    let ready = get(&addr, "/ready").unwrap();
    assert_eq!(status_and_body(&ready), ("HTTP/1.1 200 OK", "Running\n"));
    let in_flight = {
        let addr = addr.clone();
        std::thread::spawn(move || get(&addr, "/work?ms=400"))
    };
    child.expect_line("request started: /work?ms=400");

    let signalled = Instant::now();
    child.signal(libc::SIGTERM);
    // Readiness fails as soon as the signal is recorded, long before the delay is over.
    let announced = loop {
        let response = get(&addr, "/ready").expect("still accepting during the delay");
        match status_and_body(&response) {
            ("HTTP/1.1 200 OK", "Running\n") => continue,
            other => break other.1.to_owned(),
        }
    };
    assert_eq!(announced, "Announced\n");
    // Requests sent during the delay are still accepted and served in full.
    let late = get(&addr, "/work?ms=100").expect("accepted during the delay");
    assert!(late.starts_with("HTTP/1.1 200 OK"), "{late}");
    assert!(late.ends_with("done after 100 ms of work\n"), "{late}");

    child.expect_line("shutdown requested (Signal(15)): stopped accepting");
    assert!(
        signalled.elapsed() >= delay,
        "draining started {:?} after SIGTERM, before the delay",
        signalled.elapsed()
    );
    assert!(
        TcpStream::connect(&addr).is_err(),
        "new connections are refused once draining started"
    );
    let first = in_flight
        .join()
        .unwrap()
        .expect("the request in flight is answered");
    assert!(first.ends_with("done after 400 ms of work\n"), "{first}");
    let out = child.finish();
    assert_eq!(out.count("exit hook: access log flushed"), 1, "{out}");
    out.assert_signalled(libc::SIGTERM);
}

#[test]
fn the_http_service_answers_every_accepted_request_then_ends_by_sigterm() {
    let (mut child, addr) = http_service("0");

    const IN_FLIGHT: usize = 4;
    let clients: Vec<_> = (0..IN_FLIGHT)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || get(&addr, "/work?ms=700"))
        })
        .collect();
    for _ in 0..IN_FLIGHT {
        child.expect_line("request started: /work?ms=700");
    }

    // Mid-request, as a supervisor stops it.
    let signalled = Instant::now();
    child.signal(libc::SIGTERM);
    child.expect_line("shutdown requested (Signal(15)): stopped accepting");
    let refused = TcpStream::connect(&addr);
    assert!(
        refused.is_err(),
        "a new connection must be refused once draining started"
    );

    for client in clients {
        let response = client
            .join()
            .unwrap()
            .expect("an accepted request gets a response");
        assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
        assert!(
            response.ends_with("done after 700 ms of work\n"),
            "full body: {response}"
        );
    }
    let out = child.finish();
    let took = signalled.elapsed();
    assert_eq!(
        out.count("drained: every request in flight was answered"),
        1,
        "{out}"
    );
    assert_eq!(out.count("exit hook: access log flushed"), 1, "{out}");
    out.assert_signalled(libc::SIGTERM);
    // The example's grace period is 10 s; draining 700 ms requests takes far less.
    assert!(
        took < Duration::from_secs(10),
        "ended {took:?} after SIGTERM\n{out}"
    );
}

#[test]
fn the_blocking_worker_pool_finishes_the_jobs_in_hand_then_ends_by_sigterm() {
    let mut cmd = command(&example("worker"));
    cmd.arg("300");
    let mut child = Child::from_command(cmd);
    child.ready();
    child.expect_line("worker 1: job");
    child.signal(libc::SIGTERM);
    let out = child.finish();
    let started: Vec<_> = out
        .stdout
        .iter()
        .filter_map(|l| l.strip_suffix(" started"))
        .collect();
    let finished: Vec<_> = out
        .stdout
        .iter()
        .filter_map(|l| l.strip_suffix(" finished"))
        .collect();
    assert!(!started.is_empty(), "{out}");
    let mut s = started.clone();
    let mut f = finished.clone();
    s.sort();
    f.sort();
    assert_eq!(s, f, "every job started was finished\n{out}");
    assert_eq!(out.count("all workers stopped"), 1, "{out}");
    assert_eq!(out.count("exit hook: results flushed"), 1, "{out}");
    out.assert_signalled(libc::SIGTERM);
}

/// The owned process pool (issue 13): on SIGTERM every worker gets SIGTERM at once; the two
/// that can finish the job in hand and exit, the stuck one is forced at the shared deadline,
/// and only then does the parent's own hook run, seeing each worker's real status.
#[test]
fn the_owned_process_pool_stops_its_workers_before_the_parents_hook() {
    for by_signal in [true, false] {
        let mut child = Child::from_command(command(&example("process_pool")));
        child.expect_line("parent: 3 workers started and owned");
        child.expect_line("worker 3: job 2 is stuck");
        if by_signal {
            child.signal(libc::SIGTERM);
        }
        let out = child.finish();
        if by_signal {
            out.assert_signalled(libc::SIGTERM);
        } else {
            out.assert_code(0);
        }
        for n in [1, 2] {
            let exiting = out.position(&format!(
                "worker {n}: asked to stop; finished the job in hand, exiting"
            ));
            assert!(
                exiting
                    < out.position(
                        "parent hook: every worker is gone; closing the job queue (runs last)"
                    ),
                "{out}"
            );
        }
        assert_eq!(
            out.starting_with("parent hook: worker ")
                .iter()
                .filter(|l| l.ends_with("(ended by SIGTERM, after finishing its job)"))
                .count(),
            2,
            "{out}"
        );
        assert_eq!(
            out.starting_with("parent hook: worker ")
                .iter()
                .filter(|l| l.ends_with("(forced with SIGKILL at the deadline)"))
                .count(),
            1,
            "{out}"
        );
        assert_eq!(
            out.stdout.last().map(String::as_str),
            Some("parent hook: every worker is gone; closing the job queue (runs last)"),
            "{out}"
        );
        assert!(
            out.stderr
                .contains("did not end within its deadline; killed"),
            "{out}"
        );
    }
}
