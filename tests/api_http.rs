//! The JSON API and the pages of a running exporter over a lab world: the list with the status
//! page's filters, a domain's report with its facts, errors as JSON.

mod common;

use std::time::Duration;

use common::{http, start_exporter};
use serde_json::Value;
use sipfed_exporter::lab::{Behavior, Lab, LeafSpec};

async fn json(addr: std::net::SocketAddr, path: &str) -> (u16, Value) {
    let (status, body) = http(addr, "GET", path).await;
    let v = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"));
    (status, v)
}

fn names(list: &Value) -> Vec<String> {
    list["domains"]
        .as_array()
        .expect("domains array")
        .iter()
        .map(|d| d["domain"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_lists_every_domain_and_serves_each_report() {
    let lab = Lab::start().await.unwrap();
    let good = lab
        .tls_peer(&LeafSpec::good("sip.a.example"))
        .await
        .unwrap();
    lab.publish("a.example", "sip.a.example", good.address);
    let refuse = lab.peer(Behavior::Refuse).await.unwrap();
    lab.publish("b.example", "sip.b.example", refuse.address);
    let expiring = lab
        .tls_peer(&LeafSpec {
            not_before_days: -80,
            not_after_days: 10,
            ..LeafSpec::good("sip.c.test")
        })
        .await
        .unwrap();
    lab.publish("c.test", "sip.c.test", expiring.address);
    let path = lab
        .write_config(
            "c.yml",
            "",
            "  - domain: a.example\n    tenant: acme\n  - domain: b.example\n    tenant: acme\n  - domain: c.test\n    tenant: beta\n",
        )
        .unwrap();
    let (addr, shutdown, store) = start_exporter(&path).await;

    let mut list = Value::Null;
    for _ in 0..200 {
        let (status, l) = json(addr, "/api/v1/domains").await;
        assert_eq!(status, 200);
        if l["summary"]["pending"] == 0 {
            list = l;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        list["summary"],
        serde_json::json!({"domains": 3, "failing": 1, "warning": 1, "unknown": 0, "pending": 0, "ok": 1}),
        "{list}"
    );
    // Worst first, every domain with its state and failing checks per vantage.
    assert_eq!(names(&list), ["b.example", "c.test", "a.example"]);
    let b = &list["domains"][0];
    assert_eq!(b["tenant"], "acme");
    assert_eq!(b["state"], "failing");
    assert_eq!(b["vantages"][0]["vantage"], "inside");
    assert_eq!(b["vantages"][0]["state"], "failing");
    assert_eq!(
        b["vantages"][0]["failing_checks"][0]["check"],
        "tcp_connect"
    );
    assert_eq!(
        b["vantages"][0]["failing_checks"][0]["reason"],
        "connection_refused"
    );
    // Whose move and what to do, as the judge said (the report's finding carries the same).
    let failing = &b["vantages"][0]["failing_checks"][0];
    assert_eq!(failing["owner"], "partner", "{failing}");
    let hint = failing["hint"].as_str().expect("a hint");
    assert!(!hint.is_empty(), "{failing}");
    // Worded for a partner: what to ask them, and the finding to tell them.
    assert!(
        hint.starts_with(
            "Ask the partner to open TCP 5061 on their firewall to their edge. Tell them: "
        ),
        "{hint}"
    );
    let c = &list["domains"][1];
    assert_eq!(c["state"], "warning");
    assert_eq!(
        c["vantages"][0]["failing_checks"][0]["check"],
        "cert_expiry"
    );
    let soonest = c["soonest_expiry"].as_i64().expect("an expiry");
    let days =
        (soonest - sipfed_exporter::facts::unix(std::time::SystemTime::now()) as i64) / 86_400;
    assert!((9..=10).contains(&days), "{days}");
    assert_eq!(list["domains"][2]["state"], "ok");
    assert_eq!(
        list["domains"][2]["vantages"][0]["failing_checks"],
        serde_json::json!([])
    );

    // The status page's filters.
    for (query, want) in [
        ("state=failing", &["b.example"][..]),
        ("state=ok", &["a.example"]),
        ("tenant=acme", &["b.example", "a.example"]),
        ("tenant=beta&state=warning", &["c.test"]),
        ("q=.TEST", &["c.test"]),
        ("q=example&state=warning", &[]),
    ] {
        let (status, l) = json(addr, &format!("/api/v1/domains?{query}")).await;
        assert_eq!(status, 200);
        assert_eq!(names(&l), want, "{query}");
        assert_eq!(l["summary"]["domains"], 3, "the summary counts all domains");
    }
    let (status, e) = json(addr, "/api/v1/domains?state=sideways").await;
    assert_eq!(status, 400);
    assert!(e["error"].as_str().unwrap().contains("sideways"), "{e}");

    // One domain: the report `check --output=json` prints, facts included.
    let (status, a) = json(addr, "/api/v1/domains/acme/a.example").await;
    assert_eq!(status, 200);
    let key = sipfed_exporter::store::DomainKey {
        tenant: "acme".into(),
        domain: "a.example".into(),
    };
    // Through text both ways: serde_json parses floats with the same (not always exact)
    // algorithm on both sides, so the comparison is of the same values.
    let stored: serde_json::Value =
        serde_json::from_str(&serde_json::to_string(&*store.report(&key).unwrap()).unwrap())
            .unwrap();
    // The report, and the pair verdicts of the partner beside it.
    let mut a = a;
    let federation = a
        .as_object_mut()
        .and_then(|o| o.remove("federation_ready"))
        .unwrap();
    assert_eq!(a, stored);
    assert_eq!(federation[0]["direction"], "outbound", "{federation}");
    assert_eq!(federation[0]["ready"], true, "{federation}");
    assert_eq!(a["domain"], "a.example");
    assert_eq!(a["state"], "ok");
    let endpoint = &a["vantages"][0]["facts"]["targets"][0]["endpoints"][0];
    assert_eq!(endpoint["address"], good.address.to_string());
    assert_eq!(
        endpoint["chain"][0]["parsed"]["subject_cn"],
        "sip.a.example"
    );
    assert!(
        endpoint["tls"]["ok"]["version"]
            .as_str()
            .is_some_and(|v| v.starts_with("TLS 1.")),
        "{endpoint}"
    );
    assert_eq!(endpoint["sip"]["status"]["ok"], 200, "{endpoint}");
    let (status, e) = json(addr, "/api/v1/domains/acme/nope.example").await;
    assert_eq!(status, 404);
    assert_eq!(
        e["error"],
        "domain nope.example of tenant acme is not configured"
    );
    let (status, _) = json(addr, "/api/v1/domains/beta/a.example").await;
    assert_eq!(status, 404);

    // The pages show the same: filters and the facts of a healthy domain.
    let (status, page) = http(addr, "GET", "/?state=failing").await;
    assert_eq!(status, 200);
    assert!(page.contains("data-domain=\"b.example\""), "{page}");
    assert!(!page.contains("data-domain=\"a.example\""), "{page}");
    let (status, page) = http(addr, "GET", "/domain/acme/a.example").await;
    assert_eq!(status, 200);
    for fact in [
        "data-fact=srv_record><b>Record</b> 0 0 5061 sip.a.example</li>".to_string(),
        format!("data-fact=address><b>Endpoint</b> {}</li>", good.address),
        "data-fact=sip><b>SIP OPTIONS</b> SIP/2.0 200 OK in ".to_string(),
    ] {
        assert!(page.contains(&fact), "{fact} missing from\n{page}");
    }
    shutdown.cancel();
}

/// The only resolver of the vantage does not answer: nothing could be looked at, so every
/// view says `unknown`, never `ok` (and never `failing`: it is the exporter's trouble).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_nothing_could_be_looked_at_is_unknown_everywhere() {
    let lab = Lab::start().await.unwrap();
    let good = lab
        .tls_peer(&LeafSpec::good("sip.a.example"))
        .await
        .unwrap();
    lab.publish("a.example", "sip.a.example", good.address);
    lab.publish("b.example", "sip.b.example", good.address);
    // A bound UDP port that never answers: the vantage's resolver is down.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let dead = silent.local_addr().unwrap();
    let path = lab
        .write_config(
            "c.yml",
            "",
            "  - domain: a.example\n  - domain: b.example\n",
        )
        .unwrap();
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace(&format!("[\"{}\"]", lab.dns), &format!("[\"{dead}\"]"));
    std::fs::write(&path, text).unwrap();
    let (addr, shutdown, _store) = start_exporter(&path).await;

    let mut list = Value::Null;
    for _ in 0..400 {
        let (status, l) = json(addr, "/api/v1/domains").await;
        assert_eq!(status, 200);
        if l["summary"]["pending"] == 0 {
            list = l;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        list["summary"],
        serde_json::json!({"domains": 2, "failing": 0, "warning": 0, "unknown": 2, "pending": 0, "ok": 0}),
        "{list}"
    );
    let a = &list["domains"][0];
    assert_eq!(a["state"], "unknown", "{list}");
    assert_eq!(a["vantages"][0]["state"], "unknown");
    assert_eq!(a["vantages"][0]["blind"], "resolvers_down");
    assert_eq!(a["vantages"][0]["failing_checks"], serde_json::json!([]));
    let (_, filtered) = json(addr, "/api/v1/domains?state=unknown").await;
    assert_eq!(names(&filtered), ["a.example", "b.example"]);
    let (_, report) = json(addr, "/api/v1/domains/default/a.example").await;
    assert_eq!(report["state"], "unknown");
    assert_eq!(report["vantages"][0]["success"], false);

    let (_, page) = http(addr, "GET", "/").await;
    let summary = page
        .split("<p id=summary>")
        .nth(1)
        .and_then(|s| s.split("</p>").next())
        .unwrap_or_default()
        .to_string();
    assert!(summary.contains(">2 unknown</a>"), "{summary}");
    assert!(
        summary.contains("<span class=pending>0 ok</span>"),
        "{summary}"
    );
    let (_, domain) = http(addr, "GET", "/domain/default/a.example").await;
    assert!(
        domain.contains("<span id=state class=unknown>unknown</span>"),
        "{domain}"
    );
    assert!(
        domain.contains("Vantage inside – <span class=unknown>unknown</span>"),
        "{domain}"
    );
    assert!(
        domain.contains(
            "Could not look from this vantage: none of the vantage&#39;s resolvers answers."
        ),
        "{domain}"
    );

    // On /metrics: no probe success, the probe says it did not look, and no failed check.
    let (_, m) = http(addr, "GET", "/metrics").await;
    let at =
        |name: &str| common::value(&m, name, &[("domain", "a.example"), ("vantage", "inside")]);
    assert_eq!(at("sipfed_probe_success"), Some(0.0), "{m}");
    assert_eq!(at("sipfed_probe_blind"), Some(1.0), "{m}");
    assert!(!m.contains("sipfed_check_failure_info{"), "{m}");
    shutdown.cancel();
}
