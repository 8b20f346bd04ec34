//! Validation over hand-built signed answers: zones signed in the test with ring keys
//! (through hickory-proto's signing keys), one case per way a zone fails.

use std::net::Ipv4Addr;

use hickory_proto::dnssec::crypto::{EcdsaSigningKey, Ed25519SigningKey};
use hickory_proto::dnssec::rdata::sig::SigInput;
use hickory_proto::dnssec::rdata::{DNSKEY, DNSSECRData, DS, RRSIG};
use hickory_proto::dnssec::{Algorithm, DigestType, SigningKey, TBS};
use hickory_proto::rr::rdata::{A, SRV};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType, SerialNumber};

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::Query;

use super::*;

/// A fixed "now" (2026-05-01) and a day in seconds.
const NOW: u32 = 1_777_593_600;
const DAY: u32 = 86_400;

fn name(n: &str) -> Name {
    Name::from_ascii(n).unwrap()
}

/// A zone signed with one key of `alg` (a KSK/ZSK in one, flags 257).
struct Signer {
    zone: Name,
    key: Box<dyn SigningKey>,
    dnskey: DNSKEY,
    tag: u16,
}

impl Signer {
    fn new(zone: &str, alg: Algorithm) -> Signer {
        let key: Box<dyn SigningKey> = match alg {
            Algorithm::ED25519 => {
                let pkcs8 = Ed25519SigningKey::generate_pkcs8().unwrap();
                Box::new(Ed25519SigningKey::from_pkcs8(&pkcs8).unwrap())
            }
            _ => {
                let pkcs8 = EcdsaSigningKey::generate_pkcs8(alg).unwrap();
                Box::new(EcdsaSigningKey::from_pkcs8(&pkcs8, alg).unwrap())
            }
        };
        let dnskey = DNSKEY::with_flags(257, key.to_public_key().unwrap());
        let tag = dnskey.calculate_key_tag().unwrap();
        Signer {
            zone: name(zone),
            key,
            dnskey,
            tag,
        }
    }

    fn ds(&self) -> DS {
        DS::new(
            self.tag,
            self.dnskey.algorithm(),
            DigestType::SHA256,
            self.dnskey
                .to_digest(&self.zone, DigestType::SHA256)
                .unwrap()
                .as_ref()
                .to_vec(),
        )
    }

    /// An RRSIG over `records` (one owner, one type) valid from `inception` to `expiration`.
    fn sign(&self, records: &[Record], inception: u32, expiration: u32) -> RRSIG {
        let first = &records[0];
        let input = SigInput {
            type_covered: first.record_type(),
            algorithm: self.dnskey.algorithm(),
            num_labels: first.name.num_labels(),
            original_ttl: first.ttl,
            sig_expiration: SerialNumber::new(expiration),
            sig_inception: SerialNumber::new(inception),
            key_tag: self.tag,
            signer_name: self.zone.clone(),
        };
        let tbs = TBS::from_input(&first.name, DNSClass::IN, &input, records.iter()).unwrap();
        RRSIG::from_sig(input, self.key.sign(&tbs).unwrap())
    }

    fn dnskey_record(&self) -> Record {
        Record::from_rdata(
            self.zone.clone(),
            3600,
            RData::DNSSEC(DNSSECRData::DNSKEY(self.dnskey.clone())),
        )
    }

    /// The keys as fetched: the DS at the parent, the DNSKEY set signed over `window`.
    fn keys(&self, window: (u32, u32)) -> ZoneKeys {
        let records = vec![self.dnskey_record()];
        let sigs = vec![self.sign(&records, window.0, window.1)];
        ZoneKeys {
            ds: vec![self.ds()],
            dnskey: KeySet { records, sigs },
        }
    }
}

fn srv_records() -> Vec<Record> {
    vec![Record::from_rdata(
        name("_sipfederationtls._tcp.partner.test."),
        3600,
        RData::SRV(SRV::new(0, 0, 5061, name("sip.partner.test."))),
    )]
}

fn a_records() -> Vec<Record> {
    vec![Record::from_rdata(
        name("sip.partner.test."),
        300,
        RData::A(A(Ipv4Addr::new(192, 0, 2, 10))),
    )]
}

