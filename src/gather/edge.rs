//! Shared edges: an MSP's customer domains mostly point at a few federation edges (their own
//! hosted servers, every Teams tenant at `sipfed.online.lync.com`). An edge — one (vantage,
//! address, port, TLS server name) — gets one TCP connect and one TLS handshake per round,
//! whose facts every domain using it shares; the first probe to need it performs the look,
//! concurrent ones await the same shared future. SIP OPTIONS stays per domain (its request
//! URI is the domain) and runs as its own transaction on the edge's connection, matched to
//! its response by the Via branch (RFC 3261 §17.1.3), so a slow SIP service answers all
//! domains at once instead of one after another.
//!
//! Time spent waiting for a turn at a busy address, or for another probe's look of the edge,
//! is never charged to a domain's deadline: each step's own deadline starts when it runs, and
//! a step that gets no turn leaves its checks absent (SPEC §5).

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::local_exhaustion;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant as StdInstant};

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use rustls::sign::CertifiedKey;
use tokio::net::TcpStream;
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio::time::{Instant, timeout, timeout_at};

use super::identity::Identity;
use super::proxy::{self, ProxyError};
use super::revocation::Revocations;
use super::sip::{self, connection::Queue};
use super::vantage::VantageClient;
use crate::facts::{Blind, CertFacts, Reason, RevocationFacts, SipFacts, TlsFacts, TlsFailure};

/// Connections in flight to one address at most: many customer domains share one edge.
pub const PER_ADDRESS_CONNECTIONS: usize = 4;

/// Looks kept at most between sweeps of expired ones (memory stays bounded by the edges
/// looked at within one freshness window).
const SWEEP_EVERY: usize = 1024;

/// Identifies an edge as one identity sees it: a connection made presenting one client
/// certificate is never used by a probe that presents another.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct EdgeKey {
    vantage: String,
    identity: Arc<str>,
    address: SocketAddr,
    server_name: String,
}

type Look = Shared<BoxFuture<'static, Arc<Edge>>>;

struct Slot {
    started: Instant,
    look: Look,
    users: Arc<Users>,
}

/// A probe using an edge: while any is in flight, the edge's connection stays open.
pub struct EdgeUse {
    users: Arc<Users>,
}

impl Drop for EdgeUse {
    fn drop(&mut self) {
        self.users.leave();
    }
}

/// The looks of the current round, by edge.
pub struct Edges {
    /// How long a look is shared: a fraction of the interval, shorter than the half interval
    /// between two probes of one domain, so no domain is judged twice on the same look.
    fresh: Duration,
    /// Each look's own deadline, from its turn at the address.
    timeout: Duration,
    /// Whether looks keep their connection for SIP OPTIONS.
    sip: bool,
    slots: Mutex<(HashMap<EdgeKey, Slot>, usize)>,
    limiter: Arc<AddressLimiter>,
    /// Looks performed (each one TCP connect and at most one TLS handshake).
    looks: std::sync::atomic::AtomicU64,
    /// Revocation evidence, cached by lifetime for every look of every vantage.
    pub revocations: Arc<Revocations>,
}

/// How to reach an edge: everything a look (or a reconnect for SIP) needs.
struct Dial {
    client: Arc<VantageClient>,
    /// The client certificate offered when the edge asks for one.
    client_cert: Option<Arc<CertifiedKey>>,
    limiter: Arc<AddressLimiter>,
    address: SocketAddr,
    server_name: String,
    timeout: Duration,
    sip: bool,
    /// Probes in flight that use the edge.
    users: Arc<Users>,
    revocations: Arc<Revocations>,
    /// Whether revocation evidence fetched for this look is kept for others (not for an
    /// ad-hoc probe's).
    keep: bool,
}

