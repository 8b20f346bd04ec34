//! DNSSEC checks: the zones the federation records come from validate from their DS down,
//! and their signatures are not about to run out.

use super::{Context, Verdict, fail, pass};
use crate::facts::{self, DnssecState, Reason, ZoneDnssec};

/// The signed zones the probe validated (the parent publishes DS); insecure zones and those
/// the exporter could not fetch keys for are no evidence either way.
fn signed<'a>(ctx: &'a Context<'_>) -> impl Iterator<Item = &'a ZoneDnssec> {
    ctx.facts
        .dnssec
        .iter()
        .flat_map(|d| &d.zones)
        .filter(|z| matches!(z.state, DnssecState::Secure | DnssecState::Bogus))
}

pub(super) fn dnssec_valid(ctx: &Context<'_>) -> Option<Verdict> {
    let mut zones = signed(ctx).peekable();
    zones.peek()?;
    let mut good = Vec::new();
    for z in zones {
        if z.state == DnssecState::Bogus {
            let cause = z.cause.map_or("does not validate", |c| c.as_str());
            let detail = if z.detail.is_empty() {
                String::new()
            } else {
                format!(" ({})", z.detail)
            };
            let hint = if ctx.is_own() {
                format!(
                    "partners behind validating resolvers (1.1.1.1, 8.8.8.8, Exchange Online) get SERVFAIL for {}: re-sign the zone, or publish at the parent the DS of a DNSKEY the zone has (after a key rollover or a move of DNS providers), or remove the DS to go unsigned",
                    z.zone
                )
            } else {
                format!(
                    "every edge behind a validating resolver gets SERVFAIL for {}: ask the partner to re-sign its zone or correct the DS at its parent",
                    z.zone
                )
            };
            return fail(
                Reason::DnssecBogus,
                format!("DNSSEC of zone {} is bogus: {cause}{detail}", z.zone),
                hint,
            );
        }
        good.push(format!("{} (DS key tag {})", z.zone, tags(&z.ds_tags)));
    }
    pass(format!(
        "signed zone(s) validate from the DS at the parent: {}",
        good.join(", ")
    ))
}

pub(super) fn dnssec_signatures_fresh(ctx: &Context<'_>) -> Option<Verdict> {
    let now = ctx.env.now;
    let mut earliest: Option<(&ZoneDnssec, i64, i64)> = None;
    for z in signed(ctx).filter(|z| z.state == DnssecState::Secure) {
        if let (Some(e), Some(v)) = (z.earliest_expiry, z.validity_seconds)
            && earliest.is_none_or(|(_, x, _)| e < x)
        {
            earliest = Some((z, e, v));
        }
    }
    let (zone, expiry, validity) = earliest?;
    let threshold = threshold(validity);
    let left = expiry - now;
    if left > threshold {
        return pass(format!(
            "the earliest RRSIG in zone {} expires {} ({} left)",
            zone.zone,
            facts::date(expiry),
            span(left)
        ));
    }
    let hint = if ctx.is_own() {
        format!(
            "the zone's re-signing has stopped: re-sign {} (check the signer: OpenDNSSEC, Knot, BIND's dnssec-policy, the DNS provider) before the signatures expire and every validating resolver answers SERVFAIL",
            zone.zone
        )
    } else {
        format!(
            "the partner's zone {} is no longer re-signed: tell the partner before its signatures expire and federation with it stops",
            zone.zone
        )
    };
    fail(
        Reason::Expiring,
        format!(
            "the earliest RRSIG in zone {} expires {} (in {}): less than min(3 days, a quarter of its {} validity)",
            zone.zone,
            facts::date(expiry),
            span(left.max(0)),
            span(validity)
        ),
        hint,
    )
}

/// How long before the earliest expiration `dnssec_signatures_fresh` fails: min(3 days, a
/// quarter of the signature's validity).
pub fn threshold(validity: i64) -> i64 {
    (3 * 86_400).min(validity / 4)
}

fn tags(t: &[u16]) -> String {
    let t: Vec<String> = t.iter().map(u16::to_string).collect();
    t.join(", ")
}

