//! The lab's revocation world: an issuing CA (under the lab root) whose leaves name a CRL
//! distribution point and an OCSP responder on one loopback HTTP server, which answers with a
//! CRL (rcgen) and OCSP responses (x509-ocsp, signed with the CA's key) or, on demand, with
//! hostile evidence: garbage, an endless CRL, a trickle, a redirect loop, a wrong signer, an
//! answer about another certificate, a stale document, a 404.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, SystemTime, UNIX_EPOCH};

use der::asn1::{BitString, GeneralizedTime, OctetString};
use der::{Decode, Encode};
use rcgen::{
    CertificateParams, CertificateRevocationListParams, CrlDistributionPoint, CustomExtension,
    ExtendedKeyUsagePurpose, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason,
    RevokedCertParams, SerialNumber, SigningKey,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use spki::AlgorithmIdentifierOwned;
use time::{Duration, OffsetDateTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use x509_ocsp::{
    BasicOcspResponse, CertStatus, OcspGeneralizedTime, OcspRequest, OcspResponse,
    OcspResponseStatus, ResponderId, ResponseBytes, ResponseData, RevokedInfo, SingleResponse,
};

use super::pki::Leaf;

/// How the server answers a CRL or OCSP request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The truth, signed by the CA, fresh for a week.
    Normal,
    /// The truth, signed by the CA, past its nextUpdate.
    Stale,
    /// The truth, signed by a key that is not the CA's (same issuer name).
    WrongSigner,
    /// OCSP: a signed answer about another serial.
    OtherSerial,
    /// OCSP: signed by a responder the CA issued with the OCSP-signing EKU (RFC 6960 §4.2.2.2).
    Delegated,
    /// OCSP: signed by a certificate the CA issued without the OCSP-signing EKU.
    DelegatedWithoutEku,
    /// 200 with bytes that are neither a CRL nor an OCSP response.
    Garbage,
    /// 200 with a body that never ends (no Content-Length): a "1 GB CRL".
    Huge,
    /// 200, then one byte every half second.
    Trickle,
    /// 302 to itself.
    RedirectLoop,
    /// CRL: another part (shard) of the CA's CRL, validly signed, listing none of the revoked
    /// serials, whose issuing distribution point names another URL (`/shard-2.crl`).
    Shard,
    /// OCSP: signed by the CA's impostor ([`RevocationCa::impostor`]), about the leaf as if
    /// the impostor had issued it (its key hash in the CertID).
    Impostor,
    NotFound,
}

struct Ca {
    params: CertificateParams,
    key: KeyPair,
    der: CertificateDer<'static>,
    pem: String,
}

struct State {
    ca: Ca,
    /// A certificate with the CA's name under another key, self-signed: what an attacker
    /// puts in a chain to have its own staples and CRLs read as the CA's.
    impostor: Ca,
    /// Raw serials revoked, with when.
    revoked: Mutex<Vec<(Vec<u8>, OffsetDateTime)>>,
    crl: Mutex<Answer>,
    ocsp: Mutex<Answer>,
    crl_requests: AtomicU64,
    ocsp_requests: AtomicU64,
    /// OCSP requests that came by GET (RFC 5019's `/ocsp/<base64>`).
    ocsp_gets: AtomicU64,
}

/// A running CA with its CRL and OCSP server.
pub struct RevocationCa {
    /// The HTTP server's address (loopback).
    pub address: SocketAddr,
    state: Arc<State>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn io(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// DER TLV with a one-byte tag.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 128 {
        out.push(n as u8);
    } else if n < 256 {
        out.extend([0x81, n as u8]);
    } else {
        out.extend([0x82, (n >> 8) as u8, n as u8]);
    }
    out.extend_from_slice(content);
    out
}

/// An Authority Information Access extension naming `url` as OCSP responder.
fn aia_ocsp(url: &str) -> CustomExtension {
    // id-ad-ocsp 1.3.6.1.5.5.7.48.1
    let oid = tlv(0x06, &[0x2b, 6, 1, 5, 5, 7, 0x30, 1]);
    let location = tlv(0x86, url.as_bytes());
    let description = tlv(0x30, &[oid, location].concat());
    CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 1], tlv(0x30, &description))
}

