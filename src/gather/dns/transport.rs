//! The wire: one configured resolver's servers, asked over UDP (a truncated answer again over
//! TCP), and which datagram is the response to a query.
//!
//! Every exchange has its own socket, on a fresh ephemeral port the kernel picks at random,
//! connected to the server asked (the kernel drops datagrams from anyone else), and its own
//! random id (RFC 5452): an off-path forger must guess both for each query, and an
//! ICMP error, which the kernel reports on the socket it concerns, fails only that query.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use ring::rand::{SecureRandom, SystemRandom};
use socket2::{Domain, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
#[cfg(unix)]
use tokio::io::{Interest, unix::AsyncFd};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use crate::facts::DnsFailure;

/// UDP attempts per query and server of an explicitly listed resolver, each bounded by the
/// query timeout.
pub(super) const ATTEMPTS: usize = 2;
/// Queries waiting on one server at most (a socket each); more wait for a slot before their
/// attempt. Bounds the descriptors one server can take.
const IN_FLIGHT_PER_SERVER: usize = 256;
/// The EDNS0 UDP payload we advertise (the DNS flag day 2020 value, hickory's default).
const EDNS_PAYLOAD: u16 = 1232;
/// Receive buffer: room for any answer within our EDNS size and more. A datagram that fills
/// it may have been cut short, and is treated as truncated (asked again over TCP).
const RECEIVE_BUFFER: usize = 4096;
/// How long a server that let an attempt time out is asked after the others.
const SUSPECT_FOR: Duration = Duration::from_secs(30);

/// How a resolver's servers are asked (resolv.conf's `timeout`, `attempts`, `rotate`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Options {
    /// Bounds each attempt, UDP or TCP.
    pub timeout: Duration,
    /// Rounds over the servers.
    pub attempts: usize,
    /// Each query starts at the next server (round robin) instead of the first.
    pub rotate: bool,
}

/// One configured resolver: its server addresses (several only for `system`), alternatives
/// asked in order until one gives a response other than SERVFAIL or REFUSED.
pub(super) struct Client {
    pub(super) servers: Vec<Server>,
    options: Options,
    /// The RD bit of every query.
    recursion: bool,
    /// The next query's first server when rotating.
    next: AtomicUsize,
    /// Random bytes for ids, drawn in batches (one getrandom per 32 ids).
    ids: Mutex<([u8; 64], usize)>,
}

impl Client {
    pub(super) fn new(servers: Vec<SocketAddr>, options: Options, recursion: bool) -> Client {
        Client {
            servers: servers.into_iter().map(Server::new).collect(),
            options,
            recursion,
            next: AtomicUsize::new(0),
            ids: Mutex::new(([0; 64], 64)),
        }
    }

    /// The response to `query`: from the first server that gives one other than SERVFAIL or
    /// REFUSED, else the last response or failure. Servers are asked one after another in
    /// `attempts` rounds; a server that responded is not asked again, and servers that
    /// recently let an attempt time out are asked last.
    /// With `checking_disabled` the CD bit is set: a validating resolver answers without
    /// validating (what a bogus zone holds).
    pub(super) async fn resolve(
        &self,
        query: &Query,
        checking_disabled: bool,
    ) -> Result<Message, DnsFailure> {
        let order = self.order();
        let mut responded = vec![false; self.servers.len()];
        let mut last = Err(DnsFailure::Timeout);
        for _ in 0..self.options.attempts.max(1) {
            for &i in &order {
                if responded[i] {
                    continue;
                }
                let server = &self.servers[i];
                last = self.exchange(server, query, checking_disabled).await;
                match &last {
                    Ok(m)
                        if !matches!(
                            m.metadata.response_code,
                            ResponseCode::ServFail | ResponseCode::Refused
                        ) =>
                    {
                        return last;
                    }
                    Ok(_) => responded[i] = true,
                    Err(DnsFailure::Timeout) => server.suspect(),
                    Err(_) => {}
                }
            }
            if responded.iter().all(|r| *r) {
                break;
            }
        }
        last
    }

