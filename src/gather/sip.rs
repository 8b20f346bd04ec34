//! The SIP step: RFC 3261 OPTIONS requests over an established TLS connection, to learn
//! whether a SIP stack really answers behind the port. One connection carries the
//! transactions of every domain probing its edge ([`serve`]), each matched to its response by
//! the Via branch; reads are bounded in size and time.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::time::{Duration, Instant as StdInstant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::{Instant, timeout_at};

use crate::facts::{Reason, SipFacts, hex};

/// At most this much is read from a peer, however much it sends.
pub(super) const MAX_RESPONSE_BYTES: usize = 16 * 1024;

/// The connection went away with the transaction unanswered (after answering others): the
/// caller may try another connection.
pub(super) struct Gone;

/// Sends OPTIONS for `domain` as one transaction on a connection run by [`serve`] and waits
/// for its final response until `deadline`.
pub(super) async fn transact(
    sender: &Queue,
    domain: &str,
    deadline: Instant,
) -> Result<SipFacts, Gone> {
    let start = StdInstant::now();
    let fail = |reason, detail| failed(start, reason, detail);
    let ids = Ids::new();
    let provisional = Arc::new(AtomicU16::new(0));
    let (reply, answer) = oneshot::channel();
    let txn = Txn {
        request: ids.request(domain),
        branch: ids.branch.clone(),
        call_id: ids.call_id.clone(),
        provisional: provisional.clone(),
        reply,
    };
    if sender.send(Box::new(txn)).is_err() {
        return Err(Gone);
    }
    Ok(match timeout_at(deadline, answer).await {
        Err(_) => {
            let detail = match provisional.load(Ordering::Relaxed) {
                0 => "no SIP response before the deadline".into(),
                code => format!("only a provisional SIP {code} before the deadline"),
            };
            fail(Reason::Timeout, detail)
        }
        Ok(Err(_)) | Ok(Ok(Answer::Gone)) => return Err(Gone),
        Ok(Ok(Answer::Final(code, status_line, server))) => SipFacts {
            status: Ok(code),
            duration_seconds: start.elapsed().as_secs_f64(),
            detail: status_line,
            server,
            alert: None,
        },
        Ok(Ok(Answer::Fail(reason, detail))) => fail(reason, detail),
        Ok(Ok(Answer::Refused(alert, detail))) => SipFacts {
            alert: Some(alert),
            ..fail(Reason::HandshakeFailure, detail)
        },
    })
}

/// A SIP step that failed for `reason`, begun at `start`.
pub(super) fn failed(start: StdInstant, reason: Reason, detail: String) -> SipFacts {
    SipFacts {
        status: Err(reason),
        duration_seconds: start.elapsed().as_secs_f64(),
        detail,
        server: None,
        alert: None,
    }
}

/// One OPTIONS transaction for `domain` on its own connection `stream`, read by the same
/// [`serve`] that probes use (tests and fuzzing drive it over in-memory streams).
pub async fn options<S>(stream: S, domain: &str, deadline: Instant) -> SipFacts
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (sender, rx) = mpsc::unbounded_channel();
    let conn = tokio::spawn(serve(stream, rx, (), Arc::new(Users::default())));
    let facts = match transact(&sender, domain, deadline).await {
        Ok(facts) => facts,
        Err(Gone) => SipFacts {
            status: Err(Reason::Closed),
            duration_seconds: 0.0,
            detail: "the peer closed the connection without answering".into(),
            server: None,
            alert: None,
        },
    };
    drop(sender);
    conn.abort();
    facts
}

/// How long an edge's connection stays open once no probe that may still send OPTIONS on it
/// is in flight: the next batch of probes of a busy edge comes within it, also on a loaded
/// host. It holds one of the address's few turns, so it closes at once when another
/// connection to the address waits for one, and at the latest after `IDLE` without a
/// transaction.
const LINGER: Duration = Duration::from_secs(1);
const IDLE: Duration = Duration::from_secs(5);

/// How long writing one OPTIONS request (and flushing it) may take.
const SEND_BOUND: Duration = Duration::from_secs(10);

