//! The lab's DNS: a hickory-server answering from zones built in code, with faults per name
//! (SERVFAIL, REFUSED, silence) to play broken resolvers and stale secondaries, and signed
//! zones (DNSSEC: a key per zone made in code, the DS published as the parent would, every
//! answer's sets signed as they go out, with the validity window the test chose).

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hickory_proto::op::{Edns, Header, HeaderCounts, MessageType, Metadata, ResponseCode};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_server::Server;
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use tokio::net::{TcpListener, UdpSocket};

/// A failure a name can be configured to produce. A CNAME chain that leads into a name with
/// a fault (other than `Truncate`) is answered SERVFAIL, as a recursive resolver would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Servfail,
    Refused,
    /// No answer at all (the client times out).
    Silence,
    /// Over UDP an empty answer with the TC bit set; over TCP the full answer (the client
    /// must fall back to TCP).
    Truncate,
    /// A validating resolver's view of a zone whose DNSSEC fails: SERVFAIL with this
    /// Extended DNS Error (RFC 8914: 7 signature expired, 9 DNSKEY missing, ...), the
    /// records when asked with checking disabled (CD).
    Bogus(u16),
    /// A resolver that reached none of the zone's servers: SERVFAIL with EDE 22 (No
    /// Reachable Authority), with or without CD.
    NoAuthority,
    /// NXDOMAIN, whatever the name.
    Nxdomain,
}

/// Records by (lower-case name without trailing dot, type).
#[derive(Default)]
pub struct Zone {
    records: RwLock<HashMap<(String, RecordType), Vec<RData>>>,
    /// Every owner name and every name above it (empty non-terminals exist: NODATA).
    names: RwLock<HashSet<String>>,
    faults: RwLock<HashMap<String, Fault>>,
    /// A resolver that lost its upstream: what the zone holds it answers as from its cache,
    /// any other name SERVFAIL with EDE 22 (No Reachable Authority).
    pub lost_upstream: std::sync::atomic::AtomicBool,
    /// A captive or broken resolver: NXDOMAIN for every name, the root included.
    pub nxdomain_everything: std::sync::atomic::AtomicBool,
    /// Queries answered (or refused) so far: what a probe costs the DNS.
    pub queries: std::sync::atomic::AtomicU64,
    /// Signed zones by apex.
    signed: RwLock<HashMap<String, Arc<ZoneKey>>>,
}

/// A signed zone's key (Ed25519, flags 257: KSK and ZSK in one) and the validity window of
/// the signatures it makes (Unix seconds).
struct ZoneKey {
    apex: Name,
    key: hickory_proto::dnssec::crypto::Ed25519SigningKey,
    dnskey: hickory_proto::dnssec::rdata::DNSKEY,
    tag: u16,
    window: (u32, u32),
}

impl ZoneKey {
    fn new(apex: &str, window: (u32, u32)) -> ZoneKey {
        use hickory_proto::dnssec::SigningKey;
        use hickory_proto::dnssec::crypto::Ed25519SigningKey;
        // A key made in code for a test zone: failing here is a bug in the lab.
        let pkcs8 = Ed25519SigningKey::generate_pkcs8().expect("lab DNSSEC key");
        let key = Ed25519SigningKey::from_pkcs8(&pkcs8).expect("lab DNSSEC key");
        let dnskey = hickory_proto::dnssec::rdata::DNSKEY::with_flags(
            257,
            key.to_public_key().expect("lab DNSSEC key"),
        );
        let tag = dnskey.calculate_key_tag().expect("lab DNSSEC key tag");
        ZoneKey {
            apex: name(apex),
            key,
            dnskey,
            tag,
            window,
        }
    }

    /// The DS record of this key, as the parent publishes it.
    fn ds(&self) -> RData {
        use hickory_proto::dnssec::DigestType;
        use hickory_proto::dnssec::rdata::{DNSSECRData, DS};
        let digest = self
            .dnskey
            .to_digest(&self.apex, DigestType::SHA256)
            .expect("lab DS digest");
        RData::DNSSEC(DNSSECRData::DS(DS::new(
            self.tag,
            hickory_proto::dnssec::Algorithm::ED25519,
            DigestType::SHA256,
            digest.as_ref().to_vec(),
        )))
    }

