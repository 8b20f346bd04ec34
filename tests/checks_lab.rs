//! Every check of SPEC §5 (except the Teams, vantage and renewal ones, see their own files)
//! passing and failing against the lab, asserted on the exposed metric values: one scenario
//! per test, each in its own small lab world (`cargo test --test checks_lab <name>`).

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::{check, probe_lab, value};
use sipfed_exporter::judge::DomainReport;
use sipfed_exporter::lab::{Behavior, LAB_DIAGNOSTICS, Lab, LeafSpec, Signer, SipMode};

fn good(name: &str) -> LeafSpec {
    LeafSpec::good(name)
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Publishes `domain` with SRV to `sip.<domain>` served by a TLS peer presenting `spec`.
async fn tls_domain(lab: &Lab, domain: &str, spec: LeafSpec, sip: SipMode) -> std::net::SocketAddr {
    lab.serve_tls(domain, &spec, sip).await.unwrap().address
}

async fn behavior_domain(lab: &Lab, domain: &str, b: Behavior) {
    lab.serve(domain, b).await.unwrap();
}

/// `domains:` entries for peers.
fn peers(domains: &[&str]) -> String {
    domains.iter().map(|d| common::peer(d)).collect()
}

/// Asserts `(domain, check, expected value, expected reason)` rows, reporting every mismatch
/// with the finding's message.
fn expect(m: &str, results: &[DomainReport], cases: &[(&str, &str, f64, Option<&str>)]) {
    let cases: Vec<common::Case<'_>> = cases
        .iter()
        .map(|&(d, c, want, r)| (d, c, Some(want), r))
        .collect();
    common::expect(m, results, &cases);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_own_domain_passes_everything() {
    let lab = Lab::start().await.unwrap();
    // Mutual TLS requested, SIP answers.
    let leaf = lab.pki.leaf(&good("sip.good.example")).unwrap();
    let p = lab
        .peer(Behavior::Tls {
            leaf,
            request_client_cert: true,
            sip: SipMode::Answer(200),
        })
        .await
        .unwrap();
    lab.publish("good.example", "sip.good.example", p.address);
    let own = "  - domain: good.example\n    role: own\n    fqdn: sip.good.example\n";
    let (m, results) = probe_lab(&lab, "", own).await;

    for c in [
        "srv_present",
        "srv_port_5061",
        "srv_target_in_domain",
        "srv_target_expected",
        "srv_target_not_alias",
        "target_resolves",
        "tcp_connect",
        "tls_handshake",
        "tls_min_version",
        "cert_trusted",
        "cert_name_match",
        "cert_not_wildcard",
        "cert_valid_now",
        "cert_expiry",
        "cert_server_auth",
        "cert_client_auth",
        "sip_options",
    ] {
        assert_eq!(
            check(&m, "good.example", c),
            Some(1.0),
            "good.example {c}\n{}",
            common::message(&results, "good.example", c)
        );
    }
    assert_eq!(
        value(&m, "sipfed_probe_success", &[("domain", "good.example")]),
        Some(1.0)
    );
    assert_eq!(
        value(&m, "sipfed_srv_records", &[("domain", "good.example")]),
        Some(1.0)
    );
    assert_eq!(
        value(
            &m,
            "sipfed_platform_info",
            &[("domain", "good.example"), ("platform", "self_hosted")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &m,
            "sipfed_domain_info",
            &[
                ("domain", "good.example"),
                ("role", "own"),
                ("federation", "open")
            ]
        ),
        Some(1.0)
    );
    let not_after = value(
        &m,
        "sipfed_cert_not_after_timestamp_seconds",
        &[("domain", "good.example")],
    )
    .unwrap();
    assert!(
        (not_after - (now() + 60.0 * 86400.0)).abs() < 3600.0,
        "not_after {not_after}"
    );
    let chain_after = value(
        &m,
        "sipfed_cert_chain_not_after_timestamp_seconds",
        &[("domain", "good.example")],
    )
    .unwrap();
    assert_eq!(
        chain_after, not_after,
        "the leaf expires before the intermediate"
    );
    assert_eq!(
        value(
            &m,
            "sipfed_cert_info",
            &[
                ("domain", "good.example"),
                ("subject_cn", "sip.good.example"),
                ("issuer_cn", "sipfed lab issuing CA")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &m,
            "sipfed_endpoint_up",
            &[("domain", "good.example"), ("target", "sip.good.example")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &m,
            "sipfed_tls_version_info",
            &[("domain", "good.example"), ("version", "TLS 1.3")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &m,
            "sipfed_tls_client_cert_requested",
            &[("domain", "good.example")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &m,
            "sipfed_sip_options_status_code",
            &[("domain", "good.example")]
        ),
        Some(200.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn srv_record_faults() {
    let lab = Lab::start().await.unwrap();
    let z = &lab.zone;
    z.addr("nosrv.example", "127.0.0.1".parse().unwrap());
    z.fault(
        "_sipfederationtls._tcp.servfail.example",
        sipfed_exporter::lab::Fault::Servfail,
    );
    let leaf = lab.pki.leaf(&good("sip.port.example")).unwrap();
    let p = lab
        .peer_on(
            Behavior::Tls {
                leaf,
                request_client_cert: false,
                sip: SipMode::Answer(200),
            },
            5062,
        )
        .await
        .unwrap();
    lab.publish("port.example", "sip.port.example", p.address);
    // "." as target: the service is declared not available.
    z.federation_srv("dot.example", 0, 0, 0, ".");
    let domains = peers(&[
        "nosrv.example",
        "servfail.example",
        "port.example",
        "dot.example",
    ]);
    let (m, results) = probe_lab(&lab, "", &domains).await;
    expect(
        &m,
        &results,
        &[
            ("nosrv.example", "srv_present", 0.0, Some("nxdomain")),
            ("servfail.example", "srv_present", 0.0, Some("servfail")),
            ("port.example", "srv_port_5061", 0.0, Some("wrong_port")),
            ("port.example", "tls_handshake", 1.0, None),
            ("dot.example", "srv_present", 0.0, Some("nodata")),
        ],
    );
    assert_eq!(check(&m, "dot.example", "srv_target_in_domain"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn srv_targets_outside_unexpected_aliased_or_unresolvable() {
    let lab = Lab::start().await.unwrap();
    let z = &lab.zone;
    let p = lab.tls_peer(&good("sip.elsewhere.example")).await.unwrap();
    lab.publish("outside.example", "sip.elsewhere.example", p.address);
    let p = lab.tls_peer(&good("sip.alias.example")).await.unwrap();
    z.federation_srv("alias.example", 0, 0, 5061, "sip.alias.example");
    z.cname("sip.alias.example", "host.alias.example");
    z.addr("host.alias.example", p.address.ip());
    z.federation_srv("noaddr.example", 0, 0, 5061, "sip.noaddr.example");
    tls_domain(
        &lab,
        "unexpected.example",
        good("sip.unexpected.example"),
        SipMode::Answer(200),
    )
    .await;
    let p = lab.tls_peer(&good("sip.elsewhere.example")).await.unwrap();
    lab.publish("ownoutside.example", "sip.elsewhere.example", p.address);
    let own = "  - domain: unexpected.example\n    role: own\n    fqdn: xphone.unexpected.example\n  - domain: ownoutside.example\n    role: own\n    fqdn: sip.elsewhere.example\n";
    let domains = format!(
        "{own}{}",
        peers(&["outside.example", "alias.example", "noaddr.example"])
    );
    let (m, results) = probe_lab(&lab, "", &domains).await;
    expect(
        &m,
        &results,
        &[
            (
                "outside.example",
                "srv_target_in_domain",
                0.0,
                Some("outside_domain"),
            ),
            (
                "ownoutside.example",
                "srv_target_in_domain",
                0.0,
                Some("outside_domain"),
            ),
            (
                "unexpected.example",
                "srv_target_expected",
                0.0,
                Some("unexpected_target"),
            ),
            ("ownoutside.example", "srv_target_expected", 1.0, None),
            ("alias.example", "srv_target_not_alias", 0.0, Some("cname")),
            ("alias.example", "target_resolves", 1.0, None),
            ("alias.example", "tls_handshake", 1.0, None),
            ("noaddr.example", "target_resolves", 0.0, Some("nxdomain")),
        ],
    );
    // Severities follow the role.
    assert_eq!(
        common::check_success(
            &m,
            &[
                ("domain", "outside.example"),
                ("check", "srv_target_in_domain"),
                ("severity", "warning")
            ]
        ),
        Some(0.0)
    );
    assert_eq!(
        common::check_success(
            &m,
            &[
                ("domain", "ownoutside.example"),
                ("check", "srv_target_in_domain"),
                ("severity", "critical")
            ]
        ),
        Some(0.0)
    );
    // Checks that do not apply are absent, not failed.
    assert_eq!(check(&m, "outside.example", "srv_target_expected"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_and_handshake_faults() {
    let lab = Lab::start().await.unwrap();
    behavior_domain(&lab, "refuse.example", Behavior::Refuse).await;
    behavior_domain(&lab, "hang.example", Behavior::Hang).await;
    behavior_domain(&lab, "close.example", Behavior::CloseMidHandshake).await;
    behavior_domain(&lab, "garbage.example", Behavior::Garbage).await;
    behavior_domain(&lab, "oldtls.example", Behavior::OldTls).await;
    let domains = peers(&[
        "refuse.example",
        "hang.example",
        "close.example",
        "garbage.example",
        "oldtls.example",
    ]);
    let (m, results) = probe_lab(&lab, "", &domains).await;
    expect(
        &m,
        &results,
        &[
            (
                "refuse.example",
                "tcp_connect",
                0.0,
                Some("connection_refused"),
            ),
            ("hang.example", "tcp_connect", 1.0, None),
            ("hang.example", "tls_handshake", 0.0, Some("timeout")),
            ("close.example", "tls_handshake", 0.0, Some("closed")),
            (
                "garbage.example",
                "tls_handshake",
                0.0,
                Some("handshake_failure"),
            ),
            (
                "oldtls.example",
                "tls_handshake",
                0.0,
                Some("protocol_version"),
            ),
            (
                "oldtls.example",
                "tls_min_version",
                0.0,
                Some("protocol_version"),
            ),
        ],
    );
    // A critical failure fails the probe.
    assert_eq!(
        value(&m, "sipfed_probe_success", &[("domain", "refuse.example")]),
        Some(0.0)
    );
    // Checks that do not apply are absent, not failed.
    assert_eq!(check(&m, "refuse.example", "tls_handshake"), None);
    assert_eq!(check(&m, "refuse.example", "cert_trusted"), None);
    assert_eq!(
        value(&m, "sipfed_endpoint_up", &[("domain", "refuse.example")]),
        Some(0.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_faults() {
    let lab = Lab::start().await.unwrap();
    let certs: Vec<(&str, LeafSpec)> = vec![
        (
            "selfsigned.example",
            LeafSpec {
                signer: Signer::SelfSigned,
                ..good("sip.selfsigned.example")
            },
        ),
        (
            "nointermediate.example",
            LeafSpec {
                with_intermediate: false,
                ..good("sip.nointermediate.example")
            },
        ),
        ("wrongname.example", good("sip.somebody-else.example")),
        (
            "wildcard.example",
            LeafSpec {
                names: vec!["*.wildcard.example".into()],
                ..good("x")
            },
        ),
        (
            "expired.example",
            LeafSpec {
                not_before_days: -100,
                not_after_days: -10,
                ..good("sip.expired.example")
            },
        ),
        (
            "future.example",
            LeafSpec {
                not_before_days: 2,
                not_after_days: 92,
                ..good("sip.future.example")
            },
        ),
        (
            "expiring.example",
            LeafSpec {
                not_before_days: -80,
                not_after_days: 10,
                ..good("sip.expiring.example")
            },
        ),
        // 45-day lifetime, 12 days left: a quarter is 11.25 days, so not yet expiring.
        (
            "short-ok.example",
            LeafSpec {
                not_before_days: -33,
                not_after_days: 12,
                ..good("sip.short-ok.example")
            },
        ),
        // 45-day lifetime, 10 days left: below a quarter.
        (
            "short-bad.example",
            LeafSpec {
                not_before_days: -35,
                not_after_days: 10,
                ..good("sip.short-bad.example")
            },
        ),
        // 365-day lifetime, 30 days left: above 21 days.
        (
            "long-ok.example",
            LeafSpec {
                not_before_days: -335,
                not_after_days: 30,
                ..good("sip.long-ok.example")
            },
        ),
        (
            "noserverauth.example",
            LeafSpec {
                server_auth: false,
                ..good("sip.noserverauth.example")
            },
        ),
        (
            "noclientauth.example",
            LeafSpec {
                client_auth: false,
                signer: Signer::LetsEncrypt,
                ..good("sip.noclientauth.example")
            },
        ),
    ];
    let mut domains = String::new();
    for (d, spec) in certs {
        domains.push_str(&common::peer(d));
        tls_domain(&lab, d, spec, SipMode::Answer(200)).await;
    }
    let (m, results) = probe_lab(&lab, "", &domains).await;
    expect(
        &m,
        &results,
        &[
            (
                "selfsigned.example",
                "cert_trusted",
                0.0,
                Some("self_signed"),
            ),
            (
                "nointermediate.example",
                "cert_trusted",
                0.0,
                Some("incomplete_chain"),
            ),
            ("nointermediate.example", "cert_name_match", 1.0, None),
            (
                "wrongname.example",
                "cert_name_match",
                0.0,
                Some("name_mismatch"),
            ),
            ("wrongname.example", "cert_trusted", 1.0, None),
            ("wildcard.example", "cert_name_match", 1.0, None),
            (
                "wildcard.example",
                "cert_not_wildcard",
                0.0,
                Some("wildcard"),
            ),
            ("expired.example", "cert_valid_now", 0.0, Some("expired")),
            ("expired.example", "cert_trusted", 1.0, None),
            (
                "future.example",
                "cert_valid_now",
                0.0,
                Some("not_yet_valid"),
            ),
            ("expiring.example", "cert_expiry", 0.0, Some("expiring")),
            ("expiring.example", "cert_valid_now", 1.0, None),
            ("short-ok.example", "cert_expiry", 1.0, None),
            ("short-bad.example", "cert_expiry", 0.0, Some("expiring")),
            ("long-ok.example", "cert_expiry", 1.0, None),
            (
                "noserverauth.example",
                "cert_server_auth",
                0.0,
                Some("no_server_auth"),
            ),
            ("noserverauth.example", "cert_client_auth", 1.0, None),
            (
                "noclientauth.example",
                "cert_client_auth",
                0.0,
                Some("no_client_auth"),
            ),
            ("noclientauth.example", "cert_trusted", 1.0, None),
        ],
    );
    assert_eq!(
        common::check_success(
            &m,
            &[
                ("domain", "wildcard.example"),
                ("check", "cert_not_wildcard"),
                ("severity", "info")
            ]
        ),
        Some(0.0)
    );
    // Info and warning failures leave the probe successful.
    assert_eq!(
        value(
            &m,
            "sipfed_probe_success",
            &[("domain", "wildcard.example")]
        ),
        Some(1.0)
    );
    // One fault, one finding: the expired leaf is cert_valid_now's, cert_expiry is absent.
    assert_eq!(check(&m, "expired.example", "cert_expiry"), None);
    // The chain of a failed handshake is judged too: the expired peer's certificate is exposed.
    assert!(
        value(
            &m,
            "sipfed_cert_not_after_timestamp_seconds",
            &[("domain", "expired.example")]
        )
        .unwrap()
            < now()
    );
    // Let's Encrypt is named in the clientAuth finding.
    assert!(
        common::message(&results, "noclientauth.example", "cert_client_auth")
            .contains("Let's Encrypt stopped issuing clientAuth")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_options_answers_and_faults() {
    let lab = Lab::start().await.unwrap();
    let modes = [
        ("sip403.example", SipMode::Answer(403)),
        ("sipgarbage.example", SipMode::Garbage),
        ("sipsilent.example", SipMode::Silent),
        ("sipwrongid.example", SipMode::WrongCallId),
        ("sipflood.example", SipMode::Flood),
        ("sipclose.example", SipMode::Close),
    ];
    let mut domains = String::new();
    for (d, mode) in modes {
        domains.push_str(&common::peer(d));
        tls_domain(&lab, d, good(&format!("sip.{d}")), mode).await;
    }
    let (m, results) = probe_lab(&lab, "", &domains).await;
    expect(
        &m,
        &results,
        &[
            ("sip403.example", "sip_options", 1.0, None),
            ("sipgarbage.example", "sip_options", 0.0, Some("not_sip")),
            ("sipsilent.example", "sip_options", 0.0, Some("timeout")),
            ("sipwrongid.example", "sip_options", 0.0, Some("mismatch")),
            ("sipflood.example", "sip_options", 0.0, Some("not_sip")),
            ("sipclose.example", "sip_options", 0.0, Some("closed")),
        ],
    );
    assert_eq!(
        value(
            &m,
            "sipfed_sip_options_status_code",
            &[("domain", "sip403.example")]
        ),
        Some(403.0)
    );
    assert_eq!(
        value(
            &m,
            "sipfed_sip_options_status_code",
            &[("domain", "sipgarbage.example")]
        ),
        Some(0.0)
    );
}

/// An edge that refuses us says why in `ms-diagnostics`: the code is exported per endpoint
/// (and only where an answer carried one); its port still speaks SIP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ms_diagnostics_are_kept_and_exported() {
    let lab = Lab::start().await.unwrap();
    let modes = [
        ("diagnosed.example", SipMode::AllowFrom(&["friend.example"])),
        ("plain.example", SipMode::Answer(200)),
    ];
    let mut domains = String::new();
    for (d, mode) in modes {
        domains.push_str(&common::peer(d));
        tls_domain(&lab, d, good(&format!("sip.{d}")), mode).await;
    }
    let (m, results) = probe_lab(&lab, "", &domains).await;
    expect(
        &m,
        &results,
        &[("diagnosed.example", "sip_options", 1.0, None)],
    );
    let diagnostics = |d| value(&m, "sipfed_sip_ms_diagnostics_code", &[("domain", d)]);
    assert_eq!(
        diagnostics("diagnosed.example"),
        Some(f64::from(LAB_DIAGNOSTICS))
    );
    assert_eq!(diagnostics("plain.example"), None);
    let report = results
        .iter()
        .find(|r| r.domain == "diagnosed.example")
        .unwrap();
    let json = serde_json::to_string(&report.vantages[0].facts).unwrap();
    assert!(json.contains(r#""diagnostics":{"code":1034,"reason":"Federation with the domain is not allowed","source":"edge.lab"}"#), "{json}");
    assert!(json.contains(r#""platform":{"kind":"skype_for_business","product":"Skype for Business Server 2015","version":"6.0"}"#), "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_addresses_and_targets() {
    let lab = Lab::start().await.unwrap();
    // Two addresses behind one target: same certificate, then different ones.
    let leaf = lab.pki.leaf(&good("sip.same.example")).unwrap();
    let mut same = Vec::new();
    for _ in 0..2 {
        let p = lab
            .peer(Behavior::Tls {
                leaf: leaf.clone_key(),
                request_client_cert: false,
                sip: SipMode::Answer(200),
            })
            .await
            .unwrap();
        lab.publish("same.example", "sip.same.example", p.address);
        same.push(p.address);
    }
    for _ in 0..2 {
        tls_domain(
            &lab,
            "differ.example",
            good("sip.differ.example"),
            SipMode::Answer(200),
        )
        .await;
    }
    // Two targets with a certificate each: nothing to compare per target.
    for t in ["sip1.twotargets.example", "sip2.twotargets.example"] {
        let p = lab.tls_peer(&good(t)).await.unwrap();
        lab.publish("twotargets.example", t, p.address);
    }
    let domains = peers(&["same.example", "differ.example", "twotargets.example"]);
    let (m, results) = probe_lab(&lab, "", &domains).await;
    expect(
        &m,
        &results,
        &[
            ("same.example", "cert_same_everywhere", 1.0, None),
            (
                "differ.example",
                "cert_same_everywhere",
                0.0,
                Some("different_certificates"),
            ),
            ("twotargets.example", "cert_name_match", 1.0, None),
        ],
    );
    assert_eq!(
        check(&m, "twotargets.example", "cert_same_everywhere"),
        None
    );
    // Each address is its own sample; these servers do not ask for a client certificate.
    for address in same {
        assert_eq!(
            value(
                &m,
                "sipfed_tls_client_cert_requested",
                &[
                    ("domain", "same.example"),
                    ("address", &address.to_string())
                ]
            ),
            Some(0.0),
            "{address}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_chains() {
    let lab = Lab::start().await.unwrap();
    // A hostile peer sending a chain of 60 certificates: judged on what we keep, no hang.
    let mut leaf = lab.pki.leaf(&good("sip.hugechain.example")).unwrap();
    let intermediate = leaf.chain[1].clone();
    leaf.chain.extend(std::iter::repeat_n(intermediate, 59));
    let p = lab
        .peer(Behavior::Tls {
            leaf,
            request_client_cert: false,
            sip: SipMode::Answer(200),
        })
        .await
        .unwrap();
    lab.publish("hugechain.example", "sip.hugechain.example", p.address);
    // A peer presenting a certificate that is not valid DER.
    let mut leaf = lab.pki.leaf(&good("sip.malformed.example")).unwrap();
    let mut der = leaf.chain[0].to_vec();
    der.truncate(der.len() / 2);
    der.extend_from_slice(b"\xff\xffnot a certificate");
    leaf.chain[0] = der.into();
    let p = lab
        .peer(Behavior::Tls {
            leaf,
            request_client_cert: false,
            sip: SipMode::Answer(200),
        })
        .await
        .unwrap();
    lab.publish("malformed.example", "sip.malformed.example", p.address);
    let domains = peers(&["hugechain.example", "malformed.example"]);
    let (m, results) = probe_lab(&lab, "", &domains).await;
    expect(
        &m,
        &results,
        &[
            ("hugechain.example", "tls_handshake", 1.0, None),
            (
                "malformed.example",
                "tls_handshake",
                0.0,
                Some("handshake_failure"),
            ),
            (
                "malformed.example",
                "cert_trusted",
                0.0,
                Some("malformed_certificate"),
            ),
            ("hugechain.example", "cert_trusted", 1.0, None),
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_federation_route() {
    let lab = Lab::start().await.unwrap();
    let leaf = lab.pki.leaf(&good("host.direct.example")).unwrap();
    let p = lab
        .peer_on(
            Behavior::Tls {
                leaf,
                request_client_cert: false,
                sip: SipMode::Answer(200),
            },
            5070,
        )
        .await
        .unwrap();
    lab.zone.addr("host.direct.example", p.address.ip());
    let direct = "  - domain: direct.example\n    federation: direct\n    fqdn: host.direct.example\n    port: 5070\n";
    let (m, results) = probe_lab(&lab, "", direct).await;
    expect(
        &m,
        &results,
        &[
            ("direct.example", "tcp_connect", 1.0, None),
            ("direct.example", "cert_name_match", 1.0, None),
        ],
    );
    // No SRV record to judge.
    assert_eq!(check(&m, "direct.example", "srv_present"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_premises_lyncdiscover_without_microsoft_365() {
    let lab = Lab::start().await.unwrap();
    tls_domain(
        &lab,
        "onprem.example",
        good("sip.onprem.example"),
        SipMode::Answer(200),
    )
    .await;
    lab.zone
        .addr("lyncdiscover.onprem.example", "127.0.0.1".parse().unwrap());
    let (m, _) = probe_lab(&lab, "", &peers(&["onprem.example"])).await;
    // An on-premises Skype server's lyncdiscover: nothing to judge.
    assert_eq!(check(&m, "onprem.example", "teams_lyncdiscover"), None);
    assert_eq!(check(&m, "onprem.example", "srv_present"), Some(1.0));
}
