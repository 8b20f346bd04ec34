//! The lab: an in-process simulated federation world on loopback — DNS (hickory-server) with
//! zones built in code, TLS/SIP peers on their own `127.x.y.z:5061` addresses with rcgen
//! certificates and fault modes. It serves the tests, the benchmark and `demo`.

pub mod demo;
pub mod dns;
pub mod peer;
pub mod pki;
pub mod revocation;
pub mod socks;
pub mod world;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use dns::{Fault, Zone};
pub use peer::{Behavior, LAB_DIAGNOSTICS, Peer, SipMode};
pub use pki::{Leaf, LeafSpec, Pki, Signer};
pub use revocation::{Answer, RevocationCa};

/// Accepts connections on `listener` until `shutdown`, serving each on `tracker` with `handle`
/// (also cut off at shutdown).
fn accept_loop<F, Fut>(
    listener: TcpListener,
    tracker: &TaskTracker,
    shutdown: CancellationToken,
    handle: F,
) where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let inner = tracker.clone();
    tracker.spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = shutdown.cancelled() => return,
                a = listener.accept() => a,
            };
            let Ok((stream, _)) = accepted else { continue };
            let served = handle(stream);
            let shutdown = shutdown.clone();
            inner.spawn(async move {
                tokio::select! {
                    _ = shutdown.cancelled() => {}
                    _ = served => {}
                }
            });
        }
    });
}

/// A running lab world. Dropping it stops its servers.
pub struct Lab {
    /// The zone every lab DNS server answers from (unless given its own).
    pub zone: Arc<Zone>,
    /// Address of the main DNS server (UDP and TCP).
    pub dns: SocketAddr,
    pub pki: Pki,
    /// A directory for files the lab writes (the root CA as `ca.pem`, configs).
    pub dir: PathBuf,
    tracker: TaskTracker,
    shutdown: CancellationToken,
    servers: Vec<Box<dyn std::any::Any + Send>>,
}

