//! The fault matrix: one hostile or broken behaviour per test — of a partner's DNS, TCP, TLS
//! and SIP, and of the exporter's own means — each asserting the check it fails and the
//! reason, or that the check is absent when the trouble is ours (SPEC §5).

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{check, probe_lab, reason};
use sipfed_exporter::lab::{Behavior, Fault, Lab, LeafSpec, SipMode};

/// Publishes `domain` with its SRV to `sip.<domain>` at a peer behaving as `b`.
async fn behaving(lab: &Lab, domain: &str, b: Behavior) -> SocketAddr {
    lab.serve(domain, b).await.unwrap().address
}

/// A TLS peer with a good certificate whose SIP side behaves as `sip`.
async fn sip_peer(lab: &Lab, domain: &str, sip: SipMode) {
    let spec = LeafSpec::good(&format!("sip.{domain}"));
    lab.serve_tls(domain, &spec, sip).await.unwrap();
}

/// Probes one peer domain of the lab with the given extra `global:` keys.
async fn probe_one(lab: &Lab, global: &str, domain: &str) -> String {
    probe_lab(lab, global, &common::peer(domain)).await.0
}

#[tokio::test]
async fn a_target_at_the_unspecified_address_is_never_connected_to() {
    let lab = Lab::start().await.unwrap();
    // Something listens locally: connecting to 0.0.0.0 would reach it.
    let local = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = local.local_addr().unwrap().port();
    lab.zone
        .federation_srv("zero.example", 0, 0, port, "sip.zero.example");
    lab.zone
        .addr("sip.zero.example", "0.0.0.0".parse().unwrap());
    lab.zone
        .federation_srv("linklocal.example", 0, 0, port, "sip.linklocal.example");
    lab.zone
        .addr("sip.linklocal.example", "169.254.169.254".parse().unwrap());
    let domains = format!(
        "{}{}",
        common::peer("zero.example"),
        common::peer("linklocal.example")
    );
    let (m, _) = probe_lab(&lab, "", &domains).await;
    for d in ["zero.example", "linklocal.example"] {
        assert_eq!(check(&m, d, "tcp_connect"), Some(0.0), "{d}");
        assert_eq!(
            reason(&m, d, "tcp_connect").as_deref(),
            Some("forbidden_address"),
            "{d}"
        );
        assert_eq!(check(&m, d, "tls_handshake"), None, "{d}");
    }
    let accepted = tokio::time::timeout(Duration::from_millis(200), local.accept()).await;
    assert!(accepted.is_err(), "the exporter connected to its own host");
}

/// How a row of the matrix sets up its one partner domain.
enum World {
    /// A peer behaving as built from the lab, published as `sip.<domain>`.
    Peer(fn(&Lab) -> Behavior),
    /// A TLS peer with a good certificate whose SIP side behaves so.
    Sip(SipMode),
    /// A healthy TLS peer whose SRV name has this DNS fault.
    Dns(Fault),
}

/// One row of the fault matrix: `domain` set up as `world`, probed once from the lab, and
/// `(check, wanted sipfed_check_success, wanted reason)` rows that must all hold (`None`
/// success: the check is absent). A failure names the test, the domain and every wrong row.
async fn fault(domain: &str, world: World, rows: &[(&str, Option<f64>, Option<&str>)]) {
    let lab = Lab::start().await.unwrap();
    match world {
        World::Peer(b) => {
            behaving(&lab, domain, b(&lab)).await;
        }
        World::Sip(sip) => sip_peer(&lab, domain, sip).await,
        World::Dns(f) => dns_fault(&lab, domain, f).await,
    }
    let (m, results) = probe_lab(&lab, "", &common::peer(domain)).await;
    let cases: Vec<common::Case<'_>> = rows
        .iter()
        .map(|&(c, want, r)| (domain, c, want, r))
        .collect();
    let failures = common::case_failures(&m, &results, &cases);
    assert!(failures.is_empty(), "{}\n{m}", failures.join("\n"));
}

/// Asserts that `check` of `domain` failed with `want`.
fn assert_fails(m: &str, domain: &str, c: &str, want: &str) {
    assert_eq!(check(m, domain, c), Some(0.0), "{domain} {c}:\n{m}");
    assert_eq!(reason(m, domain, c).as_deref(), Some(want), "{domain} {c}");
}