fn sha1(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, data)
        .as_ref()
        .to_vec()
}

fn time(t: OffsetDateTime) -> OcspGeneralizedTime {
    let secs = t.unix_timestamp().clamp(0, 253_402_300_799) as u64;
    match GeneralizedTime::from_unix_duration(StdDuration::from_secs(secs)) {
        Ok(t) => OcspGeneralizedTime(t),
        // Within 0..=9999-12-31 every second is representable.
        Err(_) => unreachable!("clamped to GeneralizedTime's range"),
    }
}

impl RevocationCa {
    /// Creates the CA under the lab root (`root`, `root_key`) and starts its server.
    pub(crate) async fn start(
        root: &CertificateParams,
        root_key: &KeyPair,
        tracker: &TaskTracker,
        shutdown: CancellationToken,
    ) -> std::io::Result<RevocationCa> {
        let key = KeyPair::generate().map_err(io)?;
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "sipfed lab revoking CA");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "sipfed lab");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(365);
        params.not_after = now + Duration::days(3650);
        let cert = params
            .signed_by(&key, &Issuer::from_params(root, root_key))
            .map_err(io)?;
        let impostor_key = KeyPair::generate().map_err(io)?;
        let impostor_params = params.clone();
        let impostor_cert = impostor_params.self_signed(&impostor_key).map_err(io)?;
        let state = Arc::new(State {
            ca: Ca {
                params,
                key,
                der: cert.der().clone(),
                pem: cert.pem(),
            },
            impostor: Ca {
                params: impostor_params,
                key: impostor_key,
                der: impostor_cert.der().clone(),
                pem: impostor_cert.pem(),
            },
            revoked: Mutex::new(Vec::new()),
            crl: Mutex::new(Answer::Normal),
            ocsp: Mutex::new(Answer::Normal),
            crl_requests: AtomicU64::new(0),
            ocsp_requests: AtomicU64::new(0),
            ocsp_gets: AtomicU64::new(0),
        });
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let served = state.clone();
        super::accept_loop(listener, tracker, shutdown, move |stream| {
            let state = served.clone();
            async move {
                let _ = serve(stream, &state, address).await;
            }
        });
        Ok(RevocationCa { address, state })
    }

    /// The CRL distribution point its leaves name.
    pub fn crl_url(&self) -> String {
        format!("http://{}/ca.crl", self.address)
    }

    /// The OCSP responder its leaves name.
    pub fn ocsp_url(&self) -> String {
        format!("http://{}/ocsp", self.address)
    }

    /// The CA certificate as PEM.
    pub fn pem(&self) -> &str {
        &self.state.ca.pem
    }

    /// A 90-day leaf for `name` naming this CA's CRL and OCSP responder; chain: leaf, CA.
    pub fn leaf(&self, name: &str) -> std::io::Result<Leaf> {
        self.leaf_pointing(name, Some(&self.crl_url()), Some(&self.ocsp_url()))
    }

    /// A leaf naming the given CRL distribution point and OCSP responder (either may be none).
    pub fn leaf_pointing(
        &self,
        name: &str,
        crl: Option<&str>,
        ocsp: Option<&str>,
    ) -> std::io::Result<Leaf> {
        let key = KeyPair::generate().map_err(io)?;
        let mut params = CertificateParams::new(vec![name.to_string()]).map_err(io)?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(30);
        params.not_after = now + Duration::days(60);
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        if let Some(url) = crl {
            params.crl_distribution_points = vec![CrlDistributionPoint {
                uris: vec![url.to_string()],
            }];
        }
        if let Some(url) = ocsp {
            params.custom_extensions.push(aia_ocsp(url));
        }
        let ca = &self.state.ca;
        let cert = params
            .signed_by(&key, &Issuer::from_params(&ca.params, &ca.key))
            .map_err(io)?;
        Ok(Leaf {
            chain: vec![cert.der().clone(), ca.der.clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            leaf_pem: cert.pem(),
            chain_pem: format!("{}{}", cert.pem(), ca.pem),
            key_pem: key.serialize_pem(),
            ocsp: None,
        })
    }

    /// Revokes `leaf` (key compromise, an hour ago) in the CRL and OCSP.
    pub fn revoke(&self, leaf: &Leaf) {
        if let Some(serial) = serial(&leaf.chain[0]) {
            lock(&self.state.revoked)
                .push((serial, OffsetDateTime::now_utc() - Duration::hours(1)));
        }
    }

    /// How CRL requests are answered from now on.
    pub fn set_crl(&self, answer: Answer) {
        *lock(&self.state.crl) = answer;
    }

    /// How OCSP requests are answered from now on.
    pub fn set_ocsp(&self, answer: Answer) {
        *lock(&self.state.ocsp) = answer;
    }

    /// CRL requests served so far.
    pub fn crl_requests(&self) -> u64 {
        self.state.crl_requests.load(Ordering::Relaxed)
    }

    /// OCSP requests served so far.
    pub fn ocsp_requests(&self) -> u64 {
        self.state.ocsp_requests.load(Ordering::Relaxed)
    }

    /// The CA's impostor as PEM: its name, another key, self-signed.
    pub fn impostor_pem(&self) -> &str {
        &self.state.impostor.pem
    }

    /// OCSP requests served so far that came by GET.
    pub fn ocsp_gets(&self) -> u64 {
        self.state.ocsp_gets.load(Ordering::Relaxed)
    }

    /// A signed OCSP response about `leaf` as the CA sees it now (for stapling).
    pub fn staple(&self, leaf: &Leaf) -> std::io::Result<Vec<u8>> {
        self.staple_as(leaf, Answer::Normal)
    }

    /// A staple about `leaf` as `answer` wants it: [`Answer::Impostor`] is a "good" signed by
    /// the impostor, whatever the CA says.
    pub fn staple_as(&self, leaf: &Leaf, answer: Answer) -> std::io::Result<Vec<u8>> {
        let serial = serial(&leaf.chain[0]).ok_or_else(|| io("leaf serial"))?;
        let ca = if answer == Answer::Impostor {
            &self.state.impostor
        } else {
            &self.state.ca
        };
        let issuer = x509_parser::parse_x509_certificate(&ca.der).map_err(io)?.1;
        let id = x509_ocsp::CertId {
            hash_algorithm: AlgorithmIdentifierOwned {
                oid: der::oid::ObjectIdentifier::new_unwrap("1.3.14.3.2.26"),
                parameters: Some(der::asn1::Null.into()),
            },
            issuer_name_hash: OctetString::new(sha1(issuer.subject().as_raw())).map_err(io)?,
            issuer_key_hash: OctetString::new(sha1(&issuer.public_key().subject_public_key.data))
                .map_err(io)?,
            serial_number: x509_cert::serial_number::SerialNumber::new(strip(&serial))
                .map_err(io)?,
        };
        ocsp_response(&self.state, id, answer)
    }
}

