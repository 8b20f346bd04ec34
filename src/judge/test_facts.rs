//! Hand-built facts for the checks' unit tables: `Facts::test().srv(...).endpoint(...)`, and a
//! runner that judges one check on them.

use std::net::{IpAddr, SocketAddr};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

use super::{
    CheckName, Context, DomainReport, Env, Finding, Severity, Tenant, Tenants, TrustStore,
    VantageFacts, domain, probe,
};
use crate::config::{Domain, Federation, Role};
use crate::facts::{
    AuthoritativeFacts, CertDetails, CertFacts, DnsFailure, Eku, EndpointFacts, Facts, M365Facts,
    PeerAlert, Reason, ResolverAnswer, SipFacts, SrvFacts, SrvRecord, TargetFacts, TlsFacts,
    TlsFailure, TlsVersion, ZoneView,
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

    /// A rendering fixture: SRV to `sip.example.com`, one address serving a valid certificate
    /// and answering SIP 200, one refusing TCP.
    pub fn two_endpoints() -> Facts {
        Facts::test()
            .srv(&[("sip.example.com", 5061)])
            .target("sip.example.com", 5061, &["192.0.2.1", "2001:db8::1"])
            .endpoint(
                EndpointFacts::serving(
                    "192.0.2.1:5061",
                    vec![CertFacts::valid(&["sip.example.com"])],
                )
                .sip(Ok(200)),
            )
            .endpoint(EndpointFacts::refused(
                "[2001:db8::1]:5061",
                Reason::ConnectionRefused,
            ))
    }

    /// The primary resolver's SRV answer: `(target, port)` records, priority 10, weight 1.
    pub fn srv(mut self, records: &[(&str, u16)]) -> Facts {
        self.srv = None;
        self.srv_answer(PRIMARY, Ok(srv_records(records)))
    }

    /// The primary resolver's SRV records with their priorities: `(priority, target, port)`.
    pub fn srv_records(mut self, records: &[(u16, &str, u16)]) -> Facts {
        self.srv = None;
        let records = records
            .iter()
            .map(|(priority, t, p)| SrvRecord {
                priority: *priority,
                weight: 1,
                port: *p,
                target: t.to_string(),
            })
            .collect();
        self.srv_answer(PRIMARY, Ok(records))
    }

    /// The primary resolver failed the SRV lookup.
    pub fn srv_failure(mut self, failure: DnsFailure) -> Facts {
        self.srv = None;
        self.srv_answer(PRIMARY, Err(failure))
    }

    /// Another resolver's SRV answer (for `resolvers_agree`).
    pub fn srv_also(self, resolver: &str, records: &[(&str, u16)]) -> Facts {
        self.srv_answer(resolver, Ok(srv_records(records)))
    }

    fn srv_answer(mut self, resolver: &str, answer: Result<Vec<SrvRecord>, DnsFailure>) -> Facts {
        let srv = self.srv.get_or_insert_with(|| SrvFacts {
            name: format!("_sipfederationtls._tcp.{DOMAIN}."),
            answers: Vec::new(),
        });
        srv.answers.push(ResolverAnswer {
            ede: None,
            total: None,
            resolver: resolver.into(),
            answer,
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
                ede: None,
                total: None,
                resolver: PRIMARY.into(),
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
                ede: None,
                total: None,
                resolver: PRIMARY.into(),
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

    /// Another resolver's address answer for the last target (for `resolvers_agree`).
    pub fn addresses_also(mut self, resolver: &str, addresses: &[&str]) -> Facts {
        if let Some(t) = self.targets.last_mut() {
            t.address_answers.push(ResolverAnswer {
                ede: None,
                total: None,
                resolver: resolver.into(),
                answer: Ok(addresses.iter().map(|a| ip(a)).collect()),
            });
        }
        self
    }

    /// What the authoritative servers of [`DOMAIN`] hold: `(server, SRV targets)`, or `None`
    /// for a server that did not answer.
    pub fn authoritative(mut self, servers: &[(&str, Option<&[&str]>)]) -> Facts {
        self.authoritative = Some(AuthoritativeFacts {
            zone: DOMAIN.into(),
            servers: servers
                .iter()
                .map(|(name, srv)| ResolverAnswer {
                    ede: None,
                    total: None,
                    resolver: name.to_string(),
                    answer: srv.ok_or(DnsFailure::Timeout).map(|targets| ZoneView {
                        srv: targets.iter().map(|t| format!("100 1 5061 {t}")).collect(),
                        addresses: Vec::new(),
                    }),
                })
                .collect(),
            name_servers: servers.len(),
        });
        self
    }
}

/// Unix seconds of a day.
pub const DAY: i64 = 86_400;

/// The time every [`Judge`] judges at unless told otherwise (2027-01-15).
pub const NOW: i64 = 1_800_000_000;

impl CertFacts {
    /// A hand-built leaf (no DER) for `names`, valid `not_before..not_after`, with serverAuth
    /// and clientAuth, issued by a CA that is not an ACME CA. Its hash differs whenever its
    /// names, dates or purposes do.
    pub fn test(names: &[&str], not_before: i64, not_after: i64) -> CertFacts {
        CertFacts {
            der: Vec::new(),
            sha256: String::new(),
            parsed: Some(CertDetails {
                subject_cn: names.first().unwrap_or(&"").to_string(),
                issuer_cn: "Test Issuing CA".into(),
                issuer_o: "Test CA".into(),
                serial: "01".into(),
                not_before,
                not_after,
                dns_names: names.iter().map(|n| n.to_string()).collect(),
                eku: Some(Eku {
                    server_auth: true,
                    client_auth: true,
                    any: false,
                }),
                self_signed: false,
                ocsp_urls: Vec::new(),
                crl_urls: Vec::new(),
                subject_raw: Vec::new(),
                issuer_raw: Vec::new(),
            }),
        }
        .rehash()
    }

    /// A certificate valid 90 days, 30 of them used at [`NOW`].
    pub fn valid(names: &[&str]) -> CertFacts {
        CertFacts::test(names, NOW - 30 * DAY, NOW + 60 * DAY)
    }

    /// The extended key usage: `None` for no EKU extension (any purpose).
    pub fn eku(mut self, eku: Option<(bool, bool)>) -> CertFacts {
        if let Some(d) = &mut self.parsed {
            d.eku = eku.map(|(server_auth, client_auth)| Eku {
                server_auth,
                client_auth,
                any: false,
            });
        }
        self.rehash()
    }

    /// Issued by a CA with this organisation name (e.g. `Let's Encrypt`).
    pub fn issuer(mut self, organisation: &str) -> CertFacts {
        if let Some(d) = &mut self.parsed {
            d.issuer_o = organisation.into();
        }
        self.rehash()
    }

    fn rehash(mut self) -> CertFacts {
        let seed = format!("{:?}{:?}", self.der, self.parsed);
        self.sha256 = crate::facts::hex(
            ring::digest::digest(&ring::digest::SHA256, seed.as_bytes()).as_ref(),
        );
        self
    }
}

/// The resolver every builder's first answer comes from.
const PRIMARY: &str = "192.0.2.53:53";

/// `(target, port)` as SRV records with priority 10, weight 1.
fn srv_records(records: &[(&str, u16)]) -> Vec<SrvRecord> {
    records
        .iter()
        .map(|(t, p)| SrvRecord {
            priority: 10,
            weight: 1,
            port: *p,
            target: t.to_string(),
        })
        .collect()
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
                version: TlsVersion::Tls13,
                cipher: "TLS13_AES_128_GCM_SHA256".into(),
                client_cert_requested: false,
                client_cert_sent: false,
            })),
            chain: chain.into(),
            sip: None,
            revocation: None,
            blind: None,
        }
    }

    /// An endpoint at `address` that accepted TCP and then failed the TLS handshake.
    pub fn tls_failed(address: &str, reason: Reason) -> EndpointFacts {
        EndpointFacts {
            tls: Some(Err(TlsFailure::new(
                reason,
                format!("test: {}", reason.as_str()),
            ))),
            ..EndpointFacts::serving(address, Vec::new())
        }
    }

    /// The negotiated TLS version.
    pub fn version(mut self, version: TlsVersion) -> EndpointFacts {
        if let Some(Ok(t)) = &mut self.tls {
            t.version = version;
        }
        self
    }

    /// The SIP OPTIONS exchange answered with `status`, or failed with a reason.
    pub fn sip(mut self, status: Result<u16, Reason>) -> EndpointFacts {
        self.sip = Some(SipFacts {
            status,
            duration_seconds: 0.01,
            detail: match status {
                Ok(code) => format!("SIP/2.0 {code}"),
                Err(r) => format!("no SIP response ({})", r.as_str()),
            },
            server: None,
            platform: None,
            diagnostics: None,
            from: None,
            alert: None,
        });
        self
    }

    /// The completed handshake was asked for a client certificate; `sent`: we sent one.
    pub fn asked(mut self, sent: bool) -> EndpointFacts {
        if let Some(Ok(t)) = &mut self.tls {
            t.client_cert_requested = true;
            t.client_cert_sent = sent;
        }
        self
    }

    /// TLS 1.3: the peer ended the session with `alert` on the first read after the
    /// handshake (seen by OPTIONS).
    pub fn rejected_after(self, alert: PeerAlert) -> EndpointFacts {
        let mut e = self.sip(Err(Reason::HandshakeFailure));
        if let Some(s) = &mut e.sip {
            s.alert = Some(alert);
        }
        e
    }

    /// TLS 1.2: the failed handshake had been asked for a client certificate and ended with
    /// `alert`; `sent`: we had sent one.
    pub fn rejected_with(mut self, alert: PeerAlert, sent: bool) -> EndpointFacts {
        if let Some(Err(f)) = &mut self.tls {
            f.client_cert_requested = true;
            f.client_cert_sent = sent;
            f.alert = Some(alert);
        }
        self
    }

    /// A failed handshake that ended with `alert` before any certificate request.
    pub fn alert_without_request(mut self, alert: PeerAlert) -> EndpointFacts {
        if let Some(Err(f)) = &mut self.tls {
            f.alert = Some(alert);
        }
        self
    }

    /// An endpoint whose TCP connect failed.
    pub fn refused(address: &str, reason: Reason) -> EndpointFacts {
        EndpointFacts {
            address: address.parse::<SocketAddr>().expect("test socket address"),
            tcp: Err(reason),
            tls: None,
            chain: Vec::new().into(),
            sip: None,
            revocation: None,
            blind: None,
        }
    }
}

