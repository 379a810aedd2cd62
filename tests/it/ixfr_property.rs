//! The IXFR property: for random sequences of cluster changes, applying our IXFR answers
//! (as encoded messages, decoded again) to an earlier AXFR gives the later AXFR — for
//! every zone we serve, from every serial, condensed or step by step, with a journal big
//! enough to answer and one so small it must fall back to the whole zone.

use std::sync::Arc;

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::{RData, Record, RecordType};
use serde_json::json;
use support::changes::{Rng, random_update};

use crate::support;

use headless_dns::cluster::{Kind as ObjectKind, Object};
use headless_dns::index::{Index, Update};
use headless_dns::xfer::ixfr::{self, Kind};
use headless_dns::zone::zonefile::ZoneFile;
use headless_dns::zone::{ZoneSettings, Zones};

fn request(zones: &Zones, which: ZoneFile, serial: u32) -> Message {
    let apex = zones.zone(which).expect("served").zone_apex(which).clone();
    let mut message = Message::new(7, MessageType::Query, OpCode::Query);
    message.queries.push(Query::query(apex.clone(), RecordType::IXFR));
    let soa = SOA::new(apex.clone(), apex.clone(), serial, 0, 0, 0, 0);
    message.authorities.push(Record::from_rdata(apex, 0, RData::SOA(soa)));
    message
}

/// A zone's content as a secondary keeps it: records as text, sorted, and the SOA serial.
type Copy = (Vec<String>, u32);

fn text(r: &Record) -> String {
    format!("{} {} {} {}", r.name.to_lowercase(), r.ttl, r.record_type(), r.data)
}

fn axfr(zones: &Zones, which: ZoneFile) -> Copy {
    let mut records: Vec<String> =
        zones.zone_records(which).iter().filter(|r| r.record_type() != RecordType::SOA).map(text).collect();
    records.sort();
    (records, zones.zone(which).expect("served").serial())
}

fn serial(r: &Record) -> Option<u32> {
    match &r.data {
        RData::SOA(soa) => Some(soa.serial),
        _ => None,
    }
}

/// Applies an IXFR answer (RFC 1995 §4) to `copy`, as a secondary would.
fn apply(copy: &Copy, answer: &[Record]) -> Copy {
    let new = serial(&answer[0]).expect("the answer starts with the SOA");
    if answer.len() == 1 {
        assert_eq!(new, copy.1, "a lone SOA means the copy is current");
        return copy.clone();
    }
    if serial(&answer[1]).is_none() {
        // The whole zone.
        assert_eq!(serial(answer.last().unwrap()), Some(new));
        let mut records: Vec<String> =
            answer[1..answer.len() - 1].iter().filter(|r| serial(r).is_none()).map(text).collect();
        records.sort();
        return (records, new);
    }
    let mut records = copy.0.clone();
    let mut version = copy.1;
    let mut i = 1;
    loop {
        let from = serial(&answer[i]).expect("a deletion section starts with an SOA");
        if from == new && i == answer.len() - 1 {
            break;
        }
        assert_eq!(from, version, "the differences start at the copy's serial");
        i += 1;
        while let Some(r) = answer.get(i).filter(|r| serial(r).is_none()) {
            let at =
                records.iter().position(|x| *x == text(r)).unwrap_or_else(|| panic!("deleting {r} absent"));
            records.remove(at);
            i += 1;
        }
        version = serial(&answer[i]).expect("an addition section starts with an SOA");
        i += 1;
        while let Some(r) = answer.get(i).filter(|r| serial(r).is_none()) {
            assert!(!records.contains(&text(r)), "adding {r} twice");
            records.push(text(r));
            i += 1;
        }
    }
    assert_eq!(version, new);
    records.sort();
    (records, new)
}

fn ixfr_records(zone: &Arc<Zones>, which: ZoneFile, from: u32) -> (Vec<Record>, Kind) {
    let (messages, kind) = ixfr::answer(zone.clone(), request(zone, which, from));
    let records = messages.flat_map(|bytes| Message::from_vec(&bytes).expect("decodes").answers).collect();
    (records, kind)
}

fn run(seed: u64, steps: usize, journal: usize) -> (usize, usize) {
    let mut rng = Rng(seed | 1);
    let mut settings = ZoneSettings::new("cluster.local").unwrap();
    settings.ixfr_journal = journal;
    let mut index = Index::new(settings);
    for _ in 0..20 {
        index.apply(random_update(&mut rng));
    }
    index.apply(Update::Synced(true));
    index.commit();
    let mut zones: Vec<Arc<Zones>> = vec![Arc::new(index.zones().clone())];
    for _ in 0..steps {
        for _ in 0..1 + rng.below(3) {
            index.apply(random_update(&mut rng));
        }
        if let Some(zone) = index.commit()
            && zone.serial() != zones.last().unwrap().serial()
        {
            zones.push(Arc::new(zone));
        }
    }
    let last = zones.last().unwrap().clone();
    let (mut incremental, mut full) = (0, 0);
    for which in [ZoneFile::Forward, ZoneFile::InAddrArpa, ZoneFile::Ip6Arpa] {
        let want = axfr(&last, which);
        for (i, zone) in zones.iter().enumerate() {
            // Condensed, from this serial straight to the last one.
            let (answer, kind) = ixfr_records(&last, which, zone.serial());
            match kind {
                Kind::Incremental => incremental += 1,
                Kind::Full => full += 1,
                Kind::Current => assert_eq!(i, zones.len() - 1),
            }
            assert_eq!(
                apply(&axfr(zone, which), &answer),
                want,
                "seed {seed}, {which:?}, from step {i} ({kind:?})"
            );
            // Step by step, each answer read from the zone of its time.
            if let Some(next) = zones.get(i + 1) {
                let (answer, _) = ixfr_records(next, which, zone.serial());
                assert_eq!(
                    apply(&axfr(zone, which), &answer),
                    axfr(next, which),
                    "seed {seed}, {which:?}, step {i}"
                );
            }
        }
    }
    (incremental, full)
}

