//! Federation is a pair (SPEC §5): for every partner of a tenant, whether each direction
//! works. *Outbound* (we reach them) is the partner's report alone: their SRV, addresses,
//! TLS, certificate, SIP, and their edge accepting our client certificate. *Inbound* (they
//! reach us) needs the partner's certificate to pass our edge's check of a connecting partner
//! (`inbound_cert_accepted`) and the tenant's own domains to pass their critical checks, from
//! a `public` vantage where there is one. [`side`] judges a partner's part when its report is
//! made; [`ready`] completes it with the tenant's own domains ([`own_sides`]), so every view
//! renders the same verdicts.

use std::collections::HashMap;

use serde::Serialize;

use super::{CheckName, DomainReport, Finding, Severity, VantageReport};
use crate::config::Role;
use crate::facts::Reason;

/// A direction of federation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// We reach them.
    Outbound,
    /// They reach us.
    Inbound,
}

impl Direction {
    /// The `direction` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Outbound => "outbound",
            Direction::Inbound => "inbound",
        }
    }
}

/// Whether one direction works, and if not, why and what to do.
#[derive(Debug, Clone, Serialize)]
pub struct Readiness {
    pub ready: bool,
    /// The failed check's reason, exactly when not ready.
    pub reason: Option<Reason>,
    /// The check that decided it, when not ready.
    pub check: Option<CheckName>,
    pub message: String,
    /// What to do (empty when ready).
    pub hint: String,
}

impl Readiness {
    fn ready(message: impl Into<String>) -> Readiness {
        Readiness {
            ready: true,
            reason: None,
            check: None,
            message: message.into(),
            hint: String::new(),
        }
    }

    fn broken(f: &Finding, message: String) -> Readiness {
        Readiness {
            ready: false,
            reason: f.reason,
            check: Some(f.check),
            message,
            hint: f.hint.clone(),
        }
    }
}

/// What one vantage's findings say of a partner's side: per direction, `None` when nothing
/// was learned, else ready (`Ok`) or the finding that breaks it.
struct Side<'a> {
    outbound: Option<Result<Option<&'a Finding>, &'a Finding>>,
    inbound: Option<Result<&'a Finding, &'a Finding>>,
}

/// Checks about our own client identity: they decide whether partners accept us (outbound,
/// judged there by `client_cert_accepted`), never whether partners reach us.
const OUR_IDENTITY: &[CheckName] = &[
    CheckName::ClientCertValid,
    CheckName::CertClientAuth,
    CheckName::CertClientAuthKept,
];

/// A failed finding that breaks outbound federation with a partner: any critical one but the
/// inbound check, and a SIP stack that does not answer.
fn breaks_outbound(f: &Finding) -> bool {
    !f.passed
        && f.check != CheckName::InboundCertAccepted
        && (f.severity == Severity::Critical || f.check == CheckName::SipOptions)
}

/// A partner's side as one vantage saw it. Outbound is broken by any finding that breaks it,
/// and ready only on evidence: an edge reached and judged, its acceptance of our client
/// certificate known (`client_cert_accepted` judged, which `Ok` carries). Nothing looked at
/// (resolvers or proxy down, no route, no turn) or acceptance unknown (TLS 1.3 without a SIP
/// answer): `None`, never ready.
fn side(v: &VantageReport) -> Side<'_> {
    let outbound = match v.findings.iter().find(|f| breaks_outbound(f)) {
        Some(f) => Some(Err(f)),
        None => v
            .findings
            .iter()
            .find(|f| f.check == CheckName::ClientCertAccepted)
            .map(|f| Ok(Some(f))),
    };
    let inbound = v
        .findings
        .iter()
        .find(|f| f.check == CheckName::InboundCertAccepted)
        .map(|f| if f.passed { Ok(f) } else { Err(f) });
    Side { outbound, inbound }
}

/// The tenant's own side of inbound federation: the first critical failure of its own
/// domains (from a `public` vantage where a domain has one), if any.
#[derive(Debug, Clone, Default)]
pub struct OwnSide {
    /// (own domain, vantage, the failed finding).
    pub failing: Option<(String, String, Finding)>,
}

impl OwnSide {
    /// Whether `other` decides its partners' inbound verdicts in the same words: then a new
    /// report of an own domain leaves them as they are.
    pub fn same_as(&self, other: &OwnSide) -> bool {
        match (&self.failing, &other.failing) {
            (None, None) => true,
            (Some((d, v, f)), Some((d2, v2, f2))) => {
                d == d2
                    && v == v2
                    && f.check == f2.check
                    && f.reason == f2.reason
                    && f.message == f2.message
                    && f.hint == f2.hint
            }
            _ => false,
        }
    }
}

