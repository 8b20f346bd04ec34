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

/// What a response says: the records of `rtype` (NODATA without any; a CNAME chain is not
/// data) and the target of the CNAME owned by `fqdn`, or the failure its code means.
pub(super) fn records<T>(
    m: &Message,
    fqdn: &Name,
    rtype: RecordType,
    pick: impl Fn(&RData) -> Option<T>,
) -> (Result<Vec<T>, DnsFailure>, Option<String>) {
    if m.metadata.response_code != ResponseCode::NoError {
        return (Err(rcode_failure(m.metadata.response_code)), None);
    }
    let alias = m.answers.iter().find_map(|r| match &r.data {
        RData::CNAME(c) if r.name == *fqdn => Some(host(&c.0)),
        _ => None,
    });
    let out: Vec<T> = m
        .answers
        .iter()
        .filter(|r| r.record_type() == rtype)
        .filter_map(|r| pick(&r.data))
        .collect();
    let answer = if out.is_empty() {
        Err(DnsFailure::Nodata)
    } else {
        Ok(out)
    };
    (answer, alias)
}

/// The more telling of two failures (a NXDOMAIN beats a NODATA from the other family).
pub(super) fn worse(a: DnsFailure, b: DnsFailure) -> DnsFailure {
    if a == DnsFailure::Nodata { b } else { a }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use hickory_proto::op::{OpCode, Query};
    use hickory_proto::rr::Record;
    use hickory_proto::rr::rdata::{A, CNAME};

    use super::*;
    use crate::gather::dns::absolute;

    fn name(n: &str) -> Name {
        Name::from_ascii(absolute(n)).unwrap()
    }

    /// The response to `query` with `code` and these answers.
    fn response(query: &Message, code: ResponseCode, answers: Vec<Record>) -> Message {
        let mut m = Message::response(query.metadata.id, OpCode::Query);
        m.metadata.response_code = code;
        m.add_queries(query.queries.clone());
        m.add_answers(answers);
        m
    }

    fn a(owner: &str, ip: Ipv4Addr) -> Record {
        Record::from_rdata(name(owner), 300, RData::A(A(ip)))
    }

    fn cname(owner: &str, target: &str) -> Record {
        Record::from_rdata(name(owner), 300, RData::CNAME(CNAME(name(target))))
    }

    fn pick_a(d: &RData) -> Option<Ipv4Addr> {
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
            records(
                &response(&q, code, answers),
                &name("alias.test"),
                RecordType::A,
                pick_a,
            )
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
        // A CNAME owned by another name is not this name's alias.
        assert_eq!(
            read(
                ResponseCode::NoError,
                vec![cname("other.test", "real.test"), a("alias.test", ip)]
            ),
            (Ok(vec![ip]), None)
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
}
