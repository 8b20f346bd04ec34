//! Running the store: listeners, the scheduler and the HTTP server, reload on SIGHUP, stop on
//! SIGTERM/SIGINT and wait for every task. Every connection, plain or TLS, goes through one
//! hyper-util path with a first-request deadline from accept, an idle timeout that only
//! requests reset (not HTTP/2 keep-alive pings), a maximum age, and caps on connections in
//! total and per source address.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use super::http::{self, Routes};
use super::webconfig::{self, Guard, LiveWebConfig};
use crate::store::{Store, scheduler};

/// Parses `:9861`, `0.0.0.0:9861`, `[::1]:9861` or `localhost:9861`.
pub fn parse_listen(addr: &str) -> Result<SocketAddr, String> {
    let full = if addr.starts_with(':') {
        format!("0.0.0.0{addr}")
    } else {
        addr.replace("localhost:", "127.0.0.1:")
    };
    full.parse()
        .map_err(|_| format!("invalid --web.listen-address {addr:?}: expected [HOST]:PORT"))
}

/// Limits that keep slow or many clients from holding the server (and the process's file
/// descriptors, which probes need).
#[derive(Debug, Clone)]
pub struct Limits {
    /// A request's headers must arrive within this; also the longest an HTTP/1 connection
    /// may sit idle between requests.
    pub header_read_timeout: Duration,
    /// A connection with no request in flight and no bytes moving for this long is closed
    /// (HTTP/2 included).
    pub idle_timeout: Duration,
    /// The TLS handshake must finish within this.
    pub tls_handshake_timeout: Duration,
    /// Connections served at once over all listeners; further accepts wait
    /// (`--web.max-connections`).
    pub max_connections: usize,
    /// Connections served at once from one source address; more from it are closed at
    /// accept (`--web.max-connections-per-address`).
    pub max_connections_per_address: usize,
    /// A connection is closed once this old and between requests.
    pub max_connection_age: Duration,
    /// How often an HTTP/2 connection is pinged (a dead peer is dropped when a ping goes
    /// unanswered for 10 s); answered pings are not activity.
    pub http2_keep_alive_interval: Duration,
}

/// Connections refused or closed by a limit, by reason (`sipfed_http_connections_rejected_total`).
pub static REJECTED: Rejected = Rejected {
    per_address: AtomicU64::new(0),
    header_timeout: AtomicU64::new(0),
};

/// Counters of connections a limit refused or closed.
pub struct Rejected {
    /// Over `max_connections_per_address`: closed at accept.
    pub per_address: AtomicU64,
    /// No request's headers within `header_read_timeout` of accept: closed.
    pub header_timeout: AtomicU64,
}

impl Rejected {
    /// (reason label, count) pairs.
    pub fn counts(&self) -> [(&'static str, u64); 2] {
        [
            ("per_address", self.per_address.load(Ordering::Relaxed)),
            (
                "header_timeout",
                self.header_timeout.load(Ordering::Relaxed),
            ),
        ]
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            tls_handshake_timeout: Duration::from_secs(10),
            max_connections: 512,
            max_connections_per_address: 64,
            max_connection_age: Duration::from_secs(600),
            http2_keep_alive_interval: Duration::from_secs(30),
        }
    }
}

/// How to serve: web config, routes and limits.
#[derive(Default)]
pub struct Options {
    /// `--web.config.file` (TLS, basic auth, headers), re-read when it changes.
    pub web: Option<Arc<LiveWebConfig>>,
    pub routes: Routes,
    pub limits: Limits,
}

/// Serves `store` on `listener` with default options until `shutdown`, then waits for probes
/// and requests.
pub async fn run(
    store: Arc<Store>,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    run_with(store, vec![listener], Options::default(), shutdown).await
}

/// Serves `store` on every listener until `shutdown`, then waits for every task.
pub async fn run_with(
    store: Arc<Store>,
    listeners: Vec<TcpListener>,
    options: Options,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let tracker = TaskTracker::new();
    tracker.spawn(scheduler::run(store.clone(), shutdown.clone()));
    tracker.spawn(signals(store.clone(), shutdown.clone()));
    let served = serve(listeners, store, options, shutdown.clone()).await;
    shutdown.cancel();
    tracker.close();
    tracker.wait().await;
    served
}

