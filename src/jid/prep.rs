//! Normalization and validation of each JID part (RFC 7622 sections 3.2 to
//! 3.4): PRECIS profiles for the localpart and resourcepart, UTS #46 /
//! IDNA2008 or an IP literal for the domainpart.

use std::net::{Ipv4Addr, Ipv6Addr};

use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};
use precis_profiles::precis_core::Error as PrecisError;
use precis_profiles::precis_core::profile::{PrecisFastInvocation, stabilize};
use precis_profiles::{OpaqueString, UsernameCaseMapped};

use super::{JidError, MAX_PART_LEN};

/// Maximum length in bytes of one domain label in its ASCII (A-label) form.
const MAX_LABEL_LEN: usize = 63;

/// Characters that RFC 7622 section 3.3.1 forbids in a localpart even though
/// the PRECIS IdentifierClass allows them.
const FORBIDDEN_LOCALPART_CHARS: [char; 8] = ['"', '&', '\'', '/', ':', '<', '>', '@'];

/// Human-readable reason for a PRECIS failure.
fn precis_reason(err: &PrecisError) -> String {
    match err {
        PrecisError::BadCodepoint(info) => match char::from_u32(info.cp) {
            Some(c) if !c.is_control() => format!(
                "disallowed character U+{:04X} '{}' at character index {}",
                info.cp, c, info.position
            ),
            _ => format!(
                "disallowed character U+{:04X} at character index {}",
                info.cp, info.position
            ),
        },
        PrecisError::Invalid => {
            "not a valid PRECIS string (empty after mapping, unstable, or violates the bidi rule)"
                .to_owned()
        }
        PrecisError::Unexpected(e) => format!("PRECIS processing failed: {e}"),
    }
}

// ---------------------------------------------------------------------------
// Part preparation
// ---------------------------------------------------------------------------

/// Normalizes and validates a localpart.
pub(super) fn prep_localpart(raw: &str) -> Result<String, JidError> {
    if raw.is_empty() {
        return Err(JidError::EmptyLocalpart);
    }
    let enforced = stabilize(raw, |s| UsernameCaseMapped::enforce(s))
        .map_err(|e| JidError::InvalidLocalpart(precis_reason(&e)))?;
    if let Some(c) = enforced
        .chars()
        .find(|c| FORBIDDEN_LOCALPART_CHARS.contains(c))
    {
        return Err(JidError::ForbiddenLocalpartChar(c));
    }
    let len = enforced.len();
    if len > MAX_PART_LEN {
        return Err(JidError::LocalpartTooLong { len });
    }
    Ok(enforced.into_owned())
}

/// Normalizes and validates a resourcepart.
pub(super) fn prep_resourcepart(raw: &str) -> Result<String, JidError> {
    if raw.is_empty() {
        return Err(JidError::EmptyResource);
    }
    let enforced = stabilize(raw, |s| OpaqueString::enforce(s))
        .map_err(|e| JidError::InvalidResource(precis_reason(&e)))?;
    let len = enforced.len();
    if len > MAX_PART_LEN {
        return Err(JidError::ResourceTooLong { len });
    }
    Ok(enforced.into_owned())
}

/// Normalizes and validates a domainpart.
pub(super) fn prep_domainpart(raw: &str) -> Result<String, JidError> {
    if raw.is_empty() {
        return Err(JidError::EmptyDomain);
    }
    if let Some(inner) = raw.strip_prefix('[') {
        return prep_ipv6_literal(inner);
    }
    // Give a precise reason for the common ASCII mistakes before handing the
    // string to UTS #46, whose error carries no detail.
    if let Some(c) = raw
        .chars()
        .find(|c| c.is_ascii() && !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.'))
    {
        return Err(JidError::InvalidDomain(format!(
            "character {c:?} is not allowed in a domain name"
        )));
    }

    let uts46 = Uts46::new();
    let ascii = uts46
        .to_ascii(
            raw.as_bytes(),
            AsciiDenyList::STD3,
            Hyphens::CheckFirstLast,
            DnsLength::Ignore,
        )
        .map_err(|_| {
            JidError::InvalidDomain(
                "not a valid internationalized domain name (IDNA2008 / UTS #46)".to_owned(),
            )
        })?;
    // RFC 7622 section 3.2: a single trailing label separator is removed.
    let ascii = ascii.strip_suffix('.').unwrap_or(&ascii);
    if ascii.is_empty() {
        return Err(JidError::EmptyDomain);
    }
    for label in ascii.split('.') {
        if label.is_empty() {
            return Err(JidError::InvalidDomain("empty label".to_owned()));
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(JidError::InvalidDomain(format!(
                "label is {} bytes in ASCII form (maximum 63)",
                label.len()
            )));
        }
    }
    if ascii.parse::<Ipv4Addr>().is_ok() {
        return Ok(ascii.to_owned());
    }
    let last_label = ascii.rsplit('.').next().unwrap_or(ascii);
    if last_label.bytes().all(|b| b.is_ascii_digit()) {
        return Err(JidError::InvalidDomain(
            "numeric top-level label, but not a valid IPv4 address".to_owned(),
        ));
    }
    let (unicode, result) = uts46.to_unicode(
        ascii.as_bytes(),
        AsciiDenyList::STD3,
        Hyphens::CheckFirstLast,
    );
    if result.is_err() {
        return Err(JidError::InvalidDomain(
            "not a valid internationalized domain name (IDNA2008 / UTS #46)".to_owned(),
        ));
    }
    let len = unicode.len();
    if len > MAX_PART_LEN {
        return Err(JidError::DomainTooLong { len });
    }
    Ok(unicode.into_owned())
}

/// Validates `[IPv6]`; `inner` is everything after the `[`.
fn prep_ipv6_literal(inner: &str) -> Result<String, JidError> {
    let addr = inner
        .strip_suffix(']')
        .ok_or_else(|| JidError::InvalidDomain("IPv6 literal lacks the closing ']'".to_owned()))?;
    if addr.parse::<Ipv6Addr>().is_err() {
        return Err(JidError::InvalidDomain(format!(
            "invalid IPv6 address literal [{addr}]"
        )));
    }
    let mut out = String::with_capacity(addr.len() + 2);
    out.push('[');
    out.push_str(&addr.to_ascii_lowercase());
    out.push(']');
    Ok(out)
}

// ---------------------------------------------------------------------------
// Assembly
// ---------------------------------------------------------------------------
