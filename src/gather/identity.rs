//! Federation identities: the client certificate each tenant's probes present (its own from
//! `tenants:`, else `global.client_cert`), loaded once per configuration. Tenants that
//! present the same certificate share one identity, so they share edge connections too.

use std::collections::HashMap;
use std::sync::Arc;

use rustls::sign::CertifiedKey;

use super::cert;
use crate::config::{ClientCert, Config, Role};
use crate::error::Error;
use crate::facts::CertFacts;
use crate::pem::load_certified_key;

/// One identity: what an edge presents when it connects out.
#[derive(Debug, Clone)]
pub struct Identity {
    /// Names the identity in edge keys: `global`, or `tenant:<name>` for a tenant's own.
    pub id: Arc<str>,
    /// The certificate chain and key offered to a peer that asks; `None`: none configured.
    pub key: Option<Arc<CertifiedKey>>,
    /// The presented chain, parsed (leaf first), for judging and metrics.
    pub chain: Option<Arc<[CertFacts]>>,
}

/// Every identity of a configuration, by tenant.
pub struct Identities {
    global: Identity,
    tenants: HashMap<String, Identity>,
}

impl Identities {
    /// Loads every client certificate; an unusable file is an error naming the tenant.
    pub fn load(config: &Config) -> Result<Identities, Error> {
        let global = load("global".into(), config.global.client_cert.as_ref())
            .map_err(|e| named("global.client_cert", e))?;
        let mut tenants = HashMap::new();
        for (name, t) in &config.tenants {
            if let Some(c) = &t.client_cert {
                let id = format!("tenant:{name}").into();
                let identity = load(id, Some(c))
                    .map_err(|e| named(&format!("tenant {name:?}: client_cert"), e))?;
                tenants.insert(name.clone(), identity);
            }
        }
        Ok(Identities { global, tenants })
    }

    /// The globals' identity (`global.client_cert`): every tenant not configured apart.
    pub fn global(&self) -> &Identity {
        &self.global
    }

    /// The identity `tenant`'s probes present.
    pub fn of(&self, tenant: &str) -> &Identity {
        self.tenants.get(tenant).unwrap_or(&self.global)
    }
}

fn load(id: Arc<str>, cert: Option<&ClientCert>) -> Result<Identity, Error> {
    let Some(c) = cert else {
        return Ok(Identity {
            id,
            key: None,
            chain: None,
        });
    };
    let key = load_certified_key(&c.cert_file, &c.key_file)?;
    let chain: Arc<[CertFacts]> = key.cert.iter().map(|d| cert::parse(d)).collect();
    Ok(Identity {
        id,
        key: Some(key),
        chain: Some(chain),
    })
}

fn named(who: &str, e: Error) -> Error {
    Error::Config {
        location: who.to_string(),
        message: e.to_string(),
    }
}

/// Why strict partners may refuse a tenant's `sip_from` (`config check` prints these): its
/// domain is none of the tenant's own domains, or the tenant's client certificate names
/// neither it nor a host under it (Skype for Business "strict DNS name matching" wants the
/// sender's domain, its SRV target and its certificate to match).
pub fn sip_from_warnings(config: &Config, identities: &Identities) -> Vec<String> {
    let mut warnings = Vec::new();
    for (tenant, from) in &config.sip_from {
        let own = config
            .domains
            .iter()
            .any(|d| d.tenant == *tenant && d.role == Role::Own && d.name == from.domain);
        if !own {
            warnings.push(format!(
                "tenant {tenant:?}: sip_from {from}: {} is none of the tenant's own domains; strict partners refuse SIP from a domain whose SRV target and certificate are not ours",
                from.domain
            ));
        }
        let names = identities
            .of(tenant)
            .chain
            .as_ref()
            .and_then(|c| c.first())
            .and_then(|leaf| leaf.parsed.as_ref())
            .map(|p| p.dns_names.as_slice());
        if let Some(names) = names {
            let suffix = format!(".{}", from.domain);
            let matches = names.iter().any(|n| {
                let n = n.trim_end_matches('.').to_ascii_lowercase();
                n == from.domain || n.ends_with(&suffix)
            });
            if !matches {
                warnings.push(format!(
                    "tenant {tenant:?}: sip_from {from}: the tenant's client certificate ({}) names neither {} nor a host under it; strict partners refuse it",
                    names.join(", "),
                    from.domain
                ));
            }
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::test_facts::{DAY, NOW, TestPki};

    #[test]
    fn sip_from_off_our_domains_or_certificate_is_warned_about() {
        let config = Config::parse(
            std::path::Path::new("sipfed.yml"),
            "tenants:\n  zahnfee:\n    sip_from: monitor@elsewhere.example\n\
             domains:\n  - domain: zahnfee.de\n    role: own\n    tenant: zahnfee\n  - domain: toothfairy.uk\n    role: own\n    tenant: tf\n",
        )
        .unwrap();
        let pki = TestPki::generate();
        let with_cert = |name: &str| Identity {
            id: "global".into(),
            key: None,
            chain: Some(
                pki.chain(name, (NOW - DAY, NOW + 90 * DAY), (true, true), false)
                    .into(),
            ),
        };
        let identities = Identities {
            global: with_cert("sip.toothfairy.uk"),
            tenants: HashMap::from([("zahnfee".to_string(), with_cert("sip.zahnfee.de"))]),
        };
        let warnings = sip_from_warnings(&config, &identities);
        assert_eq!(
            warnings,
            [
                "tenant \"zahnfee\": sip_from monitor@elsewhere.example: elsewhere.example is none of the tenant's own domains; strict partners refuse SIP from a domain whose SRV target and certificate are not ours",
                "tenant \"zahnfee\": sip_from monitor@elsewhere.example: the tenant's client certificate (sip.zahnfee.de) names neither elsewhere.example nor a host under it; strict partners refuse it",
            ]
        );
        // The default (sipfed-monitor@toothfairy.uk) under a certificate for its edge: fine.
        assert!(!warnings.iter().any(|w| w.contains("\"tf\"")));
    }
}
