//! Microsoft 365 evidence as facts, and the pure classification of hosts into Microsoft
//! clouds that checks and metrics share.

use serde::Serialize;

/// What DNS says about a domain's Microsoft 365 footprint (from the vantage's first resolver).
#[derive(Debug, Clone, Serialize, Default)]
pub struct M365Facts {
    /// MX exchanges, lower-case.
    pub mx: Vec<String>,
    /// TXT strings starting with `MS=`.
    pub ms_txt: Vec<String>,
    /// Where `lyncdiscover.<domain>` points: its CNAME target (the first Microsoft host along
    /// a CNAME chain, else the first hop), or `Some("")` when it has addresses of its own,
    /// `None` when absent.
    pub lyncdiscover: Option<String>,
    /// Same for `sip.<domain>`.
    pub sip: Option<String>,
    /// Targets of `_sip._tls.<domain>` SRV.
    pub sip_tls: Vec<String>,
    /// How many MX records the answer had when it had more than are kept
    /// ([`MAX_RECORDS`](crate::gather::dns::MAX_RECORDS)): `mx` holds the first of them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mx_total: Option<usize>,
    /// Same for `ms_txt` (counting `MS=` strings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ms_txt_total: Option<usize>,
    /// Same for `sip_tls`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sip_tls_total: Option<usize>,
}

impl M365Facts {
    /// Bytes its names and records hold on the heap, about (each string's bytes and slot).
    pub fn heap_bytes(&self) -> usize {
        let list = |v: &[String]| v.iter().map(|s| s.len() + 24).sum::<usize>();
        let one = |s: &Option<String>| s.as_ref().map_or(0, |s| s.len());
        list(&self.mx)
            + list(&self.ms_txt)
            + list(&self.sip_tls)
            + one(&self.lyncdiscover)
            + one(&self.sip)
    }

    /// MX, TXT or the Skype/Teams records show the domain is a Microsoft 365 tenant.
    pub fn evidence(&self) -> bool {
        self.mx.iter().any(|m| exchange_online_cloud(m).is_some())
            || !self.ms_txt.is_empty()
            || self.microsoft_sip_records()
    }

    /// lyncdiscover, sip or _sip._tls point to Microsoft: Teams answers SIP for this domain.
    pub fn microsoft_sip_records(&self) -> bool {
        self.lyncdiscover.as_deref().is_some_and(is_microsoft_host)
            || self.sip.as_deref().is_some_and(is_microsoft_host)
            || self.sip_tls.iter().any(|t| is_microsoft_host(t))
    }
}

/// A host of Microsoft's SIP/Teams infrastructure in any cloud.
pub fn is_microsoft_host(host: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    [
        "online.lync.com",
        "online.gov.skypeforbusiness.us",
        "online.dod.skypeforbusiness.us",
        "online.partner.lync.cn",
    ]
    .iter()
    .any(|d| h == *d || h.ends_with(&format!(".{d}")))
}

/// `sipfed_platform_info` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    Microsoft,
    MicrosoftGcch,
    MicrosoftDod,
    Microsoft21vianet,
    SelfHosted,
    None,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Microsoft => "microsoft",
            Platform::MicrosoftGcch => "microsoft_gcch",
            Platform::MicrosoftDod => "microsoft_dod",
            Platform::Microsoft21vianet => "microsoft_21vianet",
            Platform::SelfHosted => "self_hosted",
            Platform::None => "none",
        }
    }

    /// The Microsoft federation edge of this cloud.
    pub fn sipfed_target(self) -> Option<&'static str> {
        match self {
            Platform::Microsoft => Some("sipfed.online.lync.com"),
            Platform::MicrosoftGcch => Some("sipfed.online.gov.skypeforbusiness.us"),
            Platform::MicrosoftDod => Some("sipfed.online.dod.skypeforbusiness.us"),
            Platform::Microsoft21vianet => Some("sipfed.online.partner.lync.cn"),
            _ => None,
        }
    }
}

/// Which platform an SRV target belongs to.
pub fn classify_target(target: &str) -> Platform {
    let t = target.trim_end_matches('.').to_ascii_lowercase();
    let under = |d: &str| t == d || t.ends_with(&format!(".{d}"));
    if under("online.gov.skypeforbusiness.us") {
        Platform::MicrosoftGcch
    } else if under("online.dod.skypeforbusiness.us") {
        Platform::MicrosoftDod
    } else if under("online.partner.lync.cn") {
        Platform::Microsoft21vianet
    } else if under("online.lync.com") {
        Platform::Microsoft
    } else {
        Platform::SelfHosted
    }
}