impl Lab {
    /// Starts an empty world: a DNS server and fresh CAs.
    pub async fn start() -> std::io::Result<Lab> {
        let zone = Arc::new(Zone::default());
        let (dns, server) = dns::serve(zone.clone()).await?;
        let pki = Pki::new().map_err(std::io::Error::other)?;
        let dir =
            std::env::temp_dir().join(format!("sipfed-lab-{}-{}", std::process::id(), dns.port()));
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("ca.pem"), &pki.root_pem)?;
        Ok(Lab {
            zone,
            dns,
            pki,
            dir,
            tracker: TaskTracker::new(),
            shutdown: CancellationToken::new(),
            servers: vec![Box::new(server)],
        })
    }

    /// Starts another DNS server with its own zone (a second resolver that disagrees).
    pub async fn extra_dns(&mut self, zone: Arc<Zone>) -> std::io::Result<SocketAddr> {
        let (addr, server) = dns::serve(zone).await?;
        self.servers.push(Box::new(server));
        Ok(addr)
    }

    /// Starts a DNS server with its own zone on `addr` (e.g. `127.x.y.z:53` to play an
    /// authoritative name server, which needs the privilege to bind port 53).
    pub async fn dns_on(
        &mut self,
        zone: Arc<Zone>,
        addr: SocketAddr,
    ) -> std::io::Result<SocketAddr> {
        let (addr, server) = dns::serve_on(zone, addr).await?;
        self.servers.push(Box::new(server));
        Ok(addr)
    }

    /// Path of the lab root CA (for `ca_file`).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// Starts a peer on a fresh loopback address at port `port`.
    pub async fn peer_on(&self, behavior: Behavior, port: u16) -> std::io::Result<Peer> {
        peer::spawn(
            behavior,
            port,
            self.pki.root_der(),
            &self.tracker,
            self.shutdown.clone(),
        )
        .await
    }

    /// Starts a peer at port 5061.
    pub async fn peer(&self, behavior: Behavior) -> std::io::Result<Peer> {
        self.peer_on(behavior, 5061).await
    }

    /// Starts a peer behaving as `behavior` and publishes it as `domain`'s federation server
    /// `sip.<domain>` (SRV and address): the one way tests put a partner into the world.
    pub async fn serve(&self, domain: &str, behavior: Behavior) -> std::io::Result<Peer> {
        let p = self.peer(behavior).await?;
        self.publish(domain, &format!("sip.{domain}"), p.address);
        Ok(p)
    }

    /// [`Lab::serve`] of a TLS peer presenting a certificate made from `spec`, answering
    /// OPTIONS as `sip`.
    pub async fn serve_tls(
        &self,
        domain: &str,
        spec: &LeafSpec,
        sip: SipMode,
    ) -> std::io::Result<Peer> {
        let leaf = self.pki.leaf(spec).map_err(std::io::Error::other)?;
        let behavior = Behavior::Tls {
            leaf,
            request_client_cert: false,
            sip,
        };
        self.serve(domain, behavior).await
    }

    /// A TLS peer presenting a certificate made from `spec`, answering OPTIONS with 200.
    pub async fn tls_peer(&self, spec: &LeafSpec) -> std::io::Result<Peer> {
        let leaf = self.pki.leaf(spec).map_err(std::io::Error::other)?;
        self.peer(Behavior::Tls {
            leaf,
            request_client_cert: false,
            sip: SipMode::Answer(200),
        })
        .await
    }

    /// Starts an issuing CA under the lab root with its CRL and OCSP server on loopback.
    pub async fn revocation_ca(&self) -> std::io::Result<RevocationCa> {
        let (params, key) = self.pki.root_signer();
        RevocationCa::start(params, key, &self.tracker, self.shutdown.clone()).await
    }

    /// Starts a SOCKS5 proxy on loopback.
    pub async fn socks(&self) -> std::io::Result<socks::Socks> {
        socks::spawn(&self.tracker, self.shutdown.clone(), None).await
    }

    /// Starts a SOCKS5 proxy on loopback that demands this username and password.
    pub async fn socks_with_password(
        &self,
        user: &str,
        password: &str,
    ) -> std::io::Result<socks::Socks> {
        let credentials = Some((user.to_string(), password.to_string()));
        socks::spawn(&self.tracker, self.shutdown.clone(), credentials).await
    }

    /// Publishes an open-federation domain: SRV to `target:port`, `target` A to `addr`'s IP.
    pub fn publish(&self, domain: &str, target: &str, addr: SocketAddr) {
        self.zone.federation_srv(domain, 0, 0, addr.port(), target);
        self.zone.addr(target, addr.ip());
    }

    /// Publishes a fleet sharing one edge: each `(domain, target)` gets its SRV record to
    /// `target` on `edge`'s port, each distinct target one address record of `edge`. Returns
    /// the `domains:` entries (peers) for [`Lab::write_config`].
    pub fn publish_fleet(&self, edge: SocketAddr, fleet: &[(String, String)]) -> String {
        let mut targets = std::collections::HashSet::new();
        let mut entries = String::new();
        for (domain, target) in fleet {
            self.zone.federation_srv(domain, 0, 0, edge.port(), target);
            if targets.insert(target.as_str()) {
                self.zone.addr(target, edge.ip());
            }
            entries.push_str(&format!("  - domain: {domain}\n"));
        }
        entries
    }

    /// Writes a configuration file using the lab's DNS and CA; `domains` is the YAML list
    /// under `domains:` (indented by two spaces), `global_extra` more `global:` keys.
    pub fn write_config(
        &self,
        file: &str,
        global_extra: &str,
        domains: &str,
    ) -> std::io::Result<PathBuf> {
        self.write_config_with_tenants(file, global_extra, "", domains)
    }

    /// [`Lab::write_config`] with a `tenants:` section (`tenants`: its entries, indented by
    /// two spaces), placed before `domains:` so more domains can be appended to the file.
    pub fn write_config_with_tenants(
        &self,
        file: &str,
        global_extra: &str,
        tenants: &str,
        domains: &str,
    ) -> std::io::Result<PathBuf> {
        let path = self.dir.join(file);
        let tenants = if tenants.is_empty() {
            String::new()
        } else {
            format!("tenants:\n{tenants}")
        };
        let text = format!(
            "global:\n  interval: 30s\n  timeout: 5s\n  ca_file: {}\n{global_extra}vantages:\n  inside:\n    resolvers: [\"{}\"]\n{tenants}domains:\n{domains}",
            self.ca_file().display(),
            self.dns
        );
        std::fs::write(&path, text)?;
        Ok(path)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.shutdown.cancel();
        self.tracker.close();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
