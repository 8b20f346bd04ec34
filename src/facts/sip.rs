//! What a SIP answer says beyond its status: Microsoft's `ms-diagnostics` reason code and
//! the platform its `Server` header names, as plain values the judge's messages use.

use serde::Serialize;

/// The `ms-diagnostics` header of a SIP answer: Microsoft's reason code (e.g. `1047`: the
/// edge could not complete TLS with us as a federated peer), its reason and who said it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MsDiagnostics {
    pub code: u32,
    /// The `reason` parameter, unquoted; control characters escaped, at most
    /// [`MsDiagnostics::MAX_REASON`] characters.
    pub reason: String,
    /// The `source` parameter (the server that produced the code), bounded and escaped too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl MsDiagnostics {
    /// The longest reason kept, in characters.
    pub const MAX_REASON: usize = 256;
}

/// The software behind a SIP answer, from its `Server` (or `User-Agent`) header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SipPlatform {
    /// Skype for Business Server or Lync Server (`RTC/<version>`): its product name.
    SkypeForBusiness {
        product: String,
        version: String,
    },
    /// Microsoft Teams (Skype for Business Online) federation edge.
    Teams,
    /// Cisco Expressway (or VCS, `TANDBERG/…`), with its `X…` version where it says one.
    CiscoExpressway {
        version: Option<String>,
    },
    /// C4B XPhone Connect.
    XPhone,
    Kamailio,
    Asterisk,
    Other,
}

impl SipPlatform {
    /// Classifies a `Server` header value; `diagnostics_source` tells Teams' edges (they
    /// answer as `RTC/7.0`, like an on-premises server) from a server of the partner's own.
    pub fn of(server: &str, diagnostics_source: Option<&str>) -> SipPlatform {
        let lower = server.to_ascii_lowercase();
        let microsoft_online = diagnostics_source.is_some_and(|s| {
            let s = s.to_ascii_lowercase();
            s.ends_with(".online.lync.com") || s.ends_with(".infra.lync.com")
        });
        if lower.contains("teams") || (lower.starts_with("rtc") && microsoft_online) {
            return SipPlatform::Teams;
        }
        if let Some(rest) = lower.strip_prefix("rtc/").or(lower.strip_prefix("rtcc/")) {
            let version: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let major = version.split('.').next().unwrap_or_default();
            let product = match major {
                "3" => "Office Communications Server 2007 R2",
                "4" => "Lync Server 2010",
                "5" => "Lync Server 2013",
                "6" => "Skype for Business Server 2015",
                "7" => "Skype for Business Server 2019 or Subscription Edition",
                _ => "Skype for Business or Lync Server",
            };
            return SipPlatform::SkypeForBusiness {
                product: product.into(),
                version,
            };
        }
        if lower.contains("expressway") || lower.contains("tandberg") || lower.contains("vcs") {
            // `TANDBERG/4352 (X14.3.1)`: the version is the `X` token.
            let version = server
                .split(['(', ')', ' ', '/'])
                .find(|t| {
                    t.len() > 1
                        && t.starts_with(['X', 'x'])
                        && t[1..].starts_with(|c: char| c.is_ascii_digit())
                })
                .map(str::to_string);
            return SipPlatform::CiscoExpressway { version };
        }
        if lower.contains("xphone") {
            SipPlatform::XPhone
        } else if lower.contains("kamailio") || lower.contains("openser") {
            SipPlatform::Kamailio
        } else if lower.contains("asterisk") {
            SipPlatform::Asterisk
        } else {
            SipPlatform::Other
        }
    }

    /// How people name it, with the version where known.
    pub fn describe(&self) -> String {
        match self {
            SipPlatform::SkypeForBusiness { product, version } if !version.is_empty() => {
                format!("{product} (RTC/{version})")
            }
            SipPlatform::SkypeForBusiness { product, .. } => product.clone(),
            SipPlatform::Teams => "Microsoft Teams".into(),
            SipPlatform::CiscoExpressway { version: Some(v) } => format!("Cisco Expressway {v}"),
            SipPlatform::CiscoExpressway { version: None } => "Cisco Expressway".into(),
            SipPlatform::XPhone => "XPhone Connect".into(),
            SipPlatform::Kamailio => "Kamailio".into(),
            SipPlatform::Asterisk => "Asterisk".into(),
            SipPlatform::Other => "other".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_headers_name_their_platform() {
        let sfb = |product: &str, version: &str| SipPlatform::SkypeForBusiness {
            product: product.into(),
            version: version.into(),
        };
        let cases = [
            (
                "RTC/6.0",
                None,
                sfb("Skype for Business Server 2015", "6.0"),
            ),
            ("RTC/5.0", None, sfb("Lync Server 2013", "5.0")),
            (
                "RTCC/7.0.0.0 MCUFactory/7.0.0.0",
                None,
                sfb(
                    "Skype for Business Server 2019 or Subscription Edition",
                    "7.0.0.0",
                ),
            ),
            (
                "RTC/7.0",
                Some("sip.fra.infra.lync.com"),
                SipPlatform::Teams,
            ),
            ("Microsoft.Teams.Federation/1.0", None, SipPlatform::Teams),
            (
                "TANDBERG/4352 (X14.3.1)",
                None,
                SipPlatform::CiscoExpressway {
                    version: Some("X14.3.1".into()),
                },
            ),
            (
                "Cisco-Expressway",
                None,
                SipPlatform::CiscoExpressway { version: None },
            ),
            ("XPhone Connect Server 9", None, SipPlatform::XPhone),
            (
                "kamailio (5.6.3 (x86_64/linux))",
                None,
                SipPlatform::Kamailio,
            ),
            ("Asterisk PBX 18.10.0", None, SipPlatform::Asterisk),
            ("FPBX-16.0.40(18.19.0)", None, SipPlatform::Other),
        ];
        for (server, source, want) in cases {
            assert_eq!(SipPlatform::of(server, source), want, "{server}");
        }
        assert_eq!(
            SipPlatform::of("TANDBERG/4352 (X14.3.1)", None).describe(),
            "Cisco Expressway X14.3.1"
        );
    }
}
