//! A SOCKS5 server for the lab (CONNECT, no authentication): plays the outside host a vantage
//! proxies through. Counts the connections it relayed.

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

/// Starts a SOCKS5 proxy on 127.0.0.1:0.
pub async fn spawn(tracker: &TaskTracker, shutdown: CancellationToken) -> std::io::Result<Socks> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let relayed = Arc::new(AtomicUsize::new(0));
    let count = relayed.clone();
    super::accept_loop(listener, tracker, shutdown, move |client| {
        let count = count.clone();
        async move {
            let _ = relay(client, count).await;
        }
    });
    Ok(Socks { address, relayed })
}

async fn relay(mut client: TcpStream, count: Arc<AtomicUsize>) -> std::io::Result<()> {
    let mut head = [0u8; 2];
    client.read_exact(&mut head).await?;
    let mut methods = vec![0u8; usize::from(head[1])];
    client.read_exact(&mut methods).await?;
    client.write_all(&[5, 0]).await?;
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
