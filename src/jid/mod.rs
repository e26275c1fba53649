//! XMPP addresses (JIDs) per [RFC 7622], with PRECIS normalization.
//!
//! A JID has the form `[localpart@]domainpart[/resourcepart]`. This module
//! provides three types:
//!
//! * [`BareJid`]: an optional localpart and a domainpart (`juliet@example.com`,
//!   `example.com`);
//! * [`FullJid`]: a bare JID plus a resourcepart (`juliet@example.com/balcony`);
//! * [`Jid`]: either of the two.
//!
//! Every value is normalized when it is built, so equality, ordering and
//! hashing compare the normalized forms, and [`Display`](fmt::Display) prints
//! the normalized form. Each value stores its normalized string once (behind
//! an [`Arc`], so cloning is cheap) together with the offsets of the parts;
//! [`Jid::as_str`] and the part accessors never allocate.
//!
//! ```
//! use xmpp_kit::Jid;
//!
//! let j: Jid = "Juliet@Example.com/Balcony".parse()?;
//! assert_eq!(j.to_string(), "juliet@example.com/Balcony");
//! assert_eq!(j.node(), Some("juliet"));
//! assert_eq!(j.domain(), "example.com");
//! assert_eq!(j.resource(), Some("Balcony"));
//! assert_eq!(j.to_bare().as_str(), "juliet@example.com");
//! # Ok::<(), xmpp_kit::JidError>(())
//! ```
//!
//! # Parsing (RFC 7622 section 3.1)
//!
//! The string is split at the **first** `/`: everything after it is the
//! resourcepart (which may itself contain `/` and `@`). The part before it is
//! split at its first `@`: what precedes is the localpart, what follows is the
//! domainpart. A `@` or `/` with nothing before resp. after it is an error
//! ([`JidError::EmptyLocalpart`], [`JidError::EmptyResource`]), as is an empty
//! domainpart. Thus `a@b@c` has localpart `a` and the (invalid) domainpart
//! `b@c`.
//!
//! # Normalization of each part
//!
//! * **Localpart** (RFC 7622 section 3.3): PRECIS `UsernameCaseMapped`
//!   (RFC 8265: width mapping, lowercasing, NFC, bidi rule; the
//!   IdentifierClass rejects spaces, symbols such as `♚`, and characters with
//!   compatibility decompositions such as `Ⅳ`), applied until stable, after
//!   which the characters `" & ' / : < > @` are rejected. 1 to 1023 bytes
//!   after normalization. Lowercasing is not case folding: `ß` stays `ß` and
//!   final sigma `ς` stays `ς`, while `Σ` becomes `σ`.
//! * **Domainpart** (RFC 7622 section 3.2):
//!   * `[...]` is an IPv6 literal: the inside must parse as an
//!     [`Ipv6Addr`](std::net::Ipv6Addr); it is kept as written except that hex digits are
//!     lowercased (`[2001:DB8::1]` becomes `[2001:db8::1]`).
//!   * Anything else goes through UTS #46 processing (IDNA2008 with the UTS
//!     #46 mapping, non-transitional) with the STD3 ASCII rules and no leading
//!     or trailing hyphen in a label. This lowercases, maps full-width
//!     characters and ideographic full stops, applies NFC, and checks IDNA2008
//!     validity and the bidi rule. Then **one** trailing `.` is removed (RFC
//!     7622 section 3.2), every label must be 1 to 63 bytes in its ASCII
//!     (A-label) form, and the whole stored domainpart must be 1 to 1023
//!     bytes.
//!   * The stored form uses **U-labels**: A-labels are converted, so
//!     `xn--mnchen-3ya.de` and `MÜNCHEN.de` both become `münchen.de` (RFC
//!     7622 section 3.2.1 requires A-labels to be converted to U-labels).
//!   * **Underscores are rejected**, like every other ASCII character outside
//!     letters, digits, `-` and `.`: RFC 7622 requires IDNA2008 domain names,
//!     whose ASCII labels are LDH labels, and the STD3 rules forbid `_`. So
//!     `_xmpp.example.com` is not a valid domainpart.
//!   * A result that parses as an [`Ipv4Addr`](std::net::Ipv4Addr) (dotted quad) is an IPv4
//!     literal and kept as is. Any other name whose last label is all
//!     digits is rejected (RFC 1123 section 2.1: a top-level label is never
//!     numeric), so malformed addresses such as `256.1.1.1` or `1.2.3` are
//!     errors rather than host names.
//! * **Resourcepart** (RFC 7622 section 3.4): PRECIS `OpaqueString`
//!   (RFC 8265: non-ASCII spaces become U+0020, NFC; control characters are
//!   rejected), applied until stable. Case and leading or trailing spaces
//!   are preserved. 1 to 1023 bytes after normalization.
//!
//! # XEP-0106 escaping
//!
//! [`escape_node`] and [`unescape_node`] implement JID escaping for
//! localparts; [`BareJid::new_escaped`] and [`BareJid::unescaped_node`] apply
//! them to JIDs.
//!
//! [RFC 7622]: https://www.rfc-editor.org/rfc/rfc7622

