//! The SCRAM key derivation (RFC 5802 section 3) over the three hashes, and
//! the verifier a server stores instead of the password.

use std::fmt;

use hmac::digest::{Digest, Key, KeyInit, Mac};
use hmac::{EagerHash, Hmac};
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use subtle::{Choice, ConstantTimeEq};

use super::mechanism::ScramHash;

/// `HMAC(key, data...)` with a generic hash.
fn hmac_with<D: EagerHash>(key: &[u8], data: &[&[u8]]) -> Vec<u8> {
    // HMAC keys are padded with zeros to the block size, and hashed first
    // when longer (RFC 2104 section 2). Doing it here uses the infallible
    // `KeyInit::new` instead of `new_from_slice`, whose error cannot happen
    // for HMAC but would need an unwrap.
    let mut block = Key::<Hmac<D>>::default();
    let hashed;
    let key = if key.len() > block.len() {
        hashed = D::digest(key);
        hashed.as_slice()
    } else {
        key
    };
    for (slot, byte) in block.iter_mut().zip(key) {
        *slot = *byte;
    }
    let mut mac = <Hmac<D> as KeyInit>::new(&block);
    for part in data {
        Mac::update(&mut mac, part);
    }
    mac.finalize().into_bytes().to_vec()
}

/// `HMAC(key, data...)` (the data parts are concatenated).
pub(crate) fn hmac(hash: ScramHash, key: &[u8], data: &[&[u8]]) -> Vec<u8> {
    match hash {
        ScramHash::Sha1 => hmac_with::<Sha1>(key, data),
        ScramHash::Sha256 => hmac_with::<Sha256>(key, data),
        ScramHash::Sha512 => hmac_with::<Sha512>(key, data),
    }
}

/// `H(data)`.
pub(crate) fn h(hash: ScramHash, data: &[u8]) -> Vec<u8> {
    match hash {
        ScramHash::Sha1 => Sha1::digest(data).to_vec(),
        ScramHash::Sha256 => Sha256::digest(data).to_vec(),
        ScramHash::Sha512 => Sha512::digest(data).to_vec(),
    }
}

/// `Hi(password, salt, i)`: PBKDF2 with HMAC, output as long as the hash.
pub(crate) fn hi(hash: ScramHash, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
    let mut out = vec![0; hash.output_len()];
    // PBKDF2 with zero rounds is undefined; callers refuse 0 before, this
    // keeps the function total.
    let rounds = iterations.max(1);
    match hash {
        ScramHash::Sha1 => pbkdf2::pbkdf2_hmac::<Sha1>(password, salt, rounds, &mut out),
        ScramHash::Sha256 => pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, rounds, &mut out),
        ScramHash::Sha512 => pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, rounds, &mut out),
    }
    out
}

/// `a XOR b` over the common length.
pub(crate) fn xor(a: &[u8], b: &[u8]) -> Vec<u8> {
    a.iter().zip(b).map(|(x, y)| x ^ y).collect()
}

/// Constant-time equality (different lengths compare unequal; the length
/// itself is not secret).
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> Choice {
    a.ct_eq(b)
}

/// The keys derived from a salted password.
pub(crate) struct Keys {
    /// `ClientKey = HMAC(SaltedPassword, "Client Key")`.
    pub(crate) client_key: Vec<u8>,
    /// `StoredKey = H(ClientKey)`.
    pub(crate) stored_key: Vec<u8>,
    /// `ServerKey = HMAC(SaltedPassword, "Server Key")`.
    pub(crate) server_key: Vec<u8>,
}

impl Keys {
    /// Derives the keys from `SaltedPassword`.
    pub(crate) fn from_salted(hash: ScramHash, salted_password: &[u8]) -> Self {
        let client_key = hmac(hash, salted_password, &[b"Client Key"]);
        let stored_key = h(hash, &client_key);
        let server_key = hmac(hash, salted_password, &[b"Server Key"]);
        Self {
            client_key,
            stored_key,
            server_key,
        }
    }
}

