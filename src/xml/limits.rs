//! Resource limits for parsing a peer's XML stream.

/// Limits on what a peer may send, enforced by [`StreamParser`](super::StreamParser).
///
/// rxml, the tokenizer underneath, has no depth, attribute-count or
/// total-size limit of its own; these are ours. A violation is a
/// [`ParseError::LimitExceeded`](super::ParseError::LimitExceeded), which maps
/// to the `policy-violation` stream error. Limits are checked before the
/// offending data is buffered, so the memory a parser holds stays within a
/// small constant factor of `max_stanza_bytes` plus `max_token_length`
/// whatever the peer sends.
///
/// The fields are public so that a limit can be adjusted in place:
///
/// ```
/// let mut limits = xmpp_kit::xml::Limits::default();
/// limits.max_stanza_bytes = 1024 * 1024;
/// assert!(limits.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest top-level element (stanza or nonza) in bytes once the peer
    /// has authenticated, counted on the wire, markup included. Default
    /// 256 KiB, as Prosody's default.
    pub max_stanza_bytes: usize,
    /// Largest top-level element in bytes before authentication, also used
    /// for the stream header. Default 16 KiB.
    pub max_stanza_bytes_pre_auth: usize,
    /// Deepest nesting inside a top-level element; the top-level element
    /// itself is depth 1 and the stream element is not counted. Default 32.
    pub max_depth: usize,
    /// Most attributes on one element, namespace declarations included.
    /// Default 64.
    pub max_attributes: usize,
    /// Most elements in one top-level element, itself included. An element
    /// costs far more memory once parsed than its few bytes on the wire, so
    /// this bounds what a stanza of tiny elements can make the parser hold.
    /// Default 8192.
    pub max_elements: usize,
    /// Longest single token in bytes: an element or attribute name or an
    /// attribute value. Longer text is split, not refused. Default 32 KiB.
    pub max_token_length: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_stanza_bytes: 256 * 1024,
            max_stanza_bytes_pre_auth: 16 * 1024,
            max_depth: 32,
            max_attributes: 64,
            max_elements: 8192,
            max_token_length: 32 * 1024,
        }
    }
}

/// A [`Limits`] value that cannot work, as reported by [`Limits::validate`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidLimits {
    /// A limit is zero, so nothing could ever be parsed.
    #[error("limit {0} must be greater than zero")]
    Zero(&'static str),
    /// The pre-authentication stanza limit is larger than the general one.
    #[error("max_stanza_bytes_pre_auth ({pre_auth}) exceeds max_stanza_bytes ({post_auth})")]
    PreAuthLargerThanPostAuth {
        /// The pre-authentication limit.
        pre_auth: usize,
        /// The general limit.
        post_auth: usize,
    },
}

impl Limits {
    /// Checks that the limits are usable: no zero limit, and the
    /// pre-authentication stanza size no larger than the general one.
    pub fn validate(&self) -> Result<(), InvalidLimits> {
        for (name, value) in [
            ("max_stanza_bytes", self.max_stanza_bytes),
            ("max_stanza_bytes_pre_auth", self.max_stanza_bytes_pre_auth),
            ("max_depth", self.max_depth),
            ("max_attributes", self.max_attributes),
            ("max_elements", self.max_elements),
            ("max_token_length", self.max_token_length),
        ] {
            if value == 0 {
                return Err(InvalidLimits::Zero(name));
            }
        }
        if self.max_stanza_bytes_pre_auth > self.max_stanza_bytes {
            return Err(InvalidLimits::PreAuthLargerThanPostAuth {
                pre_auth: self.max_stanza_bytes_pre_auth,
                post_auth: self.max_stanza_bytes,
            });
        }
        Ok(())
    }
}
