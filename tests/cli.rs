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

/// Nothing could be looked at (the only resolver is silent): `check` says UNKNOWN (exit 3,
/// the monitoring-plugin convention), in text and JSON, never ok.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_exits_3_when_nothing_could_be_looked_at() {
    let lab = Lab::start().await.unwrap();
    let p = lab
        .tls_peer(&LeafSpec::good("sip.good.example"))
        .await
        .unwrap();
    lab.publish("good.example", "sip.good.example", p.address);
    let path = lab
        .write_config("c.yml", "", "  - domain: good.example\n")
        .unwrap();
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let dead = silent.local_addr().unwrap().to_string();
    let run = |output: &'static str| {
        let mut c = Command::new(BIN);
        c.arg("check")
            .arg(format!("--config.file={}", path.display()))
            .args(["good.example", "--resolver", &dead, "--output", output]);
        c.output()
    };
    let out = run("json").await.unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json[0]["state"], "unknown");
    assert_eq!(json[0]["vantages"][0]["state"], "unknown");
    assert_eq!(json[0]["vantages"][0]["success"], false);
    assert_eq!(json[0]["vantages"][0]["blind"], "resolvers_down");
    let out = run("text").await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains(
            "[ UNKN ] could not look from this vantage: none of the vantage's resolvers answers"
        ),
        "{text}"
    );
}

