//! What a probe learned: plain, serialisable values with no sockets inside. Gathering produces
//! them, checks judge them.

use std::net::{IpAddr, SocketAddr};

use serde::{Serialize, Serializer};

mod address;
mod cert;
mod dnssec;
mod m365;
mod revocation;
mod sip;

pub use address::{is_forbidden, is_global, may_connect};
pub use cert::{
    CertDetails, CertFacts, Eku, NameCoverage, Validity, coverage, is_acme_issuer, is_lets_encrypt,
};
pub use dnssec::{
    BogusCause, DnssecFacts, DnssecState, EDE_OPTION, Ede, MAX_EDE_TEXT, ZoneDnssec, ede_name,
};
pub use m365::{
    M365Facts, Platform, classify_target, exchange_online_cloud, is_microsoft_host, sip_cloud,
    tenant_cloud,
};
pub use revocation::{
    CertRevocation, CertState, Evidence, EvidenceFailure, MAX_UNDATED_AGE, RevocationFacts, Source,
    Status, reason_name,
};
pub use sip::{MsDiagnostics, SipPlatform};

/// Everything one probe of one domain from one vantage learned before its deadline.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Facts {
    pub domain: String,
    pub vantage: String,
    /// Unix time the probe started, in seconds.
    pub started_at: f64,
    pub duration_seconds: f64,
    /// The SRV lookup; `None` for direct federation, which has no SRV record.
    pub srv: Option<SrvFacts>,
    /// Every host to connect to: SRV targets in priority/weight order, or the direct route.
    pub targets: Vec<TargetFacts>,
    /// Certificates in the own domain's `cert_file` (renewal check), or why none could be
    /// read (unreadable, empty, nothing parsable); `None` without a `cert_file`.
    #[serde(serialize_with = "ser_opt_result")]
    pub stored_certs: Option<Result<Vec<CertFacts>, String>>,
    /// Own domains: what each authoritative name server holds; `None` when not asked.
    pub authoritative: Option<AuthoritativeFacts>,
    /// Microsoft 365 evidence records; `None` when the deadline passed first.
    pub m365: Option<M365Facts>,
    /// The exporter could not look at all from this vantage (its resolvers do not answer):
    /// every check is absent for this probe.
    pub blind: Option<Blind>,
    /// The exporter's own DNSSEC validation of the zones the records came from; `None` when
    /// `global.dnssec` is off or the deadline passed first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dnssec: Option<DnssecFacts>,
}

/// Why the exporter could not look: its own trouble, never evidence against the partner
/// (SPEC §5 "what is the partner's fault"). The checks that needed the look are absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Blind {
    /// The probe waited for its turn at a busy shared edge until its deadline.
    NoTurn,
    /// The exporter ran out of file descriptors or another local resource.
    LocalResources,
    /// The vantage's SOCKS5 proxy does not accept connections.
    ProxyDown,
    /// None of the vantage's resolvers answers.
    ResolversDown,
    /// The probe's deadline came before the revocation evidence it waited for (the fetch,
    /// which has a time budget of its own, goes on and is kept for the next probe).
    OutOfTime,
    /// The vantage's host has no route for the address's family (ENETUNREACH,
    /// EADDRNOTAVAIL: an IPv4-only container asked to reach an AAAA address).
    NoRoute,
}

/// The federation SRV record as each resolver of the vantage answered it.
#[derive(Debug, Clone, Serialize)]
pub struct SrvFacts {
    /// The query name, absolute (`_sipfederationtls._tcp.example.com.`).
    pub name: String,
    /// One answer per resolver, in configuration order; the first answering one decides the
    /// targets.
    pub answers: Vec<ResolverAnswer<Vec<SrvRecord>>>,
}

impl SrvFacts {
    /// The answer the probe went on with: the first answering resolver's (see
    /// [`answering`]).
    pub fn primary(&self) -> Option<&Result<Vec<SrvRecord>, DnsFailure>> {
        answering(&self.answers).map(|a| &a.answer)
    }