/// The Microsoft cloud whose Exchange Online an MX exchange belongs to. GCC High and DoD
/// share `mail.protection.office365.us`; GCC High is the more common of the two.
pub fn exchange_online_cloud(mx: &str) -> Option<Platform> {
    let h = mx.trim_end_matches('.').to_ascii_lowercase();
    if h.ends_with(".mail.protection.outlook.com") {
        Some(Platform::Microsoft)
    } else if h.ends_with(".mail.protection.office365.us") {
        Some(Platform::MicrosoftGcch)
    } else if h.ends_with(".mail.protection.partner.outlook.cn") {
        Some(Platform::Microsoft21vianet)
    } else {
        None
    }
}

/// The Microsoft cloud a tenant's own records point to: lyncdiscover/sip/_sip._tls first, then
/// the MX (commercial when nothing says otherwise).
pub fn tenant_cloud(m: &M365Facts) -> Platform {
    sip_cloud(m)
        .or_else(|| m.mx.iter().find_map(|mx| exchange_online_cloud(mx)))
        .unwrap_or(Platform::Microsoft)
}

/// The Microsoft cloud the tenant's Skype/Teams records (lyncdiscover, sip, _sip._tls) name,
/// if any: the one its federation edge must be in.
pub fn sip_cloud(m: &M365Facts) -> Option<Platform> {
    m.lyncdiscover
        .iter()
        .chain(m.sip.iter())
        .chain(m.sip_tls.iter())
        .map(|h| classify_target(h))
        .find(|p| *p != Platform::SelfHosted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_classify_by_cloud() {
        let cases = [
            ("sipfed.online.lync.com", Platform::Microsoft),
            ("SIPFED.online.lync.com.", Platform::Microsoft),
            (
                "sipfed.online.gov.skypeforbusiness.us",
                Platform::MicrosoftGcch,
            ),
            (
                "sipfed.online.dod.skypeforbusiness.us",
                Platform::MicrosoftDod,
            ),
            ("sipfed.online.partner.lync.cn", Platform::Microsoft21vianet),
            ("xphone.zahnfee.de", Platform::SelfHosted),
            ("online.lync.com.evil.de", Platform::SelfHosted),
        ];
        for (t, want) in cases {
            assert_eq!(classify_target(t), want, "{t}");
        }
    }

    #[test]
    fn evidence_from_each_record_kind() {
        let none = M365Facts::default();
        assert!(!none.evidence());
        let mx = M365Facts {
            mx: vec!["zahnfee-de.mail.protection.outlook.com".into()],
            ..M365Facts::default()
        };
        assert!(mx.evidence() && !mx.microsoft_sip_records());
        let txt = M365Facts {
            ms_txt: vec!["MS=ms12345678".into()],
            ..M365Facts::default()
        };
        assert!(txt.evidence());
        let ld = M365Facts {
            lyncdiscover: Some("webdir.online.lync.com".into()),
            ..M365Facts::default()
        };
        assert!(ld.evidence() && ld.microsoft_sip_records());
        let own = M365Facts {
            lyncdiscover: Some(String::new()),
            mx: vec!["mail.zahnfee.de".into()],
            ..M365Facts::default()
        };
        assert!(!own.evidence());
        let gcch = M365Facts {
            mx: vec!["agency-gov.mail.protection.office365.us".into()],
            ..M365Facts::default()
        };
        assert!(gcch.evidence());
        assert_eq!(tenant_cloud(&gcch), Platform::MicrosoftGcch);
        let dod = M365Facts {
            lyncdiscover: Some("webdir.online.dod.skypeforbusiness.us".into()),
            ..gcch
        };
        assert_eq!(tenant_cloud(&dod), Platform::MicrosoftDod);
        assert_eq!(tenant_cloud(&mx), Platform::Microsoft);
        let vianet = M365Facts {
            mx: vec!["contoso-cn.mail.protection.partner.outlook.cn".into()],
            ..M365Facts::default()
        };
        assert_eq!(tenant_cloud(&vianet), Platform::Microsoft21vianet);
        assert!(
            !M365Facts {
                mx: vec!["mail.protection.outlook.com.evil.de".into()],
                ..M365Facts::default()
            }
            .evidence()
        );
    }
}
