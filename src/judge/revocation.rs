//! Revocation checks: whether any presented certificate is revoked by the best evidence to be
//! had (a revocation anywhere wins over any "good": a stapled good never hides a CRL that
//! says revoked), and whether the pointers the leaf names answer from this vantage.

use serde::Serialize;

use super::{Context, Verdict, fail};
use crate::facts::{CertState, Reason, RevocationFacts, Source, date};

/// What the judge makes of one piece of revocation evidence, at judging time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceVerdict {
    /// It holds and does not say revoked (good, or unknown to the responder).
    Holds,
    /// It says revoked and holds.
    Revoked,
    /// Past its nextUpdate: no evidence any more.
    Stale,
    /// It could not be fetched or read.
    Failed,
}

impl EvidenceVerdict {
    /// Whether a view marks it: anything but evidence that holds and does not say revoked.
    pub fn marked(self) -> bool {
        self != EvidenceVerdict::Holds
    }
}

/// Per certificate of `r`, per piece of its evidence (in the facts' order): the verdict at
/// `now`.
pub fn evidence_verdicts(r: &RevocationFacts, now: i64) -> Vec<Vec<EvidenceVerdict>> {
    r.certs
        .iter()
        .map(|c| {
            c.evidence
                .iter()
                .map(|ev| match &ev.outcome {
                    Err(_) => EvidenceVerdict::Failed,
                    Ok(s) if s.stale(now) => EvidenceVerdict::Stale,
                    Ok(s) if matches!(s.state, CertState::Revoked { .. }) => {
                        EvidenceVerdict::Revoked
                    }
                    Ok(_) => EvidenceVerdict::Holds,
                })
                .collect()
        })
        .collect()
}

/// The revocation evidence of every endpoint looked at (the exporter could fetch).
fn looked<'a>(
    ctx: &'a Context<'_>,
) -> impl Iterator<Item = (&'a crate::facts::EndpointFacts, &'a RevocationFacts)> {
    ctx.endpoints().filter_map(|(_, e)| {
        let r = e.revocation.as_deref()?;
        r.blind.is_none().then_some((e, r))
    })
}

fn what(position: usize) -> &'static str {
    if position == 0 {
        "certificate"
    } else {
        "intermediate CA certificate"
    }
}

pub(super) fn cert_not_revoked(ctx: &Context<'_>) -> Option<Verdict> {
    let now = ctx.env.now;
    let mut good = 0;
    let mut leaves = 0;
    let mut all_leaves_good = true;
    // Certificates looked at without current evidence of good standing (none, stale,
    // unknown, failed): named in the verdict, never covered by another certificate's.
    let mut without = Vec::new();
    for (e, r) in looked(ctx) {
        let mut leaf_good = false;
        for c in &r.certs {
            let fresh = c.evidence.iter().filter_map(|ev| match &ev.outcome {
                Ok(s) if !s.stale(now) => Some((ev, s)),
                _ => None,
            });
            let mut any_good = false;
            for (ev, s) in fresh {
                match &s.state {
                    CertState::Revoked { at, reason } => {
                        let from = match ev.source {
                            Source::Staple => "the OCSP response the edge stapled".to_string(),
                            s => format!("the {} at {}", s.as_str(), ev.url),
                        };
                        return fail(
                            Reason::Revoked,
                            format!(
                                "{} {} (serial {}) at {} was revoked on {} ({}) according to {from}",
                                what(c.position),
                                c.subject_cn,
                                c.serial,
                                e.address,
                                date(*at),
                                reason.as_deref().unwrap_or("no reason code"),
                            ),
                            "partners that check revocation refuse this certificate: install a newly issued one and select it on the federation server",
                        );
                    }
                    CertState::Good => any_good = true,
                    // The responder does not know it: no evidence of good standing.
                    CertState::Unknown => {}
                }
            }
            if any_good {
                good += 1;
                leaf_good |= c.position == 0;
            } else {
                without.push(format!(
                    "{} {} (serial {}) at {}",
                    what(c.position),
                    c.subject_cn,
                    c.serial,
                    e.address
                ));
            }
        }
        // The leaf's standing is the leaf's evidence: an intermediate's "good" says nothing
        // of it, and a leaf without evidence leaves the check without evidence (a revocation
        // at another address still fails it: the loop goes on).
        leaves += 1;
        all_leaves_good &= leaf_good;
    }
    if leaves == 0 || !all_leaves_good {
        return None;
    }
    let mut message = format!("no presented certificate is revoked ({good} with current evidence)");
    if !without.is_empty() {
        const NAMED: usize = 3;
        let more = without.len().saturating_sub(NAMED);
        without.truncate(NAMED);
        message = format!("{message}; no current evidence for {}", without.join(", "));
        if more > 0 {
            message = format!("{message} and {more} more");
        }
    }
    Some(Verdict::Pass(message.into()))
}