mod escape;
mod prep;

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use std::str::FromStr;
use std::sync::Arc;

pub use escape::{escape_node, unescape_node};
use prep::{prep_domainpart, prep_localpart, prep_resourcepart};

/// Maximum length in bytes of each JID part after normalization
/// (RFC 7622 section 3.1).
pub const MAX_PART_LEN: usize = 1023;

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// The part of a JID an error refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JidPart {
    /// The localpart (the part before `@`).
    Local,
    /// The domainpart.
    Domain,
    /// The resourcepart (the part after `/`).
    Resource,
}

/// Why a string is not a valid JID (or JID part).
///
/// Every variant names the part that failed; see [`JidError::part`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JidError {
    /// A `@` is present but nothing precedes it.
    #[error("invalid JID localpart: empty (nothing before '@')")]
    EmptyLocalpart,
    /// The localpart is longer than 1023 bytes after normalization.
    #[error("invalid JID localpart: {len} bytes after normalization (maximum 1023)")]
    LocalpartTooLong {
        /// Length in bytes after normalization.
        len: usize,
    },
    /// The localpart contains one of `" & ' / : < > @` (after normalization).
    #[error("invalid JID localpart: contains forbidden character '{0}'")]
    ForbiddenLocalpartChar(char),
    /// The localpart is rejected by the PRECIS `UsernameCaseMapped` profile.
    #[error("invalid JID localpart: {0}")]
    InvalidLocalpart(String),
    /// The domainpart is empty (also: the whole string is empty).
    #[error("invalid JID domainpart: empty")]
    EmptyDomain,
    /// The domainpart is longer than 1023 bytes after normalization.
    #[error("invalid JID domainpart: {len} bytes after normalization (maximum 1023)")]
    DomainTooLong {
        /// Length in bytes after normalization.
        len: usize,
    },
    /// The domainpart is neither a valid domain name nor an IP literal.
    #[error("invalid JID domainpart: {0}")]
    InvalidDomain(String),
    /// A `/` is present but nothing follows it.
    #[error("invalid JID resourcepart: empty (nothing after '/')")]
    EmptyResource,
    /// The resourcepart is longer than 1023 bytes after normalization.
    #[error("invalid JID resourcepart: {len} bytes after normalization (maximum 1023)")]
    ResourceTooLong {
        /// Length in bytes after normalization.
        len: usize,
    },
    /// The resourcepart is rejected by the PRECIS `OpaqueString` profile.
    #[error("invalid JID resourcepart: {0}")]
    InvalidResource(String),
    /// A full JID was required but the JID has no resourcepart.
    #[error("invalid full JID: no resourcepart")]
    MissingResource,
    /// A bare JID was required but the string has a resourcepart.
    #[error("invalid bare JID: has a resourcepart")]
    UnexpectedResource,
    /// [`escape_node`] was given a string that starts or ends with a space,
    /// which XEP-0106 does not allow in an escaped localpart.
    #[error("cannot escape JID localpart: leading or trailing space is not allowed (XEP-0106)")]
    EscapeLeadingOrTrailingSpace,
}

