//! `--web.config.file`: TLS and bcrypt basic auth in front of every endpoint.

mod common;

use std::sync::Arc;

use rustls::pki_types::ServerName;
use sipfed_exporter::config::Config;
use sipfed_exporter::expose::webconfig::WebConfig;
use sipfed_exporter::lab::{Lab, LeafSpec};
use sipfed_exporter::store::{Setup, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn get(
    addr: std::net::SocketAddr,
    root: &rustls::pki_types::CertificateDer<'static>,
    auth: Option<&str>,
) -> u16 {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root.clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("TLS to the exporter");
    let auth = auth
        .map(|a| format!("Authorization: Basic {a}\r\n"))
        .unwrap_or_default();
    tls.write_all(
        format!("GET /metrics HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = Vec::new();
    let _ = tls.read_to_end(&mut buf).await;
    let text = String::from_utf8_lossy(&buf);
    text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_basic_auth_guard_the_endpoints() {
    let lab = Lab::start().await.unwrap();
    let leaf = lab.pki.leaf(&LeafSpec::good("localhost")).unwrap();
    std::fs::write(lab.dir.join("web.pem"), &leaf.chain_pem).unwrap();
    std::fs::write(lab.dir.join("web.key"), &leaf.key_pem).unwrap();
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    let web_path = lab.dir.join("web.yml");
    std::fs::write(
        &web_path,
        format!("tls_server_config:\n  cert_file: web.pem\n  key_file: web.key\nbasic_auth_users:\n  prometheus: '{hash}'\n"),
    )
    .unwrap();
    let web = WebConfig::load(&web_path).unwrap();
    let path = lab
        .write_config("c.yml", "", "  - domain: a.example\n")
        .unwrap();
    let exporter = Store::new(
        Setup::new(Config::load(&path).unwrap()).unwrap(),
        None,
        Default::default(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    tokio::spawn(sipfed_exporter::expose::server::run_with(
        exporter,
        listener,
        Some(web),
        shutdown.clone(),
    ));

    let root = lab.pki.root_der().clone();
    assert_eq!(get(addr, &root, None).await, 401);
    // prometheus:s3cret and prometheus:wrong
    assert_eq!(
        get(addr, &root, Some("cHJvbWV0aGV1czpzM2NyZXQ=")).await,
        200
    );
    assert_eq!(
        get(addr, &root, Some("cHJvbWV0aGV1czp3cm9uZw==")).await,
        401
    );
    // Plain HTTP gets no answer from a TLS port.
    let (status, _) = common::http(addr, "GET", "/metrics").await;
    assert_eq!(status, 0);
    shutdown.cancel();

    // A web config with an unknown key or a plain-text password is refused with its place.
    std::fs::write(&web_path, "basic_auth_users:\n  prometheus: s3cret\n").unwrap();
    let err = WebConfig::load(&web_path).unwrap_err().to_string();
    assert!(
        err.contains("basic_auth_users.prometheus: expected a bcrypt hash"),
        "{err}"
    );
    std::fs::write(
        &web_path,
        "tls_server_config:\n  cert_file: web.pem\n  key_file: web.key\n  bogus: 1\n",
    )
    .unwrap();
    let err = WebConfig::load(&web_path).unwrap_err().to_string();
    assert!(
        err.contains("web.yml:4:3: tls_server_config: unknown field `bogus`")
            && !err.contains(" at line")
            && err.contains("unknown field `bogus`"),
        "{err}"
    );
}
