//! `sip_accepts_us` against lab edges that answer OPTIONS by policy: the tenant's `sip_from`
//! on an allow list of From domains, refused with 403 and ms-diagnostics, no such user, out
//! of service; and two tenants' From domains on one shared partner edge.

mod common;

use common::{check, probe_all, value};
use sipfed_exporter::lab::{LAB_DIAGNOSTICS, Lab, LeafSpec, SipMode};

fn good(name: &str) -> LeafSpec {
    LeafSpec::good(name)
}

/// Partners of tenant `zahnfee` (`sip_from: sipfed-monitor@zahnfee.de`), each answering by its
/// policy; a partner of the default tenant (no own domain: no address) is not asked as anyone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_accepts_us_follows_the_partners_policy() {
    let lab = Lab::start().await.unwrap();
    let partners = [
        ("allows.example", SipMode::AllowFrom(&["zahnfee.de"])),
        ("refuses.example", SipMode::AllowFrom(&["other.example"])),
        ("nouser.example", SipMode::Answer(404)),
        ("down.example", SipMode::Answer(503)),
        ("anonymous.example", SipMode::AllowFrom(&["zahnfee.de"])),
    ];
    let mut domains = String::new();
    for (d, mode) in partners {
        lab.serve_tls(d, &good(&format!("sip.{d}")), mode)
            .await
            .unwrap();
        let tenant = if d == "anonymous.example" {
            "default"
        } else {
            "zahnfee"
        };
        domains.push_str(&format!("  - domain: {d}\n    tenant: {tenant}\n"));
    }
    let path = lab
        .write_config_with_tenants(
            "test.yml",
            "",
            "  zahnfee:\n    sip_from: sipfed-monitor@zahnfee.de\n",
            &domains,
        )
        .unwrap();
    let (m, results) = probe_all(&path).await;
    common::expect(
        &m,
        &results,
        &[
            ("allows.example", "sip_accepts_us", Some(1.0), None),
            (
                "refuses.example",
                "sip_accepts_us",
                Some(0.0),
                Some("sip_refused"),
            ),
            // Its port speaks SIP: `sip_options` keeps its meaning.
            ("refuses.example", "sip_options", Some(1.0), None),
            ("nouser.example", "sip_accepts_us", Some(1.0), None),
            (
                "down.example",
                "sip_accepts_us",
                Some(0.0),
                Some("sip_error"),
            ),
            ("anonymous.example", "sip_accepts_us", None, None),
        ],
    );
    let refused = common::message(&results, "refuses.example", "sip_accepts_us");
    assert!(
        refused.starts_with("OPTIONS from sipfed-monitor@zahnfee.de to ")
            && refused.contains("SIP/2.0 403 Forbidden by Skype for Business Server 2015 (RTC/6.0)")
            && refused.contains(&format!(
                "ms-diagnostics {LAB_DIAGNOSTICS} \"Federation with the domain is not allowed\" from edge.lab"
            )),
        "{refused}"
    );
    // A partner that refuses us is not ready outbound.
    let ready = |d| {
        value(
            &m,
            "sipfed_federation_ready",
            &[("domain", d), ("direction", "outbound")],
        )
    };
    assert_eq!(
        (ready("allows.example"), ready("refuses.example")),
        (Some(1.0), Some(0.0))
    );
    assert_eq!(check(&m, "down.example", "sip_options"), Some(1.0));
}

/// Two tenants without client certificates of their own share one identity, so their probes
/// of one partner edge share its connection: each OPTIONS carries its own tenant's From, and
/// the edge's verdict differs by tenant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tenants_are_asked_as_themselves_on_one_shared_edge() {
    let lab = Lab::start().await.unwrap();
    let edge = lab
        .serve_tls(
            "one.example",
            &good("sip.one.example"),
            SipMode::AllowFrom(&["zahnfee.de"]),
        )
        .await
        .unwrap();
    // Only the SRV record: the target's address is there already.
    lab.zone
        .federation_srv("two.example", 0, 0, edge.address.port(), "sip.one.example");
    let path = lab
        .write_config_with_tenants(
            "test.yml",
            "",
            "  zahnfee:\n    sip_from: sipfed-monitor@zahnfee.de\n  toothfairy:\n    sip_from: monitor@toothfairy.uk\n",
            "  - domain: one.example\n    tenant: zahnfee\n  - domain: two.example\n    tenant: toothfairy\n",
        )
        .unwrap();
    let (m, results) = probe_all(&path).await;
    common::expect(
        &m,
        &results,
        &[
            ("one.example", "sip_accepts_us", Some(1.0), None),
            (
                "two.example",
                "sip_accepts_us",
                Some(0.0),
                Some("sip_refused"),
            ),
        ],
    );
    let mut seen = edge.from_seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen, ["toothfairy.uk", "zahnfee.de"]);
    assert_eq!(
        edge.handshakes.load(std::sync::atomic::Ordering::Relaxed),
        1,
        "one connection carried both tenants' requests"
    );
}