impl JidError {
    /// The part of the JID this error is about.
    pub fn part(&self) -> JidPart {
        match self {
            Self::EmptyLocalpart
            | Self::LocalpartTooLong { .. }
            | Self::ForbiddenLocalpartChar(_)
            | Self::InvalidLocalpart(_)
            | Self::EscapeLeadingOrTrailingSpace => JidPart::Local,
            Self::EmptyDomain | Self::DomainTooLong { .. } | Self::InvalidDomain(_) => {
                JidPart::Domain
            }
            Self::EmptyResource
            | Self::ResourceTooLong { .. }
            | Self::InvalidResource(_)
            | Self::MissingResource
            | Self::UnexpectedResource => JidPart::Resource,
        }
    }
}

/// A validated, normalized JID string with the offsets of its separators.
/// It borrows the input when that was already normalized.
struct Normalized<'a> {
    s: Cow<'a, str>,
    /// Byte offset of the `@` separating localpart and domainpart.
    at: Option<usize>,
    /// Byte offset of the `/` separating domainpart and resourcepart.
    slash: Option<usize>,
}

/// Validates each raw part and joins the normalized parts.
fn normalize<'a>(
    node: Option<&str>,
    domain: &str,
    resource: Option<&str>,
) -> Result<Normalized<'a>, JidError> {
    normalize_parts(None, node, domain, resource)
}

/// Validates a JID string; the result borrows `whole` when every part is
/// already normalized, which is what JIDs on the wire nearly always are.
fn normalize_str(whole: &str) -> Result<Normalized<'_>, JidError> {
    let (node, domain, resource) = split(whole);
    normalize_parts(Some(whole), node, domain, resource)
}

fn normalize_parts<'a>(
    whole: Option<&'a str>,
    raw_node: Option<&str>,
    raw_domain: &str,
    raw_resource: Option<&str>,
) -> Result<Normalized<'a>, JidError> {
    let node = raw_node.map(prep_localpart).transpose()?;
    let domain = prep_domainpart(raw_domain)?;
    let resource = raw_resource.map(prep_resourcepart).transpose()?;
    // A borrowed part as long as its raw part is that part unchanged.
    let unchanged = |part: Option<&Cow<'_, str>>, raw: Option<&str>| match (part, raw) {
        (Some(Cow::Borrowed(p)), Some(r)) => p.len() == r.len(),
        (None, None) => true,
        _ => false,
    };
    if let Some(whole) = whole
        && unchanged(node.as_ref(), raw_node)
        && unchanged(Some(&domain), Some(raw_domain))
        && unchanged(resource.as_ref(), raw_resource)
    {
        return Ok(Normalized {
            s: Cow::Borrowed(whole),
            at: raw_node.map(str::len),
            slash: raw_resource.map(|r| whole.len() - r.len() - 1),
        });
    }
    let cap = node.as_ref().map_or(0, |n| n.len() + 1)
        + domain.len()
        + resource.as_ref().map_or(0, |r| r.len() + 1);
    let mut s = String::with_capacity(cap);
    let mut at = None;
    if let Some(node) = node {
        s.push_str(&node);
        at = Some(s.len());
        s.push('@');
    }
    s.push_str(&domain);
    let mut slash = None;
    if let Some(resource) = resource {
        slash = Some(s.len());
        s.push('/');
        s.push_str(&resource);
    }
    Ok(Normalized {
        s: Cow::Owned(s),
        at,
        slash,
    })
}

/// Splits a JID string into its raw parts (RFC 7622 section 3.1).
fn split(s: &str) -> (Option<&str>, &str, Option<&str>) {
    let (bare, resource) = match s.split_once('/') {
        Some((bare, resource)) => (bare, Some(resource)),
        None => (s, None),
    };
    match bare.split_once('@') {
        Some((node, domain)) => (Some(node), domain, resource),
        None => (None, bare, resource),
    }
}

