//! SIP OPTIONS beyond the basics of checks_lab.rs (compact headers, keep-alives, 100 Trying
//! before the final response, CSeq mismatch, endless provisional responses), mutual TLS (the
//! request is exposed, the configured client certificate reaches the peer, a peer that insists
//! on mutual TLS rejects a missing or clientAuth-less certificate), cert_client_auth, and
//! renewal drift: cert_renewal_activated with `cert_file`, and the ACME hint in cert_expiry
//! without one. Asserted on exposed metric values and, where the text matters, on findings.
//! One scenario per test, each in its own lab world (`cargo test --test mtls_renewal_lab <name>`).

mod common;

use std::sync::atomic::Ordering;

use common::{check, message, probe_lab, reason, value};
use sipfed_exporter::lab::{Behavior, Lab, Leaf, LeafSpec, Peer, Signer, SipMode};

fn good(name: &str) -> LeafSpec {
    LeafSpec::good(name)
}

/// Publishes `domain` with SRV to `target`, served by a peer behaving as `b`.
async fn serve(lab: &Lab, domain: &str, target: &str, b: Behavior) -> Peer {
    let p = lab.peer(b).await.unwrap();
    lab.publish(domain, target, p.address);
    p
}

/// A TLS peer for `domain` at `sip.<domain>` presenting `leaf`.
async fn tls(lab: &Lab, domain: &str, leaf: Leaf, request_client_cert: bool, sip: SipMode) -> Peer {
    let behavior = Behavior::Tls {
        leaf,
        request_client_cert,
        sip,
    };
    lab.serve(domain, behavior).await.unwrap()
}

/// A peer insisting on mutual TLS for `domain`.
async fn mutual(lab: &Lab, domain: &str) -> Peer {
    let leaf = lab.pki.leaf(&good(&format!("sip.{domain}"))).unwrap();
    serve(
        lab,
        domain,
        &format!("sip.{domain}"),
        Behavior::MutualTls {
            leaf,
            sip: SipMode::Answer(200),
            trust: None,
            version: None,
        },
    )
    .await
}

/// Writes `global.client_cert` files for `leaf` (full chain and key) and returns the YAML.
fn client_cert(lab: &Lab, name: &str, leaf: &Leaf) -> String {
    let cert = lab.dir.join(format!("{name}.pem"));
    let key = lab.dir.join(format!("{name}.key"));
    std::fs::write(&cert, &leaf.chain_pem).unwrap();
    std::fs::write(&key, &leaf.key_pem).unwrap();
    format!(
        "  client_cert: {{cert_file: \"{}\", key_file: \"{}\"}}\n",
        cert.display(),
        key.display()
    )
}

fn client_cert_seen(p: &Peer) -> bool {
    p.client_cert_seen.load(Ordering::Relaxed)
}

fn requested(m: &str, domain: &str) -> Option<f64> {
    value(m, "sipfed_tls_client_cert_requested", &[("domain", domain)])
}

fn sip_status(m: &str, domain: &str) -> Option<f64> {
    value(m, "sipfed_sip_options_status_code", &[("domain", domain)])
}

/// Writes `pems` into one file (win-acme and other ACME clients export PEM bundles).
fn store(lab: &Lab, name: &str, pems: &[&str]) -> String {
    let path = lab.dir.join(format!("{name}.pem"));
    std::fs::write(&path, pems.concat()).unwrap();
    path.display().to_string()
}

/// An own domain `d` expecting `sip.<d>`, with `cert_file` when given.
fn own(d: &str, cert_file: Option<&str>) -> String {
    let mut entry = format!("  - domain: {d}\n    role: own\n    fqdn: sip.{d}\n");
    if let Some(f) = cert_file {
        entry.push_str(&format!("    cert_file: \"{f}\"\n"));
    }
    entry
}

/// An older certificate (60 of 90 days used) that the server still serves.
fn old(name: &str) -> LeafSpec {
    LeafSpec {
        not_before_days: -60,
        not_after_days: 30,
        ..good(name)
    }
}

