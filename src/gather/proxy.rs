//! A vantage's SOCKS5 proxy (RFC 1928 CONNECT, optionally RFC 1929 username/password) through
//! tokio-socks: its TCP connections start on a host outside, e.g. `ssh -D 1080 outside-host`.
//! Whether the proxy itself failed (our trouble) or the proxy's connection to the partner did
//! (evidence about the partner) stays apart.

use std::net::SocketAddr;

use tokio::net::TcpStream;
use tokio_socks::Error as SocksError;
use tokio_socks::tcp::Socks5Stream;

use crate::config::Proxy;

/// Why a connection through the proxy failed.
#[derive(Debug)]
pub enum ProxyError {
    /// The proxy itself did not work: not reachable, refused our credentials, not SOCKS5.
    Proxy(String),
    /// The connection to the target failed as a direct connect would report it (the proxy's
    /// verdict mapped to its error kind), or the exporter had no socket to start with.
    Target(std::io::Error),
}

/// Connects to `target` through `proxy`.
pub async fn connect(proxy: &Proxy, target: SocketAddr) -> Result<TcpStream, ProxyError> {
    let socket = match TcpStream::connect(&proxy.address).await {
        Ok(s) => s,
        // Out of file descriptors is our trouble of another kind: the caller tells it apart.
        Err(e) if super::local_exhaustion(&e) => return Err(ProxyError::Target(e)),
        Err(e) => return Err(ProxyError::Proxy(format!("connecting to the proxy: {e}"))),
    };
    let stream = match &proxy.credentials {
        None => Socks5Stream::connect_with_socket(socket, target).await,
        Some((user, password)) => {
            Socks5Stream::connect_with_password_and_socket(socket, target, user, password).await
        }
    };
    match stream {
        Ok(s) => Ok(s.into_inner()),
        Err(e) => Err(classify(e)),
    }
}

/// Whether a connection to the proxy itself is accepted (vantage health).
pub async fn accepts(proxy: &Proxy) -> Result<(), String> {
    TcpStream::connect(&proxy.address)
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

fn classify(e: SocksError) -> ProxyError {
    use std::io::ErrorKind;
    let target = |kind: ErrorKind| ProxyError::Target(kind.into());
    match e {
        SocksError::ConnectionRefused => target(ErrorKind::ConnectionRefused),
        SocksError::HostUnreachable | SocksError::NetworkUnreachable => {
            target(ErrorKind::HostUnreachable)
        }
        SocksError::TtlExpired => target(ErrorKind::TimedOut),
        SocksError::GeneralSocksServerFailure => {
            ProxyError::Target(std::io::Error::other("SOCKS5 general failure"))
        }
        // The credentials' words are never in the message: the library's texts carry none.
        other => ProxyError::Proxy(other.to_string()),
    }
}

/// Parses `socks5://[user:password@]host:port` (userinfo percent-decoded).
pub fn parse_url(url: &str) -> Result<Proxy, String> {
    // The URL may hold a password: errors quote it only without the userinfo.
    let shown = match url.rsplit_once('@') {
        Some((_, host)) => format!("socks5://…@{host}"),
        None => url.to_string(),
    };
    let expected =
        || format!("invalid proxy {shown:?}: expected socks5://[USER:PASSWORD@]HOST:PORT");
    let rest = url.strip_prefix("socks5://").ok_or_else(expected)?;
    let rest = rest.trim_end_matches('/');
    let (userinfo, address) = match rest.rsplit_once('@') {
        Some((u, a)) => (Some(u), a),
        None => (None, rest),
    };
    let credentials = match userinfo {
        None => None,
        Some(u) => {
            let (user, password) = u.split_once(':').ok_or_else(expected)?;
            let (user, password) = (decode(user), decode(password));
            let fits =
                |s: &Option<String>| s.as_ref().is_some_and(|s| (1..=255).contains(&s.len()));
            if !fits(&user) || !fits(&password) {
                return Err(format!(
                    "invalid proxy {shown:?}: user and password must each be 1 to 255 bytes"
                ));
            }
            user.zip(password)
        }
    };
    match address.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0) => {
            Ok(Proxy {
                address: address.to_string(),
                credentials,
            })
        }
        _ => Err(expected()),
    }
}

/// Percent-decoding of URL userinfo; `None` when malformed or not UTF-8.
fn decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls() {
        let p = parse_url("socks5://127.0.0.1:1080").unwrap();
        assert_eq!(
            (p.address.as_str(), p.credentials),
            ("127.0.0.1:1080", None)
        );
        let p = parse_url("socks5://bastion.example.net:1080/").unwrap();
        assert_eq!(p.address, "bastion.example.net:1080");
        let p = parse_url("socks5://fed:s%40cret:x@bastion.example.net:1080").unwrap();
        assert_eq!(p.address, "bastion.example.net:1080");
        assert_eq!(
            p.credentials,
            Some(("fed".to_string(), "s@cret:x".to_string()))
        );
        // The password never shows: not in Display, Debug, nor an error.
        assert_eq!(p.to_string(), "bastion.example.net:1080");
        assert!(!format!("{p:?}").contains("cret"));
        let err = parse_url("socks5://fed:hunter2@bastion").unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
        assert_eq!(
            err,
            "invalid proxy \"socks5://…@bastion\": expected socks5://[USER:PASSWORD@]HOST:PORT"
        );
        assert!(parse_url("socks5://:pw@x:1").is_err());
        assert!(parse_url("socks5://user@x:1").is_err());
        assert!(parse_url("socks5://u:%zz@x:1").is_err());
        assert!(parse_url("http://x:1").is_err());
        assert!(parse_url("socks5://x").is_err());
        assert!(parse_url("socks5://x:0").is_err());
    }
}