/// `check` serves nothing: its help offers no web flag; the demo listens on loopback unless
/// told otherwise.
#[tokio::test]
async fn help_offers_web_flags_only_where_something_is_served() {
    let help = |args: &'static [&'static str]| async move {
        let out = Command::new(BIN).args(args).output().await.unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let check = help(&["check", "--help"]).await;
    assert!(check.contains("--resolver"), "{check}");
    assert!(!check.contains("--web."), "{check}");
    let demo = help(&["demo", "--help"]).await;
    assert!(
        demo.contains("--web.listen-address <LISTEN>")
            && demo.contains("[default: 127.0.0.1:9861]"),
        "{demo}"
    );
    let serve = help(&["--help"]).await;
    assert!(serve.contains("[default: :9861]"), "{serve}");
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
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok (1 domain, 1 vantage)"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A `check` that runs out of file descriptors (a hard limit of 24, 100 domains, 64 probes at
/// once, each domain its own server name; every DNS query and connection is a descriptor) is
/// the exporter's trouble: probes that could not open a socket are blind (`local_resources`),
/// their checks absent, and no check fails (the world is healthy); a domain its probe could
/// not look at is `unknown` and `check` exits 3. Before targets' address
/// lookups and the Microsoft 365 lookups minded `local` failures, such probes failed
/// `target_resolves` with `dns_error`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_out_of_file_descriptors_fails_no_partner() {
    const DOMAINS: usize = 100;
    let lab = Lab::start().await.unwrap();
    let names: Vec<String> = (0..DOMAINS).map(|k| format!("sip.d{k}.example")).collect();
    let p = lab
        .tls_peer(&LeafSpec {
            names: names.clone(),
            ..LeafSpec::good("unused.example")
        })
        .await
        .unwrap();
    let fleet: Vec<(String, String)> = names
        .iter()
        .enumerate()
        .map(|(k, name)| (format!("d{k}.example"), name.clone()))
        .collect();
    let domains = lab.publish_fleet(p.address, &fleet);
    let path = lab
        .write_config("fds.yml", "  concurrency: 64\n", &domains)
        .unwrap();
    let mut c = Command::new(BIN);
    c.arg("check")
        .arg(format!("--config.file={}", path.display()))
        .args(["--output", "json"]);
    // 24, not less: the exporter inherits whatever descriptors the test was started with (a
    // CI wrapper's log file), and its runtime takes several before the config is read; at 10,
    // three inherited ones made it fail to start (reproduced with `exec 3<... 5<...`).
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        c.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 24,
                rlim_max: 24,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = c.output().await.unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let reports = json.as_array().unwrap();
    assert_eq!(reports.len(), DOMAINS);
    let (mut blind, mut healthy) = (0, 0);
    for r in reports {
        let v = &r["vantages"][0];
        let failed: Vec<&serde_json::Value> = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["passed"] == false)
            .collect();
        assert!(
            failed.is_empty(),
            "{}: {failed:?}\n{}",
            r["domain"],
            v["facts"]
        );
        let endpoint_blind = v["facts"]["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|t| t["endpoints"].as_array().into_iter().flatten())
            .any(|e| e["blind"] == "local_resources");
        if v["facts"]["blind"] == "local_resources" || endpoint_blind {
            blind += 1;
            // A probe that could not look at all is unknown, never ok.
            if v["blind"] == "local_resources" {
                assert_eq!(r["state"], "unknown", "{}", r["domain"]);
            }
        } else if r["state"] == "ok" {
            healthy += 1;
        }
    }
    // Every probe either got its sockets and is healthy or is blind; how many of each
    // depends on timing.
    assert_eq!(blind + healthy, DOMAINS, "{blind} blind, {healthy} healthy");
    assert!(blind > 0, "the limit was never reached: {healthy} healthy");
    // Nothing failed, but some domains could not be looked at: UNKNOWN, not OK.
    let unknown = reports.iter().filter(|r| r["state"] == "unknown").count();
    assert!(unknown > 0, "{blind} blind, none unknown");
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `--log.level=debgu` is a usage error naming the value and the accepted levels (it used to
/// fall back to `info` silently), as `--log.format` is.
#[tokio::test]
async fn an_unknown_log_level_is_refused() {
    for (flag, bad) in [("--log.level", "debgu"), ("--log.format", "xml")] {
        let out = Command::new(BIN)
            .arg(format!("{flag}={bad}"))
            .args(["config", "check", "--config.file=/nonexistent.yml"])
            .output()
            .await
            .unwrap();
        assert_eq!(out.status.code(), Some(64), "{flag}={bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("'{bad}'")), "{flag}: {err}");
        assert!(err.contains(flag), "{flag}: {err}");
    }
    let out = Command::new(BIN)
        .arg("--log.level=debgu")
        .args(["config", "check", "--config.file=/nonexistent.yml"])
        .output()
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    for level in ["error", "warn", "info", "debug", "trace"] {
        assert!(err.contains(level), "{level} missing: {err}");
    }
    // A known level is accepted: the exporter goes on to the (missing) config file.
    let out = Command::new(BIN)
        .arg("--log.level=debug")
        .args(["config", "check", "--config.file=/nonexistent.yml"])
        .output()
        .await
        .unwrap();
    assert_ne!(out.status.code(), Some(64));
}

/// The inbound verdict of (tenant, direction) in a report's JSON `federation_ready`.
fn inbound(report: &serde_json::Value) -> Option<(bool, String)> {
    let pairs = report["federation_ready"].as_array()?;
    let p = pairs.iter().find(|p| p["direction"] == "inbound")?;
    Some((p["ready"].as_bool()?, p["reason"].as_str()?.to_string()))
}

/// `check` of a partner includes its tenant's configured own domains, as the status page and
/// the API do: a tenant whose own edge is down is not reachable by the partner, in the CLI and
/// on the API alike (before, `check` judged the partner alone and said inbound ready).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_of_a_partner_judges_inbound_with_the_tenants_own_domains() {
    use sipfed_exporter::lab::{Behavior, SipMode};
    use sipfed_exporter::store::DomainKey;
    let lab = Lab::start().await.unwrap();
    let partner = lab
        .peer(Behavior::Tls {
            leaf: lab
                .pki
                .leaf(&LeafSpec::good("sip.partner.example"))
                .unwrap(),
            request_client_cert: false,
            sip: SipMode::Answer(200),
        })
        .await
        .unwrap();
    lab.publish("partner.example", "sip.partner.example", partner.address);
    // Our own edge: published, nothing listening.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_addr = dead.local_addr().unwrap();
    drop(dead);
    lab.publish("ours.example", "sip.ours.example", dead_addr);
    let path = lab
        .write_config(
            "pair.yml",
            "",
            "  - {domain: partner.example, tenant: acme}\n  - {domain: ours.example, tenant: acme, role: own, fqdn: sip.ours.example}\n",
        )
        .unwrap();
    let out = Command::new(BIN)
        .arg("check")
        .arg(format!("--config.file={}", path.display()))
        .args(["partner.example", "--output", "json"])
        .output()
        .await
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // Only the requested domain is shown; the own domain was judged, not printed.
    assert_eq!(json.as_array().map(|a| a.len()), Some(1), "{json}");
    let cli = inbound(&json[0]);
    assert_eq!(
        cli,
        Some((false, "connection_refused".to_string())),
        "{json}"
    );

    let (addr, _shutdown, store) = common::start_exporter(&path).await;
    let key = |d: &str| DomainKey {
        tenant: "acme".into(),
        domain: d.into(),
    };
    for _ in 0..100 {
        if store.report(&key("partner.example")).is_some()
            && store.report(&key("ours.example")).is_some()
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (status, body) = common::http(addr, "GET", "/api/v1/domains/acme/partner.example").await;
    assert_eq!(status, 200, "{body}");
    let api: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(inbound(&api), cli, "{api}");
    let (_, page) = common::http(addr, "GET", "/domain/acme/partner.example").await;
    assert!(
        page.contains("our own domain ours.example fails tcp_connect"),
        "{page}"
    );
}

/// The demo listens on loopback by default, and the `check` commands its banner prints work
/// as printed against it (its config, its DNS: never the system resolver), with the exit
/// status the banner says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_prints_check_commands_that_work_as_printed() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let dir = std::env::temp_dir().join(format!("sipfed-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("demo.yml");
    let mut demo = Command::new(BIN)
        .args(["demo", "--web.listen-address=127.0.0.1:0"])
        .arg(format!("--write-config={}", config.display()))
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(demo.stdout.take().unwrap()).lines();
    let mut banner = Vec::new();
    let read = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let done = line.starts_with("Status page:");
            banner.push(line);
            if done {
                break;
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(60), read)
        .await
        .expect("the demo prints its banner");
    let status = banner.last().unwrap();
    assert!(
        status.starts_with("Status page: http://127.0.0.1:"),
        "{banner:#?}"
    );
    let commands: Vec<(&str, i32)> = banner
        .iter()
        .filter_map(|l| l.trim().strip_prefix(BIN))
        .map(|l| {
            let (cmd, note) = l.split_once("   # ").expect("a note");
            let exit = note.rsplit_once("exit ").expect("an exit").1;
            (cmd, exit.parse().unwrap())
        })
        .collect();
    assert_eq!(commands.len(), 2, "{banner:#?}");
    assert!(
        commands[0].0.contains(" --resolver=127.0.0.1:"),
        "{banner:#?}"
    );
    let at = format!(" --config.file={} ", config.display());
    assert!(commands.iter().all(|(c, _)| c.contains(&at)), "{banner:#?}");
    for (cmd, exit) in commands {
        let out = Command::new(BIN)
            .args(cmd.split_whitespace())
            .output()
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(exit), "{cmd}\n{text}");
        assert!(!text.contains("nxdomain"), "{cmd}\n{text}");
    }
    demo.kill().await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// README's fuzz command is the one scripts/test.sh runs (it said `fuzz.sh 10` beside a 5 s
/// smoke).
#[test]
fn readme_names_the_fuzz_smoke_test_sh_runs() {
    let smoke = |text: &str| {
        text.split("scripts/fuzz.sh ")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .map(str::to_string)
    };
    let ran = smoke(include_str!("../scripts/test.sh")).expect("test.sh runs fuzz.sh");
    let said = smoke(include_str!("../README.md")).expect("README names fuzz.sh");
    assert_eq!(said, ran);
}
