//! TLS with rustls: configurations for both sides and channel-binding
//! export for SCRAM-*-PLUS.
//!
//! rustls is itself sans-IO, so the [`Engine`](super::Engine) runs it
//! in memory; this module only builds its configurations and reads what a
//! finished handshake offers for channel binding.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::client::TlsInfo;
use crate::sasl::{ChannelBinding, ChannelBindingType};

/// ALPN protocol of XMPP client-to-server direct TLS (XEP-0368).
pub const ALPN_XMPP_CLIENT: &[u8] = b"xmpp-client";

/// The label of the `tls-exporter` channel binding (RFC 9266).
const EXPORTER_LABEL: &[u8] = b"EXPORTER-Channel-Binding";

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsSetupError {
    /// A certificate or key file could not be read or parsed.
    #[error("cannot read {what} from {path}: {message}")]
    Pem {
        /// What was expected (certificates, a private key).
        what: &'static str,
        /// The file, or `<memory>`.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// A file held no certificate.
    #[error("{0} holds no certificate")]
    NoCertificate(String),
    /// rustls refused the configuration (a bad key, an unusable root).
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// The system trust store could not be loaded and no other root was
    /// given.
    #[error("no trusted root certificates: {0}")]
    NoRoots(String),
}

/// Which root certificates a client trusts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Roots {
    /// The operating system's trust store (rustls-native-certs).
    #[default]
    System,
    /// The Mozilla roots compiled into the program (webpki-roots).
    Webpki,
    /// None but the extra CAs given: for private deployments and tests.
    ExtraOnly,
}

/// What a client's TLS trusts and offers.
#[derive(Debug, Clone, Default)]
pub struct ClientTls {
    /// The base set of roots.
    pub roots: Roots,
    /// Extra CA certificates (DER) trusted besides the roots.
    pub extra_cas: Vec<CertificateDer<'static>>,
}

impl ClientTls {
    /// System roots, no extra CA.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts the CA certificates of a PEM file besides the roots.
    ///
    /// # Errors
    /// [`TlsSetupError`] if the file cannot be read or holds no certificate.
    pub fn add_ca_file(&mut self, path: impl AsRef<Path>) -> Result<&mut Self, TlsSetupError> {
        let path = path.as_ref();
        let certs = load_certs(path)?;
        self.extra_cas.extend(certs);
        Ok(self)
    }

    /// Trusts the CA certificates of PEM text besides the roots.
    ///
    /// # Errors
    /// [`TlsSetupError`] if the text holds no certificate.
    pub fn add_ca_pem(&mut self, pem: &[u8]) -> Result<&mut Self, TlsSetupError> {
        let certs = parse_certs(pem, "<memory>")?;
        self.extra_cas.extend(certs);
        Ok(self)
    }

    /// Builds the rustls configuration, offering `alpn` (e.g.
    /// [`ALPN_XMPP_CLIENT`] for direct TLS) when given.
    ///
    /// # Errors
    /// [`TlsSetupError`] if no root could be loaded at all.
    pub fn build(&self, alpn: Option<&[u8]>) -> Result<Arc<rustls::ClientConfig>, TlsSetupError> {
        let mut store = rustls::RootCertStore::empty();
        match self.roots {
            Roots::System => {
                let native = rustls_native_certs::load_native_certs();
                let (added, _ignored) = store.add_parsable_certificates(native.certs);
                if added == 0 && self.extra_cas.is_empty() {
                    let why = native
                        .errors
                        .first()
                        .map_or_else(|| "the system store is empty".to_owned(), |e| e.to_string());
                    return Err(TlsSetupError::NoRoots(why));
                }
            }
            Roots::Webpki => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            Roots::ExtraOnly => {
                if self.extra_cas.is_empty() {
                    return Err(TlsSetupError::NoRoots("no extra CA was given".to_owned()));
                }
            }
        }
        for ca in &self.extra_cas {
            store.add(ca.clone())?;
        }
        let mut config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(store)
            .with_no_client_auth();
        if let Some(alpn) = alpn {
            config.alpn_protocols = vec![alpn.to_vec()];
        }
        Ok(Arc::new(config))
    }
}

/// A server's certificate and key, ready for rustls.
#[derive(Debug, Clone)]
pub struct ServerTls {
    config: Arc<rustls::ServerConfig>,
    /// The `tls-server-end-point` binding of our certificate.
    end_point: Option<Vec<u8>>,
}