#[tokio::test]
async fn tls_garbage_instead_of_server_hello() {
    fault(
        "garbage.example",
        World::Peer(|_| Behavior::Garbage),
        &[
            ("tcp_connect", Some(1.0), None),
            ("tls_handshake", Some(0.0), Some("handshake_failure")),
        ],
    )
    .await;
}

#[tokio::test]
async fn sip_silence() {
    fault(
        "silent.example",
        World::Sip(SipMode::Silent),
        &[
            ("tls_handshake", Some(1.0), None),
            ("sip_options", Some(0.0), Some("timeout")),
        ],
    )
    .await;
}

#[tokio::test]
async fn sip_garbage() {
    fault(
        "garbage.example",
        World::Sip(SipMode::Garbage),
        &[("sip_options", Some(0.0), Some("not_sip"))],
    )
    .await;
}

#[tokio::test]
async fn sip_endless_stream() {
    fault(
        "flood.example",
        World::Sip(SipMode::Flood),
        &[("sip_options", Some(0.0), Some("not_sip"))],
    )
    .await;
}

#[tokio::test]
async fn sip_wrong_call_id() {
    fault(
        "wrongid.example",
        World::Sip(SipMode::WrongCallId),
        &[("sip_options", Some(0.0), Some("mismatch"))],
    )
    .await;
}

/// A lab config with two vantages: `inside` on the lab DNS, `outside` as given.
fn two_vantages(lab: &Lab, file: &str, outside: &str, domains: &str) -> std::path::PathBuf {
    let text = format!(
        "global:\n  interval: 30s\n  timeout: 3s\n  ca_file: {}\nvantages:\n  inside:\n    resolvers: [\"{}\"]\n  outside:\n{outside}domains:\n{domains}",
        lab.ca_file().display(),
        lab.dns
    );
    let path = lab.dir.join(file);
    std::fs::write(&path, text).unwrap();
    path
}

