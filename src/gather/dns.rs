//! DNS gathering: one stub client per configured resolver address of a vantage, every query
//! absolute (no search list), answers classified into `DnsFailure`s.
//!
//! The transport is our own and lean (hickory-proto only builds and parses messages): per
//! server address a few connected UDP sockets shared by all queries, each with one reader task
//! that hands a response to the query waiting for its id — a datagram counts only when its id
//! is pending on that socket and its question is the query's. Sockets are retired after
//! `QUERIES_PER_SOCKET` queries or `SOCKET_AGE`, so source ports keep changing. A truncated
//! answer is asked again over TCP. hickory-resolver is used only to read /etc/resolv.conf.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use hickory_resolver::config::ProtocolConfig;
use ring::rand::{SecureRandom, SystemRandom};
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{Notify, Semaphore, oneshot};

use crate::config::{ResolverAddr, Vantage};
use crate::error::Error;
use crate::facts::{DnsFailure, ResolverAnswer, SrvRecord};

/// UDP attempts per query and server, each bounded by the query timeout.
const ATTEMPTS: usize = 2;
/// Connected UDP sockets per server address, opened as concurrency needs them.
const SOCKETS_PER_SERVER: usize = 4;
/// Queries waiting on one socket at most. Responses wait in the socket's receive buffer until
/// its reader runs; this many small ones fit in the default 208 KiB, so a busy runtime does not
/// make the kernel drop answers (which cost a timeout and a retry).
const IN_FLIGHT_PER_SOCKET: usize = 64;
/// Queries a socket carries before it is retired (and its source port with it).
const QUERIES_PER_SOCKET: u32 = 512;
/// Age after which a socket takes no new queries.
const SOCKET_AGE: Duration = Duration::from_secs(30);
/// The EDNS0 UDP payload we advertise (the DNS flag day 2020 value, hickory's default).
const EDNS_PAYLOAD: u16 = 1232;
/// Receive buffer: the largest UDP datagram, whatever a server sends despite our EDNS size.
const MAX_DATAGRAM: usize = 65_535;

/// The resolvers of one vantage, built once and shared by every probe from it.
pub struct Resolvers {
    resolvers: Vec<(String, Client)>,
}

impl Resolvers {
    /// Builds one client per configured address; `query_timeout` bounds each attempt.
    pub fn new(vantage: &Vantage, query_timeout: Duration) -> Result<Resolvers, Error> {
        Self::build(vantage, query_timeout, true)
    }

    /// Like `new`, but queries without recursion: for asking authoritative servers directly.
    pub fn new_authoritative(
        vantage: &Vantage,
        query_timeout: Duration,
    ) -> Result<Resolvers, Error> {
        Self::build(vantage, query_timeout, false)
    }

    fn build(
        vantage: &Vantage,
        query_timeout: Duration,
        recursion: bool,
    ) -> Result<Resolvers, Error> {
        let mut resolvers = Vec::new();
        for addr in &vantage.resolvers {
            let servers = match addr {
                ResolverAddr::System => system_servers().map_err(|message| Error::Config {
                    location: "/etc/resolv.conf".into(),
                    message: format!("vantage {}: system resolver: {message}", vantage.name),
                })?,
                ResolverAddr::Addr(sa) => vec![*sa],
            };
            let client = Client {
                servers: servers.into_iter().map(Server::new).collect(),
                timeout: query_timeout,
                recursion,
            };
            resolvers.push((addr.to_string(), client));
        }
        Ok(Resolvers { resolvers })
    }

    /// The SRV records at `name` from every resolver, in configuration order.
    pub async fn srv(&self, name: &str) -> Vec<ResolverAnswer<Vec<SrvRecord>>> {
        self.each(name, RecordType::SRV, |data| match data {
            RData::SRV(s) => Some(SrvRecord {
                priority: s.priority,
                weight: s.weight,
                port: s.port,
                target: host(&s.target),
            }),
            _ => None,
        })
        .await
    }

    /// A and AAAA of `name` from every resolver; an answer fails only when both lookups did.
    pub async fn addresses(&self, name: &str) -> Vec<ResolverAnswer<Vec<IpAddr>>> {
        self.addresses_seen(name).await.0
    }

    /// [`Resolvers::addresses`] and [`Resolvers::cname`] at once. A resolver answering A or
    /// AAAA for an alias returns the alias's CNAME with the addresses, so the CNAME is read
    /// from the first resolver's address answers; it is asked for on its own only when neither
    /// of them had data (one query less per target and probe).
    pub async fn addresses_and_cname(
        &self,
        name: &str,
    ) -> (Vec<ResolverAnswer<Vec<IpAddr>>>, Option<String>) {
        let (answers, alias) = self.addresses_seen(name).await;
        match alias {
            Some(alias) => (answers, alias),
            None => (answers, self.cname(name).await),
        }
    }