    /// Who hosts the edge the most preferred record (lowest priority, then highest weight)
    /// points to; [`Platform::None`] without a usable record.
    pub fn platform(&self) -> Platform {
        self.records()
            .iter()
            .filter(|r| !r.target.is_empty())
            .min_by_key(|r| (r.priority, std::cmp::Reverse(r.weight)))
            .map(|r| classify_target(&r.target))
            .unwrap_or(Platform::None)
    }

    /// Whether every resolver gave the same answer (records compared as sets).
    pub fn resolvers_agree(&self) -> bool {
        agree(&self.answers)
    }

    /// How many records the primary answer had, including those past the kept first ones.
    pub fn record_count(&self) -> usize {
        answering(&self.answers)
            .and_then(|a| a.total)
            .unwrap_or(self.records().len())
    }

    /// The records of the primary answer; empty when it failed.
    pub fn records(&self) -> &[SrvRecord] {
        match self.primary() {
            Some(Ok(r)) => r,
            _ => &[],
        }
    }
}

/// What one resolver answered.
#[derive(Debug, Clone, Serialize)]
#[serde(bound = "T: Serialize")]
pub struct ResolverAnswer<T> {
    pub resolver: String,
    #[serde(serialize_with = "ser_result")]
    pub answer: Result<T, DnsFailure>,
    /// How many records the answer had when it had more than are kept
    /// ([`MAX_RECORDS`](crate::gather::dns::MAX_RECORDS)): the list holds the first of them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<usize>,
    /// The Extended DNS Error (RFC 8914) the resolver sent with its answer, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ede: Option<Ede>,
}

/// Whether a resolver's answer is one at all: a timeout, a network error, REFUSED or a query
/// we could not send says nothing about the name asked, only about the resolver (or us).
pub fn silent<T>(answer: &ResolverAnswer<T>) -> bool {
    answer.answer.as_ref().is_err_and(|e| e.maybe_ours())
}

/// The answer a probe goes on with: the first resolver's that answered, else the first (every
/// one was silent). A first resolver that does not answer while another does is the vantage's
/// trouble (`resolvers_agree` says so), never the partner's.
pub fn answering<T>(answers: &[ResolverAnswer<T>]) -> Option<&ResolverAnswer<T>> {
    answers
        .iter()
        .find(|a| !silent(a))
        .or_else(|| answers.first())
}

/// Whether two resolvers' answers are the same: record lists compared as sets, failures by
/// kind (NXDOMAIN from one and SERVFAIL from another disagree).
pub fn same_answer<T: Ord + Clone>(
    a: &Result<Vec<T>, DnsFailure>,
    b: &Result<Vec<T>, DnsFailure>,
) -> bool {
    fn set<T: Ord + Clone>(r: &Result<Vec<T>, DnsFailure>) -> Result<Vec<T>, DnsFailure> {
        r.clone().map(|mut v| {
            v.sort();
            v.dedup();
            v
        })
    }
    set(a) == set(b)
}

/// Two resolvers' answers to the same question.
pub type AnswerPair<'a, T> = (&'a ResolverAnswer<Vec<T>>, &'a ResolverAnswer<Vec<T>>);

/// The first answering resolver whose answer differs from the answer the probe went on with
/// ([`answering`]), with that one. Silent resolvers are not compared: see [`silent`].
pub fn disagreeing<T: Ord + Clone>(
    answers: &[ResolverAnswer<Vec<T>>],
) -> Option<AnswerPair<'_, T>> {
    let first = answering(answers)?;
    answers
        .iter()
        .filter(|a| !std::ptr::eq(*a, first) && !silent(a))
        .find(|a| !same_answer(&first.answer, &a.answer))
        .map(|other| (first, other))
}

/// Whether every resolver gave the same answer (see [`same_answer`]).
pub fn agree<T: Ord + Clone>(answers: &[ResolverAnswer<Vec<T>>]) -> bool {
    disagreeing(answers).is_none()
}

/// One SRV record, target lower-case without trailing dot.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct SrvRecord {
    pub priority: u16,
    pub weight: u16,
    pub port: u16,
    pub target: String,
}