    /// The RRSIG record over `set` (one owner and type).
    fn sign(&self, set: &[&Record]) -> Option<Record> {
        use hickory_proto::dnssec::rdata::sig::SigInput;
        use hickory_proto::dnssec::rdata::{DNSSECRData, RRSIG};
        use hickory_proto::dnssec::{SigningKey, TBS};
        let first = set.first()?;
        let input = SigInput {
            type_covered: first.record_type(),
            algorithm: hickory_proto::dnssec::Algorithm::ED25519,
            num_labels: first.name.num_labels(),
            original_ttl: first.ttl,
            sig_expiration: self.window.1.into(),
            sig_inception: self.window.0.into(),
            key_tag: self.tag,
            signer_name: self.apex.clone(),
        };
        let tbs = TBS::from_input(
            &first.name,
            hickory_proto::rr::DNSClass::IN,
            &input,
            set.iter().copied(),
        )
        .ok()?;
        let sig = self.key.sign(&tbs).ok()?;
        Some(Record::from_rdata(
            first.name.clone(),
            first.ttl,
            RData::DNSSEC(DNSSECRData::RRSIG(RRSIG::from_sig(input, sig))),
        ))
    }
}

fn key_of(name: &str) -> String {
    key(name)
}

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn name(n: &str) -> Name {
    // Lab names are written in code; a bad one is a bug in the test.
    Name::from_ascii(format!("{}.", key(n))).expect("valid lab DNS name")
}

impl Zone {
    fn add(&self, owner: &str, data: RData) {
        let owner = key(owner);
        let mut names = self.names.write().unwrap_or_else(|p| p.into_inner());
        let mut n = owner.as_str();
        loop {
            names.insert(n.to_string());
            match n.split_once('.') {
                Some((_, parent)) => n = parent,
                None => break,
            }
        }
        drop(names);
        let mut r = self.records.write().unwrap_or_else(|p| p.into_inner());
        r.entry((owner, data.record_type())).or_default().push(data);
    }

    /// `_sipfederationtls._tcp.<domain>` SRV.
    pub fn federation_srv(
        &self,
        domain: &str,
        priority: u16,
        weight: u16,
        port: u16,
        target: &str,
    ) {
        self.srv(
            &format!("_sipfederationtls._tcp.{domain}"),
            priority,
            weight,
            port,
            target,
        );
    }

    pub fn srv(&self, owner: &str, priority: u16, weight: u16, port: u16, target: &str) {
        self.add(
            owner,
            RData::SRV(SRV::new(priority, weight, port, name(target))),
        );
    }

    /// An A or AAAA record.
    pub fn addr(&self, owner: &str, ip: IpAddr) {
        match ip {
            IpAddr::V4(v4) => self.add(owner, RData::A(A(v4))),
            IpAddr::V6(v6) => self.add(owner, RData::AAAA(AAAA(v6))),
        }
    }

    pub fn cname(&self, owner: &str, target: &str) {
        self.add(owner, RData::CNAME(CNAME(name(target))));
    }

    pub fn ns(&self, owner: &str, host: &str) {
        self.add(owner, RData::NS(hickory_proto::rr::rdata::NS(name(host))));
    }

    pub fn mx(&self, owner: &str, preference: u16, exchange: &str) {
        self.add(owner, RData::MX(MX::new(preference, name(exchange))));
    }

    pub fn txt(&self, owner: &str, text: &str) {
        self.add(owner, RData::TXT(TXT::new(vec![text.to_string()])));
    }