    /// The first acceptable response of any server, all asked at once, one attempt each
    /// (whether the resolver can answer at all: vantage health).
    pub(super) async fn resolve_any(&self, query: &Query) -> Result<Message, DnsFailure> {
        if self.servers.len() < 2 {
            return self.resolve(query, false).await;
        }
        let asks = self.servers.iter().map(|server| {
            Box::pin(async move {
                match self.exchange(server, query, false).await {
                    Ok(m) => match m.metadata.response_code {
                        ResponseCode::ServFail => Err(DnsFailure::Servfail),
                        ResponseCode::Refused => Err(DnsFailure::Refused),
                        _ => Ok(m),
                    },
                    Err(e) => Err(e),
                }
            })
        });
        futures::future::select_ok(asks).await.map(|(m, _)| m)
    }

    /// Server indices in the order this query asks them.
    fn order(&self) -> Vec<usize> {
        let n = self.servers.len();
        let start = if self.options.rotate && n > 1 {
            self.next.fetch_add(1, Ordering::Relaxed) % n
        } else {
            0
        };
        let mut order: Vec<usize> = (0..n).map(|i| (start + i) % n).collect();
        if n > 1 {
            // Stable: among the suspect and among the others, the order stays.
            order.sort_by_key(|&i| self.servers[i].is_suspect());
        }
        order
    }

    /// One exchange with one server: UDP, a truncated answer asked again once over TCP (that
    /// answer is final), a FORMERR asked again without EDNS (RFC 6891 §7).
    async fn exchange(
        &self,
        server: &Server,
        query: &Query,
        checking_disabled: bool,
    ) -> Result<Message, DnsFailure> {
        let timeout = self.options.timeout;
        let mut edns = true;
        loop {
            let id = self.id()?;
            let flags = Flags {
                recursion: self.recursion,
                edns,
                checking_disabled,
            };
            let wire = encode(query, flags, id)?;
            let mut m = server.udp(query, &wire, id, timeout).await?;
            if m.metadata.truncation {
                let tcp = tcp_exchange(server.addr, query, &wire, id);
                m = tokio::time::timeout(timeout, tcp)
                    .await
                    .unwrap_or(Err(DnsFailure::Timeout))?;
            }
            if edns && m.metadata.response_code == ResponseCode::FormErr {
                edns = false;
                continue;
            }
            return Ok(m);
        }
    }

    /// Whether the client asks a recursive resolver (RD, DO).
    pub(super) fn recursive(&self) -> bool {
        self.recursion
    }

    /// A fresh random query id.
    fn id(&self) -> Result<u16, DnsFailure> {
        let mut ids = lock(&self.ids);
        let (random, used) = &mut *ids;
        if *used + 2 > random.len() {
            SystemRandom::new()
                .fill(random)
                .map_err(|_| DnsFailure::Local)?;
            *used = 0;
        }
        let id = u16::from_be_bytes([random[*used], random[*used + 1]]);
        *used += 2;
        Ok(id)
    }
}

/// How one query is sent.
#[derive(Debug, Clone, Copy)]
struct Flags {
    /// RD: asking a recursive resolver (an authoritative server is asked without it).
    recursion: bool,
    /// With an EDNS0 OPT record; a recursive query's also sets the DO bit, so that a
    /// validating resolver validates and returns the RRSIGs, as a validator asks (the
    /// signatures are not read unless DNSSEC validation asks for them).
    edns: bool,
    /// CD: the resolver answers without validating (asked after a SERVFAIL).
    checking_disabled: bool,
}

