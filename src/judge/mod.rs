//! Judging, pure and in one place: every check of SPEC §5 as a function of a probe's `Facts`,
//! the domain's configuration, the trust store and the current time; [`domain`] turns the
//! facts of every vantage into the one [`DomainReport`] that every view renders.
//!
//! Checks live by family: [`dns`], [`reachability`], [`certificate`], [`revocation`], [`mutual`] (our client
//! certificate and theirs: mutual TLS both ways), [`acceptance`] (their edge accepts SIP from
//! us), [`teams`]; what only the comparison of
//! vantages shows lives in [`vantages`]; [`pairs`] answers whether federation with a partner
//! works in each direction. A new check is one function in its
//! family's file, one row in [`CHECKS`] and one table of unit cases.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use crate::config::{Domain, Federation, Role};
use crate::facts::{Blind, CertFacts, EndpointFacts, Facts, Reason, SrvRecord, TargetFacts};

pub mod acceptance;
pub mod certificate;
pub mod dns;
pub mod dnssec;
pub mod hints;
pub mod mutual;
pub mod pairs;
pub mod reachability;
pub mod revocation;
pub mod teams;
#[cfg(test)]
pub mod test_facts;
pub mod trust;
pub mod vantages;

pub use trust::TrustStore;

/// How bad a failing check is; decided by the check and the domain's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// The checks of SPEC §5 (and the documented additions); `as_str` is the `check` label value
/// and the JSON value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CheckName {
    SrvPresent,
    SrvPort5061,
    SrvTargetInDomain,
    SrvTargetExpected,
    SrvTargetNotAlias,
    TargetResolves,
    TargetPublicAddress,
    AuthoritativeAgree,
    ResolversAgree,
    DnssecValid,
    DnssecSignaturesFresh,
    TcpConnect,
    TlsHandshake,
    EdgeRedundancy,
    TlsMinVersion,
    CertTrusted,
    CertNameMatch,
    CertNotWildcard,
    CertValidNow,
    CertExpiry,
    CertServerAuth,
    CertClientAuth,
    CertNotRevoked,
    RevocationReachable,
    CertSameEverywhere,
    CertRenewalActivated,
    SipOptions,
    SipAcceptsUs,
    ClientCertAccepted,
    InboundCertAccepted,
    ClientCertValid,
    CertClientAuthKept,
    TeamsSrvMixed,
    TeamsFederationSrv,
    TeamsLyncdiscover,
    TeamsConflict,
}

impl CheckName {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckName::SrvPresent => "srv_present",
            CheckName::SrvPort5061 => "srv_port_5061",
            CheckName::SrvTargetInDomain => "srv_target_in_domain",
            CheckName::SrvTargetExpected => "srv_target_expected",
            CheckName::SrvTargetNotAlias => "srv_target_not_alias",
            CheckName::TargetResolves => "target_resolves",
            CheckName::TargetPublicAddress => "target_public_address",
            CheckName::AuthoritativeAgree => "authoritative_agree",
            CheckName::ResolversAgree => "resolvers_agree",
            CheckName::DnssecValid => "dnssec_valid",
            CheckName::DnssecSignaturesFresh => "dnssec_signatures_fresh",
            CheckName::TcpConnect => "tcp_connect",
            CheckName::TlsHandshake => "tls_handshake",
            CheckName::EdgeRedundancy => "edge_redundancy",
            CheckName::TlsMinVersion => "tls_min_version",
            CheckName::CertTrusted => "cert_trusted",
            CheckName::CertNameMatch => "cert_name_match",
            CheckName::CertNotWildcard => "cert_not_wildcard",
            CheckName::CertValidNow => "cert_valid_now",
            CheckName::CertExpiry => "cert_expiry",
            CheckName::CertServerAuth => "cert_server_auth",
            CheckName::CertClientAuth => "cert_client_auth",
            CheckName::CertNotRevoked => "cert_not_revoked",
            CheckName::RevocationReachable => "revocation_reachable",
            CheckName::CertSameEverywhere => "cert_same_everywhere",
            CheckName::CertRenewalActivated => "cert_renewal_activated",
            CheckName::SipOptions => "sip_options",
            CheckName::SipAcceptsUs => "sip_accepts_us",
            CheckName::ClientCertAccepted => "client_cert_accepted",
            CheckName::InboundCertAccepted => "inbound_cert_accepted",
            CheckName::ClientCertValid => "client_cert_valid",
            CheckName::CertClientAuthKept => "cert_client_auth_kept",
            CheckName::TeamsSrvMixed => "teams_srv_mixed",
            CheckName::TeamsFederationSrv => "teams_federation_srv",
            CheckName::TeamsLyncdiscover => "teams_lyncdiscover",
            CheckName::TeamsConflict => "teams_conflict",
        }
    }
}

impl Serialize for CheckName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for CheckName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verdict of one check for one (domain, vantage).
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub check: CheckName,
    pub severity: Severity,
    pub passed: bool,
    /// Set exactly when the check failed.
    pub reason: Option<Reason>,
    /// One line saying what was found (a passing check's words are mostly fixed: borrowed,
    /// not allocated per domain).
    pub message: Cow<'static, str>,
    /// What to do about it (empty when passed).
    pub hint: String,
    /// Whose move a failure is (`None` when passed): decided here, by [`owner`] and the
    /// comparison of vantages, never by a view.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<Owner>,
}