/// The federation server `sip.kanzlei.de:5061` behind [`DOMAIN`]'s SRV record, at
/// 193.99.144.80, with what happened at that endpoint.
pub fn at(e: EndpointFacts) -> Facts {
    const SIP: &str = "sip.kanzlei.de";
    Facts::test()
        .srv(&[(SIP, 5061)])
        .target(SIP, 5061, &["193.99.144.80"])
        .endpoint(e)
}

/// How a check is run on hand-built facts.
pub struct Judge {
    pub domain: Domain,
    pub now: i64,
    pub trust: std::sync::Arc<TrustStore>,
    pub cert_warning_days: u32,
    pub public: bool,
    /// The identity of [`DOMAIN`]'s tenant; its inbound trust follows `trust` unless set.
    pub tenants: Tenants,
    inbound_set: bool,
    /// The public (built-in) roots: none unless injected.
    pub public_roots: TrustStore,
}

impl Judge {
    /// A peer [`DOMAIN`], open federation, at `now`, trusting only `anchors` (DER roots).
    pub fn peer() -> Judge {
        Judge {
            domain: Domain::peer(DOMAIN.into(), vec!["inside".into()]),
            now: NOW,
            trust: std::sync::Arc::new(TrustStore::with_anchors(Vec::new())),
            cert_warning_days: 21,
            public: false,
            tenants: Tenants::uniform(Tenant {
                client_cert: None,
                inbound: std::sync::Arc::new(TrustStore::with_anchors(Vec::new())),
            }),
            inbound_set: false,
            public_roots: TrustStore::with_anchors(Vec::new()),
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
        self.trust = std::sync::Arc::new(trust);
        if !self.inbound_set {
            self.tenants.default.inbound = self.trust.clone();
        }
        self
    }

    /// The tenant presents `chain` as its client certificate.
    pub fn client_cert(mut self, chain: Vec<CertFacts>) -> Judge {
        self.tenants.default.client_cert = Some(chain.into());
        self
    }

    /// The tenant's edge trusts `trust` when partners connect.
    pub fn inbound(mut self, trust: TrustStore) -> Judge {
        self.tenants.default.inbound = std::sync::Arc::new(trust);
        self.inbound_set = true;
        self
    }

    /// `trust` stands for the built-in (public TLS) roots.
    pub fn public_roots(mut self, trust: TrustStore) -> Judge {
        self.public_roots = trust;
        self
    }

    /// Every finding on `facts`.
    pub fn all(&self, facts: &Facts) -> Vec<Finding> {
        probe(&Context {
            facts,
            domain: &self.domain,
            env: &self.env(),
            vantage_public: self.public,
        })
    }

    /// What judging needs besides the facts.
    pub fn env(&self) -> Env<'_> {
        Env {
            now: self.now,
            trust: &self.trust,
            cert_warning_days: self.cert_warning_days,
            tenants: &self.tenants,
            public: &self.public_roots,
        }
    }

