//! XEP-0199: XMPP Ping.
//!
//! A ping is an iq get carrying `<ping xmlns='urn:xmpp:ping'/>`; the answer
//! is an empty iq result (or `service-unavailable` from an entity that does
//! not support it).
//!
//! ```
//! use xmpp_kit::ext::{Payload, ping::Ping};
//! use xmpp_kit::stanza::Iq;
//!
//! let ping = Iq::get("capulet.lit".parse().ok(), Ping.to_element()).with_id("c2s1");
//! let pong = Iq::result_for(&ping, None);
//! assert_eq!(pong.id, "c2s1");
//! ```

use minidom::Element;

use super::{Payload, PayloadError, expect};

/// The ping namespace.
pub const NS: &str = "urn:xmpp:ping";

/// The `<ping/>` payload of an iq get.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Ping;

impl Payload for Ping {
    fn matches(element: &Element) -> bool {
        element.is("ping", NS)
    }

    fn parse(element: &Element) -> Result<Self, PayloadError> {
        expect(element, "ping", NS)?;
        Ok(Self)
    }

    fn to_element(&self) -> Element {
        Element::bare("ping", NS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// XEP-0199 example 1 (client-to-server ping), the payload.
    #[test]
    fn spec_example_parses_and_round_trips() {
        let e: Element = "<ping xmlns='urn:xmpp:ping'/>".parse().unwrap();
        let ping = Ping::parse(&e).unwrap();
        assert_eq!(ping.to_element(), e);
        assert_eq!(Ping::parse(&ping.to_element()), Ok(Ping));
    }

    #[test]
    fn other_elements_are_refused() {
        let e: Element = "<pong xmlns='urn:xmpp:ping'/>".parse().unwrap();
        assert!(!Ping::matches(&e));
        assert!(matches!(
            Ping::parse(&e),
            Err(PayloadError::WrongElement { .. })
        ));
    }
}
