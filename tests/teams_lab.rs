//! Microsoft 365 / Teams against the lab: evidence from each record kind, platform
//! classification for every Microsoft cloud, and the checks teams_federation_srv,
//! teams_lyncdiscover and teams_conflict passing and failing, asserted on exposed metrics and,
//! where the remediation matters, on the finding's text.
//!
//! Lab peers play Microsoft's federation edges (`sipfed.online.lync.com` and the sovereign
//! clouds' counterparts) with certificates for those names from the lab CA.

mod common;

use common::{check, message, probe_lab, reason, value};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teams_tenants_and_platforms_against_the_lab() {
    let lab = Lab::start().await.unwrap();
    let z = &lab.zone;
    let mut peers = Vec::new();
    let mut add = |d: &str| peers.push(d.to_string());

    // Microsoft's federation edges. The commercial one is, as in real DNS, a CNAME into
    // Microsoft's traffic manager: Microsoft targets are exempt from srv_target_not_alias.
    edge(
        &lab,
        "sipfed.online.lync.com",
        Some("sipfed.online.lync.com.trafficmanager.lab"),
        SipMode::Answer(200),
    )
    .await;
    edge(
        &lab,
        "sipfed.online.gov.skypeforbusiness.us",
        None,
        SipMode::Answer(403),
    )
    .await;
    edge(
        &lab,
        "sipfed.online.dod.skypeforbusiness.us",
        None,
        SipMode::Answer(403),
    )
    .await;
    edge(
        &lab,
        "sipfed.online.partner.lync.cn",
        None,
        SipMode::Answer(200),
    )
    .await;

    // A tenant done right: Microsoft hosts its DNS and published everything.
    add("tenant-ok.example");
    tenant_records(&lab, "tenant-ok.example");
    z.federation_srv("tenant-ok.example", 100, 1, 5061, "sipfed.online.lync.com");

    // Tenants whose DNS is hosted outside Microsoft: evidence from one record kind each, and
    // no federation SRV (Microsoft creates it only in DNS it hosts).
    add("mx-only.example");
    z.mx(
        "mx-only.example",
        0,
        "mx-only-example.mail.protection.outlook.com",
    );
    z.addr("mx-only.example", "192.0.2.10".parse().unwrap());
    add("txt-only.example");
    z.txt("txt-only.example", "MS=ms87654321");
    add("lync-only.example");
    z.cname("lyncdiscover.lync-only.example", "webdir.online.lync.com");
    add("sip-only.example");
    z.cname("sip.sip-only.example", "sipdir.online.lync.com");
    add("siptls-only.example");
    z.srv(
        "_sip._tls.siptls-only.example",
        100,
        1,
        443,
        "sipdir.online.lync.com",
    );

    // No Microsoft at all: a self-hosted edge with its own mail, and a domain with nothing.
    add("plain.example");
    edge(&lab, "sip.plain.example", None, SipMode::Answer(200)).await;
    z.federation_srv("plain.example", 0, 0, 5061, "sip.plain.example");
    z.mx("plain.example", 10, "mail.plain.example");
    z.txt("plain.example", "v=spf1 mx -all");
    add("nothing.example");
    z.addr("nothing.example", "192.0.2.20".parse().unwrap());

    // Sovereign clouds: a GCC High tenant without SRV (its lyncdiscover and MX tell the cloud),
    // and tenants done right in GCC High, DoD and 21Vianet.
    add("gcch-missing.example");
    z.mx(
        "gcch-missing.example",
        0,
        "gcch-missing-example.mail.protection.office365.us",
    );
    z.cname(
        "lyncdiscover.gcch-missing.example",
        "webdir.online.gov.skypeforbusiness.us",
    );
    add("gcch-mxonly.example");
    z.mx(
        "gcch-mxonly.example",
        0,
        "gcch-mxonly-example.mail.protection.office365.us",
    );
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
        add(d);
        z.federation_srv(d, 100, 1, 5061, target);
        z.cname(&format!("lyncdiscover.{d}"), ld);
    }

    // Microsoft 365 for mail only, federation through its own edge: the SRV is right as it is.
    // Decision: teams_federation_srv passes, because nothing says Teams answers SIP for the
    // domain (no lyncdiscover/sip/_sip._tls to Microsoft); MX and TXT only prove Exchange.
    add("ownedge-mail.example");
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

    // A Teams tenant whose SRV was moved to a self-hosted server while lyncdiscover and sip
    // still send clients to Microsoft: partners reach the self-hosted edge, Teams users are
    // in Teams. Fails.
    add("split.example");
    tenant_records(&lab, "split.example");
    edge(&lab, "edge.split.example", None, SipMode::Answer(200)).await;
    z.federation_srv("split.example", 0, 0, 5061, "edge.split.example");

    // lyncdiscover pointing elsewhere: to a self-hosted name, to an address of its own, and
    // through a DNS provider's alias to Microsoft (which is fine).
    add("islands-name.example");
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
    add("islands-addr.example");
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
    add("chained.example");
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

    // A tenant whose SRV lookup fails: the DNS failure is srv_present's finding, not a
    // claim that the record is missing.
    add("servfail-tenant.example");
    tenant_records(&lab, "servfail-tenant.example");
    z.fault(
        "_sipfederationtls._tcp.servfail-tenant.example",
        Fault::Servfail,
    );

    // Own domains that moved to XPhone: one still carries Microsoft's records, one is clean.
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

    let mut domains = String::new();
    for (d, fqdn) in [
        ("moved.example", "xphone.moved.example"),
        ("clean.example", "xphone.clean.example"),
    ] {
        domains.push_str(&format!(
            "  - domain: {d}\n    role: own\n    fqdn: {fqdn}\n"
        ));
    }
    for d in &peers {
        domains.push_str(&common::peer(d));
    }
    let (m, results) = probe_lab(&lab, "", &domains).await;

    // sipfed_m365_evidence and sipfed_platform_info per domain.
    let platforms: &[(&str, f64, &str)] = &[
        ("tenant-ok.example", 1.0, "microsoft"),
        ("mx-only.example", 1.0, "none"),
        ("txt-only.example", 1.0, "none"),
        ("lync-only.example", 1.0, "none"),
        ("sip-only.example", 1.0, "none"),
        ("siptls-only.example", 1.0, "none"),
        ("plain.example", 0.0, "self_hosted"),
        ("nothing.example", 0.0, "none"),
        ("gcch-missing.example", 1.0, "none"),
        ("gcch-mxonly.example", 1.0, "none"),
        ("gcch-ok.example", 1.0, "microsoft_gcch"),
        ("dod-ok.example", 1.0, "microsoft_dod"),
        ("vianet-ok.example", 1.0, "microsoft_21vianet"),
        ("ownedge-mail.example", 1.0, "self_hosted"),
        ("split.example", 1.0, "self_hosted"),
        ("islands-name.example", 1.0, "microsoft"),
        ("chained.example", 1.0, "microsoft"),
        ("moved.example", 1.0, "self_hosted"),
        ("clean.example", 1.0, "self_hosted"),
    ];
    let mut failures = Vec::new();
    for (d, evidence, platform) in platforms {
        let got = value(&m, "sipfed_m365_evidence", &[("domain", d)]);
        if got != Some(*evidence) {
            failures.push(format!(
                "{d}: sipfed_m365_evidence {got:?}, want {evidence}"
            ));
        }
        let got = value(
            &m,
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

    // (domain, check, expected value (None: absent), expected reason)
    let cases: &[(&str, &str, Option<f64>, Option<&str>)] = &[
        ("tenant-ok.example", "teams_federation_srv", Some(1.0), None),
        ("tenant-ok.example", "teams_lyncdiscover", Some(1.0), None),
        ("tenant-ok.example", "teams_conflict", None, None),
        // Microsoft targets are exempt from the self-hosted SRV target rules.
        ("tenant-ok.example", "srv_target_in_domain", Some(1.0), None),
        ("tenant-ok.example", "srv_target_not_alias", Some(1.0), None),
        ("tenant-ok.example", "target_resolves", Some(1.0), None),
        ("tenant-ok.example", "cert_name_match", Some(1.0), None),
        ("tenant-ok.example", "sip_options", Some(1.0), None),
        ("gcch-ok.example", "srv_target_in_domain", Some(1.0), None),
        ("gcch-ok.example", "teams_federation_srv", Some(1.0), None),
        ("dod-ok.example", "teams_federation_srv", Some(1.0), None),
        ("vianet-ok.example", "teams_federation_srv", Some(1.0), None),
        ("vianet-ok.example", "teams_lyncdiscover", Some(1.0), None),
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
        (
            "ownedge-mail.example",
            "teams_federation_srv",
            Some(1.0),
            None,
        ),
        ("ownedge-mail.example", "teams_lyncdiscover", None, None),
        (
            "split.example",
            "teams_federation_srv",
            Some(0.0),
            Some("self_hosted_target"),
        ),
        ("split.example", "teams_lyncdiscover", Some(1.0), None),
        ("split.example", "tls_handshake", Some(1.0), None),
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
    ];
    for (domain, c, want, want_reason) in cases {
        let got = check(&m, domain, c);
        let got_reason = reason(&m, domain, c);
        if got != *want || got_reason.as_deref() != *want_reason {
            failures.push(format!(
                "{domain} {c}: got {got:?} ({got_reason:?}), want {want:?} ({want_reason:?}): {}",
                message(&results, domain, c)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Severities: teams_federation_srv is critical for peers, teams_conflict a warning for
    // own domains; a tenant without SRV fails the probe.
    assert_eq!(
        value(
            &m,
            "sipfed_check_success",
            &[
                ("domain", "mx-only.example"),
                ("check", "teams_federation_srv"),
                ("severity", "critical")
            ]
        ),
        Some(0.0)
    );
    assert_eq!(
        value(
            &m,
            "sipfed_check_success",
            &[
                ("domain", "moved.example"),
                ("check", "teams_conflict"),
                ("severity", "warning")
            ]
        ),
        Some(0.0)
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

    // Remediation names the exact record, in the tenant's cloud.
    for d in [
        "mx-only.example",
        "txt-only.example",
        "lync-only.example",
        "sip-only.example",
        "siptls-only.example",
    ] {
        let text = message(&results, d, "teams_federation_srv");
        let record =
            format!("_sipfederationtls._tcp.{d}. 3600 IN SRV 100 1 5061 sipfed.online.lync.com.");
        assert!(text.contains(&record), "{d}: {text}");
    }
    for d in ["gcch-missing.example", "gcch-mxonly.example"] {
        let text = message(&results, d, "teams_federation_srv");
        let record = format!(
            "_sipfederationtls._tcp.{d}. 3600 IN SRV 100 1 5061 sipfed.online.gov.skypeforbusiness.us."
        );
        assert!(text.contains(&record), "{d}: {text}");
        assert!(!text.contains("sipfed.online.lync.com"), "{d}: {text}");
    }
    let text = message(&results, "split.example", "teams_federation_srv");
    assert!(text.contains("edge.split.example"), "{text}");
    assert!(
        text.contains(
            "_sipfederationtls._tcp.split.example. 3600 IN SRV 100 1 5061 sipfed.online.lync.com."
        ),
        "{text}"
    );
    let text = message(&results, "islands-name.example", "teams_lyncdiscover");
    assert!(
        text.contains("lyncweb.islands-name.example") && text.contains("Islands"),
        "{text}"
    );
    let text = message(&results, "islands-addr.example", "teams_lyncdiscover");
    assert!(text.contains("a self-hosted address"), "{text}");
    let text = message(&results, "moved.example", "teams_conflict");
    for record in [
        "lyncdiscover.moved.example. CNAME webdir.online.lync.com.",
        "sip.moved.example. CNAME sipdir.online.lync.com.",
        "_sip._tls.moved.example.",
    ] {
        assert!(text.contains(record), "{record}: {text}");
    }
}