pub(super) fn revocation_reachable(ctx: &Context<'_>) -> Option<Verdict> {
    let now = ctx.env.now;
    let mut any = false;
    for (e, r) in looked(ctx) {
        let Some(leaf) = r.leaf() else { continue };
        for ev in leaf
            .evidence
            .iter()
            .filter(|ev| ev.source != Source::Staple)
        {
            any = true;
            let hint = "edges that check revocation refuse a certificate whose revocation status they cannot get: ask the CA (or whoever runs the pointer) to fix it, or use a certificate from a CA whose CRL and OCSP answer";
            let named = format!(
                "the {} at {} named by the certificate at {}",
                ev.source.as_str(),
                ev.url,
                e.address
            );
            match &ev.outcome {
                Err(f) => return fail(f.reason, format!("{named}: {}", f.detail), hint),
                Ok(s) if s.stale(now) => {
                    let when = match s.next_update {
                        Some(n) => format!("its nextUpdate was {}", date(n)),
                        None => format!(
                            "it has no nextUpdate and was issued on {}, more than {} days ago",
                            date(s.this_update),
                            crate::facts::MAX_UNDATED_AGE / 86_400
                        ),
                    };
                    return fail(
                        Reason::BadResponse,
                        format!("{named} is stale: {when}"),
                        hint,
                    );
                }
                // An edge with strict checks refuses a certificate its responder does not
                // know as it refuses one whose responder does not answer.
                Ok(s) if s.state == CertState::Unknown => {
                    return fail(
                        Reason::BadResponse,
                        format!(
                            "{named} answers \"unknown\": the responder does not know the certificate (no evidence of good standing)"
                        ),
                        hint,
                    );
                }
                Ok(_) => {}
            }
        }
    }
    any.then(|| {
        Verdict::Pass(
            "every CRL and OCSP responder the leaf names answers with current evidence".into(),
        )
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::facts::{
        Blind, CertFacts as Cert, CertRevocation, EndpointFacts as E, Evidence, EvidenceFailure,
        Facts, RevocationFacts, Status,
    };
    use crate::judge::CheckName as N;
    use crate::judge::Severity::{Critical as C, Warning as W};
    use crate::judge::test_facts::{DAY, Judge, NOW, fails, passes, table};

    const SIP: &str = "sip.kanzlei.de";
    const A: &str = "193.99.144.80:5061";
    const CRL: &str = "http://crl.ca.example/ca.crl";
    const OCSP: &str = "http://ocsp.ca.example";

    fn good() -> Status {
        Status {
            state: CertState::Good,
            this_update: NOW - DAY,
            next_update: Some(NOW + 6 * DAY),
        }
    }

    fn revoked() -> Status {
        Status {
            state: CertState::Revoked {
                at: NOW - 2 * DAY,
                reason: Some("keyCompromise".into()),
            },
            ..good()
        }
    }

    fn stale(s: Status) -> Status {
        Status {
            next_update: Some(NOW - 1),
            ..s
        }
    }

    fn undated(this_update: i64) -> Status {
        Status {
            this_update,
            next_update: None,
            ..good()
        }
    }

    fn unknown() -> Status {
        Status {
            state: CertState::Unknown,
            ..good()
        }
    }

    fn ev(source: Source, outcome: Result<Status, EvidenceFailure>) -> Evidence {
        Evidence {
            source,
            url: match source {
                Source::Staple => String::new(),
                Source::Ocsp => OCSP.into(),
                Source::Crl => CRL.into(),
            },
            fetched_at: NOW - 60,
            outcome,
        }
    }

    fn failed(source: Source, reason: Reason) -> Evidence {
        ev(source, Err(EvidenceFailure::new(reason, "test")))
    }

    /// The leaf's evidence (position 0), what the facts hold.
    fn with(evidence: Vec<Evidence>) -> Facts {
        with_certs(vec![(0, evidence)], None)
    }

    fn with_certs(certs: Vec<(usize, Vec<Evidence>)>, blind: Option<Blind>) -> Facts {
        let mut e = E::serving(A, vec![Cert::valid(&[SIP])]);
        e.revocation = Some(Arc::new(RevocationFacts {
            stapled: false,
            certs: certs
                .into_iter()
                .map(|(position, evidence)| CertRevocation {
                    position,
                    subject_cn: SIP.into(),
                    serial: "0a".into(),
                    evidence,
                })
                .collect(),
            blind,
        }));
        Facts::test()
            .srv(&[(SIP, 5061)])
            .target(SIP, 5061, &["193.99.144.80"])
            .endpoint(e)
    }

    fn no_revocation_facts() -> Facts {
        Facts::test()
            .srv(&[(SIP, 5061)])
            .target(SIP, 5061, &["193.99.144.80"])
            .endpoint(E::serving(A, vec![Cert::valid(&[SIP])]))
    }

    use Source::{Crl, Ocsp, Staple};

    #[test]
    fn each_piece_of_evidence_is_judged_at_judging_time() {
        let facts = with_certs(
            vec![
                (
                    0,
                    vec![
                        ev(Staple, Ok(good())),
                        ev(Ocsp, Ok(unknown())),
                        ev(Crl, Ok(stale(good()))),
                    ],
                ),
                (
                    1,
                    vec![
                        ev(Crl, Ok(revoked())),
                        failed(Ocsp, Reason::Timeout),
                        ev(Ocsp, Ok(stale(revoked()))),
                    ],
                ),
            ],
            None,
        );
        let r = facts.targets[0].endpoints[0].revocation.clone().unwrap();
        use EvidenceVerdict::{Failed, Holds, Revoked, Stale};
        assert_eq!(
            evidence_verdicts(&r, NOW),
            vec![vec![Holds, Holds, Stale], vec![Revoked, Failed, Stale]]
        );
        // A day earlier nothing was stale yet: the verdict is the judging time's.
        assert_eq!(
            evidence_verdicts(&r, NOW - DAY),
            vec![vec![Holds, Holds, Holds], vec![Revoked, Failed, Revoked]]
        );
        let judged = crate::judge::FactVerdicts::of(&facts, &Judge::peer().env());
        assert_eq!(
            judged.endpoints[0][0].revocation,
            evidence_verdicts(&r, NOW)
        );
        assert!(!Holds.marked() && Stale.marked() && Revoked.marked() && Failed.marked());
    }

    #[test]
    fn cert_not_revoked() {
        table(
            N::CertNotRevoked,
            vec![
                (
                    "good by OCSP and CRL",
                    Judge::peer(),
                    with(vec![ev(Ocsp, Ok(good())), ev(Crl, Ok(good()))]),
                    passes(C),
                ),
                (
                    "good by the staple only",
                    Judge::own(SIP),
                    with(vec![ev(Staple, Ok(good()))]),
                    passes(C),
                ),
                (
                    "revoked in the CRL",
                    Judge::peer(),
                    with(vec![ev(Crl, Ok(revoked()))]),
                    fails(C, Reason::Revoked),
                ),
                (
                    "revoked by OCSP",
                    Judge::own(SIP),
                    with(vec![ev(Ocsp, Ok(revoked()))]),
                    fails(C, Reason::Revoked),
                ),
                (
                    "a stapled good never hides a revoking CRL",
                    Judge::peer(),
                    with(vec![
                        ev(Staple, Ok(good())),
                        ev(Ocsp, Ok(good())),
                        ev(Crl, Ok(revoked())),
                    ]),
                    fails(C, Reason::Revoked),
                ),
                (
                    "an intermediate revoked",
                    Judge::peer(),
                    with_certs(
                        vec![
                            (0, vec![ev(Crl, Ok(good()))]),
                            (1, vec![ev(Crl, Ok(revoked()))]),
                        ],
                        None,
                    ),
                    fails(C, Reason::Revoked),
                ),
                (
                    "an intermediate's good does not cover a leaf without evidence",
                    Judge::peer(),
                    with_certs(
                        vec![
                            (0, vec![failed(Crl, Reason::Timeout)]),
                            (1, vec![ev(Crl, Ok(good()))]),
                        ],
                        None,
                    ),
                    None,
                ),
                (
                    "the leaf's issuer not presented, an intermediate good",
                    Judge::peer(),
                    with_certs(vec![(1, vec![ev(Crl, Ok(good()))])], None),
                    None,
                ),
                (
                    "the leaf good, its intermediate without evidence",
                    Judge::peer(),
                    with_certs(
                        vec![
                            (0, vec![ev(Crl, Ok(good()))]),
                            (1, vec![ev(Ocsp, Ok(unknown()))]),
                        ],
                        None,
                    ),
                    passes(C),
                ),
                (
                    "unknown to the responder: no evidence",
                    Judge::peer(),
                    with(vec![ev(Ocsp, Ok(unknown()))]),
                    None,
                ),
                (
                    "unknown, but good in the CRL",
                    Judge::peer(),
                    with(vec![ev(Ocsp, Ok(unknown())), ev(Crl, Ok(good()))]),
                    passes(C),
                ),
                (
                    "no nextUpdate and old: no evidence",
                    Judge::peer(),
                    with(vec![ev(Crl, Ok(undated(NOW - 8 * DAY)))]),
                    None,
                ),
                (
                    "stale good: no evidence",
                    Judge::peer(),
                    with(vec![ev(Crl, Ok(stale(good())))]),
                    None,
                ),
                (
                    "stale revoked: no evidence",
                    Judge::peer(),
                    with(vec![ev(Crl, Ok(stale(revoked())))]),
                    None,
                ),
                (
                    "stale CRL, fresh OCSP good",
                    Judge::peer(),
                    with(vec![ev(Crl, Ok(stale(revoked()))), ev(Ocsp, Ok(good()))]),
                    passes(C),
                ),
                (
                    "wrong signer: no evidence",
                    Judge::peer(),
                    with(vec![failed(Ocsp, Reason::BadResponse)]),
                    None,
                ),
                (
                    "unreachable: no evidence",
                    Judge::peer(),
                    with(vec![failed(Crl, Reason::ConnectionRefused)]),
                    None,
                ),
                ("no pointers", Judge::peer(), with(vec![]), None),
                (
                    "issuer not presented",
                    Judge::peer(),
                    with_certs(vec![], None),
                    None,
                ),
                (
                    "no revocation facts",
                    Judge::peer(),
                    no_revocation_facts(),
                    None,
                ),
                (
                    "the exporter could not fetch",
                    Judge::peer(),
                    with_certs(
                        vec![(0, vec![ev(Crl, Ok(revoked()))])],
                        Some(Blind::ProxyDown),
                    ),
                    None,
                ),
            ],
        );
    }

    #[test]
    fn a_pass_names_the_certificates_without_evidence() {
        let facts = with_certs(
            vec![
                (0, vec![ev(Crl, Ok(good()))]),
                (1, vec![ev(Crl, Ok(stale(good())))]),
            ],
            None,
        );
        let f = Judge::peer()
            .check(&facts, N::CertNotRevoked)
            .expect("applies");
        assert_eq!(
            f.message,
            "no presented certificate is revoked (1 with current evidence); no current evidence for intermediate CA certificate sip.kanzlei.de (serial 0a) at 193.99.144.80:5061"
        );
        let f = Judge::peer()
            .check(&with(vec![ev(Ocsp, Ok(unknown()))]), N::RevocationReachable)
            .expect("applies");
        assert!(f.message.contains("answers \"unknown\""), "{}", f.message);
    }

    #[test]
    fn revoked_message_names_date_reason_and_source() {
        let f = Judge::peer()
            .check(
                &with(vec![ev(Staple, Ok(good())), ev(Crl, Ok(revoked()))]),
                N::CertNotRevoked,
            )
            .expect("applies");
        assert_eq!(
            f.message,
            "certificate sip.kanzlei.de (serial 0a) at 193.99.144.80:5061 was revoked on 2027-01-13 (keyCompromise) according to the CRL at http://crl.ca.example/ca.crl"
        );
    }

    #[test]
    fn revocation_reachable() {
        table(
            N::RevocationReachable,
            vec![
                (
                    "both answer",
                    Judge::peer(),
                    with(vec![ev(Ocsp, Ok(good())), ev(Crl, Ok(revoked()))]),
                    passes(W),
                ),
                (
                    "unknown is no evidence of good standing",
                    Judge::own(SIP),
                    with(vec![ev(Ocsp, Ok(unknown()))]),
                    fails(W, Reason::BadResponse),
                ),
                (
                    "unknown beside a good CRL",
                    Judge::peer(),
                    with(vec![ev(Crl, Ok(good())), ev(Ocsp, Ok(unknown()))]),
                    fails(W, Reason::BadResponse),
                ),
                (
                    "CRL refused",
                    Judge::peer(),
                    with(vec![
                        ev(Ocsp, Ok(good())),
                        failed(Crl, Reason::ConnectionRefused),
                    ]),
                    fails(W, Reason::ConnectionRefused),
                ),
                (
                    "CRL timeout",
                    Judge::peer(),
                    with(vec![failed(Crl, Reason::Timeout)]),
                    fails(W, Reason::Timeout),
                ),
                (
                    "OCSP 404",
                    Judge::own(SIP),
                    with(vec![failed(Ocsp, Reason::HttpError)]),
                    fails(W, Reason::HttpError),
                ),
                (
                    "wrong signer",
                    Judge::peer(),
                    with(vec![failed(Ocsp, Reason::BadResponse)]),
                    fails(W, Reason::BadResponse),
                ),
                (
                    "stale CRL",
                    Judge::peer(),
                    with(vec![ev(Crl, Ok(stale(good())))]),
                    fails(W, Reason::BadResponse),
                ),
                (
                    "no nextUpdate, issued 8 days ago",
                    Judge::peer(),
                    with(vec![ev(Crl, Ok(undated(NOW - 8 * DAY)))]),
                    fails(W, Reason::BadResponse),
                ),
                (
                    "no nextUpdate, issued 6 days ago",
                    Judge::peer(),
                    with(vec![ev(Crl, Ok(undated(NOW - 6 * DAY)))]),
                    passes(W),
                ),
                (
                    "forbidden address",
                    Judge::peer(),
                    with(vec![failed(Crl, Reason::ForbiddenAddress)]),
                    fails(W, Reason::ForbiddenAddress),
                ),
                (
                    "the staple is not a pointer",
                    Judge::peer(),
                    with(vec![failed(Staple, Reason::BadResponse)]),
                    None,
                ),
                ("no pointers", Judge::peer(), with(vec![]), None),
                (
                    "only an intermediate's pointer fails",
                    Judge::peer(),
                    with_certs(
                        vec![
                            (0, vec![ev(Crl, Ok(good()))]),
                            (1, vec![failed(Crl, Reason::Timeout)]),
                        ],
                        None,
                    ),
                    passes(W),
                ),
                (
                    "the exporter could not fetch",
                    Judge::peer(),
                    with_certs(
                        vec![(0, vec![failed(Crl, Reason::Timeout)])],
                        Some(Blind::ProxyDown),
                    ),
                    None,
                ),
            ],
        );
    }
}