/// A UDP and TCP port on loopback where no resolver answers (bound, silent).
async fn dead_resolver() -> (std::net::UdpSocket, SocketAddr) {
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = udp.local_addr().unwrap();
    (udp, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vantage_whose_resolver_is_down_judges_nothing_and_says_so() {
    let lab = Lab::start().await.unwrap();
    sip_peer(&lab, "partner.example", SipMode::Answer(200)).await;
    let (_silent, dead) = dead_resolver().await;
    let outside = format!("    resolvers: [\"{dead}\"]\n");
    let path = two_vantages(&lab, "down.yml", &outside, &common::peer("partner.example"));
    let (m, reports) = common::probe_all(&path).await;
    let at =
        |vantage: &str, c: &str| common::check_success(&m, &[("vantage", vantage), ("check", c)]);
    assert_eq!(at("inside", "srv_present"), Some(1.0));
    assert_eq!(at("inside", "sip_options"), Some(1.0));
    // Not one failed check at the broken vantage: it could not look.
    assert_eq!(at("outside", "srv_present"), None, "{m}");
    // Nor partner-looking data: no "0 SRV records", no "platform none".
    let outside_series = |family: &str| {
        m.lines()
            .filter(|l| l.starts_with(family) && l.contains("vantage=\"outside\""))
            .count()
    };
    assert_eq!(outside_series("sipfed_srv_records{"), 0, "{m}");
    assert_eq!(outside_series("sipfed_platform_info{"), 0, "{m}");
    assert_eq!(outside_series("sipfed_probe_timestamp_seconds{"), 1, "{m}");
    assert!(
        !m.lines()
            .any(|l| l.starts_with("sipfed_check_failure_info{")),
        "{m}"
    );
    let outside = reports[0]
        .vantages
        .iter()
        .find(|v| v.vantage == "outside")
        .unwrap();
    assert_eq!(
        outside.facts.blind,
        Some(sipfed_exporter::facts::Blind::ResolversDown)
    );

    // The exporter says so about itself.
    let config = sipfed_exporter::config::Config::load(&path).unwrap();
    let store = sipfed_exporter::store::Store::new(
        sipfed_exporter::store::Setup::new(config).unwrap(),
        None,
        Default::default(),
    );
    store.setup().prober.check_vantages().await;
    let page = String::from_utf8(sipfed_exporter::expose::metrics::render(&store)).unwrap();
    assert!(
        page.contains("sipfed_vantage_up{vantage=\"inside\"} 1\n"),
        "{page}"
    );
    assert!(
        page.contains("sipfed_vantage_up{vantage=\"outside\"} 0\n"),
        "{page}"
    );
    assert!(
        page.contains("sipfed_vantage_info{vantage=\"outside\",public=\"false\",proxy=\"\"} 1\n"),
        "{page}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_first_resolver_while_the_second_answers_is_the_vantages_trouble() {
    let lab = Lab::start().await.unwrap();
    sip_peer(&lab, "partner.example", SipMode::Answer(200)).await;
    let (_silent, dead) = dead_resolver().await;
    let outside = format!("    resolvers: [\"{dead}\", \"{}\"]\n", lab.dns);
    let path = two_vantages(
        &lab,
        "silent.yml",
        &outside,
        &common::peer("partner.example"),
    );
    let (m, reports) = common::probe_all(&path).await;
    let at = |c: &str| common::check_success(&m, &[("vantage", "outside"), ("check", c)]);
    // The partner's checks go on with the answering resolver's view.
    for c in [
        "srv_present",
        "target_resolves",
        "tcp_connect",
        "tls_handshake",
        "sip_options",
    ] {
        assert_eq!(at(c), Some(1.0), "{c}: {m}");
    }
    // The vantage's trouble, named in resolvers_agree (a warning) and nowhere as the partner's.
    assert_eq!(at("resolvers_agree"), Some(0.0), "{m}");
    assert_eq!(
        common::value(
            &m,
            "sipfed_check_failure_info",
            &[
                ("vantage", "outside"),
                ("check", "resolvers_agree"),
                ("reason", "timeout")
            ]
        ),
        Some(1.0),
        "{m}"
    );
    let outside = reports[0]
        .vantages
        .iter()
        .find(|v| v.vantage == "outside")
        .unwrap();
    let agree = outside
        .findings
        .iter()
        .find(|f| f.check.as_str() == "resolvers_agree")
        .unwrap();
    assert!(
        agree.message.starts_with(&format!(
            "resolver {dead} did not answer _sipfederationtls._tcp.partner.example. (timeout)"
        )),
        "{}",
        agree.message
    );
    assert_eq!(outside.state.as_str(), "warning");
    assert_eq!(
        common::value(&m, "sipfed_srv_records", &[("vantage", "outside")]),
        Some(1.0),
        "{m}"
    );

    // And on the vantage: not every resolver answers.
    let config = sipfed_exporter::config::Config::load(&path).unwrap();
    let store = sipfed_exporter::store::Store::new(
        sipfed_exporter::store::Setup::new(config).unwrap(),
        None,
        Default::default(),
    );
    store.setup().prober.check_vantages().await;
    let page = String::from_utf8(sipfed_exporter::expose::metrics::render(&store)).unwrap();
    assert!(
        page.contains("sipfed_vantage_up{vantage=\"outside\"} 0\n"),
        "{page}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vantage_whose_proxy_is_down_judges_no_connection() {
    let lab = Lab::start().await.unwrap();
    sip_peer(&lab, "partner.example", SipMode::Answer(200)).await;
    // A port that refuses: the proxy is not there.
    let gone = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let gone_addr = gone.local_addr().unwrap();
    drop(gone);
    let outside = format!(
        "    resolvers: [\"{}\"]\n    proxy: socks5://fed:s3cret@{gone_addr}\n",
        lab.dns
    );
    let path = two_vantages(
        &lab,
        "noproxy.yml",
        &outside,
        &common::peer("partner.example"),
    );
    let (m, _) = common::probe_all(&path).await;
    let at =
        |vantage: &str, c: &str| common::check_success(&m, &[("vantage", vantage), ("check", c)]);
    assert_eq!(at("inside", "tcp_connect"), Some(1.0));
    assert_eq!(at("outside", "srv_present"), Some(1.0));
    assert_eq!(at("outside", "tcp_connect"), None, "{m}");
    assert_eq!(at("outside", "tls_handshake"), None, "{m}");
    // "Ready" needs evidence: no edge was reached from outside, so no outbound verdict there.
    let ready = |vantage: &str| {
        common::value(
            &m,
            "sipfed_federation_ready",
            &[("vantage", vantage), ("direction", "outbound")],
        )
    };
    assert_eq!(ready("inside"), Some(1.0), "{m}");
    assert_eq!(ready("outside"), None, "{m}");

    let config = sipfed_exporter::config::Config::load(&path).unwrap();
    let store = sipfed_exporter::store::Store::new(
        sipfed_exporter::store::Setup::new(config).unwrap(),
        None,
        Default::default(),
    );
    store.setup().prober.check_vantages().await;
    let page = String::from_utf8(sipfed_exporter::expose::metrics::render(&store)).unwrap();
    assert!(
        page.contains("sipfed_vantage_up{vantage=\"outside\"} 0\n"),
        "{page}"
    );
    let info = format!(
        "sipfed_vantage_info{{vantage=\"outside\",public=\"false\",proxy=\"{gone_addr}\"}} 1\n"
    );
    assert!(page.contains(&info), "{page}");
    assert!(!page.contains("s3cret"), "the proxy password leaked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socks5_proxy_with_username_and_password() {
    let lab = Lab::start().await.unwrap();
    sip_peer(&lab, "partner.example", SipMode::Answer(200)).await;
    let socks = lab.socks_with_password("fed", "s3cret").await.unwrap();
    let outside = format!(
        "    resolvers: [\"{}\"]\n    proxy: socks5://fed:s3cret@{}\n",
        lab.dns, socks.address
    );
    let path = two_vantages(&lab, "auth.yml", &outside, &common::peer("partner.example"));
    let (m, _) = common::probe_all(&path).await;
    let at = |c: &str| common::check_success(&m, &[("vantage", "outside"), ("check", c)]);
    assert_eq!(at("tcp_connect"), Some(1.0), "{m}");
    assert_eq!(at("sip_options"), Some(1.0), "{m}");
    assert_eq!(socks.relayed.load(std::sync::atomic::Ordering::Relaxed), 1);

    // Wrong credentials: the proxy refuses us, which is our trouble, not the partner's.
    let outside = format!(
        "    resolvers: [\"{}\"]\n    proxy: socks5://fed:wrong@{}\n",
        lab.dns, socks.address
    );
    let path = two_vantages(
        &lab,
        "badauth.yml",
        &outside,
        &common::peer("partner.example"),
    );
    let (m, _) = common::probe_all(&path).await;
    let at = |c: &str| common::check_success(&m, &[("vantage", "outside"), ("check", c)]);
    assert_eq!(at("tcp_connect"), None, "{m}");
    assert_eq!(socks.relayed.load(std::sync::atomic::Ordering::Relaxed), 1);
}

/// Publishes `domain` with a healthy TLS peer and applies `fault` to its SRV name.
async fn dns_fault(lab: &Lab, domain: &str, fault: Fault) {
    sip_peer(lab, domain, SipMode::Answer(200)).await;
    lab.zone
        .fault(&format!("_sipfederationtls._tcp.{domain}"), fault);
}

#[tokio::test]
async fn dns_timeout() {
    fault(
        "silent.example",
        World::Dns(Fault::Silence),
        &[
            // The resolver answers its health query: the silence is about the partner's name.
            ("srv_present", Some(0.0), Some("timeout")),
            ("tcp_connect", None, None),
        ],
    )
    .await;
}

#[tokio::test]
async fn dns_servfail() {
    fault(
        "servfail.example",
        World::Dns(Fault::Servfail),
        &[("srv_present", Some(0.0), Some("servfail"))],
    )
    .await;
}

#[tokio::test]
async fn dns_bogus_is_told_from_servfail_by_asking_with_cd() {
    // A validating resolver: SERVFAIL with EDE 7 (signature expired), the records with CD.
    fault(
        "bogus.example",
        World::Dns(Fault::Bogus(7)),
        &[("srv_present", Some(0.0), Some("dnssec_bogus"))],
    )
    .await;
    let lab = Lab::start().await.unwrap();
    dns_fault(&lab, "bogus.example", Fault::Bogus(7)).await;
    let (_, results) = probe_lab(&lab, "", &common::peer("bogus.example")).await;
    let srv = results[0].vantages[0]
        .findings
        .iter()
        .find(|f| f.check.as_str() == "srv_present")
        .unwrap();
    assert!(
        srv.message
            .ends_with("; resolver said EDE 7 (Signature Expired): lab resolver"),
        "{}",
        srv.message
    );
}

#[tokio::test]
async fn dns_no_reachable_authority_from_a_healthy_resolver_is_the_partners_servfail() {
    // EDE 22 may be the resolver's own lost upstream: judged with the vantage's health, which
    // is up here (the lab answers its health query), so the failure stands.
    fault(
        "unreachable.example",
        World::Dns(Fault::NoAuthority),
        &[("srv_present", Some(0.0), Some("servfail"))],
    )
    .await;
}

#[tokio::test]
async fn dns_refused() {
    fault(
        "refused.example",
        World::Dns(Fault::Refused),
        &[("srv_present", Some(0.0), Some("refused"))],
    )
    .await;
}

#[tokio::test]
async fn dns_truncated_udp_answer_falls_back_to_tcp() {
    fault(
        "truncated.example",
        World::Dns(Fault::Truncate),
        &[
            ("srv_present", Some(1.0), None),
            ("sip_options", Some(1.0), None),
        ],
    )
    .await;
}

#[tokio::test]
async fn dns_cname_loop() {
    let lab = Lab::start().await.unwrap();
    let z = &lab.zone;
    z.federation_srv("loop.example", 0, 0, 5061, "sip.loop.example");
    z.cname("sip.loop.example", "edge.loop.example");
    z.cname("edge.loop.example", "sip.loop.example");
    let m = probe_one(&lab, "", "loop.example").await;
    assert_fails(&m, "loop.example", "srv_target_not_alias", "cname");
    assert_eq!(
        check(&m, "loop.example", "target_resolves"),
        Some(0.0),
        "{m}"
    );
    assert_eq!(check(&m, "loop.example", "tcp_connect"), None);
}

#[tokio::test]
async fn dns_500_srv_records() {
    let lab = Lab::start().await.unwrap();
    for i in 0..500 {
        lab.zone.federation_srv(
            "many.example",
            (i % 7) as u16,
            i as u16,
            5061,
            &format!("sip{i}.many.example"),
        );
    }
    use std::sync::atomic::Ordering::Relaxed;
    let before = lab.zone.queries.load(Relaxed);
    let m = probe_one(&lab, "", "many.example").await;
    let queries = lab.zone.queries.load(Relaxed) - before;
    assert_eq!(check(&m, "many.example", "srv_present"), Some(1.0), "{m}");
    assert_eq!(
        common::value(&m, "sipfed_srv_records", &[("domain", "many.example")]),
        Some(500.0)
    );
    let series = m
        .lines()
        .filter(|l| l.starts_with("sipfed_srv_target_info{"))
        .count();
    assert_eq!(series, 16, "at most 16 SRV series");
    // The targets have no address: the probe tried the few most preferred, not 500. Counted at
    // the DNS: the SRV, the Microsoft 365 records and a handful of names per tried target stay
    // under 100 queries; resolving all 500 targets would take at least 1,000 (A and AAAA).
    assert_fails(&m, "many.example", "target_resolves", "nxdomain");
    assert!(queries < 100, "{queries} DNS queries for one probe");
}

#[tokio::test]
async fn tcp_blackhole() {
    fault(
        "blackhole.example",
        World::Peer(|_| Behavior::Blackhole),
        &[
            ("tcp_connect", Some(0.0), Some("timeout")),
            ("tls_handshake", None, None),
        ],
    )
    .await;
}

#[tokio::test]
async fn tcp_reset_after_accept() {
    fault(
        "reset.example",
        World::Peer(|_| Behavior::ResetAfterAccept),
        &[
            ("tcp_connect", Some(1.0), None),
            ("tls_handshake", Some(0.0), Some("closed")),
        ],
    )
    .await;
}

#[tokio::test]
async fn tls_trickling_one_byte_per_second() {
    fault(
        "trickle.example",
        World::Peer(|_| Behavior::Trickle),
        &[
            ("tcp_connect", Some(1.0), None),
            ("tls_handshake", Some(0.0), Some("timeout")),
        ],
    )
    .await;
}

/// A real `openssl s_server` on loopback, TLS 1.2 only, offering only the cipher suites
/// `ciphers` (OpenSSL names), with an RSA certificate for `name` made by `openssl req`.
/// Killed when dropped.
async fn openssl_server(
    lab: &Lab,
    name: &str,
    ciphers: &str,
) -> (SocketAddr, tokio::process::Child) {
    let dir = lab.dir.join(format!("openssl-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = tokio::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .args([
            "-subj",
            &format!("/CN={name}"),
            "-addext",
            &format!("subjectAltName=DNS:{name}"),
        ])
        .output()
        .await
        .expect("openssl runs");
    assert!(
        made.status.success(),
        "openssl req: {}",
        String::from_utf8_lossy(&made.stderr)
    );
    loop {
        let address = SocketAddr::new(sipfed_exporter::lab::peer::next_loopback(), 5061);
        let mut child = tokio::process::Command::new("openssl")
            .args([
                "s_server", "-quiet", "-tls1_2", "-cipher", ciphers, "-accept",
            ])
            .arg(address.to_string())
            .arg("-cert")
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("openssl s_server starts");
        // Ready once it accepts TCP; gone (address taken) means another address.
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(address).await.is_ok() {
                return (address, child);
            }
            if child.try_wait().unwrap().is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill().await;
    }
}

/// An edge that offers only static-RSA CBC suites (OpenSSL `AES128-SHA`, TLS 1.2): our rustls
/// client has none of those, so the handshake fails with `no_shared_cipher`, and the message
/// names what we offer and that the probe lacks CBC and static RSA. The same openssl with an
/// ECDHE-GCM suite completes the handshake.
#[tokio::test]
async fn tls_no_shared_cipher_with_openssl_s_server() {
    let lab = Lab::start().await.unwrap();
    let (old, _old) = openssl_server(&lab, "sip.cbc.example", "AES128-SHA").await;
    lab.publish("cbc.example", "sip.cbc.example", old);
    let (new, _new) = openssl_server(&lab, "sip.gcm.example", "ECDHE-RSA-AES128-GCM-SHA256").await;
    lab.publish("gcm.example", "sip.gcm.example", new);
    let domains = format!(
        "{}{}",
        common::peer("cbc.example"),
        common::peer("gcm.example")
    );
    let (m, reports) = probe_lab(&lab, "", &domains).await;
    assert_eq!(check(&m, "cbc.example", "tcp_connect"), Some(1.0), "{m}");
    assert_fails(&m, "cbc.example", "tls_handshake", "no_shared_cipher");
    let said = common::message(&reports, "cbc.example", "tls_handshake");
    for part in [
        "accepts none of the cipher suites this probe offers",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS13_AES_128_GCM_SHA256",
        "no CBC and no static-RSA",
    ] {
        assert!(said.contains(part), "{part:?} missing in {said}");
    }
    assert_eq!(check(&m, "gcm.example", "tls_handshake"), Some(1.0), "{m}");
}

#[tokio::test]
async fn tls_close_after_server_hello() {
    fault(
        "hello.example",
        World::Peer(|lab| Behavior::CloseAfterServerHello {
            leaf: lab.pki.leaf(&LeafSpec::good("sip.hello.example")).unwrap(),
        }),
        &[
            ("tcp_connect", Some(1.0), None),
            ("tls_handshake", Some(0.0), Some("closed")),
        ],
    )
    .await;
}

/// The SRV record answers but the target's address lookups go unanswered. From a vantage
/// whose resolver answers its health query that is the partner's DNS (`target_resolves`
/// fails, timeout); from one whose resolver does not, it is ours: the probe is blind and the
/// check absent (before, only the SRV step and direct federation asked the health question).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_target_lookups_are_the_partners_only_if_the_resolver_is_healthy() {
    let lab = Lab::start().await.unwrap();
    sip_peer(&lab, "partner.example", SipMode::Answer(200)).await;
    lab.zone.fault("sip.partner.example", Fault::Silence);
    lab.zone.fault("health.example", Fault::Silence);
    let outside = format!(
        "    resolvers: [\"{}\"]\n    health_query: health.example\n",
        lab.dns
    );
    let path = two_vantages(
        &lab,
        "silent.yml",
        &outside,
        &common::peer("partner.example"),
    );
    let (m, reports) = common::probe_all(&path).await;
    let at =
        |vantage: &str, c: &str| common::check_success(&m, &[("vantage", vantage), ("check", c)]);
    assert_eq!(at("inside", "srv_present"), Some(1.0), "{m}");
    assert_eq!(at("inside", "target_resolves"), Some(0.0), "{m}");
    assert_eq!(at("outside", "target_resolves"), None, "{m}");
    let blind = |vantage: &str| {
        reports[0]
            .vantages
            .iter()
            .find(|v| v.vantage == vantage)
            .map(|v| v.facts.blind)
    };
    assert_eq!(blind("inside"), Some(None));
    assert_eq!(
        blind("outside"),
        Some(Some(sipfed_exporter::facts::Blind::ResolversDown))
    );
}

#[tokio::test]
async fn a_health_query_answered_with_nxdomain_counts_as_an_answer() {
    let lab = Lab::start().await.unwrap();
    let outside = format!(
        "    resolvers: [\"{}\"]\n    health_query: nowhere.example\n",
        lab.dns
    );
    let path = two_vantages(&lab, "nx.yml", &outside, "");
    let config = sipfed_exporter::config::Config::load(&path).unwrap();
    let store = sipfed_exporter::store::Store::new(
        sipfed_exporter::store::Setup::new(config).unwrap(),
        None,
        Default::default(),
    );
    store.setup().prober.check_vantages().await;
    let page = String::from_utf8(sipfed_exporter::expose::metrics::render(&store)).unwrap();
    assert!(
        page.contains("sipfed_vantage_up{vantage=\"outside\"} 1\n"),
        "{page}"
    );
}

/// Set in the child this test re-runs itself as, inside a network namespace of its own.
const NETNS_CHILD: &str = "SIPFED_TEST_NETNS_CHILD";

/// Runs test `name` of this binary again inside a fresh network namespace (`unshare -n`, we
/// are root in CI) with only loopback up and IPv6 gone from it (`::1` deleted): a host with
/// no route for IPv6, as an IPv4-only container is. Nothing can leave the machine from there.
/// Returns false in the child (run the body), true in the parent once the child passed.
fn in_namespace_without_ipv6(name: &str) -> bool {
    if std::env::var_os(NETNS_CHILD).is_some() {
        return false;
    }
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new("unshare")
        .args([
            "-n",
            "--",
            "sh",
            "-ec",
            "ip link set lo up; ip -6 addr del ::1/128 dev lo; exec \"$0\" \"$@\"",
        ])
        .arg(&exe)
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(NETNS_CHILD, "1")
        .output()
        .expect("unshare runs (util-linux)");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "the test in its namespace failed:\n{text}"
    );
    // The child really ran the test (a filter matching nothing passes too).
    assert!(text.contains("1 passed"), "{text}");
    true
}

/// A host without an IPv6 route (ENETUNREACH/EADDRNOTAVAIL on connect) is blind for IPv6:
/// the partner's AAAA addresses are not looked at (no failed tcp_connect), its IPv4 addresses
/// are judged, outbound readiness stands on them, and the vantage says it cannot reach IPv6
/// (`sipfed_vantage_address_family_up{family="ipv6"}` 0). A partner with only AAAA addresses
/// is `unknown`, with no outbound verdict.
#[test]
fn no_route_for_ipv6_is_the_vantages_blindness_not_the_partners() {
    if in_namespace_without_ipv6("no_route_for_ipv6_is_the_vantages_blindness_not_the_partners") {
        return;
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            // The namespace has no IPv6: a connect to ::1 fails as for a v4-only host.
            let err = std::net::TcpStream::connect("[::1]:5061").unwrap_err();
            assert!(
                matches!(err.raw_os_error(), Some(99 | 101)),
                "not a no-route error: {err:?}"
            );
            let lab = Lab::start().await.unwrap();
            // dual.example: A (the lab peer) and AAAA ::1; v6only.example: AAAA ::1 only.
            let spec = LeafSpec::good("sip.dual.example");
            let peer = lab.tls_peer(&spec).await.unwrap();
            lab.publish("dual.example", "sip.dual.example", peer.address);
            lab.zone.addr("sip.dual.example", "::1".parse().unwrap());
            lab.zone
                .federation_srv("v6only.example", 0, 0, 5061, "sip.v6only.example");
            lab.zone.addr("sip.v6only.example", "::1".parse().unwrap());
            let path = lab
                .write_config(
                    "noroute.yml",
                    "",
                    "  - domain: dual.example\n  - domain: v6only.example\n",
                )
                .unwrap();
            let config = sipfed_exporter::config::Config::load(&path).unwrap();
            let store = sipfed_exporter::store::Store::new(
                sipfed_exporter::store::Setup::new(config).unwrap(),
                None,
                Default::default(),
            );
            let setup = store.setup();
            let reports = setup.probe_each(&setup.config.domains).await;
            let mut m = String::new();
            let refs: Vec<&sipfed_exporter::judge::DomainReport> = reports.iter().collect();
            sipfed_exporter::expose::metrics::render_reports(&mut m, &refs);
            let at = |d: &str, c: &str| common::check_success(&m, &[("domain", d), ("check", c)]);
            // The IPv4 address is judged; the IPv6 one is absent, not a failed connect.
            assert_eq!(at("dual.example", "tcp_connect"), Some(1.0), "{m}");
            assert_eq!(at("dual.example", "tls_handshake"), Some(1.0), "{m}");
            assert!(!m.contains("sipfed_check_failure_info{"), "{m}");
            let dual = &reports[0];
            assert_eq!(dual.state.as_str(), "ok");
            let v6 = dual.vantages[0].facts.targets[0]
                .endpoints
                .iter()
                .find(|e| e.address.is_ipv6())
                .unwrap();
            assert_eq!(v6.blind, Some(sipfed_exporter::facts::Blind::NoRoute));
            let ready = |d: &str| {
                common::value(
                    &m,
                    "sipfed_federation_ready",
                    &[("domain", d), ("direction", "outbound")],
                )
            };
            assert_eq!(ready("dual.example"), Some(1.0), "{m}");
            // Only AAAA: nothing looked at, so no verdict and no readiness, and unknown.
            assert_eq!(at("v6only.example", "srv_present"), Some(1.0), "{m}");
            assert_eq!(at("v6only.example", "tcp_connect"), None, "{m}");
            assert_eq!(ready("v6only.example"), None, "{m}");
            assert_eq!(reports[1].state.as_str(), "unknown");
            assert_eq!(
                common::value(&m, "sipfed_probe_blind", &[("domain", "v6only.example")]),
                Some(1.0),
                "{m}"
            );
            // The vantage says it: it reaches IPv4, not IPv6 (what its connections found).
            let page = String::from_utf8(sipfed_exporter::expose::metrics::render(&store)).unwrap();
            assert!(
                page.contains(
                    "sipfed_vantage_address_family_up{vantage=\"inside\",family=\"ipv6\"} 0\n"
                ),
                "{page}"
            );
            assert!(
                page.contains(
                    "sipfed_vantage_address_family_up{vantage=\"inside\",family=\"ipv4\"} 1\n"
                ),
                "{page}"
            );
        });
}

/// Probes `domain` (not in the lab's zone: NXDOMAIN from a working resolver) from the lab's
/// vantage with the resolver broken by `broken`, and the vantage's health after it.
async fn probe_through_broken_resolver(
    broken: fn(&sipfed_exporter::lab::Zone),
) -> (String, Vec<sipfed_exporter::judge::DomainReport>, String) {
    let lab = Lab::start().await.unwrap();
    broken(&lab.zone);
    let path = lab
        .write_config("broken.yml", "", &common::peer("missing.example"))
        .unwrap();
    let (m, reports) = common::probe_all(&path).await;
    let config = sipfed_exporter::config::Config::load(&path).unwrap();
    let store = sipfed_exporter::store::Store::new(
        sipfed_exporter::store::Setup::new(config).unwrap(),
        None,
        Default::default(),
    );
    store.setup().prober.check_vantages().await;
    let page = String::from_utf8(sipfed_exporter::expose::metrics::render(&store)).unwrap();
    (m, reports, page)
}

#[tokio::test]
async fn a_resolver_that_lost_its_upstream_is_the_vantage_down_not_a_servfail_per_partner() {
    use std::sync::atomic::Ordering::Relaxed;
    // It answers `. NS` from its cache, SERVFAIL (EDE 22) for anything it would have to ask.
    let (m, reports, page) =
        probe_through_broken_resolver(|z| z.lost_upstream.store(true, Relaxed)).await;
    assert_eq!(check(&m, "missing.example", "srv_present"), None, "{m}");
    assert_eq!(
        reports[0].vantages[0].facts.blind,
        Some(sipfed_exporter::facts::Blind::ResolversDown)
    );
    assert!(
        page.contains("sipfed_vantage_up{vantage=\"inside\"} 0\n"),
        "{page}"
    );
}

#[tokio::test]
async fn a_resolver_answering_nxdomain_for_the_root_is_down_not_every_partners_missing_srv() {
    use std::sync::atomic::Ordering::Relaxed;
    let (m, reports, page) =
        probe_through_broken_resolver(|z| z.nxdomain_everything.store(true, Relaxed)).await;
    assert_eq!(check(&m, "missing.example", "srv_present"), None, "{m}");
    assert_eq!(
        reports[0].vantages[0].facts.blind,
        Some(sipfed_exporter::facts::Blind::ResolversDown)
    );
    assert!(
        page.contains("sipfed_vantage_up{vantage=\"inside\"} 0\n"),
        "{page}"
    );
}

#[tokio::test]
async fn a_healthy_resolvers_nxdomain_is_the_partners_missing_srv() {
    // The control: the same domain through the working lab resolver fails srv_present.
    let (m, reports, page) = probe_through_broken_resolver(|_| {}).await;
    assert_fails(&m, "missing.example", "srv_present", "nxdomain");
    assert_eq!(reports[0].vantages[0].facts.blind, None);
    assert!(
        page.contains("sipfed_vantage_up{vantage=\"inside\"} 1\n"),
        "{page}"
    );
}
