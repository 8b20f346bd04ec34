//! The SIP step: one RFC 3261 OPTIONS request over the established TLS connection, to learn
//! whether a SIP stack really answers behind the port. Reads are bounded in size and time.

use std::time::Instant as StdInstant;

use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, timeout_at};

use crate::facts::{Reason, hex};

/// At most this much is read from a peer, however much it sends.
const MAX_RESPONSE_BYTES: usize = 16 * 1024;

/// What the OPTIONS exchange showed.
#[derive(Debug, Clone, Serialize)]
pub struct SipFacts {
    /// The final response's status code, or why there was none.
    pub status: Result<u16, Reason>,
    pub duration_seconds: f64,
    /// A short description for people (never a label).
    pub detail: String,
}

/// Sends OPTIONS for `domain` on `stream` and waits for a final response until `deadline`.
pub async fn options<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    domain: &str,
    target: &str,
    deadline: Instant,
) -> SipFacts {
    let start = StdInstant::now();
    let ids = Ids::new();
    let request = ids.request(domain, target);
    let fail = |reason: Reason, detail: String| SipFacts {
        status: Err(reason),
        duration_seconds: start.elapsed().as_secs_f64(),
        detail,
    };
    match timeout_at(deadline, stream.write_all(request.as_bytes())).await {
        Err(_) => {
            return fail(
                Reason::Timeout,
                "could not send OPTIONS before the deadline".into(),
            );
        }
        Ok(Err(e)) => return fail(Reason::Closed, format!("sending OPTIONS: {e}")),
        Ok(Ok(())) => {}
    }
    let _ = stream.flush().await;
    let mut buf = Vec::with_capacity(2048);
    let mut chunk = [0u8; 2048];
    loop {
        // Answer as soon as a complete header block (a final response) is in.
        while let Some(end) = find(&buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let body_len = content_length(&head);
            match parse_response(&head) {
                None => {
                    return fail(
                        Reason::NotSip,
                        "the peer answered something that is not SIP".into(),
                    );
                }
                Some((code, _)) if code < 200 => {
                    let consumed = (end + 4 + body_len).min(buf.len());
                    buf.drain(..consumed);
                }
                Some((code, headers)) => {
                    if headers.call_id.as_deref() != Some(ids.call_id.as_str())
                        || !headers
                            .cseq
                            .as_deref()
                            .is_some_and(|c| c.split_whitespace().eq(["1", "OPTIONS"]))
                    {
                        return fail(
                            Reason::Mismatch,
                            format!(
                                "SIP {code} response does not match the request's Call-ID/CSeq"
                            ),
                        );
                    }
                    return SipFacts {
                        status: Ok(code),
                        duration_seconds: start.elapsed().as_secs_f64(),
                        detail: format!("SIP/2.0 {code}"),
                    };
                }
            }
        }
        if buf.len() >= MAX_RESPONSE_BYTES {
            return fail(Reason::NotSip, "no SIP response in the first 16 KiB".into());
        }
        match timeout_at(deadline, stream.read(&mut chunk)).await {
            Err(_) => {
                return fail(
                    Reason::Timeout,
                    "no SIP response before the deadline".into(),
                );
            }
            Ok(Err(e)) => return fail(Reason::Closed, format!("reading response: {e}")),
            Ok(Ok(0)) => {
                return fail(
                    Reason::Closed,
                    "the peer closed the connection without answering".into(),
                );
            }
            Ok(Ok(n)) => {
                // A response never starts with anything but "SIP/2.0": give up on garbage early.
                if buf.is_empty() && !b"SIP/2.0 ".starts_with(&chunk[..n.min(8)]) {
                    return fail(
                        Reason::NotSip,
                        "the peer answered something that is not SIP".into(),
                    );
                }
                buf.extend_from_slice(&chunk[..n]);
            }
        }
    }
}

/// Identifiers of one request.
struct Ids {
    branch: String,
    tag: String,
    call_id: String,
}

impl Ids {
    fn new() -> Ids {
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

    fn request(&self, domain: &str, target: &str) -> String {
        format!(
            "OPTIONS sip:{domain} SIP/2.0\r\n\
             Via: SIP/2.0/TLS {target}:5061;branch={branch};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:sipfed-exporter@{target}>;tag={tag}\r\n\
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
struct Headers {
    call_id: Option<String>,
    cseq: Option<String>,
}

/// Parses `SIP/2.0 CODE reason` and the headers checks need (compact forms included).
fn parse_response(head: &str) -> Option<(u16, Headers)> {
    let mut lines = head.split("\r\n");
    let status = lines.next()?;
    let rest = status.strip_prefix("SIP/2.0 ")?;
    let code: u16 = rest.get(..3)?.parse().ok()?;
    if !(100..700).contains(&code) {
        return None;
    }
    let mut h = Headers::default();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim().to_string();
        match name.trim().to_ascii_lowercase().as_str() {
            "call-id" | "i" => h.call_id = Some(value),
            "cseq" => h.cseq = Some(value),
            _ => {}
        }
    }
    Some((code, h))
}

fn content_length(head: &str) -> usize {
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

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
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

    #[test]
    fn request_is_rfc3261_shaped() {
        let ids = Ids::new();
        let r = ids.request("zahnfee.de", "xphone.zahnfee.de");
        assert!(r.starts_with("OPTIONS sip:zahnfee.de SIP/2.0\r\n"));
        assert!(r.contains(";branch=z9hG4bK"));
        assert!(r.contains(&format!("Call-ID: {}\r\n", ids.call_id)));
        assert!(r.contains("CSeq: 1 OPTIONS\r\n"));
        assert!(r.contains("Max-Forwards: 70\r\n"));
        assert!(r.ends_with("Content-Length: 0\r\n\r\n"));
    }
}
