//! Closing connections that stay idle after a request (`server.idle_timeout_ms`).
//!
//! Nothing below us does it for HTTP/2: hyper's HTTP/2 keep-alive pings close a connection only when
//! the peer stops answering them, and a live client that simply keeps its connection open answers
//! them for ever. (An idle HTTP/1.1 keep-alive connection is also closed by hyper's header read
//! timeout, which starts as soon as the previous response is done; this module bounds both alike.)
//!
//! Each connection's service counts the requests in flight, a request being in flight until its
//! response body has been sent or dropped. Once nothing has been in flight for the timeout, a
//! watchdog asks axum-server to close the connection gracefully: an HTTP/1 connection between
//! requests closes at once, an HTTP/2 one gets GOAWAY. A request in flight is never cut.

use std::{
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll},
    time::Duration,
};

use axum::http::{Request, Response};
use axum_server::ConnectionShutdown;
use futures_util::future::BoxFuture;
use http_body::{Body, Frame, SizeHint};
use tokio::{sync::Notify, time::Instant};
use tower::Service;

/// Wraps a connection's service: counts its requests in flight and, from the first request on,
/// runs the watchdog that closes the connection once it has been idle for `timeout`.
#[derive(Clone)]
pub struct IdleTimeout<S> {
    inner: S,
    conn: Arc<Connection>,
}

impl<S> IdleTimeout<S> {
    /// `inner` is the service of one newly accepted connection.
    pub fn new(inner: S, timeout: Duration) -> IdleTimeout<S> {
        let (alive, closed) = tokio::sync::oneshot::channel();
        IdleTimeout {
            inner,
            conn: Arc::new(Connection {
                timeout,
                activity: Arc::new(Activity {
                    state: Mutex::new(State {
                        in_flight: 0,
                        idle_since: Instant::now(),
                    }),
                    went_idle: Notify::new(),
                }),
                closed: Mutex::new(Some(closed)),
                _alive: alive,
            }),
        }
    }
}

/// One connection, shared by the clones of its service (hyper drops the last when the connection
/// ends, and with it `_alive`, which ends the watchdog).
struct Connection {
    timeout: Duration,
    activity: Arc<Activity>,
    /// Taken by the watchdog when it starts.
    closed: Mutex<Option<tokio::sync::oneshot::Receiver<()>>>,
    _alive: tokio::sync::oneshot::Sender<()>,
}

/// The requests in flight on a connection and since when it has had none.
struct Activity {
    state: Mutex<State>,
    went_idle: Notify,
}

/// Both fields change together, so that the watchdog never sees no request in flight with the
/// idle time of an earlier spell.
struct State {
    in_flight: usize,
    idle_since: Instant,
}

impl Activity {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // The critical sections cannot panic; a poisoned lock still holds consistent numbers.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `None` while a request is in flight, else when the connection will have been idle long
    /// enough.
    fn deadline(&self, timeout: Duration) -> Option<Instant> {
        let state = self.state();
        (state.in_flight == 0).then(|| state.idle_since + timeout)
    }

    /// Starts a new idle spell now, unless a request is in flight.
    fn restart_idle(&self) {
        let mut state = self.state();
        if state.in_flight == 0 {
            state.idle_since = Instant::now();
        }
    }
}

/// A request in flight, from the moment it is dispatched until its response body is dropped.
struct Busy(Arc<Activity>);

impl Busy {
    fn new(activity: Arc<Activity>) -> Busy {
        activity.state().in_flight += 1;
        Busy(activity)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.in_flight -= 1;
        if state.in_flight == 0 {
            state.idle_since = Instant::now();
            drop(state);
            self.0.went_idle.notify_one();
        }
    }
}

impl<S, B, ResBody> Service<Request<B>> for IdleTimeout<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: Body + Unpin + Send + 'static,
{
    type Response = Response<TrackedBody<ResBody>>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // Before the first request axum-server's first-request timeout bounds the connection.
        if let Some(shutdown) = request.extensions().get::<ConnectionShutdown>() {
            self.conn.start_watchdog(shutdown);
        }
        let busy = Busy::new(self.conn.activity.clone());
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|inner| TrackedBody { inner, _busy: busy }))
        })
    }
}

impl Connection {
    fn start_watchdog(&self, shutdown: &ConnectionShutdown) {
        let closed = self
            .closed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(closed) = closed {
            tokio::spawn(watchdog(
                self.activity.clone(),
                self.timeout,
                shutdown.clone(),
                closed,
            ));
        }
    }
}

/// Closes the connection gracefully once it has been idle for `timeout`, and for good if it is
/// still open and idle one `timeout` later: HTTP/2's graceful close waits for the client to
/// acknowledge a ping, and a client that never does would otherwise keep it open.
async fn watchdog(
    activity: Arc<Activity>,
    timeout: Duration,
    shutdown: ConnectionShutdown,
    mut closed: tokio::sync::oneshot::Receiver<()>,
) {
    if !idle_for(&activity, timeout, &mut closed).await {
        return;
    }
    shutdown.graceful_shutdown();
    activity.restart_idle();
    if idle_for(&activity, timeout, &mut closed).await {
        shutdown.shutdown();
    }
}

/// Waits until nothing has been in flight for `timeout` (true) or the connection is gone (false).
async fn idle_for(
    activity: &Activity,
    timeout: Duration,
    closed: &mut tokio::sync::oneshot::Receiver<()>,
) -> bool {
    loop {
        let went_idle = activity.went_idle.notified();
        match activity.deadline(timeout) {
            Some(deadline) if deadline <= Instant::now() => return true,
            Some(deadline) => tokio::select! {
                _ = &mut *closed => return false,
                () = tokio::time::sleep_until(deadline) => {}
            },
            None => tokio::select! {
                _ = &mut *closed => return false,
                () = went_idle => {}
            },
        }
    }
}

/// A response body that keeps its request counted as in flight until it is dropped.
pub struct TrackedBody<B> {
    inner: B,
    _busy: Busy,
}

impl<B: Body + Unpin> Body for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