/// Every tenant's own side, from the reports of its own domains.
pub fn own_sides<'a>(
    reports: impl IntoIterator<Item = &'a DomainReport>,
) -> HashMap<String, OwnSide> {
    let mut out: HashMap<String, OwnSide> = HashMap::new();
    for r in reports.into_iter().filter(|r| r.role == Role::Own) {
        let side = out.entry(r.tenant.clone()).or_default();
        if side.failing.is_some() {
            continue;
        }
        let any_public = r.vantages.iter().any(|v| v.public);
        for v in r.vantages.iter().filter(|v| v.public || !any_public) {
            let failed = v.findings.iter().find(|f| {
                !f.passed && f.severity == Severity::Critical && !OUR_IDENTITY.contains(&f.check)
            });
            if let Some(f) = failed {
                side.failing = Some((r.domain.clone(), v.vantage.clone(), f.clone()));
                break;
            }
        }
    }
    out
}

/// One verdict of a pair: a partner, a vantage, a direction.
#[derive(Debug, Clone, Serialize)]
pub struct Pair {
    pub vantage: String,
    pub direction: Direction,
    #[serde(flatten)]
    pub readiness: Readiness,
}

/// The verdicts of a partner's report, both directions per vantage, inbound completed with
/// the tenant's own side; empty for own domains.
pub fn ready(report: &DomainReport, own: Option<&OwnSide>) -> Vec<Pair> {
    let failing = own.and_then(|o| o.failing.as_ref());
    let mut out = Vec::new();
    if report.role != Role::Peer {
        return out;
    }
    for v in &report.vantages {
        let s = side(v);
        let pair = |direction, readiness| Pair {
            vantage: v.vantage.clone(),
            direction,
            readiness,
        };
        if let Some(o) = s.outbound {
            out.push(pair(
                Direction::Outbound,
                match o {
                    Err(f) => Readiness::broken(f, format!("{}: {}", f.check, f.message)),
                    Ok(accepted) => Readiness::ready(format!(
                        "we reach their edge{}",
                        accepted
                            .map(|f| format!("; {}", f.message))
                            .unwrap_or_default()
                    )),
                },
            ));
        }
        if let Some(i) = s.inbound {
            out.push(pair(
                Direction::Inbound,
                match (i, failing) {
                    (Err(f), _) => Readiness::broken(f, format!("{}: {}", f.check, f.message)),
                    (Ok(_), Some((domain, vantage, f))) => Readiness::broken(
                        f,
                        format!(
                            "our own domain {domain} fails {} from {vantage}: {}",
                            f.check, f.message
                        ),
                    ),
                    (Ok(f), None) => Readiness::ready(f.message.clone()),
                },
            ));
        }
    }
    out
}

/// A report with its pair verdicts: what the JSON API and `check --output=json` give.
#[derive(Debug, Serialize)]
pub struct Judged<'a> {
    #[serde(flatten)]
    pub report: &'a DomainReport,
    /// Both directions per vantage of a partner (empty for own domains), as decided where the
    /// report lives (the store; `check`'s run).
    pub federation_ready: &'a [Pair],
}

/// Every report's verdicts, completed with the own sides of `own_reports` (the tenants' own
/// domains, which may or may not be among `reports`): for sets of reports outside the store
/// (`check`, tests).
pub fn verdicts_of<'a>(
    reports: impl IntoIterator<Item = &'a DomainReport>,
    own_reports: impl IntoIterator<Item = &'a DomainReport>,
) -> Vec<Vec<Pair>> {
    let own = own_sides(own_reports);
    reports
        .into_iter()
        .map(|r| ready(r, own.get(&r.tenant)))
        .collect()
}