/// What one look of an edge showed, and its connection for SIP transactions.
pub struct Edge {
    pub tcp: Result<f64, Reason>,
    pub tls: Option<Result<TlsFacts, TlsFailure>>,
    pub chain: Arc<[CertFacts]>,
    /// The presented chain's revocation evidence; `None` without a chain.
    pub revocation: Option<Arc<RevocationFacts>>,
    pub blind: Option<Blind>,
    dial: Arc<Dial>,
    /// The open connection's transaction queue (`None` without SIP or once it is gone).
    conn: tokio::sync::Mutex<Option<Queue>>,
}

impl Edges {
    pub fn new(fresh: Duration, timeout: Duration, sip: bool) -> Edges {
        Edges {
            fresh,
            timeout,
            sip,
            slots: Mutex::new((HashMap::new(), SWEEP_EVERY)),
            limiter: Arc::new(AddressLimiter::default()),
            looks: Default::default(),
            revocations: Default::default(),
        }
    }

    /// Looks kept for sharing (fresh or not yet swept).
    pub fn kept(&self) -> usize {
        self.slots.lock().unwrap_or_else(|p| p.into_inner()).0.len()
    }

    /// How many looks (TCP connects) were performed so far.
    pub fn looks(&self) -> u64 {
        self.looks.load(Ordering::Relaxed)
    }

    /// The current look of the edge (`address`, `server_name`) from `client`'s vantage,
    /// performing it when there is none fresh. Waiting here is not the caller's time. Keep
    /// the `EdgeUse` until done with the edge. With `keep` false (an ad-hoc probe) a fresh
    /// look is used when there is one, but a look made for the caller is its own: not kept
    /// for others, gone with the caller's `Arc<Edge>`, its revocation evidence not cached.
    pub async fn get(
        self: &Arc<Self>,
        client: &Arc<VantageClient>,
        identity: &Identity,
        address: SocketAddr,
        server_name: &str,
        keep: bool,
    ) -> (EdgeUse, Arc<Edge>) {
        let key = EdgeKey {
            vantage: client.name.clone(),
            identity: identity.id.clone(),
            address,
            server_name: server_name.to_string(),
        };
        let look = {
            let mut guard = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            let (slots, sweep_at) = &mut *guard;
            let now = Instant::now();
            let reusable = slots.get(&key).filter(|s| {
                now < s.started + self.fresh
                    // A look that got no turn is not shared: the next probe tries again.
                    && s.look.peek().is_none_or(|e| e.blind.is_none())
            });
            match reusable {
                Some(s) => {
                    s.users.join();
                    (
                        EdgeUse {
                            users: s.users.clone(),
                        },
                        s.look.clone(),
                    )
                }
                None => {
                    if keep && slots.len() >= *sweep_at {
                        slots.retain(|_, s| now < s.started + self.fresh);
                        *sweep_at = (slots.len() * 2).max(SWEEP_EVERY);
                    }
                    let dial = Arc::new(Dial {
                        client: client.clone(),
                        client_cert: identity.key.clone(),
                        limiter: self.limiter.clone(),
                        address,
                        server_name: server_name.to_string(),
                        timeout: self.timeout,
                        sip: self.sip,
                        users: Users::one(),
                        revocations: self.revocations.clone(),
                        keep,
                    });
                    let user = EdgeUse {
                        users: dial.users.clone(),
                    };
                    let dial_for_join_error = dial.clone();
                    let users = dial.users.clone();
                    let edges = self.clone();
                    let looking = async move {
                        edges.looks.fetch_add(1, Ordering::Relaxed);
                        Arc::new(Edge::look(dial).await)
                    };
                    let look = if keep {
                        // A kept look is shared: it runs on its own, so a caller that stops
                        // waiting (a cancelled `/probe`) leaves no half-done look that a later
                        // probe would resume past its deadline and read as the partner's
                        // timeout.
                        let task = tokio::spawn(looking);
                        let dial = dial_for_join_error;
                        async move {
                            task.await.unwrap_or_else(|_| {
                                Arc::new(Edge::not_looked(dial, Blind::LocalResources))
                            })
                        }
                        .boxed()
                        .shared()
                    } else {
                        // Its caller's alone: cancelled with it.
                        looking.boxed().shared()
                    };
                    if keep {
                        slots.insert(
                            key,
                            Slot {
                                started: now,
                                look: look.clone(),
                                users,
                            },
                        );
                    }
                    (user, look)
                }
            }
        };
        let (user, look) = look;
        (user, look.await)
    }
}

