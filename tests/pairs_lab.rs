//! Federation is a pair, against lab edges that demand and verify client certificates, in
//! TLS 1.2 (the refusal is an alert during the handshake) and TLS 1.3 (an alert on the first
//! read after it): each tenant presents its own client certificate, and one edge judges each
//! identity on its own (accepted; unknown issuer; no clientAuth; none sent), with
//! `client_cert_accepted`, `sip_options` absent (not failed), `client_cert_valid` on the
//! tenant's own domain, `inbound_cert_accepted` and `sipfed_federation_ready` per direction.
//! One scenario per test (`cargo test --test pairs_lab <name>`).

mod common;

use common::{check, message, probe_lab, reason, value};
use sipfed_exporter::config::Config;
use sipfed_exporter::expose::metrics;
use sipfed_exporter::lab::{Behavior, Lab, Leaf, LeafSpec, Pki, SipMode};
use sipfed_exporter::store::{Setup, Store};

/// Writes a tenant's `client_cert` files for `leaf` and returns its `tenants:` entry.
fn tenant(lab: &Lab, name: &str, leaf: Option<&Leaf>) -> String {
    let Some(leaf) = leaf else {
        return String::new();
    };
    let cert = lab.dir.join(format!("{name}.pem"));
    let key = lab.dir.join(format!("{name}.key"));
    std::fs::write(&cert, &leaf.chain_pem).unwrap();
    std::fs::write(&key, &leaf.key_pem).unwrap();
    format!(
        "  {name}:\n    client_cert: {{cert_file: \"{}\", key_file: \"{}\"}}\n",
        cert.display(),
        key.display()
    )
}

fn ready(m: &str, domain: &str, direction: &str) -> Option<f64> {
    value(
        m,
        "sipfed_federation_ready",
        &[("domain", domain), ("direction", direction)],
    )
}