/// `s[start..end]`, or `""` if the range is invalid (which the invariants of
/// the JID types rule out).
fn slice(s: &str, start: usize, end: usize) -> &str {
    s.get(start..end).unwrap_or("")
}

// ---------------------------------------------------------------------------
// BareJid
// ---------------------------------------------------------------------------

/// A JID without a resourcepart: `[localpart@]domainpart`.
///
/// ```
/// use xmpp_kit::BareJid;
///
/// let j: BareJid = "Romeo@Example.NET".parse()?;
/// assert_eq!(j.as_str(), "romeo@example.net");
/// assert_eq!(j.node(), Some("romeo"));
/// assert_eq!(j.domain(), "example.net");
/// # Ok::<(), xmpp_kit::JidError>(())
/// ```
#[derive(Clone)]
pub struct BareJid {
    inner: Arc<str>,
    at: Option<usize>,
}

impl BareJid {
    /// Builds a bare JID from an optional localpart and a domainpart, each
    /// validated and normalized as described in the [module docs](self).
    ///
    /// # Errors
    ///
    /// Any [`JidError`] about the localpart or the domainpart.
    pub fn new(node: Option<&str>, domain: &str) -> Result<Self, JidError> {
        Ok(Self::from_normalized(normalize(node, domain, None)?))
    }

    /// Builds a domain-only JID such as `example.com`.
    ///
    /// # Errors
    ///
    /// Any [`JidError`] about the domainpart.
    pub fn domain_only(domain: &str) -> Result<Self, JidError> {
        Self::new(None, domain)
    }

    /// Builds a bare JID whose localpart is the XEP-0106 escaping (see
    /// [`escape_node`]) of `raw_node`, e.g. `d'artagnan` becomes
    /// `d\27artagnan`.
    ///
    /// # Errors
    ///
    /// [`JidError::EscapeLeadingOrTrailingSpace`], or any [`JidError`] about
    /// the escaped localpart or the domainpart.
    pub fn new_escaped(raw_node: &str, domain: &str) -> Result<Self, JidError> {
        let node = escape_node(raw_node)?;
        Self::new(Some(&node), domain)
    }

    fn from_normalized(n: Normalized<'_>) -> Self {
        Self {
            inner: Arc::from(&*n.s),
            at: n.at,
        }
    }

    /// The normalized localpart, if any.
    pub fn node(&self) -> Option<&str> {
        self.at.map(|at| slice(&self.inner, 0, at))
    }

    /// The localpart with XEP-0106 escapes undone (see [`unescape_node`]),
    /// for display.
    pub fn unescaped_node(&self) -> Option<Cow<'_, str>> {
        self.node().map(unescape_node)
    }

    /// The normalized domainpart.
    pub fn domain(&self) -> &str {
        slice(
            &self.inner,
            self.at.map_or(0, |at| at + 1),
            self.inner.len(),
        )
    }

    /// Whether this JID consists of a domainpart only.
    pub fn is_domain(&self) -> bool {
        self.at.is_none()
    }

    /// The normalized string form, without allocating.
    pub fn as_str(&self) -> &str {
        &self.inner
    }

    /// Appends a resourcepart, which is validated and normalized.
    ///
    /// # Errors
    ///
    /// Any [`JidError`] about the resourcepart.
    pub fn with_resource(&self, resource: &str) -> Result<FullJid, JidError> {
        let resource = prep_resourcepart(resource)?;
        let mut s = String::with_capacity(self.inner.len() + 1 + resource.len());
        s.push_str(&self.inner);
        let slash = s.len();
        s.push('/');
        s.push_str(&resource);
        Ok(FullJid {
            inner: Arc::from(s),
            at: self.at,
            slash,
        })
    }
}

// ---------------------------------------------------------------------------
// FullJid
// ---------------------------------------------------------------------------

