//! Sealing of contact data. A visitor's address, name and raw IP are stored only as
//! XChaCha20-Poly1305 ciphertext tagged with the id of the key that made it, bound (as associated
//! data) to the row and field they belong to so that ciphertexts cannot be swapped between rows.
//! A keyed HMAC-SHA256 blind index allows exact look-up by address without storing it.
//!
//! [`Sealed`] values cannot be displayed; opening one is reserved to the audited unsealing paths.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use uuid::Uuid;

use crate::config::{DevKeys, SealSettings};
use crate::domain::{EmailAddress, VisitorName};

const FORMAT_VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
const KEY_LEN: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("configuration key `{key}`: {problem}")]
    BadKey { key: &'static str, problem: String },
    #[error("sealed value is malformed")]
    Malformed,
    #[error("sealed with key `{0}`, which is not configured")]
    UnknownKey(String),
    #[error("sealed value failed authentication")]
    Forged,
    #[error("could not write development keys to {path}: {source}")]
    DevKeys {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Something that can be sealed: it knows its field name (bound into the ciphertext) and its
/// byte encoding.
pub trait Sealable: Sized {
    const FIELD: &'static str;
    fn to_bytes(&self) -> Vec<u8>;
    fn from_bytes(bytes: &[u8]) -> Option<Self>;
}

impl Sealable for EmailAddress {
    const FIELD: &'static str = "email";
    fn to_bytes(&self) -> Vec<u8> {
        self.as_str().as_bytes().to_vec()
    }
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        EmailAddress::parse(std::str::from_utf8(bytes).ok()?)
            .ok()
            .flatten()
    }
}

impl Sealable for VisitorName {
    const FIELD: &'static str = "name";
    fn to_bytes(&self) -> Vec<u8> {
        self.as_str().as_bytes().to_vec()
    }
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        VisitorName::parse(std::str::from_utf8(bytes).ok()?)
            .ok()
            .flatten()
    }
}

impl Sealable for IpAddr {
    const FIELD: &'static str = "ip";
    fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        std::str::from_utf8(bytes).ok()?.parse().ok()
    }
}

/// A response kept for an idempotent replay: it may carry a bearer secret (the private link of
/// a new conversation), so it is sealed at rest like contact data.
pub struct StoredResponse(pub Vec<u8>);

impl Sealable for StoredResponse {
    const FIELD: &'static str = "idempotent_response";
    fn to_bytes(&self) -> Vec<u8> {
        self.0.clone()
    }
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        Some(Self(bytes.to_vec()))
    }
}

/// A document of a disclosure request (the order copy, the export package with the unsealed
/// data): sealed at rest, opened only by its audited download.
pub struct Document(pub Vec<u8>);

impl Sealable for Document {
    const FIELD: &'static str = "disclosure_document";
    fn to_bytes(&self) -> Vec<u8> {
        self.0.clone()
    }
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        Some(Self(bytes.to_vec()))
    }
}

/// The text or HTML body of a mail waiting in the outbox: sealed at rest, since a visitor's
/// acknowledgement carries their private link (a bearer secret) and a notification their words.
pub struct MailBody(pub String);

impl Sealable for MailBody {
    const FIELD: &'static str = "mail_body";
    fn to_bytes(&self) -> Vec<u8> {
        self.0.as_bytes().to_vec()
    }
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        String::from_utf8(bytes.to_vec()).ok().map(Self)
    }
}

/// Ciphertext of a `T`: storable, never printable.
pub struct Sealed<T> {
    bytes: Vec<u8>,
    _kind: PhantomData<T>,
}

impl<T> Sealed<T> {
    pub fn from_stored(bytes: Vec<u8>) -> Self {
        Self {
            bytes,
            _kind: PhantomData,
        }
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The id of the key this value was sealed with (for key rotation reports).
    pub fn key_id(&self) -> Option<&str> {
        let (key_id, _) = split_envelope(&self.bytes)?;
        Some(key_id)
    }
}

impl<T> std::fmt::Debug for Sealed<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealed<{}>", std::any::type_name::<T>())
    }
}

