//! TSIG (RFC 8945): the keys of `--tsig-key` / `--tsig-key-file`, checking the signature
//! of a transfer request, and signing answers — every message of a multi-message answer,
//! each MAC chained to the previous one (§5.3.1) — and outgoing NOTIFYs.
//!
//! The MACs are hickory-proto's (`TSigner`, HMAC from ring); this module only keeps the
//! keys, parses them, and chains the messages of a transfer. Secrets are never logged or
//! printed: [`TsigKey`]'s `Debug` shows the name and algorithm only.

use std::time::{SystemTime, UNIX_EPOCH};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::tsig::{TSIG, TsigAlgorithm, TsigError, make_tsig_record};
use hickory_proto::rr::{Name, Record, TSigResponseContext, TSigner};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};

/// How far the client's clock may be from ours (RFC 8945 recommends 300 s).
const FUDGE: u16 = 300;

/// The algorithms a key may use.
const ALGORITHMS: [&str; 3] = ["hmac-sha256", "hmac-sha384", "hmac-sha512"];

/// One configured key: `NAME:ALGORITHM:BASE64SECRET`.
#[derive(Clone, PartialEq, Eq)]
pub struct TsigKey {
    /// The key's name, as the peers know it (`transfer.` for `transfer`).
    pub name: Name,
    /// `hmac-sha256`, `hmac-sha384` or `hmac-sha512`.
    pub algorithm: String,
    secret: Vec<u8>,
}

impl std::fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:(secret not shown)", self.name, self.algorithm)
    }
}

impl std::str::FromStr for TsigKey {
    type Err = String;

    /// Parses `NAME:ALGORITHM:BASE64SECRET` (the error never repeats the secret).
    fn from_str(spec: &str) -> Result<Self, String> {
        let mut parts = spec.trim().splitn(3, ':');
        let (Some(name), Some(algorithm), Some(secret)) = (parts.next(), parts.next(), parts.next()) else {
            return Err("a TSIG key is NAME:ALGORITHM:BASE64SECRET (three parts separated by ':')".into());
        };
        if ALGORITHMS.contains(&name.to_ascii_lowercase().as_str()) {
            // kdig's -y and nsupdate's order: the most likely slip, worth its own sentence.
            return Err(format!(
                "TSIG key {algorithm}: the name comes first, then the algorithm ({algorithm}:{name}:SECRET, \
                 not kdig's {name}:{algorithm}:SECRET)"
            ));
        }
        let mut name =
            Name::from_ascii(name).map_err(|e| format!("TSIG key name {name:?}: {e}"))?.to_lowercase();
        name.set_fqdn(true);
        let algorithm = algorithm.to_ascii_lowercase();
        if !ALGORITHMS.contains(&algorithm.as_str()) {
            return Err(format!(
                "TSIG key {name}: algorithm {algorithm:?} is not one of hmac-sha256, hmac-sha384, hmac-sha512"
            ));
        }
        let secret =
            base64(secret.trim()).ok_or_else(|| format!("TSIG key {name}: the secret is not base64"))?;
        if secret.is_empty() {
            return Err(format!("TSIG key {name}: the secret is empty"));
        }
        Ok(Self { name, algorithm, secret })
    }
}

impl TsigKey {
    /// `spec` (a `NAME:ALGORITHM:SECRET` as given, valid or not) with its secret replaced by
    /// `<secret>`, for error messages: `transfer:hmac-md5:<secret>`. A value without the two
    /// `:` shows its first part only, for the rest may be the secret.
    pub fn redact(spec: &str) -> String {
        match spec.trim().splitn(3, ':').collect::<Vec<_>>().as_slice() {
            [name, algorithm, _] => format!("{name}:{algorithm}:<secret>"),
            [name, _] => format!("{name}:<secret>"),
            _ => "<secret>".to_owned(),
        }
    }

    /// `keys` with their origins (`--tsig-key`, `--tsig-key-file F line 3`), each key once:
    /// the same key given twice is kept once, but one name with two different secrets or
    /// algorithms is an error naming the key and both origins (a peer's signature would be
    /// checked against one of them only, whichever came first).
    pub fn unique(keys: impl IntoIterator<Item = (TsigKey, String)>) -> Result<Vec<TsigKey>, String> {
        let mut unique: Vec<(TsigKey, String)> = Vec::new();
        for (key, origin) in keys {
            match unique.iter().find(|(k, _)| k.name == key.name) {
                Some((same, _)) if *same == key => {}
                Some((other, first)) => {
                    let what = if other.algorithm == key.algorithm { "secrets" } else { "algorithms" };
                    return Err(format!(
                        "TSIG key {} is given twice with different {what} ({first} and {origin}): \
                         give each key name once",
                        key.name
                    ));
                }
                None => unique.push((key, origin)),
            }
        }
        Ok(unique.into_iter().map(|(key, _)| key).collect())
    }