/// The facts of one connect + handshake and, when SIP is wanted, the connection.
struct Opened {
    tcp: Result<f64, Reason>,
    tls: Option<Result<TlsFacts, TlsFailure>>,
    chain: Arc<[CertFacts]>,
    stapled: Option<Vec<u8>>,
    blind: Option<Blind>,
    conn: Option<Queue>,
    /// Where the look's time ends (revocation evidence is fetched before it).
    deadline: Instant,
}

impl Dial {
    /// Waits for a turn at the address (at most one timeout), then connects and shakes hands
    /// under a deadline that starts with the turn.
    async fn open(&self) -> Opened {
        let mut out = Opened {
            tcp: Err(Reason::Timeout),
            tls: None,
            chain: Arc::new([]),
            stapled: None,
            blind: None,
            conn: None,
            deadline: Instant::now() + self.timeout,
        };
        let Ok(permit) = timeout(self.timeout, self.limiter.acquire(self.address)).await else {
            // Waiting for a turn at a busy address is our trouble, not the partner's.
            out.blind = Some(Blind::NoTurn);
            return out;
        };
        let deadline = Instant::now() + self.timeout;
        out.deadline = deadline;
        let start = Instant::now();
        let connect = async {
            match &self.client.proxy {
                Some(proxy) => proxy::connect(proxy, self.address).await,
                None => TcpStream::connect(self.address)
                    .await
                    .map_err(ProxyError::Target),
            }
        };
        let tcp = match timeout_at(deadline, connect).await {
            Err(_) => return out,
            Ok(Err(ProxyError::Proxy(detail))) => {
                // The proxy, not the partner, failed: nothing was learned about the address.
                tracing::debug!(vantage = %self.client.name, %detail, "proxy failed");
                out.tcp = Err(Reason::ConnectError);
                out.blind = Some(Blind::ProxyDown);
                return out;
            }
            Ok(Err(ProxyError::Target(e))) => {
                out.tcp = Err(connect_reason(&e));
                if local_exhaustion(&e) {
                    out.blind = Some(Blind::LocalResources);
                } else if super::no_route(&e) {
                    // Our host cannot reach this family at all: nothing learned about the
                    // partner, and the vantage says so (sipfed_vantage_address_family_up).
                    out.blind = Some(Blind::NoRoute);
                    self.client.routes.saw(self.address.ip(), false);
                } else if e.kind() == std::io::ErrorKind::ConnectionRefused {
                    // A refusal came back: the family is routed.
                    self.client.routes.saw(self.address.ip(), true);
                }
                return out;
            }
            Ok(Ok(s)) => s,
        };
        self.client.routes.saw(self.address.ip(), true);
        out.tcp = Ok(start.elapsed().as_secs_f64());
        let _ = tcp.set_nodelay(true);
        let handshake =
            self.client
                .tls
                .handshake(tcp, &self.server_name, self.client_cert.as_ref());
        let Ok(hs) = timeout_at(deadline, handshake).await else {
            out.tls = Some(Err(TlsFailure::new(
                Reason::Timeout,
                "no TLS handshake before the probe's deadline",
            )));
            return out;
        };
        out.tls = Some(hs.result);
        out.chain = hs.chain;
        out.stapled = hs.stapled;
        if self.sip
            && let Some(stream) = hs.stream
        {
            let (tx, rx) = mpsc::unbounded_channel();
            let held = Held {
                turn: permit,
                users: self.users.clone(),
            };
            tokio::spawn(sip::connection::serve(stream, rx, held));
            out.conn = Some(tx);
        }
        out
    }
}