    /// The address answers and, when the first resolver's A or AAAA lookup had data, the
    /// CNAME at `name` those answers show (`Some(None)`: not an alias).
    async fn addresses_seen(
        &self,
        name: &str,
    ) -> (Vec<ResolverAnswer<Vec<IpAddr>>>, Option<Option<String>>) {
        let v4 = self.each_seen(name, RecordType::A, |d| match d {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            _ => None,
        });
        let v6 = self.each_seen(name, RecordType::AAAA, |d| match d {
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        });
        let (v4, v6) = tokio::join!(v4, v6);
        let mut alias = None;
        if let (Some((a, a_alias)), Some((b, b_alias))) = (v4.first(), v6.first())
            && (a.answer.is_ok() || b.answer.is_ok())
        {
            let seen = if a.answer.is_ok() { a_alias } else { b_alias };
            alias = Some(seen.clone());
        }
        let answers = v4
            .into_iter()
            .zip(v6)
            .map(|((a, _), (b, _))| {
                let answer = match (a.answer, b.answer) {
                    (Ok(mut x), Ok(y)) => {
                        x.extend(y);
                        Ok(x)
                    }
                    (Ok(x), Err(_)) | (Err(_), Ok(x)) if !x.is_empty() => Ok(x),
                    (Ok(_), Err(e)) | (Err(e), Ok(_)) => Err(e),
                    (Err(e), Err(f)) => Err(worse(e, f)),
                };
                ResolverAnswer {
                    resolver: a.resolver,
                    answer: answer.and_then(|v| {
                        if v.is_empty() {
                            Err(DnsFailure::Nodata)
                        } else {
                            Ok(v)
                        }
                    }),
                }
            })
            .collect();
        (answers, alias)
    }

    /// The CNAME at `name` according to the first resolver, if it is an alias.
    pub async fn cname(&self, name: &str) -> Option<String> {
        let (_, resolver) = self.resolvers.first()?;
        let answer = lookup(resolver, name, RecordType::CNAME, |d| match d {
            RData::CNAME(c) => Some(host(&c.0)),
            _ => None,
        })
        .await;
        answer.ok().and_then(|v| v.into_iter().next())
    }

    /// Whether each resolver answers a query for `name`'s NS records (vantage health): any
    /// response counts — data, NODATA or NXDOMAIN — but SERVFAIL, REFUSED, silence and network
    /// errors do not.
    pub async fn health(&self, name: &str) -> Vec<ResolverAnswer<()>> {
        self.each(name, RecordType::NS, |_| Some(()))
            .await
            .into_iter()
            .map(|a| ResolverAnswer {
                resolver: a.resolver,
                answer: match a.answer {
                    Ok(_) | Err(DnsFailure::Nodata | DnsFailure::Nxdomain) => Ok(()),
                    Err(e) => Err(e),
                },
            })
            .collect()
    }

    /// Records of any type from the first resolver (for the Microsoft 365 evidence lookups).
    pub async fn first<T>(
        &self,
        name: &str,
        rtype: RecordType,
        pick: impl Fn(&RData) -> Option<T>,
    ) -> Result<Vec<T>, DnsFailure> {
        match self.resolvers.first() {
            Some((_, r)) => lookup(r, name, rtype, pick).await,
            None => Err(DnsFailure::Error),
        }
    }

    /// [`Resolvers::each`], with the CNAME at `name` each answer showed.
    async fn each_seen<T>(
        &self,
        name: &str,
        rtype: RecordType,
        pick: impl Fn(&RData) -> Option<T> + Copy,
    ) -> Vec<(ResolverAnswer<Vec<T>>, Option<String>)> {
        let lookups = self.resolvers.iter().map(|(label, r)| async move {
            let (answer, alias) = lookup_seen(r, name, rtype, pick).await;
            (
                ResolverAnswer {
                    resolver: label.clone(),
                    answer,
                },
                alias,
            )
        });
        futures::future::join_all(lookups).await
    }

    async fn each<T>(
        &self,
        name: &str,
        rtype: RecordType,
        pick: impl Fn(&RData) -> Option<T> + Copy,
    ) -> Vec<ResolverAnswer<Vec<T>>> {
        let lookups = self.resolvers.iter().map(|(label, r)| async move {
            ResolverAnswer {
                resolver: label.clone(),
                answer: lookup(r, name, rtype, pick).await,
            }
        });
        futures::future::join_all(lookups).await
    }
}

/// The name servers /etc/resolv.conf lists, in order, at their UDP port (53 unless said).
fn system_servers() -> Result<Vec<SocketAddr>, String> {
    let (conf, _) = hickory_resolver::system_conf::read_system_conf().map_err(|e| e.to_string())?;
    // Only the name servers: the search list is what makes nslookup lie.
    let mut servers: Vec<SocketAddr> = Vec::new();
    for ns in conf.name_servers() {
        let port = ns
            .connections
            .iter()
            .find(|c| matches!(c.protocol, ProtocolConfig::Udp))
            .map_or(53, |c| c.port);
        let addr = SocketAddr::new(ns.ip, port);
        if !servers.contains(&addr) {
            servers.push(addr);
        }
    }
    if servers.is_empty() {
        return Err("no name server".into());
    }
    Ok(servers)
}

/// One configured resolver: its server addresses (several only for `system`), tried in order.
struct Client {
    servers: Vec<Server>,
    /// Bounds each attempt, UDP or TCP.
    timeout: Duration,
    /// The RD bit of every query.
    recursion: bool,
}

