//! The HTTP surface: `--web.config.file` (TLS, bcrypt basic auth, headers, re-read on
//! change), the lifecycle flag, the telemetry path, gzip, several listeners, and the limits
//! that keep slow clients from holding the server.

mod common;

use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, ServerName};
use sipfed_exporter::config::Config;
use sipfed_exporter::expose::http::Routes;
use sipfed_exporter::expose::server::{self, Limits, Options};
use sipfed_exporter::expose::webconfig::{LiveWebConfig, WebConfig};
use sipfed_exporter::lab::{Lab, LeafSpec};
use sipfed_exporter::store::{Setup, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

/// The exporter over a one-domain lab configuration on one listener with `limits`; the lab
/// lives as long as the returned handle.
async fn serve(limits: Limits) -> (Lab, Vec<SocketAddr>, CancellationToken) {
    let lab = Lab::start().await.unwrap();
    let path = lab
        .write_config("c.yml", "", "  - domain: a.example\n")
        .unwrap();
    let options = Options {
        limits,
        ..Default::default()
    };
    let (addrs, shutdown) = start(&path, 1, options).await;
    (lab, addrs, shutdown)
}

/// Starts the exporter over `config` on `n` listeners with `options`.
async fn start(config: &Path, n: usize, options: Options) -> (Vec<SocketAddr>, CancellationToken) {
    let store = Store::new(
        Setup::new(Config::load(config).unwrap()).unwrap(),
        Some(config.to_path_buf()),
        Default::default(),
    );
    let mut listeners = Vec::new();
    let mut addrs = Vec::new();
    for _ in 0..n {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        addrs.push(l.local_addr().unwrap());
        listeners.push(l);
    }
    let shutdown = CancellationToken::new();
    tokio::spawn(server::run_with(
        store,
        listeners,
        options,
        shutdown.clone(),
    ));
    (addrs, shutdown)
}

/// One HTTP/1.0 request over plain TCP (the body is then neither chunked nor kept alive);
/// returns the raw response bytes.
async fn raw(addr: SocketAddr, request: &str) -> Vec<u8> {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf).await;
    buf
}

/// Status, head and body of a raw response.
fn split(response: &[u8]) -> (u16, String, Vec<u8>) {
    let end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(response.len());
    let head = String::from_utf8_lossy(&response[..end]).into_owned();
    let status = head.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = response.get(end + 4..).unwrap_or_default().to_vec();
    (status, head, body)
}

/// A GET over TLS trusting `root`: status, head, and the certificate the server presented.
async fn get_tls(
    addr: SocketAddr,
    root: &CertificateDer<'static>,
    auth: Option<&str>,
) -> (u16, String, Option<CertificateDer<'static>>) {
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
    let presented = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first().cloned());
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
    let (status, head, _) = split(&buf);
    (status, head, presented)
}