/// The probes in flight that may still send OPTIONS on an edge's connection.
#[derive(Default)]
pub(super) struct Users {
    count: AtomicUsize,
    /// Notified when the count drops to zero: the connection may give its turn away at once.
    none: Notify,
}

impl Users {
    pub(super) fn one() -> Arc<Users> {
        let users = Arc::new(Users::default());
        users.count.store(1, Ordering::Relaxed);
        users
    }

    pub(super) fn join(&self) {
        self.count.fetch_add(1, Ordering::AcqRel);
    }

    pub(super) fn leave(&self) {
        if self.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.none.notify_one();
        }
    }

    /// Whether no probe uses the edge now.
    pub(super) fn none(&self) -> bool {
        self.count.load(Ordering::Acquire) == 0
    }

    /// Resolves when the last user has gone (at once if it went since the last call).
    pub(super) async fn gone(&self) {
        self.none.notified().await
    }
}

/// What an edge's connection holds while it is open: its turn at the address.
pub(super) trait Turn: Send + 'static {
    /// Whether another connection waits for this turn.
    fn wanted(&self) -> bool;

    /// Resolves when another connection starts to wait (a wait that starts after this call
    /// returned is never missed).
    fn asked(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

impl Turn for () {
    fn wanted(&self) -> bool {
        false
    }

    fn asked(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(std::future::pending())
    }
}

/// The queue of a connection's transactions. Boxed: an edge keeps its sender until the edge is
/// swept, and the channel's first block holds 32 items (2.9 KiB unboxed; 28 MiB for the
/// 10,000 edges of 10,000 domains with their own server names).
pub(super) type Queue = mpsc::UnboundedSender<Box<Txn>>;

/// One OPTIONS transaction handed to a connection.
pub(super) struct Txn {
    request: String,
    branch: String,
    call_id: String,
    /// The last provisional status code seen (0: none).
    provisional: Arc<AtomicU16>,
    reply: oneshot::Sender<Answer>,
}

enum Answer {
    /// The final status code, status line and responding server.
    Final(u16, String, Option<String>),
    Fail(Reason, String),
    /// The peer ended the TLS session with an alert refusing a client certificate.
    Refused(crate::facts::PeerAlert, String),
    /// The connection ended after answering other transactions: try another.
    Gone,
}

/// Runs the transactions of one connection: writes requests as they come, reads responses
/// only while some are pending and hands each final one to its transaction. Ends when idle,
/// when its edge is dropped, or at the first sign the peer is not a SIP stack.
/// `turn` is kept for as long as the connection is (the address's turn), and given away as
/// soon as no probe uses the edge while another connection waits for it; `users` counts the
/// probes that may still send on it.
// Long by design: one `select!` over the connection's events (a request to send, bytes read,
// the last user gone, a turn asked, idleness), whose arms share the split stream and state.
pub(super) async fn serve<S>(
    stream: S,
    mut rx: mpsc::UnboundedReceiver<Box<Txn>>,
    turn: impl Turn,
    users: Arc<Users>,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let mut idle_since = Instant::now();
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut pending: Vec<Txn> = Vec::new();
    let mut buf: Vec<u8> = Vec::with_capacity(2048);
    let mut chunk = [0u8; 4096];
    // Bytes read since the last final response.
    let mut since_final = 0usize;
    let mut answered = false;
    let mut open = true;
    let fail_all = |pending: &mut Vec<Txn>, answer: &dyn Fn() -> Answer| {
        for t in pending.drain(..) {
            let _ = t.reply.send(answer());
        }
    };
    loop {
        pending.retain(|t| !t.reply.is_closed());
        // Listened for only while idle (before `wanted` is read, so no ask is missed).
        let mut asked = pending.is_empty().then(|| turn.asked());
        if pending.is_empty() && (!open || (users.none() && turn.wanted())) {
            return;
        }
        tokio::select! {
            t = rx.recv(), if open => match t {
                None => open = false,
                Some(t) => {
                    let t = *t;
                    let written = async {
                        wr.write_all(t.request.as_bytes()).await?;
                        wr.flush().await
                    };
                    // Bounded, flush included: a peer that stops reading must not hold the
                    // connection and its turn at the address.
                    let written = match tokio::time::timeout(SEND_BOUND, written).await {
                        Ok(w) => w.map_err(|e| (Reason::Closed, format!("sending OPTIONS: {e}"))),
                        Err(_) => Err((Reason::Timeout, "sending OPTIONS: the peer does not read".into())),
                    };
                    if let Err((reason, detail)) = written {
                        pending.push(t);
                        fail_all(&mut pending, &|| {
                            if answered { Answer::Gone } else { Answer::Fail(reason, detail.clone()) }
                        });
                        return;
                    }
                    pending.push(t);
                    idle_since = Instant::now();
                }
            },
            r = rd.read(&mut chunk), if !pending.is_empty() => match r {
                Ok(0) => {
                    fail_all(&mut pending, &|| {
                        if answered {
                            Answer::Gone
                        } else {
                            Answer::Fail(Reason::Closed, "the peer closed the connection without answering".into())
                        }
                    });
                    return;
                }
                Err(e) => {
                    let (reason, detail) = read_failure(&e);
                    let refused = (!answered).then(|| super::tls::refusing_alert(&e)).flatten();
                    fail_all(&mut pending, &|| {
                        if let Some(alert) = refused {
                            Answer::Refused(alert, detail.clone())
                        } else if answered && reason == Reason::Closed {
                            Answer::Gone
                        } else {
                            Answer::Fail(reason, detail.clone())
                        }
                    });
                    return;
                }
                Ok(n) => {
                    since_final += n;
                    buf.extend_from_slice(&chunk[..n]);
                    if let Err(detail) = dispatch(&mut buf, &mut pending, &mut since_final, &mut answered) {
                        fail_all(&mut pending, &|| Answer::Fail(Reason::NotSip, detail.clone()));
                        return;
                    }
                    // 16 KiB per pending transaction: a flood is cut off, pipelined answers are not.
                    if !pending.is_empty() && since_final >= MAX_RESPONSE_BYTES * pending.len() {
                        fail_all(&mut pending, &|| {
                            Answer::Fail(Reason::NotSip, "no final SIP response in the first 16 KiB".into())
                        });
                        return;
                    }
                }
            },
            // The last probe left, or another connection asks for a turn: the loop's check
            // gives the turn away if it is wanted and the edge unused.
            _ = users.gone(), if pending.is_empty() => {}
            _ = async { if let Some(a) = asked.as_mut() { a.await } }, if asked.is_some() => {}
            // Nothing happened for `LINGER`, the last probe's leaving included.
            _ = tokio::time::sleep(LINGER), if pending.is_empty() => {
                if users.none() || idle_since.elapsed() >= IDLE {
                    return;
                }
            }
        }
    }
}

/// Hands every complete response in `buf` to its transaction; an error when the peer sent
/// something that is not SIP.
fn dispatch(
    buf: &mut Vec<u8>,
    pending: &mut Vec<Txn>,
    since_final: &mut usize,
    answered: &mut bool,
) -> Result<(), String> {
    loop {
        skip_keepalives(buf);
        if !could_be_status_line(buf) {
            return Err("the peer answered something that is not SIP".into());
        }
        let Some(end) = find(buf, b"\r\n\r\n") else {
            return Ok(());
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        let consumed = end + 4 + content_length(&head);
        if consumed > buf.len() {
            return Ok(());
        }
        buf.drain(..consumed);
        let Some((code, headers)) = parse_response(&head) else {
            return Err("the peer answered something that is not SIP".into());
        };
        // By Via branch; a peer that mangles Via still answers the only pending transaction.
        let index = headers
            .branch
            .as_deref()
            .and_then(|b| pending.iter().position(|t| t.branch == b))
            .or((pending.len() == 1).then_some(0));
        let Some(index) = index else { continue };
        if code < 200 {
            pending[index].provisional.store(code, Ordering::Relaxed);
            continue;
        }
        let t = pending.swap_remove(index);
        *since_final = buf.len();
        *answered = true;
        let matches = headers.call_id.as_deref() == Some(t.call_id.as_str())
            && headers
                .cseq
                .as_deref()
                .is_some_and(|c| c.split_whitespace().eq(["1", "OPTIONS"]));
        let answer = if matches {
            Answer::Final(code, headers.status_line, headers.server)
        } else {
            Answer::Fail(
                Reason::Mismatch,
                format!("SIP {code} response does not match the request's Call-ID/CSeq"),
            )
        };
        let _ = t.reply.send(answer);
    }
}

/// RFC 3261 §7.5: CRLFs before a start line (keep-alives, RFC 5626) are ignored.
pub(super) fn skip_keepalives(buf: &mut Vec<u8>) {
    let n = buf
        .iter()
        .take_while(|b| **b == b'\r' || **b == b'\n')
        .count();
    buf.drain(..n);
}

/// Whether `buf` is empty or a prefix of, or starts with, `SIP/2.0 ` (case-insensitive).
pub(super) fn could_be_status_line(buf: &[u8]) -> bool {
    const START: &[u8] = b"SIP/2.0 ";
    let n = buf.len().min(START.len());
    buf[..n].eq_ignore_ascii_case(&START[..n])
}

/// Why reading the response failed. A TLS alert right after a TLS 1.3 handshake is how a
/// peer that insists on mutual TLS rejects a missing or unfit client certificate.
pub(super) fn read_failure(e: &std::io::Error) -> (Reason, String) {
    use rustls::AlertDescription as A;
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::AlertReceived(
            alert @ (A::CertificateRequired
            | A::BadCertificate
            | A::UnsupportedCertificate
            | A::CertificateUnknown
            | A::CertificateRevoked
            | A::CertificateExpired
            | A::UnknownCA
            | A::AccessDenied
            | A::HandshakeFailure),
        )) => (
            Reason::HandshakeFailure,
            format!("the peer ended the TLS session with alert {alert:?} before answering"),
        ),
        Some(tls) => (Reason::HandshakeFailure, format!("TLS error: {tls}")),
        None => (Reason::Closed, format!("reading response: {e}")),
    }
}

