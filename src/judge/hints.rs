//! Hints by role: for an own domain what to do on our edge (XPhone Connect, Skype for
//! Business, any edge) and in our DNS; for a partner what to ask them to do and what to tell
//! them, with the facts to paste. The check's own hint says the fix; [`lead`] says who does it
//! and where, and [`for_role`] puts the two (and, for a partner, the finding) together.

use super::CheckName;
use crate::config::Role;

use CheckName as N;

/// Who does what, per check and role; `None` where the role has no such check (the CHECKS
/// table's severity is `None`). The unit table below pins one for every applicable pair.
#[rustfmt::skip]
pub fn lead(check: CheckName, role: Role) -> Option<&'static str> {
    let own = role == Role::Own;
    Some(match check {
        N::SrvPresent if own => "In our public DNS zone",
        N::SrvPresent => "Ask the partner's DNS admin to publish their federation SRV record",
        N::SrvPort5061 if own => "In our DNS and on our edge's firewall",
        N::SrvPort5061 => "Ask the partner to publish port 5061 in their SRV record and open it on their firewall",
        N::SrvTargetInDomain if own => "In our DNS and on our edge's certificate",
        N::SrvTargetInDomain => "Ask the partner to point their SRV record at a host in their own domain",
        N::SrvTargetExpected if own => "In our public DNS zone",
        N::SrvTargetNotAlias if own => "In our public DNS zone",
        N::SrvTargetNotAlias => "Ask the partner's DNS admin to replace the CNAME at their SRV target",
        N::TargetResolves if own => "In our public DNS zone",
        N::TargetResolves => "Ask the partner's DNS admin to publish the address of their SRV target",
        N::TargetPublicAddress if own => "In our public DNS zone (split DNS)",
        N::TargetPublicAddress => "Ask the partner to publish their edge's public address in public DNS",
        N::AuthoritativeAgree if own => "On our authoritative DNS servers",
        N::DnssecValid if own => "In our signed DNS zone (at our DNS provider, and the DS at our registrar)",
        N::DnssecValid => "Ask the partner's DNS admin to fix their zone's DNSSEC (re-sign it, or publish a DS matching its key)",
        N::DnssecSignaturesFresh if own => "In our signed DNS zone (its signer)",
        N::DnssecSignaturesFresh => "Advise the partner (info) that their zone's signatures expire soon",
        N::ResolversAgree if own => "In our DNS (or this vantage's resolvers)",
        N::ResolversAgree => "Tell the partner their DNS answers differ (or fix this vantage's resolvers)",
        N::TcpConnect if own => "On our edge (XPhone Connect, Skype for Business, any edge) and its firewall",
        N::TcpConnect => "Ask the partner to open TCP 5061 on their firewall to their edge",
        N::TlsHandshake if own => "On our edge (XPhone Connect, Skype for Business, any edge)",
        N::TlsHandshake => "Ask the partner to check TLS on their edge",
        N::EdgeRedundancy if own => "On our edge pool",
        N::EdgeRedundancy => "Tell the partner one of their edges is down",
        N::TlsMinVersion if own => "On our edge (XPhone Connect, Skype for Business, any edge)",
        N::TlsMinVersion => "Ask the partner to enable TLS 1.2 or later on their edge",
        N::CertTrusted if own => "On our edge's certificate",
        N::CertTrusted => "Ask the partner to fix their certificate's chain",
        N::CertNameMatch if own => "On our edge's certificate",
        N::CertNameMatch => "Ask the partner for a certificate naming their SRV target",
        N::CertNotWildcard if own => "On our edge's certificate",
        N::CertNotWildcard => "Advise the partner (info) to use a certificate for their exact host name",
        N::CertValidNow if own => "On our edge (XPhone Connect, Skype for Business, any edge)",
        N::CertValidNow => "Ask the partner to renew their federation certificate and select it on their edge",
        N::CertExpiry if own => "On our edge (XPhone Connect, Skype for Business, any edge)",
        N::CertExpiry => "Tell the partner their certificate expires soon: ask them to renew and select it on their edge",
        N::CertServerAuth if own => "On our edge's certificate",
        N::CertServerAuth => "Ask the partner for a certificate with the Server Authentication EKU",
        N::CertClientAuth if own => "On our edge's certificate",
        N::CertClientAuth => "Advise the partner (info) that their certificate lacks Client Authentication",
        N::CertNotRevoked if own => "On our edge's certificate",
        N::CertNotRevoked => "Tell the partner their certificate is revoked: ask them for a new one",
        N::RevocationReachable if own => "At our CA (or this vantage's route to it)",
        N::RevocationReachable => "Tell the partner their CA's revocation service does not answer",
        N::CertSameEverywhere if own => "On every server of our edge pool",
        N::CertSameEverywhere => "Tell the partner their edges present different certificates",
        N::CertRenewalActivated if own => "On our edge (XPhone Connect, Skype for Business, any edge)",
        N::SipOptions if own => "On our edge (XPhone Connect, Skype for Business, any edge)",
        N::SipOptions => "Ask the partner to check SIP on their edge",
        N::SipAcceptsUs if !own => "The partner's edge refuses our requests",
        N::ClientCertAccepted if !own => "Between our client certificate and the partner's edge",
        N::InboundCertAccepted if !own => "Between the partner's certificate and our edge's inbound trust",
        N::ClientCertValid if own => "On our edge's client certificate",
        N::CertClientAuthKept if own => "On our edge's certificate (before the renewal)",
        N::CertClientAuthKept => "Advise the partner (info) that their next certificate may lack Client Authentication",
        N::TeamsSrvMixed if own => "In our public DNS zone",
        N::TeamsSrvMixed => "Ask the partner's DNS admin to publish one platform only",
        N::TeamsFederationSrv if !own => "Ask the partner's Microsoft 365 admin to publish their record",
        N::TeamsLyncdiscover if own => "In our public DNS zone",
        N::TeamsLyncdiscover => "Tell the partner their lyncdiscover record is wrong",
        N::TeamsConflict if own => "In our Microsoft 365 tenant and DNS",
        _ => return None,
    })
}