fn strip(serial: &[u8]) -> &[u8] {
    let i = serial.iter().position(|b| *b != 0).unwrap_or(serial.len());
    &serial[i..]
}

fn serial(cert: &[u8]) -> Option<Vec<u8>> {
    let (_, c) = x509_parser::parse_x509_certificate(cert).ok()?;
    Some(c.raw_serial().to_vec())
}

/// The CRL as `answer` wants it signed and dated; its issuing distribution point is the
/// CA's CRL URL on `address` (a shard's its own).
fn crl(state: &State, answer: Answer, address: SocketAddr) -> std::io::Result<Vec<u8>> {
    let now = OffsetDateTime::now_utc();
    let (this_update, next_update) = match answer {
        Answer::Stale => (now - Duration::days(8), now - Duration::days(1)),
        _ => (now - Duration::minutes(5), now + Duration::days(7)),
    };
    let shard = answer == Answer::Shard;
    let path = if shard { "shard-2.crl" } else { "ca.crl" };
    let issuing_distribution_point = Some(rcgen::CrlIssuingDistributionPoint {
        distribution_point: CrlDistributionPoint {
            uris: vec![format!("http://{address}/{path}")],
        },
        scope: None,
    });
    let revoked_certs = lock(&state.revoked)
        .iter()
        .filter(|_| !shard)
        .map(|(serial, at)| RevokedCertParams {
            serial_number: SerialNumber::from_slice(serial),
            revocation_time: *at,
            reason_code: Some(RevocationReason::KeyCompromise),
            invalidity_date: None,
        })
        .collect();
    let params = CertificateRevocationListParams {
        this_update,
        next_update,
        crl_number: SerialNumber::from(1u64),
        issuing_distribution_point,
        revoked_certs,
        key_identifier_method: KeyIdMethod::Sha256,
    };
    let ca = &state.ca;
    let other;
    let key = if answer == Answer::WrongSigner {
        other = KeyPair::generate().map_err(io)?;
        &other
    } else {
        &ca.key
    };
    let crl = params
        .signed_by(&Issuer::from_params(&ca.params, key))
        .map_err(io)?;
    Ok(crl.der().to_vec())
}