/// What a server stores for a SCRAM user instead of the password
/// (RFC 5802 section 3): the salt, the iteration count, `StoredKey` and
/// `ServerKey`.
///
/// `StoredKey` lets the server verify a client proof without being able to
/// compute one; `ServerKey` lets it prove to the client that it knows the
/// verifier. Both are password equivalents for this server, so keep them
/// as secret as a password hash. [`Debug`] prints only their lengths.
///
/// ```
/// use xmpp_kit::sasl::{ScramCredentials, ScramHash};
///
/// let creds = ScramCredentials::derive(ScramHash::Sha256, "pencil", b"NaCl-16-bytes...", 4096);
/// assert_eq!(creds.stored_key.len(), 32);
/// assert!(creds.verify_password("pencil"));
/// assert!(!creds.verify_password("pencil "));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ScramCredentials {
    /// The hash function the keys are derived with.
    pub hash: ScramHash,
    /// The salt (random, per user; 16 bytes or more is customary).
    pub salt: Vec<u8>,
    /// The PBKDF2 iteration count (4096 or more, RFC 7677).
    pub iterations: u32,
    /// `StoredKey = H(HMAC(SaltedPassword, "Client Key"))`.
    pub stored_key: Vec<u8>,
    /// `ServerKey = HMAC(SaltedPassword, "Server Key")`.
    pub server_key: Vec<u8>,
}

impl ScramCredentials {
    /// Derives the verifier from a password: `SaltedPassword =
    /// Hi(password, salt, iterations)`, then `StoredKey` and `ServerKey`.
    ///
    /// The password bytes are used as given, without SASLprep (see the
    /// [module documentation](super#saslprep)). An iteration count of 0 is
    /// treated as 1 (PBKDF2 needs at least one round); such a verifier is
    /// refused by clients anyway.
    pub fn derive(hash: ScramHash, password: &str, salt: &[u8], iterations: u32) -> Self {
        let salted = hi(hash, password.as_bytes(), salt, iterations);
        let keys = Keys::from_salted(hash, &salted);
        Self {
            hash,
            salt: salt.to_vec(),
            iterations,
            stored_key: keys.stored_key,
            server_key: keys.server_key,
        }
    }

    /// Whether `password` matches this verifier (in constant time with
    /// respect to the keys). Costs one PBKDF2 run, like a login. Handy for a
    /// [`ServerCredentials::verify_plain`](super::ServerCredentials::verify_plain)
    /// that only stores SCRAM verifiers.
    pub fn verify_password(&self, password: &str) -> bool {
        let derived = Self::derive(self.hash, password, &self.salt, self.iterations);
        bool::from(
            ct_eq(&derived.stored_key, &self.stored_key)
                & ct_eq(&derived.server_key, &self.server_key),
        )
    }

    /// Whether the fields are consistent: keys as long as the hash output,
    /// a non-empty salt and a non-zero iteration count.
    pub fn is_well_formed(&self) -> bool {
        self.stored_key.len() == self.hash.output_len()
            && self.server_key.len() == self.hash.output_len()
            && !self.salt.is_empty()
            && self.iterations > 0
    }
}

impl fmt::Debug for ScramCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramCredentials")
            .field("hash", &self.hash)
            .field("salt_len", &self.salt.len())
            .field("iterations", &self.iterations)
            .field("stored_key", &"<redacted>")
            .field("server_key", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// RFC 4231 test case 1 (HMAC-SHA-256/512) and RFC 2202 test case 1
    /// (HMAC-SHA-1).
    #[test]
    fn hmac_known_answers() {
        let key = [0x0b; 20];
        assert_eq!(
            hex(&hmac(ScramHash::Sha1, &[0x0b; 20], &[b"Hi There"])),
            "b617318655057264e28bc0b6fb378c8ef146be00"
        );
        assert_eq!(
            hex(&hmac(ScramHash::Sha256, &key, &[b"Hi ", b"There"])),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(
            hex(&hmac(ScramHash::Sha512, &key, &[b"Hi There"])),
            "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde\
             daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"
        );
    }

    /// RFC 4231 test case 6: a key longer than the block size is hashed.
    #[test]
    fn hmac_long_key() {
        let key = [0xaa; 131];
        assert_eq!(
            hex(&hmac(
                ScramHash::Sha256,
                &key,
                &[b"Test Using Larger Than Block-Size Key - Hash Key First"]
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    /// RFC 5802 section 5: the SHA-1 verifier of "pencil".
    #[test]
    fn derive_rfc5802() {
        let salt = [
            0x41, 0x25, 0xc2, 0x47, 0xe4, 0x3a, 0xb1, 0xe9, 0x3c, 0x6d, 0xff, 0x76,
        ];
        let c = ScramCredentials::derive(ScramHash::Sha1, "pencil", &salt, 4096);
        assert_eq!(
            hex(&c.stored_key),
            "e9d94660c39d65c38fbad91c358f14da0eef2bd6"
        );
        assert_eq!(
            hex(&c.server_key),
            "0fe09258b3ac852ba502cc62ba903eaacdbf7d31"
        );
        assert!(c.is_well_formed());
        assert!(c.verify_password("pencil"));
        assert!(!c.verify_password("Pencil"));
        assert!(!format!("{c:?}").contains("e9d9"));
    }
}
