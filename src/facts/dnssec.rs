//! DNSSEC facts: the Extended DNS Error (RFC 8914) a resolver attached to its answer, and
//! what the exporter's own validation found per zone.

use serde::Serialize;

/// Characters of an EDE's extra text kept at most (a hostile resolver may send 64 KiB).
pub const MAX_EDE_TEXT: usize = 120;

/// An Extended DNS Error (EDNS option 15): the info-code and the extra text, bounded to
/// [`MAX_EDE_TEXT`] characters with control and non-ASCII characters escaped, so that it can
/// be shown in a message or a page as it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Ede {
    pub code: u16,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub text: String,
}

/// The EDNS option code of an Extended DNS Error.
pub const EDE_OPTION: u16 = 15;

impl Ede {
    /// The EDE an option's data holds: two octets of info-code, then UTF-8 text (RFC 8914
    /// §2); `None` when it is shorter than the code.
    pub fn from_option(data: &[u8]) -> Option<Ede> {
        let (code, text) = data.split_first_chunk::<2>()?;
        let text = String::from_utf8_lossy(text);
        let mut out = String::new();
        for c in text.trim_end_matches('\0').chars() {
            let escaped: String = if c.is_ascii_graphic() || c == ' ' {
                c.to_string()
            } else {
                c.escape_default().collect()
            };
            if out.len() + escaped.len() > MAX_EDE_TEXT {
                out.push('…');
                break;
            }
            out.push_str(&escaped);
        }
        Some(Ede {
            code: u16::from_be_bytes(*code),
            text: out,
        })
    }

    /// Whether the resolver says it could not reach the zone's name servers at all (22 No
    /// Reachable Authority, 23 Network Error): perhaps its own trouble, judged with the
    /// vantage's health, not a verdict on the zone.
    pub fn unreachable(&self) -> bool {
        matches!(self.code, 22 | 23)
    }

    /// Whether the code is one of RFC 8914's DNSSEC failures (1 to 12: unsupported
    /// algorithm, bogus, signature expired, DNSKEY missing, ...).
    pub fn dnssec(&self) -> bool {
        (1..=12).contains(&self.code)
    }
}

impl std::fmt::Display for Ede {
    /// `EDE 7 (Signature Expired): text`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EDE {}", self.code)?;
        if let Some(name) = ede_name(self.code) {
            write!(f, " ({name})")?;
        }
        if !self.text.is_empty() {
            write!(f, ": {}", self.text)?;
        }
        Ok(())
    }
}

/// The name of an EDE info-code (RFC 8914 §4 and the IANA registry).
pub fn ede_name(code: u16) -> Option<&'static str> {
    Some(match code {
        0 => "Other Error",
        1 => "Unsupported DNSKEY Algorithm",
        2 => "Unsupported DS Digest Type",
        3 => "Stale Answer",
        4 => "Forged Answer",
        5 => "DNSSEC Indeterminate",
        6 => "DNSSEC Bogus",
        7 => "Signature Expired",
        8 => "Signature Not Yet Valid",
        9 => "DNSKEY Missing",
        10 => "RRSIGs Missing",
        11 => "No Zone Key Bit Set",
        12 => "NSEC Missing",
        13 => "Cached Error",
        14 => "Not Ready",
        15 => "Blocked",
        16 => "Censored",
        17 => "Filtered",
        18 => "Prohibited",
        19 => "Stale NXDomain Answer",
        20 => "Not Authoritative",
        21 => "Not Supported",
        22 => "No Reachable Authority",
        23 => "Network Error",
        24 => "Invalid Data",
        25 => "Signature Expired before Valid",
        26 => "Too Early",
        27 => "Unsupported NSEC3 Iterations Value",
        28 => "Unable to conform to policy",
        29 => "Synthesized",
        30 => "Invalid Query Type",
        _ => return None,
    })
}

/// What the exporter's own validation found for the zones a probe read federation records
/// from (SRV, targets' addresses), from each zone's DS at its parent down.
#[derive(Debug, Clone, Serialize, Default)]
pub struct DnssecFacts {
    /// One entry per zone whose answers carried signatures (or that a validating resolver
    /// failed), the zone holding the SRV record first.
    pub zones: Vec<ZoneDnssec>,
    /// Names whose answers carried no RRSIG and that no resolver failed: taken as unsigned
    /// (not asked further, so an unsigned fleet costs no extra query).
    pub unsigned: Vec<String>,
}