/// Whose move a failing check is: ours (our edge, our DNS, our certificate), the partner's
/// (their records, their certificate, their edge), or the vantage's (what only one vantage
/// sees: its network, its resolver, its route).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Owner {
    Ours,
    Partner,
    Vantage,
}

impl Owner {
    pub fn as_str(self) -> &'static str {
        match self {
            Owner::Ours => "ours",
            Owner::Partner => "partner",
            Owner::Vantage => "vantage",
        }
    }

    /// The words a page shows for it.
    pub fn words(self) -> &'static str {
        match self {
            Owner::Ours => "our move",
            Owner::Partner => "the partner's move",
            Owner::Vantage => "this vantage's network",
        }
    }
}

/// Whose move a failed `check` with `reason` is for a domain of `role`, from one vantage's
/// facts alone ([`domain`] turns it into [`Owner::Vantage`] when another vantage saw the check
/// pass). An own domain is ours throughout; for a partner it is theirs, except where the fault
/// is in what we present or trust: our client certificate missing, their certificate not from
/// a CA our edge trusts inbound. A silent resolver of the vantage is the vantage's.
pub fn owner(check: CheckName, role: Role, reason: Reason) -> Owner {
    if check == CheckName::ResolversAgree && reason != Reason::Disagree {
        // A resolver of the vantage that does not answer: the vantage's, whoever the domain's.
        return Owner::Vantage;
    }
    match role {
        Role::Own => Owner::Ours,
        Role::Peer => match (check, reason) {
            (CheckName::ClientCertAccepted, Reason::ClientCertMissing)
            | (CheckName::InboundCertAccepted, Reason::Untrusted) => Owner::Ours,
            _ => Owner::Partner,
        },
    }
}

/// What a check function says before role and severity are attached.
pub enum Verdict {
    Pass(Cow<'static, str>),
    Fail {
        reason: Reason,
        message: String,
        hint: String,
    },
}

fn pass(message: impl Into<Cow<'static, str>>) -> Option<Verdict> {
    Some(Verdict::Pass(message.into()))
}

fn fail(reason: Reason, message: impl Into<String>, hint: impl Into<String>) -> Option<Verdict> {
    Some(Verdict::Fail {
        reason,
        message: message.into(),
        hint: hint.into(),
    })
}

/// What judging needs besides the facts: the same for every domain of a configuration.
pub struct Env<'a> {
    /// Unix seconds; a parameter so tests can travel in time.
    pub now: i64,
    pub trust: &'a TrustStore,
    pub cert_warning_days: u32,
    /// Each tenant's identity: its client certificate and its edge's inbound trust.
    pub tenants: &'a Tenants,
    /// The built-in roots alone (the public TLS CAs), for `cert_client_auth_kept`.
    pub public: &'a TrustStore,
}

/// A tenant's federation identity as judging sees it.
#[derive(Clone)]
pub struct Tenant {
    /// The chain its edge presents when it connects out (leaf first); `None`: none configured.
    pub client_cert: Option<Arc<[CertFacts]>>,
    /// What its edge trusts when partners connect.
    pub inbound: Arc<TrustStore>,
}

/// Every tenant's identity; a tenant not configured apart has the globals'.
#[derive(Clone)]
pub struct Tenants {
    pub default: Tenant,
    pub by_name: HashMap<String, Tenant>,
}

impl Tenants {
    /// Every tenant with the globals' identity.
    pub fn uniform(default: Tenant) -> Tenants {
        Tenants {
            default,
            by_name: HashMap::new(),
        }
    }

    /// The identity of `tenant`.
    pub fn of(&self, tenant: &str) -> &Tenant {
        self.by_name.get(tenant).unwrap_or(&self.default)
    }
}

/// Everything a check may look at.
pub struct Context<'a> {
    pub facts: &'a Facts,
    pub domain: &'a Domain,
    pub env: &'a Env<'a>,
    /// The vantage is on the internet side: addresses seen there must be globally routable.
    pub vantage_public: bool,
}

