//! SIP transactions on a connection: RFC 3261 OPTIONS requests over an established TLS
//! connection, to learn whether a SIP stack really answers behind the port. One connection
//! carries the transactions of every domain probing its edge ([`serve`]), each matched to its
//! response by the Via branch; reads are bounded in size and time. What the bytes mean is
//! [`super::message`]'s; when an idle connection closes is its holder's ([`Hold`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant as StdInstant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, timeout_at};

use super::message::{self, Ids, MAX_RESPONSE_BYTES};
use crate::facts::{Reason, SipFacts, SipPlatform};

/// The connection went away with the transaction unanswered (after answering others): the
/// caller may try another connection.
pub(crate) struct Gone;

/// Sends OPTIONS for `domain`, from `from` (the tenant's address; `None`: a placeholder), as
/// one transaction on a connection run by [`serve`] and waits for its final response until
/// `deadline`.
pub(crate) async fn transact(
    sender: &Queue,
    domain: &str,
    from: Option<&str>,
    deadline: Instant,
) -> Result<SipFacts, Gone> {
    let start = StdInstant::now();
    let fail = |reason, detail| failed(start, reason, detail);
    let ids = Ids::new();
    let provisional = Arc::new(AtomicU16::new(0));
    let (reply, answer) = oneshot::channel();
    let txn = Txn {
        request: ids.request(domain, from),
        branch: ids.branch.clone(),
        call_id: ids.call_id.clone(),
        provisional: provisional.clone(),
        reply,
    };
    if sender.send(Box::new(txn)).is_err() {
        return Err(Gone);
    }
    let facts = match timeout_at(deadline, answer).await {
        Err(_) => {
            let detail = match provisional.load(Ordering::Relaxed) {
                0 => "no SIP response before the deadline".into(),
                code => format!("only a provisional SIP {code} before the deadline"),
            };
            fail(Reason::Timeout, detail)
        }
        Ok(Err(_)) | Ok(Ok(Answer::Gone)) => return Err(Gone),
        Ok(Ok(Answer::Final(code, headers))) => {
            let platform = headers.server.as_deref().map(|server| {
                let source = headers
                    .diagnostics
                    .as_ref()
                    .and_then(|d| d.source.as_deref());
                SipPlatform::of(server, source)
            });
            SipFacts {
                status: Ok(code),
                duration_seconds: start.elapsed().as_secs_f64(),
                detail: headers.status_line,
                server: headers.server,
                platform,
                diagnostics: headers.diagnostics,
                from: None,
                alert: None,
            }
        }
        Ok(Ok(Answer::Fail(reason, detail))) => fail(reason, detail),
        Ok(Ok(Answer::Refused(alert, detail))) => SipFacts {
            alert: Some(alert),
            ..fail(Reason::HandshakeFailure, detail)
        },
    };
    Ok(SipFacts {
        from: from.map(str::to_string),
        ..facts
    })
}