impl Edge {
    /// An edge the exporter could not look at (`blind`): nothing learned about the partner.
    fn not_looked(dial: Arc<Dial>, blind: Blind) -> Edge {
        Edge {
            tcp: Err(Reason::ConnectError),
            tls: None,
            chain: Arc::from(Vec::new()),
            revocation: None,
            blind: Some(blind),
            dial,
            conn: tokio::sync::Mutex::new(None),
        }
    }

    async fn look(dial: Arc<Dial>) -> Edge {
        let opened = dial.open().await;
        let revocation = if opened.chain.is_empty() || opened.blind.is_some() {
            None
        } else {
            let facts = dial.revocations.gather(
                &dial.client,
                &opened.chain,
                opened.stapled.as_deref(),
                opened.deadline,
                dial.timeout / crate::gather::revocation::BUDGET_SHARE,
                dial.keep,
            );
            Some(Arc::new(facts.await))
        };
        Edge {
            tcp: opened.tcp,
            tls: opened.tls,
            chain: opened.chain,
            revocation,
            blind: opened.blind,
            dial,
            conn: tokio::sync::Mutex::new(opened.conn),
        }
    }

    /// SIP OPTIONS for `domain`, from `from` (the tenant's address, else a placeholder), as
    /// its own transaction on the edge's connection, reopened when it is gone; `None` when
    /// no connection could be had for want of a turn (absent). Waiting for a turn or another
    /// probe's reconnect extends `deadline`.
    pub async fn options(
        &self,
        domain: &str,
        from: Option<&str>,
        mut deadline: Instant,
    ) -> Option<SipFacts> {
        let start = StdInstant::now();
        let fail = |reason, detail| sip::connection::failed(start, reason, detail);
        // A connection the peer closed after answering others is reopened once.
        for _ in 0..2 {
            let waiting = Instant::now();
            let sender = {
                let mut conn = self.conn.lock().await;
                match conn.as_ref().filter(|c| !c.is_closed()) {
                    Some(c) => c.clone(),
                    None => {
                        let opened = self.dial.open().await;
                        if opened.blind.is_some() {
                            return None;
                        }
                        match opened.conn {
                            Some(c) => {
                                *conn = Some(c.clone());
                                c
                            }
                            None => {
                                let detail = match (&opened.tcp, &opened.tls) {
                                    (Err(r), _) => {
                                        format!("reconnecting for OPTIONS: {}", r.as_str())
                                    }
                                    (_, Some(Err(f))) => {
                                        format!("reconnecting for OPTIONS: {}", f.detail)
                                    }
                                    _ => "reconnecting for OPTIONS failed".into(),
                                };
                                return Some(fail(Reason::Closed, detail));
                            }
                        }
                    }
                }
            };
            deadline += waiting.elapsed();
            match sip::connection::transact(&sender, domain, from, deadline).await {
                Ok(facts) => return Some(facts),
                // The connection went away with the transaction unanswered: reopen once.
                Err(sip::connection::Gone) => self.forget(&sender).await,
            }
        }
        Some(fail(
            Reason::Closed,
            "the peer closed the connection without answering".into(),
        ))
    }
}

impl Edge {
    /// Drops `sender`'s connection from the edge, unless another probe replaced it already.
    async fn forget(&self, sender: &Queue) {
        let mut conn = self.conn.lock().await;
        if conn.as_ref().is_some_and(|c| c.same_channel(sender)) {
            *conn = None;
        }
    }
}

/// The probes in flight that may still send OPTIONS on an edge's connection.
#[derive(Default)]
pub(crate) struct Users {
    count: AtomicUsize,
    /// Notified when the count drops to zero: the connection may give its turn away at once.
    none: Notify,
}

impl Users {
    pub(crate) fn one() -> Arc<Users> {
        let users = Arc::new(Users::default());
        users.count.store(1, Ordering::Relaxed);
        users
    }

    pub(crate) fn join(&self) {
        self.count.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn leave(&self) {
        if self.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.none.notify_one();
        }
    }

