//! The SIP codec, apart from any connection: the OPTIONS request's text, the framing of a
//! peer's byte stream into responses, and the parsing of their status line and the headers
//! the checks use. Pure functions of bytes (bounded: nothing here allocates more than the
//! input it is given), so the fuzz target drives them directly.

use std::borrow::Cow;

use crate::facts::{MsDiagnostics, hex};

/// At most this much is read from a peer, however much it sends.
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024;

/// The peer sent something that is not SIP.
#[derive(Debug, PartialEq, Eq)]
pub struct NotSip;

/// Takes the next complete response off the front of `buf`: `Ok(None)` while it is
/// incomplete (read more), `Err` once the bytes cannot be SIP. Keep-alive CRLFs before it are
/// dropped; a response's body (at most [`MAX_RESPONSE_BYTES`] by its Content-Length) is
/// consumed with it.
pub fn next_response(buf: &mut Vec<u8>) -> Result<Option<(u16, Headers)>, NotSip> {
    skip_keepalives(buf);
    if !could_be_status_line(buf) {
        return Err(NotSip);
    }
    let Some(end) = find(buf, b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let consumed = end + 4 + content_length(&head);
    if consumed > buf.len() {
        return Ok(None);
    }
    buf.drain(..consumed);
    parse_response(&head).map(Some).ok_or(NotSip)
}

/// RFC 3261 §7.5: CRLFs before a start line (keep-alives, RFC 5626) are ignored.
fn skip_keepalives(buf: &mut Vec<u8>) {
    let n = buf
        .iter()
        .take_while(|b| **b == b'\r' || **b == b'\n')
        .count();
    buf.drain(..n);
}

/// Whether `buf` is empty or a prefix of, or starts with, `SIP/2.0 ` (case-insensitive).
fn could_be_status_line(buf: &[u8]) -> bool {
    const START: &[u8] = b"SIP/2.0 ";
    let n = buf.len().min(START.len());
    buf[..n].eq_ignore_ascii_case(&START[..n])
}

/// Identifiers of one request.
pub(crate) struct Ids {
    pub(crate) branch: String,
    tag: String,
    pub(crate) call_id: String,
}

impl Ids {
    pub(crate) fn new() -> Ids {
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

    /// The request for `domain`, `From:` the tenant's address `from` (`user@domain`) when
    /// there is one. Responses come back on the same connection (RFC 3261 §18.2.2); as the
    /// tenant, Via sent-by and Contact name the tenant's domain on 5061 over TLS (what its
    /// edge would send), else they and From are placeholders in the reserved `.invalid`
    /// domain.
    pub(crate) fn request(&self, domain: &str, from: Option<&str>) -> String {
        let (via, from, contact) = match from.and_then(|f| Some((f, f.rsplit_once('@')?.1))) {
            Some((from, host)) => (
                Cow::Owned(format!("{host}:5061")),
                from,
                Cow::Owned(format!("Contact: <sip:{from}:5061;transport=tls>\r\n")),
            ),
            // The request as it always was: no allocation beyond the text itself.
            None => (
                Cow::Borrowed("sipfed-exporter.invalid"),
                "sipfed-exporter@sipfed-exporter.invalid",
                Cow::Borrowed(""),
            ),
        };
        format!(
            "OPTIONS sip:{domain} SIP/2.0\r\n\
             Via: SIP/2.0/TLS {via};branch={branch};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{from}>;tag={tag}\r\n\
             To: <sip:{domain}>\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: 1 OPTIONS\r\n\
             {contact}\
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
pub struct Headers {
    pub call_id: Option<String>,
    pub cseq: Option<String>,
    /// The `branch` parameter of the topmost Via: which client transaction this answers
    /// (RFC 3261 §17.1.3).
    pub branch: Option<String>,
    /// The status line, e.g. `SIP/2.0 200 OK`.
    pub status_line: String,
    /// `Server` (or, failing that, `User-Agent`), cut to 128 characters.
    pub server: Option<String>,
    /// `ms-diagnostics` (or, failing that, `ms-diagnostics-public`).
    pub diagnostics: Option<MsDiagnostics>,
}

/// Parses `SIP/2.0 CODE reason` and the headers checks need (compact forms included).
pub fn parse_response(head: &str) -> Option<(u16, Headers)> {
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
            "ms-diagnostics" => h.diagnostics = ms_diagnostics(&value).or(h.diagnostics),
            "ms-diagnostics-public" if h.diagnostics.is_none() => {
                h.diagnostics = ms_diagnostics(&value)
            }
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

/// Parses an `ms-diagnostics` value, `CODE;reason="...";source="..."` (more parameters
/// ignored; quoted values may hold `;` and `\"`); `None` without a numeric code.
pub fn ms_diagnostics(value: &str) -> Option<MsDiagnostics> {
    let mut params = split_params(value);
    let code = params.next()?.trim();
    // Codes are at most five digits; a longer number is not one.
    let code: u32 = Some(code)
        .filter(|c| (1..=5).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_digit()))?
        .parse()
        .ok()?;
    let (mut reason, mut source) = (String::new(), None);
    for p in params {
        let Some((name, v)) = p.split_once('=') else {
            continue;
        };
        match name.trim().to_ascii_lowercase().as_str() {
            "reason" => reason = clean(&unquote(v), MsDiagnostics::MAX_REASON),
            "source" => source = Some(clean(&unquote(v), 128)),
            _ => {}
        }
    }
    Some(MsDiagnostics {
        code,
        reason,
        source,
    })
}

/// The `;`-separated parts of a header value, quotes respected.
fn split_params(value: &str) -> impl Iterator<Item = &str> {
    let mut quoted = false;
    let mut escaped = false;
    let mut start = 0;
    let mut cuts = Vec::new();
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => {
                cuts.push((start, i));
                start = i + 1;
            }
            _ => {}
        }
    }
    cuts.push((start, value.len()));
    cuts.into_iter().map(move |(a, b)| &value[a..b])
}

/// A parameter value without its quotes and quoted-pair backslashes.
fn unquote(v: &str) -> String {
    let v = v.trim();
    let Some(inner) = v.strip_prefix('"') else {
        return v.to_string();
    };
    let inner = inner.strip_suffix('"').unwrap_or(inner);
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        out.push(if c == '\\' {
            chars.next().unwrap_or(c)
        } else {
            c
        });
    }
    out
}

/// At most `max` characters of `s`, control characters written as `\u{..}` escapes so that
/// no view prints a peer's terminal codes.
fn clean(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max));
    for c in s.chars().take(max) {
        if c.is_control() {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
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

pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
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
    fn ms_diagnostics_give_code_reason_and_source() {
        let head = "SIP/2.0 403 Forbidden\r\nms-diagnostics: 1034;reason=\"Previous hop; \\\"federated\\\" peer\";source=\"sip.partner.example\";Domain=\"x\"";
        let (_, h) = parse_response(head).unwrap();
        assert_eq!(
            h.diagnostics,
            Some(MsDiagnostics {
                code: 1034,
                reason: "Previous hop; \"federated\" peer".into(),
                source: Some("sip.partner.example".into()),
            })
        );
        // The public variant counts when the private one is absent; no code, no diagnostics.
        let (_, h) =
            parse_response("SIP/2.0 480 X\r\nms-diagnostics-public: 1047;reason=\"TLS\"").unwrap();
        assert_eq!(
            h.diagnostics.map(|d| (d.code, d.reason)),
            Some((1047, "TLS".into()))
        );
        assert_eq!(ms_diagnostics("reason=\"x\""), None);
        assert_eq!(ms_diagnostics("12345678;reason=x"), None);
        // Bounded and escaped: a terminal code is shown, not obeyed.
        let long = format!("1;reason=\"\u{1b}[31m{}\"", "a".repeat(10_000));
        let d = ms_diagnostics(&long).unwrap();
        assert!(d.reason.starts_with("\\u{1b}[31m"), "{}", d.reason);
        assert!(d.reason.chars().count() <= MsDiagnostics::MAX_REASON + 8);
    }

    #[test]
    fn responses_are_framed_by_content_length_after_keepalives() {
        let mut buf =
            b"\r\n\r\nSIP/2.0 200 OK\r\nl: 3\r\n\r\nabcSIP/2.0 404 Not Found\r\n".to_vec();
        let (code, _) = next_response(&mut buf).unwrap().unwrap();
        assert_eq!(code, 200);
        assert_eq!(
            buf, b"SIP/2.0 404 Not Found\r\n",
            "the body went with its response"
        );
        assert!(
            matches!(next_response(&mut buf), Ok(None)),
            "incomplete: read more"
        );
        let mut junk = b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec();
        assert!(next_response(&mut junk).is_err());
    }

    #[test]
    fn request_is_rfc3261_shaped() {
        let ids = Ids::new();
        let r = ids.request("zahnfee.de", None);
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
        assert!(r.contains("From: <sip:sipfed-exporter@sipfed-exporter.invalid>;tag="));
        assert!(r.contains("Via: SIP/2.0/TLS sipfed-exporter.invalid;branch=z9hG4bK"));
        assert!(!r.contains("Contact:"), "a placeholder has no contact");

        // As the tenant: From, Via sent-by and Contact are the tenant's.
        let r = ids.request("partner.example", Some("sipfed-monitor@zahnfee.de"));
        assert!(r.contains(&format!(
            "From: <sip:sipfed-monitor@zahnfee.de>;tag={}\r\n",
            ids.tag
        )));
        assert!(r.contains("Via: SIP/2.0/TLS zahnfee.de:5061;branch=z9hG4bK"));
        assert!(r.contains("Contact: <sip:sipfed-monitor@zahnfee.de:5061;transport=tls>\r\n"));
        assert!(r.contains("To: <sip:partner.example>\r\n"));
    }
}
