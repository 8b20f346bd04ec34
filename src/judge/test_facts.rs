//! Hand-built facts for the checks' unit tables: `Facts::test().srv(...).endpoint(...)`, and a
//! runner that judges one check on them.

use std::net::{IpAddr, SocketAddr};

use super::{CheckName, Context, Finding, TrustStore, probe};
use crate::config::{Domain, Federation, Role};
use crate::facts::{
    CertFacts, DnsFailure, EndpointFacts, Facts, M365Facts, Reason, ResolverAnswer, SrvFacts,
    SrvRecord, TargetFacts, TlsFacts,
};

/// The domain every builder uses.
pub const DOMAIN: &str = "kanzlei.de";

impl Facts {
    /// Empty facts of a probe of [`DOMAIN`].
    pub fn test() -> Facts {
        Facts {
            domain: DOMAIN.into(),
            vantage: "inside".into(),
            ..Facts::default()
        }
    }

    /// The primary resolver's SRV answer: `(target, port)` records, priority 10, weight 1.
    pub fn srv(mut self, records: &[(&str, u16)]) -> Facts {
        self.srv = Some(SrvFacts {
            name: format!("_sipfederationtls._tcp.{DOMAIN}."),
            answers: vec![ResolverAnswer {
                resolver: "192.0.2.53:53".into(),
                answer: Ok(records
                    .iter()
                    .map(|(t, p)| SrvRecord {
                        priority: 10,
                        weight: 1,
                        port: *p,
                        target: t.to_string(),
                    })
                    .collect()),
            }],
        });
        self
    }

    /// The primary resolver failed the SRV lookup.
    pub fn srv_failure(mut self, failure: DnsFailure) -> Facts {
        self.srv = Some(SrvFacts {
            name: format!("_sipfederationtls._tcp.{DOMAIN}."),
            answers: vec![ResolverAnswer {
                resolver: "192.0.2.53:53".into(),
                answer: Err(failure),
            }],
        });
        self
    }

    /// Another resolver's SRV answer (for `resolvers_agree`).
    pub fn srv_also(mut self, resolver: &str, records: &[(&str, u16)]) -> Facts {
        let srv = self.srv.get_or_insert_with(|| SrvFacts {
            name: format!("_sipfederationtls._tcp.{DOMAIN}."),
            answers: Vec::new(),
        });
        srv.answers.push(ResolverAnswer {
            resolver: resolver.into(),
            answer: Ok(records
                .iter()
                .map(|(t, p)| SrvRecord {
                    priority: 10,
                    weight: 1,
                    port: *p,
                    target: t.to_string(),
                })
                .collect()),
        });
        self
    }

    /// A target with its addresses (from the primary resolver) and no endpoint yet.
    pub fn target(mut self, name: &str, port: u16, addresses: &[&str]) -> Facts {
        self.targets.push(TargetFacts {
            name: name.into(),
            port,
            cname: None,
            address_answers: vec![ResolverAnswer {
                resolver: "192.0.2.53:53".into(),
                answer: Ok(addresses.iter().map(|a| ip(a)).collect()),
            }],
            endpoints: Vec::new(),
        });
        self
    }

    /// A target whose address lookup failed.
    pub fn target_failure(mut self, name: &str, failure: DnsFailure) -> Facts {
        self.targets.push(TargetFacts {
            name: name.into(),
            port: 5061,
            cname: None,
            address_answers: vec![ResolverAnswer {
                resolver: "192.0.2.53:53".into(),
                answer: Err(failure),
            }],
            endpoints: Vec::new(),
        });
        self
    }

    /// The last target is an alias of `cname`.
    pub fn cname(mut self, cname: &str) -> Facts {
        if let Some(t) = self.targets.last_mut() {
            t.cname = Some(cname.into());
        }
        self
    }

    /// An endpoint of the last target.
    pub fn endpoint(mut self, e: EndpointFacts) -> Facts {
        if let Some(t) = self.targets.last_mut() {
            t.endpoints.push(e);
        }
        self
    }

    pub fn m365(mut self, m: M365Facts) -> Facts {
        self.m365 = Some(m);
        self
    }

    pub fn stored(mut self, certs: Result<Vec<CertFacts>, String>) -> Facts {
        self.stored_certs = Some(certs);
        self
    }
}

/// An IP address literal.
pub fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address literal")
}

impl EndpointFacts {
    /// An endpoint at `address` (`ip:port`) that accepted TCP and completed TLS 1.3 with
    /// `chain`.
    pub fn serving(address: &str, chain: Vec<CertFacts>) -> EndpointFacts {
        EndpointFacts {
            address: address.parse::<SocketAddr>().expect("test socket address"),
            tcp: Ok(0.01),
            tls: Some(Ok(TlsFacts {
                duration_seconds: 0.02,
                version: "TLS 1.3".into(),
                cipher: "TLS13_AES_128_GCM_SHA256".into(),
                client_cert_requested: false,
            })),
            chain: chain.into(),
            sip: None,
            blind: None,
        }
    }

    /// An endpoint whose TCP connect failed.
    pub fn refused(address: &str, reason: Reason) -> EndpointFacts {
        EndpointFacts {
            address: address.parse::<SocketAddr>().expect("test socket address"),
            tcp: Err(reason),
            tls: None,
            chain: Vec::new().into(),
            sip: None,
            blind: None,
        }
    }
}

/// How a check is run on hand-built facts.
pub struct Judge {
    pub domain: Domain,
    pub now: i64,
    pub trust: TrustStore,
    pub cert_warning_days: u32,
    pub public: bool,
}

impl Judge {
    /// A peer [`DOMAIN`], open federation, at `now`, trusting only `anchors` (DER roots).
    pub fn peer() -> Judge {
        Judge {
            domain: Domain::peer(DOMAIN.into(), vec!["inside".into()]),
            now: 1_800_000_000,
            trust: TrustStore::with_anchors(Vec::new()),
            cert_warning_days: 21,
            public: false,
        }
    }

    /// An own [`DOMAIN`] expecting `fqdn` as SRV target.
    pub fn own(fqdn: &str) -> Judge {
        let mut j = Judge::peer();
        j.domain.role = Role::Own;
        j.domain.fqdn = Some(fqdn.into());
        j
    }

    pub fn direct(mut self, fqdn: &str) -> Judge {
        self.domain.federation = Federation::Direct;
        self.domain.fqdn = Some(fqdn.into());
        self
    }

    pub fn public(mut self) -> Judge {
        self.public = true;
        self
    }

    pub fn at(mut self, now: i64) -> Judge {
        self.now = now;
        self
    }

    pub fn trusting(mut self, trust: TrustStore) -> Judge {
        self.trust = trust;
        self
    }

    /// Every finding on `facts`.
    pub fn all(&self, facts: &Facts) -> Vec<Finding> {
        probe(&Context {
            facts,
            domain: &self.domain,
            now: self.now,
            trust: &self.trust,
            cert_warning_days: self.cert_warning_days,
            vantage_public: self.public,
        })
    }

    /// The finding of one check, `None` when it does not apply.
    pub fn check(&self, facts: &Facts, check: CheckName) -> Option<Finding> {
        self.all(facts).into_iter().find(|f| f.check == check)
    }
}
