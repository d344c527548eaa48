//! The HTTP edge: a small tokio runtime that accepts connections, speaks HTTP/1.1
//! through hyper, routes each request and hands it to the handlers; and the service's
//! life: idle timeout, SIGTERM/SIGINT, the socket file removed on the way out.

use crate::handlers::{self, Context as Service};
use crate::hijack::{Connection, Hijacked, Session};
use crate::idle::{Activity, Busy};
use crate::listen::{Listener, Socket};
use crate::reply::{Payload, Reply};
use crate::request::{self, Call, Content, MAX_JSON_BODY};
use crate::router::{self, BodyKind};
use crate::stream::{BodyReader, ChannelWriter, Chunks, Item};
use crate::versions;
use crate::ServeError;
use http_body_util::{BodyExt, Limited};
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::header::{CONNECTION, UPGRADE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::path::PathBuf;
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
    /// strata's binary: containers' monitors run as `EXE --root ROOT __monitor ID`.
    pub monitor_exe: PathBuf,
    /// How registries are reached (certificates, insecure registries, timeouts); a
    /// client's credentials come with its request.
    pub registry: strata_registry::ClientOptions,
}

/// Serves the Engine API on `listener` until idle for the timeout, or SIGTERM/SIGINT.
pub fn serve(store: ImageStore, listener: Listener, options: ServeOptions) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS)
        .thread_name("strata-api")
        .build()
        .map_err(|e| ServeError::io("starting the service's runtime", e))?;
    let ctx = Service {
        store: Arc::new(store),
        monitor_exe: options.monitor_exe.clone(),
        registry: options.registry.clone(),
    };
    let served = runtime.block_on(run(Arc::new(ctx), listener, options));
    // `run` waited for requests in flight; a library call still blocked past that is
    // left behind (every store operation survives its process dying).
    runtime.shutdown_timeout(Duration::from_secs(1));
    served
}