impl std::fmt::Display for SrvRecord {
    /// `priority weight port target`, as in a zone file.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {} {}",
            self.priority, self.weight, self.port, self.target
        )
    }
}

/// Why a DNS lookup gave no data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DnsFailure {
    /// The name does not exist.
    Nxdomain,
    /// The name exists but has no record of this type.
    Nodata,
    Servfail,
    Refused,
    Timeout,
    /// Any other failure (malformed answer, network error).
    Error,
    /// The exporter could not ask (no socket: file descriptors exhausted): its own trouble.
    Local,
    /// SERVFAIL, and the records exist when asked again with checking disabled (CD): the
    /// zone's DNSSEC does not validate at the resolver.
    DnssecBogus,
    /// SERVFAIL with EDE 22 or 23: the resolver could not reach the zone's name servers —
    /// perhaps its own lost upstream, judged with the vantage's health.
    NoAuthority,
}

impl DnsFailure {
    /// Whether the failure may be the exporter's own trouble rather than the partner's: the
    /// resolver did not answer, refused us, or we could not ask. Judged together with the
    /// vantage's health.
    pub fn maybe_ours(self) -> bool {
        matches!(
            self,
            DnsFailure::Timeout
                | DnsFailure::Error
                | DnsFailure::Refused
                | DnsFailure::Local
                | DnsFailure::NoAuthority
        )
    }
}

impl DnsFailure {
    pub fn reason(self) -> Reason {
        match self {
            DnsFailure::Nxdomain => Reason::Nxdomain,
            DnsFailure::Nodata => Reason::Nodata,
            DnsFailure::Servfail | DnsFailure::NoAuthority => Reason::Servfail,
            DnsFailure::DnssecBogus => Reason::DnssecBogus,
            DnsFailure::Refused => Reason::Refused,
            DnsFailure::Timeout => Reason::Timeout,
            DnsFailure::Error | DnsFailure::Local => Reason::DnsError,
        }
    }
}

/// One host name to connect to, with what DNS said about it and every address's endpoint.
#[derive(Debug, Clone, Serialize)]
pub struct TargetFacts {
    /// Lower-case, no trailing dot.
    pub name: String,
    pub port: u16,
    /// The CNAME the name is an alias for, when it is one.
    pub cname: Option<String>,
    /// Per resolver: the A and AAAA set it gave, an error only when both lookups failed; the
    /// first answering resolver's answer decides the endpoints.
    pub address_answers: Vec<ResolverAnswer<Vec<IpAddr>>>,
    pub endpoints: Vec<EndpointFacts>,
}

impl TargetFacts {
    /// Whether every resolver gave the same address set.
    pub fn resolvers_agree(&self) -> bool {
        agree(&self.address_answers)
    }

    /// The addresses the probe went on with (the first answering resolver's answer).
    pub fn addresses(&self) -> Result<&[IpAddr], DnsFailure> {
        match answering(&self.address_answers) {
            Some(a) => a.answer.as_deref().map_err(|e| *e),
            None => Err(DnsFailure::Error),
        }
    }
}

/// One address of a target: TCP connect, then TLS.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointFacts {
    pub address: SocketAddr,
    /// Seconds to connect, or why it failed.
    #[serde(serialize_with = "ser_result")]
    pub tcp: Result<f64, Reason>,
    /// `None` when TCP never connected.
    #[serde(serialize_with = "ser_opt_result")]
    pub tls: Option<Result<TlsFacts, TlsFailure>>,
    /// The chain the peer presented, leaf first, whatever its validity; kept even when the
    /// handshake failed after the certificate message. Shared by every domain whose probe
    /// used the same edge in the same round.
    pub chain: std::sync::Arc<[CertFacts]>,
    /// The SIP OPTIONS exchange, when enabled and the handshake completed.
    pub sip: Option<SipFacts>,
    /// Revocation evidence for the presented chain (shared like the chain); `None` when no
    /// chain was presented.
    pub revocation: Option<std::sync::Arc<RevocationFacts>>,
    /// The exporter could not look at this address (its own trouble): whatever else this
    /// endpoint holds is no evidence, and checks skip it.
    pub blind: Option<Blind>,
}

