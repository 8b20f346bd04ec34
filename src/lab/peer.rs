//! Lab federation peers: TLS servers (tokio-rustls) with a minimal SIP responder, each on its
//! own loopback address, and the broken kinds real edges come in.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::pki::Leaf;

/// How a lab peer behaves.
pub enum Behavior {
    /// A TLS server presenting `leaf`, then answering SIP as `sip` says.
    Tls {
        leaf: Leaf,
        /// Send a CertificateRequest (mutual TLS), trusting the lab root for client certificates.
        request_client_cert: bool,
        sip: SipMode,
    },
    /// Nothing listens: connections are refused.
    Refuse,
    /// Accepts TCP and never says anything.
    Hang,
    /// Reads the ClientHello and closes.
    CloseMidHandshake,
    /// Answers the ClientHello with bytes that are not TLS.
    Garbage,
    /// Accepts TCP and resets the connection at once (RST, no FIN).
    ResetAfterAccept,
    /// Answers the ClientHello with the start of a TLS record, one byte per second.
    Trickle,
    /// Sends its ServerHello for `leaf` and closes, the rest of the handshake never comes.
    CloseAfterServerHello { leaf: Leaf },
    /// Listens with a full accept queue that is never served: connection attempts get no
    /// answer at all, like a firewall that drops them.
    Blackhole,
    /// Answers the ClientHello with a protocol_version alert, like a server that speaks only
    /// TLS 1.0/1.1.
    OldTls,
    /// A federation edge that insists on mutual TLS: it requires a client certificate that
    /// chains to `trust` (the lab root when `None`) and allows clientAuth, and ends the
    /// session with the matching alert otherwise (unknown_ca, unsupported_certificate,
    /// certificate_required, ...; in TLS 1.3 the client learns that only after its side of
    /// the handshake is done). `version`: only this TLS version (both when `None`).
    MutualTls {
        leaf: Leaf,
        sip: SipMode,
        trust: Option<rustls::pki_types::CertificateDer<'static>>,
        version: Option<&'static rustls::SupportedProtocolVersion>,
    },
}

/// How the SIP layer answers an OPTIONS request after the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SipMode {
    /// A proper response with this status code (after a 100 Trying), to every request on
    /// the connection.
    Answer(u16),
    /// A slow but healthy SIP service: 100 Trying at once, the final response with this
    /// status code after `after_ms` milliseconds, to every request on the connection (in
    /// parallel, as a real SIP stack answers pipelined transactions).
    Delayed { code: u16, after_ms: u64 },
    /// Reads the request and never answers.
    Silent,
    /// Answers with something that is not SIP.
    Garbage,
    /// Answers 200 with another Call-ID.
    WrongCallId,
    /// Streams bytes without end (memory must stay bounded at the prober).
    Flood,
    /// Closes the connection after the request.
    Close,
    /// 100 Trying, a pause, then the final response with compact header names (`v:`, `f:`,
    /// `t:`, `i:`, `l:`) and a body, written in small fragments.
    Compact(u16),
    /// CRLF keep-alives (RFC 5626) before the response, which RFC 3261 §7.5 says to ignore.
    Keepalive(u16),
    /// A final response whose CSeq is not the request's.
    WrongCSeq,
    /// Provisional responses without end, never a final one.
    ProvisionalFlood,
    /// A proxy named like this: answers 482 Loop Detected when a Via header carries its own
    /// name (RFC 3261 §16.3), 200 otherwise.
    Proxy(&'static str),
    /// A Skype for Business edge with an allow list of `From` domains: 200 to a request from
    /// one of them, else 403 with `ms-diagnostics: 1034` ([`LAB_DIAGNOSTICS`]); `Server:
    /// RTC/6.0`. Every request on the connection, each on its own; the domains are recorded
    /// in [`Peer::from_seen`].
    AllowFrom(&'static [&'static str]),
}

/// A running peer.
pub struct Peer {
    pub address: SocketAddr,
    /// Set when a client presented a certificate.
    pub client_cert_seen: Arc<AtomicBool>,
    /// TLS handshakes completed (TLS behaviours only).
    pub handshakes: Arc<AtomicU32>,
    /// The domains of the `From` headers of the OPTIONS requests answered by
    /// [`SipMode::AllowFrom`], in order (at most [`FROM_SEEN`]).
    pub from_seen: Arc<std::sync::Mutex<Vec<String>>>,
}