    /// Signs the zone at `apex` with a new key whose signatures are valid from `inception` to
    /// `expiration` (Unix seconds), and publishes its DNSKEY at the apex and its DS as the
    /// parent would (the lab answers both). Re-signing replaces key and DS.
    pub fn sign(&self, apex: &str, inception: i64, expiration: i64) {
        let clamp = |t: i64| u32::try_from(t.max(0)).unwrap_or(u32::MAX);
        let key = ZoneKey::new(apex, (clamp(inception), clamp(expiration)));
        self.remove_type(apex, RecordType::DNSKEY);
        self.remove_type(apex, RecordType::DS);
        self.add(
            apex,
            RData::DNSSEC(hickory_proto::dnssec::rdata::DNSSECRData::DNSKEY(
                key.dnskey.clone(),
            )),
        );
        self.add(apex, key.ds());
        self.signed
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key_of(apex), Arc::new(key));
    }

    /// Replaces the DS of the signed zone at `apex` by the DS of a key the zone does not have
    /// (a rollover gone wrong, a move of DNS providers).
    pub fn mismatch_ds(&self, apex: &str) {
        let stranger = ZoneKey::new(apex, (0, 0));
        self.remove_type(apex, RecordType::DS);
        self.add(apex, stranger.ds());
    }

    fn remove_type(&self, owner: &str, rtype: RecordType) {
        self.records
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(key(owner), rtype));
    }

    /// `records` with an RRSIG over each of their sets owned in a signed zone (DS sets are the
    /// parent's and stay unsigned here).
    fn with_signatures(&self, mut records: Vec<Record>) -> Vec<Record> {
        let signed = self.signed.read().unwrap_or_else(|p| p.into_inner());
        if signed.is_empty() {
            return records;
        }
        let mut sets: Vec<(Name, RecordType)> = Vec::new();
        for r in &records {
            let set = (r.name.clone(), r.record_type());
            if set.1 != RecordType::DS && !sets.contains(&set) {
                sets.push(set);
            }
        }
        let mut sigs = Vec::new();
        for (owner, rtype) in sets {
            let zone = signed
                .values()
                .filter(|z| z.apex.zone_of(&owner))
                .max_by_key(|z| z.apex.num_labels());
            if let Some(zone) = zone {
                let set: Vec<&Record> = records
                    .iter()
                    .filter(|r| r.name == owner && r.record_type() == rtype)
                    .collect();
                sigs.extend(zone.sign(&set));
            }
        }
        records.extend(sigs);
        records
    }

    /// Makes every query for `owner` fail this way.
    pub fn fault(&self, owner: &str, fault: Fault) {
        self.faults
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key(owner), fault);
    }

    /// Removes every record of `owner`.
    pub fn remove(&self, owner: &str) {
        let k = key(owner);
        self.records
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(n, _), _| *n != k);
    }

    /// The answer section for a query, following in-zone CNAMEs, and the response code.
    fn answer(&self, qname: &str, qtype: RecordType) -> Result<Vec<Record>, ResponseCode> {
        let records = self.records.read().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::new();
        let mut current = key(qname);
        let mut seen = HashSet::new();
        loop {
            if !seen.insert(current.clone()) {
                break;
            }
            if let Some(data) = records.get(&(current.clone(), qtype)) {
                out.extend(
                    data.iter()
                        .map(|d| Record::from_rdata(name(&current), 300, d.clone())),
                );
                return Ok(out);
            }
            match records
                .get(&(current.clone(), RecordType::CNAME))
                .and_then(|c| c.first())
            {
                Some(RData::CNAME(c)) if qtype != RecordType::CNAME => {
                    out.push(Record::from_rdata(
                        name(&current),
                        300,
                        RData::CNAME(c.clone()),
                    ));
                    current = key(&c.0.to_ascii());
                    // A chain into a name whose servers fail: a recursive resolver cannot
                    // finish it and says SERVFAIL (a truncating server still answers).
                    let faults = self.faults.read().unwrap_or_else(|p| p.into_inner());
                    if faults.get(&current).is_some_and(|f| *f != Fault::Truncate) {
                        return Err(ResponseCode::ServFail);
                    }
                }
                _ => break,
            }
        }
        if !out.is_empty() {
            return Ok(out);
        }
        // NODATA when the name (or something below it) exists, NXDOMAIN otherwise.
        // The root always exists: a resolver's health query (`. NS`) gets NODATA.
        let exists = current.is_empty()
            || self
                .names
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .contains(&current);
        if exists {
            Ok(out)
        } else {
            Err(ResponseCode::NXDomain)
        }
    }
}

