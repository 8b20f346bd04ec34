//! Microsoft Teams checks: tenants without the federation SRV, lyncdiscover pointing
//! elsewhere (Islands mode), own domains with Microsoft records left over.

use super::{Context, Verdict, fail, pass};
use crate::config::Federation;
use crate::facts::{self, DnsFailure, Platform, Reason};

pub(super) fn srv_record_text(domain: &str, target: &str) -> String {
    format!("_sipfederationtls._tcp.{domain}. 3600 IN SRV 100 1 5061 {target}.")
}

pub(super) fn teams_federation_srv(ctx: &Context<'_>) -> Option<Verdict> {
    let m = ctx.facts.m365.as_ref()?;
    if ctx.domain.federation != Federation::Open || !m.evidence() {
        return None;
    }
    // A failed lookup (SERVFAIL, timeout) says nothing about the record; srv_present reports it.
    let srv = ctx.facts.srv.as_ref()?;
    if let Some(Err(e)) = srv.primary()
        && !matches!(e, DnsFailure::Nxdomain | DnsFailure::Nodata)
    {
        return None;
    }
    let cloud = facts::tenant_cloud(m);
    let want = cloud.sipfed_target().unwrap_or("sipfed.online.lync.com");
    let records = ctx.srv_records();
    let name = ctx.srv_name();
    if records.is_empty() {
        return fail(
            Reason::MissingSrv,
            format!(
                "{} is a Microsoft 365 tenant without {name}",
                ctx.domain.name
            ),
            format!(
                "Microsoft creates this record only when it hosts the domain's DNS; at an outside DNS provider add it by hand: {}",
                srv_record_text(&ctx.domain.name, want)
            ),
        );
    }
    if let Some(r) = records
        .iter()
        .find(|r| facts::classify_target(&r.target) != Platform::SelfHosted)
    {
        // A GCC High tenant federating through the commercial edge (or the reverse) is not found.
        let srv_cloud = facts::classify_target(&r.target);
        if let Some(c) = facts::sip_cloud(m)
            && c != srv_cloud
        {
            return fail(
                Reason::WrongCloud,
                format!(
                    "{name} points to {} ({}) but the tenant's Skype/Teams records are in {}",
                    r.target,
                    srv_cloud.as_str(),
                    c.as_str()
                ),
                format!(
                    "publish {} instead",
                    srv_record_text(&ctx.domain.name, want)
                ),
            );
        }
        return pass(format!("{name} points to Microsoft ({})", r.target));
    }
    if m.microsoft_sip_records() {
        return fail(
            Reason::SelfHostedTarget,
            format!(
                "{} is a Teams tenant (lyncdiscover/sip point to Microsoft) but {name} points to {}",
                ctx.domain.name, records[0].target
            ),
            format!(
                "if Teams serves this domain, publish {}; if the partner runs its own server, it must remove its Microsoft lyncdiscover/sip records",
                srv_record_text(&ctx.domain.name, want)
            ),
        );
    }
    pass(format!(
        "{} uses Microsoft 365 but federates through its own server {}",
        ctx.domain.name, records[0].target
    ))
}

pub(super) fn teams_lyncdiscover(ctx: &Context<'_>) -> Option<Verdict> {
    let m = ctx.facts.m365.as_ref()?;
    let target = m.lyncdiscover.as_deref()?;
    // Without Microsoft 365 a lyncdiscover record to an on-premises Skype server is correct.
    if !m.evidence() {
        return None;
    }
    let name = format!("lyncdiscover.{}", ctx.domain.name);
    if facts::is_microsoft_host(target) {
        return pass(format!("{name} points to Microsoft ({target})"));
    }
    let shown = if target.is_empty() {
        "a self-hosted address"
    } else {
        target
    };
    fail(
        Reason::NotMicrosoft,
        format!("{name} points to {shown}, not to Microsoft"),
        format!(
            "a lyncdiscover record that is not Microsoft's puts a Teams tenant into Islands mode: point it to webdir.online.lync.com. or remove it: {name}. 3600 IN CNAME webdir.online.lync.com."
        ),
    )
}

pub(super) fn teams_srv_mixed(ctx: &Context<'_>) -> Option<Verdict> {
    let records = ctx.srv_records();
    if records.is_empty() {
        return None;
    }
    let microsoft = records
        .iter()
        .find(|r| facts::classify_target(&r.target) != Platform::SelfHosted);
    let own = records
        .iter()
        .find(|r| facts::classify_target(&r.target) == Platform::SelfHosted);
    if let (Some(m), Some(o)) = (microsoft, own) {
        return fail(
            Reason::MixedPlatforms,
            format!(
                "{} mixes Microsoft's {} with the self-hosted {}: partners pick a record by priority and weight, so some reach the wrong platform",
                ctx.srv_name(),
                m.target,
                o.target
            ),
            if ctx.is_own() {
                "keep only the records of the platform that hosts federation (Teams: sipfed.online.lync.com; else your own edge)"
            } else {
                "tell the partner: their SRV record points to Teams and to their own edge at once"
            },
        );
    }
    pass("the SRV records point to one platform")
}

