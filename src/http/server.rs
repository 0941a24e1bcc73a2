//! The HTTP server loop. poem's own `Server` gives hyper no timer, so a client could take as long
//! as it liked to send a request's header (a slowloris holds thousands of connections that way);
//! this loop runs the same poem endpoint on hyper with `server.header_timeout_secs` as hyper's
//! header read timeout, which also closes keep-alive connections left idle for as long. Before
//! hyper knows whether a connection speaks HTTP/1 or HTTP/2 it reads without a timer, so a
//! connection that has not started a request within the same time is closed here. It
//! stops accepting when `shutdown` fires, lets every connection finish its request in flight,
//! and gives up on them after `deadline`. An accept error (such as running out of file
//! descriptors) pauses accepting briefly instead of spinning.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use poem::http::uri::Scheme;
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Addr, Endpoint, EndpointExt};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long to pause accepting after an accept error.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `ep` on `listener` until `shutdown` fires (see the module docs).
pub async fn serve<E>(
    listener: TcpListener,
    ep: E,
    header_timeout: Duration,
    shutdown: CancellationToken,
    deadline: Duration,
) -> std::io::Result<()>
where
    E: Endpoint + 'static,
{
    let ep = Arc::new(ep.map_to_response());
    let local = LocalAddr(Addr::SocketAddr(listener.local_addr()?));
    let connections = TaskTracker::new();
    let draining = CancellationToken::new();
    tracing::info!(addr = %listener.local_addr()?, "listening");
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let ep = ep.clone();
        let local = local.clone();
        let remote = RemoteAddr(Addr::SocketAddr(peer));
        let draining = draining.clone();
        connections.spawn(async move {
            let started = Arc::new(AtomicBool::new(false));
            let seen = started.clone();
            let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                seen.store(true, Ordering::Release);
                let ep = ep.clone();
                let req = poem::Request::from((req, local.clone(), remote.clone(), Scheme::HTTP));
                async move {
                    let resp = ep.get_response(req).await;
                    Ok::<_, Infallible>(hyper::Response::<BoxBody<Bytes, std::io::Error>>::from(
                        resp,
                    ))
                }
            });
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout);
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            tokio::pin!(conn);
            let first_request = tokio::time::sleep(header_timeout);
            tokio::pin!(first_request);
            let mut awaiting_first = true;
            loop {
                tokio::select! {
                    _ = conn.as_mut() => return,
                    _ = &mut first_request, if awaiting_first => {
                        if !started.load(Ordering::Acquire) {
                            tracing::debug!("no request within the header timeout; closing");
                            return;
                        }
                        awaiting_first = false;
                    }
                    _ = draining.cancelled() => {
                        conn.as_mut().graceful_shutdown();
                        break;
                    }
                }
            }
            let _ = conn.await;
        });
    }
    drop(listener);
    draining.cancel();
    connections.close();
    if tokio::time::timeout(deadline, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            open = connections.len(),
            "connections still open at the shutdown deadline"
        );
    }
    tracing::info!("server stopped");
    Ok(())
}
