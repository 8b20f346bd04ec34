//! Plain-HTTP fetches of revocation evidence from a vantage: the URL's host resolved by the
//! vantage's resolvers, an address allowed by SPEC §5's rules, connected directly or through
//! the vantage's SOCKS5 proxy, one HTTP/1.1 exchange (hyper's connection-level client: no
//! pool, the caller's cache is the reuse), the body read frame by frame up to a cap, at most
//! [`MAX_REDIRECTS`] redirects to other `http://` URLs, everything before one deadline.

use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST, LOCATION, USER_AGENT};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

use super::local_exhaustion;
use super::proxy::{self, ProxyError};
use super::vantage::VantageClient;
use crate::facts::{Blind, EvidenceFailure, Reason, may_connect};

/// Redirects followed at most (then `http_error`): CAs move CRLs behind CDNs, a loop ends here.
pub const MAX_REDIRECTS: usize = 3;

/// What a fetch asks for.
#[derive(Debug, Clone, Copy)]
pub enum Method<'a> {
    Get,
    /// POST with a body of `content_type` (an OCSP request).
    Post {
        content_type: &'static str,
        body: &'a [u8],
    },
}

/// Why a fetch gave no document.
#[derive(Debug)]
pub enum FetchError {
    /// Evidence about the pointer: the host does not resolve or answer, answers badly.
    Failed(EvidenceFailure),
    /// The exporter could not look (its proxy is down, no socket): no evidence at all.
    Blind(Blind),
}

fn failed(reason: Reason, detail: impl Into<String>) -> FetchError {
    FetchError::Failed(EvidenceFailure::new(reason, detail))
}

/// A parsed `http://host[:port]/path` URL.
#[derive(Debug, PartialEq, Eq)]
struct Url {
    host: String,
    port: u16,
    /// The path with its query, at least `/`.
    path: String,
}

fn parse_url(url: &str) -> Option<Url> {
    let rest = url
        .get(..7)?
        .eq_ignore_ascii_case("http://")
        .then(|| &url[7..])?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_string()),
        Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
        None => (rest, "/".to_string()),
    };
    // Userinfo is never sent anywhere.
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => 80,
            None => return None,
        };
        (host.to_string(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.parse().ok()?),
            None => (authority.to_string(), 80),
        }
    };
    if host.is_empty() || port == 0 || path.chars().any(|c| c.is_ascii_control() || c == ' ') {
        return None;
    }
    Some(Url {
        host: host.to_ascii_lowercase(),
        port,
        path,
    })
}

/// Fetches `url` with `method` from `client`'s vantage, reading at most `cap` bytes of body,
/// before `deadline` (the fetch's own budget: missing it is the host's timeout). With `public`
/// only globally routable addresses are connected to, whatever the vantage (an ad-hoc
/// probe's fetches: never loopback or private hosts), every redirect's host included.
pub async fn fetch(
    client: &VantageClient,
    url: &str,
    method: Method<'_>,
    cap: usize,
    deadline: Instant,
    public: bool,
) -> Result<Vec<u8>, FetchError> {
    let mut url = url.to_string();
    for _ in 0..=MAX_REDIRECTS {
        let exchange = exchange(client, &url, method, cap, deadline, public);
        match timeout_at(deadline, exchange).await {
            Err(_) => {
                return Err(failed(
                    Reason::Timeout,
                    format!("no complete answer from {url} within the time a fetch gets"),
                ));
            }
            Ok(Err(e)) => return Err(e),
            Ok(Ok(Answer::Body(body))) => return Ok(body),
            Ok(Ok(Answer::Redirect(to))) => url = to,
        }
    }
    Err(failed(
        Reason::HttpError,
        format!("more than {MAX_REDIRECTS} redirects, the last to {url}"),
    ))
}

enum Answer {
    Body(Vec<u8>),
    Redirect(String),
}

