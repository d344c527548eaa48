//! The HTTP edge: a small tokio runtime that accepts connections, speaks HTTP/1.1
//! through hyper, routes each request and hands it to the handlers; and the service's
//! life: idle timeout, SIGTERM/SIGINT, the socket file removed on the way out.

use crate::handlers;
use crate::idle::{Activity, Busy};
use crate::listen::{Listener, Socket};
use crate::reply::Reply;
use crate::request::{self, Call, MAX_JSON_BODY};
use crate::router;
use crate::versions;
use crate::ServeError;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::header::CONTENT_TYPE;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use strata_images::ImageStore;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::signal::unix::{signal, SignalKind};

/// Threads for the libraries' synchronous calls: a few per core of the machines strata
/// targets (2), so a request waiting on the store lock does not hold up the others.
const BLOCKING_THREADS: usize = 4;
/// How long requests in flight may finish after SIGTERM before the service exits.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

pub struct ServeOptions {
    /// Exit after this long without requests (`None`: never).
    pub idle_timeout: Option<Duration>,
}

/// Serves the Engine API on `listener` until idle for the timeout, or SIGTERM/SIGINT.
pub fn serve(store: ImageStore, listener: Listener, options: ServeOptions) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS)
        .thread_name("strata-api")
        .build()
        .map_err(|e| ServeError::io("starting the service's runtime", e))?;
    let served = runtime.block_on(run(Arc::new(store), listener, options));
    // `run` waited for requests in flight; a library call still blocked past that is
    // left behind (every store operation survives its process dying).
    runtime.shutdown_timeout(Duration::from_secs(1));
    served
}

async fn run(store: Arc<ImageStore>, listener: Listener, options: ServeOptions) -> Result<(), ServeError> {
    let Listener { socket, file: _file } = listener;
    let socket = Accepting::new(socket)?;
    let server = Server {
        store,
        activity: Activity::new(),
    };
    let mut terminate = signal(SignalKind::terminate()).map_err(|e| ServeError::io("handling SIGTERM", e))?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(|e| ServeError::io("handling SIGINT", e))?;
    let idle = idle_exit(&server.activity, options.idle_timeout);
    tokio::pin!(idle);
    loop {
        tokio::select! {
            accepted = socket.accept(&server) => {
                if let Err(e) = accepted {
                    // Out of descriptors, most likely: let connections close, then go on.
                    log::warn!("accepting a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            () = &mut idle => break,
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        }
    }
    drop(socket);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, server.activity.settled()).await;
    Ok(())
}

async fn idle_exit(activity: &Activity, timeout: Option<Duration>) {
    match timeout {
        Some(quiet) => {
            activity.idle_for(quiet).await;
            log::info!("no requests for {quiet:?}: the service exits");
        }
        None => std::future::pending().await,
    }
}

enum Accepting {
    Unix(tokio::net::UnixListener),
    Tcp(tokio::net::TcpListener),
}

impl Accepting {
    fn new(socket: Socket) -> Result<Self, ServeError> {
        let io = |e| ServeError::io("registering the listening socket", e);
        Ok(match socket {
            Socket::Unix(l) => {
                l.set_nonblocking(true).map_err(io)?;
                Accepting::Unix(tokio::net::UnixListener::from_std(l).map_err(io)?)
            }
            Socket::Tcp(l) => {
                l.set_nonblocking(true).map_err(io)?;
                Accepting::Tcp(tokio::net::TcpListener::from_std(l).map_err(io)?)
            }
        })
    }

    /// Accepts one connection and serves it in a task of its own.
    async fn accept(&self, server: &Server) -> std::io::Result<()> {
        match self {
            Accepting::Unix(l) => server.connection(l.accept().await?.0),
            Accepting::Tcp(l) => {
                let (stream, _) = l.accept().await?;
                stream.set_nodelay(true)?;
                server.connection(stream)
            }
        }
        Ok(())
    }
}

struct Server {
    store: Arc<ImageStore>,
    activity: Arc<Activity>,
}

impl Server {
    fn connection(&self, stream: impl AsyncRead + AsyncWrite + Unpin + Send + 'static) {
        self.activity.arrived();
        let (store, activity) = (Arc::clone(&self.store), Arc::clone(&self.activity));
        let service = service_fn(move |request| respond(Arc::clone(&store), Arc::clone(&activity), request));
        tokio::spawn(async move {
            let served = http1::Builder::new()
                // Docker's Go server writes canonical names (`Api-Version`); some clients
                // compare them as written.
                .title_case_headers(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(e) = served {
                log::debug!("connection ended: {e}");
            }
        });
    }
}

async fn respond(
    store: Arc<ImageStore>,
    activity: Arc<Activity>,
    request: Request<Incoming>,
) -> Result<Response<Tracked>, Infallible> {
    let busy = activity.busy();
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let reply = reply_to(&store, request).await;
    log::debug!("{method} {uri} -> {}", reply.status);
    Ok(reply.into_response().map(|body| Tracked { body, _busy: busy }))
}

async fn reply_to(store: &Arc<ImageStore>, request: Request<Incoming>) -> Reply {
    let (parts, body) = request.into_parts();
    let path = request::decode(parts.uri.path());
    // Every version strata answers has the same semantics so far: only its range is checked.
    let routed = versions::split(&path).and_then(|(_version, rest)| router::route(&parts.method, rest));
    let route = match routed {
        Ok(routed) => routed,
        Err(e) => return Reply::error(&e),
    };
    let body = match route.takes_body() {
        true => match read_body(body).await {
            Ok(bytes) => bytes,
            Err(e) => return Reply::error(&e),
        },
        false => Bytes::new(),
    };
    let content_type = parts.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let call = Call::new(parts.uri.query(), content_type, body);
    handlers::answer(store, route, call).await
}

async fn read_body(body: Incoming) -> Result<Bytes, crate::error::ApiError> {
    // A declared length over the limit is refused before the client sends the body.
    if body.size_hint().lower() > MAX_JSON_BODY as u64 {
        return Err(request::body_too_large());
    }
    match Limited::new(body, MAX_JSON_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(request::body_too_large()),
        Err(e) => Err(crate::error::ApiError::invalid(format!(
            "reading the request body: {e}"
        ))),
    }
}

/// An answer's body that keeps its request counted as activity until it is sent.
struct Tracked {
    body: Full<Bytes>,
    _busy: Busy,
}

impl Body for Tracked {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