impl Client {
    /// The response to `query`: from the first server that gives one other than SERVFAIL or
    /// REFUSED, else the last server's response or failure.
    async fn resolve(&self, query: &Query) -> Result<Message, DnsFailure> {
        let wire = encode(query, self.recursion)?;
        let mut last = Err(DnsFailure::Error);
        for server in &self.servers {
            last = self.exchange(server, query, &wire).await;
            let next = match &last {
                Ok(m) => matches!(
                    m.metadata.response_code,
                    ResponseCode::ServFail | ResponseCode::Refused
                ),
                Err(_) => true,
            };
            if !next {
                break;
            }
        }
        last
    }

    /// Up to `ATTEMPTS` UDP exchanges with one server; a truncated answer is asked again once
    /// over TCP, and that answer is final.
    async fn exchange(
        &self,
        server: &Server,
        query: &Query,
        wire: &[u8],
    ) -> Result<Message, DnsFailure> {
        let mut last = DnsFailure::Timeout;
        for _ in 0..ATTEMPTS {
            match server.udp(query, wire, self.timeout).await {
                Ok((m, id)) if m.metadata.truncation => {
                    let tcp = tcp_exchange(server.addr, query, wire, id);
                    return tokio::time::timeout(self.timeout, tcp)
                        .await
                        .unwrap_or(Err(DnsFailure::Timeout));
                }
                Ok((m, _)) => return Ok(m),
                Err(e @ (DnsFailure::Timeout | DnsFailure::Error)) => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }
}

/// The query message for `query`, with id 0 (each attempt writes its own id over it).
fn encode(query: &Query, recursion: bool) -> Result<Vec<u8>, DnsFailure> {
    let mut message = Message::new(0, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = recursion;
    message.add_query(query.clone());
    let mut edns = Edns::new();
    edns.set_max_payload(EDNS_PAYLOAD).set_version(0);
    message.set_edns(edns);
    message.to_vec().map_err(|_| DnsFailure::Error)
}

/// `wire` with `id` in its header.
fn with_id(wire: &[u8], id: u16) -> Vec<u8> {
    let mut out = wire.to_vec();
    if let Some(head) = out.get_mut(..2) {
        head.copy_from_slice(&id.to_be_bytes());
    }
    out
}

/// Whether `m` is a response to `query` (sent with `id`): same id, and the same single
/// question (name case-insensitively, type, class).
fn answers(m: &Message, query: &Query, id: u16) -> bool {
    m.metadata.id == id
        && m.metadata.message_type == MessageType::Response
        && m.queries.len() == 1
        && m.queries[0] == *query
}

/// One exchange over a fresh TCP connection (RFC 1035 §4.2.2 length framing; the 16-bit
/// length bounds what is read to 64 KiB).
async fn tcp_exchange(
    server: SocketAddr,
    query: &Query,
    wire: &[u8],
    id: u16,
) -> Result<Message, DnsFailure> {
    let io = |e: std::io::Error| io_failure(&e);
    let mut stream = TcpStream::connect(server).await.map_err(io)?;
    let len = u16::try_from(wire.len()).map_err(|_| DnsFailure::Error)?;
    let mut out = Vec::with_capacity(2 + wire.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&with_id(wire, id));
    stream.write_all(&out).await.map_err(io)?;
    let len = stream.read_u16().await.map_err(io)?;
    let mut buf = vec![0; usize::from(len)];
    stream.read_exact(&mut buf).await.map_err(io)?;
    match Message::from_vec(&buf) {
        Ok(m) if answers(&m, query, id) => Ok(m),
        _ => Err(DnsFailure::Error),
    }
}

/// The failure an I/O error means: ours when the host ran out of something.
fn io_failure(e: &std::io::Error) -> DnsFailure {
    if super::local_exhaustion(e) {
        DnsFailure::Local
    } else if e.kind() == std::io::ErrorKind::TimedOut {
        DnsFailure::Timeout
    } else {
        DnsFailure::Error
    }
}

/// The failure a response code other than NOERROR means.
fn rcode_failure(code: ResponseCode) -> DnsFailure {
    match code {
        ResponseCode::NXDomain => DnsFailure::Nxdomain,
        ResponseCode::ServFail => DnsFailure::Servfail,
        ResponseCode::Refused => DnsFailure::Refused,
        _ => DnsFailure::Error,
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded maps stay consistent whatever panicked while holding them.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One server address: its open UDP sockets, at most `SOCKETS_PER_SERVER` taking queries.
struct Server {
    addr: SocketAddr,
    /// Sockets taking new queries; retired ones live on only in their reader task until
    /// their last pending query is done.
    sockets: Mutex<Vec<Arc<Socket>>>,
    /// Bounds the queries waiting on this server's sockets, retired ones included, to
    /// `SOCKETS_PER_SERVER * IN_FLIGHT_PER_SOCKET`; more wait here, before their attempt.
    slots: Semaphore,
}

impl Server {
    fn new(addr: SocketAddr) -> Server {
        Server {
            addr,
            sockets: Mutex::new(Vec::new()),
            slots: Semaphore::new(SOCKETS_PER_SERVER * IN_FLIGHT_PER_SOCKET),
        }
    }

    /// One UDP exchange: the response to `query` and the id it was sent with.
    async fn udp(
        &self,
        query: &Query,
        wire: &[u8],
        timeout: Duration,
    ) -> Result<(Message, u16), DnsFailure> {
        // Never closed: a wait for a slot ends with one.
        let _slot = self.slots.acquire().await.map_err(|_| DnsFailure::Error)?;
        let (reply, response) = oneshot::channel();
        let (socket, id, serial) = self.register(query, reply)?;
        // Unregisters on every way out, the caller's cancellation included.
        let _pending = Registration {
            socket: &socket,
            id,
            serial,
        };
        socket
            .udp
            .send(&with_id(wire, id))
            .await
            .map_err(|e| io_failure(&e))?;
        match tokio::time::timeout(timeout, response).await {
            Ok(Ok(Ok(m))) => Ok((m, id)),
            Ok(Ok(Err(e))) => Err(e),
            Ok(Err(_)) => Err(DnsFailure::Error),
            Err(_) => Err(DnsFailure::Timeout),
        }
    }

    /// Registers a pending query on a socket that takes queries, opening one when every open
    /// socket is busy and there is room.
    fn register(
        &self,
        query: &Query,
        mut reply: Reply,
    ) -> Result<(Arc<Socket>, u16, u64), DnsFailure> {
        let mut sockets = lock(&self.sockets);
        // Twice at most: a socket retired under our feet is replaced once.
        for _ in 0..2 {
            sockets.retain(|s| {
                let open = s.takes_queries();
                if !open {
                    s.retire();
                }
                open
            });
            let idle = sockets
                .iter()
                .min_by_key(|s| s.in_flight.load(Ordering::Relaxed));
            let socket = match idle {
                Some(s)
                    if s.in_flight.load(Ordering::Relaxed) == 0
                        || sockets.len() >= SOCKETS_PER_SERVER =>
                {
                    s.clone()
                }
                _ => match (Socket::open(self.addr), idle) {
                    (Ok(s), _) => {
                        sockets.push(s.clone());
                        s
                    }
                    // Out of descriptors (or the like): a busy socket beats none.
                    (Err(_), Some(s)) => s.clone(),
                    (Err(e), None) => return Err(io_failure(&e)),
                },
            };
            match socket.register(query, reply) {
                Ok((id, serial)) => return Ok((socket, id, serial)),
                // Retired by its reader in the meantime: drop it, take another.
                Err(r) => reply = r,
            }
        }
        Err(DnsFailure::Error)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        for s in lock(&self.sockets).drain(..) {
            s.retire();
        }
    }
}

type Reply = oneshot::Sender<Result<Message, DnsFailure>>;

/// A query waiting on a socket for its response.
struct Pending {
    query: Query,
    /// Tells this registration from a later one that reuses the id.
    serial: u64,
    reply: Reply,
}

/// A connected UDP socket shared by queries to one server.
struct Socket {
    udp: UdpSocket,
    born: Instant,
    /// Queries registered so far (for retirement).
    issued: AtomicU32,
    /// `state.pending.len()`, readable without the lock (for picking the least busy).
    in_flight: AtomicUsize,
    state: Mutex<SocketState>,
    /// Wakes the reader to see whether it is done (retired, nothing pending).
    wake: Notify,
}

struct SocketState {
    /// Never two entries with one id: an id is drawn until it is free.
    pending: HashMap<u16, Pending>,
    retired: bool,
    serial: u64,
    /// Random bytes for ids, drawn in batches (one getrandom per 32 ids).
    random: [u8; 64],
    used: usize,
}

impl Socket {
    /// Binds an ephemeral port, connects it to `server` (the kernel then drops datagrams from
    /// anyone else) and starts its reader.
    fn open(server: SocketAddr) -> std::io::Result<Arc<Socket>> {
        let local = match server.ip() {
            IpAddr::V4(_) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
            IpAddr::V6(_) => SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)),
        };
        let std = std::net::UdpSocket::bind(local)?;
        std.connect(server)?;
        std.set_nonblocking(true)?;
        let socket = Arc::new(Socket {
            udp: UdpSocket::from_std(std)?,
            born: Instant::now(),
            issued: AtomicU32::new(0),
            in_flight: AtomicUsize::new(0),
            state: Mutex::new(SocketState {
                pending: HashMap::new(),
                retired: false,
                serial: 0,
                random: [0; 64],
                used: 64,
            }),
            wake: Notify::new(),
        });
        // Not on a task tracker: the reader ends by itself once its socket is retired (at
        // the latest when its `Server` is dropped) and no query waits on it.
        tokio::spawn(read_responses(socket.clone()));
        Ok(socket)
    }

    fn takes_queries(&self) -> bool {
        self.issued.load(Ordering::Relaxed) < QUERIES_PER_SOCKET
            && self.born.elapsed() < SOCKET_AGE
            && !lock(&self.state).retired
    }

    /// Adds a pending query under a fresh random id; gives `reply` back if retired.
    fn register(&self, query: &Query, reply: Reply) -> Result<(u16, u64), Reply> {
        let mut state = lock(&self.state);
        if state.retired {
            return Err(reply);
        }
        let id = loop {
            if state.used + 2 > state.random.len() {
                if SystemRandom::new().fill(&mut state.random).is_err() {
                    // Never seen; a socket without ids takes no more queries.
                    state.retired = true;
                    return Err(reply);
                }
                state.used = 0;
            }
            let at = state.used;
            state.used += 2;
            let id = u16::from_be_bytes([state.random[at], state.random[at + 1]]);
            if !state.pending.contains_key(&id) {
                break id;
            }
        };
        state.serial += 1;
        let serial = state.serial;
        state.pending.insert(
            id,
            Pending {
                query: query.clone(),
                serial,
                reply,
            },
        );
        self.in_flight.store(state.pending.len(), Ordering::Relaxed);
        self.issued.fetch_add(1, Ordering::Relaxed);
        Ok((id, serial))
    }

    /// Removes the registration `(id, serial)` if it still waits.
    fn unregister(&self, id: u16, serial: u64) {
        let mut state = lock(&self.state);
        if state.pending.get(&id).is_some_and(|p| p.serial == serial) {
            state.pending.remove(&id);
            self.in_flight.store(state.pending.len(), Ordering::Relaxed);
            if state.retired && state.pending.is_empty() {
                self.wake.notify_one();
            }
        }
    }

    /// No new queries; the reader ends when the pending ones are done.
    fn retire(&self) {
        lock(&self.state).retired = true;
        self.wake.notify_one();
    }

    fn finished(&self) -> bool {
        let state = lock(&self.state);
        state.retired && state.pending.is_empty()
    }

    /// Hands `datagram` to the query it answers; anything else is dropped.
    fn deliver(&self, datagram: &[u8]) {
        let Some(id) = datagram.get(..2).map(|h| u16::from_be_bytes([h[0], h[1]])) else {
            return;
        };
        // Not parsed unless someone waits for this id.
        if !lock(&self.state).pending.contains_key(&id) {
            return;
        }
        let Ok(message) = Message::from_vec(datagram) else {
            return;
        };
        let mut state = lock(&self.state);
        let Some(p) = state.pending.get(&id) else {
            return;
        };
        if !answers(&message, &p.query, id) {
            return;
        }
        if let Some(p) = state.pending.remove(&id) {
            self.in_flight.store(state.pending.len(), Ordering::Relaxed);
            drop(state);
            // The query may have given up meanwhile.
            let _ = p.reply.send(Ok(message));
        }
    }

    /// Fails every pending query (e.g. ICMP port unreachable: nobody serves DNS there).
    fn fail_all(&self, failure: DnsFailure) {
        let mut state = lock(&self.state);
        let pending: Vec<Pending> = state.pending.drain().map(|(_, p)| p).collect();
        self.in_flight.store(0, Ordering::Relaxed);
        drop(state);
        for p in pending {
            let _ = p.reply.send(Err(failure));
        }
    }
}

/// A query's registration, removed when the query stops waiting (answered or not).
struct Registration<'a> {
    socket: &'a Socket,
    id: u16,
    serial: u64,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.socket.unregister(self.id, self.serial);
    }
}

/// The reader of one socket: reads datagrams until it would block and delivers each, until
/// the socket is retired and nothing waits on it.
async fn read_responses(socket: Arc<Socket>) {
    let mut buf = vec![0; MAX_DATAGRAM];
    loop {
        tokio::select! {
            ready = socket.udp.ready(Interest::READABLE | Interest::ERROR) => {
                let ready = match ready {
                    Ok(r) => r,
                    Err(e) => {
                        socket.retire();
                        socket.fail_all(io_failure(&e));
                        return;
                    }
                };
                // ICMP port unreachable for a datagram we sent: nobody serves DNS there, for
                // any query waiting on this socket. The error readiness is cleared before the
                // error is taken, so a later one wakes us again.
                if ready.is_error() {
                    let _ = socket.udp.try_io(Interest::ERROR, || {
                        Err::<(), _>(std::io::ErrorKind::WouldBlock.into())
                    });
                    if let Ok(Some(e)) = socket.udp.take_error() {
                        socket.fail_all(io_failure(&e));
                    }
                }
                loop {
                    match socket.udp.try_recv(&mut buf) {
                        Ok(n) => socket.deliver(&buf[..n]),
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        // The same error, seen by the read first.
                        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                            socket.fail_all(io_failure(&e));
                        }
                        Err(e) => {
                            socket.retire();
                            socket.fail_all(io_failure(&e));
                            return;
                        }
                    }
                }
            }
            () = socket.wake.notified() => {}
        }
        if socket.finished() {
            return;
        }
    }
}