/// One row of the checks table.
pub struct Check {
    pub name: CheckName,
    pub own: Option<Severity>,
    pub peer: Option<Severity>,
    pub run: fn(&Context<'_>) -> Option<Verdict>,
}

use CheckName as N;
use Severity::{Critical as C, Info as I, Warning as W};

/// The checks table (SPEC §5). Order is the order of the checklist.
#[rustfmt::skip]
pub const CHECKS: &[Check] = &[
    Check { name: N::SrvPresent,           own: Some(C),  peer: Some(C),  run: dns::srv_present },
    Check { name: N::SrvPort5061,          own: Some(W),  peer: Some(W),  run: dns::srv_port_5061 },
    Check { name: N::SrvTargetInDomain,    own: Some(C),  peer: Some(W),  run: dns::srv_target_in_domain },
    Check { name: N::SrvTargetExpected,    own: Some(C),  peer: None,     run: dns::srv_target_expected },
    Check { name: N::SrvTargetNotAlias,    own: Some(W),  peer: Some(W),  run: dns::srv_target_not_alias },
    Check { name: N::TargetResolves,       own: Some(C),  peer: Some(C),  run: dns::target_resolves },
    Check { name: N::TargetPublicAddress,  own: Some(C),  peer: Some(W),  run: dns::target_public_address },
    Check { name: N::AuthoritativeAgree,   own: Some(W),  peer: None,     run: dns::authoritative_agree },
    Check { name: N::ResolversAgree,       own: Some(W),  peer: Some(W),  run: dns::resolvers_agree },
    Check { name: N::DnssecValid,          own: Some(C),  peer: Some(C),  run: dnssec::dnssec_valid },
    Check { name: N::DnssecSignaturesFresh, own: Some(W), peer: Some(I),  run: dnssec::dnssec_signatures_fresh },
    Check { name: N::TcpConnect,           own: Some(C),  peer: Some(C),  run: reachability::tcp_connect },
    Check { name: N::TlsHandshake,         own: Some(C),  peer: Some(C),  run: reachability::tls_handshake },
    Check { name: N::EdgeRedundancy,       own: Some(W),  peer: Some(W),  run: reachability::edge_redundancy },
    Check { name: N::TlsMinVersion,        own: Some(C),  peer: Some(W),  run: reachability::tls_min_version },
    Check { name: N::CertTrusted,          own: Some(C),  peer: Some(C),  run: certificate::cert_trusted },
    Check { name: N::CertNameMatch,        own: Some(C),  peer: Some(C),  run: certificate::cert_name_match },
    Check { name: N::CertNotWildcard,      own: Some(C),  peer: Some(I),  run: certificate::cert_not_wildcard },
    Check { name: N::CertValidNow,         own: Some(C),  peer: Some(C),  run: certificate::cert_valid_now },
    Check { name: N::CertExpiry,           own: Some(W),  peer: Some(W),  run: certificate::cert_expiry },
    Check { name: N::CertServerAuth,       own: Some(C),  peer: Some(C),  run: certificate::cert_server_auth },
    Check { name: N::CertClientAuth,       own: Some(C),  peer: Some(I),  run: certificate::cert_client_auth },
    Check { name: N::CertNotRevoked,       own: Some(C),  peer: Some(C),  run: revocation::cert_not_revoked },
    Check { name: N::RevocationReachable,  own: Some(W),  peer: Some(W),  run: revocation::revocation_reachable },
    Check { name: N::CertSameEverywhere,   own: Some(W),  peer: Some(W),  run: certificate::cert_same_everywhere },
    Check { name: N::CertRenewalActivated, own: Some(W),  peer: None,     run: certificate::cert_renewal_activated },
    Check { name: N::SipOptions,           own: Some(W),  peer: Some(W),  run: reachability::sip_options },
    Check { name: N::SipAcceptsUs,         own: None,     peer: Some(C),  run: acceptance::sip_accepts_us },
    Check { name: N::ClientCertAccepted,   own: None,     peer: Some(C),  run: mutual::client_cert_accepted },
    Check { name: N::InboundCertAccepted,  own: None,     peer: Some(C),  run: mutual::inbound_cert_accepted },
    Check { name: N::ClientCertValid,      own: Some(C),  peer: None,     run: mutual::client_cert_valid },
    Check { name: N::CertClientAuthKept,   own: Some(W),  peer: Some(I),  run: mutual::cert_client_auth_kept },
    Check { name: N::TeamsSrvMixed,        own: Some(C),  peer: Some(W),  run: teams::teams_srv_mixed },
    Check { name: N::TeamsFederationSrv,   own: None,     peer: Some(C),  run: teams::teams_federation_srv },
    Check { name: N::TeamsLyncdiscover,    own: Some(W),  peer: Some(W),  run: teams::teams_lyncdiscover },
    Check { name: N::TeamsConflict,        own: Some(W),  peer: None,     run: teams::teams_conflict },
];

/// Pairs of checks that report one fact twice: `(check, while)`: `check` is absent while
/// `while` fails, so one fault is one finding on every view and in the metrics (an expired
/// leaf is `cert_valid_now`'s critical finding, not also `cert_expiry`'s warning).
/// `inbound_cert_accepted` stays beside `cert_valid_now`: it is the inbound direction's
/// verdict of the pair (see [`pairs`]), not a second word on the leaf's dates.
pub const SUBSUMED: &[(CheckName, CheckName)] = &[(N::CertExpiry, N::CertValidNow)];

/// Drops the findings [`SUBSUMED`] leaves out: the judge decides, the views show what is left.
fn one_finding_per_fault(findings: &mut Vec<Finding>) {
    let failed = |c: CheckName, fs: &[Finding]| fs.iter().any(|f| f.check == c && !f.passed);
    let drop: Vec<CheckName> = SUBSUMED
        .iter()
        .filter(|(_, by)| failed(*by, findings))
        .map(|(c, _)| *c)
        .collect();
    findings.retain(|f| !drop.contains(&f.check));
}

/// The state of a probe or a domain, worst first: what the pages and `check` show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Failing,
    Warning,
    /// The exporter could not look (its resolvers or proxy down, no route, no turn): no
    /// evidence either way, never `ok` (`check` exits 3, the monitoring-plugin UNKNOWN).
    Unknown,
    Ok,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Failing => "failing",
            State::Warning => "warning",
            State::Unknown => "unknown",
            State::Ok => "ok",
        }
    }

    /// Failing with a failed critical check, warning with a failed warning, else ok (a
    /// failed info finding is advice, not a problem).
    pub fn of(findings: &[Finding]) -> State {
        let failed = |s| findings.iter().any(|f| !f.passed && f.severity == s);
        if failed(Severity::Critical) {
            State::Failing
        } else if failed(Severity::Warning) {
            State::Warning
        } else {
            State::Ok
        }
    }

    /// A probe's state: its findings' ([`State::of`]), but `unknown` instead of `ok` when it
    /// could not look ([`looked`]): what was not looked at is not fine.
    pub fn judged(findings: &[Finding], facts: &Facts) -> State {
        match State::of(findings) {
            State::Ok if !looked(facts) => State::Unknown,
            s => s,
        }
    }
}