fn set(records: Vec<Record>, sigs: Vec<RRSIG>) -> SignedSet {
    SignedSet {
        owner: records[0].name.clone(),
        rtype: records[0].record_type(),
        records,
        sigs,
    }
}

/// The usual window: signed a week ago, valid for two more weeks.
const GOOD: (u32, u32) = (NOW - 7 * DAY, NOW + 14 * DAY);

#[test]
fn signed_answers_validate_or_say_why_not() {
    let z = Signer::new("partner.test.", Algorithm::ECDSAP256SHA256);
    let zone = z.zone.clone();
    let signed = |records: Vec<Record>, window: (u32, u32)| {
        let sig = z.sign(&records, window.0, window.1);
        set(records, vec![sig])
    };
    let good_sets = || {
        vec![
            signed(srv_records(), GOOD),
            signed(a_records(), (NOW - DAY, NOW + 10 * DAY)),
        ]
    };
    let other = Signer::new("partner.test.", Algorithm::ECDSAP256SHA256);
    let mut mismatch = z.keys(GOOD);
    mismatch.ds = vec![other.ds()];
    let mut unsupported_ds = z.keys(GOOD);
    unsupported_ds.ds = vec![DS::new(
        z.tag,
        Algorithm::Unknown(16),
        DigestType::SHA256,
        vec![0; 32],
    )];
    let mut tampered = srv_records();
    tampered[0].data = RData::SRV(SRV::new(0, 0, 5061, name("evil.test.")));
    let tampered_set = set(tampered, vec![z.sign(&srv_records(), GOOD.0, GOOD.1)]);
    let mut unknown_alg_sig = z.sign(&srv_records(), GOOD.0, GOOD.1);
    unknown_alg_sig = {
        let mut input = unknown_alg_sig.input().clone();
        input.algorithm = Algorithm::Unknown(16);
        RRSIG::from_sig(input, unknown_alg_sig.sig().to_vec())
    };
    type Case = (
        &'static str,
        ZoneKeys,
        Vec<SignedSet>,
        DnssecState,
        Option<BogusCause>,
    );
    let cases: Vec<Case> = vec![
        (
            "valid",
            z.keys(GOOD),
            good_sets(),
            DnssecState::Secure,
            None,
        ),
        (
            "no DS: insecure",
            ZoneKeys {
                ds: Vec::new(),
                ..z.keys(GOOD)
            },
            good_sets(),
            DnssecState::Insecure,
            None,
        ),
        (
            "SRV signature expired",
            z.keys(GOOD),
            vec![signed(srv_records(), (NOW - 30 * DAY, NOW - DAY))],
            DnssecState::Bogus,
            Some(BogusCause::SignatureExpired),
        ),
        (
            "DNSKEY signature expired",
            z.keys((NOW - 30 * DAY, NOW - 1)),
            good_sets(),
            DnssecState::Bogus,
            Some(BogusCause::SignatureExpired),
        ),
        (
            "not yet valid",
            z.keys(GOOD),
            vec![signed(a_records(), (NOW + DAY, NOW + 30 * DAY))],
            DnssecState::Bogus,
            Some(BogusCause::SignatureNotYetValid),
        ),
        (
            "DS matches no key (rollover gone wrong)",
            mismatch,
            good_sets(),
            DnssecState::Bogus,
            Some(BogusCause::NoKeyMatchesDs),
        ),
        (
            "missing RRSIG",
            z.keys(GOOD),
            vec![signed(srv_records(), GOOD), set(a_records(), Vec::new())],
            DnssecState::Bogus,
            Some(BogusCause::AnswerUnsigned),
        ),
        (
            "unsupported DS algorithm",
            unsupported_ds,
            good_sets(),
            DnssecState::Bogus,
            Some(BogusCause::UnsupportedAlgorithm),
        ),
        (
            "signature with an unsupported algorithm",
            z.keys(GOOD),
            vec![set(srv_records(), vec![unknown_alg_sig])],
            DnssecState::Bogus,
            Some(BogusCause::UnsupportedAlgorithm),
        ),
        (
            "records changed after signing",
            z.keys(GOOD),
            vec![tampered_set],
            DnssecState::Bogus,
            Some(BogusCause::BadSignature),
        ),
        (
            "signed by another key of the same name",
            z.keys(GOOD),
            vec![{
                let sig = other.sign(&srv_records(), GOOD.0, GOOD.1);
                set(srv_records(), vec![sig])
            }],
            DnssecState::Bogus,
            Some(BogusCause::BadSignature),
        ),
    ];
    for (case, keys, sets, state, cause) in cases {
        let got = validate(&zone, &keys, &sets, NOW);
        assert_eq!((got.state, got.cause), (state, cause), "{case}: {got:?}");
        assert_eq!(
            got.detail.is_empty(),
            cause.is_none(),
            "{case}: {}",
            got.detail
        );
    }
    // The earliest expiry of the signatures that validated: the A set's (10 days), with its
    // validity (11 days).
    let got = validate(&zone, &z.keys(GOOD), &good_sets(), NOW);
    assert_eq!(
        got.earliest,
        Some((i64::from(NOW + 10 * DAY), i64::from(11 * DAY)))
    );
    // The DNSKEY set's signature counts too.
    let got = validate(
        &zone,
        &z.keys((NOW - DAY, NOW + 2 * DAY)),
        &good_sets(),
        NOW,
    );
    assert_eq!(got.earliest.map(|e| e.0), Some(i64::from(NOW + 2 * DAY)));
    // Of two signatures over one set, the one that keeps it valid longest.
    let records = srv_records();
    let two = set(
        records.clone(),
        vec![
            z.sign(&records, NOW - DAY, NOW + DAY),
            z.sign(&records, NOW - DAY, NOW + 20 * DAY),
        ],
    );
    let got = validate(&zone, &z.keys(GOOD), &[two], NOW);
    assert_eq!(got.earliest.map(|e| e.0), Some(i64::from(GOOD.1)));
}

