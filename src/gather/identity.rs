//! Federation identities: the client certificate each tenant's probes present (its own from
//! `tenants:`, else `global.client_cert`), loaded once per configuration. Tenants that
//! present the same certificate share one identity, so they share edge connections too.

use std::collections::HashMap;
use std::sync::Arc;

use rustls::sign::CertifiedKey;

use super::cert;
use crate::config::{ClientCert, Config};
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