/// Its renewal, issued yesterday.
fn renewed(name: &str) -> LeafSpec {
    LeafSpec {
        not_before_days: -1,
        not_after_days: 89,
        ..good(name)
    }
}

/// A Let's Encrypt certificate valid from `before` to `after` days from now.
fn le(name: &str, before: i64, after: i64) -> LeafSpec {
    LeafSpec {
        not_before_days: before,
        not_after_days: after,
        signer: Signer::LetsEncrypt,
        ..good(name)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_options_responders() {
    let lab = Lab::start().await.unwrap();
    let mut domains = String::new();
    // SIP responders beyond checks_lab.rs.
    for (d, mode) in [
        ("sipcompact.example", SipMode::Compact(200)),
        ("sipkeepalive.example", SipMode::Keepalive(200)),
        ("sip503.example", SipMode::Answer(503)),
        ("sipwrongcseq.example", SipMode::WrongCSeq),
        ("sipprovflood.example", SipMode::ProvisionalFlood),
        ("sipproxy.example", SipMode::Proxy("sip.sipproxy.example")),
    ] {
        let leaf = lab.pki.leaf(&good(&format!("sip.{d}"))).unwrap();
        tls(&lab, d, leaf, false, mode).await;
        domains.push_str(&common::peer(d));
    }
    let (m, results) = probe_lab(&lab, "", &domains).await;
    // The provisional flood is cut off by the byte bound, not by the 5 s probe timeout: its
    // reason below is not_sip, where the timeout would say timeout.
    let mut failures = common::case_failures(
        &m,
        &results,
        &[
            ("sipcompact.example", "sip_options", Some(1.0), None),
            ("sipkeepalive.example", "sip_options", Some(1.0), None),
            ("sip503.example", "sip_options", Some(1.0), None),
            (
                "sipwrongcseq.example",
                "sip_options",
                Some(0.0),
                Some("mismatch"),
            ),
            (
                "sipprovflood.example",
                "sip_options",
                Some(0.0),
                Some("not_sip"),
            ),
        ],
    );
    for (d, want) in [
        ("sipcompact.example", Some(200.0)),
        ("sipkeepalive.example", Some(200.0)),
        ("sip503.example", Some(503.0)),
        ("sipwrongcseq.example", Some(0.0)),
        ("sipprovflood.example", Some(0.0)),
        // The request does not carry the target's name in Via: no 482 Loop Detected.
        ("sipproxy.example", Some(200.0)),
    ] {
        if sip_status(&m, d) != want {
            failures.push(format!(
                "{d}: sipfed_sip_options_status_code {:?}, want {want:?}",
                sip_status(&m, d)
            ));
        }
    }
    if requested(&m, "sipcompact.example") != Some(0.0) {
        failures.push(format!(
            "sipcompact.example: sipfed_tls_client_cert_requested {:?}, want Some(0.0)",
            requested(&m, "sipcompact.example")
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_without_a_client_certificate() {
    let lab = Lab::start().await.unwrap();
    let leaf = lab.pki.leaf(&good("sip.asks.example")).unwrap();
    let asks = tls(&lab, "asks.example", leaf, true, SipMode::Answer(200)).await;
    let leaf = lab.pki.leaf(&good("sip.quiet.example")).unwrap();
    let quiet = tls(&lab, "quiet.example", leaf, false, SipMode::Answer(200)).await;
    let requires = mutual(&lab, "requires.example").await;
    let domains: String = ["asks.example", "quiet.example", "requires.example"]
        .iter()
        .map(|d| common::peer(d))
        .collect();
    let (m, results) = probe_lab(&lab, "", &domains).await;
    let mut failures = common::case_failures(
        &m,
        &results,
        &[
            ("asks.example", "tls_handshake", Some(1.0), None),
            ("asks.example", "sip_options", Some(1.0), None),
            ("quiet.example", "sip_options", Some(1.0), None),
            // TLS 1.3: the client's side of the handshake completes before the server has seen
            // (and refused) the empty certificate; the refusal arrives as an alert instead of
            // the SIP response: client_cert_accepted's verdict, not SIP's (absent).
            ("requires.example", "tls_handshake", Some(1.0), None),
            ("requires.example", "sip_options", None, None),
            (
                "requires.example",
                "client_cert_accepted",
                Some(0.0),
                Some("client_cert_missing"),
            ),
            ("asks.example", "client_cert_accepted", Some(1.0), None),
        ],
    );
    if sip_status(&m, "requires.example") != Some(0.0) {
        failures.push(format!(
            "requires.example: sipfed_sip_options_status_code {:?}, want Some(0.0)",
            sip_status(&m, "requires.example")
        ));
    }
    for (d, want) in [
        ("asks.example", Some(1.0)),
        ("requires.example", Some(1.0)),
        ("quiet.example", Some(0.0)),
    ] {
        if requested(&m, d) != want {
            failures.push(format!(
                "{d}: sipfed_tls_client_cert_requested {:?}, want {want:?}",
                requested(&m, d)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        message(&results, "requires.example", "client_cert_accepted")
            .contains("alert certificate_required"),
        "{}",
        message(&results, "requires.example", "client_cert_accepted")
    );
    // Without client_cert nothing is offered, even to a peer that asks.
    assert!(!client_cert_seen(&asks));
    assert!(!client_cert_seen(&quiet));
    assert!(!client_cert_seen(&requires));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_with_a_client_certificate() {
    let lab = Lab::start().await.unwrap();
    // A client certificate that allows clientAuth: offered when asked, accepted by the peer
    // that requires one, never sent unasked.
    let leaf = lab.pki.leaf(&good("xphone.own.example")).unwrap();
    let global = client_cert(&lab, "fed", &leaf);
    let leaf = lab.pki.leaf(&good("sip.asks2.example")).unwrap();
    let asks2 = tls(&lab, "asks2.example", leaf, true, SipMode::Answer(200)).await;
    let leaf = lab.pki.leaf(&good("sip.quiet2.example")).unwrap();
    let quiet2 = tls(&lab, "quiet2.example", leaf, false, SipMode::Answer(200)).await;
    let requires2 = mutual(&lab, "requires2.example").await;
    let domains: String = ["asks2.example", "quiet2.example", "requires2.example"]
        .iter()
        .map(|d| common::peer(d))
        .collect();
    let (m, results) = probe_lab(&lab, &global, &domains).await;
    let failures = common::case_failures(
        &m,
        &results,
        &[
            ("asks2.example", "sip_options", Some(1.0), None),
            ("quiet2.example", "sip_options", Some(1.0), None),
            ("requires2.example", "sip_options", Some(1.0), None),
        ],
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(requested(&m, "asks2.example"), Some(1.0));
    assert_eq!(requested(&m, "requires2.example"), Some(1.0));
    assert_eq!(requested(&m, "quiet2.example"), Some(0.0));
    assert_eq!(sip_status(&m, "requires2.example"), Some(200.0));
    assert!(client_cert_seen(&asks2));
    assert!(client_cert_seen(&requires2));
    assert!(!client_cert_seen(&quiet2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificate_without_client_auth_is_refused() {
    let lab = Lab::start().await.unwrap();
    // A Let's Encrypt certificate issued after clientAuth ended, used as the client
    // certificate: a peer that verifies client certificates refuses it.
    let leaf = lab
        .pki
        .leaf(&LeafSpec {
            client_auth: false,
            signer: Signer::LetsEncrypt,
            ..good("xphone.own.example")
        })
        .unwrap();
    let global = client_cert(&lab, "fed-le", &leaf);
    let requires3 = mutual(&lab, "requires3.example").await;
    let (m, results) = probe_lab(&lab, &global, &common::peer("requires3.example")).await;
    assert_eq!(check(&m, "requires3.example", "sip_options"), None);
    assert_eq!(
        reason(&m, "requires3.example", "client_cert_accepted").as_deref(),
        Some("client_cert_rejected"),
        "{}",
        message(&results, "requires3.example", "client_cert_accepted")
    );
    assert!(
        message(&results, "requires3.example", "client_cert_accepted")
            .contains("unsupported_certificate"),
        "{}",
        message(&results, "requires3.example", "client_cert_accepted")
    );
    assert!(!client_cert_seen(&requires3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_in_the_store_activated_or_not() {
    let lab = Lab::start().await.unwrap();
    let leaf_of = |spec: &LeafSpec| lab.pki.leaf(spec).unwrap();
    let mut domains = String::new();

    // (a) The store holds exactly what is served.
    let served = leaf_of(&old("sip.same.example"));
    domains += &own(
        "same.example",
        Some(&store(&lab, "same", &[&served.chain_pem])),
    );
    tls(&lab, "same.example", served, false, SipMode::Answer(200)).await;

    // (b) A newer valid certificate for the FQDN sits in the store: not activated.
    let served = leaf_of(&old("sip.drift.example"));
    let newer = leaf_of(&renewed("sip.drift.example"));
    domains += &own(
        "drift.example",
        Some(&store(&lab, "drift", &[&served.leaf_pem, &newer.leaf_pem])),
    );
    tls(&lab, "drift.example", served, false, SipMode::Answer(200)).await;

    // (c) The newer certificate is for another name.
    let served = leaf_of(&old("sip.other.example"));
    let newer = leaf_of(&renewed("mail.other.example"));
    domains += &own(
        "other.example",
        Some(&store(&lab, "other", &[&served.leaf_pem, &newer.leaf_pem])),
    );
    tls(&lab, "other.example", served, false, SipMode::Answer(200)).await;

    // (d) Several PEM blocks in one file: a key, chains with intermediates, an older expired
    // certificate, one not valid yet and one for another name. Nothing newer and valid.
    let served = leaf_of(&old("sip.bundle.example"));
    let expired = leaf_of(&LeafSpec {
        not_before_days: -200,
        not_after_days: -110,
        ..good("sip.bundle.example")
    });
    let future = leaf_of(&LeafSpec {
        not_before_days: 3,
        not_after_days: 93,
        ..good("sip.bundle.example")
    });
    let other = leaf_of(&renewed("www.bundle.example"));
    let bundle = store(
        &lab,
        "bundle",
        &[
            &served.key_pem,
            &expired.chain_pem,
            &served.chain_pem,
            &future.leaf_pem,
            &other.chain_pem,
        ],
    );
    domains += &own("bundle.example", Some(&bundle));
    tls(&lab, "bundle.example", served, false, SipMode::Answer(200)).await;

    // (d') The same kind of bundle with the renewal in it, after its intermediate and key.
    let served = leaf_of(&old("sip.bundle-drift.example"));
    let newer = leaf_of(&renewed("sip.bundle-drift.example"));
    let bundle = store(
        &lab,
        "bundle-drift",
        &[&newer.key_pem, &served.chain_pem, &newer.chain_pem],
    );
    domains += &own("bundle-drift.example", Some(&bundle));
    tls(
        &lab,
        "bundle-drift.example",
        served,
        false,
        SipMode::Answer(200),
    )
    .await;

    // (e) The server serves an expired certificate while the renewal waits in the store.
    let served = leaf_of(&LeafSpec {
        not_before_days: -95,
        not_after_days: -5,
        ..good("sip.lapsed.example")
    });
    let newer = leaf_of(&renewed("sip.lapsed.example"));
    domains += &own(
        "lapsed.example",
        Some(&store(&lab, "lapsed", &[&served.leaf_pem, &newer.leaf_pem])),
    );
    tls(&lab, "lapsed.example", served, false, SipMode::Answer(200)).await;

    // (f) A cert_file that is missing, empty, or a directory: the check fails instead of
    // hiding (SPEC §5, cert_file_unreadable).
    let missing = lab.dir.join("no-such-file.pem").display().to_string();
    let empty = store(&lab, "empty", &[]);
    let directory = lab.dir.display().to_string();
    for (d, file) in [
        ("missing.example", &missing),
        ("empty.example", &empty),
        ("directory.example", &directory),
    ] {
        let served = leaf_of(&good(&format!("sip.{d}")));
        domains += &own(d, Some(file));
        tls(&lab, d, served, false, SipMode::Answer(200)).await;
    }

    let (m, results) = probe_lab(&lab, "", &domains).await;
    let failures = common::case_failures(
        &m,
        &results,
        &[
            ("same.example", "cert_renewal_activated", Some(1.0), None),
            (
                "drift.example",
                "cert_renewal_activated",
                Some(0.0),
                Some("not_activated"),
            ),
            ("drift.example", "cert_valid_now", Some(1.0), None),
            ("other.example", "cert_renewal_activated", Some(1.0), None),
            ("bundle.example", "cert_renewal_activated", Some(1.0), None),
            (
                "bundle-drift.example",
                "cert_renewal_activated",
                Some(0.0),
                Some("not_activated"),
            ),
            (
                "lapsed.example",
                "cert_renewal_activated",
                Some(0.0),
                Some("not_activated"),
            ),
            (
                "lapsed.example",
                "cert_valid_now",
                Some(0.0),
                Some("expired"),
            ),
            (
                "missing.example",
                "cert_renewal_activated",
                Some(0.0),
                Some("cert_file_unreadable"),
            ),
            (
                "empty.example",
                "cert_renewal_activated",
                Some(0.0),
                Some("cert_file_unreadable"),
            ),
            (
                "directory.example",
                "cert_renewal_activated",
                Some(0.0),
                Some("cert_file_unreadable"),
            ),
        ],
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // A warning for an own domain.
    assert_eq!(
        common::check_success(
            &m,
            &[
                ("domain", "drift.example"),
                ("check", "cert_renewal_activated"),
                ("severity", "warning")
            ]
        ),
        Some(0.0)
    );
    let drift = message(&results, "drift.example", "cert_renewal_activated");
    assert!(drift.contains("still serves"), "{drift}");
    let missing_text = message(&results, "missing.example", "cert_renewal_activated");
    assert!(missing_text.contains("no-such-file.pem"), "{missing_text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acme_hint_without_cert_file() {
    let lab = Lab::start().await.unwrap();
    let leaf_of = |spec: &LeafSpec| lab.pki.leaf(spec).unwrap();
    // A Let's Encrypt certificate with 10 days left of 90 (expiring), one with 22 days left
    // (inside the last quarter but not yet below cert_warning_days), and a private CA's
    // certificate with 10 days left (no ACME hint). With cert_file the hint is left to
    // cert_renewal_activated.
    let peers = [
        (
            "acme-expiring.example",
            le("sip.acme-expiring.example", -80, 10),
        ),
        (
            "acme-quarter.example",
            le("sip.acme-quarter.example", -68, 22),
        ),
        ("acme-fresh.example", le("sip.acme-fresh.example", -30, 60)),
        (
            "private-expiring.example",
            LeafSpec {
                not_before_days: -80,
                not_after_days: 10,
                ..good("sip.private-expiring.example")
            },
        ),
    ];
    let mut domains = String::new();
    for (d, spec) in &peers {
        tls(&lab, d, leaf_of(spec), false, SipMode::Answer(200)).await;
        domains.push_str(&common::peer(d));
    }
    let served = leaf_of(&le("sip.acme-store.example", -80, 10));
    domains += &own(
        "acme-store.example",
        Some(&store(&lab, "acme-store", &[&served.chain_pem])),
    );
    tls(
        &lab,
        "acme-store.example",
        served,
        false,
        SipMode::Answer(200),
    )
    .await;

    let (m, results) = probe_lab(&lab, "", &domains).await;
    let failures = common::case_failures(
        &m,
        &results,
        &[
            // Peers never get the renewal check.
            (
                "acme-expiring.example",
                "cert_renewal_activated",
                None,
                None,
            ),
            (
                "acme-expiring.example",
                "cert_expiry",
                Some(0.0),
                Some("expiring"),
            ),
            ("acme-quarter.example", "cert_expiry", Some(1.0), None),
            ("acme-fresh.example", "cert_expiry", Some(1.0), None),
            (
                "private-expiring.example",
                "cert_expiry",
                Some(0.0),
                Some("expiring"),
            ),
            (
                "acme-store.example",
                "cert_expiry",
                Some(0.0),
                Some("expiring"),
            ),
            (
                "acme-store.example",
                "cert_renewal_activated",
                Some(1.0),
                None,
            ),
        ],
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let not_activated = "renewal probably not activated";
    for d in ["acme-expiring.example", "acme-quarter.example"] {
        let text = message(&results, d, "cert_expiry");
        assert!(text.contains(not_activated), "{d}: {text}");
    }
    for d in [
        "acme-fresh.example",
        "private-expiring.example",
        "acme-store.example",
    ] {
        let text = message(&results, d, "cert_expiry");
        assert!(!text.contains(not_activated), "{d}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_auth_by_issuer_and_role() {
    let lab = Lab::start().await.unwrap();
    let leaf_of = |spec: &LeafSpec| lab.pki.leaf(spec).unwrap();
    // Let's Encrypt before clientAuth ended, and a private CA without clientAuth.
    let peers = [
        (
            "le-clientauth.example",
            le("sip.le-clientauth.example", -30, 60),
        ),
        (
            "private-noclient.example",
            LeafSpec {
                client_auth: false,
                ..good("sip.private-noclient.example")
            },
        ),
    ];
    let mut domains = String::new();
    for (d, spec) in &peers {
        tls(&lab, d, leaf_of(spec), false, SipMode::Answer(200)).await;
        domains.push_str(&common::peer(d));
    }
    // Our own Let's Encrypt certificate without clientAuth: critical for an own domain (its
    // edge presents it when it connects out, and partners that verify refuse it).
    let served = leaf_of(&LeafSpec {
        client_auth: false,
        ..le("sip.own-le.example", -10, 80)
    });
    domains += &own("own-le.example", None);
    tls(&lab, "own-le.example", served, false, SipMode::Answer(200)).await;

    let (m, results) = probe_lab(&lab, "", &domains).await;
    let failures = common::case_failures(
        &m,
        &results,
        &[
            // No cert_file: the renewal check does not apply.
            ("own-le.example", "cert_renewal_activated", None, None),
            ("le-clientauth.example", "cert_client_auth", Some(1.0), None),
            (
                "private-noclient.example",
                "cert_client_auth",
                Some(0.0),
                Some("no_client_auth"),
            ),
            (
                "own-le.example",
                "cert_client_auth",
                Some(0.0),
                Some("no_client_auth"),
            ),
            ("own-le.example", "cert_trusted", Some(1.0), None),
        ],
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Severities by role.
    assert_eq!(
        common::check_success(
            &m,
            &[
                ("domain", "own-le.example"),
                ("check", "cert_client_auth"),
                ("severity", "critical")
            ]
        ),
        Some(0.0)
    );
    assert_eq!(
        common::check_success(
            &m,
            &[
                ("domain", "private-noclient.example"),
                ("check", "cert_client_auth"),
                ("severity", "info")
            ]
        ),
        Some(0.0)
    );
    assert_eq!(
        value(
            &m,
            "sipfed_cert_info",
            &[("domain", "own-le.example"), ("issuer_cn", "R13")]
        ),
        Some(1.0)
    );
    let own_le = message(&results, "own-le.example", "cert_client_auth");
    assert!(
        own_le.contains("Let's Encrypt stopped issuing clientAuth"),
        "{own_le}"
    );
    let private = message(&results, "private-noclient.example", "cert_client_auth");
    assert!(!private.contains("Let's Encrypt"), "{private}");
}
