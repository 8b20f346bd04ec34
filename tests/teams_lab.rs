//! Microsoft 365 / Teams against the lab: evidence from each record kind, platform
//! classification for every Microsoft cloud, and the checks teams_federation_srv,
//! teams_lyncdiscover and teams_conflict passing and failing, asserted on exposed metrics and,
//! where the remediation matters, on the finding's text. One scenario per test, each in its
//! own lab world (`cargo test --test teams_lab <name>`).
//!
//! Lab peers play Microsoft's federation edges (`sipfed.online.lync.com` and the sovereign
//! clouds' counterparts) with certificates for those names from the lab CA.

mod common;

use common::{expect, message, probe_lab, value};
use sipfed_exporter::judge::DomainReport;
use sipfed_exporter::lab::{Behavior, Fault, Lab, LeafSpec, SipMode};

/// Starts a peer that plays `name` (a Microsoft edge or a self-hosted one) and gives `name` an
/// A record, or a CNAME to `alias` with the A record there.
async fn edge(lab: &Lab, name: &str, alias: Option<&str>, sip: SipMode) {
    let leaf = lab.pki.leaf(&LeafSpec::good(name)).unwrap();
    let p = lab
        .peer(Behavior::Tls {
            leaf,
            request_client_cert: true,
            sip,
        })
        .await
        .unwrap();
    match alias {
        Some(a) => {
            lab.zone.cname(name, a);
            lab.zone.addr(a, p.address.ip());
        }
        None => lab.zone.addr(name, p.address.ip()),
    }
}

/// The records Microsoft creates for a tenant whose DNS it hosts (commercial cloud).
fn tenant_records(lab: &Lab, domain: &str) {
    let z = &lab.zone;
    let label = domain.replace('.', "-");
    z.mx(domain, 0, &format!("{label}.mail.protection.outlook.com"));
    z.txt(domain, "MS=ms41234567");
    z.txt(domain, "v=spf1 include:spf.protection.outlook.com -all");
    z.cname(&format!("lyncdiscover.{domain}"), "webdir.online.lync.com");
    z.cname(&format!("sip.{domain}"), "sipdir.online.lync.com");
}

/// Microsoft's federation edges in every cloud, played by lab peers.
async fn microsoft_edges(lab: &Lab) {
    // Microsoft's federation edges. The commercial one is, as in real DNS, a CNAME into
    // Microsoft's traffic manager: Microsoft targets are exempt from srv_target_not_alias.
    edge(
        lab,
        "sipfed.online.lync.com",
        Some("sipfed.online.lync.com.trafficmanager.lab"),
        SipMode::Answer(200),
    )
    .await;
    edge(
        lab,
        "sipfed.online.gov.skypeforbusiness.us",
        None,
        SipMode::Answer(403),
    )
    .await;
    edge(
        lab,
        "sipfed.online.dod.skypeforbusiness.us",
        None,
        SipMode::Answer(403),
    )
    .await;
    edge(
        lab,
        "sipfed.online.partner.lync.cn",
        None,
        SipMode::Answer(200),
    )
    .await;
}

/// Probes `own` (domain, fqdn) entries and `peers`.
async fn probe(lab: &Lab, own: &[(&str, &str)], peers: &[&str]) -> (String, Vec<DomainReport>) {
    let mut domains = String::new();
    for (d, fqdn) in own {
        domains.push_str(&format!(
            "  - domain: {d}\n    role: own\n    fqdn: {fqdn}\n"
        ));
    }
    for d in peers {
        domains.push_str(&common::peer(d));
    }
    probe_lab(lab, "", &domains).await
}