/// One HTTP/1.1 request to `url` through the vantage, and its answer: a body of at most
/// `cap` bytes, or where a redirect points.
async fn exchange(
    client: &VantageClient,
    url: &str,
    method: Method<'_>,
    cap: usize,
    deadline: Instant,
    public: bool,
) -> Result<Answer, FetchError> {
    let Some(parsed) = parse_url(url) else {
        return Err(failed(
            Reason::HttpError,
            format!("{url:?} is not an http:// URL the exporter can fetch"),
        ));
    };
    let address = address(client, &parsed, public).await?;
    let stream = connect(client, address, url).await?;
    let http_error = |e: hyper::Error| failed(Reason::HttpError, format!("{url}: {e}"));
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(http_error)?;
    // The connection task lives at most a moment past the deadline, whatever the peer does
    // (the moment lets the fetch's own deadline speak first: `timeout`, not a cut body).
    tokio::spawn(async move {
        let _ = timeout_at(deadline + std::time::Duration::from_secs(1), conn).await;
    });
    let request =
        request(&parsed, method).map_err(|e| failed(Reason::HttpError, format!("{url}: {e}")))?;
    let response = sender.send_request(request).await.map_err(http_error)?;
    answer(response, &parsed, url, cap).await
}

/// A TCP connection to `address` from the vantage (through its proxy, if any); what fails is
/// the vantage's (blind) or the host's (a failed fetch with a reason).
async fn connect(
    client: &VantageClient,
    address: SocketAddr,
    url: &str,
) -> Result<TcpStream, FetchError> {
    let stream = match &client.proxy {
        Some(p) => proxy::connect(p, address).await,
        None => TcpStream::connect(address)
            .await
            .map_err(ProxyError::Target),
    };
    match stream {
        Ok(s) => Ok(s),
        Err(ProxyError::Proxy(detail)) => {
            tracing::debug!(vantage = %client.name, %detail, "proxy failed");
            Err(FetchError::Blind(Blind::ProxyDown))
        }
        Err(ProxyError::Target(e)) if local_exhaustion(&e) => {
            Err(FetchError::Blind(Blind::LocalResources))
        }
        // Our host has no route for the responder's family: not looked, not the CA's failure.
        Err(ProxyError::Target(e)) if super::no_route(&e) => Err(FetchError::Blind(Blind::NoRoute)),
        Err(ProxyError::Target(e)) => {
            let reason = match e.kind() {
                std::io::ErrorKind::ConnectionRefused => Reason::ConnectionRefused,
                std::io::ErrorKind::HostUnreachable | std::io::ErrorKind::NetworkUnreachable => {
                    Reason::Unreachable
                }
                std::io::ErrorKind::TimedOut => Reason::Timeout,
                _ => Reason::ConnectError,
            };
            Err(failed(
                reason,
                format!("connecting to {address} for {url}: {e}"),
            ))
        }
    }
}

