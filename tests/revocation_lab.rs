//! Revocation against the lab's CA: its CRL over HTTP and its OCSP responder, truthful or
//! hostile, behind TLS peers; asserted on the exposed metrics (`cert_not_revoked`,
//! `revocation_reachable`, `sipfed_cert_ocsp_stapled`) and on the requests the CA served.

mod common;

use common::{expect, message, probe_lab, value};
use sipfed_exporter::lab::{Answer, Behavior, Lab, Leaf, RevocationCa, SipMode};

/// Publishes `domain` with SRV to `sip.<domain>` served by a TLS peer presenting `leaf`.
async fn serve(lab: &Lab, domain: &str, leaf: Leaf) {
    let behavior = Behavior::Tls {
        leaf,
        request_client_cert: false,
        sip: SipMode::Answer(200),
    };
    lab.serve(domain, behavior).await.unwrap();
}

fn peers(domains: &[&str]) -> String {
    domains.iter().map(|d| common::peer(d)).collect()
}

async fn ca(lab: &Lab) -> RevocationCa {
    lab.revocation_ca().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_in_crl_and_ocsp_fails_and_one_crl_serves_every_domain() {
    let lab = Lab::start().await.unwrap();
    let ca = ca(&lab).await;
    let revoked = ca.leaf("sip.revoked.example").unwrap();
    ca.revoke(&revoked);
    serve(&lab, "revoked.example", revoked).await;
    serve(&lab, "good.example", ca.leaf("sip.good.example").unwrap()).await;
    let (m, results) = probe_lab(&lab, "", &peers(&["revoked.example", "good.example"])).await;
    expect(
        &m,
        &results,
        &[
            (
                "revoked.example",
                "cert_not_revoked",
                Some(0.0),
                Some("revoked"),
            ),
            ("revoked.example", "revocation_reachable", Some(1.0), None),
            ("good.example", "cert_not_revoked", Some(1.0), None),
            ("good.example", "revocation_reachable", Some(1.0), None),
        ],
    );
    let msg = message(&results, "revoked.example", "cert_not_revoked");
    assert!(msg.contains("(keyCompromise)"), "{msg}");
    assert!(
        msg.starts_with("certificate sip.revoked.example (serial "),
        "{msg}"
    );
    // One CRL for both domains (same URL and issuer); one OCSP request per certificate.
    assert_eq!(ca.crl_requests(), 1);
    assert_eq!(ca.ocsp_requests(), 2);
    assert_eq!(
        value(
            &m,
            "sipfed_cert_ocsp_stapled",
            &[("domain", "good.example")]
        ),
        Some(0.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_by_ocsp_alone_fails() {
    let lab = Lab::start().await.unwrap();
    let ca = ca(&lab).await;
    let leaf = ca
        .leaf_pointing("sip.ocsp.example", None, Some(&ca.ocsp_url()))
        .unwrap();
    ca.revoke(&leaf);
    serve(&lab, "ocsp.example", leaf).await;
    let (m, results) = probe_lab(&lab, "", &peers(&["ocsp.example"])).await;
    expect(
        &m,
        &results,
        &[(
            "ocsp.example",
            "cert_not_revoked",
            Some(0.0),
            Some("revoked"),
        )],
    );
    assert!(
        message(&results, "ocsp.example", "cert_not_revoked")
            .contains("according to the OCSP at http://")
    );
    assert_eq!(ca.crl_requests(), 0);
    // A request of 255 bytes or less goes by GET (RFC 5019).
    assert_eq!((ca.ocsp_requests(), ca.ocsp_gets()), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stapled_good_never_hides_a_revoking_crl() {
    let lab = Lab::start().await.unwrap();
    let ca = ca(&lab).await;
    let mut stapled = ca
        .leaf_pointing("sip.stapled.example", Some(&ca.crl_url()), None)
        .unwrap();
    // Stapled while good, revoked since.
    stapled.ocsp = Some(ca.staple(&stapled).unwrap());
    ca.revoke(&stapled);
    serve(&lab, "stapled.example", stapled).await;
    // Good by its staple alone: no pointers to fetch.
    let mut only = ca.leaf_pointing("sip.only.example", None, None).unwrap();
    only.ocsp = Some(ca.staple(&only).unwrap());
    serve(&lab, "only.example", only).await;
    let (m, results) = probe_lab(&lab, "", &peers(&["stapled.example", "only.example"])).await;
    expect(
        &m,
        &results,
        &[
            (
                "stapled.example",
                "cert_not_revoked",
                Some(0.0),
                Some("revoked"),
            ),
            ("only.example", "cert_not_revoked", Some(1.0), None),
            ("only.example", "revocation_reachable", None, None),
        ],
    );
    for d in ["stapled.example", "only.example"] {
        assert_eq!(
            value(&m, "sipfed_cert_ocsp_stapled", &[("domain", d)]),
            Some(1.0),
            "{d}"
        );
    }
    assert!(
        message(&results, "stapled.example", "cert_not_revoked")
            .contains("according to the CRL at")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_pointers_and_no_pointers() {
    let lab = Lab::start().await.unwrap();
    let ca = ca(&lab).await;
    // Port 1 on loopback: refused.
    let dead = ca
        .leaf_pointing(
            "sip.dead.example",
            Some("http://127.0.0.1:1/ca.crl"),
            Some("http://127.0.0.1:1/ocsp"),
        )
        .unwrap();
    serve(&lab, "dead.example", dead).await;
    serve(
        &lab,
        "bare.example",
        ca.leaf_pointing("sip.bare.example", None, None).unwrap(),
    )
    .await;
    let (m, results) = probe_lab(&lab, "", &peers(&["dead.example", "bare.example"])).await;
    expect(
        &m,
        &results,
        &[
            (
                "dead.example",
                "revocation_reachable",
                Some(0.0),
                Some("connection_refused"),
            ),
            // No evidence could be had: absent, not failed.
            ("dead.example", "cert_not_revoked", None, None),
            ("bare.example", "revocation_reachable", None, None),
            ("bare.example", "cert_not_revoked", None, None),
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_signer_another_serial_and_stale_are_no_evidence() {
    let lab = Lab::start().await.unwrap();
    let signer = ca(&lab).await;
    signer.set_crl(Answer::WrongSigner);
    signer.set_ocsp(Answer::WrongSigner);
    let forged = signer.leaf("sip.forged.example").unwrap();
    signer.revoke(&forged);
    serve(&lab, "forged.example", forged).await;

    let other = ca(&lab).await;
    other.set_ocsp(Answer::OtherSerial);
    let leaf = other
        .leaf_pointing("sip.other.example", None, Some(&other.ocsp_url()))
        .unwrap();
    other.revoke(&leaf);
    serve(&lab, "other.example", leaf).await;

    let stale = ca(&lab).await;
    stale.set_crl(Answer::Stale);
    let leaf = stale
        .leaf_pointing("sip.stale.example", Some(&stale.crl_url()), None)
        .unwrap();
    stale.revoke(&leaf);
    serve(&lab, "stale.example", leaf).await;

    let (m, results) = probe_lab(
        &lab,
        "",
        &peers(&["forged.example", "other.example", "stale.example"]),
    )
    .await;
    expect(
        &m,
        &results,
        &[
            ("forged.example", "cert_not_revoked", None, None),
            (
                "forged.example",
                "revocation_reachable",
                Some(0.0),
                Some("bad_response"),
            ),
            ("other.example", "cert_not_revoked", None, None),
            (
                "other.example",
                "revocation_reachable",
                Some(0.0),
                Some("bad_response"),
            ),
            ("stale.example", "cert_not_revoked", None, None),
            (
                "stale.example",
                "revocation_reachable",
                Some(0.0),
                Some("bad_response"),
            ),
        ],
    );
    assert!(
        message(&results, "other.example", "revocation_reachable").contains("another certificate")
    );
    assert!(message(&results, "stale.example", "revocation_reachable").contains("is stale"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_evidence_gives_reasons_within_the_deadline() {
    let lab = Lab::start().await.unwrap();
    let mut cas = Vec::new();
    for (domain, answer) in [
        ("garbage.example", Answer::Garbage),
        ("huge.example", Answer::Huge),
        ("trickle.example", Answer::Trickle),
        ("loop.example", Answer::RedirectLoop),
        ("missing.example", Answer::NotFound),
    ] {
        let ca = ca(&lab).await;
        ca.set_crl(answer);
        let leaf = ca
            .leaf_pointing(&format!("sip.{domain}"), Some(&ca.crl_url()), None)
            .unwrap();
        serve(&lab, domain, leaf).await;
        cas.push(ca);
    }
    let good = ca(&lab).await;
    serve(&lab, "fine.example", good.leaf("sip.fine.example").unwrap()).await;
    let domains = [
        "garbage.example",
        "huge.example",
        "trickle.example",
        "loop.example",
        "missing.example",
        "fine.example",
    ];
    let (m, results) = probe_lab(&lab, "", &peers(&domains)).await;
    expect(
        &m,
        &results,
        &[
            (
                "garbage.example",
                "revocation_reachable",
                Some(0.0),
                Some("bad_response"),
            ),
            (
                "huge.example",
                "revocation_reachable",
                Some(0.0),
                Some("bad_response"),
            ),
            (
                "trickle.example",
                "revocation_reachable",
                Some(0.0),
                Some("timeout"),
            ),
            (
                "loop.example",
                "revocation_reachable",
                Some(0.0),
                Some("http_error"),
            ),
            (
                "missing.example",
                "revocation_reachable",
                Some(0.0),
                Some("http_error"),
            ),
            // The rest of the round is unharmed.
            ("fine.example", "cert_not_revoked", Some(1.0), None),
            ("fine.example", "revocation_reachable", Some(1.0), None),
            ("trickle.example", "sip_options", Some(1.0), None),
        ],
    );
    assert!(
        message(&results, "huge.example", "revocation_reachable")
            .contains("sent more than the 16777216 bytes")
    );
    assert!(
        message(&results, "loop.example", "revocation_reachable").contains("more than 3 redirects")
    );
}

/// A config whose only vantage is `vantage` (YAML under `vantages:`).
fn config(lab: &Lab, file: &str, vantage: &str, domains: &str) -> std::path::PathBuf {
    let path = lab.dir.join(file);
    let text = format!(
        "global:\n  interval: 30s\n  timeout: 5s\n  ca_file: {}\nvantages:\n{vantage}domains:\n{domains}",
        lab.ca_file().display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_is_fetched_through_the_vantage_proxy() {
    let lab = Lab::start().await.unwrap();
    let socks = lab.socks().await.unwrap();
    let ca = ca(&lab).await;
    let leaf = ca.leaf("sip.proxied.example").unwrap();
    ca.revoke(&leaf);
    serve(&lab, "proxied.example", leaf).await;
    let vantage = format!(
        "  outside:\n    resolvers: [\"{}\"]\n    proxy: socks5://{}\n",
        lab.dns, socks.address
    );
    let path = config(&lab, "proxy.yml", &vantage, &peers(&["proxied.example"]));
    let (m, results) = common::probe_all(&path).await;
    expect(
        &m,
        &results,
        &[(
            "proxied.example",
            "cert_not_revoked",
            Some(0.0),
            Some("revoked"),
        )],
    );
    // The edge, the CRL and the OCSP responder: three connections, all through the proxy.
    assert_eq!(socks.relayed.load(std::sync::atomic::Ordering::Relaxed), 3);
    assert_eq!((ca.crl_requests(), ca.ocsp_requests()), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pointers_at_forbidden_addresses_are_never_fetched() {
    let lab = Lab::start().await.unwrap();
    let ca = ca(&lab).await;
    // Unspecified and multicast addresses: forbidden from every vantage (SPEC §5).
    let leaf = ca
        .leaf_pointing(
            "sip.sneaky.example",
            Some("http://0.0.0.0/ca.crl"),
            Some("http://224.0.0.1/ocsp"),
        )
        .unwrap();
    serve(&lab, "sneaky.example", leaf).await;
    let (m, results) = probe_lab(&lab, "", &peers(&["sneaky.example"])).await;
    expect(
        &m,
        &results,
        &[
            (
                "sneaky.example",
                "revocation_reachable",
                Some(0.0),
                Some("forbidden_address"),
            ),
            ("sneaky.example", "cert_not_revoked", None, None),
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_are_kept_until_next_update_and_failures_retried_after_a_backoff() {
    use sipfed_exporter::config::Config;
    use sipfed_exporter::store::Setup;
    let lab = Lab::start().await.unwrap();
    let good = ca(&lab).await;
    serve(&lab, "kept.example", good.leaf("sip.kept.example").unwrap()).await;
    let broken = ca(&lab).await;
    broken.set_crl(Answer::NotFound);
    broken.set_ocsp(Answer::NotFound);
    serve(
        &lab,
        "broken.example",
        broken.leaf("sip.broken.example").unwrap(),
    )
    .await;
    // interval 1s: a look of an edge is shared for a third of it, so each round below makes
    // new looks, and each look asks the revocation cache.
    let path = lab.dir.join("twice.yml");
    let text = format!(
        "global:\n  interval: 1s\n  timeout: 900ms\n  ca_file: {}\nvantages:\n  inside:\n    resolvers: [\"{}\"]\ndomains:\n{}",
        lab.ca_file().display(),
        lab.dns,
        peers(&["kept.example", "broken.example"])
    );
    std::fs::write(&path, text).unwrap();
    let setup = Setup::new(Config::load(&path).unwrap()).unwrap();
    for _ in 0..3 {
        let reports = setup.probe_each(&setup.config.domains).await;
        assert_eq!(reports.len(), 2);
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    }
    assert_eq!(
        setup.prober.edges.looks(),
        6,
        "a new look per domain and round"
    );
    // Three rounds, one fetch each: the good documents hold for a week, the failures are
    // retried only after a minute.
    assert_eq!((good.crl_requests(), good.ocsp_requests()), (1, 1));
    assert_eq!((broken.crl_requests(), broken.ocsp_requests()), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delegated_ocsp_responder_counts_only_with_the_ocsp_signing_eku() {
    let lab = Lab::start().await.unwrap();
    let mut cas = Vec::new();
    for (domain, answer) in [
        ("delegated.example", Answer::Delegated),
        ("noeku.example", Answer::DelegatedWithoutEku),
    ] {
        let ca = ca(&lab).await;
        ca.set_ocsp(answer);
        let leaf = ca
            .leaf_pointing(&format!("sip.{domain}"), None, Some(&ca.ocsp_url()))
            .unwrap();
        ca.revoke(&leaf);
        serve(&lab, domain, leaf).await;
        cas.push(ca);
    }
    let (m, results) = probe_lab(&lab, "", &peers(&["delegated.example", "noeku.example"])).await;
    expect(
        &m,
        &results,
        &[
            (
                "delegated.example",
                "cert_not_revoked",
                Some(0.0),
                Some("revoked"),
            ),
            ("delegated.example", "revocation_reachable", Some(1.0), None),
            ("noeku.example", "cert_not_revoked", None, None),
            (
                "noeku.example",
                "revocation_reachable",
                Some(0.0),
                Some("bad_response"),
            ),
        ],
    );
}

/// An `openssl s_server` on a free loopback port presenting `chain_pem` (the leaf first) with
/// the key `key_pem`, stapling `staple` (DER) to every handshake; published for `domain` at
/// `sip.<domain>`. Killed when the returned child is dropped.
async fn openssl_stapling(
    lab: &Lab,
    domain: &str,
    leaf_pem: &str,
    chain_pem: &str,
    key_pem: &str,
    staple: &[u8],
) -> tokio::process::Child {
    let dir = lab.dir.join(domain);
    std::fs::create_dir_all(&dir).unwrap();
    let file = |name: &str, data: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, data).unwrap();
        path
    };
    let (leaf, chain) = (
        file("leaf.pem", leaf_pem.as_bytes()),
        file("chain.pem", chain_pem.as_bytes()),
    );
    let (key, staple) = (
        file("key.pem", key_pem.as_bytes()),
        file("staple.der", staple),
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let address: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let child = tokio::process::Command::new("openssl")
        .arg("s_server")
        .arg("-accept")
        .arg(address.to_string())
        .arg("-cert")
        .arg(&leaf)
        .arg("-key")
        .arg(&key)
        .arg("-cert_chain")
        .arg(&chain)
        .arg("-status_file")
        .arg(&staple)
        // One answer per connection, then the next: never an interactive session.
        .arg("-www")
        .arg("-quiet")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("openssl runs");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(address).await.is_ok() {
            lab.publish(domain, &format!("sip.{domain}"), address);
            return child;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("openssl s_server did not listen on {address}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staple_signed_by_an_impostor_of_the_issuer_is_no_evidence() {
    // A revoked leaf presented as [leaf, X, CA]: X has the CA's name and the attacker's key,
    // and the OCSP response stapled (by a real openssl s_server) is X's "good". The issuer is
    // the certificate whose key signed the leaf: the CA, whose CRL says revoked.
    let lab = Lab::start().await.unwrap();
    let ca = ca(&lab).await;
    let leaf = ca
        .leaf_pointing("sip.forged.example", Some(&ca.crl_url()), None)
        .unwrap();
    ca.revoke(&leaf);
    let staple = ca.staple_as(&leaf, Answer::Impostor).unwrap();
    let chain = format!("{}{}", ca.impostor_pem(), ca.pem());
    let _forged = openssl_stapling(
        &lab,
        "forged.example",
        &leaf.leaf_pem,
        &chain,
        &leaf.key_pem,
        &staple,
    )
    .await;
    // The same forgery with no pointer to fetch: the impostor's staple is all there is.
    let bare = ca.leaf_pointing("sip.bare.example", None, None).unwrap();
    ca.revoke(&bare);
    let staple = ca.staple_as(&bare, Answer::Impostor).unwrap();
    let _bare = openssl_stapling(
        &lab,
        "bare.example",
        &bare.leaf_pem,
        &chain,
        &bare.key_pem,
        &staple,
    )
    .await;
    let (m, results) = probe_lab(&lab, "", &peers(&["forged.example", "bare.example"])).await;
    expect(
        &m,
        &results,
        &[
            ("forged.example", "cert_trusted", Some(1.0), None),
            (
                "forged.example",
                "cert_not_revoked",
                Some(0.0),
                Some("revoked"),
            ),
            // The CA's own CRL verifies against the CA.
            ("forged.example", "revocation_reachable", Some(1.0), None),
            ("bare.example", "cert_not_revoked", None, None),
        ],
    );
    for d in ["forged.example", "bare.example"] {
        assert_eq!(
            value(&m, "sipfed_cert_ocsp_stapled", &[("domain", d)]),
            Some(1.0),
            "openssl stapled for {d}"
        );
    }
    assert!(
        message(&results, "forged.example", "cert_not_revoked").contains("according to the CRL at"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_shard_of_the_cas_crl_is_no_evidence() {
    // At the leaf's CRL URL an on-path attacker (or a CDN mix-up) serves another part of the
    // CA's CRL: validly signed by the CA, its issuing distribution point another URL, and the
    // leaf not in it. It says nothing about the leaf.
    let lab = Lab::start().await.unwrap();
    let ca = ca(&lab).await;
    ca.set_crl(Answer::Shard);
    let leaf = ca
        .leaf_pointing("sip.shard.example", Some(&ca.crl_url()), None)
        .unwrap();
    ca.revoke(&leaf);
    serve(&lab, "shard.example", leaf).await;
    let (m, results) = probe_lab(&lab, "", &peers(&["shard.example"])).await;
    expect(
        &m,
        &results,
        &[
            ("shard.example", "cert_not_revoked", None, None),
            (
                "shard.example",
                "revocation_reachable",
                Some(0.0),
                Some("bad_response"),
            ),
        ],
    );
    let msg = message(&results, "shard.example", "revocation_reachable");
    assert!(
        msg.contains("/shard-2.crl, not http://") && msg.contains("another part (shard)"),
        "{msg}"
    );
    assert_eq!(ca.crl_requests(), 1);
}