/// Asserts `sipfed_m365_evidence` and the one `sipfed_platform_info` of each domain.
fn expect_platforms(m: &str, platforms: &[(&str, f64, &str)]) {
    let mut failures = Vec::new();
    for (d, evidence, platform) in platforms {
        let got = value(m, "sipfed_m365_evidence", &[("domain", d)]);
        if got != Some(*evidence) {
            failures.push(format!(
                "{d}: sipfed_m365_evidence {got:?}, want {evidence}"
            ));
        }
        let got = value(
            m,
            "sipfed_platform_info",
            &[("domain", d), ("platform", platform)],
        );
        if got != Some(1.0) {
            failures.push(format!(
                "{d}: sipfed_platform_info{{platform={platform}}} {got:?}"
            ));
        }
        // Exactly one platform per domain.
        let n = m
            .lines()
            .filter(|l| {
                l.starts_with("sipfed_platform_info{") && l.contains(&format!("domain=\"{d}\""))
            })
            .count();
        if n != 1 {
            failures.push(format!("{d}: {n} sipfed_platform_info samples"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_done_right() {
    let lab = Lab::start().await.unwrap();
    microsoft_edges(&lab).await;
    // Microsoft hosts its DNS and published everything.
    tenant_records(&lab, "tenant-ok.example");
    lab.zone
        .federation_srv("tenant-ok.example", 100, 1, 5061, "sipfed.online.lync.com");
    let (m, results) = probe(&lab, &[], &["tenant-ok.example"]).await;
    expect_platforms(&m, &[("tenant-ok.example", 1.0, "microsoft")]);
    expect(
        &m,
        &results,
        &[
            ("tenant-ok.example", "teams_federation_srv", Some(1.0), None),
            ("tenant-ok.example", "teams_lyncdiscover", Some(1.0), None),
            ("tenant-ok.example", "teams_conflict", None, None),
            // Microsoft targets are exempt from the self-hosted SRV target rules.
            ("tenant-ok.example", "srv_target_in_domain", Some(1.0), None),
            ("tenant-ok.example", "srv_target_not_alias", Some(1.0), None),
            ("tenant-ok.example", "target_resolves", Some(1.0), None),
            ("tenant-ok.example", "cert_name_match", Some(1.0), None),
            ("tenant-ok.example", "sip_options", Some(1.0), None),
        ],
    );
    assert_eq!(
        value(
            &m,
            "sipfed_probe_success",
            &[("domain", "tenant-ok.example")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &m,
            "sipfed_srv_target_info",
            &[
                ("domain", "tenant-ok.example"),
                ("target", "sipfed.online.lync.com"),
                ("port", "5061"),
                ("priority", "100"),
                ("weight", "1")
            ]
        ),
        Some(1.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_from_one_record_kind_each() {
    let lab = Lab::start().await.unwrap();
    let z = &lab.zone;
    // DNS hosted outside Microsoft: no federation SRV (Microsoft creates it only in DNS it
    // hosts).
    z.mx(
        "mx-only.example",
        0,
        "mx-only-example.mail.protection.outlook.com",
    );
    z.addr("mx-only.example", "192.0.2.10".parse().unwrap());
    z.txt("txt-only.example", "MS=ms87654321");
    z.cname("lyncdiscover.lync-only.example", "webdir.online.lync.com");
    z.cname("sip.sip-only.example", "sipdir.online.lync.com");
    z.srv(
        "_sip._tls.siptls-only.example",
        100,
        1,
        443,
        "sipdir.online.lync.com",
    );
    let tenants = [
        "mx-only.example",
        "txt-only.example",
        "lync-only.example",
        "sip-only.example",
        "siptls-only.example",
    ];
    let (m, results) = probe(&lab, &[], &tenants).await;
    expect_platforms(
        &m,
        &[
            ("mx-only.example", 1.0, "none"),
            ("txt-only.example", 1.0, "none"),
            ("lync-only.example", 1.0, "none"),
            ("sip-only.example", 1.0, "none"),
            ("siptls-only.example", 1.0, "none"),
        ],
    );
    expect(
        &m,
        &results,
        &[
            (
                "mx-only.example",
                "teams_federation_srv",
                Some(0.0),
                Some("missing_srv"),
            ),
            (
                "mx-only.example",
                "srv_present",
                Some(0.0),
                Some("nxdomain"),
            ),
            ("mx-only.example", "teams_lyncdiscover", None, None),
            (
                "txt-only.example",
                "teams_federation_srv",
                Some(0.0),
                Some("missing_srv"),
            ),
            (
                "lync-only.example",
                "teams_federation_srv",
                Some(0.0),
                Some("missing_srv"),
            ),
            ("lync-only.example", "teams_lyncdiscover", Some(1.0), None),
            (
                "sip-only.example",
                "teams_federation_srv",
                Some(0.0),
                Some("missing_srv"),
            ),
            (
                "siptls-only.example",
                "teams_federation_srv",
                Some(0.0),
                Some("missing_srv"),
            ),
        ],
    );
    // teams_federation_srv is critical for peers.
    assert_eq!(
        common::check_success(
            &m,
            &[
                ("domain", "mx-only.example"),
                ("check", "teams_federation_srv"),
                ("severity", "critical")
            ]
        ),
        Some(0.0)
    );
    // Remediation names the exact record.
    for d in tenants {
        let text = message(&results, d, "teams_federation_srv");
        let record =
            format!("_sipfederationtls._tcp.{d}. 3600 IN SRV 100 1 5061 sipfed.online.lync.com.");
        assert!(text.contains(&record), "{d}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_microsoft_at_all() {
    let lab = Lab::start().await.unwrap();
    let z = &lab.zone;
    // A self-hosted edge with its own mail, and a domain with nothing.
    edge(&lab, "sip.plain.example", None, SipMode::Answer(200)).await;
    z.federation_srv("plain.example", 0, 0, 5061, "sip.plain.example");
    z.mx("plain.example", 10, "mail.plain.example");
    z.txt("plain.example", "v=spf1 mx -all");
    z.addr("nothing.example", "192.0.2.20".parse().unwrap());
    let (m, results) = probe(&lab, &[], &["plain.example", "nothing.example"]).await;
    expect_platforms(
        &m,
        &[
            ("plain.example", 0.0, "self_hosted"),
            ("nothing.example", 0.0, "none"),
        ],
    );
    expect(
        &m,
        &results,
        &[
            // No evidence: the Teams checks do not apply.
            ("plain.example", "teams_federation_srv", None, None),
            ("plain.example", "teams_lyncdiscover", None, None),
            ("plain.example", "srv_target_in_domain", Some(1.0), None),
            ("nothing.example", "teams_federation_srv", None, None),
            (
                "nothing.example",
                "srv_present",
                Some(0.0),
                Some("nxdomain"),
            ),
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sovereign_clouds() {
    let lab = Lab::start().await.unwrap();
    microsoft_edges(&lab).await;
    let z = &lab.zone;
    // A GCC High tenant without SRV (its lyncdiscover and MX tell the cloud), one with only
    // the MX, and tenants done right in GCC High, DoD and 21Vianet.
    z.mx(
        "gcch-missing.example",
        0,
        "gcch-missing-example.mail.protection.office365.us",
    );
    z.cname(
        "lyncdiscover.gcch-missing.example",
        "webdir.online.gov.skypeforbusiness.us",
    );
    z.mx(
        "gcch-mxonly.example",
        0,
        "gcch-mxonly-example.mail.protection.office365.us",
    );
    let mut tenants = vec!["gcch-missing.example", "gcch-mxonly.example"];
    for (d, target, ld) in [
        (
            "gcch-ok.example",
            "sipfed.online.gov.skypeforbusiness.us",
            "webdir.online.gov.skypeforbusiness.us",
        ),
        (
            "dod-ok.example",
            "sipfed.online.dod.skypeforbusiness.us",
            "webdir.online.dod.skypeforbusiness.us",
        ),
        (
            "vianet-ok.example",
            "sipfed.online.partner.lync.cn",
            "webdir.online.partner.lync.cn",
        ),
    ] {
        tenants.push(d);
        z.federation_srv(d, 100, 1, 5061, target);
        z.cname(&format!("lyncdiscover.{d}"), ld);
    }
    let (m, results) = probe(&lab, &[], &tenants).await;
    expect_platforms(
        &m,
        &[
            ("gcch-missing.example", 1.0, "none"),
            ("gcch-mxonly.example", 1.0, "none"),
            ("gcch-ok.example", 1.0, "microsoft_gcch"),
            ("dod-ok.example", 1.0, "microsoft_dod"),
            ("vianet-ok.example", 1.0, "microsoft_21vianet"),
        ],
    );
    expect(
        &m,
        &results,
        &[
            ("gcch-ok.example", "srv_target_in_domain", Some(1.0), None),
            ("gcch-ok.example", "teams_federation_srv", Some(1.0), None),
            ("dod-ok.example", "teams_federation_srv", Some(1.0), None),
            ("vianet-ok.example", "teams_federation_srv", Some(1.0), None),
            ("vianet-ok.example", "teams_lyncdiscover", Some(1.0), None),
            (
                "gcch-missing.example",
                "teams_federation_srv",
                Some(0.0),
                Some("missing_srv"),
            ),
            (
                "gcch-mxonly.example",
                "teams_federation_srv",
                Some(0.0),
                Some("missing_srv"),
            ),
        ],
    );
    // Remediation names the exact record, in the tenant's cloud.
    for d in ["gcch-missing.example", "gcch-mxonly.example"] {
        let text = message(&results, d, "teams_federation_srv");
        let record = format!(
            "_sipfederationtls._tcp.{d}. 3600 IN SRV 100 1 5061 sipfed.online.gov.skypeforbusiness.us."
        );
        assert!(text.contains(&record), "{d}: {text}");
        assert!(!text.contains("sipfed.online.lync.com"), "{d}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_only_tenant_federates_through_its_own_edge() {
    let lab = Lab::start().await.unwrap();
    let z = &lab.zone;
    // Microsoft 365 for mail only, federation through its own edge: the SRV is right as it is.
    // Decision: teams_federation_srv passes, because nothing says Teams answers SIP for the
    // domain (no lyncdiscover/sip/_sip._tls to Microsoft); MX and TXT only prove Exchange.
    z.mx(
        "ownedge-mail.example",
        0,
        "ownedge-mail-example.mail.protection.outlook.com",
    );
    z.txt("ownedge-mail.example", "MS=ms11112222");
    edge(&lab, "sip.ownedge-mail.example", None, SipMode::Answer(200)).await;
    z.federation_srv(
        "ownedge-mail.example",
        0,
        0,
        5061,
        "sip.ownedge-mail.example",
    );
    let (m, results) = probe(&lab, &[], &["ownedge-mail.example"]).await;
    expect_platforms(&m, &[("ownedge-mail.example", 1.0, "self_hosted")]);
    expect(
        &m,
        &results,
        &[
            (
                "ownedge-mail.example",
                "teams_federation_srv",
                Some(1.0),
                None,
            ),
            ("ownedge-mail.example", "teams_lyncdiscover", None, None),
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teams_tenant_with_srv_to_a_self_hosted_edge() {
    let lab = Lab::start().await.unwrap();
    // The SRV was moved to a self-hosted server while lyncdiscover and sip still send clients
    // to Microsoft: partners reach the self-hosted edge, Teams users are in Teams. Fails.
    tenant_records(&lab, "split.example");
    edge(&lab, "edge.split.example", None, SipMode::Answer(200)).await;
    lab.zone
        .federation_srv("split.example", 0, 0, 5061, "edge.split.example");
    let (m, results) = probe(&lab, &[], &["split.example"]).await;
    expect_platforms(&m, &[("split.example", 1.0, "self_hosted")]);
    expect(
        &m,
        &results,
        &[
            (
                "split.example",
                "teams_federation_srv",
                Some(0.0),
                Some("self_hosted_target"),
            ),
            ("split.example", "teams_lyncdiscover", Some(1.0), None),
            ("split.example", "tls_handshake", Some(1.0), None),
        ],
    );
    let text = message(&results, "split.example", "teams_federation_srv");
    assert!(text.contains("edge.split.example"), "{text}");
    assert!(
        text.contains(
            "_sipfederationtls._tcp.split.example. 3600 IN SRV 100 1 5061 sipfed.online.lync.com."
        ),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lyncdiscover_pointing_elsewhere() {
    let lab = Lab::start().await.unwrap();
    microsoft_edges(&lab).await;
    let z = &lab.zone;
    // To a self-hosted name, to an address of its own, and through a DNS provider's alias to
    // Microsoft (which is fine).
    z.mx(
        "islands-name.example",
        0,
        "islands-name-example.mail.protection.outlook.com",
    );
    z.federation_srv(
        "islands-name.example",
        100,
        1,
        5061,
        "sipfed.online.lync.com",
    );
    z.cname(
        "lyncdiscover.islands-name.example",
        "lyncweb.islands-name.example",
    );
    z.addr(
        "lyncweb.islands-name.example",
        "192.0.2.30".parse().unwrap(),
    );
    z.txt("islands-addr.example", "MS=ms33334444");
    z.federation_srv(
        "islands-addr.example",
        100,
        1,
        5061,
        "sipfed.online.lync.com",
    );
    z.addr(
        "lyncdiscover.islands-addr.example",
        "192.0.2.31".parse().unwrap(),
    );
    z.mx(
        "chained.example",
        0,
        "chained-example.mail.protection.outlook.com",
    );
    z.federation_srv("chained.example", 100, 1, 5061, "sipfed.online.lync.com");
    z.cname(
        "lyncdiscover.chained.example",
        "lyncdiscover.chained.example.dns-provider.lab",
    );
    z.cname(
        "lyncdiscover.chained.example.dns-provider.lab",
        "webdir.online.lync.com",
    );
    let peers = [
        "islands-name.example",
        "islands-addr.example",
        "chained.example",
    ];
    let (m, results) = probe(&lab, &[], &peers).await;
    expect_platforms(
        &m,
        &[
            ("islands-name.example", 1.0, "microsoft"),
            ("chained.example", 1.0, "microsoft"),
        ],
    );
    expect(
        &m,
        &results,
        &[
            (
                "islands-name.example",
                "teams_lyncdiscover",
                Some(0.0),
                Some("not_microsoft"),
            ),
            (
                "islands-name.example",
                "teams_federation_srv",
                Some(1.0),
                None,
            ),
            (
                "islands-addr.example",
                "teams_lyncdiscover",
                Some(0.0),
                Some("not_microsoft"),
            ),
            ("chained.example", "teams_lyncdiscover", Some(1.0), None),
        ],
    );
    let text = message(&results, "islands-name.example", "teams_lyncdiscover");
    assert!(
        text.contains("lyncweb.islands-name.example") && text.contains("Islands"),
        "{text}"
    );
    let text = message(&results, "islands-addr.example", "teams_lyncdiscover");
    assert!(text.contains("a self-hosted address"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn srv_lookup_failure_at_a_tenant() {
    let lab = Lab::start().await.unwrap();
    // The DNS failure is srv_present's finding, not a claim that the record is missing.
    tenant_records(&lab, "servfail-tenant.example");
    lab.zone.fault(
        "_sipfederationtls._tcp.servfail-tenant.example",
        Fault::Servfail,
    );
    let (m, results) = probe(&lab, &[], &["servfail-tenant.example"]).await;
    expect(
        &m,
        &results,
        &[
            (
                "servfail-tenant.example",
                "srv_present",
                Some(0.0),
                Some("servfail"),
            ),
            (
                "servfail-tenant.example",
                "teams_federation_srv",
                None,
                None,
            ),
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_domains_that_moved_off_teams() {
    let lab = Lab::start().await.unwrap();
    let z = &lab.zone;
    // Both moved to XPhone: one still carries Microsoft's records, one is clean.
    edge(&lab, "xphone.moved.example", None, SipMode::Answer(200)).await;
    z.federation_srv("moved.example", 0, 0, 5061, "xphone.moved.example");
    z.cname("lyncdiscover.moved.example", "webdir.online.lync.com");
    z.cname("sip.moved.example", "sipdir.online.lync.com");
    z.srv(
        "_sip._tls.moved.example",
        100,
        1,
        443,
        "sipdir.online.lync.com",
    );
    z.mx(
        "moved.example",
        0,
        "moved-example.mail.protection.outlook.com",
    );
    edge(&lab, "xphone.clean.example", None, SipMode::Answer(200)).await;
    z.federation_srv("clean.example", 0, 0, 5061, "xphone.clean.example");
    z.mx(
        "clean.example",
        0,
        "clean-example.mail.protection.outlook.com",
    );
    z.addr("sip.clean.example", "192.0.2.40".parse().unwrap());
    let own = [
        ("moved.example", "xphone.moved.example"),
        ("clean.example", "xphone.clean.example"),
    ];
    let (m, results) = probe(&lab, &own, &[]).await;
    expect_platforms(
        &m,
        &[
            ("moved.example", 1.0, "self_hosted"),
            ("clean.example", 1.0, "self_hosted"),
        ],
    );
    expect(
        &m,
        &results,
        &[
            (
                "moved.example",
                "teams_conflict",
                Some(0.0),
                Some("microsoft_records"),
            ),
            ("moved.example", "teams_federation_srv", None, None),
            ("moved.example", "srv_target_expected", Some(1.0), None),
            ("clean.example", "teams_conflict", Some(1.0), None),
            ("clean.example", "teams_lyncdiscover", None, None),
        ],
    );
    // teams_conflict is a warning for own domains.
    assert_eq!(
        common::check_success(
            &m,
            &[
                ("domain", "moved.example"),
                ("check", "teams_conflict"),
                ("severity", "warning")
            ]
        ),
        Some(0.0)
    );
    let text = message(&results, "moved.example", "teams_conflict");
    for record in [
        "lyncdiscover.moved.example. CNAME webdir.online.lync.com.",
        "sip.moved.example. CNAME sipdir.online.lync.com.",
        "_sip._tls.moved.example.",
    ] {
        assert!(text.contains(record), "{record}: {text}");
    }
}

/// The evidence asks one query per lyncdiscover/sip name that has an A record or is an alias:
/// an A query shows the alias's CNAME or the name's addresses; AAAA is asked only when there
/// is no A record. Per domain, MX, TXT and `_sip._tls` SRV are three more queries.
#[tokio::test]
async fn evidence_asks_one_query_for_an_alias_or_an_address() {
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use sipfed_exporter::config::{ResolverAddr, Vantage};
    use sipfed_exporter::gather::{dns::Resolvers, m365};

    let lab = Lab::start().await.unwrap();
    let vantage = Vantage {
        name: "inside".into(),
        resolvers: vec![ResolverAddr::Addr(lab.dns)],
        public: false,
        proxy: None,
        health_query: ".".into(),
    };
    let resolvers = Resolvers::new(&vantage, Duration::from_secs(1)).unwrap();
    let z = &lab.zone;
    z.addr("sip.v4.test", "192.0.2.10".parse().unwrap());
    z.addr("sip.v6.test", "2001:db8::10".parse().unwrap());
    z.cname("sip.alias.test", "sipdir.online.lync.com");
    z.cname("sip.dangling.test", "gone.dangling.test");
    // An alias into a name whose servers fail: the A query fails, the CNAME is asked for.
    z.cname("sip.broken.test", "sip.failing.test");
    z.fault("sip.failing.test", Fault::Servfail);
    // (domain, sip evidence, queries: MX, TXT, SRV, lyncdiscover (no such name), then sip's)
    let cases: [(&str, Option<&str>, u64); 6] = [
        ("v4.test", Some(""), 4 + 1),
        ("v6.test", Some(""), 4 + 2),
        ("alias.test", Some("sipdir.online.lync.com"), 4 + 1),
        ("dangling.test", Some("gone.dangling.test"), 4 + 2),
        // A (SERVFAIL, asked again with CD: SERVFAIL), CNAME, and the next hop's CNAME
        // (SERVFAIL, again with CD).
        ("broken.test", Some("sip.failing.test"), 4 + 5),
        ("none.test", None, 4 + 1),
    ];
    for (domain, sip, queries) in cases {
        let before = z.queries.load(Ordering::Relaxed);
        let facts = m365::gather(&resolvers, domain).await.expect("evidence");
        let asked = z.queries.load(Ordering::Relaxed) - before;
        assert_eq!(facts.sip.as_deref(), sip, "{domain}: sip");
        assert_eq!(facts.lyncdiscover, None, "{domain}: lyncdiscover");
        assert_eq!(asked, queries, "{domain}: queries");
    }
}

/// A probe asks a question once, however many of its parts need the answer: the SRV target
/// `sip.<domain>` is also a Microsoft 365 evidence name, and its A query goes out once. The
/// evidence still reads it (an address, so the sip name is no alias) and the target still
/// gets its address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_asks_its_srv_target_once_when_it_is_also_an_evidence_name() {
    use std::sync::atomic::Ordering;

    let lab = Lab::start().await.unwrap();
    let peer = lab
        .serve_tls(
            "selfhosted.test",
            &LeafSpec::good("sip.selfhosted.test"),
            SipMode::Answer(200),
        )
        .await
        .unwrap();
    let before = lab.zone.queries.load(Ordering::Relaxed);
    let (m, reports) = probe(&lab, &[], &["selfhosted.test"]).await;
    let asked = lab.zone.queries.load(Ordering::Relaxed) - before;
    // SRV; the target's A and AAAA; MX, TXT, lyncdiscover A, _sip._tls SRV. Not sip A again.
    assert_eq!(asked, 7, "queries of one probe");
    let facts = &reports[0].vantages[0].facts;
    let m365 = facts.m365.as_ref().expect("evidence");
    assert_eq!(m365.sip.as_deref(), Some(""), "sip.<domain>: an address");
    assert_eq!(
        facts.targets[0].addresses().unwrap(),
        [peer.address.ip()],
        "the target's address"
    );
    assert_eq!(
        common::check(&m, "selfhosted.test", "sip_options"),
        Some(1.0)
    );
}
