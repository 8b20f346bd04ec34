//! Shared test support: probing lab worlds through the configuration format and asserting on
//! the exposed metrics with one helper.
#![allow(dead_code)]

use std::sync::Arc;

use sipfed_exporter::config::Config;
use sipfed_exporter::expose::metrics;
use sipfed_exporter::judge::DomainReport;
use sipfed_exporter::lab::Lab;
use sipfed_exporter::store::{Setup, Store};

/// Loads `config_path`, probes every configured (domain, vantage) once and renders the
/// per-domain metric families exactly as `/metrics` does.
pub async fn probe_all(config_path: &std::path::Path) -> (String, Vec<DomainReport>) {
    let config = Config::load(config_path).expect("lab config is valid");
    let setup = Setup::new(config).expect("setup builds");
    let reports = setup.probe_each(&setup.config.domains).await;
    let mut text = String::new();
    let refs: Vec<&DomainReport> = reports.iter().collect();
    metrics::render_reports(&mut text, &refs);
    (text, reports)
}

/// Writes a config for `lab` with `domains` and probes it.
pub async fn probe_lab(
    lab: &Lab,
    global_extra: &str,
    domains: &str,
) -> (String, Vec<DomainReport>) {
    let path = lab
        .write_config("test.yml", global_extra, domains)
        .expect("config written");
    probe_all(&path).await
}

/// The value of the sample of `name` whose labels include all of `labels`; panics when more
/// than one sample matches.
pub fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut found = None;
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        if !rest.starts_with('{') && !rest.starts_with(' ') {
            continue;
        }
        if labels
            .iter()
            .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
        {
            assert!(
                found.is_none(),
                "more than one sample of {name} matches {labels:?}:\n{text}"
            );
            let v: f64 = line
                .rsplit(' ')
                .next()
                .and_then(|v| v.parse().ok())
                .expect("sample value");
            found = Some(v);
        }
    }
    found
}

/// Reports a test that could not run here: a recognisable `SKIPPED: test: reason` line (shown
/// with `--nocapture`), and a line in the file `$SIPFED_SKIP_LOG` names, which
/// scripts/test.sh counts as skipped instead of passed.
pub fn skip(test: &str, reason: &str) {
    use std::io::Write;
    eprintln!("SKIPPED: {test}: {reason}");
    if let Some(path) = std::env::var_os("SIPFED_SKIP_LOG")
        && let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
    {
        let _ = writeln!(f, "{test}: {reason}");
    }
}

/// `sipfed_check_success` of one check of one domain.
pub fn check(text: &str, domain: &str, check: &str) -> Option<f64> {
    check_success(text, &[("domain", domain), ("check", check)])
}

/// `sipfed_check_success` of the series with these labels (domain, check, and any of vantage,
/// severity, tenant): the one way tests read a check's verdict from `/metrics`.
pub fn check_success(text: &str, labels: &[(&str, &str)]) -> Option<f64> {
    value(text, "sipfed_check_success", labels)
}

/// The failure reason of a check, if it failed.
pub fn reason(text: &str, domain: &str, check: &str) -> Option<String> {
    let needle = format!("domain=\"{domain}\"");
    let check_label = format!("check=\"{check}\"");
    text.lines()
        .filter(|l| {
            l.starts_with("sipfed_check_failure_info{")
                && l.contains(&needle)
                && l.contains(&check_label)
        })
        .find_map(|l| {
            let i = l.find("reason=\"")? + 8;
            let j = l[i..].find('"')? + i;
            Some(l[i..j].to_string())
        })
}

/// One row of a case table: domain, check, the `sipfed_check_success` wanted (`None`: the
/// check must be absent) and the `reason` label wanted (`None`: no reason, the check passed).
pub type Case<'a> = (&'a str, &'a str, Option<f64>, Option<&'a str>);

/// The rows of `cases` that the exposition `m` does not bear out, each naming its domain and
/// check with what was got, what was wanted and the finding's message from `results`.
pub fn case_failures(m: &str, results: &[DomainReport], cases: &[Case<'_>]) -> Vec<String> {
    let mut failures = Vec::new();
    for (domain, c, want, want_reason) in cases {
        let got = check(m, domain, c);
        let got_reason = reason(m, domain, c);
        if got != *want || got_reason.as_deref() != *want_reason {
            failures.push(format!(
                "{domain} {c}: got {got:?} ({got_reason:?}), want {want:?} ({want_reason:?}): {}",
                message(results, domain, c)
            ));
        }
    }
    failures
}

/// Asserts every row of a case table; a failure lists every row that did not hold.
pub fn expect(m: &str, results: &[DomainReport], cases: &[Case<'_>]) {
    let failures = case_failures(m, results, cases);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The finding's message of a check (for text assertions).
pub fn message(reports: &[DomainReport], domain: &str, check: &str) -> String {
    reports
        .iter()
        .filter(|r| r.domain == domain)
        .flat_map(|r| r.vantages.iter())
        .flat_map(|v| v.findings.iter())
        .find(|f| f.check.as_str() == check)
        .map(|f| format!("{} | {}", f.message, f.hint))
        .unwrap_or_default()
}

/// A `domains:` entry for a peer.
pub fn peer(domain: &str) -> String {
    format!("  - domain: {domain}\n")
}

/// A minimal HTTP/1.1 request (Connection: close); returns status and body.
pub async fn http(addr: std::net::SocketAddr, method: &str, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to exporter");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status: u16 = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = match text.find("\r\n\r\n") {
        Some(i) => text[i + 4..].to_string(),
        None => String::new(),
    };
    // Chunked bodies: good enough to search in, the chunk sizes are on their own lines.
    (status, body)
}

/// Starts the exporter on `config` at 127.0.0.1:0; returns its address and the shutdown token.
pub async fn start_exporter(
    config: &std::path::Path,
) -> (
    std::net::SocketAddr,
    tokio_util::sync::CancellationToken,
    Arc<Store>,
) {
    let cfg = Config::load(config).expect("valid config");
    let exporter = Store::new(
        Setup::new(cfg).unwrap(),
        Some(config.to_path_buf()),
        Default::default(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    // The tests reload over HTTP, as an operator with --web.enable-lifecycle does.
    let options = sipfed_exporter::expose::server::Options {
        routes: sipfed_exporter::expose::http::Routes {
            enable_lifecycle: true,
            ..Default::default()
        },
        ..Default::default()
    };
    tokio::spawn(sipfed_exporter::expose::server::run_with(
        exporter.clone(),
        vec![listener],
        options,
        shutdown.clone(),
    ));
    (addr, shutdown, exporter)
}