impl EndpointFacts {
    /// The completed handshake, if any.
    pub fn handshake(&self) -> Option<&TlsFacts> {
        match &self.tls {
            Some(Ok(t)) => Some(t),
            _ => None,
        }
    }

    /// TCP connected and the TLS handshake completed.
    pub fn up(&self) -> bool {
        self.handshake().is_some()
    }

    /// The exporter looked at this address (it is evidence about the partner).
    pub fn looked(&self) -> bool {
        self.blind.is_none()
    }

    /// The presented leaf certificate, if any.
    pub fn leaf(&self) -> Option<&CertFacts> {
        self.chain.first()
    }

    /// Whether the peer asked for a client certificate (in a completed or failed handshake).
    pub fn client_cert_requested(&self) -> bool {
        match &self.tls {
            Some(Ok(t)) => t.client_cert_requested,
            Some(Err(f)) => f.client_cert_requested,
            None => false,
        }
    }

    /// The peer ended the session over our client certificate: an alert refusing one after
    /// it asked for one, during the handshake (TLS 1.2) or on the first read after it (TLS
    /// 1.3, seen by the OPTIONS exchange).
    pub fn client_cert_refusal(&self) -> Option<Refusal> {
        match &self.tls {
            Some(Err(f)) if f.client_cert_requested => Some(Refusal {
                alert: f.alert?,
                sent: f.client_cert_sent,
            }),
            Some(Ok(t)) if t.client_cert_requested => Some(Refusal {
                alert: self.sip.as_ref()?.alert?,
                sent: t.client_cert_sent,
            }),
            _ => None,
        }
    }
}

/// A completed TLS handshake and what the peer presented.
#[derive(Debug, Clone, Serialize)]
pub struct TlsFacts {
    pub duration_seconds: f64,
    pub version: TlsVersion,
    pub cipher: String,
    /// The server sent a CertificateRequest (it wants mutual TLS).
    pub client_cert_requested: bool,
    /// We answered the request with a certificate (the tenant's client certificate).
    pub client_cert_sent: bool,
}

/// A negotiated TLS version (the prober offers only 1.2 and 1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum TlsVersion {
    #[serde(rename = "TLS 1.2")]
    Tls12,
    #[serde(rename = "TLS 1.3")]
    Tls13,
    /// Anything else a library might report.
    #[serde(rename = "unknown")]
    Unknown,
}

impl TlsVersion {
    /// The `version` label value: `TLS 1.2`, `TLS 1.3`.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsVersion::Tls12 => "TLS 1.2",
            TlsVersion::Tls13 => "TLS 1.3",
            TlsVersion::Unknown => "unknown",
        }
    }
}

/// A failed TLS handshake.
#[derive(Debug, Clone, Serialize)]
pub struct TlsFailure {
    pub reason: Reason,
    /// The library's words, for the status page and logs (never a label).
    pub detail: String,
    /// The server had sent a CertificateRequest before the handshake failed.
    pub client_cert_requested: bool,
    /// We had answered it with a certificate.
    pub client_cert_sent: bool,
    /// The alert the peer ended the handshake with, when it is one that refuses a client
    /// certificate (TLS 1.2 refuses ours during the handshake).
    pub alert: Option<PeerAlert>,
}

impl TlsFailure {
    /// A failure before any certificate request.
    pub fn new(reason: Reason, detail: impl Into<String>) -> TlsFailure {
        TlsFailure {
            reason,
            detail: detail.into(),
            client_cert_requested: false,
            client_cert_sent: false,
            alert: None,
        }
    }
}

/// A TLS alert a peer sends to refuse a client certificate (RFC 8446 §6.2, RFC 5246 §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PeerAlert {
    UnknownCa,
    UnsupportedCertificate,
    CertificateRequired,
    BadCertificate,
    CertificateUnknown,
    CertificateExpired,
    CertificateRevoked,
    AccessDenied,
    HandshakeFailure,
}

