//! Microsoft 365 evidence: looks up the records that tell a Teams tenant (MX to Exchange
//! Online, the `MS=ms…` verification TXT, lyncdiscover/sip/_sip._tls to Microsoft).

use hickory_proto::rr::{RData, RecordType};

use crate::facts::{DnsFailure, M365Facts, is_microsoft_host};
use crate::gather::dns::{self, Resolvers};

/// Looks up the evidence records concurrently; `None` when a lookup could not be made for
/// want of local resources (no evidence is not the same as not having looked).
pub async fn gather(resolvers: &Resolvers, domain: &str) -> Option<M365Facts> {
    let name = |prefix: &str| dns::absolute(&format!("{prefix}{domain}"));
    let apex = name("");
    let sip_tls_name = name("_sip._tls.");
    let mx = resolvers.first(&apex, RecordType::MX, |d| match d {
        RData::MX(m) => Some(dns::host(&m.exchange)),
        _ => None,
    });
    let txt = resolvers.first(&apex, RecordType::TXT, |d| match d {
        RData::TXT(t) => {
            let s: String = t
                .txt_data
                .iter()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect();
            s.starts_with("MS=").then_some(s)
        }
        _ => None,
    });
    let lyncdiscover = alias_or_address(resolvers, name("lyncdiscover."));
    let sip = alias_or_address(resolvers, name("sip."));
    let sip_tls = resolvers.first(&sip_tls_name, RecordType::SRV, |d| match d {
        RData::SRV(s) => Some(dns::host(&s.target)),
        _ => None,
    });
    let (mx, txt, lyncdiscover, sip, sip_tls) = tokio::join!(mx, txt, lyncdiscover, sip, sip_tls);
    let local = Err(DnsFailure::Local);
    if [&mx, &txt, &sip_tls].contains(&&local) {
        return None;
    }
    Some(M365Facts {
        mx: mx.unwrap_or_default(),
        ms_txt: txt.unwrap_or_default(),
        lyncdiscover: lyncdiscover.ok()?,
        sip: sip.ok()?,
        sip_tls: sip_tls.unwrap_or_default(),
    })
}

/// CNAME hops followed at most (a DNS provider's alias in front of Microsoft's name is common).
const MAX_CNAME_HOPS: usize = 8;

/// The alias target (or `""` for a name with addresses), `None` for neither; an error when the
/// lookup could not be made (local resources).
async fn alias_or_address(
    resolvers: &Resolvers,
    name: String,
) -> Result<Option<String>, DnsFailure> {
    let alias = resolvers.first(&name, RecordType::CNAME, |d| match d {
        RData::CNAME(c) => Some(dns::host(&c.0)),
        _ => None,
    });
    let first = match alias.await {
        Ok(names) => names.into_iter().next(),
        // No such name: neither an alias nor an address (two queries saved).
        Err(DnsFailure::Nxdomain) => return Ok(None),
        Err(DnsFailure::Local) => return Err(DnsFailure::Local),
        Err(_) => None,
    };
    if let Some(first) = first {
        let mut current = first.clone();
        for _ in 0..MAX_CNAME_HOPS {
            if is_microsoft_host(&current) {
                return Ok(Some(current));
            }
            match resolvers.cname(&dns::absolute(&current)).await {
                Some(next) => current = next,
                None => break,
            }
        }
        return Ok(Some(first));
    }
    let addrs = resolvers.addresses(&name).await;
    match addrs.first().map(|a| &a.answer) {
        Some(Ok(_)) => Ok(Some(String::new())),
        Some(Err(DnsFailure::Local)) => Err(DnsFailure::Local),
        _ => Ok(None),
    }
}