/// How many `From` domains a peer remembers.
pub const FROM_SEEN: usize = 256;

static NEXT: AtomicU32 = AtomicU32::new(1);

/// A fresh loopback address of this process (127.B.C.D, B from the process id), so that
/// parallel test processes do not collide.
pub fn next_loopback() -> IpAddr {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let b = 100 + (std::process::id() % 150) as u8;
    IpAddr::V4(Ipv4Addr::new(127, b, (n / 250) as u8, (n % 250) as u8 + 2))
}

/// Starts a peer on a fresh loopback address at `port`.
pub async fn spawn(
    behavior: Behavior,
    port: u16,
    root: &rustls::pki_types::CertificateDer<'static>,
    tracker: &TaskTracker,
    shutdown: CancellationToken,
) -> std::io::Result<Peer> {
    let client_cert_seen = Arc::new(AtomicBool::new(false));
    let handshakes = Arc::new(AtomicU32::new(0));
    let from_seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (listener, address) = loop {
        let ip = next_loopback();
        if let Behavior::Refuse = behavior {
            break (None, SocketAddr::new(ip, port));
        }
        if let Behavior::Blackhole = behavior {
            let address = SocketAddr::new(ip, port);
            match blackhole(address, tracker, shutdown.clone()).await {
                Ok(()) => break (None, address),
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
                Err(e) => return Err(e),
            }
        }
        match TcpListener::bind(SocketAddr::new(ip, port)).await {
            Ok(l) => {
                let a = l.local_addr()?;
                break (Some(l), a);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
            Err(e) => return Err(e),
        }
    };
    let Some(listener) = listener else {
        return Ok(Peer {
            address,
            client_cert_seen,
            handshakes,
            from_seen,
        });
    };
    let tls_server = match &behavior {
        Behavior::Tls {
            leaf,
            request_client_cert,
            ..
        } => Some((leaf, *request_client_cert, false, root, None)),
        Behavior::MutualTls {
            leaf,
            trust,
            version,
            ..
        } => Some((leaf, true, true, trust.as_ref().unwrap_or(root), *version)),
        Behavior::CloseAfterServerHello { leaf } => Some((leaf, false, false, root, None)),
        _ => None,
    };
    let acceptor = match tls_server {
        Some((leaf, request_client_cert, require, trust, version)) => {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let builder = rustls::ServerConfig::builder_with_provider(provider.clone());
            let builder = match version {
                Some(v) => builder.with_protocol_versions(&[v]),
                None => builder.with_safe_default_protocol_versions(),
            }
            .map_err(std::io::Error::other)?;
            let builder = if request_client_cert {
                let mut roots = RootCertStore::empty();
                roots.add(trust.clone()).map_err(std::io::Error::other)?;
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
                let verifier = if require {
                    verifier
                } else {
                    verifier.allow_unauthenticated()
                };
                let verifier = verifier.build().map_err(std::io::Error::other)?;
                builder.with_client_cert_verifier(verifier)
            } else {
                builder.with_no_client_auth()
            };
            // A fixed resolver instead of with_single_cert: it presents the chain as given, even
            // a malformed one, as a broken peer would.
            let signing = rustls::crypto::ring::sign::any_supported_type(&leaf.key)
                .map_err(std::io::Error::other)?;
            let mut key = rustls::sign::CertifiedKey::new(leaf.chain.clone(), signing);
            key.ocsp = leaf.ocsp.clone();
            let key = Arc::new(key);
            let config = builder.with_cert_resolver(Arc::new(FixedCert(key)));
            Some(TlsAcceptor::from(Arc::new(config)))
        }
        None => None,
    };
    let conn = Arc::new(match (behavior, acceptor) {
        (Behavior::Tls { sip, .. } | Behavior::MutualTls { sip, .. }, Some(acceptor)) => {
            Conn::Tls {
                acceptor,
                sip,
                seen: client_cert_seen.clone(),
                handshakes: handshakes.clone(),
                from_seen: from_seen.clone(),
            }
        }
        (Behavior::CloseAfterServerHello { .. }, Some(acceptor)) => {
            Conn::ServerHelloOnly(acceptor.config().clone())
        }
        (Behavior::ResetAfterAccept, _) => Conn::Reset,
        (Behavior::Trickle, _) => Conn::Trickle,
        (Behavior::Hang, _) => Conn::Hang,
        (Behavior::CloseMidHandshake, _) => Conn::CloseMidHandshake,
        (Behavior::OldTls, _) => Conn::OldTls,
        _ => Conn::Garbage,
    });
    super::accept_loop(listener, tracker, shutdown, move |stream| {
        let conn = conn.clone();
        async move { serve(stream, &conn).await }
    });
    Ok(Peer {
        address,
        client_cert_seen,
        handshakes,
        from_seen,
    })
}

/// How an accepted connection is served (built once per peer from its `Behavior`).
enum Conn {
    Tls {
        acceptor: TlsAcceptor,
        sip: SipMode,
        seen: Arc<AtomicBool>,
        handshakes: Arc<AtomicU32>,
        from_seen: Arc<std::sync::Mutex<Vec<String>>>,
    },
    Hang,
    CloseMidHandshake,
    OldTls,
    Garbage,
    Reset,
    Trickle,
    ServerHelloOnly(Arc<rustls::ServerConfig>),
}

/// Binds `address` with an accept queue of one and fills it, never accepting: later SYNs are
/// dropped (Linux), so connecting hangs. The listener and the fillers live until `shutdown`.
async fn blackhole(
    address: SocketAddr,
    tracker: &TaskTracker,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let socket = match address {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.bind(address)?;
    let listener = socket.listen(0)?;
    let mut fillers = Vec::new();
    for _ in 0..8 {
        match tokio::time::timeout(Duration::from_millis(300), TcpStream::connect(address)).await {
            Ok(Ok(s)) => fillers.push(s),
            // The queue is full: this attempt got no answer.
            _ => break,
        }
    }
    tracker.spawn(async move {
        shutdown.cancelled().await;
        drop((listener, fillers));
    });
    Ok(())
}

async fn serve(mut stream: TcpStream, conn: &Conn) {
    match conn {
        Conn::Hang => {
            // Hold the connection open, say nothing.
            let mut sink = [0u8; 1024];
            while let Ok(n) = stream.read(&mut sink).await {
                if n == 0 {
                    return;
                }
            }
        }
        Conn::CloseMidHandshake => {
            let mut buf = [0u8; 64];
            let _ = stream.read(&mut buf).await;
        }
        Conn::OldTls => {
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf).await;
            // TLS record: alert, version 3.1, length 2, fatal (2), protocol_version (70).
            let _ = stream
                .write_all(&[0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46])
                .await;
        }
        Conn::Reset => {
            // Linger 0: close sends RST. (Deprecated because a non-zero linger blocks on drop;
            // zero never does.)
            #[allow(deprecated)]
            let _ = stream.set_linger(Some(Duration::ZERO));
            drop(stream);
        }
        Conn::Trickle => {
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf).await;
            // A handshake record header announcing 64 bytes, then the bytes, one per second.
            let record = [[0x16u8, 0x03, 0x03, 0x00, 0x40].as_slice(), &[0x02; 64]].concat();
            for b in record {
                if stream.write_all(&[b]).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        Conn::ServerHelloOnly(config) => {
            let Ok(mut tls) = rustls::ServerConnection::new(config.clone()) else {
                return;
            };
            let mut buf = vec![0u8; 16 * 1024];
            while !tls.wants_write() {
                let n = match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                if tls.read_tls(&mut &buf[..n]).is_err() || tls.process_new_packets().is_err() {
                    return;
                }
            }
            let mut flight = Vec::new();
            if tls.write_tls(&mut flight).is_err() || flight.len() < 5 {
                return;
            }
            // The first record of the server's flight is the ServerHello.
            let first = 5 + usize::from(u16::from_be_bytes([flight[3], flight[4]]));
            let _ = stream.write_all(&flight[..first.min(flight.len())]).await;
            let _ = stream.flush().await;
        }
        Conn::Garbage => {
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf).await;
            let _ = stream
                .write_all(b"HTTP/1.1 400 Bad Request\r\n\r\nthis is not TLS at all\r\n")
                .await;
        }
        Conn::Tls {
            acceptor,
            sip,
            seen,
            handshakes,
            from_seen,
        } => {
            let Ok(mut tls) = acceptor.accept(stream).await else {
                return;
            };
            handshakes.fetch_add(1, Ordering::Relaxed);
            if tls
                .get_ref()
                .1
                .peer_certificates()
                .is_some_and(|c| !c.is_empty())
            {
                seen.store(true, Ordering::Relaxed);
            }
            match *sip {
                SipMode::Answer(code) => {
                    answer_each(tls, &|r| response(r, code), Duration::ZERO).await
                }
                SipMode::Delayed { code, after_ms } => {
                    let delay = Duration::from_millis(after_ms);
                    answer_each(tls, &|r| response(r, code), delay).await
                }
                SipMode::AllowFrom(allowed) => {
                    let answer = |request: &str| {
                        let from = from_domain(request);
                        let mut seen = from_seen.lock().unwrap_or_else(|p| p.into_inner());
                        if seen.len() < FROM_SEEN {
                            seen.push(from.clone());
                        }
                        policy_response(request, &from, allowed)
                    };
                    answer_each(tls, &answer, Duration::ZERO).await
                }
                mode => answer_sip(&mut tls, mode).await,
            }
        }
    }
}

/// Answers every OPTIONS request on the connection until the client closes it: 100 Trying at
/// once, the final response `answer` writes after `delay`, each request on its own.
async fn answer_each<S>(tls: S, answer: &(dyn Fn(&str) -> String + Sync), delay: Duration)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut rd, wr) = tokio::io::split(tls);
    let wr = Arc::new(tokio::sync::Mutex::new(wr));
    let mut answers = tokio::task::JoinSet::new();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let request = String::from_utf8_lossy(&buf[..end]).into_owned();
            buf.drain(..end + 4);
            let trying = response(&request, 100);
            let last = answer(&request);
            let wr = wr.clone();
            answers.spawn(async move {
                {
                    let mut w = wr.lock().await;
                    let _ = w.write_all(trying.as_bytes()).await;
                    let _ = w.flush().await;
                }
                tokio::time::sleep(delay).await;
                let mut w = wr.lock().await;
                let _ = w.write_all(last.as_bytes()).await;
                let _ = w.flush().await;
            });
        }
        match rd.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.len() > 65536 {
            break;
        }
    }
    while answers.join_next().await.is_some() {}
}