/// The scenario in one TLS version (`tag` keeps the names apart).
async fn pairs(version: &'static rustls::SupportedProtocolVersion, tag: &str) {
    let lab = Lab::start().await.unwrap();
    let foreign = Pki::named("partner private").unwrap();
    let leaf = |spec: LeafSpec| lab.pki.leaf(&spec).unwrap();
    // Our identities: `good` (both EKUs, the lab CA), `noeku` (no clientAuth, as renewals from
    // public CAs are since 2026), `bare` (not listed: inherits the globals, which have none).
    let own_name = format!("sip.own-{tag}.example");
    let good = leaf(LeafSpec::good("edge.good.example"));
    let noeku = leaf(LeafSpec {
        client_auth: false,
        ..LeafSpec::good(&own_name)
    });
    // One edge that verifies client certificates against the lab root, and one that trusts
    // another CA only.
    let mutual = |leaf: Leaf, trust| Behavior::MutualTls {
        leaf,
        sip: SipMode::Answer(200),
        trust,
        version: Some(version),
    };
    let shared = format!("sip.edge-{tag}.example");
    let edge = lab
        .peer(mutual(leaf(LeafSpec::good(&shared)), None))
        .await
        .unwrap();
    let strict_name = format!("sip.strict-{tag}.example");
    let strict = lab
        .peer(mutual(
            leaf(LeafSpec::good(&strict_name)),
            Some(foreign.root_der().clone()),
        ))
        .await
        .unwrap();
    // A partner whose certificate lacks clientAuth (it cannot connect to us), asking for none.
    let legacy_name = format!("sip.legacy-{tag}.example");
    let legacy = lab
        .peer(Behavior::Tls {
            leaf: leaf(LeafSpec {
                client_auth: false,
                ..LeafSpec::good(&legacy_name)
            }),
            request_client_cert: false,
            sip: SipMode::Answer(200),
        })
        .await
        .unwrap();
    let own_edge = lab
        .peer(Behavior::Tls {
            leaf: leaf(LeafSpec::good(&own_name)),
            request_client_cert: false,
            sip: SipMode::Answer(200),
        })
        .await
        .unwrap();
    // Three tenants' partners behind the one edge (same address, same server name): each
    // probe must present its own tenant's certificate, on its own connection.
    let accepted = format!("accepted-{tag}.example");
    let no_eku = format!("noeku-{tag}.example");
    let none = format!("none-{tag}.example");
    let unknown = format!("unknown-{tag}.example");
    let cannot_reach_us = format!("legacy-{tag}.example");
    let own = format!("own-{tag}.example");
    lab.publish(&accepted, &shared, edge.address);
    lab.zone
        .federation_srv(&no_eku, 0, 0, edge.address.port(), &shared);
    lab.zone
        .federation_srv(&none, 0, 0, edge.address.port(), &shared);
    lab.publish(&unknown, &strict_name, strict.address);
    lab.publish(&cannot_reach_us, &legacy_name, legacy.address);
    lab.publish(&own, &own_name, own_edge.address);
    let domains = format!(
        "  - {{domain: {accepted}, tenant: good}}\n  - {{domain: {unknown}, tenant: good}}\n  - {{domain: {cannot_reach_us}, tenant: good}}\n  - {{domain: {no_eku}, tenant: noeku}}\n  - {{domain: {own}, tenant: noeku, role: own, fqdn: {own_name}}}\n  - {{domain: {none}, tenant: bare}}\ntenants:\n{}{}",
        tenant(&lab, "good", Some(&good)),
        tenant(&lab, "noeku", Some(&noeku)),
    );
    let (m, results) = probe_lab(&lab, "", &domains).await;
    let say = |d: &str, c: &str| message(&results, d, c);
    let mut failures = Vec::new();
    let mut expect = |d: &str, c: &str, want: Option<f64>, want_reason: Option<&str>| {
        let (got, got_reason) = (check(&m, d, c), reason(&m, d, c));
        if got != want || got_reason.as_deref() != want_reason {
            failures.push(format!(
                "{d} {c}: got {got:?} ({got_reason:?}), want {want:?} ({want_reason:?}): {}",
                say(d, c)
            ));
        }
    };
    expect(&accepted, "client_cert_accepted", Some(1.0), None);
    expect(&accepted, "sip_options", Some(1.0), None);
    expect(&accepted, "inbound_cert_accepted", Some(1.0), None);
    for (d, why) in [
        (&unknown, "client_cert_rejected"),
        (&no_eku, "client_cert_rejected"),
        (&none, "client_cert_missing"),
    ] {
        expect(d, "client_cert_accepted", Some(0.0), Some(why));
        // Not the partner's SIP service, nor (TLS 1.2) its TLS: absent, not failed.
        expect(d, "sip_options", None, None);
        if tag == "tls12" {
            expect(d, "tls_handshake", None, None);
        }
    }
    expect(
        &cannot_reach_us,
        "inbound_cert_accepted",
        Some(0.0),
        Some("no_client_auth"),
    );
    expect(&cannot_reach_us, "client_cert_accepted", Some(1.0), None);
    // Our own fault, named once, on our own domain.
    expect(&own, "client_cert_valid", Some(0.0), Some("no_client_auth"));
    expect(&own, "client_cert_accepted", None, None);
    for (d, outbound, inbound) in [
        (&accepted, 1.0, 1.0),
        (&unknown, 0.0, 1.0),
        (&none, 0.0, 1.0),
        (&cannot_reach_us, 1.0, 0.0),
    ] {
        for (direction, want) in [("outbound", outbound), ("inbound", inbound)] {
            if ready(&m, d, direction) != Some(want) {
                failures.push(format!(
                    "{d}: sipfed_federation_ready{{direction=\"{direction}\"}} {:?}, want {want}",
                    ready(&m, d, direction)
                ));
            }
        }
    }
    // noeku's own domain fails only client_cert_valid, outbound's business: inbound stays
    // ready.
    if ready(&m, &no_eku, "inbound") != Some(1.0) {
        failures.push(format!(
            "{no_eku}: inbound {:?}, want 1 (client_cert_valid is not an inbound matter)",
            ready(&m, &no_eku, "inbound")
        ));
    }
    // The alert is named with what it means.
    for (d, words) in [
        (
            &unknown,
            "alert unknown_ca: their edge does not trust the CA",
        ),
        (
            &no_eku,
            "alert unsupported_certificate: our certificate is not allowed for client authentication",
        ),
        (&none, "tenant has no client_cert configured"),
    ] {
        if !say(d, "client_cert_accepted").contains(words) {
            failures.push(format!(
                "{d}: message lacks {words:?}: {}",
                say(d, "client_cert_accepted")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The client certificates' own metrics, per tenant with one (from the configuration).
    let config = Config::load(&lab.dir.join("test.yml")).unwrap();
    let store = Store::new(Setup::new(config).unwrap(), None, Default::default());
    let page = String::from_utf8(metrics::render(&store)).unwrap();
    let info = |t: &str, auth: &str| {
        value(
            &page,
            "sipfed_client_cert_info",
            &[("tenant", t), ("client_auth", auth)],
        )
    };
    assert_eq!(info("good", "true"), Some(1.0), "{page}");
    assert_eq!(info("noeku", "false"), Some(1.0), "{page}");
    assert!(
        !page.contains("sipfed_client_cert_info{tenant=\"bare\""),
        "{page}"
    );
    let not_after = value(
        &page,
        "sipfed_client_cert_not_after_timestamp_seconds",
        &[("tenant", "good")],
    );
    assert!(not_after.is_some_and(|t| t > 0.0), "{page}");
    // The peer saw certificates from the identities that have one.
    assert!(
        edge.client_cert_seen
            .load(std::sync::atomic::Ordering::Relaxed)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls12_edges_refuse_during_the_handshake() {
    pairs(&rustls::version::TLS12, "tls12").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls13_edges_refuse_after_the_handshake() {
    pairs(&rustls::version::TLS13, "tls13").await;
}
