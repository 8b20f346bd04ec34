//! `tenants.*.viewers` and `global.see_all` (docs/configuration.md "Who sees which tenants"):
//! two viewers of different tenants, a see_all user and a stranger on every endpoint, by basic
//! auth and by a verified client certificate's SAN.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, ServerName};
use sipfed_exporter::config::Config;
use sipfed_exporter::expose::server::{self, Options};
use sipfed_exporter::expose::webconfig::{LiveWebConfig, WebConfig};
use sipfed_exporter::lab::{Lab, LeafSpec};
use sipfed_exporter::store::{Setup, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

const TENANTS: &str =
    "  alpha:\n    viewers: [alice, alpha.client.example]\n  beta:\n    viewers: [bob]\n";
const DOMAINS: &str = "  - domain: alpha-one.example\n    tenant: alpha\n  - domain: beta-secret.example\n    tenant: beta\n";

/// The exporter over the two-tenant lab configuration with the web config `web` (written to
/// the lab's directory).
async fn start(
    lab: &Lab,
    web: &str,
    global: &str,
    tenants: &str,
) -> (SocketAddr, CancellationToken) {
    let web_path = lab.dir.join("web.yml");
    std::fs::write(&web_path, web).unwrap();
    let web = WebConfig::load(&web_path).unwrap();
    let path = lab
        .write_config_with_tenants("c.yml", global, tenants, DOMAINS)
        .unwrap();
    let store = Store::new(
        Setup::new(Config::load(&path).unwrap()).unwrap(),
        Some(path.clone()),
        Default::default(),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let options = Options {
        web: Some(LiveWebConfig::fixed(web)),
        ..Default::default()
    };
    tokio::spawn(server::run_with(store, vec![l], options, shutdown.clone()));
    (addr, shutdown)
}

/// GET `path` as `user` (password `pw`), HTTP/1.0: status and body.
async fn get(addr: SocketAddr, user: Option<&str>, path: &str) -> (u16, String) {
    request(addr, "GET", user, path).await
}

/// `method path` as `user` (password `pw`), HTTP/1.0: status and body.
async fn request(addr: SocketAddr, method: &str, user: Option<&str>, path: &str) -> (u16, String) {
    use base64::Engine;
    let auth = user
        .map(|u| {
            let b = base64::engine::general_purpose::STANDARD.encode(format!("{u}:pw"));
            format!("Authorization: Basic {b}\r\n")
        })
        .unwrap_or_default();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("{method} {path} HTTP/1.0\r\nHost: t\r\nContent-Length: 0\r\n{auth}\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf).await;
    split(&buf)
}

fn split(buf: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(buf).into_owned();
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Waits until every domain has a report (`/-/ready` as `user`).
async fn ready(addr: SocketAddr, user: Option<&str>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(addr, user, "/-/ready").await.0 != 200 {
        assert!(Instant::now() < deadline, "not ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every tenant-showing endpoint, as (path, the status for the domain's own viewer).
fn endpoints(domain: &str, tenant: &str) -> Vec<String> {
    vec![
        format!("/domain/{tenant}/{domain}"),
        format!("/api/v1/domains/{tenant}/{domain}"),
        format!("/probe?domain={domain}"),
        format!("/probe?domain={domain}&tenant={tenant}"),
    ]
}

/// Fails without the viewers: alice and bob would see both tenants (200 for the other's
/// domain, its name on the status page, the API list and /metrics) and the stranger 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_see_only_their_tenants_see_all_everything_strangers_nothing() {
    let lab = Lab::start().await.unwrap();
    let hash = bcrypt::hash("pw", 4).unwrap();
    let web = format!(
        "basic_auth_users:\n  alice: '{hash}'\n  bob: '{hash}'\n  prom: '{hash}'\n  eve: '{hash}'\n"
    );
    let (addr, shutdown) = start(&lab, &web, "  see_all: [prom]\n", TENANTS).await;
    ready(addr, Some("prom")).await;

    // The see_all user sees both tenants everywhere.
    for path in ["/", "/api/v1/domains", "/metrics"] {
        let (status, body) = get(addr, Some("prom"), path).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            body.contains("alpha-one.example") && body.contains("beta-secret.example"),
            "{path}: {body}"
        );
    }
    for (d, t) in [
        ("alpha-one.example", "alpha"),
        ("beta-secret.example", "beta"),
    ] {
        for path in endpoints(d, t) {
            assert_eq!(get(addr, Some("prom"), &path).await.0, 200, "prom {path}");
        }
    }
    // The see_all user reaches reload (refused here only because lifecycle is off).
    let (status, body) = request(addr, "POST", Some("prom"), "/-/reload").await;
    assert_eq!(status, 403);
    assert!(body.contains("Lifecycle API is not enabled"), "{body}");
    // The exporter's own series are the see_all user's.
    assert!(
        get(addr, Some("prom"), "/metrics")
            .await
            .1
            .contains("sipfed_exporter_build_info")
    );

    // Each viewer: its own tenant's domain everywhere, never a trace of the other's.
    for (user, own, own_tenant, other, other_tenant) in [
        (
            "alice",
            "alpha-one.example",
            "alpha",
            "beta-secret.example",
            "beta",
        ),
        (
            "bob",
            "beta-secret.example",
            "beta",
            "alpha-one.example",
            "alpha",
        ),
    ] {
        for path in [
            "/",
            "/api/v1/domains",
            "/metrics",
            "/?tenant=beta",
            "/?tenant=alpha",
        ] {
            let (status, body) = get(addr, Some(user), path).await;
            assert_eq!(status, 200, "{user} {path}");
            assert!(!body.contains(other), "{user} {path}: {body}");
            if path.contains(&format!("tenant={other_tenant}")) {
                // Filtering by the other tenant looks like filtering by one that does not
                // exist (the page repeats only the filter asked for).
                let (_, none) = get(addr, Some(user), "/?tenant=nosuch").await;
                assert_eq!(
                    body.replace(other_tenant, "X"),
                    none.replace("nosuch", "X"),
                    "{user} {path}"
                );
            } else {
                assert!(
                    !body.contains(&format!("\"{other_tenant}\"")),
                    "{user} {path}: {body}"
                );
            }
            if !path.contains("tenant=") {
                assert!(body.contains(own), "{user} {path}: {body}");
            }
        }
        let (_, metrics) = get(addr, Some(user), "/metrics").await;
        assert!(!metrics.contains("sipfed_exporter_build_info"), "{metrics}");
        assert!(
            metrics.contains(&format!("tenant=\"{own_tenant}\"")),
            "{metrics}"
        );
        for path in endpoints(own, own_tenant) {
            let (status, body) = get(addr, Some(user), &path).await;
            assert_eq!(status, 200, "{user} {path}");
            assert!(!body.contains(other), "{user} {path}: {body}");
        }
        // The other tenant's domain answers as an unconfigured one does.
        for path in endpoints(other, other_tenant) {
            let (status, body) = get(addr, Some(user), &path).await;
            assert_eq!(status, 404, "{user} {path}");
            let unknown = path.replace(other, "nothing.example");
            assert_eq!(
                body.replace(other, "X"),
                get(addr, Some(user), &unknown)
                    .await
                    .1
                    .replace("nothing.example", "X"),
                "{user} {path}"
            );
        }
        assert_eq!(get(addr, Some(user), "/runbooks").await.0, 200);
        // Reloading acts on every tenant: not a viewer's.
        let (status, body) = request(addr, "POST", Some(user), "/-/reload").await;
        assert_eq!(status, 403);
        assert!(body.contains("see_all"), "{body}");
    }

    // A stranger (authenticated, named by no tenant) is refused everywhere but health and
    // readiness; no credentials stay the web config's 401.
    for path in [
        "/",
        "/metrics",
        "/api/v1/domains",
        "/domain/alpha/alpha-one.example",
        "/api/v1/domains/alpha/alpha-one.example",
        "/probe?domain=alpha-one.example",
        "/runbooks",
    ] {
        assert_eq!(get(addr, Some("eve"), path).await.0, 403, "eve {path}");
        assert_eq!(get(addr, None, path).await.0, 401, "anonymous {path}");
    }
    assert_eq!(get(addr, Some("eve"), "/-/healthy").await.0, 200);
    assert_eq!(get(addr, Some("eve"), "/-/ready").await.0, 200);
    shutdown.cancel();

    // Without any viewers, nothing changes: the stranger sees both tenants, anonymous is 401.
    let (addr, shutdown) = start(&lab, &web, "  see_all: [prom]\n", "  alpha: {}\n").await;
    ready(addr, Some("eve")).await;
    for path in ["/", "/api/v1/domains", "/metrics"] {
        let (status, body) = get(addr, Some("eve"), path).await;
        assert_eq!(status, 200, "{path}");
        assert!(body.contains("beta-secret.example"), "{path}: {body}");
    }
    assert_eq!(
        get(addr, Some("eve"), "/domain/beta/beta-secret.example")
            .await
            .0,
        200
    );
    assert_eq!(get(addr, None, "/").await.0, 401);
    shutdown.cancel();
}

/// A verified client certificate's SAN is a viewer's name too (no basic auth): the viewer's
/// certificate sees its tenant only, a certificate no tenant names is refused (403). Fails
/// without the SANs passed from the TLS connection (the viewer would be refused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_san_is_a_viewer() {
    let lab = Lab::start().await.unwrap();
    let leaf = lab.pki.leaf(&LeafSpec::good("localhost")).unwrap();
    std::fs::write(lab.dir.join("web.pem"), &leaf.chain_pem).unwrap();
    std::fs::write(lab.dir.join("web.key"), &leaf.key_pem).unwrap();
    let web = format!(
        "tls_server_config:\n  cert_file: web.pem\n  key_file: web.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {}\n",
        lab.ca_file().display()
    );
    let (addr, shutdown) = start(&lab, &web, "", TENANTS).await;
    let root = lab.pki.root_der().clone();
    let viewer = lab
        .pki
        .leaf(&LeafSpec::good("alpha.client.example"))
        .unwrap();
    let stranger = lab
        .pki
        .leaf(&LeafSpec::good("stranger.client.example"))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while get_tls(addr, &root, &viewer, "/-/ready").await.0 != 200 {
        assert!(Instant::now() < deadline, "not ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for path in ["/", "/api/v1/domains", "/metrics"] {
        let (status, body) = get_tls(addr, &root, &viewer, path).await;
        assert_eq!(status, 200, "{path}");
        assert!(body.contains("alpha-one.example"), "{path}: {body}");
        assert!(!body.contains("beta-secret.example"), "{path}: {body}");
    }
    assert_eq!(
        get_tls(addr, &root, &viewer, "/domain/beta/beta-secret.example")
            .await
            .0,
        404
    );
    assert_eq!(get_tls(addr, &root, &stranger, "/").await.0, 403);
    assert_eq!(get_tls(addr, &root, &stranger, "/metrics").await.0, 403);
    assert_eq!(get_tls(addr, &root, &stranger, "/-/healthy").await.0, 200);
    shutdown.cancel();

    // A certificate only required, its chain not verified (RequireAnyClientCert), proves no
    // name: the same viewer certificate is refused. Fails if unverified SANs counted.
    let web = "tls_server_config:\n  cert_file: web.pem\n  key_file: web.key\n  client_auth_type: RequireAnyClientCert\n";
    let (addr, shutdown) = start(&lab, web, "", TENANTS).await;
    assert_eq!(get_tls(addr, &root, &viewer, "/").await.0, 403);
    assert_eq!(get_tls(addr, &root, &viewer, "/-/healthy").await.0, 200);
    shutdown.cancel();
}

/// GET `path` over TLS trusting `root`, presenting `client`: status and body.
async fn get_tls(
    addr: SocketAddr,
    root: &CertificateDer<'static>,
    client: &sipfed_exporter::lab::Leaf,
    path: &str,
) -> (u16, String) {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root.clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_client_auth_cert(client.chain.clone(), client.key.clone_key())
    .unwrap();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("TLS to the exporter");
    tls.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tls.read_to_end(&mut buf).await;
    split(&buf)
}
