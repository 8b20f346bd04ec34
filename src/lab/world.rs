//! The demo world: a small federation modelled on a real one — a healthy own XPhone domain and
//! partners with the problems that break federation in practice.

use super::{Behavior, Lab, LeafSpec, Pki, Signer, SipMode};

/// One domain of the demo world and what is wrong with it.
pub struct DemoDomain {
    pub tenant: &'static str,
    pub domain: &'static str,
    pub role: &'static str,
    pub problem: &'static str,
    /// The state its verdicts show (`ok`, `warning`, `failing`): the banner says it, a lab
    /// test (failover_lab) holds it to the verdicts.
    pub shows: &'static str,
}

/// The demo's domains, in configuration order.
pub const DEMO_DOMAINS: &[DemoDomain] = &[
    DemoDomain {
        tenant: "zahnfee",
        domain: "zahnfee.de",
        role: "own",
        problem: "healthy: SRV, certificate with clientAuth, SIP answers",
        shows: "ok",
    },
    DemoDomain {
        tenant: "zahnfee",
        domain: "toothfairy.uk",
        role: "peer",
        problem: "certificate expires in 10 days (of 90)",
        shows: "warning",
    },
    DemoDomain {
        tenant: "zahnfee",
        domain: "wurzel-gmbh.de",
        role: "peer",
        problem: "wildcard certificate: a partner's is accepted (an own domain's would fail)",
        shows: "ok",
    },
    DemoDomain {
        tenant: "zahnfee",
        domain: "praxis-nord.de",
        role: "peer",
        problem: "edge refuses TCP 5061",
        shows: "failing",
    },
    DemoDomain {
        tenant: "zahnfee",
        domain: "kfo-sued.de",
        role: "peer",
        problem: "expired certificate",
        shows: "failing",
    },
    DemoDomain {
        tenant: "zahnfee",
        domain: "stille-praxis.de",
        role: "peer",
        problem: "accepts TCP, never answers TLS",
        shows: "failing",
    },
    DemoDomain {
        tenant: "zahnfee",
        domain: "teams-kanzlei.de",
        role: "peer",
        problem: "healthy Microsoft 365 tenant (SRV to sipfed.online.lync.com)",
        shows: "ok",
    },
    DemoDomain {
        tenant: "zahnfee",
        domain: "kieferklinik.de",
        role: "peer",
        problem: "healthy: demands a client certificate and accepts zahnfee's",
        shows: "ok",
    },
    DemoDomain {
        tenant: "zahnfee",
        domain: "zahnlabor-west.de",
        role: "peer",
        problem: "demands a client certificate and refuses zahnfee's (unknown issuer): outbound not ready",
        shows: "failing",
    },
    DemoDomain {
        tenant: "zahnfee",
        domain: "altbau-dental.de",
        role: "peer",
        problem: "certificate without clientAuth: it cannot connect to zahnfee (inbound not ready)",
        shows: "failing",
    },
    DemoDomain {
        tenant: "zahnfee",
        domain: "dental-ring.de",
        role: "peer",
        problem: "Skype for Business edge that refuses zahnfee.de: 403 with ms-diagnostics 1034",
        shows: "failing",
    },
    DemoDomain {
        tenant: "zahnfee",
        domain: "zahnzentrum-ost.de",
        role: "peer",
        problem: "pool of two addresses, one in maintenance: degraded, still federates",
        shows: "warning",
    },
    DemoDomain {
        tenant: "zahnfee",
        domain: "mundwerk.de",
        role: "peer",
        problem: "preferred SRV target down, backup answers: Skype for Business edges do not fail over",
        shows: "failing",
    },
    DemoDomain {
        tenant: "msp-kunde",
        domain: "kanzlei-umzug.de",
        role: "peer",
        problem: "Teams tenant whose SRV points to a self-hosted server: failing, though Teams itself still answers",
        shows: "failing",
    },
    DemoDomain {
        tenant: "msp-kunde",
        domain: "labor-ost.de",
        role: "peer",
        problem: "no federation SRV record",
        shows: "failing",
    },
    DemoDomain {
        tenant: "msp-kunde",
        domain: "implantat.at",
        role: "peer",
        problem: "self-signed certificate",
        shows: "failing",
    },
    DemoDomain {
        tenant: "msp-kunde",
        domain: "dentalbuero.de",
        role: "peer",
        problem: "Microsoft 365 tenant with DNS outside Microsoft, SRV missing",
        shows: "failing",
    },
];