/// A JID with a resourcepart: `[localpart@]domainpart/resourcepart`.
///
/// ```
/// use xmpp_kit::FullJid;
///
/// let j: FullJid = "juliet@example.com/balcony/east".parse()?;
/// assert_eq!(j.resource(), "balcony/east");
/// assert_eq!(j.to_bare().as_str(), "juliet@example.com");
/// assert!("juliet@example.com".parse::<FullJid>().is_err());
/// # Ok::<(), xmpp_kit::JidError>(())
/// ```
#[derive(Clone)]
pub struct FullJid {
    inner: Arc<str>,
    at: Option<usize>,
    slash: usize,
}

impl FullJid {
    /// Builds a full JID from its parts, each validated and normalized as
    /// described in the [module docs](self).
    ///
    /// # Errors
    ///
    /// Any [`JidError`] about any of the parts.
    pub fn new(node: Option<&str>, domain: &str, resource: &str) -> Result<Self, JidError> {
        Self::from_normalized(normalize(node, domain, Some(resource))?)
    }

    fn from_normalized(n: Normalized<'_>) -> Result<Self, JidError> {
        let slash = n.slash.ok_or(JidError::MissingResource)?;
        Ok(Self {
            inner: Arc::from(&*n.s),
            at: n.at,
            slash,
        })
    }

    /// The normalized localpart, if any.
    pub fn node(&self) -> Option<&str> {
        self.at.map(|at| slice(&self.inner, 0, at))
    }

    /// The normalized domainpart.
    pub fn domain(&self) -> &str {
        slice(&self.inner, self.at.map_or(0, |at| at + 1), self.slash)
    }

    /// The normalized resourcepart.
    pub fn resource(&self) -> &str {
        slice(&self.inner, self.slash + 1, self.inner.len())
    }

    /// The normalized string form, without allocating.
    pub fn as_str(&self) -> &str {
        &self.inner
    }

    /// The bare part (`[localpart@]domainpart`) as a string, without
    /// allocating.
    pub fn bare_str(&self) -> &str {
        slice(&self.inner, 0, self.slash)
    }

    /// The bare JID, i.e. this JID without its resourcepart.
    pub fn to_bare(&self) -> BareJid {
        BareJid {
            inner: Arc::from(self.bare_str()),
            at: self.at,
        }
    }

    /// Converts into the bare JID, dropping the resourcepart.
    pub fn into_bare(self) -> BareJid {
        self.to_bare()
    }
}

// ---------------------------------------------------------------------------
// Jid
// ---------------------------------------------------------------------------

/// Any JID: bare or full.
///
/// Parsing a string yields [`Jid::Full`] exactly when it has a resourcepart.
#[derive(Clone, Debug)]
pub enum Jid {
    /// A JID without a resourcepart.
    Bare(BareJid),
    /// A JID with a resourcepart.
    Full(FullJid),
}

impl Jid {
    /// Builds a JID from its parts, each validated and normalized as
    /// described in the [module docs](self).
    ///
    /// # Errors
    ///
    /// Any [`JidError`] about any of the parts.
    pub fn from_parts(
        node: Option<&str>,
        domain: &str,
        resource: Option<&str>,
    ) -> Result<Self, JidError> {
        Ok(Self::from_normalized(normalize(node, domain, resource)?))
    }

    fn from_normalized(n: Normalized<'_>) -> Self {
        match n.slash {
            Some(slash) => Self::Full(FullJid {
                inner: Arc::from(&*n.s),
                at: n.at,
                slash,
            }),
            None => Self::Bare(BareJid {
                inner: Arc::from(&*n.s),
                at: n.at,
            }),
        }
    }

    /// The normalized localpart, if any.
    pub fn node(&self) -> Option<&str> {
        match self {
            Self::Bare(j) => j.node(),
            Self::Full(j) => j.node(),
        }
    }

    /// The normalized domainpart.
    pub fn domain(&self) -> &str {
        match self {
            Self::Bare(j) => j.domain(),
            Self::Full(j) => j.domain(),
        }
    }

