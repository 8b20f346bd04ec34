//! What a response means: its records of the asked type, the alias it shows, or the
//! failure its code means.

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};

use super::host;
use crate::facts::DnsFailure;

/// The failure a response code other than NOERROR means.
fn rcode_failure(code: ResponseCode) -> DnsFailure {
    match code {
        ResponseCode::NXDomain => DnsFailure::Nxdomain,
        ResponseCode::ServFail => DnsFailure::Servfail,
        ResponseCode::Refused => DnsFailure::Refused,
        _ => DnsFailure::Error,
    }
}

/// Records kept of one answer at most: a hostile zone can fill a 64 KiB response with
/// thousands of MX or TXT records; the facts say how many there were ("first 32 of 2,000").
pub const MAX_RECORDS: usize = 32;

/// CNAME links followed inside one answer at most (a loop or a long chain ends there).
const MAX_CHAIN: usize = 8;

/// What a response says: the records of `rtype` owned by `fqdn` or by the CNAME chain from
/// `fqdn` inside the answer (NODATA without any; a CNAME chain is not data; records of any
/// other owner are ignored, whatever a server slipped in) and the target of the CNAME owned
/// by `fqdn` (beside NXDOMAIN too: an alias of a name that does not exist, RFC 6604), or the
/// failure its code means. At most [`MAX_RECORDS`] records are kept, the
/// first ones; the third value is how many there were when there were more.
pub(super) fn records<T>(
    m: &Message,
    fqdn: &Name,
    rtype: RecordType,
    pick: impl Fn(&RData) -> Option<T>,
) -> (Result<Vec<T>, DnsFailure>, Option<String>, Option<usize>) {
    let code = m.metadata.response_code;
    if code != ResponseCode::NoError && code != ResponseCode::NXDomain {
        return (Err(rcode_failure(code)), None, None);
    }
    let owners = chain(m, fqdn, rtype);
    let alias = owners.get(1).map(|n| host(n));
    // NXDOMAIN with a CNAME chain: the alias exists, the name it leads to does not (RFC 6604).
    if code == ResponseCode::NXDomain {
        return (Err(DnsFailure::Nxdomain), alias, None);
    }
    let mut out: Vec<T> = Vec::new();
    let mut total = 0;
    let picked = m
        .answers
        .iter()
        .filter(|r| r.record_type() == rtype && owners.contains(&&r.name))
        .filter_map(|r| pick(&r.data));
    for record in picked {
        total += 1;
        if out.len() < MAX_RECORDS {
            out.push(record);
        }
    }
    let answer = if out.is_empty() {
        Err(DnsFailure::Nodata)
    } else {
        Ok(out)
    };
    (answer, alias, (total > MAX_RECORDS).then_some(total))
}

/// `fqdn` and the names its CNAME chain inside `m`'s answers leads to, in order (only `fqdn`
/// when CNAMEs are what was asked for: then they are the data).
fn chain<'a>(m: &'a Message, fqdn: &'a Name, rtype: RecordType) -> Vec<&'a Name> {
    let mut owners = vec![fqdn];
    if rtype == RecordType::CNAME {
        return owners;
    }
    while owners.len() <= MAX_CHAIN {
        let last = owners[owners.len() - 1];
        let next = m.answers.iter().find_map(|r| match &r.data {
            RData::CNAME(c) if r.name == *last => Some(&c.0),
            _ => None,
        });
        match next {
            Some(target) if !owners.contains(&target) => owners.push(target),
            _ => break,
        }
    }
    owners
}

/// The more telling of two failures (a NXDOMAIN beats a NODATA from the other family).
pub(super) fn worse(a: DnsFailure, b: DnsFailure) -> DnsFailure {
    if a == DnsFailure::Nodata { b } else { a }
}

#[cfg(test)]
pub(super) mod tests {
    use std::net::Ipv4Addr;

    use hickory_proto::op::{OpCode, Query};
    use hickory_proto::rr::Record;
    use hickory_proto::rr::rdata::{A, CNAME};

    use super::*;
    use crate::gather::dns::absolute;

    pub(in crate::gather::dns) fn name(n: &str) -> Name {
        Name::from_ascii(absolute(n)).unwrap()
    }

    /// The response to `query` with `code` and these answers.
    pub(in crate::gather::dns) fn response(
        query: &Message,
        code: ResponseCode,
        answers: Vec<Record>,
    ) -> Message {
        let mut m = Message::response(query.metadata.id, OpCode::Query);
        m.metadata.response_code = code;
        m.add_queries(query.queries.clone());
        m.add_answers(answers);
        m
    }

    pub(in crate::gather::dns) fn a(owner: &str, ip: Ipv4Addr) -> Record {
        Record::from_rdata(name(owner), 300, RData::A(A(ip)))
    }