impl ServerTls {
    /// From a PEM certificate chain (leaf first) and a PEM private key.
    ///
    /// # Errors
    /// [`TlsSetupError`] if either cannot be parsed or rustls refuses them.
    pub fn from_pem(chain: &[u8], key: &[u8]) -> Result<Self, TlsSetupError> {
        let certs = parse_certs(chain, "<memory>")?;
        let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| TlsSetupError::Pem {
            what: "a private key",
            path: "<memory>".to_owned(),
            message: e.to_string(),
        })?;
        Self::new(certs, key)
    }

    /// From PEM files.
    ///
    /// # Errors
    /// [`TlsSetupError`] if a file cannot be read or parsed.
    pub fn from_pem_files(
        chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<Self, TlsSetupError> {
        let certs = load_certs(chain.as_ref())?;
        let key = PrivateKeyDer::from_pem_file(key.as_ref()).map_err(|e| TlsSetupError::Pem {
            what: "a private key",
            path: key.as_ref().display().to_string(),
            message: e.to_string(),
        })?;
        Self::new(certs, key)
    }

    /// From DER certificates (leaf first) and a key.
    ///
    /// # Errors
    /// [`TlsSetupError`] if rustls refuses them.
    pub fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self, TlsSetupError> {
        let end_point = chain.first().and_then(|leaf| server_end_point(leaf));
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        config.alpn_protocols = vec![ALPN_XMPP_CLIENT.to_vec()];
        Ok(Self {
            config: Arc::new(config),
            end_point,
        })
    }

    /// The rustls configuration.
    pub fn config(&self) -> &Arc<rustls::ServerConfig> {
        &self.config
    }

    pub(crate) fn end_point(&self) -> Option<&[u8]> {
        self.end_point.as_deref()
    }
}

/// 32 bytes from the operating system's generator (through ring), for the
/// seeds of connections, WebSocket masks and SRV ordering.
///
/// # Errors
/// [`TlsSetupError::Rustls`] if the system generator fails.
#[cfg_attr(
    not(any(feature = "futures-io", feature = "blocking")),
    allow(dead_code)
)]
pub(crate) fn os_seed() -> Result<[u8; 32], TlsSetupError> {
    let mut seed = [0u8; 32];
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut seed)
        .map_err(|_| TlsSetupError::Rustls(rustls::Error::FailedToGetRandomBytes))?;
    Ok(seed)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let shown = path.display().to_string();
    let pem = std::fs::read(path).map_err(|e| TlsSetupError::Pem {
        what: "certificates",
        path: shown.clone(),
        message: e.to_string(),
    })?;
    parse_certs(&pem, &shown)
}

fn parse_certs(pem: &[u8], shown: &str) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsSetupError::Pem {
            what: "certificates",
            path: shown.to_owned(),
            message: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsSetupError::NoCertificate(shown.to_owned()));
    }
    Ok(certs)
}

/// The channel bindings a finished handshake offers: `tls-exporter` on
/// TLS 1.3 (RFC 9266 requires 1.3 or the extended master secret, which
/// rustls always uses on 1.2, but we keep to 1.3 as XEP-0440 advises) and
/// `tls-server-end-point` (RFC 5929) from the server's certificate.
pub(crate) fn channel_bindings(
    connection: &rustls::Connection,
    own_end_point: Option<&[u8]>,
) -> TlsInfo {
    let mut bindings = Vec::new();
    if connection.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3) {
        let mut data = vec![0u8; 32];
        if connection
            .export_keying_material(&mut data[..], EXPORTER_LABEL, Some(&[]))
            .is_ok()
        {
            bindings.push(ChannelBinding::new(ChannelBindingType::TlsExporter, data));
        }
    }
    let end_point = match connection {
        rustls::Connection::Client(client) => client
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(server_end_point),
        rustls::Connection::Server(_) => own_end_point.map(<[u8]>::to_vec),
    };
    if let Some(end_point) = end_point {
        bindings.push(ChannelBinding::new(
            ChannelBindingType::TlsServerEndPoint,
            end_point,
        ));
    }
    TlsInfo {
        channel_bindings: bindings,
    }
}