/// Whether every verdict of the pairs is ready (`None` without any).
pub fn all_ready(pairs: &[Pair]) -> Option<bool> {
    (!pairs.is_empty()).then(|| pairs.iter().all(|p| p.readiness.ready))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{Blind, EndpointFacts as E, Facts, PeerAlert};
    use crate::judge::test_facts::{DAY, Judge, NOW, TestPki, at};

    const SIP: &str = "sip.kanzlei.de";
    const VALID: (i64, i64) = (NOW - 30 * DAY, NOW + 60 * DAY);

    /// (vantage, direction, ready, reason) of one verdict.
    type Row<'a> = (&'a str, &'a str, bool, Option<Reason>);

    /// (vantage, direction, ready, reason) of every verdict.
    fn verdicts(pairs: &[Pair]) -> Vec<Row<'_>> {
        pairs
            .iter()
            .map(|p| {
                (
                    p.vantage.as_str(),
                    p.direction.as_str(),
                    p.readiness.ready,
                    p.readiness.reason,
                )
            })
            .collect()
    }

    #[test]
    #[rustfmt::skip]
    fn both_directions_of_a_partner() {
        let pki = TestPki::generate();
        let judge = || Judge::peer().trusting(pki.trust()).client_cert(pki.chain("edge.zahnfee.de", VALID, (true, true), false));
        let serving = |eku| E::serving("193.99.144.80:5061", pki.chain(SIP, VALID, eku, false)).sip(Ok(200));
        let report = |e: E| judge().report(vec![("inside", false, at(e))]);
        let blind = |b| {
            let mut e = E::refused("193.99.144.80:5061", Reason::ConnectError);
            e.blind = Some(b);
            e
        };
        let cases: Vec<(&str, DomainReport, Vec<Row<'_>>)> = vec![
            ("both ways", report(serving((true, true)).asked(true)),
                vec![("inside", "outbound", true, None), ("inside", "inbound", true, None)]),
            ("their certificate lacks clientAuth: they cannot reach us", report(serving((true, false))),
                vec![("inside", "outbound", true, None), ("inside", "inbound", false, Some(Reason::NoClientAuth))]),
            ("they refuse our certificate: we cannot reach them", report(serving((true, true)).asked(true).rejected_after(PeerAlert::UnknownCa)),
                vec![("inside", "outbound", false, Some(Reason::ClientCertRejected)), ("inside", "inbound", true, None)]),
            ("their SIP does not answer", report(E::serving("193.99.144.80:5061", pki.chain(SIP, VALID, (true, true), false)).sip(Err(Reason::Timeout))),
                vec![("inside", "outbound", false, Some(Reason::Timeout)), ("inside", "inbound", true, None)]),
            ("nothing reachable: no certificate, no inbound verdict", report(E::refused("193.99.144.80:5061", Reason::ConnectionRefused)),
                vec![("inside", "outbound", false, Some(Reason::ConnectionRefused))]),
            // No evidence, no verdict: the DNS checks pass, but no edge was looked at.
            ("proxy down: nothing looked at, no outbound verdict", report(blind(Blind::ProxyDown)), vec![]),
            ("no route for the family: no outbound verdict", report(blind(Blind::NoRoute)), vec![]),
            // TLS 1.3 refuses a client certificate after the handshake: without a SIP answer
            // their acceptance of ours is unknown, so is outbound readiness.
            ("TLS 1.3, asked for our certificate, no SIP exchange", report(E::serving("193.99.144.80:5061", pki.chain(SIP, VALID, (true, true), false)).asked(true)),
                vec![("inside", "inbound", true, None)]),
        ];
        for (case, report, want) in cases {
            let pairs = ready(&report, None);
            assert_eq!(verdicts(&pairs), want, "{case}");
        }
    }

    #[test]
    fn our_own_failing_domain_breaks_inbound_but_not_outbound() {
        let pki = TestPki::generate();
        let partner = Judge::peer().trusting(pki.trust()).report(vec![(
            "outside",
            true,
            at(E::serving(
                "193.99.144.80:5061",
                pki.chain(SIP, VALID, (true, true), false),
            )
            .sip(Ok(200))),
        )]);
        // Our own edge refuses TCP from outside; our client certificate lacks clientAuth
        // (outbound's business, not inbound's).
        let own = |facts: Facts| {
            Judge::own("edge.kanzlei.de")
                .trusting(pki.trust())
                .client_cert(pki.chain("edge.kanzlei.de", VALID, (true, false), false))
                .report(vec![("outside", true, facts)])
        };
        let down = own(Facts::test()
            .srv(&[("edge.kanzlei.de", 5061)])
            .target("edge.kanzlei.de", 5061, &["193.99.144.90"])
            .endpoint(E::refused("193.99.144.90:5061", Reason::ConnectionRefused)));
        let fine = own(Facts::test()
            .srv(&[("edge.kanzlei.de", 5061)])
            .target("edge.kanzlei.de", 5061, &["193.99.144.90"])
            .endpoint(
                E::serving(
                    "193.99.144.90:5061",
                    pki.chain("edge.kanzlei.de", VALID, (true, true), false),
                )
                .sip(Ok(200)),
            ));
        let sides = own_sides([&down]);
        let pairs = ready(&partner, sides.get("default"));
        assert_eq!(
            verdicts(&pairs),
            vec![
                ("outside", "outbound", true, None),
                ("outside", "inbound", false, Some(Reason::ConnectionRefused))
            ]
        );
        assert!(
            pairs[1]
                .readiness
                .message
                .contains("our own domain kanzlei.de fails tcp_connect"),
            "{}",
            pairs[1].readiness.message
        );
        let sides = own_sides([&fine]);
        assert!(
            sides["default"].failing.is_none(),
            "client_cert_valid is not an inbound matter: {:?}",
            sides["default"].failing
        );
        assert_eq!(
            all_ready(&ready(&partner, sides.get("default"))),
            Some(true)
        );
    }
}