fn write_leaf(lab: &Lab, name: &str) -> CertificateDer<'static> {
    let leaf = lab.pki.leaf(&LeafSpec::good("localhost")).unwrap();
    std::fs::write(lab.dir.join(format!("{name}.pem")), &leaf.chain_pem).unwrap();
    std::fs::write(lab.dir.join(format!("{name}.key")), &leaf.key_pem).unwrap();
    leaf.chain[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_basic_auth_and_headers_guard_the_endpoints() {
    let lab = Lab::start().await.unwrap();
    write_leaf(&lab, "web");
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    let web_path = lab.dir.join("web.yml");
    std::fs::write(
        &web_path,
        format!(
            "tls_server_config:\n  cert_file: web.pem\n  key_file: web.key\nbasic_auth_users:\n  prometheus: '{hash}'\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n"
        ),
    )
    .unwrap();
    let web = WebConfig::load(&web_path).unwrap();
    let path = lab
        .write_config("c.yml", "", "  - domain: a.example\n")
        .unwrap();
    let options = Options {
        web: Some(LiveWebConfig::fixed(web)),
        ..Default::default()
    };
    let (addrs, shutdown) = start(&path, 1, options).await;
    let addr = addrs[0];

    let root = lab.pki.root_der().clone();
    let (status, head, _) = get_tls(addr, &root, None).await;
    assert_eq!(status, 401);
    // The configured headers go out on every response, refusals included.
    assert!(head.contains("x-frame-options: deny"), "{head}");
    // prometheus:s3cret, prometheus:wrong, and an unknown user nobody:s3cret.
    let (status, head, _) = get_tls(addr, &root, Some("cHJvbWV0aGV1czpzM2NyZXQ=")).await;
    assert_eq!(status, 200);
    assert!(head.contains("x-frame-options: deny"), "{head}");
    assert_eq!(
        get_tls(addr, &root, Some("cHJvbWV0aGV1czp3cm9uZw=="))
            .await
            .0,
        401
    );
    assert_eq!(
        get_tls(addr, &root, Some("bm9ib2R5OnMzY3JldA==")).await.0,
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
            && !err.contains(" at line"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_certificate_is_served_without_restart() {
    let lab = Lab::start().await.unwrap();
    let first = write_leaf(&lab, "web");
    let web_path = lab.dir.join("web.yml");
    std::fs::write(
        &web_path,
        "tls_server_config:\n  cert_file: web.pem\n  key_file: web.key\n",
    )
    .unwrap();
    let path = lab
        .write_config("c.yml", "", "  - domain: a.example\n")
        .unwrap();
    let options = Options {
        web: Some(LiveWebConfig::watch(&web_path).unwrap()),
        ..Default::default()
    };
    let (addrs, shutdown) = start(&path, 1, options).await;
    let root = lab.pki.root_der().clone();
    let (status, _, presented) = get_tls(addrs[0], &root, None).await;
    assert_eq!(status, 200);
    assert_eq!(presented.as_ref(), Some(&first));

    // The certificate is renewed in place; the next connection (after the once-a-second
    // check) gets the new one.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = write_leaf(&lab, "web");
    let mut seen = None;
    for _ in 0..30 {
        seen = get_tls(addrs[0], &root, None).await.2;
        if seen.as_ref() == Some(&second) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen.as_ref(), Some(&second));

    // A broken new version is refused and the running one kept.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    std::fs::write(
        &web_path,
        "tls_server_config:\n  cert_file: missing.pem\n  key_file: web.key\n",
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, _, presented) = get_tls(addrs[0], &root, None).await;
    assert_eq!(status, 200);
    assert_eq!(presented.as_ref(), Some(&second));
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_header_senders_are_cut_off_while_metrics_stay_fast() {
    let lab = Lab::start().await.unwrap();
    let path = lab
        .write_config("c.yml", "", "  - domain: a.example\n")
        .unwrap();
    // Deadlines are the configured header read timeout, not a speed: a slow client is cut off
    // after it (plus a margin for a loaded machine, far below the 10 s a client that is never
    // cut off trickles for), and a scrape never waits for it.
    const HEADER_TIMEOUT: Duration = Duration::from_secs(1);
    const MARGIN: Duration = Duration::from_secs(4);
    let options = Options {
        limits: Limits {
            header_read_timeout: HEADER_TIMEOUT,
            ..Default::default()
        },
        ..Default::default()
    };
    let (addrs, shutdown) = start(&path, 1, options).await;
    let addr = addrs[0];
    // 50 clients trickle a header byte every 100 ms for 10 s and never finish.
    let mut tricklers = Vec::new();
    for _ in 0..50 {
        tricklers.push(tokio::spawn(async move {
            let started = Instant::now();
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(b"GET /metrics HTTP/1.1\r\n").await.unwrap();
            for _ in 0..100 {
                if s.write_all(b"X").await.is_err() {
                    break;
                }
                let mut b = [0u8; 256];
                match tokio::time::timeout(Duration::from_millis(100), s.read(&mut b)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => break,
                    // hyper may answer 408 before closing.
                    Ok(Ok(_)) => continue,
                    Err(_) => {}
                }
            }
            started.elapsed()
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Scrapes are served while the slow clients are still held: none waits for them.
    for _ in 0..5 {
        let (status, body) =
            tokio::time::timeout(HEADER_TIMEOUT, common::http(addr, "GET", "/metrics"))
                .await
                .expect("a scrape waited for the slow clients");
        assert_eq!(status, 200);
        assert!(body.contains("sipfed_"), "{body}");
    }
    for t in tricklers {
        let held = t.await.unwrap();
        // At least the timeout less one trickle period (the client notices at its next read).
        assert!(
            held >= HEADER_TIMEOUT - Duration::from_millis(100) && held < HEADER_TIMEOUT + MARGIN,
            "a slow client was held {held:?} (header read timeout {HEADER_TIMEOUT:?})"
        );
    }
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_telemetry_path_gzip_listeners_and_probe_limit() {
    let lab = Lab::start().await.unwrap();
    let path = lab
        .write_config("c.yml", "", "  - domain: a.example\n")
        .unwrap();

    // Defaults: reload over HTTP refused as in Prometheus.
    let (addrs, shutdown) = start(&path, 1, Options::default()).await;
    let (status, body) = common::http(addrs[0], "POST", "/-/reload").await;
    assert_eq!(status, 403);
    assert!(body.contains("--web.enable-lifecycle"), "{body}");
    shutdown.cancel();

    let options = Options {
        routes: Routes {
            telemetry_path: "/m".into(),
            enable_lifecycle: true,
            probe_concurrency: 0,
            ..Default::default()
        },
        ..Default::default()
    };
    let (addrs, shutdown) = start(&path, 2, options).await;
    for addr in &addrs {
        assert_eq!(common::http(*addr, "GET", "/m").await.0, 200);
        assert_eq!(common::http(*addr, "GET", "/metrics").await.0, 404);
    }
    assert_eq!(common::http(addrs[1], "POST", "/-/reload").await.0, 200);
    // No /probe slot: answered 503, not queued (a queued request would never be answered:
    // no slot ever frees; the timeout only keeps a regression from hanging the test).
    let (status, head, _) = split(
        &tokio::time::timeout(
            Duration::from_secs(30),
            raw(addrs[0], "GET /probe?target=a.example HTTP/1.0\r\n\r\n"),
        )
        .await
        .expect("a /probe without a slot was queued"),
    );
    assert_eq!(status, 503);
    assert!(
        head.to_ascii_lowercase().contains("retry-after: 1"),
        "{head}"
    );

    // gzip when asked for, identity otherwise.
    let (status, head, body) =
        split(&raw(addrs[0], "GET /m HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n").await);
    assert_eq!(status, 200);
    assert!(head.contains("content-encoding: gzip"), "{head}");
    let mut text = String::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_string(&mut text)
        .unwrap();
    assert!(text.contains("# TYPE sipfed_domains gauge"), "{text}");
    let (_, head, body) = split(&raw(addrs[0], "GET /m HTTP/1.0\r\n\r\n").await);
    assert!(!head.contains("content-encoding"), "{head}");
    assert!(String::from_utf8_lossy(&body).contains("# TYPE sipfed_domains gauge"));
    shutdown.cancel();
}

/// A connection from `source` (a loopback address of this host) to `addr`.
async fn connect_from(source: &str, addr: SocketAddr) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    socket.connect(addr).await.unwrap()
}

/// Whether the server closes `s` within `within` (EOF or reset; anything it sends first, such
/// as a 408 or an HTTP/2 GOAWAY, is read past).
async fn closed_within(s: &mut tokio::net::TcpStream, within: Duration) -> bool {
    let mut b = [0u8; 1024];
    tokio::time::timeout(within, async {
        loop {
            match s.read(&mut b).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_from_one_address_leave_room_for_others() {
    let (_lab, addrs, shutdown) = serve(Limits {
        header_read_timeout: Duration::from_secs(5),
        max_connections: 40,
        max_connections_per_address: 20,
        ..Default::default()
    })
    .await;
    let addr = addrs[0];
    // 100 connections from 127.0.0.2 that never send a byte: 20 are held, 80 closed at once.
    let mut silent = Vec::new();
    for _ in 0..100 {
        silent.push(connect_from("127.0.0.2", addr).await);
    }
    let looks = silent.into_iter().map(|mut s| async move {
        // Closed at accept, well before the 5 s deadline closes the others.
        let closed = closed_within(&mut s, Duration::from_secs(1)).await;
        (closed, s)
    });
    let mut refused = 0;
    let mut held = Vec::new();
    for (closed, s) in futures::future::join_all(looks).await {
        if closed {
            refused += 1;
        } else {
            held.push(s);
        }
    }
    assert_eq!(refused, 80);
    assert_eq!(held.len(), 20);
    // 127.0.0.1 still gets its scrape while they are open (the total limit is 40); without the
    // per-address limit it would wait for the deadline to free a slot.
    let scrape = tokio::time::timeout(
        Duration::from_secs(3),
        common::http(addr, "GET", "/metrics"),
    )
    .await;
    let (status, body) = scrape.expect("a scrape from another address is served");
    assert_eq!(status, 200);
    assert!(
        body.contains("sipfed_http_connections_rejected_total{reason=\"per_address\"}"),
        "{body}"
    );
    // The basic-auth queue's refusals are a family of their own (none here).
    assert!(
        body.contains("sipfed_http_requests_rejected_total{reason=\"auth_busy\"} 0\n"),
        "{body}"
    );
    // The header deadline runs from accept: the silent ones are closed.
    for mut s in held {
        assert!(closed_within(&mut s, Duration::from_secs(10)).await);
    }
    let (_, body) = common::http(addr, "GET", "/metrics").await;
    let count = |reason: &str| -> f64 {
        let needle = format!("sipfed_http_connections_rejected_total{{reason=\"{reason}\"}} ");
        body.lines()
            .find_map(|l| l.strip_prefix(needle.as_str()))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    assert!(count("per_address") >= 80.0, "{body}");
    assert!(count("header_timeout") >= 20.0, "{body}");
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_preface_alone_is_closed() {
    let (_lab, addrs, shutdown) = serve(Limits {
        header_read_timeout: Duration::from_secs(1),
        ..Default::default()
    })
    .await;
    let mut s = tokio::net::TcpStream::connect(addrs[0]).await.unwrap();
    // The client preface and an empty SETTINGS frame, then nothing: no request ever.
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    // Closed by the first-request deadline (1 s), long before the idle timeout (120 s).
    assert!(closed_within(&mut s, Duration::from_secs(5)).await);
    shutdown.cancel();
}

/// Reads from `s` until the server closes it (EOF, a reset, or an HTTP/2 GOAWAY), answering
/// HTTP/2 PINGs as a live client does; `None` when it is still open at `within`, else the
/// number of pings answered.
async fn answer_pings_until_closed(
    s: &mut tokio::net::TcpStream,
    within: Duration,
) -> Option<usize> {
    let mut pings = 0;
    let read = async {
        loop {
            let mut head = [0u8; 9];
            if s.read_exact(&mut head).await.is_err() {
                return pings;
            }
            let len = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
            let mut payload = vec![0u8; len];
            if s.read_exact(&mut payload).await.is_err() {
                return pings;
            }
            match (head[3], head[4]) {
                // PING without ACK: answer it.
                (6, 0) => {
                    pings += 1;
                    let mut ack = vec![0, 0, 8, 6, 1, 0, 0, 0, 0];
                    ack.extend_from_slice(&payload);
                    if s.write_all(&ack).await.is_err() {
                        return pings;
                    }
                }
                // GOAWAY: the server is closing the connection.
                (7, _) => return pings,
                _ => {}
            }
        }
    };
    tokio::time::timeout(within, read).await.ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_http2_connection_answering_pings_is_closed() {
    let (_lab, addrs, shutdown) = serve(Limits {
        idle_timeout: Duration::from_secs(2),
        http2_keep_alive_interval: Duration::from_millis(200),
        ..Default::default()
    })
    .await;
    let mut s = tokio::net::TcpStream::connect(addrs[0]).await.unwrap();
    // Preface, empty SETTINGS, then one request (GET /-/healthy, HPACK: :method GET,
    // :scheme http, :path literal, :authority literal), END_STREAM | END_HEADERS on stream 1.
    let mut block = vec![0x82, 0x86, 0x44, 10];
    block.extend_from_slice(b"/-/healthy");
    block.extend_from_slice(&[0x41, 4]);
    block.extend_from_slice(b"test");
    let mut frames =
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00".to_vec();
    frames.extend_from_slice(&[0, 0, block.len() as u8, 1, 5, 0, 0, 0, 1]);
    frames.extend_from_slice(&block);
    s.write_all(&frames).await.unwrap();
    // Pinged every 200 ms and answering each, it is still closed after 2 s without a
    // request (well within 20 s; pings counted as activity would keep it open for good).
    let pings = answer_pings_until_closed(&mut s, Duration::from_secs(20))
        .await
        .expect("the idle connection is closed although it answers pings");
    assert!(
        pings >= 3,
        "only {pings} pings: the test did not exercise them"
    );
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_is_closed_at_its_maximum_age() {
    let (_lab, addrs, shutdown) = serve(Limits {
        max_connection_age: Duration::from_secs(1),
        header_read_timeout: Duration::from_secs(60),
        idle_timeout: Duration::from_secs(60),
        ..Default::default()
    })
    .await;
    let mut s = tokio::net::TcpStream::connect(addrs[0]).await.unwrap();
    // A keep-alive HTTP/1.1 request, answered; then the connection waits for the next.
    s.write_all(b"GET /-/healthy HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).await.unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
    // Idle and header timeouts are a minute away: only its age closes it.
    assert!(
        closed_within(&mut s, Duration::from_secs(20)).await,
        "the connection outlived its maximum age"
    );
    shutdown.cancel();
}

/// GET `path` over TLS trusting `root`, presenting `client` (chain, key) if given: the
/// status, or 0 when the handshake or the exchange fails (a refused client certificate
/// shows on TLS 1.3 only when the server's alert arrives).
async fn tls_status(
    addr: SocketAddr,
    root: &CertificateDer<'static>,
    client: Option<&sipfed_exporter::lab::Leaf>,
) -> u16 {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root.clone()).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let config = match client {
        Some(leaf) => builder
            .with_client_auth_cert(leaf.chain.clone(), leaf.key.clone_key())
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let Ok(mut tls) = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
    else {
        return 0;
    };
    if tls
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .is_err()
    {
        return 0;
    }
    let mut buf = Vec::new();
    let _ = tls.read_to_end(&mut buf).await;
    split(&buf).0
}

/// Serves over a one-domain lab configuration with the web config `text` (written to
/// web.yml in the lab's directory and loaded as the binary does).
async fn serve_web(lab: &Lab, text: &str) -> (SocketAddr, CancellationToken) {
    let web_path = lab.dir.join("web.yml");
    std::fs::write(&web_path, text).unwrap();
    let web = WebConfig::load(&web_path).unwrap();
    let path = lab
        .write_config("c.yml", "", "  - domain: a.example\n")
        .unwrap();
    let options = Options {
        web: Some(LiveWebConfig::fixed(web)),
        ..Default::default()
    };
    let (addrs, shutdown) = start(&path, 1, options).await;
    (addrs[0], shutdown)
}

/// `rate_limit` (exporter-toolkit v0.17): a bucket of `burst` requests over every endpoint,
/// one more per `interval`, 429 beyond it; fails without the limiter (all 200).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_answers_429_beyond_the_burst() {
    let lab = Lab::start().await.unwrap();
    let (addr, shutdown) = serve_web(&lab, "rate_limit:\n  interval: 1m\n  burst: 3\n").await;
    let mut statuses = Vec::new();
    for path in ["/metrics", "/-/healthy", "/", "/metrics", "/-/healthy"] {
        statuses.push(common::http(addr, "GET", path).await.0);
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    shutdown.cancel();

    // A short interval gives a token back: after it, one more request passes.
    let (addr, shutdown) =
        serve_web(&lab, "rate_limit:\n  interval: \"300ms\"\n  burst: 1\n").await;
    assert_eq!(common::http(addr, "GET", "/metrics").await.0, 200);
    assert_eq!(common::http(addr, "GET", "/metrics").await.0, 429);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(common::http(addr, "GET", "/metrics").await.0, 200);
    shutdown.cancel();

    // interval 0: no limiter (the toolkit's web_config_rate_limiter_nonblocking.yaml).
    let (addr, shutdown) = serve_web(&lab, "rate_limit:\n  interval: 0\n  burst: 0\n").await;
    for _ in 0..10 {
        assert_eq!(common::http(addr, "GET", "/-/healthy").await.0, 200);
    }
    shutdown.cancel();

    let web_path = lab.dir.join("bad.yml");
    std::fs::write(&web_path, "rate_limit:\n  interval: 1x\n  burst: 1\n").unwrap();
    let err = WebConfig::load(&web_path).unwrap_err().to_string();
    assert!(err.contains("invalid duration"), "{err}");
}

/// `tls_server_config.client_allowed_sans`: a client certificate under the client CA is
/// accepted only with one of the listed SANs; fails without the SAN check (the other
/// certificate would be served).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_allowed_sans_refuse_a_certificate_without_a_listed_san() {
    let lab = Lab::start().await.unwrap();
    write_leaf(&lab, "web");
    let (addr, shutdown) = serve_web(
        &lab,
        &format!(
            "tls_server_config:\n  cert_file: web.pem\n  key_file: web.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {}\n  client_allowed_sans:\n    - other.example\n    - prometheus.client.example\n",
            lab.ca_file().display()
        ),
    )
    .await;
    let root = lab.pki.root_der().clone();
    let allowed = lab
        .pki
        .leaf(&LeafSpec::good("prometheus.client.example"))
        .unwrap();
    let stranger = lab
        .pki
        .leaf(&LeafSpec::good("stranger.client.example"))
        .unwrap();
    assert_eq!(tls_status(addr, &root, Some(&allowed)).await, 200);
    assert_eq!(tls_status(addr, &root, Some(&stranger)).await, 0);
    assert_eq!(tls_status(addr, &root, None).await, 0);
    shutdown.cancel();

    // Without client_allowed_sans the same stranger is served: the refusal above is the SAN
    // check's, not the chain's.
    let (addr, shutdown) = serve_web(
        &lab,
        &format!(
            "tls_server_config:\n  cert_file: web.pem\n  key_file: web.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {}\n",
            lab.ca_file().display()
        ),
    )
    .await;
    assert_eq!(tls_status(addr, &root, Some(&stranger)).await, 200);
    shutdown.cancel();
}

/// Inline `cert`, `key` and `client_ca` PEM serve TLS as the files would: the server presents
/// the inline certificate and verifies clients against the inline CA.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_pem_serves_tls() {
    let lab = Lab::start().await.unwrap();
    let leaf = lab.pki.leaf(&LeafSpec::good("localhost")).unwrap();
    let ca = std::fs::read_to_string(lab.ca_file()).unwrap();
    let indent = |pem: &str| {
        pem.lines()
            .map(|l| format!("    {l}\n"))
            .collect::<String>()
    };
    let (addr, shutdown) = serve_web(
        &lab,
        &format!(
            "tls_server_config:\n  cert: |\n{}  key: |\n{}  client_auth_type: RequireAndVerifyClientCert\n  client_ca: |\n{}",
            indent(&leaf.chain_pem),
            indent(&leaf.key_pem),
            indent(&ca)
        ),
    )
    .await;
    let root = lab.pki.root_der().clone();
    let client = lab
        .pki
        .leaf(&LeafSpec::good("prometheus.client.example"))
        .unwrap();
    assert_eq!(tls_status(addr, &root, Some(&client)).await, 200);
    assert_eq!(tls_status(addr, &root, None).await, 0);
    // A client certificate from another CA is not under the inline client_ca.
    let foreign = sipfed_exporter::lab::Pki::named("foreign").unwrap();
    let outsider = foreign.leaf(&LeafSpec::good("outsider.example")).unwrap();
    assert_eq!(tls_status(addr, &root, Some(&outsider)).await, 0);
    shutdown.cancel();

    // Missing inline key, and a key that is not PEM: refused, naming the key, never quoting it.
    let web_path = lab.dir.join("bad.yml");
    std::fs::write(
        &web_path,
        "tls_server_config:\n  cert_file: web.pem\n  key: \"\"\n",
    )
    .unwrap();
    let err = WebConfig::load(&web_path).unwrap_err().to_string();
    assert!(err.contains("missing one of key or key_file"), "{err}");
    write_leaf(&lab, "web");
    std::fs::write(
        &web_path,
        "tls_server_config:\n  cert_file: web.pem\n  key: not-a-key-s3cret\n",
    )
    .unwrap();
    let err = WebConfig::load(&web_path).unwrap_err().to_string();
    assert!(
        err.contains("tls_server_config.key:") && !err.contains("s3cret"),
        "{err}"
    );
}

/// Every `href="…"` of an HTML page.
fn hrefs(html: &str) -> Vec<&str> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect()
}

/// Polls `path` until it answers 200 (at most 10 s).
async fn wait_for(addr: SocketAddr, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if tokio::net::TcpStream::connect(addr).await.is_ok()
            && common::http(addr, "GET", path).await.0 == 200
        {
            return;
        }
        assert!(Instant::now() < deadline, "{path} never answered 200");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `--web.systemd-socket` serves on the socket systemd passes as fd 3 (LISTEN_FDS=1,
/// LISTEN_PID = the exporter's pid, set by `sh` before it execs the exporter), not on
/// `--web.listen-address` (a non-local address here, which could not be bound); with
/// `--web.route-prefix=/sipfed` every endpoint answers under /sipfed, every link of the status
/// page starts with /sipfed/, `/` redirects there (as blackbox_exporter does) and the
/// unprefixed endpoints are 404. Fails without either flag (the exporter exits at start, or
/// /metrics answers at the root).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systemd_socket_and_route_prefix_serve_under_the_prefix() {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let lab = Lab::start().await.unwrap();
    let config = lab
        .write_config("c.yml", "", "  - domain: a.example\n")
        .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let fd = listener.as_raw_fd();
    let mut command = std::process::Command::new("sh");
    command
        .arg("-c")
        .arg("LISTEN_PID=$$ LISTEN_FDS=1 exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_sipfed_exporter"))
        .arg(format!("--config.file={}", config.display()))
        .arg("--web.listen-address=192.0.2.1:9")
        .arg("--web.systemd-socket")
        .arg("--web.route-prefix=/sipfed")
        .stdout(std::process::Stdio::null());
    // SAFETY: between fork and exec only async-signal-safe calls (dup2, fcntl).
    unsafe {
        command.pre_exec(move || {
            if fd == 3 {
                if libc::fcntl(3, libc::F_SETFD, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(fd, 3) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    /// Kills the exporter when the test ends, failed or not.
    struct Reap(std::process::Child);
    impl Drop for Reap {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let child = Reap(command.spawn().unwrap());
    drop(listener);
    wait_for(addr, "/sipfed/-/healthy").await;

    let (status, body) = common::http(addr, "GET", "/sipfed/metrics").await;
    assert_eq!(status, 200);
    assert!(body.contains("sipfed_"), "{body}");
    // Ready once a.example has its first result (a probe, not a moment): under the prefix.
    wait_for(addr, "/sipfed/-/ready").await;
    assert_eq!(
        common::http(addr, "GET", "/sipfed/api/v1/domains").await.0,
        200
    );
    for page in ["/sipfed/", "/sipfed", "/sipfed/?state=ok"] {
        let (status, body) = common::http(addr, "GET", page).await;
        assert_eq!(status, 200, "{page}");
        let links = hrefs(&body);
        assert!(links.contains(&"/sipfed/metrics"), "{page}: {links:?}");
        if !page.contains('?') {
            assert!(
                links.iter().any(|l| l.starts_with("/sipfed/domain/")),
                "{page}: {links:?}"
            );
        }
        for l in links
            .iter()
            .filter(|l| !l.starts_with("http") && !l.starts_with('#'))
        {
            assert!(l.starts_with("/sipfed/"), "{page}: link {l}");
        }
    }
    let (status, body) = common::http(addr, "GET", "/sipfed/domain/default/a.example").await;
    assert_eq!(status, 200);
    for l in hrefs(&body)
        .iter()
        .filter(|l| !l.starts_with("http") && !l.starts_with('#'))
    {
        assert!(l.starts_with("/sipfed/"), "domain page link {l}");
    }
    let (status, head, _) = split(&raw(addr, "GET / HTTP/1.0\r\n\r\n").await);
    assert_eq!(status, 302);
    assert!(head.contains("location: /sipfed/"), "{head}");
    for outside in [
        "/metrics",
        "/-/healthy",
        "/sipfedx/metrics",
        "/domain/default/a.example",
    ] {
        assert_eq!(common::http(addr, "GET", outside).await.0, 404, "{outside}");
    }
    drop(child);

    // Without sockets from systemd the flag is an error at start, naming the trouble.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sipfed_exporter"))
        .arg(format!("--config.file={}", config.display()))
        .arg("--web.systemd-socket")
        .env_remove("LISTEN_FDS")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no socket activation file descriptors"),
        "{err}"
    );
}

/// `--web.external-url` alone: the route prefix defaults to its path; with
/// `--web.route-prefix=/` (a proxy that strips the path) the endpoints answer at the root and
/// the links still carry the external path, as in Prometheus.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_external_url_gives_the_links_their_path() {
    let lab = Lab::start().await.unwrap();
    let path = lab
        .write_config("c.yml", "", "  - domain: a.example\n")
        .unwrap();
    for (route_prefix, page) in [(None, "/fed/sub/"), (Some("/".to_string()), "/")] {
        let options = Options {
            routes: Routes {
                external_url: Some("https://proxy.example/fed/sub/".into()),
                route_prefix: route_prefix.clone(),
                ..Default::default()
            },
            ..Default::default()
        };
        let (addrs, shutdown) = start(&path, 1, options).await;
        let (status, body) = common::http(addrs[0], "GET", page).await;
        assert_eq!(status, 200, "{route_prefix:?}");
        let links = hrefs(&body);
        assert!(links.contains(&"/fed/sub/metrics"), "{links:?}");
        for l in links
            .iter()
            .filter(|l| !l.starts_with("http") && !l.starts_with('#'))
        {
            assert!(l.starts_with("/fed/sub/"), "{route_prefix:?}: link {l}");
        }
        let metrics = if route_prefix.is_none() {
            "/fed/sub/metrics"
        } else {
            "/metrics"
        };
        assert_eq!(common::http(addrs[0], "GET", metrics).await.0, 200);
        if route_prefix.is_none() {
            // `/` goes to the external URL, as blackbox_exporter redirects it.
            let (status, head, _) = split(&raw(addrs[0], "GET / HTTP/1.0\r\n\r\n").await);
            assert_eq!(status, 302);
            assert!(
                head.contains("location: https://proxy.example/fed/sub/"),
                "{head}"
            );
        }
        shutdown.cancel();
    }
}