impl PeerAlert {
    /// The alert's name as TLS specifications write it.
    pub fn as_str(self) -> &'static str {
        match self {
            PeerAlert::UnknownCa => "unknown_ca",
            PeerAlert::UnsupportedCertificate => "unsupported_certificate",
            PeerAlert::CertificateRequired => "certificate_required",
            PeerAlert::BadCertificate => "bad_certificate",
            PeerAlert::CertificateUnknown => "certificate_unknown",
            PeerAlert::CertificateExpired => "certificate_expired",
            PeerAlert::CertificateRevoked => "certificate_revoked",
            PeerAlert::AccessDenied => "access_denied",
            PeerAlert::HandshakeFailure => "handshake_failure",
        }
    }
}

/// The partner's edge ended the session over our client certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub alert: PeerAlert,
    /// We had sent a certificate (else the refusal is for sending none).
    pub sent: bool,
}

/// What the OPTIONS exchange showed.
#[derive(Debug, Clone, Serialize)]
pub struct SipFacts {
    /// The final response's status code, or why there was none.
    #[serde(serialize_with = "ser_result")]
    pub status: Result<u16, Reason>,
    pub duration_seconds: f64,
    /// A short description for people (never a label): the status line when there was one.
    pub detail: String,
    /// The responding software (`Server`, else `User-Agent` header), at most 128 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The platform `server` names (`None` without a `Server`/`User-Agent` header).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<SipPlatform>,
    /// The answer's `ms-diagnostics` header, when it carried one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<MsDiagnostics>,
    /// Whom the request came from: the tenant's `sip_from`; `None` when it was sent from a
    /// placeholder (an own domain's probe, a tenant without an address).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The TLS alert that ended the session before an answer, when it is one that refuses a
    /// client certificate (TLS 1.3 refuses ours after the handshake, on the first read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<PeerAlert>,
}

/// What one authoritative server holds for the federation records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZoneView {
    /// `priority weight port target`, sorted.
    pub srv: Vec<String>,
    /// `target address`, sorted.
    pub addresses: Vec<String>,
}

/// Every authoritative server's view; `servers` empty when no NS record was found.
#[derive(Debug, Clone, Serialize, Default)]
pub struct AuthoritativeFacts {
    /// The zone whose NS records were used.
    pub zone: String,
    /// `ns-name (address)` and what it answered.
    pub servers: Vec<ResolverAnswer<ZoneView>>,
    /// How many name servers the zone's NS records named: more than `servers` when the list
    /// was cut (a zone may name dozens; only the first few, by name, are asked).
    pub name_servers: usize,
}

impl AuthoritativeFacts {
    /// Whether all servers that answered hold the same records; `None` with fewer than two
    /// answers (a server this vantage cannot reach is no evidence of a stale zone).
    pub fn agree(&self) -> Option<bool> {
        let answered: Vec<&ZoneView> = self
            .servers
            .iter()
            .filter_map(|s| s.answer.as_ref().ok())
            .collect();
        if answered.len() < 2 {
            return None;
        }
        Some(answered[1..].iter().all(|v| *v == answered[0]))
    }
}