/// Serves the HTTP endpoints on every listener until `shutdown`.
pub async fn serve(
    listeners: Vec<TcpListener>,
    store: Arc<Store>,
    options: Options,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let mut app = http::router_with(store, &options.routes);
    if let Some(web) = &options.web {
        app = app.layer(axum::middleware::from_fn_with_state(
            Guard::new(web.clone()),
            webconfig::guard,
        ));
    }
    let server = Arc::new(Server {
        app,
        web: options.web,
        limits: options.limits.clone(),
        connections: Arc::new(Semaphore::new(options.limits.max_connections)),
        per_address: Mutex::new(HashMap::new()),
    });
    let tasks = TaskTracker::new();
    for listener in listeners {
        tasks.spawn(accept_loop(
            listener,
            server.clone(),
            tasks.clone(),
            shutdown.clone(),
        ));
    }
    tasks.close();
    tasks.wait().await;
    Ok(())
}

struct Server {
    app: Router,
    web: Option<Arc<LiveWebConfig>>,
    limits: Limits,
    connections: Arc<Semaphore>,
    /// Open connections by source address (entries removed at zero).
    per_address: Mutex<HashMap<IpAddr, usize>>,
}

/// A connection counted against its source address until dropped.
struct FromAddress {
    server: Arc<Server>,
    ip: IpAddr,
}

impl FromAddress {
    fn enter(server: &Arc<Server>, ip: IpAddr) -> Option<FromAddress> {
        let mut map = server.per_address.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(ip).or_insert(0);
        if *n >= server.limits.max_connections_per_address {
            return None;
        }
        *n += 1;
        Some(FromAddress {
            server: server.clone(),
            ip,
        })
    }
}

impl Drop for FromAddress {
    fn drop(&mut self) {
        let mut map = self
            .server
            .per_address
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    server: Arc<Server>,
    tasks: TaskTracker,
    shutdown: CancellationToken,
) {
    if let Ok(addr) = listener.local_addr() {
        let tls = server
            .web
            .as_ref()
            .is_some_and(|w| w.current().tls.is_some());
        tracing::info!(address = %addr, tls, "listening");
    }
    let mut backoff = Duration::ZERO;
    loop {
        let permit = tokio::select! {
            _ = shutdown.cancelled() => return,
            p = server.connections.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            a = listener.accept() => a,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => {
                backoff = Duration::ZERO;
                a
            }
            Err(e) => {
                // EMFILE and friends: the condition persists for a while; retrying at once
                // would spin a core. Back off 10 ms, doubling to 100 ms.
                backoff =
                    (backoff * 2).clamp(Duration::from_millis(10), Duration::from_millis(100));
                tracing::warn!(error = %e, "accept failed; retrying in {backoff:?}");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => continue,
                }
            }
        };
        let Some(counted) = FromAddress::enter(&server, peer.ip()) else {
            // One address may not take every slot: closed at once, the slot given back.
            REJECTED.per_address.fetch_add(1, Ordering::Relaxed);
            drop(tcp);
            continue;
        };
        let server = server.clone();
        let shutdown = shutdown.clone();
        tasks.spawn(async move {
            server.connection(tcp, shutdown).await;
            drop(counted);
            drop(permit);
        });
    }
}