/// Envelope: version byte, key id length, key id, nonce, ciphertext with tag.
fn split_envelope(bytes: &[u8]) -> Option<(&str, &[u8])> {
    let (&version, rest) = bytes.split_first()?;
    if version != FORMAT_VERSION {
        return None;
    }
    let (&id_len, rest) = rest.split_first()?;
    let id_len = id_len as usize;
    if rest.len() < id_len + NONCE_LEN + 16 {
        return None;
    }
    let key_id = std::str::from_utf8(&rest[..id_len]).ok()?;
    Some((key_id, &rest[id_len..]))
}

fn associated_data(field: &str, owner: Uuid) -> Vec<u8> {
    let mut aad = Vec::with_capacity(32 + field.len());
    aad.extend_from_slice(b"sealpost/v1/");
    aad.extend_from_slice(field.as_bytes());
    aad.push(b'/');
    aad.extend_from_slice(owner.as_bytes());
    aad
}

/// Holds the sealing keys. Cheap to share behind an `Arc`.
pub struct Sealer {
    current_id: String,
    ciphers: HashMap<String, XChaCha20Poly1305>,
    index_key: [u8; KEY_LEN],
}

impl Sealer {
    pub fn new(current_id: &str, current_key: &[u8], index_key: &[u8]) -> Result<Self, SealError> {
        let current = cipher_from("seal.key", current_key)?;
        let index_key: [u8; KEY_LEN] = index_key.try_into().map_err(|_| SealError::BadKey {
            key: "seal.index_key",
            problem: format!("must be {KEY_LEN} bytes"),
        })?;
        Ok(Self {
            current_id: current_id.to_owned(),
            ciphers: HashMap::from([(current_id.to_owned(), current)]),
            index_key,
        })
    }

    /// Builds the sealer from configuration; in development, empty keys are replaced by keys
    /// generated once into `<data_dir>/dev-keys.toml`.
    pub fn from_settings(settings: &SealSettings, data_dir: &Path) -> Result<Self, SealError> {
        let (key, index_key) = if settings.key.expose_secret().is_empty()
            || settings.index_key.expose_secret().is_empty()
        {
            let dev = load_or_create_dev_keys(data_dir)?;
            let key = if settings.key.expose_secret().is_empty() {
                dev.key
            } else {
                settings.key.expose_secret().to_owned()
            };
            let index_key = if settings.index_key.expose_secret().is_empty() {
                dev.index_key
            } else {
                settings.index_key.expose_secret().to_owned()
            };
            (key, index_key)
        } else {
            (
                settings.key.expose_secret().to_owned(),
                settings.index_key.expose_secret().to_owned(),
            )
        };
        let mut sealer = Self::new(
            &settings.key_id,
            &decode_key("seal.key", &key)?,
            &decode_key("seal.index_key", &index_key)?,
        )?;
        for entry in &settings.retired_keys {
            let (id, key) =
                entry
                    .expose_secret()
                    .split_once(':')
                    .ok_or_else(|| SealError::BadKey {
                        key: "seal.retired_keys",
                        problem: "each entry must be ID:BASE64KEY".into(),
                    })?;
            let cipher = cipher_from("seal.retired_keys", &decode_key("seal.retired_keys", key)?)?;
            sealer.ciphers.entry(id.to_owned()).or_insert(cipher);
        }
        Ok(sealer)
    }