    /// Whether no probe uses the edge now.
    pub(crate) fn none(&self) -> bool {
        self.count.load(Ordering::Acquire) == 0
    }

    /// Resolves when the last user has gone (at once if it went since the last call).
    pub(crate) async fn gone(&self) {
        self.none.notified().await
    }
}

/// What an edge's connection holds while it is open: its turn at the address.
pub(crate) trait Turn: Send + 'static {
    /// Whether another connection waits for this turn.
    fn wanted(&self) -> bool;

    /// Resolves when another connection starts to wait (a wait that starts after this call
    /// returned is never missed).
    fn asked(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// What an edge's open connection holds: its turn at the address, given away as soon as no
/// probe uses the edge while another connection waits for it, and the probes using it.
struct Held<T: Turn> {
    turn: T,
    users: Arc<Users>,
}

impl<T: Turn> sip::connection::Hold for Held<T> {
    fn unused(&self) -> bool {
        self.users.none()
    }

    fn release(&self) -> bool {
        self.users.none() && self.turn.wanted()
    }

    fn changed(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        // Asked for before it is awaited, so a wait that starts meanwhile is not missed; the
        // users' notification keeps a permit.
        let asked = self.turn.asked();
        let users = &*self.users;
        Box::pin(async move {
            tokio::select! {
                _ = asked => {}
                _ = users.gone() => {}
            }
        })
    }
}

fn connect_reason(e: &std::io::Error) -> Reason {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::ConnectionRefused => Reason::ConnectionRefused,
        ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable => Reason::Unreachable,
        ErrorKind::TimedOut => Reason::Timeout,
        _ => Reason::ConnectError,
    }
}

/// Bounds connections per address across all probes; entries vanish when unused.
#[derive(Default)]
pub struct AddressLimiter {
    slots: Mutex<HashMap<SocketAddr, Arc<Turns>>>,
}

/// The turns at one address, and how many connections wait for one.
struct Turns {
    semaphore: Arc<Semaphore>,
    waiting: AtomicUsize,
    /// Wakes the address's lingering connections when one starts to wait.
    asked: Notify,
}

struct AddressPermit {
    limiter: Arc<AddressLimiter>,
    address: SocketAddr,
    turns: Arc<Turns>,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

/// Counts a connection waiting for a turn while it exists (also when the wait is abandoned).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl AddressLimiter {
    async fn acquire(self: &Arc<Self>, address: SocketAddr) -> AddressPermit {
        let turns = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            slots
                .entry(address)
                .or_insert_with(|| {
                    Arc::new(Turns {
                        semaphore: Arc::new(Semaphore::new(PER_ADDRESS_CONNECTIONS)),
                        waiting: AtomicUsize::new(0),
                        asked: Notify::new(),
                    })
                })
                .clone()
        };
        let permit = match turns.semaphore.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                turns.waiting.fetch_add(1, Ordering::AcqRel);
                let _waiting = Waiting(&turns.waiting);
                turns.asked.notify_waiters();
                // The semaphore is never closed, so acquiring cannot fail.
                match turns.semaphore.clone().acquire_owned().await {
                    Ok(p) => p,
                    Err(_) => unreachable!("address semaphores are never closed"),
                }
            }
        };
        AddressPermit {
            limiter: self.clone(),
            address,
            turns,
            _permit: permit,
        }
    }
}

impl Turn for AddressPermit {
    fn wanted(&self) -> bool {
        self.turns.waiting.load(Ordering::Acquire) > 0
    }

    fn asked(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        let mut asked = Box::pin(self.turns.asked.notified());
        asked.as_mut().enable();
        asked
    }
}