async fn lookup<T>(
    client: &Client,
    name: &str,
    rtype: RecordType,
    pick: impl Fn(&RData) -> Option<T>,
) -> Result<Vec<T>, DnsFailure> {
    lookup_seen(client, name, rtype, pick).await.0
}

/// [`lookup`], and the target of the CNAME owned by `name` among the answers, if any.
async fn lookup_seen<T>(
    client: &Client,
    name: &str,
    rtype: RecordType,
    pick: impl Fn(&RData) -> Option<T>,
) -> (Result<Vec<T>, DnsFailure>, Option<String>) {
    let fqdn = match Name::from_ascii(absolute(name)) {
        Ok(n) => n,
        Err(_) => return (Err(DnsFailure::Error), None),
    };
    match client.resolve(&Query::query(fqdn.clone(), rtype)).await {
        Ok(m) => records(&m, &fqdn, rtype, pick),
        Err(e) => (Err(e), None),
    }
}

/// What a response says: the records of `rtype` (NODATA without any; a CNAME chain is not
/// data) and the target of the CNAME owned by `fqdn`, or the failure its code means.
fn records<T>(
    m: &Message,
    fqdn: &Name,
    rtype: RecordType,
    pick: impl Fn(&RData) -> Option<T>,
) -> (Result<Vec<T>, DnsFailure>, Option<String>) {
    if m.metadata.response_code != ResponseCode::NoError {
        return (Err(rcode_failure(m.metadata.response_code)), None);
    }
    let alias = m.answers.iter().find_map(|r| match &r.data {
        RData::CNAME(c) if r.name == *fqdn => Some(host(&c.0)),
        _ => None,
    });
    let out: Vec<T> = m
        .answers
        .iter()
        .filter(|r| r.record_type() == rtype)
        .filter_map(|r| pick(&r.data))
        .collect();
    let answer = if out.is_empty() {
        Err(DnsFailure::Nodata)
    } else {
        Ok(out)
    };
    (answer, alias)
}

