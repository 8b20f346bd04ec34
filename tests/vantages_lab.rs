//! Vantage points against the lab: resolvers that disagree, split horizon, public address
//! rules, a SOCKS5 proxy, authoritative servers with different zone contents, and the
//! inside/outside explanation of an own domain's reachability.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{check, probe_all, reason, value};
use sipfed_exporter::lab::{Behavior, Lab, LeafSpec, Zone};

async fn tls_peer(lab: &Lab, name: &str) -> std::net::SocketAddr {
    lab.tls_peer(&LeafSpec::good(name)).await.unwrap().address
}

fn write(lab: &Lab, file: &str, vantages: &str, domains: &str) -> std::path::PathBuf {
    let path = lab.dir.join(file);
    let text = format!(
        "global:\n  interval: 2s\n  timeout: 1s\n  ca_file: {}\nvantages:\n{vantages}domains:\n{domains}",
        lab.ca_file().display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolvers_that_disagree_and_split_horizon() {
    let mut lab = Lab::start().await.unwrap();
    let other = Arc::new(Zone::default());
    let a = tls_peer(&lab, "sip.same.example").await;
    let b = tls_peer(&lab, "sip.split.example").await;
    let c = tls_peer(&lab, "sip.split.example").await;
    for z in [&lab.zone, &other] {
        z.federation_srv("same.example", 0, 0, 5061, "sip.same.example");
        z.addr("sip.same.example", a.ip());
        z.federation_srv("split.example", 0, 0, 5061, "sip.split.example");
    }
    // The two resolvers give different addresses for the split domain's target.
    lab.zone.addr("sip.split.example", b.ip());
    other.addr("sip.split.example", c.ip());
    // One resolver says NXDOMAIN, the other SERVFAIL: that is a disagreement too.
    other.fault(
        "_sipfederationtls._tcp.failing.example",
        sipfed_exporter::lab::Fault::Servfail,
    );
    let dns2 = lab.extra_dns(other).await.unwrap();

    let both = format!("  inside:\n    resolvers: [\"{}\", \"{dns2}\"]\n", lab.dns);
    let path = write(
        &lab,
        "agree.yml",
        &both,
        "  - domain: same.example\n  - domain: split.example\n  - domain: failing.example\n",
    );
    let (m, results) = probe_all(&path).await;
    assert_eq!(check(&m, "same.example", "resolvers_agree"), Some(1.0));
    assert_eq!(check(&m, "split.example", "resolvers_agree"), Some(0.0));
    assert_eq!(
        reason(&m, "split.example", "resolvers_agree").as_deref(),
        Some("disagree")
    );
    let msg = common::message(&results, "split.example", "resolvers_agree");
    assert!(
        msg.contains(&lab.dns.to_string())
            && msg.contains(&dns2.to_string())
            && msg.contains(&b.ip().to_string())
            && msg.contains(&c.ip().to_string()),
        "{msg}"
    );
    assert_eq!(check(&m, "failing.example", "resolvers_agree"), Some(0.0));
    assert_eq!(
        reason(&m, "failing.example", "resolvers_agree").as_deref(),
        Some("disagree")
    );
    let msg = common::message(&results, "failing.example", "resolvers_agree");
    assert!(
        msg.contains(&format!("{} says nxdomain", lab.dns))
            && msg.contains(&format!("{dns2} says servfail")),
        "{msg}"
    );

    // Two vantages, one resolver each: the split domain looks different from each side.
    let two = format!(
        "  inside:\n    resolvers: [\"{}\"]\n  outside:\n    resolvers: [\"{dns2}\"]\n    public: true\n",
        lab.dns
    );
    let path = write(
        &lab,
        "split.yml",
        &two,
        "  - domain: same.example\n  - domain: split.example\n",
    );
    let (m, _) = probe_all(&path).await;
    assert_eq!(
        value(
            &m,
            "sipfed_dns_split_horizon",
            &[("domain", "split.example")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &m,
            "sipfed_dns_split_horizon",
            &[("domain", "same.example")]
        ),
        Some(0.0)
    );
    // Results of both vantages are there, told apart by the vantage label.
    assert_eq!(
        value(
            &m,
            "sipfed_endpoint_up",
            &[("domain", "split.example"), ("vantage", "inside")]
        ),
        Some(1.0)
    );
    // A public vantage never connects to an address that is not globally routable.
    assert_eq!(
        value(
            &m,
            "sipfed_endpoint_up",
            &[("domain", "split.example"), ("vantage", "outside")]
        ),
        Some(0.0)
    );
    assert_eq!(
        reason_at(&m, "split.example", "outside", "tcp_connect").as_deref(),
        Some("forbidden_address")
    );
    // Loopback addresses are not reachable from the internet: fails on the public vantage only.
    assert_eq!(
        common::check_success(
            &m,
            &[
                ("domain", "same.example"),
                ("vantage", "outside"),
                ("check", "target_public_address"),
                ("severity", "warning")
            ]
        ),
        Some(0.0)
    );
    assert_eq!(
        common::check_success(
            &m,
            &[
                ("domain", "same.example"),
                ("vantage", "inside"),
                ("check", "target_public_address")
            ]
        ),
        None
    );
    assert_eq!(
        reason_at(&m, "same.example", "outside", "target_public_address").as_deref(),
        Some("private_address")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socks5_proxy_carries_the_vantage_connections() {
    let lab = Lab::start().await.unwrap();
    let socks = lab.socks().await.unwrap();
    let a = tls_peer(&lab, "sip.viaproxy.example").await;
    lab.publish("viaproxy.example", "sip.viaproxy.example", a);
    let refused = lab.peer(Behavior::Refuse).await.unwrap();
    lab.publish("closed.example", "sip.closed.example", refused.address);
    let vantages = format!(
        "  outside:\n    resolvers: [\"{}\"]\n    proxy: socks5://{}\n",
        lab.dns, socks.address
    );
    let path = write(
        &lab,
        "proxy.yml",
        &vantages,
        "  - domain: viaproxy.example\n  - domain: closed.example\n",
    );
    let (m, _) = probe_all(&path).await;
    assert_eq!(check(&m, "viaproxy.example", "tcp_connect"), Some(1.0));
    assert_eq!(check(&m, "viaproxy.example", "cert_trusted"), Some(1.0));
    assert_eq!(check(&m, "viaproxy.example", "sip_options"), Some(1.0));
    assert_eq!(check(&m, "closed.example", "tcp_connect"), Some(0.0));
    assert_eq!(
        reason(&m, "closed.example", "tcp_connect").as_deref(),
        Some("connection_refused")
    );
    // Both connections went through the proxy.
    assert_eq!(socks.relayed.load(Ordering::Relaxed), 2);

    // A proxy that is not there is the exporter's trouble: the checks that need a connection
    // are absent (not failed), and it does not fall back to direct.
    let vantages = format!(
        "  outside:\n    resolvers: [\"{}\"]\n    proxy: socks5://127.0.0.1:1\n",
        lab.dns
    );
    let path = write(
        &lab,
        "noproxy.yml",
        &vantages,
        "  - domain: viaproxy.example\n",
    );
    let (m, _) = probe_all(&path).await;
    assert_eq!(check(&m, "viaproxy.example", "tcp_connect"), None);
    assert_eq!(check(&m, "viaproxy.example", "tls_handshake"), None);
    assert_eq!(check(&m, "viaproxy.example", "srv_present"), Some(1.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authoritative_servers_with_different_zone_contents() {
    let mut lab = Lab::start().await.unwrap();
    let good = tls_peer(&lab, "sip.stale.example").await;
    let primary = Arc::new(Zone::default());
    let secondary = Arc::new(Zone::default());
    // The secondary still has last year's address for the stale domain; both agree on the other.
    for (z, ip) in [
        (&primary, good.ip()),
        (&secondary, "127.9.9.9".parse().unwrap()),
    ] {
        z.federation_srv("stale.example", 0, 0, 5061, "sip.stale.example");
        z.addr("sip.stale.example", ip);
        z.federation_srv("fresh.example", 0, 0, 5061, "sip.fresh.example");
        z.addr("sip.fresh.example", good.ip());
    }
    let ns1 = sipfed_exporter::lab::peer::next_loopback();
    let ns2 = sipfed_exporter::lab::peer::next_loopback();
    match lab
        .dns_on(primary, std::net::SocketAddr::new(ns1, 53))
        .await
    {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            common::skip(
                "authoritative_servers_with_different_zone_contents",
                &format!("binding port 53 needs root ({e})"),
            );
            return;
        }
        Err(e) => panic!("{e}"),
    }
    lab.dns_on(secondary, std::net::SocketAddr::new(ns2, 53))
        .await
        .unwrap();
    for d in ["stale.example", "fresh.example"] {
        lab.zone.ns(d, &format!("ns1.{d}"));
        lab.zone.ns(d, &format!("ns2.{d}"));
        lab.zone.addr(&format!("ns1.{d}"), ns1);
        lab.zone.addr(&format!("ns2.{d}"), ns2);
    }
    // A third name server of the fresh domain that this vantage cannot reach is no evidence.
    lab.zone.ns("fresh.example", "ns3.fresh.example");
    lab.zone.addr(
        "ns3.fresh.example",
        sipfed_exporter::lab::peer::next_loopback(),
    );
    lab.publish("stale.example", "sip.stale.example", good);
    lab.publish("fresh.example", "sip.fresh.example", good);
    let path = lab
        .write_config(
            "auth.yml",
            "",
            "  - domain: stale.example\n    role: own\n  - domain: fresh.example\n    role: own\n  - domain: peer.example\n",
        )
        .unwrap();
    let (m, results) = probe_all(&path).await;
    assert_eq!(
        value(
            &m,
            "sipfed_dns_authoritative_agree",
            &[("domain", "fresh.example")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &m,
            "sipfed_dns_authoritative_agree",
            &[("domain", "stale.example")]
        ),
        Some(0.0)
    );
    assert_eq!(check(&m, "fresh.example", "authoritative_agree"), Some(1.0));
    assert_eq!(check(&m, "stale.example", "authoritative_agree"), Some(0.0));
    let msg = common::message(&results, "stale.example", "authoritative_agree");
    assert!(
        msg.contains("127.9.9.9") && msg.contains(&ns2.to_string()),
        "{msg}"
    );
    // Peers are not asked.
    assert_eq!(check(&m, "peer.example", "authoritative_agree"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_domain_reachable_inside_but_not_outside_says_so() {
    let mut lab = Lab::start().await.unwrap();
    let good = tls_peer(&lab, "xphone.own.example").await;
    let refused = lab.peer(Behavior::Refuse).await.unwrap();
    let outside_zone = Arc::new(Zone::default());
    outside_zone.federation_srv("own.example", 0, 0, 5061, "xphone.own.example");
    outside_zone.addr("xphone.own.example", refused.address.ip());
    lab.publish("own.example", "xphone.own.example", good);
    let dns2 = lab.extra_dns(outside_zone).await.unwrap();
    let vantages = format!(
        "  inside:\n    resolvers: [\"{}\"]\n  outside:\n    resolvers: [\"{dns2}\"]\n    public: true\n",
        lab.dns
    );
    let path = write(
        &lab,
        "io.yml",
        &vantages,
        "  - domain: own.example\n    role: own\n    fqdn: xphone.own.example\n",
    );
    let (_, _shutdown, exporter) = common::start_exporter(&path).await;
    let key = sipfed_exporter::store::DomainKey {
        tenant: "default".into(),
        domain: "own.example".into(),
    };
    let finding = |r: &sipfed_exporter::judge::DomainReport, vantage: &str| {
        r.vantages
            .iter()
            .find(|v| v.vantage == vantage)?
            .findings
            .iter()
            .find(|f| f.check.as_str() == "tcp_connect")
            .cloned()
    };
    // The explanation needs both vantages' facts: once both are in, every report has it.
    let mut message = String::new();
    for _ in 0..100 {
        if let Some(r) = exporter.report(&key) {
            message = finding(&r, "outside")
                .map(|f| f.message.into_owned())
                .unwrap_or_default();
            if message.contains("reachable inside") {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        message.contains(
            "reachable inside, not from outside: check port forwarding of TCP 5061 and the firewall"
        ),
        "{message}"
    );
    let report = exporter.report(&key).unwrap();
    assert!(finding(&report, "inside").unwrap().passed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ad_hoc_probe_never_connects_inside_where_a_configured_one_does() {
    let lab = Lab::start().await.unwrap();
    let peer = lab
        .tls_peer(&LeafSpec::good("sip.inside.example"))
        .await
        .unwrap();
    lab.publish("inside.example", "sip.inside.example", peer.address);
    let path = lab
        .write_config(
            "adhoc.yml",
            "  probe_any_domain: true\n",
            "  - domain: inside.example\n",
        )
        .unwrap();
    let config = sipfed_exporter::config::Config::load(&path).unwrap();
    let setup = sipfed_exporter::store::Setup::new(config).unwrap();
    let vantages = vec!["inside".to_string()];
    let domain = sipfed_exporter::config::Domain::peer("inside.example".into(), vantages.clone());

    let report = setup
        .probe_scoped(&domain, &vantages, sipfed_exporter::store::Scope::AdHoc)
        .await;
    let mut m = String::new();
    sipfed_exporter::expose::metrics::render_report(&mut m, &report);
    assert_eq!(check(&m, "inside.example", "tcp_connect"), Some(0.0), "{m}");
    assert_eq!(
        reason(&m, "inside.example", "tcp_connect").as_deref(),
        Some("forbidden_address")
    );
    assert_eq!(peer.handshakes.load(Ordering::Relaxed), 0, "no connection");
    // Its Microsoft 365 evidence was looked up and not kept.
    assert!(m.contains("sipfed_m365_evidence"), "{m}");
    assert_eq!(setup.prober.m365_cache_size().0, 0);

    let configured = setup.config.domains[0].clone();
    let report = setup.probe(&configured, &configured.vantages).await;
    let mut m = String::new();
    sipfed_exporter::expose::metrics::render_report(&mut m, &report);
    assert_eq!(
        check(&m, "inside.example", "tls_handshake"),
        Some(1.0),
        "{m}"
    );
    assert!(peer.handshakes.load(Ordering::Relaxed) >= 1);
    assert_eq!(setup.prober.m365_cache_size().0, configured.vantages.len());
}

/// The failure reason of one check of one domain at one vantage.
fn reason_at(text: &str, domain: &str, vantage: &str, check: &str) -> Option<String> {
    let labels = [
        format!("domain=\"{domain}\""),
        format!("vantage=\"{vantage}\""),
        format!("check=\"{check}\""),
    ];
    text.lines()
        .filter(|l| l.starts_with("sipfed_check_failure_info{"))
        .filter(|l| labels.iter().all(|x| l.contains(x.as_str())))
        .find_map(|l| {
            let i = l.find("reason=\"")? + 8;
            let j = l[i..].find('"')? + i;
            Some(l[i..j].to_string())
        })
}