    /// The domain's report from `(vantage, public, facts)` of each vantage.
    pub fn report(&self, vantages: Vec<(&str, bool, Facts)>) -> DomainReport {
        let facts: Vec<VantageFacts> = vantages
            .into_iter()
            .map(|(vantage, public, facts)| VantageFacts {
                vantage: vantage.into(),
                public,
                facts: std::sync::Arc::new(facts),
            })
            .collect();
        domain(&self.domain, &self.env(), &facts)
    }

    /// The finding of one check, `None` when it does not apply.
    pub fn check(&self, facts: &Facts, check: CheckName) -> Option<Finding> {
        self.all(facts).into_iter().find(|f| f.check == check)
    }
}

/// What a case expects of one check: absent (`None`), or its severity and, when it fails,
/// its reason.
pub type Want = Option<(Severity, Option<Reason>)>;

/// The check applies and passes, with this severity.
pub fn passes(severity: Severity) -> Want {
    Some((severity, None))
}

/// The check applies and fails with `reason`, with this severity.
pub fn fails(severity: Severity, reason: Reason) -> Want {
    Some((severity, Some(reason)))
}

/// Runs a table of `(case, judge, facts, want)` for one check; a mismatch names the case and
/// shows the whole finding.
pub fn table<S: std::fmt::Display>(check: CheckName, cases: Vec<(S, Judge, Facts, Want)>) {
    for (case, judge, facts, want) in cases {
        let finding = judge.check(&facts, check);
        let got = finding.as_ref().map(|f| (f.severity, f.reason));
        assert_eq!(got, want, "{check} / {case}: {finding:#?}");
        if let Some(f) = &finding {
            assert_eq!(f.passed, f.reason.is_none(), "{check} / {case}");
            assert_eq!(f.passed, f.hint.is_empty(), "{check} / {case}: {f:#?}");
        }
    }
}