/// A response with `code` to `request` (its head), echoing Via, From, To, Call-ID and CSeq.
fn response(request: &str, code: u16) -> String {
    response_as(request, code, &header(request, "call-id"))
}

/// The host of a request's `From` URI (`<sip:user@host>;tag=...`), lower-case.
fn from_domain(request: &str) -> String {
    let from = header(request, "from");
    let uri = from
        .split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map_or(from.as_str(), |(uri, _)| uri);
    let host = uri.rsplit_once('@').map_or(uri, |(_, host)| host);
    host.split([';', ':', '>'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// A Skype for Business edge's answer by its allow list: 200 when `from` is on it, else 403
/// with the `ms-diagnostics` code an edge gives a domain it does not federate with.
fn policy_response(request: &str, from: &str, allowed: &[&str]) -> String {
    let ok = response(request, 200);
    let with_server = |r: String, extra: &str| {
        r.replacen(
            "\r\nContent-Length:",
            &format!("\r\nServer: RTC/6.0{extra}\r\nContent-Length:"),
            1,
        )
    };
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(from)) {
        return with_server(ok, "");
    }
    with_server(
        response(request, 403),
        &format!(
            "\r\nms-diagnostics: {LAB_DIAGNOSTICS};reason=\"Federation with the domain is not allowed\";source=\"edge.lab\";Domain=\"{from}\""
        ),
    )
}

/// The `ms-diagnostics` code a [`SipMode::AllowFrom`] peer refuses with.
pub const LAB_DIAGNOSTICS: u32 = 1034;

/// The value of a request's header `name` (case-insensitive), empty when absent.
fn header(request: &str, name: &str) -> String {
    request
        .split("\r\n")
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default()
}

/// A response to `request` with status `code`, claiming to answer the call `call_id`.
fn response_as(request: &str, code: u16, call_id: &str) -> String {
    let reason = match code {
        100 => "Trying",
        200 => "OK",
        403 => "Forbidden",
        482 => "Loop Detected",
        _ => "Whatever",
    };
    format!(
        "SIP/2.0 {code} {reason}\r\nVia: {}\r\nFrom: {}\r\nTo: {};tag=lab{code}\r\nCall-ID: {call_id}\r\nCSeq: {}\r\nAllow: INVITE, ACK, CANCEL, OPTIONS, BYE, MESSAGE\r\nContent-Length: 0\r\n\r\n",
        header(request, "via"),
        header(request, "from"),
        header(request, "to"),
        header(request, "cseq")
    )
}

async fn answer_sip<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    tls: &mut S,
    mode: SipMode,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match tls.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.len() > 65536 {
            return;
        }
    }
    let request = String::from_utf8_lossy(&buf).into_owned();
    let header = |name: &str| header(&request, name);
    let response = |code: u16, call_id: &str| response_as(&request, code, call_id);
    let call_id = header("call-id");
    let compact = |code: u16| {
        let body = "v=0\r\n";
        format!(
            "SIP/2.0 {code} OK\r\nv: {}\r\nf: {}\r\nt: {};tag=labc\r\ni: {call_id}\r\nCSeq: {}\r\nc: application/sdp\r\nl: {}\r\n\r\n{body}",
            header("via"),
            header("from"),
            header("to"),
            header("cseq"),
            body.len()
        )
    };
    match mode {
        // Served by `answer_each`.
        SipMode::AllowFrom(_) => {}
        // Served by `answer_each`; kept here for a single exchange.
        SipMode::Answer(code) | SipMode::Delayed { code, .. } => {
            let _ = tls.write_all(response(100, &call_id).as_bytes()).await;
            let _ = tls.write_all(response(code, &call_id).as_bytes()).await;
            let _ = tls.flush().await;
            // Let the prober read before the connection goes away.
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        SipMode::WrongCallId => {
            let _ = tls
                .write_all(response(200, "not-your-call@lab").as_bytes())
                .await;
            let _ = tls.flush().await;
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        SipMode::Garbage => {
            let _ = tls.write_all(b"220 smtp.lab ESMTP ready\r\n\r\n").await;
            let _ = tls.flush().await;
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        SipMode::Silent => {
            let _ = tls.read(&mut chunk).await;
        }
        SipMode::Flood => {
            let _ = tls.write_all(b"SIP/2.0 200 OK\r\nX-Junk: ").await;
            let junk = [b'A'; 8192];
            for _ in 0..1024 {
                if tls.write_all(&junk).await.is_err() {
                    return;
                }
            }
        }
        SipMode::Close => {}
        SipMode::Compact(code) => {
            let _ = tls.write_all(response(100, &call_id).as_bytes()).await;
            let _ = tls.flush().await;
            tokio::time::sleep(Duration::from_millis(200)).await;
            for piece in compact(code).as_bytes().chunks(7) {
                let _ = tls.write_all(piece).await;
                let _ = tls.flush().await;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        SipMode::Keepalive(code) => {
            let _ = tls.write_all(b"\r\n\r\n").await;
            let _ = tls.flush().await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _ = tls.write_all(response(code, &call_id).as_bytes()).await;
            let _ = tls.flush().await;
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        SipMode::WrongCSeq => {
            let r = response(200, &call_id).replace(" OPTIONS\r\n", " INVITE\r\n");
            let _ = tls.write_all(r.as_bytes()).await;
            let _ = tls.flush().await;
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        SipMode::Proxy(own) => {
            let looped = request
                .split("\r\n")
                .filter_map(|l| l.split_once(':'))
                .filter(|(n, _)| n.trim().eq_ignore_ascii_case("via") || n.trim() == "v")
                .any(|(_, v)| v.to_ascii_lowercase().contains(&own.to_ascii_lowercase()));
            let code = if looped { 482 } else { 200 };
            let _ = tls.write_all(response(code, &call_id).as_bytes()).await;
            let _ = tls.flush().await;
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        SipMode::ProvisionalFlood => {
            let trying = response(100, &call_id);
            for _ in 0..100_000 {
                if tls.write_all(trying.as_bytes()).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Presents one chain to every client, unchecked.
#[derive(Debug)]
struct FixedCert(Arc<rustls::sign::CertifiedKey>);

impl rustls::server::ResolvesServerCert for FixedCert {
    fn resolve(
        &self,
        _hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }
}