/// `3 d 4 h` / `20 h` / `5 min`.
fn span(seconds: i64) -> String {
    let (d, h, m) = (
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
    );
    match (d, h) {
        (0, 0) => format!("{m} min"),
        (0, _) => format!("{h} h"),
        _ => format!("{d} d {h} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{BogusCause, DnssecFacts, Facts};
    use crate::judge::CheckName as N;
    use crate::judge::Severity::{Critical as C, Info as I, Warning as W};
    use crate::judge::test_facts::{Judge, NOW, fails, passes, table};

    const DAY: i64 = 86_400;

    fn zone(state: DnssecState, expiry: i64, validity: i64) -> ZoneDnssec {
        ZoneDnssec {
            zone: "kanzlei.de".into(),
            sets: vec!["_sipfederationtls._tcp.kanzlei.de SRV".into()],
            holds_srv: true,
            ds_tags: vec![4711],
            key_tags: vec![4711],
            state,
            cause: (state == DnssecState::Bogus).then_some(BogusCause::SignatureExpired),
            detail: String::new(),
            earliest_expiry: (state == DnssecState::Secure).then_some(expiry),
            validity_seconds: (state == DnssecState::Secure).then_some(validity),
        }
    }

    fn with(zones: Vec<ZoneDnssec>) -> Facts {
        let mut f = Facts::test();
        f.dnssec = Some(DnssecFacts {
            zones,
            unsigned: Vec::new(),
        });
        f
    }

    fn secure(expiry: i64, validity: i64) -> Facts {
        with(vec![zone(DnssecState::Secure, NOW + expiry, validity)])
    }

    #[test]
    #[rustfmt::skip]
    fn dnssec_valid() {
        let bogus = |cause| {
            let mut z = zone(DnssecState::Bogus, 0, 0);
            z.cause = Some(cause);
            with(vec![z])
        };
        let mut second = zone(DnssecState::Bogus, 0, 0);
        second.zone = "provider.net".into();
        second.holds_srv = false;
        table(
            N::DnssecValid,
            vec![
                ("secure, peer", Judge::peer(), secure(10 * DAY, 14 * DAY), passes(C)),
                ("secure, own", Judge::own("sip.kanzlei.de"), secure(10 * DAY, 14 * DAY), passes(C)),
                ("expired", Judge::peer(), bogus(BogusCause::SignatureExpired), fails(C, Reason::DnssecBogus)),
                ("not yet valid", Judge::peer(), bogus(BogusCause::SignatureNotYetValid), fails(C, Reason::DnssecBogus)),
                ("DS mismatch, own", Judge::own("sip.kanzlei.de"), bogus(BogusCause::NoKeyMatchesDs), fails(C, Reason::DnssecBogus)),
                ("answer unsigned", Judge::peer(), bogus(BogusCause::AnswerUnsigned), fails(C, Reason::DnssecBogus)),
                ("unsupported algorithm", Judge::peer(), bogus(BogusCause::UnsupportedAlgorithm), fails(C, Reason::DnssecBogus)),
                ("the target's zone bogus", Judge::peer(), with(vec![zone(DnssecState::Secure, NOW + DAY * 9, DAY * 14), second]), fails(C, Reason::DnssecBogus)),
                ("insecure (no DS)", Judge::peer(), with(vec![zone(DnssecState::Insecure, 0, 0)]), None),
                ("keys not fetched", Judge::peer(), with(vec![zone(DnssecState::Indeterminate, 0, 0)]), None),
                ("unsigned answers", Judge::peer(), with(Vec::new()), None),
                ("validation off", Judge::peer(), Facts::test(), None),
            ],
        );
        let f = Judge::peer().check(&bogus(BogusCause::NoKeyMatchesDs), N::DnssecValid).unwrap();
        assert_eq!(f.message, "DNSSEC of zone kanzlei.de is bogus: no DNSKEY matches the DS");
    }

    #[test]
    #[rustfmt::skip]
    fn dnssec_signatures_fresh() {
        let own = || Judge::own("sip.kanzlei.de");
        table(
            N::DnssecSignaturesFresh,
            vec![
                ("two weeks of 30 days left", Judge::peer(), secure(14 * DAY, 30 * DAY), passes(I)),
                ("own, two weeks left", own(), secure(14 * DAY, 30 * DAY), passes(W)),
                // 30-day signatures: 3 days is the threshold.
                ("own, 20 hours left", own(), secure(20 * 3600, 30 * DAY), fails(W, Reason::Expiring)),
                ("peer, 20 hours left", Judge::peer(), secure(20 * 3600, 30 * DAY), fails(I, Reason::Expiring)),
                ("own, just over 3 days", own(), secure(3 * DAY + 60, 30 * DAY), passes(W)),
                // 8-day signatures: a quarter is 2 days.
                ("own, 2.5 of 8 days left", own(), secure(2 * DAY + DAY / 2, 8 * DAY), passes(W)),
                ("own, 1.5 of 8 days left", own(), secure(DAY + DAY / 2, 8 * DAY), fails(W, Reason::Expiring)),
                ("bogus: dnssec_valid says it", own(), with(vec![zone(DnssecState::Bogus, 0, 0)]), None),
                ("insecure", own(), with(vec![zone(DnssecState::Insecure, 0, 0)]), None),
                ("validation off", own(), Facts::test(), None),
            ],
        );
        let f = own().check(&secure(20 * 3600, 30 * DAY), N::DnssecSignaturesFresh).unwrap();
        assert_eq!(
            f.message,
            format!(
                "the earliest RRSIG in zone kanzlei.de expires {} (in 20 h): less than min(3 days, a quarter of its 30 d 0 h validity)",
                facts::date(NOW + 20 * 3600)
            )
        );
    }
}