/// A signed OCSP response for `id` as `answer` wants it.
fn ocsp_response(
    state: &State,
    mut id: x509_ocsp::CertId,
    answer: Answer,
) -> std::io::Result<Vec<u8>> {
    let now = OffsetDateTime::now_utc();
    let asked = id.serial_number.as_bytes().to_vec();
    let revoked = lock(&state.revoked)
        .iter()
        .find(|(s, _)| strip(s) == strip(&asked))
        .map(|(_, at)| *at);
    let status = match revoked {
        Some(_) if answer == Answer::Impostor => CertStatus::Good(der::asn1::Null),
        Some(at) => CertStatus::Revoked(RevokedInfo {
            revocation_time: time(at),
            revocation_reason: Some(x509_cert::ext::pkix::crl::CrlReason::KeyCompromise),
        }),
        None => CertStatus::Good(der::asn1::Null),
    };
    if answer == Answer::OtherSerial {
        let mut other = asked.clone();
        if let Some(last) = other.last_mut() {
            *last ^= 1;
        }
        id.serial_number =
            x509_cert::serial_number::SerialNumber::new(strip(&other)).map_err(io)?;
    }
    let (this_update, next_update) = match answer {
        Answer::Stale => (now - Duration::days(8), now - Duration::days(1)),
        _ => (now - Duration::minutes(5), now + Duration::days(7)),
    };
    let ca = if answer == Answer::Impostor {
        &state.impostor
    } else {
        &state.ca
    };
    let issuer = x509_parser::parse_x509_certificate(&ca.der).map_err(io)?.1;
    let tbs = ResponseData {
        version: Default::default(),
        responder_id: ResponderId::ByKey(
            OctetString::new(sha1(&issuer.public_key().subject_public_key.data)).map_err(io)?,
        ),
        produced_at: time(now),
        responses: vec![SingleResponse {
            cert_id: id,
            cert_status: status,
            this_update: time(this_update),
            next_update: Some(time(next_update)),
            single_extensions: None,
        }],
        response_extensions: None,
    };
    let signed = tbs.to_der().map_err(io)?;
    let mut certs = None;
    let signature = match answer {
        Answer::WrongSigner => KeyPair::generate().map_err(io)?.sign(&signed).map_err(io)?,
        Answer::Delegated | Answer::DelegatedWithoutEku => {
            let key = KeyPair::generate().map_err(io)?;
            let mut params = CertificateParams::default();
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, "sipfed lab OCSP responder");
            params.not_before = now - Duration::days(1);
            params.not_after = now + Duration::days(30);
            params.extended_key_usages = vec![if answer == Answer::Delegated {
                ExtendedKeyUsagePurpose::OcspSigning
            } else {
                ExtendedKeyUsagePurpose::ServerAuth
            }];
            let cert = params
                .signed_by(&key, &Issuer::from_params(&ca.params, &ca.key))
                .map_err(io)?;
            certs = Some(vec![
                x509_cert::Certificate::from_der(cert.der()).map_err(io)?,
            ]);
            key.sign(&signed).map_err(io)?
        }
        _ => ca.key.sign(&signed).map_err(io)?,
    };
    let basic = BasicOcspResponse {
        tbs_response_data: tbs,
        // ecdsa-with-SHA256: rcgen's default key is P-256.
        signature_algorithm: AlgorithmIdentifierOwned {
            oid: der::oid::ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2"),
            parameters: None,
        },
        signature: BitString::from_bytes(&signature).map_err(io)?,
        certs,
    };
    OcspResponse {
        response_status: OcspResponseStatus::Successful,
        response_bytes: Some(ResponseBytes {
            response_type: der::oid::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1"),
            response: OctetString::new(basic.to_der().map_err(io)?).map_err(io)?,
        }),
    }
    .to_der()
    .map_err(io)
}