#[test]
fn algorithms_13_14_and_15_verify() {
    for alg in [
        Algorithm::ECDSAP256SHA256,
        Algorithm::ECDSAP384SHA384,
        Algorithm::ED25519,
    ] {
        let z = Signer::new("partner.test.", alg);
        let records = srv_records();
        let sig = z.sign(&records, GOOD.0, GOOD.1);
        let got = validate(&z.zone, &z.keys(GOOD), &[set(records, vec![sig])], NOW);
        assert_eq!(got.state, DnssecState::Secure, "{alg}: {got:?}");
    }
}

#[test]
fn only_the_first_keys_and_signatures_are_looked_at() {
    let z = Signer::new("partner.test.", Algorithm::ED25519);
    let records = srv_records();
    // MAX_SIGS bad signatures before the good one: not verified, the set is bogus.
    let other = Signer::new("partner.test.", Algorithm::ED25519);
    let mut sigs: Vec<RRSIG> = (0..MAX_SIGS)
        .map(|_| other.sign(&records, GOOD.0, GOOD.1))
        .collect();
    sigs.push(z.sign(&records, GOOD.0, GOOD.1));
    let got = validate(&z.zone, &z.keys(GOOD), &[set(records.clone(), sigs)], NOW);
    assert_eq!(got.cause, Some(BogusCause::BadSignature));
    let one = vec![z.sign(&records, GOOD.0, GOOD.1)];
    let got = validate(&z.zone, &z.keys(GOOD), &[set(records, one)], NOW);
    assert_eq!(got.state, DnssecState::Secure);
}

#[test]
fn a_set_read_from_an_answer_keeps_only_its_owners_signatures_over_its_type() {
    let z = Signer::new("partner.test.", Algorithm::ED25519);
    let records = srv_records();
    let owner = records[0].name.clone();
    let mut m = hickory_proto::op::Message::query();
    let rrsig = |r: &[Record], owner: &Name| {
        Record::from_rdata(
            owner.clone(),
            3600,
            RData::DNSSEC(DNSSECRData::RRSIG(z.sign(r, GOOD.0, GOOD.1))),
        )
    };
    m.add_answers(records.clone());
    m.add_answers(vec![rrsig(&records, &owner), rrsig(&a_records(), &owner)]);
    m.add_answers(vec![rrsig(&records, &name("other.partner.test."))]);
    let read = SignedSet::read(&m, &owner, RecordType::SRV);
    assert_eq!(read.records.len(), 1);
    assert_eq!(read.sigs.len(), 1);
    assert_eq!(read.signer(), Some(z.zone.clone()));
    // A signer that is not an ancestor of the owner is no zone of it.
    let stranger = Signer::new("evil.test.", Algorithm::ED25519);
    let mut m = hickory_proto::op::Message::query();
    m.add_answers(records.clone());
    m.add_answers(vec![Record::from_rdata(
        owner.clone(),
        3600,
        RData::DNSSEC(DNSSECRData::RRSIG(stranger.sign(&records, GOOD.0, GOOD.1))),
    )]);
    assert_eq!(SignedSet::read(&m, &owner, RecordType::SRV).signer(), None);
}