/// Identifiers of one request.
pub(super) struct Ids {
    pub(super) branch: String,
    tag: String,
    pub(super) call_id: String,
}

impl Ids {
    pub(super) fn new() -> Ids {
        use ring::rand::SecureRandom;
        let mut bytes = [0u8; 24];
        // An all-zero fallback only weakens uniqueness; the exchange still works.
        let _ = ring::rand::SystemRandom::new().fill(&mut bytes);
        Ids {
            branch: format!("z9hG4bK{}", hex(&bytes[0..8])),
            tag: hex(&bytes[8..14]),
            call_id: format!("{}@sipfed-exporter", hex(&bytes[14..24])),
        }
    }

    /// The request; responses come back on the same connection (RFC 3261 §18.2.2), so the
    /// Via sent-by and the From host are placeholders in the reserved `.invalid` domain.
    pub(super) fn request(&self, domain: &str) -> String {
        format!(
            "OPTIONS sip:{domain} SIP/2.0\r\n\
             Via: SIP/2.0/TLS sipfed-exporter.invalid;branch={branch};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:sipfed-exporter@sipfed-exporter.invalid>;tag={tag}\r\n\
             To: <sip:{domain}>\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: 1 OPTIONS\r\n\
             Accept: application/sdp\r\n\
             User-Agent: sipfed_exporter/{version}\r\n\
             Content-Length: 0\r\n\r\n",
            branch = self.branch,
            tag = self.tag,
            call_id = self.call_id,
            version = env!("CARGO_PKG_VERSION"),
        )
    }
}