/// Whether a probe looked at the partner: the exporter could look up its records (no
/// [`Facts::blind`]) and, where there were addresses to connect to, looked at one of them
/// (every endpoint blind: proxy down, no route for the family, no turn, is no look).
pub fn looked(facts: &Facts) -> bool {
    blindness(facts).is_none()
}

/// Why a probe did not look ([`looked`]): the probe's own blindness, else, when every
/// endpoint was blind, the first endpoint's.
pub fn blindness(facts: &Facts) -> Option<Blind> {
    if facts.blind.is_some() {
        return facts.blind;
    }
    let mut endpoints = facts.targets.iter().flat_map(|t| &t.endpoints).peekable();
    endpoints.peek()?;
    let mut first = None;
    for e in endpoints {
        match e.blind {
            None => return None,
            Some(b) => {
                first.get_or_insert(b);
            }
        }
    }
    first
}

/// The facts of one vantage's latest probe, with what judging needs to know of the vantage.
#[derive(Debug, Clone)]
pub struct VantageFacts {
    pub vantage: String,
    /// The vantage is on the internet side (`public: true`).
    pub public: bool,
    pub facts: Arc<Facts>,
}

/// One vantage's part of a domain's report.
#[derive(Debug, Clone, Serialize)]
pub struct VantageReport {
    pub vantage: String,
    pub public: bool,
    /// Every applicable check, in checks-table order, cross-vantage explanations included.
    pub findings: Vec<Finding>,
    /// The probe looked and no critical check failed (`sipfed_probe_success`): false when
    /// the state is `failing` or `unknown`, or the probe did not look (`blind`).
    pub success: bool,
    pub state: State,
    /// Why the probe did not look, when it did not (the state is then `unknown` unless a
    /// finding failed): the exporter's trouble, never the partner's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blind: Option<Blind>,
    /// The judge's word on the single facts a view shows beside the findings.
    pub details: FactVerdicts,
    pub facts: Arc<Facts>,
}

/// The judge's word on single facts of one probe, for views to show as it is: a certificate's
/// expiry state and days left, whether a SIP answer counts. Parallel to the facts' order.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FactVerdicts {
    /// Per target, per endpoint: `endpoints[i][j]` speaks of `facts.targets[i].endpoints[j]`.
    pub endpoints: Vec<Vec<EndpointVerdict>>,
    /// Per certificate of `facts.stored_certs` (`cert_file`), in order; `None`: unparsable.
    pub stored_certs: Vec<Option<certificate::CertExpiry>>,
}

/// What the judge says of one endpoint's single facts.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EndpointVerdict {
    /// The presented leaf's expiry; `None` without a parsed leaf.
    pub leaf_expiry: Option<certificate::CertExpiry>,
    /// Why `sip_options` counts this endpoint's OPTIONS exchange against the partner; `None`
    /// when it does not (any SIP response is an answer; no exchange is not judged).
    pub sip_failure: Option<Reason>,
    /// Per certificate, per piece of revocation evidence (the order of
    /// `EndpointFacts::revocation`): what it counts for at judging time; empty without any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub revocation: Vec<Vec<revocation::EvidenceVerdict>>,
}

impl FactVerdicts {
    /// Judges the single facts of one probe at `env.now`.
    pub fn of(facts: &Facts, env: &Env<'_>) -> FactVerdicts {
        let expiry = |c: &CertFacts| certificate::expiry(c, env.now, env.cert_warning_days);
        FactVerdicts {
            endpoints: facts
                .targets
                .iter()
                .map(|t| {
                    t.endpoints
                        .iter()
                        .map(|e| EndpointVerdict {
                            leaf_expiry: e.leaf().and_then(expiry),
                            sip_failure: reachability::sip_failure(e),
                            revocation: e
                                .revocation
                                .as_deref()
                                .map(|r| revocation::evidence_verdicts(r, env.now))
                                .unwrap_or_default(),
                        })
                        .collect()
                })
                .collect(),
            stored_certs: match &facts.stored_certs {
                Some(Ok(certs)) => certs.iter().map(expiry).collect(),
                _ => Vec::new(),
            },
        }
    }

    /// The verdict on `facts.targets[target].endpoints[endpoint]`.
    pub fn endpoint(&self, target: usize, endpoint: usize) -> Option<&EndpointVerdict> {
        self.endpoints.get(target)?.get(endpoint)
    }
}

/// The one verdict on a domain, from the facts of all its vantages: what `/metrics`, `/probe`,
/// the pages, the JSON API and `check` render.
#[derive(Debug, Clone, Serialize)]
pub struct DomainReport {
    pub tenant: String,
    pub domain: String,
    pub role: Role,
    pub federation: Federation,
    /// In the order the facts came in (configuration order of the vantages).
    pub vantages: Vec<VantageReport>,
    /// `Some` when two or more vantages looked up the SRV record: whether they saw different
    /// SRV or address sets (`sipfed_dns_split_horizon`).
    pub split_horizon: Option<bool>,
    /// The worst state of any vantage (failing, warning, unknown, ok).
    pub state: State,
}

