//! A certificate for local use: a fresh CA and a leaf for the hub's
//! domains, signed by it, made at start. Clients trust the CA (its PEM is
//! printed or written to a file); nothing needs "accept any certificate".

use crate::rt::{ServerTls, TlsSetupError};

/// What [`local_ca`] made.
pub(crate) struct LocalCa {
    /// The CA certificate, PEM: give it to clients.
    pub(crate) ca_pem: String,
    /// The server's chain and key.
    pub(crate) server: ServerTls,
    /// The chain and key, PEM (to keep them).
    chain_pem: String,
    key_pem: String,
}

/// Where the local certificate is kept in the store.
const META_NAMES: &str = "hub.local_tls.names";
const META_CA: &str = "hub.local_tls.ca";
const META_CHAIN: &str = "hub.local_tls.chain";
const META_KEY: &str = "hub.local_tls.key";

/// The local CA kept in `store` for the same names (so clients that
/// trust it keep working after a restart), or a new one, kept there.
pub(crate) fn stored_local_ca(
    store: &dyn super::store::Store,
    names: &[String],
) -> Result<LocalCa, super::HubError> {
    let names_text = names.join(" ");
    let kept = (|| {
        if store.meta(META_NAMES).ok()??.as_str() != names_text {
            return None;
        }
        let ca_pem = store.meta(META_CA).ok()??;
        let chain_pem = store.meta(META_CHAIN).ok()??;
        let key_pem = store.meta(META_KEY).ok()??;
        let server = ServerTls::from_pem(chain_pem.as_bytes(), key_pem.as_bytes()).ok()?;
        Some(LocalCa {
            ca_pem,
            server,
            chain_pem,
            key_pem,
        })
    })();
    if let Some(kept) = kept {
        return Ok(kept);
    }
    let made = local_ca(names)?;
    store.set_meta(META_CA, &made.ca_pem)?;
    store.set_meta(META_CHAIN, &made.chain_pem)?;
    store.set_meta(META_KEY, &made.key_pem)?;
    store.set_meta(META_NAMES, &names_text)?;
    Ok(made)
}

/// Why a local certificate could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    /// rcgen refused (an invalid name, say).
    #[error("cannot make a local certificate: {0}")]
    Generate(String),
    /// rustls refused the result.
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
}

/// A CA valid for about two years from now and a leaf for `names` (and
/// their subdomains, and 127.0.0.1 / ::1) signed by it.
pub(crate) fn local_ca(names: &[String]) -> Result<LocalCa, CertError> {
    let err = |e: rcgen::Error| CertError::Generate(e.to_string());
    let year = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 31_556_952);
    let year = 1970 + i32::try_from(year).unwrap_or(100);
    // Short of rcgen's default (year 4096), which some peers cannot handle.
    let not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    let not_after = rcgen::date_time_ymd(year + 2, 1, 1);

    let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(err)?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(
        rcgen::DnType::CommonName,
        "xmpp-kit hub local CA (generated at start)",
    );
    ca_params.not_before = not_before;
    ca_params.not_after = not_after;
    let ca_cert = ca_params.self_signed(&ca_key).map_err(err)?;
    let issuer = rcgen::Issuer::new(ca_params, ca_key);

    let mut sans: Vec<String> = Vec::new();
    for name in names {
        sans.push(name.clone());
        sans.push(format!("*.{name}"));
    }
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(err)?;
    let mut params = rcgen::CertificateParams::new(sans).map_err(err)?;
    params
        .subject_alt_names
        .push(rcgen::SanType::IpAddress([127, 0, 0, 1].into()));
    params.subject_alt_names.push(rcgen::SanType::IpAddress(
        std::net::Ipv6Addr::LOCALHOST.into(),
    ));
    if let Some(first) = names.first() {
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, first.as_str());
    }
    params.not_before = not_before;
    params.not_after = not_after;
    let cert = params.signed_by(&key, &issuer).map_err(err)?;
    let chain = format!("{}{}", cert.pem(), ca_cert.pem());
    let key_pem = key.serialize_pem();
    let server = ServerTls::from_pem(chain.as_bytes(), key_pem.as_bytes())?;
    Ok(LocalCa {
        ca_pem: ca_cert.pem(),
        server,
        chain_pem: chain,
        key_pem,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makes_a_ca_and_a_leaf() {
        let ca = local_ca(&["hub.test".to_owned()]).unwrap();
        assert!(ca.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    }
}
