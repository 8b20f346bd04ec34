//! Revocation evidence for a presented chain: what a stapled OCSP response, the issuer's OCSP
//! responders and its CRL distribution points said about each certificate, verified at
//! gathering time (signature, certificate identity); freshness (nextUpdate) is judged.

use serde::Serialize;

use super::{Blind, Reason, ser_result};

/// The revocation evidence of one presented chain, as one look of an edge gathered it.
#[derive(Debug, Clone, Serialize, Default)]
pub struct RevocationFacts {
    /// The edge stapled an OCSP response to its handshake (`sipfed_cert_ocsp_stapled`).
    pub stapled: bool,
    /// Every certificate of the chain whose issuer was presented too, leaf first.
    pub certs: Vec<CertRevocation>,
    /// The exporter could not fetch (its proxy is down, it ran out of sockets): no evidence.
    pub blind: Option<Blind>,
}

impl RevocationFacts {
    /// The leaf's evidence, when its issuer was presented.
    pub fn leaf(&self) -> Option<&CertRevocation> {
        self.certs.first().filter(|c| c.position == 0)
    }
}

/// What was learned about one certificate.
#[derive(Debug, Clone, Serialize)]
pub struct CertRevocation {
    /// Position in the presented chain (0 is the leaf).
    pub position: usize,
    pub subject_cn: String,
    /// Hex, lower-case, as in `sipfed_cert_info`.
    pub serial: String,
    /// Every piece of evidence: the staple first (leaf only), then each OCSP responder, then
    /// each CRL distribution point, in the certificate's order.
    pub evidence: Vec<Evidence>,
}

/// Where a piece of evidence came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The OCSP response the edge stapled to the handshake.
    Staple,
    /// The issuer's OCSP responder (the certificate's Authority Information Access).
    Ocsp,
    /// A CRL distribution point of the certificate.
    Crl,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Staple => "stapled OCSP",
            Source::Ocsp => "OCSP",
            Source::Crl => "CRL",
        }
    }
}

/// One piece of evidence about one certificate.
#[derive(Debug, Clone, Serialize)]
pub struct Evidence {
    pub source: Source,
    /// The URL fetched; empty for a staple.
    pub url: String,
    /// Unix seconds the document was fetched (cached evidence is older than the probe).
    pub fetched_at: i64,
    /// What the verified document said, or why there is none.
    #[serde(serialize_with = "ser_result")]
    pub outcome: Result<Status, EvidenceFailure>,
}

/// What a verified OCSP response or CRL says about a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    pub state: CertState,
    /// Unix seconds: when the document was issued.
    pub this_update: i64,
    /// Unix seconds: when it stops being evidence (`None`: the issuer gave no date).
    pub next_update: Option<i64>,
}

/// How old a document without nextUpdate may be and still count (seconds): as long as the
/// longest validity the CA/B Forum Baseline Requirements allow an OCSP response (10 days),
/// less, so a forgotten CRL without a date does not hold forever.
pub const MAX_UNDATED_AGE: i64 = 7 * 86_400;

impl Status {
    /// Whether the document is past its nextUpdate at `now`, or, without one, older than
    /// [`MAX_UNDATED_AGE`] (then it is no evidence).
    pub fn stale(&self, now: i64) -> bool {
        match self.next_update {
            Some(n) => n < now,
            None => self.this_update.saturating_add(MAX_UNDATED_AGE) < now,
        }
    }
}

/// A certificate's status in a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CertState {
    Good,
    Revoked {
        /// Unix seconds.
        at: i64,
        /// The CRL reason code's name (RFC 5280 §5.3.1), when given.
        reason: Option<String>,
    },
    /// The OCSP responder does not know the certificate.
    Unknown,
}

/// Why a pointer gave no evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvidenceFailure {
    /// A network reason, `forbidden_address`, `http_error` or `bad_response`.
    pub reason: Reason,
    /// For people (never a label).
    pub detail: String,
}

impl EvidenceFailure {
    pub fn new(reason: Reason, detail: impl Into<String>) -> EvidenceFailure {
        EvidenceFailure {
            reason,
            detail: detail.into(),
        }
    }
}

/// The name of a CRL reason code (RFC 5280 §5.3.1).
pub fn reason_name(code: u8) -> String {
    match code {
        0 => "unspecified",
        1 => "keyCompromise",
        2 => "cACompromise",
        3 => "affiliationChanged",
        4 => "superseded",
        5 => "cessationOfOperation",
        6 => "certificateHold",
        8 => "removeFromCRL",
        9 => "privilegeWithdrawn",
        10 => "aACompromise",
        _ => return format!("reason {code}"),
    }
    .to_string()
}