    /// The normalized resourcepart, if any.
    pub fn resource(&self) -> Option<&str> {
        match self {
            Self::Bare(_) => None,
            Self::Full(j) => Some(j.resource()),
        }
    }

    /// Whether this JID has no resourcepart.
    pub fn is_bare(&self) -> bool {
        matches!(self, Self::Bare(_))
    }

    /// Whether this JID has a resourcepart.
    pub fn is_full(&self) -> bool {
        matches!(self, Self::Full(_))
    }

    /// The full JID, if this is one.
    pub fn as_full(&self) -> Option<&FullJid> {
        match self {
            Self::Bare(_) => None,
            Self::Full(j) => Some(j),
        }
    }

    /// The normalized string form, without allocating.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Bare(j) => j.as_str(),
            Self::Full(j) => j.as_str(),
        }
    }

    /// The bare part (`[localpart@]domainpart`) as a string, without
    /// allocating.
    pub fn bare_str(&self) -> &str {
        match self {
            Self::Bare(j) => j.as_str(),
            Self::Full(j) => j.bare_str(),
        }
    }

    /// The bare JID (a cheap clone if this JID is already bare).
    pub fn to_bare(&self) -> BareJid {
        match self {
            Self::Bare(j) => j.clone(),
            Self::Full(j) => j.to_bare(),
        }
    }

    /// Converts into the bare JID, dropping any resourcepart.
    pub fn into_bare(self) -> BareJid {
        match self {
            Self::Bare(j) => j,
            Self::Full(j) => j.into_bare(),
        }
    }
}

// ---------------------------------------------------------------------------
// Parsing and conversions
// ---------------------------------------------------------------------------

impl FromStr for Jid {
    type Err = JidError;

    fn from_str(s: &str) -> Result<Self, JidError> {
        Ok(Self::from_normalized(normalize_str(s)?))
    }
}

impl FromStr for BareJid {
    type Err = JidError;

    /// Parses a bare JID; a string with a resourcepart is an error
    /// ([`JidError::UnexpectedResource`]), use [`Jid`] and [`Jid::to_bare`]
    /// to drop a resourcepart instead.
    fn from_str(s: &str) -> Result<Self, JidError> {
        let (node, domain, resource) = split(s);
        if resource.is_some() {
            return Err(JidError::UnexpectedResource);
        }
        Ok(Self::from_normalized(normalize_parts(
            Some(s),
            node,
            domain,
            None,
        )?))
    }
}

impl FromStr for FullJid {
    type Err = JidError;

    /// Parses a full JID; a string without a resourcepart is an error
    /// ([`JidError::MissingResource`]).
    fn from_str(s: &str) -> Result<Self, JidError> {
        let (node, domain, resource) = split(s);
        if resource.is_none() {
            return Err(JidError::MissingResource);
        }
        Self::from_normalized(normalize_parts(Some(s), node, domain, resource)?)
    }
}

/// `TryFrom<&str>`, `TryFrom<String>`, `Display`, `AsRef<str>`, and the
/// string-based `PartialEq`, `Eq`, `PartialOrd`, `Ord` and `Hash` impls.
macro_rules! string_impls {
    ($($ty:ty),*) => {$(
        impl TryFrom<&str> for $ty {
            type Error = JidError;

            fn try_from(s: &str) -> Result<Self, JidError> {
                s.parse()
            }
        }

        impl TryFrom<String> for $ty {
            type Error = JidError;

            fn try_from(s: String) -> Result<Self, JidError> {
                s.parse()
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl PartialEq for $ty {
            fn eq(&self, other: &Self) -> bool {
                self.as_str() == other.as_str()
            }
        }

        impl Eq for $ty {}

        impl PartialOrd for $ty {
            fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
                Some(self.cmp(other))
            }
        }

        /// Orders by the normalized string form.
        impl Ord for $ty {
            fn cmp(&self, other: &Self) -> Ordering {
                self.as_str().cmp(other.as_str())
            }
        }

        impl Hash for $ty {
            fn hash<H: Hasher>(&self, state: &mut H) {
                self.as_str().hash(state);
            }
        }
    )*};
}

string_impls!(Jid, BareJid, FullJid);

impl fmt::Debug for BareJid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BareJid").field(&self.as_str()).finish()
    }
}