async fn run(ctx: Arc<Service>, listener: Listener, options: ServeOptions) -> Result<(), ServeError> {
    let Listener { socket, file: _file } = listener;
    let socket = Accepting::new(socket)?;
    let server = Server {
        ctx,
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
    ctx: Arc<Service>,
    activity: Arc<Activity>,
}

impl Server {
    fn connection(&self, stream: impl AsyncRead + AsyncWrite + Unpin + Send + 'static) {
        self.activity.arrived();
        let (ctx, activity) = (Arc::clone(&self.ctx), Arc::clone(&self.activity));
        let service = service_fn(move |request| respond(Arc::clone(&ctx), Arc::clone(&activity), request));
        tokio::spawn(async move {
            let served = http1::Builder::new()
                // Docker's Go server writes canonical names (`Api-Version`); some clients
                // compare them as written.
                .title_case_headers(true)
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
            if let Err(e) = served {
                log::debug!("connection ended: {e}");
            }
        });
    }
}

async fn respond(
    ctx: Arc<Service>,
    activity: Arc<Activity>,
    mut request: Request<Incoming>,
) -> Result<Response<Tracked>, Infallible> {
    let busy = activity.busy();
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let upgrade = wants_upgrade(&request).then(|| hyper::upgrade::on(&mut request));
    let mut reply = reply_to(&ctx, request).await;
    log::debug!("{method} {uri} -> {}", reply.status);
    let payload = std::mem::replace(&mut reply.payload, Payload::Whole(Bytes::new()));
    Ok(match payload {
        Payload::Whole(bytes) => reply.into_response(Tracked::whole(bytes, busy)),
        Payload::Streamed { first, rest } => reply.into_response(Tracked::streamed(first, rest, busy)),
        Payload::Hijacked(session) => match upgrade {
            Some(upgrade) => upgraded(reply, upgrade, session, busy),
            None => hijacked_as_body(reply, session, busy),
        },
    })
}

/// Whether the client asked to take the connection over (`Connection: Upgrade`,
/// `Upgrade: tcp`), as Docker's clients do for attach and exec start.
fn wants_upgrade(request: &Request<Incoming>) -> bool {
    let has = |name, token: &str| {
        request.headers().get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    has(CONNECTION, "upgrade") && request.headers().contains_key(UPGRADE)
}

/// Docker's `101 UPGRADED`; once hyper has sent it, the session runs on a thread of its
/// own with the connection's socket.
fn upgraded(reply: Reply, upgrade: OnUpgrade, session: Session, busy: Busy) -> Response<Tracked> {
    tokio::spawn(async move {
        let connection = match upgrade.await {
            Ok(upgraded) => into_connection(upgraded),
            Err(e) => Err(format!("the upgrade failed: {e}")),
        };
        match connection {
            Ok(connection) => run_session(session, connection, busy),
            Err(e) => log::warn!("a hijacked session did not start: {e}"),
        }
    });
    let mut reply = reply;
    reply.status = hyper::StatusCode::SWITCHING_PROTOCOLS;
    reply
        .header("Connection", "Upgrade")
        .header("Upgrade", "tcp")
        .into_response(Tracked::whole(Bytes::new(), None))
}

fn run_session(session: Session, connection: Connection, busy: Busy) {
    let spawned = std::thread::Builder::new().name("api-session".into()).spawn(move || {
        let output = match connection.try_clone() {
            Ok(output) => output,
            Err(e) => return log::warn!("a hijacked session did not start: {e}"),
        };
        session(Hijacked {
            output: Box::new(output),
            input: Some(connection),
            _busy: Some(busy),
        });
    });
    if let Err(e) = spawned {
        log::warn!("a hijacked session did not start: {e}");
    }
}

/// The socket under an upgraded connection, blocking again, for the session's thread.
/// Bytes hyper read past the request are the client's first input: none from Docker's
/// clients, which wait for the 101 before they send.
fn into_connection(upgraded: Upgraded) -> Result<Connection, String> {
    let upgraded = match upgraded.downcast::<TokioIo<tokio::net::UnixStream>>() {
        Ok(parts) => {
            if !parts.read_buf.is_empty() {
                log::warn!("{} bytes sent before the upgrade are dropped", parts.read_buf.len());
            }
            let std = parts.io.into_inner().into_std().map_err(|e| e.to_string())?;
            std.set_nonblocking(false).map_err(|e| e.to_string())?;
            return Ok(Connection::Unix(std));
        }
        Err(upgraded) => upgraded,
    };
    match upgraded.downcast::<TokioIo<tokio::net::TcpStream>>() {
        Ok(parts) => {
            let std = parts.io.into_inner().into_std().map_err(|e| e.to_string())?;
            std.set_nonblocking(false).map_err(|e| e.to_string())?;
            Ok(Connection::Tcp(std))
        }
        Err(_) => Err("the connection is of a kind the service cannot hand to a session".into()),
    }
}

/// A client that did not ask to upgrade gets the session's output as the body.
fn hijacked_as_body(reply: Reply, session: Session, busy: Busy) -> Response<Tracked> {
    let (writer, chunks) = ChannelWriter::pair();
    let spawned = std::thread::Builder::new().name("api-session".into()).spawn(move || {
        session(Hijacked {
            output: Box::new(writer),
            input: None,
            _busy: None,
        })
    });
    if let Err(e) = spawned {
        log::warn!("a session did not start: {e}");
    }
    reply.into_response(Tracked::streamed(None, chunks, busy))
}

async fn reply_to(ctx: &Arc<Service>, request: Request<Incoming>) -> Reply {
    let (parts, body) = request.into_parts();
    let path = request::decode(parts.uri.path());
    // Every version strata answers has the same semantics so far: only its range is checked.
    let routed = versions::split(&path).and_then(|(_version, rest)| router::route(&parts.method, rest));
    let route = match routed {
        Ok(routed) => routed,
        Err(e) => return Reply::error(&e),
    };
    let content = match route.body() {
        BodyKind::Json => match read_body(body).await {
            Ok(bytes) => Content::Json(bytes),
            Err(e) => return Reply::error(&e),
        },
        BodyKind::Stream => Content::Stream(stream_body(body)),
        BodyKind::None => Content::Json(Bytes::new()),
    };
    let call = Call::new(parts.uri.query(), parts.headers, content);
    handlers::answer(ctx, route, call).await
}

/// The body, pulled frame by frame into a reader for the library.
fn stream_body(mut body: Incoming) -> BodyReader {
    let (tx, reader) = BodyReader::channel();
    tokio::spawn(async move {
        while let Some(frame) = body.frame().await {
            let data = match frame {
                Ok(frame) => match frame.into_data() {
                    Ok(data) => Ok(data),
                    Err(_) => continue, // trailers
                },
                Err(e) => Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("the client broke off the request body: {e}"),
                )),
            };
            let failed = data.is_err();
            if tx.send(data).await.is_err() || failed {
                return;
            }
        }
    });
    reader
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

/// An answer's body, which keeps its request counted as activity until it is sent.
pub struct Tracked {
    whole: Option<Bytes>,
    rest: Option<Chunks>,
    _busy: Option<Busy>,
}

impl Tracked {
    fn whole(bytes: Bytes, busy: impl Into<Option<Busy>>) -> Self {
        Tracked {
            whole: (!bytes.is_empty()).then_some(bytes),
            rest: None,
            _busy: busy.into(),
        }
    }

    fn streamed(first: Option<Bytes>, rest: Chunks, busy: Busy) -> Self {
        Tracked {
            whole: first,
            rest: Some(rest),
            _busy: Some(busy),
        }
    }
}

impl Body for Tracked {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if let Some(bytes) = this.whole.take() {
            return Poll::Ready(Some(Ok(Frame::data(bytes))));
        }
        let Some(rest) = this.rest.as_mut() else {
            return Poll::Ready(None);
        };
        match rest.poll_recv(cx) {
            Poll::Ready(Some(Item::Data(bytes))) => Poll::Ready(Some(Ok(Frame::data(bytes)))),
            Poll::Ready(Some(Item::Failed(e))) => {
                // After the first byte a failure can only end the body.
                log::warn!("a streamed answer ended early: {}", e.message);
                this.rest = None;
                Poll::Ready(None)
            }
            Poll::Ready(None) => {
                this.rest = None;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.whole.is_none() && self.rest.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        match (&self.whole, &self.rest) {
            (None, None) => SizeHint::with_exact(0),
            (Some(b), None) => SizeHint::with_exact(b.len() as u64),
            _ => SizeHint::default(),
        }
    }
}