impl DnssecFacts {
    /// The zone holding the SRV record, when it was looked at.
    pub fn srv_zone(&self) -> Option<&ZoneDnssec> {
        self.zones.iter().find(|z| z.holds_srv)
    }
}

/// One zone's DNSSEC as the exporter validated it.
#[derive(Debug, Clone, Serialize)]
pub struct ZoneDnssec {
    /// Lower-case, no trailing dot.
    pub zone: String,
    /// The record sets validated in it (`_sipfederationtls._tcp.example.com SRV`, ...).
    pub sets: Vec<String>,
    /// Whether it holds the federation SRV record.
    pub holds_srv: bool,
    /// Key tags of the DS records at the parent (the first few).
    pub ds_tags: Vec<u16>,
    /// Key tags of the zone's DNSKEY records (the first few).
    pub key_tags: Vec<u16>,
    pub state: DnssecState,
    /// Why it does not validate, when it does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<BogusCause>,
    /// What failed, for people (never a label).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// Unix time of the earliest RRSIG expiration over the SRV, address and DNSKEY sets
    /// (of the signatures that validate them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub earliest_expiry: Option<i64>,
    /// That signature's validity (expiration minus inception), in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validity_seconds: Option<i64>,
}

/// A zone's DNSSEC state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DnssecState {
    /// The parent publishes no DS: validators treat the zone as unsigned.
    Insecure,
    /// Every set validates from the DS down.
    Secure,
    /// The parent publishes DS and a set does not validate: validators answer SERVFAIL.
    Bogus,
    /// The exporter could not fetch the DS or DNSKEY set (no verdict).
    Indeterminate,
}

impl DnssecState {
    pub fn as_str(self) -> &'static str {
        match self {
            DnssecState::Insecure => "insecure",
            DnssecState::Secure => "secure",
            DnssecState::Bogus => "bogus",
            DnssecState::Indeterminate => "indeterminate",
        }
    }
}

/// Why a signed zone does not validate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BogusCause {
    /// Every signature over a set has expired.
    SignatureExpired,
    /// The signatures over a set are not valid yet.
    SignatureNotYetValid,
    /// No DNSKEY of the zone matches a DS at the parent.
    NoKeyMatchesDs,
    /// A set has no RRSIG although the parent publishes DS.
    AnswerUnsigned,
    /// The DS or the signatures use only algorithms or digests we do not implement.
    UnsupportedAlgorithm,
    /// No signature over a set verifies with the zone's keys.
    BadSignature,
}

impl BogusCause {
    /// In words, as a message says it.
    pub fn as_str(self) -> &'static str {
        match self {
            BogusCause::SignatureExpired => "signature expired",
            BogusCause::SignatureNotYetValid => "signature not yet valid",
            BogusCause::NoKeyMatchesDs => "no DNSKEY matches the DS",
            BogusCause::AnswerUnsigned => "answer unsigned",
            BogusCause::UnsupportedAlgorithm => "unsupported algorithm",
            BogusCause::BadSignature => "signature does not verify",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ede_option_reads_as_code_and_bounded_escaped_text() {
        let ede = Ede::from_option(b"\x00\x07signature expired on example.com").unwrap();
        assert_eq!(ede.code, 7);
        assert_eq!(ede.text, "signature expired on example.com");
        assert_eq!(
            ede.to_string(),
            "EDE 7 (Signature Expired): signature expired on example.com"
        );
        assert!(ede.dnssec() && !ede.unreachable());
        // Code only; an unknown code has no name.
        let bare = Ede::from_option(&[0, 99]).unwrap();
        assert_eq!((bare.code, bare.text.as_str()), (99, ""));
        assert_eq!(bare.to_string(), "EDE 99");
        // Too short for a code.
        assert_eq!(Ede::from_option(&[7]), None);
        // Control characters, markup-breaking newlines and invalid UTF-8 escaped; long text cut.
        let hostile = Ede::from_option(b"\x00\x16a\nb\x1b[31m\xff\0\0").unwrap();
        assert_eq!(hostile.text, "a\\nb\\u{1b}[31m\\u{fffd}");
        assert!(hostile.unreachable());
        let mut long = vec![0, 23];
        long.extend(std::iter::repeat_n(b'x', 10_000));
        let long = Ede::from_option(&long).unwrap();
        assert_eq!(long.text.chars().count(), MAX_EDE_TEXT + 1);
        assert!(long.text.ends_with('…'));
    }
}
