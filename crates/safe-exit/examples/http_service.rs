//! An HTTP service that shuts down gracefully: `cargo run --example http_service [ADDR]`.
//!
//! On SIGTERM (or Ctrl-C, SIGHUP, SIGQUIT) it stops accepting connections, lets every request
//! in flight finish, returns from `main`, runs its exit hook, and ends by the signal, as
//! Kubernetes, systemd and `docker stop` expect. If draining took longer than the grace
//! period (10 s here), the hooks would run and the process would end anyway.
//!
//! Try it: start a slow request, `curl 'http://127.0.0.1:3000/work?ms=5000'`, and while it
//! runs stop the server with Ctrl-C or `kill <pid>`: the request still gets its answer.

use std::convert::Infallible;
use std::error::Error;
use std::pin::pin;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use safe_exit::ShutdownPolicy;
use tokio::net::TcpListener;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    // A termination signal only requests shutdown; draining may take up to 10 s, the exit
    // hooks up to 3 s more: well inside Kubernetes' default 30 s.
    safe_exit::set_shutdown_policy(
        ShutdownPolicy::notify()
            .grace_period(Duration::from_secs(10))
            .hook_deadline(Duration::from_secs(3)),
    )?;
    safe_exit::register_named("flush access log", || {
        println!("exit hook: access log flushed");
    });

    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".into());
    let listener = TcpListener::bind(&addr).await?;
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

/// `GET /work?ms=N`: N milliseconds of pretend work, then a full response.
async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
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