impl fmt::Debug for FullJid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("FullJid").field(&self.as_str()).finish()
    }
}

impl From<BareJid> for Jid {
    fn from(j: BareJid) -> Self {
        Self::Bare(j)
    }
}

impl From<FullJid> for Jid {
    fn from(j: FullJid) -> Self {
        Self::Full(j)
    }
}

impl TryFrom<Jid> for FullJid {
    type Error = JidError;

    /// Fails with [`JidError::MissingResource`] for a bare JID.
    fn try_from(j: Jid) -> Result<Self, JidError> {
        match j {
            Jid::Full(j) => Ok(j),
            Jid::Bare(_) => Err(JidError::MissingResource),
        }
    }
}

impl PartialEq<BareJid> for Jid {
    fn eq(&self, other: &BareJid) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<FullJid> for Jid {
    fn eq(&self, other: &FullJid) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<Jid> for BareJid {
    fn eq(&self, other: &Jid) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<Jid> for FullJid {
    fn eq(&self, other: &Jid) -> bool {
        self.as_str() == other.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_follows_rfc_order() {
        assert_eq!(split("a@b/c@d/e"), (Some("a"), "b", Some("c@d/e")));
        assert_eq!(split("b/c@d"), (None, "b", Some("c@d")));
        assert_eq!(split("a@b@c"), (Some("a"), "b@c", None));
        assert_eq!(split(""), (None, "", None));
    }

    #[test]
    fn parsing_borrows_only_what_is_already_normalized() {
        // (JID, whether it is already normalized and so borrowed)
        for (s, borrowed) in [
            ("juliet@example.com/balcony", true),
            ("Juliet@example.com/balcony", false),
            ("juliet@Example.com", false),
            ("juliet@example.com./r", false),
            ("example.com", true),
            ("example.com/a@b/c", true),
            ("élodie@capulet.lit/phone", true),
            ("zoë@münchen.de", true),
            ("a@[::1]/r", false),
            ("a@127.0.0.1", true),
        ] {
            let (node, domain, resource) = split(s);
            let whole = normalize_str(s).unwrap();
            let joined = normalize(node, domain, resource).unwrap();
            assert!(matches!(joined.s, Cow::Owned(_)));
            assert_eq!(whole.s, joined.s, "{s}");
            assert_eq!(whole.at, joined.at, "{s}");
            assert_eq!(whole.slash, joined.slash, "{s}");
            if matches!(whole.s, Cow::Borrowed(_)) {
                assert_eq!(whole.s, s);
            }
            assert_eq!(matches!(whole.s, Cow::Borrowed(_)), borrowed, "{s}");
            let jid: Jid = s.parse().unwrap();
            assert_eq!(
                jid.node(),
                node.map(|_| jid.as_str().split('@').next().unwrap())
            );
        }
    }

    #[test]
    fn offsets_are_consistent() {
        let j: Jid = "Juliet@Example.com/Balcony".parse().unwrap();
        let Jid::Full(f) = &j else {
            panic!("expected a full JID")
        };
        assert_eq!(f.bare_str(), "juliet@example.com");
        assert_eq!(f.node(), Some("juliet"));
        assert_eq!(f.domain(), "example.com");
        assert_eq!(f.resource(), "Balcony");
        let b = f.to_bare();
        assert_eq!(b.node(), Some("juliet"));
        assert_eq!(b.domain(), "example.com");
    }

    #[test]
    fn error_parts() {
        assert_eq!(JidError::EmptyLocalpart.part(), JidPart::Local);
        assert_eq!(JidError::EmptyDomain.part(), JidPart::Domain);
        assert_eq!(JidError::MissingResource.part(), JidPart::Resource);
    }
}