/// RFC 5929 section 4.1: the certificate hashed with the hash of its
/// signature algorithm, SHA-256 when that is MD5 or SHA-1; `None` when the
/// algorithm is unknown (no binding rather than a wrong one).
fn server_end_point(cert: &CertificateDer<'_>) -> Option<Vec<u8>> {
    let der = cert.as_ref();
    let oid = signature_algorithm_oid(der)?;
    // The last arc of the OID names the hash in the PKCS#1 and ECDSA
    // families we recognise.
    const SHA256: &[&[u8]] = &[
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b], // sha256WithRSA
        &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02],       // ecdsa-with-SHA256
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05], // sha1WithRSA
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x04], // md5WithRSA
        &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01],             // ecdsa-with-SHA1
    ];
    const SHA384: &[&[u8]] = &[
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c], // sha384WithRSA
        &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03],       // ecdsa-with-SHA384
    ];
    const SHA512: &[&[u8]] = &[
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d], // sha512WithRSA
        &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04],       // ecdsa-with-SHA512
    ];
    if SHA256.contains(&oid) {
        Some(Sha256::digest(der).to_vec())
    } else if SHA384.contains(&oid) {
        Some(Sha384::digest(der).to_vec())
    } else if SHA512.contains(&oid) {
        Some(Sha512::digest(der).to_vec())
    } else {
        None
    }
}

/// Reads one DER TLV: (tag, contents, rest).
fn der_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let (bytes, after) = rest.split_at_checked(count)?;
        rest = after;
        bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
    };
    let (contents, rest) = rest.split_at_checked(len)?;
    Some((tag, contents, rest))
}

/// `Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm
/// AlgorithmIdentifier, signatureValue }`: the algorithm's OID contents.
fn signature_algorithm_oid(der: &[u8]) -> Option<&[u8]> {
    let (0x30, certificate, _) = der_tlv(der)? else {
        return None;
    };
    let (0x30, _tbs, rest) = der_tlv(certificate)? else {
        return None;
    };
    let (0x30, algorithm, _) = der_tlv(rest)? else {
        return None;
    };
    let (0x06, oid, _) = der_tlv(algorithm)? else {
        return None;
    };
    Some(oid)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn der_walk_refuses_truncated_and_oversized_lengths() {
        assert_eq!(der_tlv(&[0x30]), None);
        assert_eq!(der_tlv(&[0x30, 0x85, 1, 1, 1, 1, 1]), None);
        assert_eq!(der_tlv(&[0x30, 0x82, 0x01]), None);
        assert_eq!(der_tlv(&[0x30, 0x03, 1, 2]), None);
        assert_eq!(
            der_tlv(&[0x04, 0x02, 7, 8, 9]),
            Some((0x04, &[7u8, 8][..], &[9u8][..]))
        );
        assert_eq!(signature_algorithm_oid(&[0x30, 0x00]), None);
    }

    #[test]
    fn server_end_point_of_an_ecdsa_sha256_certificate_is_its_sha256() {
        let self_signed = |alg| {
            let key = rcgen::KeyPair::generate_for(alg).unwrap();
            let params = rcgen::CertificateParams::new(vec!["example.test".into()]).unwrap();
            params.self_signed(&key).unwrap().der().clone()
        };
        let der = self_signed(&rcgen::PKCS_ECDSA_P256_SHA256);
        assert_eq!(
            server_end_point(&der),
            Some(Sha256::digest(der.as_ref()).to_vec())
        );
        let der = self_signed(&rcgen::PKCS_ECDSA_P384_SHA384);
        assert_eq!(
            server_end_point(&der),
            Some(Sha384::digest(der.as_ref()).to_vec())
        );
        let der = self_signed(&rcgen::PKCS_ED25519);
        assert_eq!(server_end_point(&der), None, "Ed25519 has no hash");
    }

    #[test]
    fn pem_errors_say_what_and_where() {
        let err = ClientTls::new().add_ca_pem(b"not pem").unwrap_err();
        assert!(matches!(err, TlsSetupError::NoCertificate(_)), "{err}");
        let err = ClientTls::new()
            .add_ca_file("/nonexistent/ca.pem")
            .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
        let err = ClientTls {
            roots: Roots::ExtraOnly,
            extra_cas: Vec::new(),
        }
        .build(None)
        .unwrap_err();
        assert!(matches!(err, TlsSetupError::NoRoots(_)), "{err}");
    }
}
