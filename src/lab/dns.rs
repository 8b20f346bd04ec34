//! The lab's DNS: a hickory-server answering from zones built in code, with faults per name
//! (SERVFAIL, REFUSED, silence) to play broken resolvers and stale secondaries.

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