#[test]
fn applying_ixfr_answers_to_an_old_axfr_gives_the_new_axfr() {
    let (mut incremental, mut full) = (0, 0);
    for seed in 1..=12 {
        let (i, f) = run(seed * 0x9e37_79b9, 40, headless_dns::zone::journal::DEFAULT_BYTES);
        incremental += i;
        full += f;
    }
    assert!(incremental > 500, "the journal answered {incremental} IXFRs");
    assert_eq!(full, 0, "a 1 MiB journal holds 40 small changes");
}

#[test]
fn a_small_journal_answers_recent_serials_and_the_whole_zone_before_them() {
    let (incremental, full) = run(42, 60, 2000);
    assert!(incremental > 0 && full > 0, "{incremental} incremental, {full} full");
    let (incremental, full) = run(43, 20, 0);
    assert_eq!(incremental, 0, "no journal, no differences");
    assert!(full > 0);
}

#[test]
fn a_rescheduled_pod_is_exactly_its_records() {
    let mut index = Index::new(ZoneSettings::new("cluster.local").unwrap());
    let service = json!({"metadata": {"name": "web", "namespace": "ns"},
        "spec": {"clusterIP": "None", "selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}]}});
    let pod = |name: &str, ip: &str| {
        Object::from_json(
            ObjectKind::Pod,
            json!({
            "metadata": {"name": name, "namespace": "ns", "labels": {"app": "web"}},
            "spec": {"hostname": name, "subdomain": "web"},
            "status": {"podIPs": [{"ip": ip}], "conditions": [{"type": "Ready", "status": "True"}]}}),
        )
        .unwrap()
    };
    index.apply(Update::Apply(Object::from_json(ObjectKind::Service, service).unwrap()));
    for i in 0..50 {
        index.apply(Update::Apply(pod(&format!("web-{i}"), &format!("10.0.1.{i}"))));
    }
    index.apply(Update::Synced(true));
    let before = index.commit().unwrap().serial();
    index.apply(Update::Apply(pod("web-7", "10.0.2.7")));
    let zone = Arc::new(index.commit().unwrap());
    let (answer, kind) = ixfr_records(&zone, ZoneFile::Forward, before);
    assert_eq!(kind, Kind::Incremental);
    let body: Vec<String> = answer.iter().map(text).collect();
    let s = |n: u32| {
        format!("cluster.local. 5 SOA ns.dns.cluster.local. hostmaster.cluster.local. {n} 7200 1800 86400 5")
    };
    assert_eq!(
        body,
        [
            s(zone.serial()),
            s(before),
            "web.ns.svc.cluster.local. 5 A 10.0.1.7".into(),
            "web-7.web.ns.svc.cluster.local. 5 A 10.0.1.7".into(),
            // Its verified pod record (`--pods verified`, the default) moves with it.
            "10-0-1-7.ns.pod.cluster.local. 5 A 10.0.1.7".into(),
            s(zone.serial()),
            "web.ns.svc.cluster.local. 5 A 10.0.2.7".into(),
            "web-7.web.ns.svc.cluster.local. 5 A 10.0.2.7".into(),
            "10-0-2-7.ns.pod.cluster.local. 5 A 10.0.2.7".into(),
            s(zone.serial()),
        ]
    );
    let (answer, _) = ixfr_records(&zone, ZoneFile::InAddrArpa, before);
    let body: Vec<String> = answer[1..answer.len() - 1].iter().map(text).collect();
    assert_eq!(body.len(), 4, "{body:?}");
    assert_eq!(body[1], "7.1.0.10.in-addr.arpa. 5 PTR web-7.web.ns.svc.cluster.local.");
    assert_eq!(body[3], "7.2.0.10.in-addr.arpa. 5 PTR web-7.web.ns.svc.cluster.local.");
}

#[test]
fn explain_of_the_apex_gives_the_serial_rule_and_the_journal_reach() {
    let mut index = Index::new(ZoneSettings::new("cluster.local").unwrap());
    let mut rng = Rng(7);
    for _ in 0..10 {
        index.apply(random_update(&mut rng));
    }
    index.apply(Update::Synced(true));
    let first = index.commit().unwrap().serial();
    let text =
        headless_dns::explain::explain(index.state(), index.zones(), "cluster.local.", RecordType::SOA)
            .to_text();
    assert!(text.contains(&format!("SOA serial {first}")) && text.contains("journal is empty"), "{text}");
    let mut serials = vec![first];
    while serials.len() < 3 {
        index.apply(random_update(&mut rng));
        if let Some(zone) = index.commit()
            && zone.serial() != *serials.last().unwrap()
        {
            serials.push(zone.serial());
        }
    }
    let text =
        headless_dns::explain::explain(index.state(), index.zones(), "cluster.local.", RecordType::SOA)
            .to_text();
    assert!(text.contains("resourceVersion") && text.contains("Unix time"), "{text}");
    assert!(text.contains("last 2 change(s)") && text.contains(&format!("from serial {first}")), "{text}");
}
