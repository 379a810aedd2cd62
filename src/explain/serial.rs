//! Explain for the zone apex's SOA: why the serial is what it is, and how far back IXFR
//! reaches (the journal published with the zone).

use crate::zone::Zone;

/// Why `zone`'s SOA serial is what it is, and how far back IXFR reaches.
pub(super) fn explain(zone: &Zone) -> Vec<String> {
    let serial = zone.serial();
    let mut out = vec![format!(
        "SOA serial {serial}: it moves only when the records change. Watching the Kubernetes API, it is the \
         highest resourceVersion applied when they last changed (modulo 2^32), so replicas that applied the \
         same changes agree; from manifests, the Unix time of the last change, bumped past the previous serial"
    )];
    let journal = zone.journal();
    out.push(match journal.oldest() {
        Some(oldest) => format!(
            "IXFR: the journal holds the last {} change(s) ({} bytes), from serial {oldest}; older serials get the whole zone",
            journal.depth(),
            journal.bytes()
        ),
        None => "IXFR: the journal is empty; a secondary not at this serial gets the whole zone".into(),
    });
    out
}