/// A test PKI (rcgen): a root, an intermediate it signs, and leaves with fixed dates, so
/// chains verify the same way at [`NOW`] whenever the test runs.
pub struct TestPki {
    root_der: Vec<u8>,
    intermediate: (CertificateParams, KeyPair),
    intermediate_der: Vec<u8>,
}

fn datetime(ts: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(ts).expect("test timestamp")
}

fn ca(cn: &str, path_len: Option<u8>) -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn.push(DnType::OrganizationName, "Test CA");
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(match path_len {
        Some(n) => BasicConstraints::Constrained(n),
        None => BasicConstraints::Unconstrained,
    });
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.not_before = datetime(NOW - 3650 * DAY);
    p.not_after = datetime(NOW + 3650 * DAY);
    p
}

/// EKU purposes: serverAuth, clientAuth (neither: code signing only).
fn leaf_params(
    name: &str,
    not_before: i64,
    not_after: i64,
    eku: (bool, bool),
) -> CertificateParams {
    let mut p = CertificateParams::new(vec![name.to_string()]).expect("test leaf name");
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    p.distinguished_name = dn;
    p.not_before = datetime(not_before);
    p.not_after = datetime(not_after);
    p.extended_key_usages = Vec::new();
    if eku.0 {
        p.extended_key_usages
            .push(ExtendedKeyUsagePurpose::ServerAuth);
    }
    if eku.1 {
        p.extended_key_usages
            .push(ExtendedKeyUsagePurpose::ClientAuth);
    }
    if p.extended_key_usages.is_empty() {
        p.extended_key_usages
            .push(ExtendedKeyUsagePurpose::CodeSigning);
    }
    p.use_authority_key_identifier_extension = true;
    p
}