#[derive(Default)]
pub(super) struct Headers {
    pub(super) call_id: Option<String>,
    pub(super) cseq: Option<String>,
    /// The `branch` parameter of the topmost Via: which client transaction this answers
    /// (RFC 3261 §17.1.3).
    pub(super) branch: Option<String>,
    /// The status line, e.g. `SIP/2.0 200 OK`.
    pub(super) status_line: String,
    /// `Server` (or, failing that, `User-Agent`), cut to 128 characters.
    pub(super) server: Option<String>,
}

/// Parses `SIP/2.0 CODE reason` and the headers checks need (compact forms included).
pub(super) fn parse_response(head: &str) -> Option<(u16, Headers)> {
    let mut lines = head.split("\r\n");
    let status = lines.next()?;
    let rest = status
        .get(..8)
        .filter(|v| v.eq_ignore_ascii_case("SIP/2.0 "))
        .and_then(|_| status.get(8..))?;
    let code: u16 = rest.get(..3)?.parse().ok()?;
    if !(100..700).contains(&code) {
        return None;
    }
    let mut h = Headers {
        status_line: status.chars().take(128).collect(),
        ..Headers::default()
    };
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim().to_string();
        match name.trim().to_ascii_lowercase().as_str() {
            "call-id" | "i" => h.call_id = Some(value),
            "server" => h.server = Some(value.chars().take(128).collect()),
            "user-agent" if h.server.is_none() => {
                h.server = Some(value.chars().take(128).collect())
            }
            "cseq" => h.cseq = Some(value),
            "via" | "v" if h.branch.is_none() => {
                // The first value of a comma-separated Via header is the topmost.
                h.branch = value
                    .split(',')
                    .next()
                    .unwrap_or_default()
                    .split(';')
                    .skip(1)
                    .filter_map(|p| p.split_once('='))
                    .find(|(k, _)| k.trim().eq_ignore_ascii_case("branch"))
                    .map(|(_, b)| b.trim().to_string());
            }
            _ => {}
        }
    }
    Some((code, h))
}