/// A SIP step that failed for `reason`, begun at `start`.
pub(crate) fn failed(start: StdInstant, reason: Reason, detail: String) -> SipFacts {
    SipFacts {
        status: Err(reason),
        duration_seconds: start.elapsed().as_secs_f64(),
        detail,
        server: None,
        platform: None,
        diagnostics: None,
        from: None,
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
    let conn = tokio::spawn(serve(stream, rx, ()));
    let facts = match transact(&sender, domain, None, deadline).await {
        Ok(facts) => facts,
        Err(Gone) => SipFacts {
            status: Err(Reason::Closed),
            duration_seconds: 0.0,
            detail: "the peer closed the connection without answering".into(),
            server: None,
            platform: None,
            diagnostics: None,
            from: None,
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
pub(crate) const LINGER: Duration = Duration::from_secs(1);
const IDLE: Duration = Duration::from_secs(5);

/// How long writing one OPTIONS request (and flushing it) may take.
const SEND_BOUND: Duration = Duration::from_secs(10);

/// What an open connection holds, and what decides when it closes while idle: for an edge,
/// its turn at the address and the probes using it ([`crate::gather::edge`]). `()` holds
/// nothing: the connection lives until its queue is dropped.
pub(crate) trait Hold: Send + 'static {
    /// Whether no probe may still send on the connection (it closes after [`LINGER`] idle).
    fn unused(&self) -> bool;

    /// Whether the idle connection should close at once: unused, and what it holds is wanted
    /// by another connection.
    fn release(&self) -> bool;

    /// Resolves when `unused` or `release` may have changed (a change that happens after this
    /// call returned is never missed).
    fn changed(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

impl Hold for () {
    fn unused(&self) -> bool {
        true
    }

    fn release(&self) -> bool {
        false
    }

    fn changed(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(std::future::pending())
    }
}

/// The queue of a connection's transactions. Boxed: an edge keeps its sender until the edge is
/// swept, and the channel's first block holds 32 items (2.9 KiB unboxed; 28 MiB for the
/// 10,000 edges of 10,000 domains with their own server names).
pub(crate) type Queue = mpsc::UnboundedSender<Box<Txn>>;

/// One OPTIONS transaction handed to a connection.
pub(crate) struct Txn {
    request: String,
    branch: String,
    call_id: String,
    /// The last provisional status code seen (0: none).
    provisional: Arc<AtomicU16>,
    reply: oneshot::Sender<Answer>,
}

enum Answer {
    /// The final status code and the response's headers.
    Final(u16, Box<message::Headers>),
    Fail(Reason, String),
    /// The peer ended the TLS session with an alert refusing a client certificate.
    Refused(crate::facts::PeerAlert, String),
    /// The connection ended after answering other transactions: try another.
    Gone,
}

/// Runs the transactions of one connection: writes requests as they come, reads responses
/// only while some are pending and hands each final one to its transaction. Ends when idle,
/// when its edge is dropped, or at the first sign the peer is not a SIP stack.
/// `hold` is kept for as long as the connection is, and decides when it closes while idle.
// Long by design: one `select!` over the connection's events (a request to send, bytes read,
// the holder's change, idleness), whose arms share the split stream and state.
pub(crate) async fn serve<S>(stream: S, mut rx: mpsc::UnboundedReceiver<Box<Txn>>, hold: impl Hold)
where
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
        // Listened for only while idle (before `release` is read, so no change is missed).
        let mut changed = pending.is_empty().then(|| hold.changed());
        if pending.is_empty() && (!open || hold.release()) {
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
                    let refused = (!answered).then(|| crate::gather::tls::refusing_alert(&e)).flatten();
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
            // The holder changed (for an edge: the last probe left, or another connection
            // asks for the turn): the loop's check closes the connection if it should.
            _ = async { if let Some(c) = changed.as_mut() { c.await } }, if changed.is_some() => {}
            // Nothing happened for `LINGER`, the last probe's leaving included.
            _ = tokio::time::sleep(LINGER), if pending.is_empty() => {
                if hold.unused() || idle_since.elapsed() >= IDLE {
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
        let (code, headers) = match message::next_response(buf) {
            Ok(Some(response)) => response,
            Ok(None) => return Ok(()),
            Err(message::NotSip) => {
                return Err("the peer answered something that is not SIP".into());
            }
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
            Answer::Final(code, Box::new(headers))
        } else {
            Answer::Fail(
                Reason::Mismatch,
                format!("SIP {code} response does not match the request's Call-ID/CSeq"),
            )
        };
        let _ = t.reply.send(answer);
    }
}

/// Why reading the response failed. A TLS alert right after a TLS 1.3 handshake is how a
/// peer that insists on mutual TLS rejects a missing or unfit client certificate.
pub(crate) fn read_failure(e: &std::io::Error) -> (Reason, String) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gather::sip::message::find;

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
}