impl Url {
    /// The authority as a `Host` header and a URL carry it: an IPv6 literal in brackets
    /// (RFC 9110 §7.2, RFC 3986 §3.2.2), the port only when it is not 80.
    fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == 80 {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// Where a `Location` header sent in answer to `base` points, as an absolute URL: relative
/// references (RFC 9110 §10.2.2, RFC 3986 §5.2) are resolved against the request's URL. The
/// result is not checked: [`parse_url`] decides whether the exporter follows it.
fn resolve(base: &Url, location: &str) -> String {
    // A fragment is never sent.
    let location = location.split_once('#').map_or(location, |(l, _)| l);
    // An absolute URL starts with a scheme: a letter, then letters, digits, `+-.`, then `:`.
    let scheme = location.find(':').is_some_and(|i| {
        let s = &location[..i];
        s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    if scheme {
        return location.to_string();
    }
    if let Some(rest) = location.strip_prefix("//") {
        return format!("http://{rest}");
    }
    let path = if location.starts_with('/') {
        location.to_string()
    } else if location.starts_with('?') {
        let path = base.path.split_once('?').map_or(&base.path[..], |(p, _)| p);
        format!("{path}{location}")
    } else {
        let path = base.path.split_once('?').map_or(&base.path[..], |(p, _)| p);
        let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
        format!("{dir}/{location}")
    };
    format!("http://{}{path}", base.authority())
}

/// The request for `url`: its path, `Host` and our `User-Agent`.
fn request(url: &Url, method: Method<'_>) -> Result<Request<Full<Bytes>>, hyper::http::Error> {
    let host = url.authority();
    let builder = Request::builder()
        .uri(url.path.as_str())
        .header(HOST, host)
        .header(
            USER_AGENT,
            concat!("sipfed_exporter/", env!("CARGO_PKG_VERSION")),
        );
    match method {
        Method::Get => builder.method("GET").body(Full::new(Bytes::new())),
        Method::Post { content_type, body } => builder
            .method("POST")
            .header(CONTENT_TYPE, content_type)
            .body(Full::new(Bytes::copy_from_slice(body))),
    }
}

/// What the response says: where it redirects (an http:// URL), or its body of at most `cap`
/// bytes; any other status is a failed fetch.
async fn answer(
    response: hyper::Response<hyper::body::Incoming>,
    parsed: &Url,
    url: &str,
    cap: usize,
) -> Result<Answer, FetchError> {
    let http_error = |e: hyper::Error| failed(Reason::HttpError, format!("{url}: {e}"));
    let status = response.status();
    if status.is_redirection() {
        let to = response
            .headers()
            .get(LOCATION)
            .and_then(|l| l.to_str().ok())
            .map(|l| resolve(parsed, l.trim()))
            .unwrap_or_default();
        if parse_url(&to).is_none() {
            return Err(failed(
                Reason::HttpError,
                format!("{url} answered {status} to {to:?}, not an http:// URL"),
            ));
        }
        return Ok(Answer::Redirect(to));
    }
    if !status.is_success() {
        return Err(failed(
            Reason::HttpError,
            format!("{url} answered {status}"),
        ));
    }
    let too_large = || {
        failed(
            Reason::BadResponse,
            format!("{url} sent more than the {cap} bytes the exporter reads"),
        )
    };
    let announced = response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|l| l.to_str().ok()?.parse::<u64>().ok());
    if announced.is_some_and(|n| n > cap as u64) {
        return Err(too_large());
    }
    let mut body = response.into_body();
    let mut out = Vec::with_capacity(announced.map_or(0, |n| n as usize).min(cap));
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(http_error)?;
        if let Some(data) = frame.data_ref() {
            if out.len() + data.len() > cap {
                return Err(too_large());
            }
            out.extend_from_slice(data);
        }
    }
    Ok(Answer::Body(out))
}

/// The first address of the URL's host this vantage may connect to (only globally routable
/// ones with `public`, or when the vantage is public).
async fn address(
    client: &VantageClient,
    url: &Url,
    public: bool,
) -> Result<SocketAddr, FetchError> {
    let public = public || client.public;
    let ips: Vec<IpAddr> = match url.host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => {
            let name = super::dns::absolute(&url.host);
            let (answers, _) = client.resolvers.addresses_and_cname(&name).await;
            match answers.into_iter().next().map(|a| a.answer) {
                Some(Ok(ips)) => ips,
                Some(Err(crate::facts::DnsFailure::Local)) => {
                    return Err(FetchError::Blind(Blind::LocalResources));
                }
                Some(Err(e)) => {
                    return Err(failed(
                        e.reason(),
                        format!("looking up {}: {}", url.host, e.reason().as_str()),
                    ));
                }
                None => return Err(failed(Reason::DnsError, format!("looking up {}", url.host))),
            }
        }
    };
    match ips.iter().find(|ip| may_connect(**ip, public)) {
        Some(ip) => Ok(SocketAddr::new(*ip, url.port)),
        None if ips.is_empty() => Err(failed(
            Reason::NoAddress,
            format!("{} has no address", url.host),
        )),
        None => Err(failed(
            Reason::ForbiddenAddress,
            format!(
                "{} is at {}, an address the exporter never connects to {}",
                url.host,
                ips[0],
                if client.public {
                    "from this vantage"
                } else if public {
                    "for an ad-hoc probe (only globally routable ones)"
                } else {
                    "from this vantage"
                }
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = |s| parse_url(s).map(|u| (u.host, u.port, u.path));
        assert_eq!(
            u("http://crl.Lab.example/ca.crl"),
            Some(("crl.lab.example".into(), 80, "/ca.crl".into()))
        );
        assert_eq!(
            u("http://127.0.0.1:8080"),
            Some(("127.0.0.1".into(), 8080, "/".into()))
        );
        assert_eq!(
            u("http://[::1]:81/ocsp?x"),
            Some(("::1".into(), 81, "/ocsp?x".into()))
        );
        assert_eq!(
            u("HTTP://user:pw@ocsp.x?y"),
            Some(("ocsp.x".into(), 80, "/?y".into()))
        );
        assert_eq!(u("https://crl.x/ca.crl"), None);
        assert_eq!(u("ldap://crl.x/cn=ca"), None);
        assert_eq!(u("http://crl.x:0/"), None);
        assert_eq!(u("http://crl.x/a b"), None);
        assert_eq!(u("http:///a"), None);
    }

    #[test]
    fn relative_redirects_resolve_against_the_request() {
        let base = parse_url("http://crl.ca.example:8080/pki/ca.crl?x=1").unwrap();
        let r = |l| resolve(&base, l);
        assert_eq!(r("/new/ca.crl"), "http://crl.ca.example:8080/new/ca.crl");
        assert_eq!(r("other.crl"), "http://crl.ca.example:8080/pki/other.crl");
        assert_eq!(r("?y=2"), "http://crl.ca.example:8080/pki/ca.crl?y=2");
        assert_eq!(r("//cdn.example/ca.crl"), "http://cdn.example/ca.crl");
        assert_eq!(r("http://cdn.example/a"), "http://cdn.example/a");
        // Not followed, and still said as sent.
        assert_eq!(r("https://cdn.example/a"), "https://cdn.example/a");
        assert_eq!(
            r("a.crl?u=http://x#f"),
            "http://crl.ca.example:8080/pki/a.crl?u=http://x"
        );
        let v6 = parse_url("http://[::1]/a/b").unwrap();
        assert_eq!(resolve(&v6, "c"), "http://[::1]/a/c");
        assert_eq!(
            parse_url(&resolve(&v6, "/c")).map(|u| (u.host, u.port)),
            Some(("::1".into(), 80))
        );
    }

    #[test]
    fn host_header_brackets_ipv6_literals() {
        let host = |s| {
            let r = request(&parse_url(s).unwrap(), Method::Get).unwrap();
            r.headers()[HOST].to_str().unwrap().to_string()
        };
        assert_eq!(host("http://[::1]/ca.crl"), "[::1]");
        assert_eq!(host("http://[2001:db8::1]:81/"), "[2001:db8::1]:81");
        assert_eq!(host("http://127.0.0.1/"), "127.0.0.1");
        assert_eq!(host("http://crl.x:8080/"), "crl.x:8080");
    }
}

#[cfg(test)]
mod no_route_tests {
    use super::*;

    /// Set in the child this test re-runs itself as, inside a network namespace of its own.
    const CHILD: &str = "SIPFED_FETCH_NETNS_CHILD";

    /// A host without an IPv6 route (loopback only, `::1` deleted, in a network namespace of
    /// the test's own: nothing can leave the machine) fetching a responder at an IPv6 address
    /// did not look: `Blind::NoRoute`, not the CA's `unreachable` kept for every domain.
    #[test]
    fn no_route_for_the_responders_family_is_not_looked() {
        const NAME: &str =
            "gather::fetch::no_route_tests::no_route_for_the_responders_family_is_not_looked";
        if std::env::var_os(CHILD).is_none() {
            let out = std::process::Command::new("unshare")
                .args(["-n", "--", "sh", "-ec"])
                .arg("ip link set lo up; ip -6 addr del ::1/128 dev lo; exec \"$0\" \"$@\"")
                .arg(std::env::current_exe().unwrap())
                .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
                .env(CHILD, "1")
                .output()
                .expect("unshare runs (util-linux)");
            let text = String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "in its namespace:\n{text}");
            assert!(text.contains("1 passed"), "the child ran the test: {text}");
            return;
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = VantageClient::test("inside");
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        let got = runtime.block_on(fetch(
            &client,
            "http://[::1]:8080/ca.crl",
            Method::Get,
            1024,
            deadline,
            false,
        ));
        assert!(
            matches!(got, Err(FetchError::Blind(Blind::NoRoute))),
            "{:?}",
            got.err()
        );
    }
}