    /// Seals `value` as the `T` field of the row `owner`.
    pub fn seal<T: Sealable>(&self, value: &T, owner: Uuid) -> Sealed<T> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let plaintext = value.to_bytes();
        let aad = associated_data(T::FIELD, owner);
        let cipher = &self.ciphers[&self.current_id];
        #[allow(clippy::expect_used)] // encryption fails only for inputs of ~256 GiB
        let ciphertext = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plaintext,
                    aad: &aad,
                },
            )
            .expect("XChaCha20-Poly1305 encryption of a short value");
        let mut bytes =
            Vec::with_capacity(2 + self.current_id.len() + NONCE_LEN + ciphertext.len());
        bytes.push(FORMAT_VERSION);
        bytes.push(self.current_id.len() as u8);
        bytes.extend_from_slice(self.current_id.as_bytes());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&ciphertext);
        Sealed::from_stored(bytes)
    }

    /// Opens a sealed value. Only the paths that must use the value may call this: the outbox
    /// opening a visitor's address to deliver their mail, and (to come) the audited legal
    /// workflow.
    pub(crate) fn open<T: Sealable>(
        &self,
        sealed: &Sealed<T>,
        owner: Uuid,
    ) -> Result<T, SealError> {
        let (key_id, rest) = split_envelope(&sealed.bytes).ok_or(SealError::Malformed)?;
        let cipher = self
            .ciphers
            .get(key_id)
            .ok_or_else(|| SealError::UnknownKey(key_id.to_owned()))?;
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let plaintext = cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &associated_data(T::FIELD, owner),
                },
            )
            .map_err(|_| SealError::Forged)?;
        T::from_bytes(&plaintext).ok_or(SealError::Malformed)
    }

    /// [`Sealer::open`] for the benchmark kit only (`--features bench-internals`); no build
    /// of the service has it, so the audited paths stay the only way to unseal.
    #[cfg(feature = "bench-internals")]
    #[doc(hidden)]
    pub fn open_for_benchmark<T: Sealable>(
        &self,
        sealed: &Sealed<T>,
        owner: Uuid,
    ) -> Result<T, SealError> {
        self.open(sealed, owner)
    }

    /// The keyed blind index of an address: equal addresses (ignoring case) give equal indexes,
    /// and without the key the index says nothing about the address.
    pub fn email_index(&self, email: &EmailAddress) -> Vec<u8> {
        #[allow(clippy::expect_used)] // HMAC accepts keys of any length
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.index_key)
            .expect("HMAC takes any key length");
        mac.update(b"sealpost/email-index/v1/");
        mac.update(email.normalized().as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// A keyed digest for other uses that must not be reversible or predictable (decoys).
    pub fn keyed_digest(&self, purpose: &str, data: &[u8]) -> Vec<u8> {
        #[allow(clippy::expect_used)] // HMAC accepts keys of any length
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.index_key)
            .expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.update(b"/");
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }
}

fn cipher_from(key: &'static str, bytes: &[u8]) -> Result<XChaCha20Poly1305, SealError> {
    XChaCha20Poly1305::new_from_slice(bytes).map_err(|_| SealError::BadKey {
        key,
        problem: format!("must be {KEY_LEN} bytes"),
    })
}

fn decode_key(key: &'static str, b64: &str) -> Result<Vec<u8>, SealError> {
    let bytes = STANDARD.decode(b64.trim()).map_err(|e| SealError::BadKey {
        key,
        problem: format!("not base64 ({e})"),
    })?;
    if bytes.len() != KEY_LEN {
        return Err(SealError::BadKey {
            key,
            problem: format!("must decode to {KEY_LEN} bytes, got {}", bytes.len()),
        });
    }
    Ok(bytes)
}

/// The development keys of `data_dir`, generated on the first run that needs them.
fn load_or_create_dev_keys(data_dir: &Path) -> Result<DevKeys, SealError> {
    if let Some(keys) = DevKeys::read(data_dir) {
        return Ok(keys);
    }
    let path = DevKeys::path(data_dir);
    let io = |source| SealError::DevKeys {
        path: path.clone(),
        source,
    };
    let fresh = || {
        let mut k = [0u8; KEY_LEN];
        rand::rngs::OsRng.fill_bytes(&mut k);
        STANDARD.encode(k)
    };
    let keys = DevKeys {
        key: fresh(),
        index_key: fresh(),
    };
    std::fs::create_dir_all(data_dir).map_err(io)?;
    write_private(&path, &keys.file_text()).map_err(io)?;
    tracing::warn!(
        path = %path.display(),
        "generated development sealing keys; production must configure seal.key and seal.index_key"
    );
    Ok(keys)
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(text.as_bytes())
}

