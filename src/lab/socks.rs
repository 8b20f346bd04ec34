//! A SOCKS5 server for the lab (CONNECT; no authentication, or username/password per RFC 1929
//! when started with credentials): plays the outside host a vantage proxies through. Counts the
//! connections it relayed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A running lab proxy.
pub struct Socks {
    pub address: SocketAddr,
    /// CONNECT requests relayed so far.
    pub relayed: Arc<AtomicUsize>,
}

/// Starts a SOCKS5 proxy on 127.0.0.1:0; with `credentials`, only clients presenting them
/// (username/password authentication) are served.
pub async fn spawn(
    tracker: &TaskTracker,
    shutdown: CancellationToken,
    credentials: Option<(String, String)>,
) -> std::io::Result<Socks> {
    let credentials = Arc::new(credentials);
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let relayed = Arc::new(AtomicUsize::new(0));
    let count = relayed.clone();
    super::accept_loop(listener, tracker, shutdown, move |client| {
        let count = count.clone();
        let credentials = credentials.clone();
        async move {
            let _ = relay(client, count, &credentials).await;
        }
    });
    Ok(Socks { address, relayed })
}

async fn relay(
    mut client: TcpStream,
    count: Arc<AtomicUsize>,
    credentials: &Option<(String, String)>,
) -> std::io::Result<()> {
    let mut head = [0u8; 2];
    client.read_exact(&mut head).await?;
    let mut methods = vec![0u8; usize::from(head[1])];
    client.read_exact(&mut methods).await?;
    match credentials {
        None => client.write_all(&[5, 0]).await?,
        Some(_) if !methods.contains(&2) => {
            // No acceptable method.
            client.write_all(&[5, 0xff]).await?;
            return Ok(());
        }
        Some((user, password)) => {
            client.write_all(&[5, 2]).await?;
            // RFC 1929: version 1, ulen, user, plen, password.
            let mut ver_len = [0u8; 2];
            client.read_exact(&mut ver_len).await?;
            let mut u = vec![0u8; usize::from(ver_len[1])];
            client.read_exact(&mut u).await?;
            let mut plen = [0u8; 1];
            client.read_exact(&mut plen).await?;
            let mut p = vec![0u8; usize::from(plen[0])];
            client.read_exact(&mut p).await?;
            if u != user.as_bytes() || p != password.as_bytes() {
                client.write_all(&[1, 1]).await?;
                return Ok(());
            }
            client.write_all(&[1, 0]).await?;
        }
    }
    let mut req = [0u8; 4];
    client.read_exact(&mut req).await?;
    let ip = match req[3] {
        1 => {
            let mut b = [0u8; 4];
            client.read_exact(&mut b).await?;
            IpAddr::V4(Ipv4Addr::from(b))
        }
        4 => {
            let mut b = [0u8; 16];
            client.read_exact(&mut b).await?;
            IpAddr::V6(Ipv6Addr::from(b))
        }
        _ => return Ok(()),
    };
    let mut port = [0u8; 2];
    client.read_exact(&mut port).await?;
    let target = SocketAddr::new(ip, u16::from_be_bytes(port));
    count.fetch_add(1, Ordering::Relaxed);
    match TcpStream::connect(target).await {
        Ok(mut upstream) => {
            client.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        }
        Err(e) => {
            let code = if e.kind() == std::io::ErrorKind::ConnectionRefused {
                5
            } else {
                1
            };
            client.write_all(&[5, code, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
        }
    }
    Ok(())
}