    /// The keys of a `--tsig-key-file`: one `NAME:ALGORITHM:BASE64SECRET` a line; empty
    /// lines and `#` comments are skipped (a mounted Kubernetes Secret works as is).
    /// Each key comes with its origin (`--tsig-key-file F line 3`) for [`TsigKey::unique`].
    pub fn from_file(path: &std::path::Path) -> Result<Vec<(TsigKey, String)>, String> {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("--tsig-key-file {}: {e}", path.display()))?;
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .map(|(i, l)| {
                let origin = format!("--tsig-key-file {} line {}", path.display(), i + 1);
                l.parse().map(|key| (key, origin.clone())).map_err(|e| format!("{origin}: {e}"))
            })
            .collect()
    }

    fn signer(&self) -> Option<TSigner> {
        let algorithm = TsigAlgorithm::from_name(Name::from_ascii(&self.algorithm).ok()?);
        TSigner::new(self.secret.clone(), algorithm, self.name.clone(), FUDGE).ok()
    }
}

/// The keys transfers and NOTIFYs are signed with.
#[derive(Clone)]
pub struct Keys {
    signers: Vec<TSigner>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl Keys {
    /// The keys' names (never their secrets), for the log.
    pub fn names(&self) -> Vec<String> {
        self.signers.iter().map(|s| s.signer_name().to_string()).collect()
    }
}

impl std::fmt::Debug for Signing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signing({})", self.signer.signer_name())
    }
}

