//! The binary's verbs: `check` (exit codes, text and JSON) and `config check`.

mod common;

use sipfed_exporter::lab::{Lab, LeafSpec};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_sipfed_exporter");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_prints_a_checklist_and_exits_by_severity() {
    let lab = Lab::start().await.unwrap();
    let p = lab
        .tls_peer(&LeafSpec::good("sip.good.example"))
        .await
        .unwrap();
    lab.publish("good.example", "sip.good.example", p.address);
    let p = lab
        .tls_peer(&LeafSpec {
            not_before_days: -80,
            not_after_days: 10,
            ..LeafSpec::good("sip.soon.example")
        })
        .await
        .unwrap();
    lab.publish("soon.example", "sip.soon.example", p.address);
    let path = lab
        .write_config("c.yml", "", "  - domain: good.example\n")
        .unwrap();
    let dns = lab.dns.to_string();

    let run = |args: Vec<&str>| {
        let mut c = Command::new(BIN);
        c.arg("check")
            .arg(format!("--config.file={}", path.display()))
            .args(args);
        c.output()
    };
    let out = run(vec!["good.example", "--resolver", &dns]).await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("good.example (peer, tenant default) from inside"),
        "{text}"
    );
    assert!(text.contains("[  ok  ] cert_trusted"), "{text}");

    let out = run(vec!["soon.example", "--resolver", &dns]).await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("[ WARN ] cert_expiry"), "{text}");

    let out = run(vec![
        "nothing-here.example",
        "--resolver",
        &dns,
        "--output",
        "json",
    ])
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json[0]["domain"], "nothing-here.example");
    assert_eq!(json[0]["state"], "failing");
    let findings = &json[0]["vantages"][0]["findings"];
    assert_eq!(findings[0]["check"], "srv_present");
    assert_eq!(findings[0]["passed"], false);
    assert_eq!(findings[0]["reason"], "nxdomain");
    // The facts behind the verdict come with it.
    assert_eq!(
        json[0]["vantages"][0]["facts"]["srv"]["answers"][0]["answer"]["error"],
        "nxdomain"
    );

    // --role=own turns on own-domain checks (and their severities).
    let out = run(vec![
        "good.example",
        "--resolver",
        &dns,
        "--role",
        "own",
        "--output",
        "json",
    ])
    .await
    .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json[0]["role"], "own");
    let wildcard = json[0]["vantages"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "cert_not_wildcard")
        .unwrap();
    assert_eq!(wildcard["severity"], "critical");
}

#[tokio::test]
async fn config_check_names_file_line_and_key() {
    let dir = std::env::temp_dir().join(format!("sipfed-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.yml");
    std::fs::write(
        &bad,
        "global:\n  interval: 5m\ndomains:\n  - domain: zahnfee.de\n    rolle: own\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args([
            "config",
            "check",
            &format!("--config.file={}", bad.display()),
        ])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}:5:5: domains[0]: unknown field `rolle`",
            bad.display()
        )),
        "{err}"
    );
    let good = dir.join("good.yml");
    std::fs::write(&good, "domains:\n  - domain: zahnfee.de\n    role: own\n").unwrap();
    let out = Command::new(BIN)
        .args([
            "config",
            "check",
            &format!("--config.file={}", good.display()),
        ])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok (1 domains, 1 vantages)"));
    std::fs::remove_dir_all(&dir).unwrap();
}
