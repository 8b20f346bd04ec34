//! A minimal SOCKS5 client (RFC 1928, CONNECT, no authentication): a vantage's `proxy` makes
//! its TCP connections start on a host outside, e.g. `ssh -D 1080 outside-host`.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Connects to `target` through the SOCKS5 proxy at `proxy` (`host:port`).
pub async fn connect(proxy: &str, target: SocketAddr) -> std::io::Result<TcpStream> {
    let mut s = TcpStream::connect(proxy).await?;
    // Greeting: version 5, one method, "no authentication".
    s.write_all(&[5, 1, 0]).await?;
    let mut reply = [0u8; 2];
    s.read_exact(&mut reply).await?;
    if reply != [5, 0] {
        return Err(std::io::Error::other(
            "SOCKS5 proxy refused unauthenticated access",
        ));
    }
    let mut req = vec![5, 1, 0];
    match target {
        SocketAddr::V4(a) => {
            req.push(1);
            req.extend_from_slice(&a.ip().octets());
        }
        SocketAddr::V6(a) => {
            req.push(4);
            req.extend_from_slice(&a.ip().octets());
        }
    }
    req.extend_from_slice(&target.port().to_be_bytes());
    s.write_all(&req).await?;
    let mut head = [0u8; 4];
    s.read_exact(&mut head).await?;
    if head[0] != 5 {
        return Err(std::io::Error::other("not a SOCKS5 proxy"));
    }
    let bound_len = match head[3] {
        1 => 4,
        4 => 16,
        3 => {
            let mut n = [0u8; 1];
            s.read_exact(&mut n).await?;
            usize::from(n[0])
        }
        _ => return Err(std::io::Error::other("malformed SOCKS5 reply")),
    };
    let mut rest = vec![0u8; bound_len + 2];
    s.read_exact(&mut rest).await?;
    match head[1] {
        0 => Ok(s),
        // The proxy's own verdict on the connection, mapped to what a direct connect would say.
        5 => Err(std::io::ErrorKind::ConnectionRefused.into()),
        3 | 4 => Err(std::io::ErrorKind::HostUnreachable.into()),
        6 => Err(std::io::ErrorKind::TimedOut.into()),
        code => Err(std::io::Error::other(format!("SOCKS5 proxy error {code}"))),
    }
}

/// Parses `socks5://host:port` into `host:port`.
pub fn parse_url(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("socks5://")
        .ok_or_else(|| format!("invalid proxy {url:?}: expected socks5://HOST:PORT"))?;
    let rest = rest.trim_end_matches('/');
    match rest.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0) => {
            Ok(rest.to_string())
        }
        _ => Err(format!(
            "invalid proxy {url:?}: expected socks5://HOST:PORT"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls() {
        assert_eq!(
            parse_url("socks5://127.0.0.1:1080").unwrap(),
            "127.0.0.1:1080"
        );
        assert_eq!(
            parse_url("socks5://bastion.example.net:1080/").unwrap(),
            "bastion.example.net:1080"
        );
        assert!(parse_url("http://x:1").is_err());
        assert!(parse_url("socks5://x").is_err());
        assert!(parse_url("socks5://x:0").is_err());
    }
}
