//! XML namespace names used by XMPP, as string constants.
//!
//! Only namespaces that the crate itself needs live here; payload modules
//! define their own next to the code that uses them.

/// The stream namespace, `http://etherx.jabber.org/streams` (RFC 6120 section 4.8.1).
pub const STREAM: &str = "http://etherx.jabber.org/streams";
/// The content namespace of client-to-server streams (RFC 6120 section 4.8.2).
pub const JABBER_CLIENT: &str = "jabber:client";
/// The content namespace of server-to-server streams (RFC 6120 section 4.8.2).
pub const JABBER_SERVER: &str = "jabber:server";
/// The content namespace of XEP-0114 component streams.
pub const COMPONENT_ACCEPT: &str = "jabber:component:accept";
/// The RFC 7395 WebSocket framing namespace of `<open/>` and `<close/>`.
pub const FRAMING: &str = "urn:ietf:params:xml:ns:xmpp-framing";
/// Stream error conditions (RFC 6120 section 4.9.3).
pub const STREAM_ERRORS: &str = "urn:ietf:params:xml:ns:xmpp-streams";
/// Stanza error conditions (RFC 6120 section 8.3).
pub const STANZA_ERRORS: &str = "urn:ietf:params:xml:ns:xmpp-stanzas";
/// STARTTLS negotiation (RFC 6120 section 5).
pub const TLS: &str = "urn:ietf:params:xml:ns:xmpp-tls";
/// SASL negotiation (RFC 6120 section 6).
pub const SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
/// Resource binding (RFC 6120 section 7).
pub const BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";
/// The namespace bound to the `xml` prefix (`xml:lang`).
pub const XML: &str = "http://www.w3.org/XML/1998/namespace";

/// No namespace (the empty namespace name), for the keys of attribute maps
/// this crate builds and looks up, as an empty string that points into
/// static memory.
///
/// [`rxml::Namespace::NONE`] is equal but points at the dangling address
/// every empty constant gets (`0x1`), and the vectorized `memcmp` of glibc
/// on x86-64 (AVX-512 masked loads) pays a fault-suppression assist for it on
/// every comparison, even of zero bytes: an attribute map insertion with it
/// as the key measured ~6x slower (~200 ns instead of ~37 ns).
pub(crate) static NO_NAMESPACE: rxml::Namespace<'static> =
    rxml::Namespace::from_str(empty_in_static_memory());

/// An empty `&str` whose pointer is into a static string, not dangling.
const fn empty_in_static_memory() -> &'static str {
    let (empty, _) = b"-".split_at(0);
    match std::str::from_utf8(empty) {
        Ok(empty) => empty,
        Err(_) => "",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn no_namespace_is_empty_and_not_dangling() {
        assert_eq!(super::NO_NAMESPACE, rxml::Namespace::NONE);
        assert!(super::NO_NAMESPACE.as_str().is_empty());
        assert!(super::NO_NAMESPACE.as_str().as_ptr() as usize > 4096);
    }
}