impl DomainReport {
    /// The earliest leaf notAfter presented at any address from any vantage.
    pub fn soonest_expiry(&self) -> Option<i64> {
        self.soonest_leaf().map(|x| x.not_after)
    }

    /// The judge's word on the leaf presented at any address from any vantage that expires
    /// first: its days left as counted when judged.
    pub fn soonest_leaf(&self) -> Option<&certificate::CertExpiry> {
        self.vantages
            .iter()
            .flat_map(|v| v.details.endpoints.iter().flatten())
            .filter_map(|e| e.leaf_expiry.as_ref())
            .min_by_key(|x| x.not_after)
    }

    /// The judge's word on certificate expiry, worst over the vantages: a failed `cert_expiry`
    /// (expired before expiring) before a passed one; `None` when no vantage judged it. An
    /// expired leaf is `cert_valid_now`'s finding (`cert_expiry` is then absent, [`SUBSUMED`]).
    /// Views colour expiry from this, never from a threshold of their own (the threshold is
    /// min(cert_warning_days, lifetime/4), which only the judge knows).
    pub fn cert_expiry(&self) -> Option<&Finding> {
        self.vantages
            .iter()
            .flat_map(|v| v.findings.iter())
            .filter(|f| {
                f.check == CheckName::CertExpiry
                    || (f.check == CheckName::CertValidNow && f.reason == Some(Reason::Expired))
            })
            .max_by_key(|f| match (f.passed, f.reason) {
                (true, _) => 0,
                (false, Some(Reason::Expired)) => 2,
                (false, _) => 1,
            })
    }

    /// When the stalest of the vantages' latest probes started (Unix seconds): how old the
    /// oldest evidence behind the report is.
    pub fn oldest_probe(&self) -> Option<f64> {
        self.vantages
            .iter()
            .map(|v| v.facts.started_at)
            .min_by(f64::total_cmp)
    }

    /// The report as an ad-hoc answer may show it (docs/architecture.md, "Ad-hoc probes"): no address that is
    /// not globally routable is read out to the caller. Such endpoints (never connected to:
    /// `forbidden_address`) and such addresses in the resolvers' answers are dropped from the
    /// facts (with their verdicts); the findings stand as judged, their reasons say what was
    /// wrong, and the addresses are not in anything `/probe` renders.
    pub fn without_inside_addresses(mut self) -> DomainReport {
        for v in &mut self.vantages {
            let hidden = v.facts.targets.iter().any(|t| {
                t.endpoints
                    .iter()
                    .any(|e| !crate::facts::is_global(e.address.ip()))
                    || t.address_answers.iter().any(|a| {
                        a.answer
                            .as_ref()
                            .is_ok_and(|ips| ips.iter().any(|ip| !crate::facts::is_global(*ip)))
                    })
            });
            if !hidden {
                continue;
            }
            let facts = Arc::make_mut(&mut v.facts);
            for (i, t) in facts.targets.iter_mut().enumerate() {
                let keep: Vec<bool> = t
                    .endpoints
                    .iter()
                    .map(|e| crate::facts::is_global(e.address.ip()))
                    .collect();
                let mut k = keep.iter();
                t.endpoints.retain(|_| *k.next().unwrap_or(&false));
                if let Some(verdicts) = v.details.endpoints.get_mut(i) {
                    let mut k = keep.iter();
                    verdicts.retain(|_| *k.next().unwrap_or(&false));
                }
                for a in &mut t.address_answers {
                    if let Ok(ips) = &mut a.answer {
                        ips.retain(|ip| crate::facts::is_global(*ip));
                    }
                }
            }
        }
        self
    }

    /// The failing findings of every vantage, worst first.
    pub fn failing(&self) -> impl Iterator<Item = (&str, &Finding)> {
        let mut out: Vec<(&str, &Finding)> = self
            .vantages
            .iter()
            .flat_map(|v| {
                v.findings
                    .iter()
                    .filter(|f| !f.passed)
                    .map(move |f| (v.vantage.as_str(), f))
            })
            .collect();
        out.sort_by_key(|(_, f)| f.severity);
        out.into_iter()
    }
}

/// Judges a domain: the latest facts of each of its vantages in, one report out. Pure: the
/// same facts, configuration and time always give the same report.
pub fn domain(domain: &Domain, env: &Env<'_>, facts: &[VantageFacts]) -> DomainReport {
    let mut vantages: Vec<VantageReport> = facts
        .iter()
        .map(|v| {
            let ctx = Context {
                facts: &v.facts,
                domain,
                env,
                vantage_public: v.public,
            };
            let findings = probe(&ctx);
            let state = State::judged(&findings, &v.facts);
            let blind = blindness(&v.facts);
            VantageReport {
                vantage: v.vantage.clone(),
                public: v.public,
                success: blind.is_none() && matches!(state, State::Ok | State::Warning),
                state,
                blind,
                findings,
                details: FactVerdicts::of(&v.facts, env),
                facts: v.facts.clone(),
            }
        })
        .collect();
    vantages::explain(domain, &mut vantages);
    vantages::blame(&mut vantages);
    let split_horizon = vantages::split_horizon(&vantages);
    let state = vantages.iter().map(|v| v.state).min().unwrap_or(State::Ok);
    DomainReport {
        tenant: domain.tenant.clone(),
        domain: domain.name.clone(),
        role: domain.role,
        federation: domain.federation,
        vantages,
        split_horizon,
        state,
    }
}