/// The query message for `query` with `id`.
fn encode(query: &Query, flags: Flags, id: u16) -> Result<Vec<u8>, DnsFailure> {
    let mut message = Message::new(id, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = flags.recursion;
    message.metadata.checking_disabled = flags.checking_disabled;
    message.add_query(query.clone());
    if flags.edns {
        let mut opt = Edns::new();
        opt.set_max_payload(EDNS_PAYLOAD)
            .set_version(0)
            .set_dnssec_ok(flags.recursion);
        message.set_edns(opt);
    }
    message.to_vec().map_err(|_| DnsFailure::Error)
}

/// The response to `query` (sent with `id`) that `datagram` is, if it is one; a datagram
/// that fills the receive buffer may have been cut short and stands for "truncated: ask again
/// over TCP" (when it carries our id and the QR bit).
pub(super) fn response(datagram: &[u8], query: &Query, id: u16) -> Option<Message> {
    // Not parsed unless it carries our id.
    if datagram.get(..2) != Some(&id.to_be_bytes()[..]) {
        return None;
    }
    if datagram.len() >= RECEIVE_BUFFER {
        if datagram.get(2).is_some_and(|flags| flags & 0x80 != 0) {
            let mut m = Message::response(id, OpCode::Query);
            m.add_query(query.clone());
            m.metadata.truncation = true;
            return Some(m);
        }
        return None;
    }
    Message::from_vec(datagram)
        .ok()
        .filter(|m| answers(m, query, id))
}

/// Whether `m` is a response to `query` (sent with `id`): same id, and the same single
/// question (name case-insensitively, type, class). An error response (FORMERR, SERVFAIL,
/// NOTIMP, REFUSED) without a question section counts too, when it carries no records: some
/// servers send those (RFC 1035 leaves the question out of an error reply), and only the id
/// and the server asked (the connected socket) tie it to the query then.
fn answers(m: &Message, query: &Query, id: u16) -> bool {
    if m.metadata.id != id || m.metadata.message_type != MessageType::Response {
        return false;
    }
    match m.queries.as_slice() {
        [q] => q == query,
        [] => {
            matches!(
                m.metadata.response_code,
                ResponseCode::FormErr
                    | ResponseCode::ServFail
                    | ResponseCode::NotImp
                    | ResponseCode::Refused
            ) && m.answers.is_empty()
                && m.authorities.is_empty()
        }
        _ => false,
    }
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
    out.extend_from_slice(wire);
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
    if crate::gather::local_exhaustion(e) {
        DnsFailure::Local
    } else if e.kind() == std::io::ErrorKind::TimedOut {
        DnsFailure::Timeout
    } else {
        DnsFailure::Error
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded values stay consistent whatever panicked while holding them.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One server address.
pub(super) struct Server {
    addr: SocketAddr,
    /// Bounds the queries waiting on this server to `IN_FLIGHT_PER_SERVER`.
    slots: Semaphore,
    /// Until when the server is asked after the others (it let an attempt time out).
    suspect_until: Mutex<Option<Instant>>,
}

impl Server {
    fn new(addr: SocketAddr) -> Server {
        Server {
            addr,
            slots: Semaphore::new(IN_FLIGHT_PER_SERVER),
            suspect_until: Mutex::new(None),
        }
    }

    fn suspect(&self) {
        *lock(&self.suspect_until) = Some(Instant::now() + SUSPECT_FOR);
    }

    fn is_suspect(&self) -> bool {
        lock(&self.suspect_until).is_some_and(|until| Instant::now() < until)
    }

    /// One UDP exchange on a socket of its own: the response to `query` sent as `wire`
    /// with `id`. Anything else arriving on the socket is dropped; an error on it (ICMP
    /// port unreachable) ends this exchange only.
    async fn udp(
        &self,
        query: &Query,
        wire: &[u8],
        id: u16,
        timeout: Duration,
    ) -> Result<Message, DnsFailure> {
        // Never closed: a wait for a slot ends with one.
        let _slot = self.slots.acquire().await.map_err(|_| DnsFailure::Error)?;
        let io = |e: std::io::Error| io_failure(&e);
        let socket = Exchange::new(sent(self.addr, wire).map_err(io)?).map_err(io)?;
        let receive = async {
            loop {
                match socket.recv(|datagram| response(datagram, query, id)).await {
                    Ok(Some(m)) => return Ok(m),
                    Ok(None) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(io_failure(&e)),
                }
            }
        };
        tokio::time::timeout(timeout, receive)
            .await
            .unwrap_or(Err(DnsFailure::Timeout))
    }
}

/// The socket of one exchange, waiting for its answer.
#[cfg(unix)]
struct Exchange(AsyncFd<std::net::UdpSocket>);

#[cfg(unix)]
impl Exchange {
    /// Registered for reading only: a fresh UDP socket is writable at once, and with tokio's
    /// UdpSocket (readable and writable) every exchange cost a reactor event nobody waited
    /// for. ERROR: an ICMP error (port unreachable) is EPOLLERR without EPOLLIN.
    const INTEREST: Interest = Interest::READABLE.add(Interest::ERROR);

    fn new(socket: std::net::UdpSocket) -> std::io::Result<Exchange> {
        // SAFETY: the AsyncFd owns the socket, which owns its descriptor: it stays open and
        // the same until the AsyncFd is dropped (only `get_ref` reaches it, to receive).
        let fd = unsafe { AsyncFd::register_with_interest(socket, Self::INTEREST) };
        Ok(Exchange(fd.map_err(std::io::Error::from)?))
    }

    /// What `read` makes of the next datagram (or the error waiting on the socket).
    async fn recv<T>(&self, mut read: impl FnMut(&[u8]) -> T) -> std::io::Result<T> {
        loop {
            let mut ready = self.0.ready(Self::INTEREST).await?;
            let received =
                ready.try_io(|s| with_buffer(|buf| s.get_ref().recv(buf).map(|n| read(&buf[..n]))));
            // Err: not readable after all; the readiness is cleared, wait again.
            if let Ok(received) = received {
                return received;
            }
        }
    }
}

/// `f` with this thread's receive buffer: a datagram is read and made sense of without an
/// await in between, so one buffer per thread serves every exchange (no 4 KiB allocation and
/// zeroing per query).
#[cfg(unix)]
fn with_buffer<T>(f: impl FnOnce(&mut [u8]) -> T) -> T {
    thread_local! {
        static BUFFER: std::cell::RefCell<Box<[u8]>> =
            std::cell::RefCell::new(vec![0; RECEIVE_BUFFER].into_boxed_slice());
    }
    BUFFER.with_borrow_mut(|buf| f(buf))
}

#[cfg(not(unix))]
struct Exchange(tokio::net::UdpSocket);

#[cfg(not(unix))]
impl Exchange {
    fn new(socket: std::net::UdpSocket) -> std::io::Result<Exchange> {
        Ok(Exchange(tokio::net::UdpSocket::from_std(socket)?))
    }

    async fn recv<T>(&self, mut read: impl FnMut(&[u8]) -> T) -> std::io::Result<T> {
        let mut buf = vec![0; RECEIVE_BUFFER];
        let n = self.0.recv(&mut buf).await?;
        Ok(read(&buf[..n]))
    }
}

/// A socket for one exchange, with `wire` already sent to `server`: created non-blocking,
/// connected without an explicit bind (the kernel binds it to a random ephemeral port, as a
/// bind to port 0 would) and sent on before tokio registers it, so the exchange costs socket,
/// connect, send, one epoll registration, the receive, and the close — not also a bind, a
/// mode change and a reactor turn to learn that a new UDP socket is writable.
fn sent(server: SocketAddr, wire: &[u8]) -> std::io::Result<std::net::UdpSocket> {
    let socket = Socket::new(Domain::for_address(server), Type::DGRAM.nonblocking(), None)?;
    socket.connect(&server.into())?;
    socket.send(wire)?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use std::sync::{Arc, Mutex};

    use hickory_proto::rr::RecordType;
    use tokio::net::{TcpListener, UdpSocket};

    use super::*;
    use crate::gather::dns::answer::tests::{a, cname, name, pick_a, response};
    use crate::gather::dns::{host, lookup};

    const T: Duration = Duration::from_millis(300);

    fn client(servers: &[SocketAddr]) -> Client {
        let options = Options {
            timeout: T,
            attempts: ATTEMPTS,
            rotate: false,
        };
        Client::new(servers.to_vec(), options, true)
    }

    async fn lookup_a(c: &Client, n: &str) -> Result<Vec<Ipv4Addr>, DnsFailure> {
        lookup(c, n, RecordType::A, pick_a).await.0
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

    /// An error reply with QDCOUNT 0 (as some servers send REFUSED, SERVFAIL, FORMERR) is the
    /// response when its id matches; with another id, or as a NOERROR with records, it is not.
    #[tokio::test]
    async fn an_error_reply_without_a_question_is_matched_by_id() {
        let without_question = |q: &Message, code, id_delta: u16, records| {
            let mut m = response(q, code, records);
            m.queries.clear();
            m.metadata.id = q.metadata.id.wrapping_add(id_delta);
            m.to_vec().unwrap()
        };
        let ip = || vec![a("x.test", Ipv4Addr::new(192, 0, 2, 7))];
        for (code, want) in [
            (ResponseCode::Refused, DnsFailure::Refused),
            (ResponseCode::ServFail, DnsFailure::Servfail),
        ] {
            let (addr, _server) =
                udp_server(move |q| vec![without_question(q, code, 0, Vec::new())]).await;
            assert_eq!(
                lookup_a(&client(&[addr]), "x.test").await,
                Err(want),
                "{code}"
            );
            // Another id: not ours, the query times out.
            let (addr, _server) =
                udp_server(move |q| vec![without_question(q, code, 1, Vec::new())]).await;
            assert_eq!(
                lookup_a(&client(&[addr]), "x.test").await,
                Err(DnsFailure::Timeout),
                "{code}, other id"
            );
        }
        // Records without a question are no answer, whatever the code.
        let (addr, _server) = udp_server(move |q| {
            vec![
                without_question(q, ResponseCode::NoError, 0, ip()),
                without_question(q, ResponseCode::Refused, 0, ip()),
            ]
        })
        .await;
        assert_eq!(
            lookup_a(&client(&[addr]), "x.test").await,
            Err(DnsFailure::Timeout)
        );
        // FORMERR without a question to the EDNS query: asked again without EDNS, answered.
        let (addr, _server) = udp_server(move |q| {
            if q.edns.is_some() {
                vec![without_question(q, ResponseCode::FormErr, 0, Vec::new())]
            } else {
                vec![response(q, ResponseCode::NoError, ip()).to_vec().unwrap()]
            }
        })
        .await;
        assert_eq!(
            lookup_a(&client(&[addr]), "x.test").await,
            Ok(vec![Ipv4Addr::new(192, 0, 2, 7)])
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
        let (got, total) = lookup(&c, "big.test", RecordType::A, pick_a).await;
        // The first MAX_RECORDS of the TCP answer's 100.
        assert_eq!(total, Some(100));
        let got = got.unwrap();
        assert_eq!(got.len(), super::super::MAX_RECORDS);
        assert_eq!(got[0], Ipv4Addr::new(198, 51, 100, 1));
    }

    #[tokio::test]
    async fn an_answer_larger_than_the_buffer_is_asked_again_over_tcp() {
        // UDP and TCP on one port, as a name server has them.
        let (udp, tcp) = loop {
            let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            if let Ok(tcp) = TcpListener::bind(udp.local_addr().unwrap()).await {
                break (udp, tcp);
            }
        };
        let addr = udp.local_addr().unwrap();
        let full = |q: &Message| {
            let ips = (1..=250).map(|i| a("big.test", Ipv4Addr::new(198, 51, 100, i)));
            response(q, ResponseCode::NoError, ips.collect())
        };
        tokio::spawn(async move {
            let mut buf = vec![0; 4096];
            while let Ok((n, from)) = udp.recv_from(&mut buf).await {
                let q = Message::from_vec(&buf[..n]).unwrap();
                // All of it in one datagram, no TC bit: more than the receive buffer holds.
                let mut whole = full(&q);
                whole.add_answers((1..=100).map(|i| a("big.test", Ipv4Addr::new(198, 51, 101, i))));
                let bytes = whole.to_vec().unwrap();
                assert!(bytes.len() > RECEIVE_BUFFER);
                udp.send_to(&bytes, from).await.unwrap();
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
        let (got, total) = lookup(&c, "big.test", RecordType::A, pick_a).await;
        // The TCP answer's 250, not the cut-short datagram's 350 (of which the first
        // MAX_RECORDS are kept).
        assert_eq!(total, Some(250));
        assert_eq!(got.map(|g| g.len()), Ok(super::super::MAX_RECORDS));
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
        let bound = IN_FLIGHT_PER_SERVER;
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

    /// A spoofing-minded server: records each query's source port and id, holds the
    /// queries until `burst` have arrived (so their sockets are open at once), then answers
    /// each with the right record plus records of other owners slipped in.
    async fn recording_server(burst: usize) -> (SocketAddr, Arc<Mutex<Vec<(u16, u16)>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = vec![0; 4096];
            let mut held = Vec::new();
            while let Ok((n, from)) = socket.recv_from(&mut buf).await {
                let q = Message::from_vec(&buf[..n]).unwrap();
                log.lock().unwrap().push((from.port(), q.metadata.id));
                held.push((q, from));
                if held.len() < burst {
                    continue;
                }
                for (q, from) in held.drain(..) {
                    let qname = host(q.queries[0].name());
                    let answers = vec![
                        // Another owner's address, and another owner's alias into ours.
                        a("evil.test", Ipv4Addr::new(203, 0, 113, 66)),
                        cname("evil.test", &qname),
                        cname(&qname, "real.test"),
                        a("real.test", Ipv4Addr::new(192, 0, 2, 1)),
                        a("unrelated.test", Ipv4Addr::new(203, 0, 113, 67)),
                    ];
                    let r = response(&q, ResponseCode::NoError, answers);
                    socket.send_to(&r.to_vec().unwrap(), from).await.unwrap();
                }
            }
        });
        (addr, seen)
    }

    #[tokio::test]
    async fn every_query_leaves_from_its_own_port_with_its_own_id_and_reads_only_its_owners() {
        // 200 at once: 200 sockets open together, so 200 ports.
        let (addr, seen) = recording_server(200).await;
        let c = client(&[addr]);
        let queries = (0..200).map(|i| {
            let c = &c;
            async move { lookup_a(c, &format!("h{i}.test")).await }
        });
        for got in futures::future::join_all(queries).await {
            assert_eq!(got, Ok(vec![Ipv4Addr::new(192, 0, 2, 1)]));
        }
        let log = seen.lock().unwrap().clone();
        assert_eq!(log.len(), 200);
        let ports: std::collections::HashSet<u16> = log.iter().map(|(p, _)| *p).collect();
        assert_eq!(ports.len(), 200, "one source port per query");
        let ids: std::collections::HashSet<u16> = log.iter().map(|(_, id)| *id).collect();
        assert!(ids.len() >= 195, "{} distinct ids of 200", ids.len());

        // One after another: the kernel picks each port at random from its ephemeral range
        // (a chance repeat allowed), never the previous query's socket again.
        let (addr, seen) = recording_server(1).await;
        let c = client(&[addr]);
        for i in 0..50 {
            let got = lookup_a(&c, &format!("s{i}.test")).await;
            assert_eq!(got, Ok(vec![Ipv4Addr::new(192, 0, 2, 1)]));
        }
        let log = seen.lock().unwrap().clone();
        let ports: std::collections::HashSet<u16> = log.iter().map(|(p, _)| *p).collect();
        assert!(ports.len() >= 45, "{} distinct ports of 50", ports.len());
        let sequential = log
            .windows(2)
            .filter(|w| w[1].0 == w[0].0.wrapping_add(1))
            .count();
        assert!(sequential < 5, "{sequential} ports one above the last");
    }

    #[tokio::test]
    async fn a_formerr_is_asked_again_without_edns() {
        let (addr, _server) = udp_server(|q| {
            let r = if q.edns.is_some() {
                response(q, ResponseCode::FormErr, vec![])
            } else {
                response(
                    q,
                    ResponseCode::NoError,
                    vec![a("old.test", Ipv4Addr::new(192, 0, 2, 4))],
                )
            };
            vec![r.to_vec().unwrap()]
        })
        .await;
        let c = client(&[addr]);
        assert_eq!(
            lookup_a(&c, "old.test").await,
            Ok(vec![Ipv4Addr::new(192, 0, 2, 4)])
        );
    }

    #[tokio::test]
    async fn a_dead_first_server_is_asked_after_the_others_once_it_timed_out() {
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let (good, _g) = udp_server(|q| {
            let ip = a("x.test", Ipv4Addr::new(192, 0, 2, 8));
            vec![
                response(q, ResponseCode::NoError, vec![ip])
                    .to_vec()
                    .unwrap(),
            ]
        })
        .await;
        let options = Options {
            timeout: T,
            attempts: 2,
            rotate: false,
        };
        let c = Client::new(vec![silent.local_addr().unwrap(), good], options, true);
        let want = Ok(vec![Ipv4Addr::new(192, 0, 2, 8)]);
        assert_eq!(c.order(), vec![0, 1]);
        assert_eq!(lookup_a(&c, "x.test").await, want);
        // Now suspect: the good one is asked first.
        assert!(c.servers[0].is_suspect());
        assert_eq!(c.order(), vec![1, 0]);
        assert_eq!(lookup_a(&c, "x.test").await, want);
        // Either answers the health question.
        let q = Query::query(name("x.test"), RecordType::A);
        let fresh = Client::new(vec![silent.local_addr().unwrap(), good], options, true);
        assert!(fresh.resolve_any(&q).await.is_ok());
    }

    #[test]
    fn rotate_starts_each_query_at_the_next_server() {
        let servers: Vec<SocketAddr> = (1..=3)
            .map(|p| SocketAddr::from(([127, 0, 0, 1], p)))
            .collect();
        let options = |rotate| Options {
            timeout: T,
            attempts: 1,
            rotate,
        };
        let c = Client::new(servers.clone(), options(true), true);
        let firsts: Vec<usize> = (0..4).map(|_| c.order()[0]).collect();
        assert_eq!(firsts, vec![0, 1, 2, 0]);
        assert_eq!(c.order(), vec![1, 2, 0]);
        let c = Client::new(servers, options(false), true);
        assert_eq!(
            (0..3).map(|_| c.order()[0]).collect::<Vec<_>>(),
            vec![0, 0, 0]
        );
        c.servers[0].suspect();
        assert_eq!(c.order(), vec![1, 2, 0]);
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

    /// The fuzz target's way into the validator reads a datagram's EDE (bounded, escaped)
    /// and judges an unsigned answer without DS insecure; another question's answer is none.
    #[test]
    fn a_datagram_read_as_the_validator_reads_it() {
        let mut q = Message::new(0x4242, MessageType::Query, OpCode::Query);
        q.add_query(Query::query(name("x.test"), RecordType::A));
        let m = with_ede(
            response(
                &q,
                ResponseCode::NoError,
                vec![a("x.test", Ipv4Addr::new(192, 0, 2, 1))],
            ),
            7,
            "sig\u{7}expired",
        );
        let bytes = m.to_vec().unwrap();
        let read = |owner, id| {
            crate::gather::dns::read_dnssec_datagram(
                &bytes,
                owner,
                RecordType::A,
                id,
                1_800_000_000,
            )
        };
        let (ede, state) = read("x.test", 0x4242).expect("a response to the question");
        let ede = ede.expect("the EDE option is read");
        assert_eq!((ede.code, ede.text.as_str()), (7, "sig\\u{7}expired"));
        assert_eq!(state, crate::facts::DnssecState::Insecure);
        assert!(read("y.test", 0x4242).is_none(), "another question");
        assert!(read("x.test", 0x4243).is_none(), "another id");
    }

    /// `m` with an EDE option (RFC 8914) of `code` and `text`.
    fn with_ede(mut m: Message, code: u16, text: &str) -> Message {
        let mut data = code.to_be_bytes().to_vec();
        data.extend_from_slice(text.as_bytes());
        let mut edns = Edns::new();
        edns.options_mut()
            .insert(hickory_proto::rr::rdata::opt::EdnsOption::Unknown(15, data));
        m.set_edns(edns);
        m
    }

    /// A validating resolver's view of a zone: SERVFAIL with `ede` (no records) unless the
    /// query has CD set, then NOERROR with the address, `bogus` being whether the zone
    /// answers with CD (else SERVFAIL again). Counts queries and CD queries.
    async fn validating(ede: Option<u16>, bogus: bool) -> (SocketAddr, Arc<Mutex<(usize, usize)>>) {
        let asked = Arc::new(Mutex::new((0, 0)));
        let count = asked.clone();
        let (addr, _server) = udp_server(move |q| {
            let mut c = count.lock().unwrap();
            c.0 += 1;
            let ok = q.metadata.checking_disabled && bogus;
            c.1 += usize::from(q.metadata.checking_disabled);
            let m = if ok {
                response(
                    q,
                    ResponseCode::NoError,
                    vec![a("x.test", Ipv4Addr::new(192, 0, 2, 1))],
                )
            } else {
                let m = response(q, ResponseCode::ServFail, vec![]);
                match ede {
                    Some(code) => with_ede(m, code, "sig expired"),
                    None => m,
                }
            };
            vec![m.to_vec().unwrap()]
        })
        .await;
        (addr, asked)
    }

    #[tokio::test]
    async fn a_servfail_answered_with_cd_is_dnssec_bogus_with_the_resolvers_ede() {
        async fn read(c: &Client) -> (Result<Vec<Ipv4Addr>, DnsFailure>, Option<(u16, String)>) {
            let found =
                crate::gather::dns::lookup_seen(c, None, "x.test", RecordType::A, pick_a).await;
            (found.records, found.ede.map(|e| (e.code, e.text)))
        }
        let ede = |code| Some((code, "sig expired".to_string()));
        // Bogus: SERVFAIL (EDE 7), the records with CD: asked twice, once with CD.
        let (addr, asked) = validating(Some(7), true).await;
        assert_eq!(
            read(&client(&[addr])).await,
            (Err(DnsFailure::DnssecBogus), ede(7))
        );
        assert_eq!(*asked.lock().unwrap(), (2, 1));
        // Without an EDE the same.
        let (addr, _) = validating(None, true).await;
        assert_eq!(
            read(&client(&[addr])).await,
            (Err(DnsFailure::DnssecBogus), None)
        );
        // SERVFAIL with CD too: the zone cannot be resolved at all.
        let (addr, asked) = validating(Some(0), false).await;
        assert_eq!(
            read(&client(&[addr])).await,
            (Err(DnsFailure::Servfail), ede(0))
        );
        assert_eq!(*asked.lock().unwrap(), (2, 1));
        // EDE 22/23: the resolver reached no authority; not asked again with CD.
        for code in [22, 23] {
            let (addr, asked) = validating(Some(code), true).await;
            assert_eq!(
                read(&client(&[addr])).await,
                (Err(DnsFailure::NoAuthority), ede(code))
            );
            assert_eq!(*asked.lock().unwrap(), (1, 0));
        }
        // An authoritative server (no RD) is not asked with CD: SERVFAIL is what it says.
        let (addr, asked) = validating(Some(7), true).await;
        let options = Options {
            timeout: T,
            attempts: ATTEMPTS,
            rotate: false,
        };
        let authoritative = Client::new(vec![addr], options, false);
        assert_eq!(read(&authoritative).await.0, Err(DnsFailure::Servfail));
        assert_eq!(*asked.lock().unwrap(), (1, 0));
    }

    #[test]
    fn queries_carry_edns_the_recursion_do_and_cd_bits() {
        let q = Query::query(name("x.test"), RecordType::SRV);
        for rd in [true, false] {
            for cd in [true, false] {
                let flags = |edns| Flags {
                    recursion: rd,
                    edns,
                    checking_disabled: cd,
                };
                let m = Message::from_vec(&encode(&q, flags(true), 0xbeef).unwrap()).unwrap();
                assert_eq!(m.metadata.id, 0xbeef);
                assert_eq!(m.metadata.recursion_desired, rd);
                assert_eq!(m.metadata.checking_disabled, cd);
                assert_eq!(m.queries, vec![q.clone()]);
                let edns = m.edns.unwrap();
                assert_eq!(edns.max_payload(), EDNS_PAYLOAD);
                // DO on what a resolver is asked, as a validator asks.
                assert_eq!(edns.flags().dnssec_ok, rd);
                let plain = Message::from_vec(&encode(&q, flags(false), 1).unwrap()).unwrap();
                assert!(plain.edns.is_none());
            }
        }
    }
}
