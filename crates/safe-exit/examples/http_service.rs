//! An HTTP service that shuts down gracefully:
//! `cargo run --example http_service [ADDR] [PRE_DRAIN_MS]`.
//!
//! On SIGTERM it first fails its readiness endpoint (`GET /ready`: 503) while still serving
//! everything for the pre-drain delay (`PRE_DRAIN_MS`, 5 s by default), so that a Kubernetes
//! Service takes it out of its endpoints before it stops accepting; then it stops accepting
//! connections, lets every request in flight finish, returns from `main`, runs its exit hook,
//! and ends by the signal, as Kubernetes, systemd and `docker stop` expect. Ctrl-C (SIGINT)
//! skips the delay. If draining took longer than the grace period (15 s from the signal), the
//! hooks would run and the process would end anyway. Under systemd (`Type=notify`) it says
//! when it is ready, and how long its stop may take.
//!
//! Try it: start a slow request, `curl 'http://127.0.0.1:3000/work?ms=8000'`, and while it
//! runs stop the server with `kill <pid>`: `curl http://127.0.0.1:3000/ready` answers 503
//! at once, new requests are still served for 5 s, and the slow one still gets its answer.

use std::convert::Infallible;
use std::error::Error;
use std::pin::pin;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use safe_exit::{ShutdownPhase, ShutdownPolicy};
use tokio::net::TcpListener;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let pre_drain_ms: u64 = match std::env::args().nth(2) {
        Some(ms) => ms.parse()?,
        None => 5_000,
    };
    // A termination signal only requests shutdown. SIGTERM is announced first (readiness
    // fails) and drained after the delay; the delay and the draining have 15 s from the
    // signal, the exit hooks 3 s more: inside Kubernetes' default 30 s.
    safe_exit::set_shutdown_policy(
        ShutdownPolicy::notify()
            .pre_drain_delay(Duration::from_millis(pre_drain_ms))
            .grace_period(Duration::from_secs(15))
            .hook_deadline(Duration::from_secs(3)),
    )?;
    safe_exit::register_named("flush access log", || {
        println!("exit hook: access log flushed");
    });

    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".into());
    let listener = TcpListener::bind(&addr).await?;
    // Under systemd (Type=notify): READY=1, and STOPPING=1 with the time the stop may take.
    safe_exit::notify_ready()?;
    println!("ready: listening on http://{}", listener.local_addr()?);
    println!(
        "       try: curl 'http://{}/work?ms=3000'",
        listener.local_addr()?
    );

    let graceful = GracefulShutdown::new();
    let mut shutdown = pin!(safe_exit::shutdown_signal());
    let reason = loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        eprintln!("accept failed: {e}");
                        continue;
                    }
                };
                let conn = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(handle));
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        eprintln!("connection error: {e}");
                    }
                });
            }
            reason = &mut shutdown => break reason,
        }
    };
    drop(listener);
    println!("shutdown requested ({reason:?}): stopped accepting, draining requests in flight");
    graceful.shutdown().await;
    println!("drained: every request in flight was answered");
    Ok(())
}

/// `GET /ready`: 200 while running, 503 from the moment shutdown is announced (the readiness
/// probe). `GET /work?ms=N`: N milliseconds of pretend work, then a full response.
async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.uri().path() == "/ready" {
        let phase = safe_exit::shutdown_phase();
        let mut response = Response::new(Full::new(Bytes::from(format!("{phase:?}\n"))));
        if phase != ShutdownPhase::Running {
            *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        }
        return Ok(response);
    }
    let ms: u64 = req
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("ms=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    println!("request started: {}", req.uri());
    tokio::time::sleep(Duration::from_millis(ms)).await;
    let body = format!("done after {ms} ms of work\n");
    Ok(Response::new(Full::new(Bytes::from(body))))
}