    pub(in crate::gather::dns) fn cname(owner: &str, target: &str) -> Record {
        Record::from_rdata(name(owner), 300, RData::CNAME(CNAME(name(target))))
    }

    pub(in crate::gather::dns) fn pick_a(d: &RData) -> Option<Ipv4Addr> {
        match d {
            RData::A(a) => Some(a.0),
            _ => None,
        }
    }

    #[test]
    fn responses_map_to_records_failures_and_aliases() {
        let mut q = Message::query();
        q.add_query(Query::query(name("alias.test"), RecordType::A));
        let read = |code, answers| {
            let (records, alias, total) = records(
                &response(&q, code, answers),
                &name("alias.test"),
                RecordType::A,
                pick_a,
            );
            assert_eq!(total, None, "a short list is whole");
            (records, alias)
        };
        let ip = Ipv4Addr::new(192, 0, 2, 9);
        assert_eq!(
            read(
                ResponseCode::NoError,
                vec![cname("Alias.test", "real.test"), a("real.test", ip)]
            ),
            (Ok(vec![ip]), Some("real.test".to_string()))
        );
        // A CNAME chain without data is NODATA, still showing the alias.
        assert_eq!(
            read(
                ResponseCode::NoError,
                vec![cname("alias.test", "real.test")]
            ),
            (Err(DnsFailure::Nodata), Some("real.test".to_string()))
        );
        // Records of other owners are not this name's, even of the asked type; a chain's are.
        let other = Ipv4Addr::new(203, 0, 113, 1);
        assert_eq!(
            read(
                ResponseCode::NoError,
                vec![
                    a("evil.test", other),
                    cname("alias.test", "mid.test"),
                    cname("evil.test", "alias.test"),
                    a("real.test", other),
                    cname("mid.test", "real2.test"),
                    a("real2.test", ip),
                ]
            ),
            (Ok(vec![ip]), Some("mid.test".to_string()))
        );
        // A CNAME loop ends; nothing at its names is data.
        assert_eq!(
            read(
                ResponseCode::NoError,
                vec![
                    cname("alias.test", "loop.test"),
                    cname("loop.test", "alias.test")
                ]
            ),
            (Err(DnsFailure::Nodata), Some("loop.test".to_string()))
        );
        // A CNAME owned by another name is not this name's alias.
        assert_eq!(
            read(
                ResponseCode::NoError,
                vec![cname("other.test", "real.test"), a("alias.test", ip)]
            ),
            (Ok(vec![ip]), None)
        );
        // An alias of a name that does not exist: NXDOMAIN with the chain (RFC 6604) shows the
        // alias; a failure does not.
        let dangling = || vec![cname("alias.test", "gone.test")];
        assert_eq!(
            read(ResponseCode::NXDomain, dangling()),
            (Err(DnsFailure::Nxdomain), Some("gone.test".to_string()))
        );
        assert_eq!(
            read(ResponseCode::ServFail, dangling()),
            (Err(DnsFailure::Servfail), None)
        );
        for (code, want) in [
            (ResponseCode::NXDomain, DnsFailure::Nxdomain),
            (ResponseCode::ServFail, DnsFailure::Servfail),
            (ResponseCode::Refused, DnsFailure::Refused),
            (ResponseCode::FormErr, DnsFailure::Error),
            (ResponseCode::NotImp, DnsFailure::Error),
        ] {
            assert_eq!(
                read(code, vec![a("alias.test", ip)]),
                (Err(want), None),
                "{code:?}"
            );
        }
    }

    #[test]
    fn an_answer_keeps_its_first_records_and_says_how_many_there_were() {
        let mut q = Message::query();
        q.add_query(Query::query(name("many.test"), RecordType::A));
        let answers = (0..=255u8)
            .map(|i| a("many.test", Ipv4Addr::new(192, 0, 2, i)))
            .chain([a("other.test", Ipv4Addr::new(203, 0, 113, 1))])
            .collect();
        let m = response(&q, ResponseCode::NoError, answers);
        let (kept, _, total) = records(&m, &name("many.test"), RecordType::A, pick_a);
        let want: Vec<Ipv4Addr> = (0..MAX_RECORDS as u8)
            .map(|i| Ipv4Addr::new(192, 0, 2, i))
            .collect();
        assert_eq!(kept, Ok(want));
        // Only the name's own records count: 256, not the other owner's.
        assert_eq!(total, Some(256));
        // Exactly MAX_RECORDS is a whole list.
        let answers = (0..MAX_RECORDS as u8)
            .map(|i| a("many.test", Ipv4Addr::new(192, 0, 2, i)))
            .collect();
        let m = response(&q, ResponseCode::NoError, answers);
        let (kept, _, total) = records(&m, &name("many.test"), RecordType::A, pick_a);
        assert_eq!(kept.map(|r| r.len()), Ok(MAX_RECORDS));
        assert_eq!(total, None);
    }
}
