//! NOTIFY (RFC 1996): tells each `--notify` secondary that the serial changed, so it
//! transfers within a second instead of at its next refresh.
//!
//! One task per secondary: at most one NOTIFY in flight to it, at most one a second
//! (changes meanwhile are coalesced into the next one, which carries the newest serial),
//! retried with exponential backoff (1 s to 60 s) until it answers, a warning logged
//! when it stops answering and a note when it is back. A NOTIFY is sent for the cluster
//! zone when the server starts serving and at each serial change after; with
//! `--multicluster-zone`, a second task per secondary does the same for the multicluster
//! zone, which has its own serial.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use tokio::net::UdpSocket;

use crate::zone::zonefile::ZoneFile;
use crate::zone::{SharedZones, Zones};

/// At most one NOTIFY a second to each secondary.
const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// How long to wait for an answer before retrying; doubles up to [`MAX_BACKOFF`].
const FIRST_TIMEOUT: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Unanswered NOTIFYs in a row before the secondary is reported as not answering.
const WARN_AFTER: u32 = 3;
/// How often the published serial is checked (an atomic load).
const POLL: Duration = Duration::from_millis(50);

/// Observes NOTIFYs (metrics).
pub trait NotifyObserver: Send + Sync + 'static {
    /// A NOTIFY was sent to `target` and answered (`true`) or timed out (`false`).
    fn notified(&self, target: SocketAddr, answered: bool);
}

impl NotifyObserver for () {
    fn notified(&self, _: SocketAddr, _: bool) {}
}

/// Signs outgoing NOTIFYs and checks their answers (TSIG), when configured.
pub trait Signer: Send + Sync + 'static {
    /// The request, signed, ready to send.
    fn sign(&self, message: Message) -> Option<Vec<u8>>;
}

/// Starts one NOTIFY task per target; they run until `shutdown` is set.
pub fn spawn(
    targets: &[SocketAddr],
    zones: SharedZones,
    observer: Arc<dyn NotifyObserver>,
    signer: Option<Arc<dyn Signer>>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) {
    // The forward zones; the reverse zones' secondaries follow the SOA refresh.
    let files: Vec<ZoneFile> = zones
        .load()
        .served()
        .into_iter()
        .map(|served| served.file)
        .filter(|file| matches!(file, ZoneFile::Forward | ZoneFile::Multicluster | ZoneFile::External(_)))
        .collect();
    for &target in targets {
        for &file in &files {
            let (zones, observer, signer, mut shutdown) =
                (zones.clone(), observer.clone(), signer.clone(), shutdown.clone());
            tokio::spawn(async move {
                tokio::select! {
                    () = run(target, zones, file, observer, signer) => {}
                    _ = shutdown.wait_for(|stop| *stop) => {}
                }
            });
        }
    }
}

/// The NOTIFY message for the zone at `apex` in `zones`: opcode NOTIFY, AA, the zone's
/// SOA as the question and (as RFC 1996 §3.7 allows) the SOA with its serial as the
/// answer.
pub fn message(zones: &Zones, apex: &Name, id: u16) -> Message {
    let mut message = Message::new(id, MessageType::Query, OpCode::Notify);
    message.metadata.authoritative = true;
    message.queries.push(Query::query(apex.clone(), RecordType::SOA));
    message.answers = zones.lookup(apex, RecordType::SOA, DNSClass::IN).answers;
    message
}

async fn run(
    target: SocketAddr,
    zones: SharedZones,
    file: ZoneFile,
    observer: Arc<dyn NotifyObserver>,
    signer: Option<Arc<dyn Signer>>,
) {
    let local: IpAddr =
        if target.is_ipv4() { Ipv4Addr::UNSPECIFIED.into() } else { Ipv6Addr::UNSPECIFIED.into() };
    let socket = loop {
        match UdpSocket::bind((local, 0)).await {
            Ok(socket) => break socket,
            Err(error) => {
                tracing::warn!(%target, %error, "cannot open a socket for NOTIFY; retrying");
                tokio::time::sleep(MAX_BACKOFF).await;
            }
        }
    };
    let mut acknowledged: Option<u32> = None;
    let mut last_sent: Option<Instant> = None;
    let mut timeout = FIRST_TIMEOUT;
    let mut unanswered = 0u32;
    let mut buf = vec![0u8; 4096];
    loop {
        let snapshot = zones.load_full();
        let Some(current) = snapshot.served_zone(file) else { return };
        if !current.is_synced() || acknowledged == Some(current.serial()) {
            tokio::time::sleep(POLL).await;
            continue;
        }
        if let Some(wait) = last_sent.map(|t| MIN_INTERVAL.saturating_sub(t.elapsed()))
            && !wait.is_zero()
        {
            tokio::time::sleep(wait).await;
            continue; // the serial may have moved again meanwhile: send the newest
        }
        let id: u16 = rand::random();
        let serial = current.serial();
        let request = message(&snapshot, current.apex(), id);
        let bytes = match &signer {
            Some(signer) => signer.sign(request),
            None => request.to_vec().ok(),
        };
        let Some(bytes) = bytes else {
            tracing::warn!(%target, "cannot encode the NOTIFY");
            tokio::time::sleep(MAX_BACKOFF).await;
            continue;
        };
        last_sent = Some(Instant::now());
        if let Err(error) = socket.send_to(&bytes, target).await {
            tracing::debug!(%target, %error, "NOTIFY not sent");
        }
        let answered = tokio::time::timeout(timeout, async {
            loop {
                let Ok((n, from)) = socket.recv_from(&mut buf).await else { continue };
                // The answer: from the target, our ID, QR=1, opcode NOTIFY.
                if from == target && n >= 12 && buf[..2] == id.to_be_bytes() && buf[2] & 0xf8 == 0xa0 {
                    return buf[3] & 0x0f;
                }
            }
        })
        .await;
        observer.notified(target, answered.is_ok());
        match answered {
            Ok(rcode) => {
                if unanswered >= WARN_AFTER {
                    tracing::info!(%target, serial, "secondary answers NOTIFY again");
                }
                if rcode != 0 {
                    tracing::debug!(%target, rcode, "secondary answered NOTIFY with an error code");
                }
                acknowledged = Some(serial);
                unanswered = 0;
                timeout = FIRST_TIMEOUT;
            }
            Err(_) => {
                unanswered += 1;
                if unanswered == WARN_AFTER {
                    tracing::warn!(%target, serial, tries = unanswered, "secondary does not answer NOTIFY; retrying with backoff");
                }
                timeout = (timeout * 2).min(MAX_BACKOFF);
            }
        }
    }
}