impl TestPki {
    pub fn generate() -> TestPki {
        TestPki::with_intermediate_dates(NOW - 3650 * DAY, NOW + 3650 * DAY)
    }

    /// A PKI whose issuing CA is valid from `not_before` to `not_after` (the root as ever).
    pub fn with_intermediate_dates(not_before: i64, not_after: i64) -> TestPki {
        let root_key = KeyPair::generate().expect("test key");
        let root_params = ca("Test Root", None);
        let root = root_params.self_signed(&root_key).expect("test root");
        let key = KeyPair::generate().expect("test key");
        let mut params = ca("Test Issuing CA", Some(0));
        params.not_before = datetime(not_before);
        params.not_after = datetime(not_after);
        let cert = params
            .signed_by(&key, &Issuer::from_params(&root_params, &root_key))
            .expect("test intermediate");
        TestPki {
            root_der: root.der().to_vec(),
            intermediate_der: cert.der().to_vec(),
            intermediate: (params, key),
        }
    }

    /// A trust store with only this PKI's root.
    pub fn trust(&self) -> TrustStore {
        let der = rustls::pki_types::CertificateDer::from(self.root_der.as_slice());
        let anchor = webpki::anchor_from_trusted_cert(&der).expect("test root anchor");
        TrustStore::with_anchors(vec![anchor.to_owned()])
    }

    /// The chain a server presents: a leaf for `name` signed by the intermediate, then the
    /// intermediate unless `without_intermediate`.
    pub fn chain(
        &self,
        name: &str,
        dates: (i64, i64),
        eku: (bool, bool),
        without_intermediate: bool,
    ) -> Vec<CertFacts> {
        let (mut chain, _) = self.chain_pem(name, dates, eku);
        if without_intermediate {
            chain.truncate(1);
        }
        chain
    }

    /// A full chain as [`TestPki::chain`] gives it, and the leaf as PEM.
    pub fn chain_pem(
        &self,
        name: &str,
        (not_before, not_after): (i64, i64),
        eku: (bool, bool),
    ) -> (Vec<CertFacts>, String) {
        let key = KeyPair::generate().expect("test key");
        let issuer = Issuer::from_params(&self.intermediate.0, &self.intermediate.1);
        let leaf = leaf_params(name, not_before, not_after, eku)
            .signed_by(&key, &issuer)
            .expect("test leaf");
        let chain = vec![
            crate::gather::cert::parse(leaf.der()),
            crate::gather::cert::parse(&self.intermediate_der),
        ];
        (chain, leaf.pem())
    }

    /// A leaf for `name` that signs itself.
    pub fn self_signed(
        name: &str,
        (not_before, not_after): (i64, i64),
        eku: (bool, bool),
    ) -> Vec<CertFacts> {
        let key = KeyPair::generate().expect("test key");
        let leaf = leaf_params(name, not_before, not_after, eku)
            .self_signed(&key)
            .expect("test leaf");
        vec![crate::gather::cert::parse(leaf.der())]
    }
}