/// A request whose signature was checked: how to sign its answer.
pub struct Signing {
    signer: TSigner,
    previous_mac: Vec<u8>,
    first: bool,
    time: u64,
    id: u16,
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Keys {
    /// The keys, ready to sign; `None` when there are none.
    pub fn new(keys: &[TsigKey]) -> Option<Self> {
        let signers: Vec<TSigner> = keys.iter().filter_map(TsigKey::signer).collect();
        (!signers.is_empty()).then_some(Self { signers })
    }

    /// Checks the TSIG of `request` (its bytes are `packet`). `Ok(None)`: unsigned (the
    /// caller refuses it). `Err(reply)`: the NOTAUTH reply with the TSIG error (BADKEY,
    /// BADSIG unsigned; BADTIME signed), as RFC 8945 §5.2 says.
    pub fn check(&self, packet: &[u8], request: &Message) -> Result<Option<Signing>, Vec<u8>> {
        let Some(tsig) = &request.signature else { return Ok(None) };
        let time = now();
        let id = request.metadata.id;
        let Some(signer) = self
            .signers
            .iter()
            .find(|s| s.signer_name() == &tsig.name.to_lowercase() && *s.algorithm() == tsig.data.algorithm)
        else {
            return Err(error_reply(request, TSigResponseContext::unknown_key(id, time, tsig.name.clone())));
        };
        match signer.verify_message_byte(packet, None, true) {
            Err(_) => Err(error_reply(request, TSigResponseContext::bad_signature(id, time, signer.clone()))),
            Ok((mac, _, valid)) if !valid.contains(&time) => Err(error_reply(
                request,
                TSigResponseContext::new(id, time, signer.clone(), mac, Some(TsigError::BadTime)),
            )),
            Ok((mac, _, _)) => {
                Ok(Some(Signing { signer: signer.clone(), previous_mac: mac, first: true, time, id }))
            }
        }
    }

    /// Signs an outgoing NOTIFY with the first key.
    pub fn sign_request(&self, mut message: Message) -> Option<Vec<u8>> {
        let signer = self.signers.first()?;
        let (tsig, _) = signer.sign_message(&message, now()).ok()?;
        message.signature = Some(tsig);
        message.to_vec().ok()
    }
}

impl crate::xfer::notify::Signer for Keys {
    fn sign(&self, message: Message) -> Option<Vec<u8>> {
        self.sign_request(message)
    }
}

impl Signing {
    /// Signs the next message of the answer (`bytes`, encoded without TSIG): the first
    /// with the request's MAC and every TSIG variable, the later ones with the previous
    /// message's MAC and the timers only (RFC 8945 §5.3.1).
    pub fn sign(&mut self, bytes: &mut Vec<u8>) -> bool {
        let stub = TSIG::new(
            self.signer.algorithm().clone(),
            self.time,
            FUDGE,
            Vec::new(),
            self.id,
            None,
            Vec::new(),
        );
        let tbs = if self.first {
            match self.signer.encode_response_tbs(&self.previous_mac, bytes, &stub) {
                Ok(tbs) => tbs,
                Err(_) => return false,
            }
        } else {
            let mut tbs = Vec::with_capacity(bytes.len() + self.previous_mac.len() + 10);
            tbs.extend_from_slice(&(self.previous_mac.len() as u16).to_be_bytes());
            tbs.extend_from_slice(&self.previous_mac);
            tbs.extend_from_slice(bytes);
            tbs.extend_from_slice(&((self.time >> 32) as u16).to_be_bytes());
            tbs.extend_from_slice(&(self.time as u32).to_be_bytes());
            tbs.extend_from_slice(&FUDGE.to_be_bytes());
            tbs
        };
        let Ok(mac) = self.signer.sign(&tbs) else { return false };
        let record = make_tsig_record(self.signer.signer_name().clone(), stub.set_mac(mac.clone()));
        self.previous_mac = mac;
        self.first = false;
        append(bytes, &record)
    }
}

/// Appends a TSIG record to an encoded message and counts it in ARCOUNT.
fn append(bytes: &mut Vec<u8>, record: &Record<TSIG>) -> bool {
    let mut extra = Vec::with_capacity(128);
    let mut encoder = BinEncoder::new(&mut extra);
    // Uncompressed: the pointers of a separate encoder would be wrong in the message.
    let mut encoder = encoder.with_name_encoding(NameEncoding::Uncompressed);
    if record.emit(&mut encoder).is_err() || bytes.len() < 12 {
        return false;
    }
    drop(encoder);
    let count = u16::from_be_bytes([bytes[10], bytes[11]]).wrapping_add(1);
    bytes[10..12].copy_from_slice(&count.to_be_bytes());
    bytes.extend_from_slice(&extra);
    true
}

/// NOTAUTH to `request`, with the TSIG record `context` makes.
fn error_reply(request: &Message, context: TSigResponseContext) -> Vec<u8> {
    let mut reply = crate::wire::response_to(request, ResponseCode::NotAuth);
    reply.metadata.authoritative = false;
    let mut bytes = crate::wire::encode_transfer_message(&reply);
    if let Ok(record) = context.sign(&bytes) {
        append(&mut bytes, &record);
    }
    bytes
}

/// Standard base64 with or without padding, as TSIG secrets are written (BIND's
/// `secret "..."`, `tsig-keygen`, a Kubernetes Secret's value).
pub const BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// Decodes a secret ([`BASE64`]); `None` if it is not base64.
fn base64(text: &str) -> Option<Vec<u8>> {
    base64::Engine::decode(&BASE64, text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_and_never_show_their_secret() {
        let key: TsigKey = "Transfer:HMAC-SHA256:c2VjcmV0c2VjcmV0c2VjcmV0".parse().unwrap();
        assert_eq!(key.name.to_string(), "transfer.");
        assert_eq!(key.algorithm, "hmac-sha256");
        assert_eq!(key.secret, b"secretsecretsecret");
        assert_eq!(format!("{key:?}"), "transfer.:hmac-sha256:(secret not shown)");
        let e = "k:hmac-md5:c2VjcmV0".parse::<TsigKey>().unwrap_err();
        assert!(e.contains("hmac-sha256") && !e.contains("c2VjcmV0"), "{e}");
        let e = "k:hmac-sha512:not base64!".parse::<TsigKey>().unwrap_err();
        assert!(e.contains("base64") && !e.contains("not base64!"), "{e}");
        assert!("k:hmac-sha512".parse::<TsigKey>().is_err());
        assert_eq!(base64("aGk=").unwrap(), b"hi");
        assert_eq!(base64("aGk").unwrap(), b"hi");
    }

    #[test]
    fn a_key_file_holds_one_key_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        std::fs::write(&path, "# transfer keys\na:hmac-sha256:YWFh\n\nb:hmac-sha512:YmJi\n").unwrap();
        let keys = TsigKey::from_file(&path).unwrap();
        assert_eq!(keys.iter().map(|(k, _)| k.name.to_string()).collect::<Vec<_>>(), ["a.", "b."]);
        assert!(keys[1].1.ends_with("line 4"), "{:?}", keys[1].1);
        std::fs::write(&path, "a:hmac-sha256:YWFh\nbroken\n").unwrap();
        assert!(TsigKey::from_file(&path).unwrap_err().contains("line 2"));
    }

    #[test]
    fn a_redacted_key_shows_its_name_and_algorithm_only() {
        assert_eq!(TsigKey::redact("transfer:hmac-md5:c2VjcmV0"), "transfer:hmac-md5:<secret>");
        assert_eq!(TsigKey::redact(" transfer:c2VjcmV0 "), "transfer:<secret>");
        assert_eq!(TsigKey::redact("c2VjcmV0"), "<secret>");
        // kdig's order is named as such, without the secret.
        let e = "hmac-sha256:transfer:c2VjcmV0".parse::<TsigKey>().unwrap_err();
        assert!(e.contains("transfer:hmac-sha256:SECRET") && !e.contains("c2VjcmV0"), "{e}");
    }

    #[test]
    fn one_name_with_two_secrets_is_an_error_naming_the_key_and_where() {
        let key = |spec: &str, origin: &str| (spec.parse::<TsigKey>().unwrap(), origin.to_owned());
        let same = [key("a:hmac-sha256:YWFh", "--tsig-key"), key("A.:hmac-sha256:YWFh", "keys line 1")];
        assert_eq!(TsigKey::unique(same).unwrap().len(), 1);
        let two = [key("a:hmac-sha256:YWFh", "--tsig-key"), key("a:hmac-sha256:YmJi", "keys line 2")];
        let e = TsigKey::unique(two).unwrap_err();
        assert_eq!(
            e,
            "TSIG key a. is given twice with different secrets (--tsig-key and keys line 2): give each key \
             name once"
        );
        let two = [key("a:hmac-sha256:YWFh", "--tsig-key"), key("a:hmac-sha512:YWFh", "--tsig-key")];
        assert!(TsigKey::unique(two).unwrap_err().contains("different algorithms"));
    }
}