/// The hint a finding carries for `role`: for an own domain "where: fix"; for a partner "who
/// and what to ask", what to tell them (the finding, the facts to paste) and their fix.
pub fn for_role(check: CheckName, role: Role, message: &str, hint: &str) -> String {
    // A partner-only check's own hint is already worded for the partner.
    let peer_only = super::CHECKS
        .iter()
        .any(|c| c.name == check && c.own.is_none());
    match (lead(check, role), role) {
        (None, _) => hint.to_string(),
        (Some(lead), Role::Own) => format!("{lead}: {hint}"),
        (Some(lead), Role::Peer) if peer_only => format!("{lead}: {hint}"),
        (Some(lead), Role::Peer) => format!("{lead}. Tell them: {message}. Their fix: {hint}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Role::{Own, Peer};
    use crate::judge::CHECKS;

    /// Every check has a lead for every role it applies to (a new check without one fails
    /// here), and none for a role it does not; a partner's lead is about them, never our edge.
    #[test]
    fn every_check_has_a_hint_for_each_of_its_roles() {
        for c in CHECKS {
            for (role, severity) in [(Own, c.own), (Peer, c.peer)] {
                let got = lead(c.name, role);
                assert_eq!(
                    got.is_some(),
                    severity.is_some(),
                    "{} {role:?}: {got:?}",
                    c.name
                );
                let Some(text) = got else { continue };
                if role == Peer {
                    let about_them = ["partner", "their", "them"]
                        .iter()
                        .any(|w| text.contains(w));
                    assert!(
                        about_them,
                        "{}: a partner's hint names them: {text}",
                        c.name
                    );
                    assert!(!text.starts_with("On our edge"), "{}: {text}", c.name);
                } else {
                    let ours = ["our", "Our"].iter().any(|w| text.contains(w));
                    assert!(
                        ours,
                        "{}: an own domain's hint is about ours: {text}",
                        c.name
                    );
                }
            }
        }
    }

    /// The example: a partner's expired certificate reads as what to ask them, with the
    /// finding to paste, not as our own to-do; our own reads as our edge's.
    #[test]
    fn an_expired_certificate_by_role() {
        let msg = "certificate at 192.0.2.1:5061 expired on 2026-12-01";
        let fix = "renew the certificate and select the new one on the federation server";
        assert_eq!(
            for_role(N::CertValidNow, Peer, msg, fix),
            "Ask the partner to renew their federation certificate and select it on their edge. Tell them: certificate at 192.0.2.1:5061 expired on 2026-12-01. Their fix: renew the certificate and select the new one on the federation server"
        );
        assert_eq!(
            for_role(N::CertValidNow, Own, msg, fix),
            "On our edge (XPhone Connect, Skype for Business, any edge): renew the certificate and select the new one on the federation server"
        );
    }
}