/// Builds the demo world in `lab` and writes its configuration; returns the config path.
pub async fn build(lab: &Lab) -> std::io::Result<std::path::PathBuf> {
    let z = &lab.zone;
    let ok = |name: &str| LeafSpec::good(name);

    // Own domain: healthy XPhone Connect server.
    let p = lab
        .peer(Behavior::Tls {
            leaf: lab
                .pki
                .leaf(&ok("xphone.zahnfee.de"))
                .map_err(std::io::Error::other)?,
            request_client_cert: true,
            sip: SipMode::Answer(200),
        })
        .await?;
    lab.publish("zahnfee.de", "xphone.zahnfee.de", p.address);
    z.mx("zahnfee.de", 10, "mail.zahnfee.de");

    let p = lab
        .tls_peer(&LeafSpec {
            not_before_days: -80,
            not_after_days: 10,
            ..ok("sip.toothfairy.uk")
        })
        .await?;
    lab.publish("toothfairy.uk", "sip.toothfairy.uk", p.address);

    let p = lab
        .tls_peer(&LeafSpec {
            names: vec!["*.wurzel-gmbh.de".into()],
            ..ok("")
        })
        .await?;
    lab.publish("wurzel-gmbh.de", "fed.wurzel-gmbh.de", p.address);

    let p = lab.peer(Behavior::Refuse).await?;
    lab.publish("praxis-nord.de", "edge.praxis-nord.de", p.address);

    let p = lab
        .tls_peer(&LeafSpec {
            not_before_days: -93,
            not_after_days: -3,
            ..ok("sip.kfo-sued.de")
        })
        .await?;
    lab.publish("kfo-sued.de", "sip.kfo-sued.de", p.address);

    let p = lab.peer(Behavior::Hang).await?;
    lab.publish("stille-praxis.de", "access.stille-praxis.de", p.address);

    // Microsoft's federation edge, played by a lab peer.
    let p = lab.tls_peer(&ok("sipfed.online.lync.com")).await?;
    z.addr("sipfed.online.lync.com", p.address.ip());
    z.federation_srv("teams-kanzlei.de", 100, 1, 5061, "sipfed.online.lync.com");
    z.mx(
        "teams-kanzlei.de",
        0,
        "teams-kanzlei-de.mail.protection.outlook.com",
    );
    z.txt("teams-kanzlei.de", "MS=ms41234567");
    z.cname("lyncdiscover.teams-kanzlei.de", "webdir.online.lync.com");
    z.cname("sip.teams-kanzlei.de", "sipdir.online.lync.com");

    // Federation is a pair: zahnfee's edge presents a client certificate (below, in
    // `tenants:`); one partner verifies and accepts it, one trusts only its own private CA
    // (unknown issuer), one presents a certificate without clientAuth (it cannot reach us).
    let mutual = |name: &str, trust| -> std::io::Result<Behavior> {
        Ok(Behavior::MutualTls {
            leaf: lab.pki.leaf(&ok(name)).map_err(std::io::Error::other)?,
            sip: SipMode::Answer(200),
            trust,
            version: None,
        })
    };
    let p = lab.peer(mutual("sip.kieferklinik.de", None)?).await?;
    lab.publish("kieferklinik.de", "sip.kieferklinik.de", p.address);
    let private = Pki::named("zahnlabor private").map_err(std::io::Error::other)?;
    let p = lab
        .peer(mutual(
            "sip.zahnlabor-west.de",
            Some(private.root_der().clone()),
        )?)
        .await?;
    lab.publish("zahnlabor-west.de", "sip.zahnlabor-west.de", p.address);
    let p = lab
        .tls_peer(&LeafSpec {
            client_auth: false,
            ..ok("sip.altbau-dental.de")
        })
        .await?;
    lab.publish("altbau-dental.de", "sip.altbau-dental.de", p.address);
    let identity = lab
        .pki
        .leaf(&ok("xphone.zahnfee.de"))
        .map_err(std::io::Error::other)?;
    let (cert, key) = (
        lab.dir.join("zahnfee-client.pem"),
        lab.dir.join("zahnfee-client.key"),
    );
    std::fs::write(&cert, &identity.chain_pem)?;
    std::fs::write(&key, &identity.key_pem)?;

    // Will they talk to us: a Skype for Business edge whose allow list lacks zahnfee.de.
    lab.serve_tls(
        "dental-ring.de",
        &ok("sip.dental-ring.de"),
        SipMode::AllowFrom(&["partner-of-dental-ring.example"]),
    )
    .await?;
    // Failover as edges do it: a pool with a dead address; a dead preferred target.
    let live = lab.tls_peer(&ok("sip.zahnzentrum-ost.de")).await?;
    let dead = lab.peer(Behavior::Refuse).await?;
    z.federation_srv("zahnzentrum-ost.de", 10, 1, 5061, "sip.zahnzentrum-ost.de");
    z.addr("sip.zahnzentrum-ost.de", live.address.ip());
    z.addr("sip.zahnzentrum-ost.de", dead.address.ip());
    let dead = lab.peer(Behavior::Refuse).await?;
    let backup = lab.tls_peer(&ok("sip2.mundwerk.de")).await?;
    z.federation_srv("mundwerk.de", 10, 1, 5061, "sip1.mundwerk.de");
    z.federation_srv("mundwerk.de", 20, 1, 5061, "sip2.mundwerk.de");
    z.addr("sip1.mundwerk.de", dead.address.ip());
    z.addr("sip2.mundwerk.de", backup.address.ip());

    z.addr("labor-ost.de", "127.0.0.1".parse().expect("static address"));
    z.mx("labor-ost.de", 10, "mx.labor-ost.de");

    let p = lab
        .tls_peer(&LeafSpec {
            signer: Signer::SelfSigned,
            ..ok("sip.implantat.at")
        })
        .await?;
    lab.publish("implantat.at", "sip.implantat.at", p.address);

    let p = lab.tls_peer(&ok("sip-edge.kanzlei-umzug.de")).await?;
    lab.publish("kanzlei-umzug.de", "sip-edge.kanzlei-umzug.de", p.address);
    z.mx(
        "kanzlei-umzug.de",
        0,
        "kanzlei-umzug-de.mail.protection.outlook.com",
    );
    z.cname("lyncdiscover.kanzlei-umzug.de", "webdir.online.lync.com");
    z.cname("sip.kanzlei-umzug.de", "sipdir.online.lync.com");

    z.mx(
        "dentalbuero.de",
        0,
        "dentalbuero-de.mail.protection.outlook.com",
    );
    z.txt("dentalbuero.de", "MS=ms98765432");

    let mut domains = String::new();
    for d in DEMO_DOMAINS {
        domains.push_str(&format!(
            "  - domain: {}\n    tenant: {}\n    role: {}\n",
            d.domain, d.tenant, d.role
        ));
        if d.role == "own" {
            domains.push_str("    fqdn: xphone.zahnfee.de\n");
        }
    }
    let tenants = format!(
        "  zahnfee:\n    client_cert: {{cert_file: \"{}\", key_file: \"{}\"}}\n",
        cert.display(),
        key.display()
    );
    lab.write_config_with_tenants("demo.yml", "", &tenants, &domains)
}

/// Edges the demo's fleet shares.
const FLEET_EDGES: usize = 8;

/// Adds `n` healthy domains (`customerN.example`, tenants `fleet-0`..`fleet-9`) to the world,
/// served by a few shared edges whose certificates name every domain's target; returns their
/// YAML entries for the `domains:` list.
pub async fn fleet(lab: &Lab, n: usize) -> std::io::Result<String> {
    let mut yaml = String::new();
    let edges = FLEET_EDGES.min(n);
    for e in 0..edges {
        let targets: Vec<String> = (e..n)
            .step_by(edges)
            .map(|i| format!("sip.customer{i}.example"))
            .collect();
        let p = lab
            .tls_peer(&LeafSpec {
                names: targets.clone(),
                ..LeafSpec::good("")
            })
            .await?;
        for (target, i) in targets.iter().zip((e..n).step_by(edges)) {
            lab.publish(&format!("customer{i}.example"), target, p.address);
        }
    }
    for i in 0..n {
        yaml.push_str(&format!(
            "  - domain: customer{i}.example\n    tenant: fleet-{}\n",
            i % 10
        ));
    }
    Ok(yaml)
}
