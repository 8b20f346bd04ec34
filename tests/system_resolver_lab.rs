//! `resolvers: [system]` with a resolv.conf whose first name server never answers: the
//! servers are alternatives, so the vantage stays up and the checks pass. The exporter reads
//! the file `SIPFED_RESOLV_CONF` names (set once, before anything runs: this file holds one
//! test). The name servers listen on port 53 of 127.53.17.x (resolv.conf has no ports), which
//! needs the privilege to bind port 53, as the authoritative tests in vantages_lab do.

mod common;

use common::check;
use sipfed_exporter::lab::{Lab, LeafSpec};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_first_name_server_never_takes_the_vantage_down() {
    let mut lab = Lab::start().await.unwrap();
    let dead = std::net::UdpSocket::bind("127.53.17.1:53")
        .expect("binding 127.53.17.1:53 (run as root or with CAP_NET_BIND_SERVICE)");
    let good = lab
        .dns_on(lab.zone.clone(), "127.53.17.2:53".parse().unwrap())
        .await
        .unwrap();
    let peer = lab
        .tls_peer(&LeafSpec::good("sip.alt.example"))
        .await
        .unwrap()
        .address;
    lab.zone
        .federation_srv("alt.example", 0, 0, peer.port(), "sip.alt.example");
    lab.zone.addr("sip.alt.example", peer.ip());

    let resolv = lab.dir.join("resolv.conf");
    std::fs::write(
        &resolv,
        format!(
            "nameserver {}\nnameserver {}\n",
            dead.local_addr().unwrap().ip(),
            good.ip()
        ),
    )
    .unwrap();
    // SAFETY: the only test in this binary, before any thread of ours reads the environment.
    unsafe { std::env::set_var("SIPFED_RESOLV_CONF", &resolv) };

    // resolv.conf's default timeout (5 s) is longer than a vantage check may take (3 s):
    // the check asks both servers at once; a probe asks the dead one first at most once.
    let path = lab.dir.join("system.yml");
    std::fs::write(
        &path,
        format!(
            "global:\n  interval: 60s\n  timeout: 15s\n  ca_file: {}\nvantages:\n  inside:\n    resolvers: [system]\ndomains:\n  - domain: alt.example\n",
            lab.ca_file().display()
        ),
    )
    .unwrap();
    let config = sipfed_exporter::config::Config::load(&path).unwrap();
    let setup = sipfed_exporter::store::Setup::new(config).unwrap();
    setup.prober.check_vantages().await;
    let health = setup.prober.health().get("inside").unwrap();
    assert!(health.resolvers_up, "{}", health.detail);
    assert!(health.up(), "{}", health.detail);

    let reports = setup.probe_each(&setup.config.domains).await;
    let mut text = String::new();
    let refs: Vec<_> = reports.iter().collect();
    sipfed_exporter::expose::metrics::render_reports(&mut text, &refs);
    for name in ["srv_present", "target_resolves", "tls_handshake"] {
        assert_eq!(
            check(&text, "alt.example", name),
            Some(1.0),
            "{name}\n{text}"
        );
    }
}