/// Generates a fresh base64 key, for operators setting up production (`sealpost keygen`).
pub fn generate_key() -> SecretString {
    let mut k = [0u8; KEY_LEN];
    rand::rngs::OsRng.fill_bytes(&mut k);
    SecretString::from(STANDARD.encode(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(id: &str, key: u8) -> Sealer {
        Sealer::new(id, &[key; 32], &[9; 32]).expect("valid keys")
    }

    fn email(s: &str) -> EmailAddress {
        EmailAddress::parse(s).expect("valid").expect("present")
    }

    #[test]
    fn sealed_values_open_to_what_was_sealed() {
        let s = sealer("k1", 1);
        let owner = Uuid::now_v7();
        let sealed = s.seal(&email("anna@example.org"), owner);
        assert_eq!(sealed.key_id(), Some("k1"));
        let opened = s.open(&sealed, owner).expect("opens");
        assert_eq!(opened.as_str(), "anna@example.org");
        let ip: IpAddr = "203.0.113.9".parse().expect("ip");
        assert_eq!(s.open(&s.seal(&ip, owner), owner).expect("opens"), ip);
    }

    #[test]
    fn ciphertext_does_not_contain_the_plaintext_and_is_randomized() {
        let s = sealer("k1", 1);
        let owner = Uuid::now_v7();
        let a = s.seal(&email("anna@example.org"), owner).into_bytes();
        let b = s.seal(&email("anna@example.org"), owner).into_bytes();
        assert_ne!(a, b);
        assert!(!a.windows(4).any(|w| w == b"anna"));
    }

    #[test]
    fn a_value_moved_to_another_row_does_not_open() {
        let s = sealer("k1", 1);
        let sealed = s.seal(&email("anna@example.org"), Uuid::now_v7());
        assert!(matches!(
            s.open(&sealed, Uuid::now_v7()),
            Err(SealError::Forged)
        ));
    }

    #[test]
    fn tampering_is_detected() {
        let s = sealer("k1", 1);
        let owner = Uuid::now_v7();
        let mut bytes = s.seal(&email("anna@example.org"), owner).into_bytes();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = Sealed::<EmailAddress>::from_stored(bytes);
        assert!(matches!(s.open(&tampered, owner), Err(SealError::Forged)));
    }

    #[test]
    fn retired_keys_still_open_old_values() {
        let old = sealer("2025", 1);
        let owner = Uuid::now_v7();
        let sealed = old.seal(&email("old@example.org"), owner);
        let mut new = sealer("2026", 2);
        assert!(matches!(
            new.open(&sealed, owner),
            Err(SealError::UnknownKey(_))
        ));
        new.ciphers
            .insert("2025".into(), cipher_from("t", &[1; 32]).expect("key"));
        assert_eq!(
            new.open(&sealed, owner).expect("opens").as_str(),
            "old@example.org"
        );
    }

    #[test]
    fn the_blind_index_ignores_case_and_depends_on_the_key() {
        let s = sealer("k1", 1);
        assert_eq!(
            s.email_index(&email("Anna@Example.org")),
            s.email_index(&email("anna@example.org"))
        );
        assert_ne!(
            s.email_index(&email("anna@example.org")),
            s.email_index(&email("anne@example.org"))
        );
        let other = Sealer::new("k1", &[1; 32], &[8; 32]).expect("keys");
        assert_ne!(
            s.email_index(&email("anna@example.org")),
            other.email_index(&email("anna@example.org"))
        );
    }

    #[test]
    fn dev_keys_are_generated_once_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = load_or_create_dev_keys(dir.path()).expect("created");
        let b = load_or_create_dev_keys(dir.path()).expect("read back");
        assert_eq!(a.key, b.key);
        assert_eq!(a.index_key, b.index_key);
    }
}