/// A loopback server answering from `records` by (owner, type), NOERROR (NODATA when it has
/// none); counts the queries of each type and whether they had CD.
async fn server(
    records: Vec<Record>,
) -> (std::net::SocketAddr, Arc<Mutex<Vec<(RecordType, bool)>>>) {
    use hickory_proto::op::{Message, OpCode};
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let asked = Arc::new(Mutex::new(Vec::new()));
    let log = asked.clone();
    tokio::spawn(async move {
        let mut buf = vec![0; 4096];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let Ok(q) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let query = q.queries[0].clone();
            log.lock()
                .unwrap()
                .push((query.query_type(), q.metadata.checking_disabled));
            let mut m = Message::response(q.metadata.id, OpCode::Query);
            m.add_query(query.clone());
            let covers = |r: &Record| match &r.data {
                RData::DNSSEC(DNSSECRData::RRSIG(s)) => s.input().type_covered,
                _ => r.record_type(),
            };
            m.add_answers(
                records
                    .iter()
                    .filter(|r| r.name == *query.name() && covers(r) == query.query_type())
                    .cloned(),
            );
            let _ = socket.send_to(&m.to_vec().unwrap(), from).await;
        }
    });
    (addr, asked)
}

fn rrsig_record(owner: &Name, sig: RRSIG) -> Record {
    Record::from_rdata(owner.clone(), 3600, RData::DNSSEC(DNSSECRData::RRSIG(sig)))
}

#[tokio::test]
async fn the_ds_and_dnskey_sets_are_fetched_once_per_zone_with_cd_and_kept() {
    let z = Signer::new("partner.test.", Algorithm::ED25519);
    let srv = srv_records();
    let now = u32::try_from(crate::facts::unix(std::time::SystemTime::now()) as u64).unwrap();
    let window = (now - DAY, now + 10 * DAY);
    let keys = z.keys(window);
    let mut zone = vec![
        Record::from_rdata(z.zone.clone(), 3600, RData::DNSSEC(DNSSECRData::DS(z.ds()))),
        z.dnskey_record(),
        rrsig_record(&z.zone, keys.dnskey.sigs[0].clone()),
    ];
    zone.extend(srv.clone());
    zone.push(rrsig_record(&srv[0].name, z.sign(&srv, window.0, window.1)));
    let (addr, asked) = server(zone).await;
    let options = super::super::transport::Options {
        timeout: Duration::from_millis(500),
        attempts: 2,
        rotate: false,
    };
    let client = Client::new(vec![addr], options, true);
    let cache = ZoneCache::default();
    let srv_name = srv[0].name.clone();
    for round in 0..3 {
        let reply =
            super::super::ask(&client, &Query::query(srv_name.clone(), RecordType::SRV)).await;
        let (set, bogus) = from_reply(&reply, &srv_name, RecordType::SRV).unwrap();
        assert!(!bogus);
        let facts = gather(&client, &cache, vec![(set, false, true)], now).await;
        let zone = facts.srv_zone().unwrap();
        assert_eq!(zone.state, DnssecState::Secure, "round {round}: {zone:?}");
        assert_eq!(zone.ds_tags, vec![z.tag]);
        assert_eq!(zone.key_tags, vec![z.tag]);
        assert_eq!(zone.earliest_expiry, Some(i64::from(window.1)));
    }
    // Three SRV queries, one DS and one DNSKEY query, both with CD.
    let asked = asked.lock().unwrap().clone();
    let count = |t| asked.iter().filter(|(q, _)| *q == t).count();
    assert_eq!(
        (
            count(RecordType::SRV),
            count(RecordType::DS),
            count(RecordType::DNSKEY)
        ),
        (3, 1, 1),
        "{asked:?}"
    );
    assert!(asked.iter().all(|(t, cd)| *cd == (*t != RecordType::SRV)));
    assert_eq!(cache.len(), 2);
}