impl Server {
    async fn connection(&self, tcp: TcpStream, shutdown: CancellationToken) {
        let _ = tcp.set_nodelay(true);
        let activity = Arc::new(Activity::new());
        let io = Watched {
            inner: tcp,
            activity: activity.clone(),
        };
        let web = self.web.as_ref().map(|w| w.current());
        let http2 = web.as_ref().is_none_or(|w| w.http_server_config.http2);
        let client_auth_type = web
            .as_ref()
            .and_then(|w| w.tls_server_config.as_ref())
            .map(|t| t.client_auth_type.clone())
            .unwrap_or_default();
        match web.and_then(|w| w.tls.clone()) {
            None => self.http(io, http2, Vec::new(), activity, shutdown).await,
            Some(tls) => {
                let handshake = tokio::time::timeout(
                    self.limits.tls_handshake_timeout,
                    tokio_rustls::TlsAcceptor::from(tls).accept(io),
                );
                let stream = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    h = handshake => match h {
                        Ok(Ok(s)) => s,
                        _ => return,
                    },
                };
                // Who the verified client certificate names, for every request on it.
                let sans = webconfig::verified_sans(
                    &client_auth_type,
                    stream.get_ref().1.peer_certificates(),
                );
                self.http(stream, http2, sans, activity, shutdown).await
            }
        }
    }

    async fn http<I>(
        &self,
        io: I,
        http2: bool,
        sans: Vec<String>,
        activity: Arc<Activity>,
        shutdown: CancellationToken,
    ) where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let app = self.app.clone();
        let busy = activity.clone();
        let service = tower::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
            let request = busy.request();
            let app = app.clone();
            let mut req = req.map(axum::body::Body::new);
            if !sans.is_empty() {
                crate::expose::access::WebUser::add(&mut req, sans.iter().cloned());
            }
            async move {
                let response = app.oneshot(req).await;
                drop(request);
                response
            }
        });
        let service = hyper_util::service::TowerToHyperService::new(service);
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_read_timeout);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(32)
            .keep_alive_interval(Some(self.limits.http2_keep_alive_interval))
            .keep_alive_timeout(Duration::from_secs(10));
        if !http2 {
            builder = builder.http1_only();
        }
        let conn = builder.serve_connection(TokioIo::new(io), service);
        let idle = self.limits.idle_timeout;
        let first = self.limits.header_read_timeout;
        let age = self.limits.max_connection_age;
        let watchdog = async {
            let tick =
                (idle.min(first) / 4).clamp(Duration::from_millis(50), Duration::from_secs(5));
            loop {
                tokio::time::sleep(tick).await;
                // From accept, through the TLS handshake and protocol detection: a connection
                // that has not begun a request by now is a silent one (an HTTP/2 preface
                // alone included).
                if !activity.requested() && activity.age() >= first {
                    REJECTED.header_timeout.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                if activity.idle_for() >= idle {
                    return;
                }
                if activity.age() >= age && activity.idle_for() > Duration::ZERO {
                    return;
                }
            }
        };
        tokio::select! {
            _ = conn => {}
            _ = watchdog => {}
            _ = shutdown.cancelled() => {}
        }
    }
}

/// When a connection last began or finished a request, and how many it has in flight. Bytes
/// moving are not activity: HTTP/2 keep-alive pings answered would keep an idle connection
/// forever.
struct Activity {
    /// When the connection was accepted.
    start: Instant,
    /// Milliseconds since `start` of the last request's start or end.
    last: AtomicU64,
    in_flight: AtomicUsize,
    /// Whether any request has begun.
    requested: std::sync::atomic::AtomicBool,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            start: Instant::now(),
            last: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            requested: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Bytes moved: activity only while a request is in flight (its body), never between
    /// requests (keep-alive pings and their answers).
    fn moved(&self) {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            self.touch();
        }
    }

    fn age(&self) -> Duration {
        self.start.elapsed()
    }

    fn requested(&self) -> bool {
        self.requested.load(Ordering::Relaxed)
    }

    fn touch(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last.store(ms, Ordering::Relaxed);
    }

    fn request(self: &Arc<Self>) -> InFlightOwned {
        self.requested.store(true, Ordering::Relaxed);
        self.touch();
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlightOwned(self.clone())
    }

    /// How long nothing has happened; zero while a request is being answered.
    fn idle_for(&self) -> Duration {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return Duration::ZERO;
        }
        let now = self.start.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last.load(Ordering::Relaxed)))
    }
}

/// A request in flight on a connection (owned, to live in the response future).
struct InFlightOwned(Arc<Activity>);

impl Drop for InFlightOwned {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A socket that records activity for the idle timeout.
struct Watched<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.moved();
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.moved();
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Raises the soft limit on open files to the hard limit: every probe and every connection
/// is a descriptor, and distributions start services with a soft limit of 1024. Returns the
/// (old, new) soft limit.
#[cfg(unix)]
pub fn raise_fd_limit() -> std::io::Result<(libc::rlim_t, libc::rlim_t)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let old = lim.rlim_cur;
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok((old, lim.rlim_cur))
}

#[cfg(unix)]
async fn signals(store: Arc<Store>, shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut hup), Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::hangup()),
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::warn!("cannot install signal handlers");
        return;
    };
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = hup.recv() => { let _ = store.reload(); }
            _ = term.recv() => { tracing::info!("SIGTERM, shutting down"); shutdown.cancel(); return; }
            _ = int.recv() => { tracing::info!("SIGINT, shutting down"); shutdown.cancel(); return; }
        }
    }
}

#[cfg(not(unix))]
async fn signals(_store: Arc<Store>, shutdown: CancellationToken) {
    let _ = tokio::signal::ctrl_c().await;
    shutdown.cancel();
}