/// Why a check failed: a fixed, bounded set (it is a label value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Nxdomain,
    Nodata,
    Servfail,
    Refused,
    Timeout,
    DnsError,
    WrongPort,
    OutsideDomain,
    UnexpectedTarget,
    Cname,
    NoAddress,
    ConnectionRefused,
    Unreachable,
    ConnectError,
    HandshakeFailure,
    ProtocolVersion,
    NoSharedCipher,
    Closed,
    Untrusted,
    SelfSigned,
    IncompleteChain,
    IntermediateExpired,
    NameMismatch,
    Wildcard,
    Expired,
    NotYetValid,
    Expiring,
    NoServerAuth,
    NoClientAuth,
    DifferentCertificates,
    MalformedCertificate,
    NotSip,
    Mismatch,
    MissingSrv,
    SelfHostedTarget,
    NotMicrosoft,
    MicrosoftRecords,
    NotActivated,
    CertFileUnreadable,
    PrivateAddress,
    Disagree,
    WrongCloud,
    ForbiddenAddress,
    Revoked,
    HttpError,
    BadResponse,
    ClientCertMissing,
    ClientCertRejected,
    ClientAuthEnding,
    MixedPlatforms,
    SipRefused,
    SipError,
    DnssecBogus,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Nxdomain => "nxdomain",
            Reason::Nodata => "nodata",
            Reason::Servfail => "servfail",
            Reason::Refused => "refused",
            Reason::Timeout => "timeout",
            Reason::DnsError => "dns_error",
            Reason::WrongPort => "wrong_port",
            Reason::OutsideDomain => "outside_domain",
            Reason::UnexpectedTarget => "unexpected_target",
            Reason::Cname => "cname",
            Reason::NoAddress => "no_address",
            Reason::ConnectionRefused => "connection_refused",
            Reason::Unreachable => "unreachable",
            Reason::ConnectError => "connect_error",
            Reason::HandshakeFailure => "handshake_failure",
            Reason::ProtocolVersion => "protocol_version",
            Reason::NoSharedCipher => "no_shared_cipher",
            Reason::Closed => "closed",
            Reason::Untrusted => "untrusted",
            Reason::SelfSigned => "self_signed",
            Reason::IncompleteChain => "incomplete_chain",
            Reason::IntermediateExpired => "intermediate_expired",
            Reason::NameMismatch => "name_mismatch",
            Reason::Wildcard => "wildcard",
            Reason::Expired => "expired",
            Reason::NotYetValid => "not_yet_valid",
            Reason::Expiring => "expiring",
            Reason::NoServerAuth => "no_server_auth",
            Reason::NoClientAuth => "no_client_auth",
            Reason::DifferentCertificates => "different_certificates",
            Reason::MalformedCertificate => "malformed_certificate",
            Reason::NotSip => "not_sip",
            Reason::Mismatch => "mismatch",
            Reason::MissingSrv => "missing_srv",
            Reason::SelfHostedTarget => "self_hosted_target",
            Reason::NotMicrosoft => "not_microsoft",
            Reason::MicrosoftRecords => "microsoft_records",
            Reason::NotActivated => "not_activated",
            Reason::CertFileUnreadable => "cert_file_unreadable",
            Reason::PrivateAddress => "private_address",
            Reason::Disagree => "disagree",
            Reason::WrongCloud => "wrong_cloud",
            Reason::ForbiddenAddress => "forbidden_address",
            Reason::Revoked => "revoked",
            Reason::HttpError => "http_error",
            Reason::BadResponse => "bad_response",
            Reason::ClientCertMissing => "client_cert_missing",
            Reason::ClientCertRejected => "client_cert_rejected",
            Reason::ClientAuthEnding => "client_auth_ending",
            Reason::MixedPlatforms => "mixed_platforms",
            Reason::SipRefused => "sip_refused",
            Reason::SipError => "sip_error",
            Reason::DnssecBogus => "dnssec_bogus",
        }
    }
}

fn ser_result<T: Serialize, E: Serialize, S: Serializer>(
    r: &Result<T, E>,
    s: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    #[serde(rename_all = "snake_case")]
    enum Tagged<'a, T, E> {
        Ok(&'a T),
        Error(&'a E),
    }
    match r {
        Ok(v) => Tagged::<T, E>::Ok(v).serialize(s),
        Err(e) => Tagged::<T, E>::Error(e).serialize(s),
    }
}

fn ser_opt_result<T: Serialize, E: Serialize, S: Serializer>(
    r: &Option<Result<T, E>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match r {
        None => s.serialize_none(),
        Some(r) => ser_result(r, s),
    }
}

pub(crate) fn ser_hex<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex(bytes))
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// Unix time in seconds.
pub fn unix(t: std::time::SystemTime) -> f64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// `2026-05-01` (UTC): how findings and pages write a certificate's dates.
pub fn date(unix: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(unix) {
        Ok(t) => format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day()),
        Err(_) => format!("@{unix}"),
    }
}