/// Runs every check that applies to the domain's role and to what one probe's facts hold.
/// A probe that could not look at all (`Facts::blind`) has no findings.
pub fn probe(ctx: &Context<'_>) -> Vec<Finding> {
    let mut out = Vec::with_capacity(CHECKS.len());
    if ctx.facts.blind.is_some() {
        return out;
    }
    for check in CHECKS {
        let severity = match ctx.domain.role {
            Role::Own => check.own,
            Role::Peer => check.peer,
        };
        let Some(severity) = severity else { continue };
        let Some(verdict) = (check.run)(ctx) else {
            continue;
        };
        out.push(match verdict {
            Verdict::Pass(message) => Finding {
                check: check.name,
                severity,
                passed: true,
                reason: None,
                message,
                hint: String::new(),
                owner: None,
            },
            Verdict::Fail {
                reason,
                message,
                hint,
            } => Finding {
                check: check.name,
                severity,
                passed: false,
                reason: Some(reason),
                hint: hints::for_role(check.name, ctx.domain.role, &message, &hint),
                message: message.into(),
                owner: Some(owner(check.name, ctx.domain.role, reason)),
            },
        });
    }
    one_finding_per_fault(&mut out);
    out
}

impl Context<'_> {
    fn srv_name(&self) -> String {
        format!("_sipfederationtls._tcp.{}.", self.domain.name)
    }

    /// SRV records with a real target (a target of "." means "no service", RFC 2782).
    fn srv_records(&self) -> Vec<&SrvRecord> {
        self.facts
            .srv
            .as_ref()
            .map(|s| {
                s.records()
                    .iter()
                    .filter(|r| !r.target.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn endpoints(&self) -> impl Iterator<Item = (&TargetFacts, &EndpointFacts)> {
        self.facts
            .targets
            .iter()
            .flat_map(|t| t.endpoints.iter().map(move |e| (t, e)))
            .filter(|(_, e)| e.looked())
    }

    /// Endpoints that presented a parsable leaf certificate.
    fn leaves(&self) -> impl Iterator<Item = (&TargetFacts, &EndpointFacts, &CertFacts)> {
        self.endpoints()
            .filter_map(|(t, e)| e.leaf().map(|l| (t, e, l)))
    }

    fn is_own(&self) -> bool {
        self.domain.role == Role::Own
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{Blind, EndpointFacts as E, EndpointFacts};
    use crate::judge::test_facts::{DAY, Judge, NOW, TestPki};

    fn finding(severity: Severity, passed: bool) -> Finding {
        Finding {
            check: CheckName::SrvPresent,
            severity,
            passed,
            reason: (!passed).then_some(Reason::Nxdomain),
            message: "".into(),
            hint: String::new(),
            owner: None,
        }
    }

    #[test]
    #[rustfmt::skip]
    fn state_is_the_worst_failed_severity() {
        let cases = [
            ("nothing", vec![], State::Ok),
            ("all passed", vec![finding(C, true), finding(W, true)], State::Ok),
            ("an info failure is advice", vec![finding(C, true), finding(I, false)], State::Ok),
            ("a warning failure", vec![finding(I, false), finding(W, false)], State::Warning),
            ("a critical failure", vec![finding(W, false), finding(C, false), finding(I, false)], State::Failing),
        ];
        for (case, findings, want) in cases {
            assert_eq!(State::of(&findings), want, "{case}");
        }
    }

    const SIP: &str = "sip.kanzlei.de";

    /// A peer's federation server that passes every check, presenting a chain for `name` from
    /// the trusted test PKI, behind an SRV record on `port`.
    fn federation(pki: &TestPki, name: &str, port: u16) -> Facts {
        let chain = pki.chain(name, (NOW - 30 * DAY, NOW + 60 * DAY), (true, true), false);
        Facts::test()
            .srv(&[(SIP, port)])
            .target(SIP, port, &["193.99.144.80"])
            .endpoint(E::serving("193.99.144.80:5061", chain).sip(Ok(200)))
    }

    #[test]
    #[rustfmt::skip]
    fn a_domain_is_as_bad_as_its_worst_vantage() {
        let pki = TestPki::generate();
        let judge = Judge::peer().trusting(pki.trust());
        let healthy = || federation(&pki, SIP, 5061);
        let wildcard = || federation(&pki, "*.kanzlei.de", 5061);
        let port_5060 = || federation(&pki, SIP, 5060);
        let down = || Facts::test().srv(&[(SIP, 5061)]).target(SIP, 5061, &["193.99.144.80"]).endpoint(E::refused("193.99.144.80:5061", Reason::ConnectionRefused));
        // (case, facts of each vantage, each vantage's state, the domain's state)
        let cases: Vec<(&str, Vec<Facts>, Vec<State>, State)> = vec![
            ("healthy", vec![healthy()], vec![State::Ok], State::Ok),
            ("info failure only (wildcard at a peer)", vec![wildcard()], vec![State::Ok], State::Ok),
            ("warning failure (port 5060)", vec![port_5060()], vec![State::Warning], State::Warning),
            ("critical failure (TCP refused)", vec![down()], vec![State::Failing], State::Failing),
            ("one vantage warns", vec![healthy(), port_5060()], vec![State::Ok, State::Warning], State::Warning),
            ("one vantage fails", vec![port_5060(), down()], vec![State::Warning, State::Failing], State::Failing),
        ];
        for (case, facts, vantage_states, want) in cases {
            let names = ["inside", "outside"];
            let report = judge.report(facts.into_iter().zip(names).map(|(f, n)| (n, false, f)).collect());
            let states: Vec<State> = report.vantages.iter().map(|v| v.state).collect();
            assert_eq!((states, report.state), (vantage_states, want), "{case}: {:#?}", report.failing().collect::<Vec<_>>());
            for v in &report.vantages {
                assert_eq!(v.success, v.state != State::Failing, "{case}");
            }
        }
        // The info failure is there, just not a problem.
        let report = judge.report(vec![("inside", false, wildcard())]);
        let failed: Vec<(CheckName, Severity)> = report.failing().map(|(_, f)| (f.check, f.severity)).collect();
        assert_eq!(failed, vec![(CheckName::CertNotWildcard, I)]);
    }

    #[test]
    fn what_the_exporter_could_not_look_at_is_absent_not_failed() {
        let judge = Judge::peer();
        let refused = Facts::test()
            .srv(&[("sip.kanzlei.de", 5061)])
            .target("sip.kanzlei.de", 5061, &["192.0.2.10"])
            .endpoint(EndpointFacts::refused("192.0.2.10:5061", Reason::Timeout));
        let tcp = judge.check(&refused, CheckName::TcpConnect).unwrap();
        assert!(!tcp.passed);
        assert_eq!(tcp.reason, Some(Reason::Timeout));
        // The same timeout while waiting for a turn at a busy edge: no evidence.
        let mut no_turn = refused.clone();
        no_turn.targets[0].endpoints[0].blind = Some(Blind::NoTurn);
        assert!(judge.check(&no_turn, CheckName::TcpConnect).is_none());
        assert!(judge.check(&no_turn, CheckName::SrvPresent).unwrap().passed);
        // Resolvers down: nothing at all is judged.
        let mut blind = refused;
        blind.blind = Some(Blind::ResolversDown);
        assert!(judge.all(&blind).is_empty());
    }

    /// What could not be looked at is `unknown`, never `ok`, and no probe success: a probe
    /// blind as a whole, or one whose every endpoint was blind (proxy down); one endpoint
    /// looked at is a look.
    #[test]
    #[rustfmt::skip]
    fn a_probe_that_could_not_look_is_unknown_not_ok() {
        let pki = TestPki::generate();
        let judge = Judge::peer().trusting(pki.trust()).inbound(pki.trust());
        let up = || E::serving("193.99.144.80:5061", pki.chain(SIP, (NOW - 30 * DAY, NOW + 60 * DAY), (true, true), false)).sip(Ok(200));
        let blind = |b| { let mut e = E::refused("193.99.144.81:5061", Reason::ConnectError); e.blind = Some(b); e };
        let two = |a: E, b: E| Facts::test().srv(&[(SIP, 5061)]).target(SIP, 5061, &["193.99.144.80", "193.99.144.81"]).endpoint(a).endpoint(b);
        let mut resolvers_down = Facts::test();
        resolvers_down.blind = Some(Blind::ResolversDown);
        let cases: Vec<(&str, Facts, State, bool, Option<Blind>)> = vec![
            ("resolvers down", resolvers_down, State::Unknown, false, Some(Blind::ResolversDown)),
            ("proxy down: every endpoint blind", two(blind(Blind::ProxyDown), blind(Blind::ProxyDown)), State::Unknown, false, Some(Blind::ProxyDown)),
            ("one endpoint looked at", two(up(), blind(Blind::NoTurn)), State::Ok, true, None),
            ("nothing blind", federation(&pki, SIP, 5061), State::Ok, true, None),
            ("a failure is evidence whatever else was blind", Facts::test().srv_failure(crate::facts::DnsFailure::Nxdomain), State::Failing, false, None),
        ];
        for (case, facts, state, success, why) in cases {
            let report = judge.report(vec![("inside", false, facts)]);
            let v = &report.vantages[0];
            assert_eq!((v.state, v.success, v.blind, report.state), (state, success, why, state), "{case}: {:?}", report.failing().map(|(_, f)| (f.check, f.reason, &f.message)).collect::<Vec<_>>());
        }
    }

    /// An ad-hoc answer keeps the verdicts and drops every address that is not globally
    /// routable, with its endpoint's verdicts (parallel lists stay parallel).
    #[test]
    fn an_ad_hoc_report_keeps_verdicts_and_drops_inside_addresses() {
        let judge = Judge::peer();
        let facts = Facts::test()
            .srv(&[(SIP, 5061)])
            .target(SIP, 5061, &["127.14.0.99", "193.99.144.80"])
            .endpoint(E::refused("127.14.0.99:5061", Reason::ForbiddenAddress))
            .endpoint(E::refused("193.99.144.80:5061", Reason::ConnectionRefused));
        let report = judge.report(vec![("inside", false, facts)]);
        let before: Vec<(CheckName, bool)> = report.vantages[0]
            .findings
            .iter()
            .map(|f| (f.check, f.passed))
            .collect();
        let shown = report.without_inside_addresses();
        let v = &shown.vantages[0];
        let after: Vec<(CheckName, bool)> =
            v.findings.iter().map(|f| (f.check, f.passed)).collect();
        assert_eq!(after, before);
        let t = &v.facts.targets[0];
        let addresses: Vec<String> = t.endpoints.iter().map(|e| e.address.to_string()).collect();
        assert_eq!(addresses, ["193.99.144.80:5061"]);
        assert_eq!(
            t.addresses().unwrap(),
            &["193.99.144.80".parse::<std::net::IpAddr>().unwrap()][..]
        );
        assert_eq!(v.details.endpoints[0].len(), 1);
        let json = serde_json::to_string(&v.facts).unwrap();
        assert!(!json.contains("127.14.0.99"), "{json}");
    }

    /// An expired partner certificate is one critical finding (`cert_valid_now`), not also
    /// `cert_expiry`'s warning; the expiry colour still says expired.
    #[test]
    fn an_expired_certificate_is_one_finding() {
        let pki = TestPki::generate();
        let judge = Judge::peer().trusting(pki.trust()).inbound(pki.trust());
        let expired = pki.chain(SIP, (NOW - 90 * DAY, NOW - DAY), (true, true), false);
        let facts = Facts::test()
            .srv(&[(SIP, 5061)])
            .target(SIP, 5061, &["193.99.144.80"])
            .endpoint(E::serving("193.99.144.80:5061", expired).sip(Ok(200)));
        let report = judge.report(vec![("inside", false, facts)]);
        let leaf_checks: Vec<(CheckName, Severity)> = report
            .failing()
            .map(|(_, f)| (f.check, f.severity))
            .filter(|(c, _)| matches!(c, CheckName::CertValidNow | CheckName::CertExpiry))
            .collect();
        assert_eq!(leaf_checks, vec![(CheckName::CertValidNow, C)]);
        assert!(
            report.vantages[0]
                .findings
                .iter()
                .all(|f| f.check != CheckName::CertExpiry)
        );
        let x = report.cert_expiry().expect("the expiry verdict");
        assert_eq!(
            (x.check, x.reason),
            (CheckName::CertValidNow, Some(Reason::Expired))
        );
    }

    /// Whose move: an own domain's failures are ours; a partner's are theirs except where we
    /// present or trust; a failure one vantage sees and another does not is the vantage's.
    #[test]
    #[rustfmt::skip]
    fn the_judge_says_whose_move_a_failure_is() {
        use crate::config::Role::{Own, Peer};
        let cases = [
            (CheckName::CertValidNow, Own, Reason::Expired, Owner::Ours),
            (CheckName::CertValidNow, Peer, Reason::Expired, Owner::Partner),
            (CheckName::SrvPresent, Peer, Reason::Nxdomain, Owner::Partner),
            (CheckName::ClientCertAccepted, Peer, Reason::ClientCertMissing, Owner::Ours),
            (CheckName::ClientCertAccepted, Peer, Reason::ClientCertRejected, Owner::Partner),
            (CheckName::InboundCertAccepted, Peer, Reason::Untrusted, Owner::Ours),
            (CheckName::InboundCertAccepted, Peer, Reason::Expired, Owner::Partner),
            (CheckName::TcpConnect, Own, Reason::Timeout, Owner::Ours),
            (CheckName::ResolversAgree, Peer, Reason::Disagree, Owner::Partner),
            (CheckName::ResolversAgree, Peer, Reason::Timeout, Owner::Vantage),
            (CheckName::ResolversAgree, Own, Reason::Servfail, Owner::Vantage),
        ];
        for (check, role, reason, want) in cases {
            assert_eq!(owner(check, role, reason), want, "{check} {role:?} {reason:?}");
        }
        // Refused from one vantage, answered from the other: the failing vantage's network.
        let pki = TestPki::generate();
        let judge = Judge::peer().trusting(pki.trust()).inbound(pki.trust());
        let down = Facts::test().srv(&[(SIP, 5061)]).target(SIP, 5061, &["193.99.144.80"]).endpoint(E::refused("193.99.144.80:5061", Reason::ConnectionRefused));
        let report = judge.report(vec![("inside", false, down.clone()), ("outside", true, federation(&pki, SIP, 5061))]);
        let tcp = report.failing().find(|(_, f)| f.check == CheckName::TcpConnect).expect("tcp_connect fails inside");
        assert_eq!((tcp.0, tcp.1.owner), ("inside", Some(Owner::Vantage)));
        // From every vantage: the partner's.
        let report = judge.report(vec![("inside", false, down)]);
        let tcp = report.failing().find(|(_, f)| f.check == CheckName::TcpConnect).expect("tcp_connect fails");
        assert_eq!(tcp.1.owner, Some(Owner::Partner));
        // A passed finding has no owner.
        assert!(report.vantages[0].findings.iter().filter(|f| f.passed).all(|f| f.owner.is_none()));
    }

    #[test]
    fn check_names_serialise_as_their_label_values() {
        for c in CHECKS {
            let json = serde_json::to_string(&c.name).unwrap();
            assert_eq!(json, format!("\"{}\"", c.name.as_str()));
        }
        assert_eq!(CheckName::SrvPort5061.as_str(), "srv_port_5061");
    }
}