pub(super) fn content_length(head: &str) -> usize {
    head.split("\r\n")
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| {
            let n = n.trim();
            n.eq_ignore_ascii_case("content-length") || n.eq_ignore_ascii_case("l")
        })
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
        .min(MAX_RESPONSE_BYTES)
}

pub(super) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_and_compact_headers() {
        let (code, h) =
            parse_response("SIP/2.0 200 OK\r\ni: abc@x\r\nCSeq: 1 OPTIONS\r\nl: 0").unwrap();
        assert_eq!(code, 200);
        assert_eq!(h.call_id.as_deref(), Some("abc@x"));
        assert_eq!(h.cseq.as_deref(), Some("1 OPTIONS"));
        assert!(parse_response("HTTP/1.1 200 OK").is_none());
        assert!(parse_response("SIP/2.0 999 Nope").is_none());
    }

    /// Reads one request's head on the peer's side of a pipe; `None` if it closed first.
    async fn read_request(server: &mut tokio::io::DuplexStream) -> Option<String> {
        let mut request = Vec::new();
        let mut chunk = [0u8; 512];
        while find(&request, b"\r\n\r\n").is_none() {
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

    /// Plays the peer on an in-memory pipe with a small buffer, so that what it manages to
    /// write is what the prober read plus at most the pipe's capacity. `respond` gets the
    /// request's Call-ID and returns the pieces to write, in order, until one fails.
    async fn exchange(
        respond: impl FnOnce(String) -> Box<dyn Iterator<Item = Vec<u8>> + Send> + Send + 'static,
    ) -> (SipFacts, usize) {
        const PIPE: usize = 1024;
        let (client, mut server) = tokio::io::duplex(PIPE);
        let peer = tokio::spawn(async move {
            let Some(text) = read_request(&mut server).await else {
                return 0;
            };
            let call_id = header(&text, "Call-ID: ");
            let mut written = 0;
            for piece in respond(call_id) {
                if server.write_all(&piece).await.is_err() {
                    break;
                }
                written += piece.len();
            }
            written
        });
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        let facts = options(client, "zahnfee.de", deadline).await;
        (facts, peer.await.unwrap())
    }

    fn response(code: u16, call_id: &str, cseq: &str) -> Vec<u8> {
        format!(
            "SIP/2.0 {code} X\r\nCall-ID: {call_id}\r\nCSeq: {cseq}\r\nContent-Length: 0\r\n\r\n"
        )
        .into_bytes()
    }

    #[tokio::test]
    async fn a_flood_is_read_no_further_than_16_kib() {
        let (facts, written) = exchange(|_| {
            Box::new(
                std::iter::once(b"SIP/2.0 200 OK\r\nX-Junk: ".to_vec())
                    .chain(std::iter::repeat_n(vec![b'A'; 100], 100_000)),
            )
        })
        .await;
        assert_eq!(facts.status, Err(Reason::NotSip), "{}", facts.detail);
        assert!(written <= MAX_RESPONSE_BYTES + 1024 + 100, "{written}");
    }

    #[tokio::test]
    async fn endless_provisional_responses_are_bounded_too() {
        let (facts, written) = exchange(|id| {
            Box::new(std::iter::repeat_n(
                response(100, &id, "1 OPTIONS"),
                100_000,
            ))
        })
        .await;
        assert_eq!(facts.status, Err(Reason::NotSip), "{}", facts.detail);
        assert!(written <= MAX_RESPONSE_BYTES + 1024 + 200, "{written}");
    }

    #[tokio::test]
    async fn keepalives_fragments_and_provisional_bodies_are_understood() {
        let (facts, _) = exchange(|id| {
            let trying =
                format!("SIP/2.0 100 Trying\r\ni: {id}\r\nCSeq: 1 OPTIONS\r\nl: 5\r\n\r\n");
            let ok = format!("sip/2.0 486 Busy Here\r\ni: {id}\r\nCSeq: 1 OPTIONS\r\nl: 0\r\n\r\n");
            let mut pieces = vec![b"\r\n\r\n".to_vec(), trying.into_bytes(), b"SDP".to_vec()];
            // The rest of the provisional body arrives with the final response.
            let mut last = b"!!\r\n".to_vec();
            last.extend_from_slice(ok.as_bytes());
            pieces.extend(last.chunks(3).map(<[u8]>::to_vec));
            Box::new(pieces.into_iter())
        })
        .await;
        assert_eq!(facts.status, Ok(486), "{}", facts.detail);
    }

    #[tokio::test]
    async fn a_response_to_another_request_is_a_mismatch() {
        let (facts, _) =
            exchange(|id| Box::new(std::iter::once(response(200, &id, "1 INVITE")))).await;
        assert_eq!(facts.status, Err(Reason::Mismatch), "{}", facts.detail);
        let (facts, _) =
            exchange(|_| Box::new(std::iter::once(response(200, "other@x", "1 OPTIONS")))).await;
        assert_eq!(facts.status, Err(Reason::Mismatch), "{}", facts.detail);
    }

    #[tokio::test]
    async fn silence_after_a_provisional_response_times_out_saying_so() {
        let (client, mut server) = tokio::io::duplex(4096);
        let peer = tokio::spawn(async move {
            let mut chunk = [0u8; 4096];
            let _ = server.read(&mut chunk).await;
            let _ = server.write_all(b"SIP/2.0 100 Trying\r\n\r\n").await;
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        });
        let deadline = Instant::now() + std::time::Duration::from_millis(300);
        let facts = options(client, "zahnfee.de", deadline).await;
        assert_eq!(facts.status, Err(Reason::Timeout));
        assert!(
            facts.detail.contains("provisional SIP 100"),
            "{}",
            facts.detail
        );
        peer.abort();
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
        let closed = !open || tokio::time::timeout(LINGER, conn).await.is_ok();
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
        let conn = tokio::spawn(serve(client, rx, turn, users.clone()));
        let deadline = Instant::now() + Duration::from_secs(5);
        let facts = match transact(&sender, "zahnfee.de", deadline).await {
            Ok(f) => f,
            Err(Gone) => panic!("the connection went away"),
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

    #[test]
    fn request_is_rfc3261_shaped() {
        let ids = Ids::new();
        let r = ids.request("zahnfee.de");
        assert!(r.starts_with("OPTIONS sip:zahnfee.de SIP/2.0\r\n"));
        assert!(r.contains(";branch=z9hG4bK"));
        assert!(r.contains(&format!(";tag={}\r\n", ids.tag)));
        assert!(r.contains("To: <sip:zahnfee.de>\r\n"));
        // Never the peer's own name in Via (a proxy would see a loop).
        assert!(!r.contains("xphone"));
        assert!(r.contains(&format!("Call-ID: {}\r\n", ids.call_id)));
        assert!(r.contains("CSeq: 1 OPTIONS\r\n"));
        assert!(r.contains("Max-Forwards: 70\r\n"));
        assert!(r.ends_with("Content-Length: 0\r\n\r\n"));
    }
}