/// The more telling of two failures (a NXDOMAIN beats a NODATA from the other family).
fn worse(a: DnsFailure, b: DnsFailure) -> DnsFailure {
    if a == DnsFailure::Nodata { b } else { a }
}

/// `name` with exactly one trailing dot: queried as is, never with a search suffix.
pub fn absolute(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.'))
}

/// A DNS name as this crate stores it: lower-case, no trailing dot.
pub fn host(name: &Name) -> String {
    name.to_ascii().trim_end_matches('.').to_ascii_lowercase()
}

/// The first resolver's answer of a per-resolver list.
pub fn first_answer<T>(answers: Vec<ResolverAnswer<Vec<T>>>) -> Result<Vec<T>, DnsFailure> {
    answers
        .into_iter()
        .next()
        .map(|a| a.answer)
        .unwrap_or(Err(DnsFailure::Error))
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use hickory_proto::rr::Record;
    use hickory_proto::rr::rdata::{A, CNAME};
    use tokio::net::TcpListener;

    use super::*;

    const T: Duration = Duration::from_millis(300);

    fn client(servers: &[SocketAddr]) -> Client {
        Client {
            servers: servers.iter().copied().map(Server::new).collect(),
            timeout: T,
            recursion: true,
        }
    }

    fn name(n: &str) -> Name {
        Name::from_ascii(absolute(n)).unwrap()
    }

    /// The response to `query` with `code` and these answers.
    fn response(query: &Message, code: ResponseCode, answers: Vec<Record>) -> Message {
        let mut m = Message::response(query.metadata.id, OpCode::Query);
        m.metadata.response_code = code;
        m.add_queries(query.queries.clone());
        m.add_answers(answers);
        m
    }

    fn a(owner: &str, ip: Ipv4Addr) -> Record {
        Record::from_rdata(name(owner), 300, RData::A(A(ip)))
    }

    fn cname(owner: &str, target: &str) -> Record {
        Record::from_rdata(name(owner), 300, RData::CNAME(CNAME(name(target))))
    }

    fn pick_a(d: &RData) -> Option<Ipv4Addr> {
        match d {
            RData::A(a) => Some(a.0),
            _ => None,
        }
    }

    async fn lookup_a(c: &Client, n: &str) -> Result<Vec<Ipv4Addr>, DnsFailure> {
        lookup(c, n, RecordType::A, pick_a).await
    }

    /// A UDP server on loopback answering each query with the datagrams `answer` returns.
    async fn udp_server(
        answer: impl Fn(&Message) -> Vec<Vec<u8>> + Send + 'static,
    ) -> (SocketAddr, tokio::task::JoinHandle<()>) {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut buf = vec![0; 4096];
            while let Ok((n, from)) = socket.recv_from(&mut buf).await {
                let Ok(query) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                for datagram in answer(&query) {
                    let _ = socket.send_to(&datagram, from).await;
                }
            }
        });
        (addr, task)
    }

    #[tokio::test]
    async fn only_a_response_with_our_id_and_question_is_the_answer() {
        let (addr, _server) = udp_server(|q| {
            let ip = |last| vec![a("x.test", Ipv4Addr::new(192, 0, 2, last))];
            let mut wrong_id = response(q, ResponseCode::NoError, ip(1));
            wrong_id.metadata.id = q.metadata.id.wrapping_add(1);
            let mut wrong_name = response(q, ResponseCode::NoError, ip(2));
            wrong_name.queries[0].set_name(name("y.test"));
            let mut wrong_type = response(q, ResponseCode::NoError, ip(3));
            wrong_type.queries[0].set_query_type(RecordType::AAAA);
            // The query itself reflected: right id and question, but not a response.
            let mut reflected = q.clone();
            reflected.add_answers(ip(4));
            let mut garbage = q.metadata.id.to_be_bytes().to_vec();
            garbage.extend_from_slice(b"\x81\x80garbage");
            // The right one, with the name in other case (names compare case-insensitively).
            let mut right = response(q, ResponseCode::NoError, ip(5));
            right.queries[0].set_name(name("X.Test"));
            vec![
                wrong_id.to_vec().unwrap(),
                wrong_name.to_vec().unwrap(),
                wrong_type.to_vec().unwrap(),
                reflected.to_vec().unwrap(),
                garbage,
                vec![0xff],
                right.to_vec().unwrap(),
            ]
        })
        .await;
        let c = client(&[addr]);
        assert_eq!(
            lookup_a(&c, "x.test").await,
            Ok(vec![Ipv4Addr::new(192, 0, 2, 5)])
        );
    }

    #[tokio::test]
    async fn only_wrong_responses_are_a_timeout() {
        let (addr, _server) = udp_server(|q| {
            let mut wrong = response(q, ResponseCode::NoError, vec![]);
            wrong.queries[0].set_name(name("other.test"));
            vec![wrong.to_vec().unwrap()]
        })
        .await;
        let c = client(&[addr]);
        assert_eq!(lookup_a(&c, "x.test").await, Err(DnsFailure::Timeout));
    }

    #[tokio::test]
    async fn a_truncated_answer_is_asked_again_over_tcp() {
        // UDP and TCP on one port, as a name server has them.
        let (udp, tcp) = loop {
            let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            if let Ok(tcp) = TcpListener::bind(udp.local_addr().unwrap()).await {
                break (udp, tcp);
            }
        };
        let addr = udp.local_addr().unwrap();
        let full = |q: &Message| {
            let ips = (1..=100).map(|i| a("big.test", Ipv4Addr::new(198, 51, 100, i)));
            response(q, ResponseCode::NoError, ips.collect())
        };
        tokio::spawn(async move {
            let mut buf = vec![0; 4096];
            while let Ok((n, from)) = udp.recv_from(&mut buf).await {
                let q = Message::from_vec(&buf[..n]).unwrap();
                let mut tc = response(&q, ResponseCode::NoError, vec![]);
                tc.metadata.truncation = true;
                udp.send_to(&tc.to_vec().unwrap(), from).await.unwrap();
            }
        });
        tokio::spawn(async move {
            while let Ok((mut s, _)) = tcp.accept().await {
                let len = s.read_u16().await.unwrap();
                let mut q = vec![0; usize::from(len)];
                s.read_exact(&mut q).await.unwrap();
                let q = Message::from_vec(&q).unwrap();
                let bytes = full(&q).to_vec().unwrap();
                let len = u16::try_from(bytes.len()).unwrap().to_be_bytes();
                s.write_all(&[&len[..], &bytes].concat()).await.unwrap();
            }
        });
        let c = client(&[addr]);
        let got = lookup_a(&c, "big.test").await.unwrap();
        assert_eq!(got.len(), 100);
        assert_eq!(got[99], Ipv4Addr::new(198, 51, 100, 100));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_queries_each_get_their_own_answer() {
        // Answers every query with an address derived from its name, in reverse order of
        // arrival within each burst (so answers cross).
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = vec![0; 4096];
            loop {
                let mut burst = Vec::new();
                let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                    return;
                };
                burst.push((buf[..n].to_vec(), from));
                while let Ok((n, from)) = socket.try_recv_from(&mut buf) {
                    burst.push((buf[..n].to_vec(), from));
                }
                for (q, from) in burst.into_iter().rev() {
                    let q = Message::from_vec(&q).unwrap();
                    let qname = host(q.queries[0].name());
                    let i: u16 = qname
                        .trim_start_matches('h')
                        .trim_end_matches(".test")
                        .parse()
                        .unwrap();
                    let [hi, lo] = i.to_be_bytes();
                    let r = response(
                        &q,
                        ResponseCode::NoError,
                        vec![a(&qname, Ipv4Addr::new(10, 9, hi, lo))],
                    );
                    socket.send_to(&r.to_vec().unwrap(), from).await.unwrap();
                }
            }
        });
        let c = client(&[addr]);
        let queries = (0..1000u16).map(|i| {
            let c = &c;
            async move { (i, lookup_a(c, &format!("h{i}.test")).await) }
        });
        for (i, got) in futures::future::join_all(queries).await {
            let [hi, lo] = i.to_be_bytes();
            assert_eq!(got, Ok(vec![Ipv4Addr::new(10, 9, hi, lo)]), "h{i}");
        }
        let sockets = lock(&c.servers[0].sockets).len();
        assert!(
            (1..=SOCKETS_PER_SERVER).contains(&sockets),
            "{sockets} sockets"
        );
    }

    // Virtual time: the two attempts' timeouts, not the machine's speed.
    #[tokio::test(start_paused = true)]
    async fn a_silent_server_is_a_timeout_after_two_attempts() {
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let c = client(&[silent.local_addr().unwrap()]);
        let start = tokio::time::Instant::now();
        assert_eq!(lookup_a(&c, "x.test").await, Err(DnsFailure::Timeout));
        let took = start.elapsed();
        assert!(took >= 2 * T, "{took:?}");
        assert!(took < 2 * T + Duration::from_millis(200), "{took:?}");
    }

    #[tokio::test]
    async fn queries_waiting_on_one_server_are_bounded() {
        let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = silent.local_addr().unwrap();
        let c = client(&[addr]);
        let bound = SOCKETS_PER_SERVER * IN_FLIGHT_PER_SOCKET;
        let queries =
            (0..bound + 20).map(|i| lookup_a(&c, Box::leak(format!("q{i}.test").into_boxed_str())));
        let all = futures::future::join_all(queries);
        let count = async {
            tokio::time::sleep(T / 2).await;
            let mut buf = vec![0; 4096];
            let mut sent = 0;
            while silent.try_recv(&mut buf).is_ok() {
                sent += 1;
            }
            sent
        };
        let (answers, sent) = tokio::join!(all, count);
        assert_eq!(sent, bound);
        assert!(answers.iter().all(|a| *a == Err(DnsFailure::Timeout)));
    }

    #[tokio::test]
    async fn a_closed_port_is_an_error_not_a_timeout() {
        let gone = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = gone.local_addr().unwrap();
        drop(gone);
        let c = client(&[addr]);
        // The refusal (ICMP port unreachable) is the answer: Error, where waiting would be Timeout.
        assert_eq!(lookup_a(&c, "x.test").await, Err(DnsFailure::Error));
    }

    #[tokio::test]
    async fn the_next_server_is_asked_when_one_is_silent_or_refuses() {
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let (refusing, _r) =
            udp_server(|q| vec![response(q, ResponseCode::Refused, vec![]).to_vec().unwrap()])
                .await;
        let (good, _g) = udp_server(|q| {
            let ip = a("x.test", Ipv4Addr::new(192, 0, 2, 7));
            vec![
                response(q, ResponseCode::NoError, vec![ip])
                    .to_vec()
                    .unwrap(),
            ]
        })
        .await;
        let c = client(&[silent.local_addr().unwrap(), refusing, good]);
        assert_eq!(
            lookup_a(&c, "x.test").await,
            Ok(vec![Ipv4Addr::new(192, 0, 2, 7)])
        );
        // Only the refusing one: its answer stands.
        let c = client(&[refusing]);
        assert_eq!(lookup_a(&c, "x.test").await, Err(DnsFailure::Refused));
    }

    #[tokio::test]
    async fn sockets_are_retired_after_their_query_budget_and_end_with_the_client() {
        let ports = Arc::new(Mutex::new(std::collections::HashSet::new()));
        let seen = ports.clone();
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = vec![0; 4096];
            while let Ok((n, from)) = socket.recv_from(&mut buf).await {
                seen.lock().unwrap().insert(from.port());
                let q = Message::from_vec(&buf[..n]).unwrap();
                let r = response(&q, ResponseCode::NoError, vec![]);
                socket.send_to(&r.to_vec().unwrap(), from).await.unwrap();
            }
        });
        let c = client(&[addr]);
        for _ in 0..QUERIES_PER_SOCKET + 10 {
            assert_eq!(lookup_a(&c, "x.test").await, Err(DnsFailure::Nodata));
        }
        assert_eq!(ports.lock().unwrap().len(), 2, "one port per budget");
        let open: Vec<_> = lock(&c.servers[0].sockets)
            .iter()
            .map(Arc::downgrade)
            .collect();
        assert_eq!(open.len(), 1);
        drop(c);
        // The reader ends and closes the socket.
        for _ in 0..100 {
            if open[0].upgrade().is_none() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the socket outlived its client");
    }

    #[test]
    fn responses_map_to_records_failures_and_aliases() {
        let mut q = Message::query();
        q.add_query(Query::query(name("alias.test"), RecordType::A));
        let read = |code, answers| {
            records(
                &response(&q, code, answers),
                &name("alias.test"),
                RecordType::A,
                pick_a,
            )
        };
        let ip = Ipv4Addr::new(192, 0, 2, 9);
        assert_eq!(
            read(
                ResponseCode::NoError,
                vec![cname("Alias.test", "real.test"), a("real.test", ip)]
            ),
            (Ok(vec![ip]), Some("real.test".to_string()))
        );
        // A CNAME chain without data is NODATA, still showing the alias.
        assert_eq!(
            read(
                ResponseCode::NoError,
                vec![cname("alias.test", "real.test")]
            ),
            (Err(DnsFailure::Nodata), Some("real.test".to_string()))
        );
        // A CNAME owned by another name is not this name's alias.
        assert_eq!(
            read(
                ResponseCode::NoError,
                vec![cname("other.test", "real.test"), a("alias.test", ip)]
            ),
            (Ok(vec![ip]), None)
        );
        for (code, want) in [
            (ResponseCode::NXDomain, DnsFailure::Nxdomain),
            (ResponseCode::ServFail, DnsFailure::Servfail),
            (ResponseCode::Refused, DnsFailure::Refused),
            (ResponseCode::FormErr, DnsFailure::Error),
            (ResponseCode::NotImp, DnsFailure::Error),
        ] {
            assert_eq!(
                read(code, vec![a("alias.test", ip)]),
                (Err(want), None),
                "{code:?}"
            );
        }
    }

    #[test]
    fn io_errors_map_to_ours_or_theirs() {
        let os = std::io::Error::from_raw_os_error;
        assert_eq!(io_failure(&os(24)), DnsFailure::Local); // EMFILE
        assert_eq!(io_failure(&os(105)), DnsFailure::Local); // ENOBUFS
        assert_eq!(io_failure(&os(111)), DnsFailure::Error); // ECONNREFUSED
        assert_eq!(
            io_failure(&std::io::ErrorKind::TimedOut.into()),
            DnsFailure::Timeout
        );
    }

    #[test]
    fn queries_carry_edns_and_the_recursion_bit() {
        let q = Query::query(name("x.test"), RecordType::SRV);
        for rd in [true, false] {
            let m = Message::from_vec(&with_id(&encode(&q, rd).unwrap(), 0xbeef)).unwrap();
            assert_eq!(m.metadata.id, 0xbeef);
            assert_eq!(m.metadata.recursion_desired, rd);
            assert_eq!(m.queries, vec![q.clone()]);
            assert_eq!(m.edns.map(|e| e.max_payload()), Some(EDNS_PAYLOAD));
        }
    }
}