impl Drop for AddressPermit {
    fn drop(&mut self) {
        let mut slots = self.limiter.slots.lock().unwrap_or_else(|p| p.into_inner());
        // The map holds one reference, this permit another: drop idle entries.
        if let Some(turns) = slots.get(&self.address)
            && Arc::strong_count(turns) <= 2
            && turns.semaphore.available_permits() + 1 >= PER_ADDRESS_CONNECTIONS
        {
            slots.remove(&self.address);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A listener that accepts and closes every connection (a look fails at once).
    async fn closing_edge() -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                drop(conn);
            }
        });
        address
    }

    /// Shared edges with look `timeout`, a test vantage and the global identity (no client
    /// certificate).
    fn prober(timeout: Duration) -> (Arc<Edges>, Arc<VantageClient>, Identity) {
        let edges = Arc::new(Edges::new(Duration::from_secs(60), timeout, false));
        let identity = Identity {
            id: "global".into(),
            key: None,
            chain: None,
        };
        (edges, Arc::new(VantageClient::test("v")), identity)
    }

    #[tokio::test]
    async fn an_ad_hoc_look_is_not_kept_but_may_use_a_kept_one() {
        let (edges, client, identity) = prober(Duration::from_secs(5));
        let address = closing_edge().await;
        let look = |keep| edges.get(&client, &identity, address, "edge.test", keep);

        let (_use, edge) = look(false).await;
        assert!(edge.tcp.is_ok(), "connected: {:?}", edge.tcp);
        assert_eq!(edges.looks(), 1);
        assert_eq!(edges.kept(), 0, "an ad-hoc look leaves nothing behind");
        // Not shared with the next ad-hoc probe either: it looks itself.
        let _ = look(false).await;
        assert_eq!((edges.looks(), edges.kept()), (2, 0));

        // A configured probe's look is kept and shared, with ad-hoc probes too.
        let _ = look(true).await;
        assert_eq!((edges.looks(), edges.kept()), (3, 1));
        let _ = look(false).await;
        let _ = look(true).await;
        assert_eq!((edges.looks(), edges.kept()), (3, 1));
    }

    /// A caller that stops waiting for a kept look (a cancelled `/probe`) leaves it running
    /// to its own end within its own deadline, instead of a half-done look parked in the
    /// slot that a later probe would resume past that deadline and read as the partner's
    /// timeout. The edge here reads the ClientHello and never answers: the look ends at its
    /// deadline and closes the connection, which the edge sees.
    #[tokio::test]
    async fn a_cancelled_kept_look_runs_to_its_own_end() {
        let (edges, client, identity) = prober(Duration::from_millis(300));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (closed_tx, closed_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let mut buf = [0u8; 4096];
            // Until the prober closes its side.
            while matches!(conn.read(&mut buf).await, Ok(n) if n > 0) {}
            let _ = closed_tx.send(());
        });
        let look = || edges.get(&client, &identity, address, "edge.test", true);
        let cancelled = tokio::time::timeout(Duration::from_millis(50), look()).await;
        assert!(cancelled.is_err(), "the caller stopped waiting");
        // The look went on without its caller and ended at its deadline (300 ms).
        let ended = tokio::time::timeout(Duration::from_secs(5), closed_rx).await;
        assert!(
            ended.is_ok(),
            "the cancelled look was left parked, its connection open"
        );
        let (_use, edge) = look().await;
        assert_eq!(edges.looks(), 1, "the kept look was shared, not repeated");
        let failure = edge
            .tls
            .as_ref()
            .and_then(|t| t.as_ref().err())
            .map(|f| f.reason);
        assert_eq!(failure, Some(Reason::Timeout));
    }

    /// Reads one request's head on the peer's side of a pipe; `None` if it closed first.
    async fn read_request(server: &mut tokio::io::DuplexStream) -> Option<String> {
        let mut request = Vec::new();
        let mut chunk = [0u8; 512];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            match server.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => request.extend_from_slice(&chunk[..n]),
            }
        }
        Some(String::from_utf8_lossy(&request).into_owned())
    }

    /// The value of the header line starting with `prefix` in a request's text.
    fn header(text: &str, prefix: &str) -> String {
        text.split("\r\n")
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_default()
            .to_string()
    }

    /// A turn whose `wanted` the test sets, asking with `Notify::notify_waiters` as the
    /// address limiter does.
    #[derive(Clone, Default)]
    struct Wanted(Arc<std::sync::atomic::AtomicBool>, Arc<Notify>);

    impl Wanted {
        fn ask(&self) {
            self.0.store(true, Ordering::Relaxed);
            self.1.notify_waiters();
        }
    }

    impl Turn for Wanted {
        fn wanted(&self) -> bool {
            self.0.load(Ordering::Relaxed)
        }

        fn asked(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
            let mut asked = Box::pin(self.1.notified());
            asked.as_mut().enable();
            asked
        }
    }

    /// Runs one transaction on a served connection whose peer answers 200, then lets its only
    /// user go; returns whether the connection was still open 1 ms (virtual) later, and
    /// whether it was closed `LINGER` later.
    async fn open_after_last_user(wanted: bool) -> (bool, bool) {
        let turn = Wanted::default();
        if wanted {
            turn.ask();
        }
        let (open, conn, peer, _sender) = served_until_last_user_left(turn).await;
        let closed = !open
            || tokio::time::timeout(sip::connection::LINGER, conn)
                .await
                .is_ok();
        peer.abort();
        (open, closed)
    }

    /// Serves one answered transaction with `turn`, lets its only user go and waits 1 ms
    /// (virtual): whether the connection is still open, its task, the peer's, and the
    /// connection's queue (the edge keeps it: dropping it ends the connection).
    async fn served_until_last_user_left(
        turn: Wanted,
    ) -> (
        bool,
        tokio::task::JoinHandle<()>,
        tokio::task::JoinHandle<()>,
        Queue,
    ) {
        let (client, mut server) = tokio::io::duplex(4096);
        let peer = tokio::spawn(async move {
            let Some(text) = read_request(&mut server).await else {
                return;
            };
            let id = header(&text, "Call-ID: ");
            let branch = text
                .split("\r\n")
                .find_map(|l| l.split("branch=").nth(1))
                .unwrap_or_default()
                .to_string();
            let answer = format!(
                "SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS x;branch={branch}\r\nCall-ID: {id}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
            );
            let _ = server.write_all(answer.as_bytes()).await;
            // Keep the connection open from the peer's side.
            std::future::pending::<()>().await;
        });
        let users = Users::one();
        let (sender, rx) = mpsc::unbounded_channel();
        let held = Held {
            turn,
            users: users.clone(),
        };
        let conn = tokio::spawn(sip::connection::serve(client, rx, held));
        let deadline = Instant::now() + Duration::from_secs(5);
        let facts = match sip::connection::transact(&sender, "zahnfee.de", None, deadline).await {
            Ok(f) => f,
            Err(sip::connection::Gone) => panic!("the connection went away"),
        };
        assert_eq!(facts.status, Ok(200), "{}", facts.detail);
        users.leave();
        let mut conn = conn;
        let open = tokio::time::timeout(Duration::from_millis(1), &mut conn)
            .await
            .is_err();
        (open, conn, peer, sender)
    }

    #[tokio::test(start_paused = true)]
    async fn a_wanted_turn_is_given_away_when_the_last_user_leaves() {
        // Another connection waits for the address: no lingering.
        assert_eq!(open_after_last_user(true).await, (false, true));
        // Nobody waits: the connection lingers for probes that may still come, then closes.
        assert_eq!(open_after_last_user(false).await, (true, true));
    }

    #[tokio::test(start_paused = true)]
    async fn a_lingering_connection_gives_its_turn_away_when_asked() {
        let turn = Wanted::default();
        let (open, mut conn, peer, _sender) = served_until_last_user_left(turn.clone()).await;
        assert!(open);
        // Another connection starts to wait well within the linger.
        turn.ask();
        let closed = tokio::time::timeout(Duration::from_millis(1), &mut conn).await;
        peer.abort();
        assert!(
            closed.is_ok(),
            "still open 1 ms after the turn was asked for"
        );
    }
}