/// The hickory-server request handler over a zone.
struct Handler {
    zone: Arc<Zone>,
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response: R,
    ) -> ResponseInfo {
        let failed = || {
            let mut metadata = Metadata::new(
                request.metadata.id,
                MessageType::Response,
                request.metadata.op_code,
            );
            metadata.response_code = ResponseCode::ServFail;
            ResponseInfo::from(Header {
                metadata,
                counts: HeaderCounts::default(),
            })
        };
        self.zone
            .queries
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let Ok(info) = request.request_info() else {
            return failed();
        };
        let qname = info.query.name().to_string();
        let qtype = info.query.query_type();
        let fault = self
            .zone
            .faults
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key(&qname))
            .copied();
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.authoritative = true;
        metadata.recursion_available = true;
        use std::sync::atomic::Ordering::Relaxed;
        let fault = match fault {
            None if self.zone.nxdomain_everything.load(Relaxed) => Some(Fault::Nxdomain),
            None if self.zone.lost_upstream.load(Relaxed)
                && self.zone.answer(&qname, qtype) == Err(ResponseCode::NXDomain) =>
            {
                Some(Fault::NoAuthority)
            }
            f => f,
        };
        let ede = match fault {
            Some(Fault::Bogus(code)) if !request.metadata.checking_disabled => Some(code),
            Some(Fault::NoAuthority) => Some(22),
            _ => None,
        };
        let ede = ede.map(|code| {
            let mut edns = Edns::new();
            edns.set_max_payload(1232);
            let mut data = code.to_be_bytes().to_vec();
            data.extend_from_slice(b"lab resolver");
            edns.options_mut().insert(EdnsOption::Unknown(15, data));
            edns
        });
        let mut builder = MessageResponseBuilder::from_message_request(request);
        if let Some(edns) = &ede {
            builder.edns(edns);
        }
        let answers = match fault {
            Some(Fault::Silence) => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                return failed();
            }
            Some(Fault::Truncate) if request.protocol() == Protocol::Udp => {
                metadata.truncation = true;
                Ok(Vec::new())
            }
            Some(Fault::Truncate) => self.zone.answer(&qname, qtype),
            Some(Fault::Servfail) => Err(ResponseCode::ServFail),
            Some(Fault::Refused) => Err(ResponseCode::Refused),
            Some(Fault::Bogus(_)) if request.metadata.checking_disabled => {
                self.zone.answer(&qname, qtype)
            }
            Some(Fault::Bogus(_) | Fault::NoAuthority) => Err(ResponseCode::ServFail),
            Some(Fault::Nxdomain) => Err(ResponseCode::NXDomain),
            None => self.zone.answer(&qname, qtype),
        };
        let result = match answers {
            Ok(records) => {
                let records = self.zone.with_signatures(records);
                metadata.response_code = ResponseCode::NoError;
                let msg = builder.build(metadata, records.iter(), [], [], []);
                response.send_response(msg).await
            }
            Err(code) => {
                metadata.response_code = code;
                let msg = builder.build_no_records(metadata);
                response.send_response(msg).await
            }
        };
        result.unwrap_or_else(|_| failed())
    }
}

/// Starts an authoritative/recursive-looking DNS server for `zone` on 127.0.0.1 (UDP and TCP
/// on the same random port) and returns its address and the server (dropping it stops it).
pub async fn serve(zone: Arc<Zone>) -> std::io::Result<(SocketAddr, Server<impl RequestHandler>)> {
    serve_on(zone, "127.0.0.1:0".parse().expect("static address")).await
}

/// Like `serve`, on a given address (port 0: any free port).
pub async fn serve_on(
    zone: Arc<Zone>,
    at: SocketAddr,
) -> std::io::Result<(SocketAddr, Server<impl RequestHandler>)> {
    loop {
        let udp = UdpSocket::bind(at).await?;
        let addr = udp.local_addr()?;
        let tcp = match TcpListener::bind(addr).await {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && at.port() == 0 => continue,
            Err(e) => return Err(e),
        };
        let mut server = Server::new(Handler { zone: zone.clone() });
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5), 65535);
        return Ok((addr, server));
    }
}
