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
        SocksError::HostUnreachable => target(ErrorKind::HostUnreachable),
        // The proxy's host has no route for the family: as ENETUNREACH on our own host.
        SocksError::NetworkUnreachable => {
            ProxyError::Target(std::io::Error::from_raw_os_error(101))
        }
        SocksError::TtlExpired => target(ErrorKind::TimedOut),
        SocksError::GeneralSocksServerFailure => {
            ProxyError::Target(std::io::Error::other("SOCKS5 general failure"))
        }
        // The credentials' words are never in the message: the library's texts carry none.
        other => ProxyError::Proxy(other.to_string()),
    }
}