pub(super) fn teams_conflict(ctx: &Context<'_>) -> Option<Verdict> {
    let m = ctx.facts.m365.as_ref()?;
    let records = ctx.srv_records();
    if !records
        .iter()
        .any(|r| facts::classify_target(&r.target) == Platform::SelfHosted)
    {
        return None;
    }
    let d = &ctx.domain.name;
    let mut left = Vec::new();
    if let Some(t) = m
        .lyncdiscover
        .as_deref()
        .filter(|t| facts::is_microsoft_host(t))
    {
        left.push(format!("lyncdiscover.{d}. CNAME {t}."));
    }
    if let Some(t) = m.sip.as_deref().filter(|t| facts::is_microsoft_host(t)) {
        left.push(format!("sip.{d}. CNAME {t}."));
    }
    for t in m.sip_tls.iter().filter(|t| facts::is_microsoft_host(t)) {
        left.push(format!("_sip._tls.{d}. SRV … {t}."));
    }
    if left.is_empty() {
        return pass("no Microsoft SIP records left beside the self-hosted federation SRV");
    }
    fail(
        Reason::MicrosoftRecords,
        format!(
            "the federation SRV points to a self-hosted server but Microsoft records remain: {}",
            left.join("; ")
        ),
        format!(
            "Teams still answers for {d}: remove {} (and switch the tenant's federation off for this domain)",
            left.join(", ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{Facts, M365Facts, ResolverAnswer, SrvFacts, SrvRecord};
    use crate::judge::test_facts::Judge;

    fn srv(answer: Result<Vec<&str>, DnsFailure>) -> SrvFacts {
        SrvFacts {
            name: "_sipfederationtls._tcp.kanzlei.de.".into(),
            answers: vec![ResolverAnswer {
                ede: None,
                total: None,
                resolver: "lab".into(),
                answer: answer.map(|targets| {
                    targets
                        .into_iter()
                        .map(|t| SrvRecord {
                            priority: 100,
                            weight: 1,
                            port: 5061,
                            target: t.into(),
                        })
                        .collect()
                }),
            }],
        }
    }

    /// Runs one check on hand-built facts for `domain` (a peer unless `own`).
    fn run(
        check: fn(&Context<'_>) -> Option<Verdict>,
        own: bool,
        srv_answer: Result<Vec<&str>, DnsFailure>,
        m365: M365Facts,
    ) -> Option<(bool, Option<Reason>, String)> {
        let facts = Facts {
            srv: Some(srv(srv_answer)),
            m365: Some(m365),
            ..Facts::default()
        };
        let judge = if own {
            Judge::own("sip.kanzlei.de")
        } else {
            Judge::peer()
        }
        .at(0);
        let env = judge.env();
        let ctx = Context {
            facts: &facts,
            domain: &judge.domain,
            env: &env,
            vantage_public: false,
        };
        check(&ctx).map(|v| match v {
            Verdict::Pass(m) => (true, None, m.into_owned()),
            Verdict::Fail {
                reason,
                message,
                hint,
            } => (false, Some(reason), format!("{message} | {hint}")),
        })
    }

    fn tenant() -> M365Facts {
        M365Facts {
            mx: vec!["kanzlei-de.mail.protection.outlook.com".into()],
            lyncdiscover: Some("webdir.online.lync.com".into()),
            sip: Some("sipdir.online.lync.com".into()),
            ..M365Facts::default()
        }
    }

    mod table {
        use crate::facts::{DnsFailure as D, Facts, M365Facts, Reason};
        use crate::judge::CheckName as N;
        use crate::judge::Severity::{Critical as C, Warning as W};
        use crate::judge::test_facts::{Judge, fails, passes, table};

        const EDGE: &str = "xphone.kanzlei.de";
        const SIPFED: &str = "sipfed.online.lync.com";

        fn own() -> Judge {
            Judge::own(EDGE)
        }

        fn peer() -> Judge {
            Judge::peer()
        }

        fn srv(target: &str, m: M365Facts) -> Facts {
            Facts::test().srv(&[(target, 5061)]).m365(m)
        }

        fn no_srv(failure: D, m: M365Facts) -> Facts {
            Facts::test().srv_failure(failure).m365(m)
        }

        fn tenant() -> M365Facts {
            super::tenant()
        }

        fn mail_only() -> M365Facts {
            M365Facts {
                mx: tenant().mx,
                ..M365Facts::default()
            }
        }

        fn gcch() -> M365Facts {
            M365Facts {
                lyncdiscover: Some("webdir.online.gov.skypeforbusiness.us".into()),
                ..M365Facts::default()
            }
        }

        fn lyncdiscover(target: &str) -> M365Facts {
            M365Facts {
                lyncdiscover: Some(target.into()),
                ..tenant()
            }
        }

        #[test]
        #[rustfmt::skip]
        fn teams_federation_srv() {
            table(
                N::TeamsFederationSrv,
                vec![
                    ("tenant with the Microsoft SRV", peer(), srv(SIPFED, tenant()), passes(C)),
                    ("mail-only tenant on its own edge", peer(), srv(EDGE, mail_only()), passes(C)),
                    ("tenant without SRV", peer(), no_srv(D::Nxdomain, tenant()), fails(C, Reason::MissingSrv)),
                    ("tenant with an empty SRV answer", peer(), no_srv(D::Nodata, tenant()), fails(C, Reason::MissingSrv)),
                    ("Teams tenant, SRV to an own edge", peer(), srv(EDGE, tenant()), fails(C, Reason::SelfHostedTarget)),
                    ("GCC High tenant on the commercial edge", peer(), srv(SIPFED, gcch()), fails(C, Reason::WrongCloud)),
                    ("own domains are not judged", own(), no_srv(D::Nxdomain, tenant()), None),
                    ("no Microsoft 365 evidence", peer(), no_srv(D::Nxdomain, M365Facts::default()), None),
                    ("SRV lookup failed: srv_present's finding", peer(), no_srv(D::Servfail, tenant()), None),
                    ("direct federation", peer().direct(EDGE), no_srv(D::Nxdomain, tenant()), None),
                ],
            );
        }

        #[test]
        #[rustfmt::skip]
        fn teams_srv_mixed() {
            let mixed = || Facts::test().srv(&[(SIPFED, 5061), (EDGE, 5061)]);
            table(
                N::TeamsSrvMixed,
                vec![
                    ("only Microsoft", peer(), srv(SIPFED, tenant()), passes(W)),
                    ("only self-hosted, own", own(), srv(EDGE, mail_only()), passes(C)),
                    ("mixed, peer", peer(), mixed(), fails(W, Reason::MixedPlatforms)),
                    ("mixed, own", own(), mixed(), fails(C, Reason::MixedPlatforms)),
                    ("no SRV record", peer(), no_srv(D::Nxdomain, tenant()), None),
                ],
            );
        }

        #[test]
        #[rustfmt::skip]
        fn teams_lyncdiscover() {
            table(
                N::TeamsLyncdiscover,
                vec![
                    ("to Microsoft", peer(), srv(SIPFED, tenant()), passes(W)),
                    ("to Microsoft, own", own(), srv(EDGE, tenant()), passes(W)),
                    ("to an own name (Islands mode)", peer(), srv(SIPFED, lyncdiscover("lync.kanzlei.de")), fails(W, Reason::NotMicrosoft)),
                    ("to an own address, own", own(), srv(EDGE, lyncdiscover("")), fails(W, Reason::NotMicrosoft)),
                    ("on-premises Skype without Microsoft 365", peer(), srv(EDGE, M365Facts { lyncdiscover: Some("lync.kanzlei.de".into()), ..M365Facts::default() }), None),
                    ("no lyncdiscover record", peer(), srv(EDGE, mail_only()), None),
                ],
            );
        }

        #[test]
        #[rustfmt::skip]
        fn teams_conflict() {
            table(
                N::TeamsConflict,
                vec![
                    ("own edge, no Microsoft records", own(), srv(EDGE, mail_only()), passes(W)),
                    ("own edge, Microsoft records left", own(), srv(EDGE, tenant()), fails(W, Reason::MicrosoftRecords)),
                    ("own edge, _sip._tls left", own(), srv(EDGE, M365Facts { sip_tls: vec!["sipfed.online.lync.com".into()], ..mail_only() }), fails(W, Reason::MicrosoftRecords)),
                    ("SRV to Microsoft: a tenant, nothing conflicts", own(), srv(SIPFED, tenant()), None),
                    ("peers are not judged", peer(), srv(EDGE, tenant()), None),
                    ("no Microsoft 365 lookup", own(), Facts::test().srv(&[(EDGE, 5061)]), None),
                ],
            );
        }
    }

    #[test]
    fn teams_federation_srv_wrong_cloud() {
        let gcch = M365Facts {
            lyncdiscover: Some("webdir.online.gov.skypeforbusiness.us".into()),
            ..M365Facts::default()
        };
        let (ok, reason, text) = run(
            teams_federation_srv,
            false,
            Ok(vec!["sipfed.online.lync.com"]),
            gcch.clone(),
        )
        .unwrap();
        assert!(!ok && reason == Some(Reason::WrongCloud), "{text}");
        assert!(
            text.contains("3600 IN SRV 100 1 5061 sipfed.online.gov.skypeforbusiness.us."),
            "{text}"
        );
        let (ok, _, text) = run(
            teams_federation_srv,
            false,
            Ok(vec!["sipfed.online.gov.skypeforbusiness.us"]),
            gcch,
        )
        .unwrap();
        assert!(ok, "{text}");
    }

    #[test]
    fn teams_federation_srv_cases() {
        let record =
            "_sipfederationtls._tcp.kanzlei.de. 3600 IN SRV 100 1 5061 sipfed.online.lync.com.";
        let (ok, reason, text) = run(
            teams_federation_srv,
            false,
            Err(DnsFailure::Nxdomain),
            tenant(),
        )
        .unwrap();
        assert!(
            !ok && reason == Some(Reason::MissingSrv) && text.contains(record),
            "{text}"
        );
        let (ok, ..) = run(
            teams_federation_srv,
            false,
            Ok(vec!["sipfed.online.lync.com"]),
            tenant(),
        )
        .unwrap();
        assert!(ok);
        let (ok, reason, text) = run(
            teams_federation_srv,
            false,
            Ok(vec!["xphone.kanzlei.de"]),
            tenant(),
        )
        .unwrap();
        assert!(!ok && reason == Some(Reason::SelfHostedTarget), "{text}");
        // Mail only: the own edge is right.
        let mail = M365Facts {
            mx: tenant().mx,
            ..M365Facts::default()
        };
        let (ok, ..) = run(
            teams_federation_srv,
            false,
            Ok(vec!["xphone.kanzlei.de"]),
            mail,
        )
        .unwrap();
        assert!(ok);
        // A broken lookup is srv_present's finding; no evidence, no check; own domains never.
        assert!(
            run(
                teams_federation_srv,
                false,
                Err(DnsFailure::Servfail),
                tenant()
            )
            .is_none()
        );
        assert!(
            run(
                teams_federation_srv,
                false,
                Err(DnsFailure::Nxdomain),
                M365Facts::default()
            )
            .is_none()
        );
        let gcch = M365Facts {
            lyncdiscover: Some("webdir.online.gov.skypeforbusiness.us".into()),
            ..M365Facts::default()
        };
        let (_, _, text) = run(teams_federation_srv, false, Err(DnsFailure::Nodata), gcch).unwrap();
        assert!(
            text.contains("SRV 100 1 5061 sipfed.online.gov.skypeforbusiness.us."),
            "{text}"
        );
    }

    #[test]
    fn teams_lyncdiscover_and_conflict_cases() {
        let ok = |m: M365Facts| run(teams_lyncdiscover, false, Ok(vec![]), m).map(|v| v.0);
        assert_eq!(ok(tenant()), Some(true));
        assert_eq!(ok(M365Facts::default()), None);
        let own_name = M365Facts {
            lyncdiscover: Some("lync.kanzlei.de".into()),
            ..tenant()
        };
        assert_eq!(ok(own_name), Some(false));
        let address = M365Facts {
            lyncdiscover: Some(String::new()),
            ..tenant()
        };
        assert_eq!(ok(address), Some(false));

        let (passed, reason, text) = run(
            teams_conflict,
            true,
            Ok(vec!["xphone.kanzlei.de"]),
            tenant(),
        )
        .unwrap();
        assert!(!passed && reason == Some(Reason::MicrosoftRecords));
        assert!(text.contains("lyncdiscover.kanzlei.de. CNAME webdir.online.lync.com."));
        let clean = M365Facts {
            mx: tenant().mx,
            ..M365Facts::default()
        };
        let (passed, ..) = run(teams_conflict, true, Ok(vec!["xphone.kanzlei.de"]), clean).unwrap();
        assert!(passed);
        // SRV to Microsoft: the domain is a tenant, nothing conflicts.
        assert!(
            run(
                teams_conflict,
                true,
                Ok(vec!["sipfed.online.lync.com"]),
                tenant()
            )
            .is_none()
        );
    }
}