/// Serves one HTTP/1.x request: `GET /ca.crl`, `POST /ocsp`, `GET /ocsp/<request>`.
async fn serve(mut stream: TcpStream, state: &State, address: SocketAddr) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 16 * 1024 {
            return Ok(());
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let path = head.split(' ').nth(1).unwrap_or("/").to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length.min(64 * 1024) {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let (answer, document) = if path == "/ca.crl" {
        state.crl_requests.fetch_add(1, Ordering::Relaxed);
        let answer = *lock(&state.crl);
        (answer, crl(state, answer, address))
    } else if path == "/ocsp" || path.starts_with("/ocsp/") {
        state.ocsp_requests.fetch_add(1, Ordering::Relaxed);
        let answer = *lock(&state.ocsp);
        // GET: the request is the path's last segment, base64 then URL-encoded.
        if let Some(encoded) = path.strip_prefix("/ocsp/") {
            use base64::Engine;
            state.ocsp_gets.fetch_add(1, Ordering::Relaxed);
            let decoded = encoded
                .replace("%2B", "+")
                .replace("%2F", "/")
                .replace("%3D", "=");
            body = base64::engine::general_purpose::STANDARD
                .decode(decoded)
                .unwrap_or_default();
        }
        let id = OcspRequest::from_der(&body)
            .ok()
            .and_then(|r| r.tbs_request.request_list.into_iter().next())
            .map(|r| r.req_cert);
        let document = match id {
            Some(id) => ocsp_response(state, id, answer),
            None => Ok(OcspResponse::malformed_request().to_der().map_err(io)?),
        };
        (answer, document)
    } else {
        (Answer::NotFound, Ok(Vec::new()))
    };
    let ok = "HTTP/1.1 200 OK\r\nConnection: close\r\n";
    match answer {
        Answer::NotFound => {
            stream
                .write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .await
        }
        Answer::RedirectLoop => {
            let to = format!("http://{address}{path}");
            let head = format!(
                "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            stream.write_all(head.as_bytes()).await
        }
        Answer::Garbage => {
            let junk = b"<html>this is not what you asked for</html>";
            let head = format!("{ok}Content-Length: {}\r\n\r\n", junk.len());
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(junk).await
        }
        Answer::Huge => {
            // No Content-Length: the body ends when the connection does, after 1 GiB.
            stream.write_all(format!("{ok}\r\n").as_bytes()).await?;
            let block = vec![0x30u8; 64 * 1024];
            for _ in 0..16 * 1024 {
                stream.write_all(&block).await?;
            }
            Ok(())
        }
        Answer::Trickle => {
            stream
                .write_all(format!("{ok}Content-Length: 100000\r\n\r\n").as_bytes())
                .await?;
            for _ in 0..100_000 {
                stream.write_all(b"0").await?;
                tokio::time::sleep(StdDuration::from_millis(500)).await;
            }
            Ok(())
        }
        _ => {
            let document = document?;
            let head = format!("{ok}Content-Length: {}\r\n\r\n", document.len());
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(&document).await
        }
    }
}

/// Unix seconds now (for tests' expectations).
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
