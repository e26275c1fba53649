//! Normalization and validation of each JID part (RFC 7622 sections 3.2 to
//! 3.4): PRECIS profiles for the localpart and resourcepart, UTS #46 /
//! IDNA2008 or an IP literal for the domainpart.

use std::borrow::Cow;
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

/// Normalizes and validates a localpart; borrowed when already normalized.
pub(super) fn prep_localpart(raw: &str) -> Result<Cow<'_, str>, JidError> {
    if raw.is_empty() {
        return Err(JidError::EmptyLocalpart);
    }
    if let Some(fast) = ascii_localpart(raw) {
        return Ok(fast);
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
    Ok(enforced)
}

/// Normalizes and validates a resourcepart; borrowed when already normalized.
pub(super) fn prep_resourcepart(raw: &str) -> Result<Cow<'_, str>, JidError> {
    if raw.is_empty() {
        return Err(JidError::EmptyResource);
    }
    if let Some(fast) = ascii_resourcepart(raw) {
        return Ok(fast);
    }
    let enforced = stabilize(raw, |s| OpaqueString::enforce(s))
        .map_err(|e| JidError::InvalidResource(precis_reason(&e)))?;
    let len = enforced.len();
    if len > MAX_PART_LEN {
        return Err(JidError::ResourceTooLong { len });
    }
    Ok(enforced)
}

/// Normalizes and validates a domainpart; borrowed when already normalized.
pub(super) fn prep_domainpart(raw: &str) -> Result<Cow<'_, str>, JidError> {
    if raw.is_empty() {
        return Err(JidError::EmptyDomain);
    }
    if let Some(inner) = raw.strip_prefix('[') {
        return prep_ipv6_literal(inner).map(Cow::Owned);
    }
    if let Some(fast) = ascii_domainpart(raw) {
        return Ok(fast);
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
        return Ok(borrowed_if_same(raw, ascii));
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
    Ok(borrowed_if_same(raw, &unicode))
}

/// `raw` itself when `prepared` is the same string, else a copy of `prepared`.
fn borrowed_if_same<'a>(raw: &'a str, prepared: &str) -> Cow<'a, str> {
    if raw == prepared {
        Cow::Borrowed(raw)
    } else {
        Cow::Owned(prepared.to_owned())
    }
}

/// `raw` itself when it has no ASCII uppercase letter, else its lowercasing.
fn ascii_lowercased(raw: &str) -> Cow<'_, str> {
    if raw.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(raw.to_ascii_lowercase())
    } else {
        Cow::Borrowed(raw)
    }
}

// ---------------------------------------------------------------------------
// ASCII fast paths
//
// Most JIDs on the wire are plain ASCII, for which the PRECIS profiles and
// UTS #46 reduce to simple rules. Each fast path accepts only input it can
// prove valid and returns exactly what the full path returns for it (a
// proptest below checks this); anything else, including every error, goes
// through the full path.
// ---------------------------------------------------------------------------

/// UsernameCaseMapped on printable ASCII without space is ASCII lowercasing
/// (RFC 8265 section 3.3: width mapping, NFC and the bidi rule do nothing
/// to it; IdentifierClass allows all of U+0021..U+007E).
fn ascii_localpart(raw: &str) -> Option<Cow<'_, str>> {
    let plain = raw.len() <= MAX_PART_LEN
        && raw.bytes().all(|b| {
            (0x21..=0x7E).contains(&b) && !FORBIDDEN_LOCALPART_CHARS.contains(&char::from(b))
        });
    plain.then(|| ascii_lowercased(raw))
}

/// OpaqueString on printable ASCII (space included) is the identity
/// (RFC 8265 section 4.2: FreeformClass allows U+0020..U+007E).
fn ascii_resourcepart(raw: &str) -> Option<Cow<'_, str>> {
    let plain = raw.len() <= MAX_PART_LEN && raw.bytes().all(|b| (0x20..=0x7E).contains(&b));
    plain.then_some(Cow::Borrowed(raw))
}

/// UTS #46 on letters, digits, hyphens and dots, with no A-label (`xn--`)
/// and no leading or trailing hyphen, is ASCII lowercasing.
fn ascii_domainpart(raw: &str) -> Option<Cow<'_, str>> {
    if !raw
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return None;
    }
    let domain = raw.strip_suffix('.').unwrap_or(raw);
    if domain.is_empty() || domain.len() > MAX_PART_LEN {
        return None;
    }
    let mut last = "";
    for label in domain.split('.') {
        let a_label = label
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("xn--"));
        if label.is_empty()
            || label.len() > MAX_LABEL_LEN
            || label.starts_with('-')
            || label.ends_with('-')
            || a_label
        {
            return None;
        }
        last = label;
    }
    // IPv4 literals and numeric top-level labels take the full path.
    if last.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(ascii_lowercased(domain))
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

#[cfg(test)]
mod fast_path_tests {
    use super::*;
    use proptest::prelude::*;

    fn slow_localpart(raw: &str) -> Result<String, JidError> {
        let enforced = stabilize(raw, |s| UsernameCaseMapped::enforce(s))
            .map_err(|e| JidError::InvalidLocalpart(precis_reason(&e)))?;
        Ok(enforced.into_owned())
    }

    fn slow_resourcepart(raw: &str) -> Result<String, JidError> {
        let enforced = stabilize(raw, |s| OpaqueString::enforce(s))
            .map_err(|e| JidError::InvalidResource(precis_reason(&e)))?;
        Ok(enforced.into_owned())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn ascii_localpart_agrees_with_precis(raw in "[ -~]{1,24}") {
            if let Some(fast) = ascii_localpart(&raw) {
                prop_assert_eq!(Ok(fast.into_owned()), slow_localpart(&raw));
            }
        }

        #[test]
        fn ascii_resourcepart_agrees_with_precis(raw in "[ -~]{1,24}") {
            if let Some(fast) = ascii_resourcepart(&raw) {
                prop_assert_eq!(Ok(fast.into_owned()), slow_resourcepart(&raw));
            }
        }

        #[test]
        fn ascii_domainpart_agrees_with_uts46(raw in "([a-zA-Z0-9-]{0,6}\\.){0,3}[a-zA-Z0-9-]{0,6}\\.?|[xX][nN]--[a-z0-9]{1,6}\\.com") {
            if let Some(fast) = ascii_domainpart(&raw) {
                // The full path, with the fast path out of the way.
                let uts46 = Uts46::new();
                let (unicode, result) = uts46.to_unicode(raw.as_bytes(), AsciiDenyList::STD3, Hyphens::CheckFirstLast);
                prop_assert!(result.is_ok(), "{} accepted by the fast path only", raw);
                let unicode = unicode.strip_suffix('.').unwrap_or(&unicode).to_owned();
                prop_assert_eq!(fast, unicode);
            }
        }
    }

    #[test]
    fn fast_paths_take_the_common_cases() {
        assert_eq!(ascii_localpart("Juliet").as_deref(), Some("juliet"));
        assert_eq!(
            ascii_resourcepart("Balcony 2").as_deref(),
            Some("Balcony 2")
        );
        assert_eq!(
            ascii_domainpart("Example.COM.").as_deref(),
            Some("example.com")
        );
        assert_eq!(ascii_domainpart("xn--mnchen-3ya.de"), None);
        assert_eq!(ascii_domainpart("127.0.0.1"), None);
        assert_eq!(ascii_localpart("a@b"), None);
    }
}
