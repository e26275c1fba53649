//! XEP-0352: Client State Indication.
//!
//! A server that supports CSI offers the stream feature
//! `<csi xmlns='urn:xmpp:csi:0'/>` after authentication. The client then
//! says when its user stops and starts interacting with it by sending the
//! top-level elements (nonzas, not stanzas) `<inactive/>` and `<active/>`;
//! the server answers neither and may hold back unimportant traffic while
//! the client is inactive. Every stream starts active.
//!
//! ```
//! use minidom::Element;
//! use xmpp_kit::ext::{Payload, csi::{self, Active, Feature, Inactive}};
//!
//! let features: Element = "<stream:features xmlns:stream='http://etherx.jabber.org/streams'>\
//!     <bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><csi xmlns='urn:xmpp:csi:0'/>\
//!     </stream:features>".parse()?;
//! assert!(features.has_child(csi::FEATURE, csi::NS));
//! assert!(features.children().any(Feature::matches));
//! assert_eq!(Inactive.to_element().name(), "inactive");
//! assert!(Active::matches(&Active.to_element()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use minidom::Element;

use super::{Payload, PayloadError, expect};

/// The CSI namespace.
pub const NS: &str = "urn:xmpp:csi:0";

/// The name of the stream feature element, `csi`, in [`NS`]: look for it
/// with `features.has_child(FEATURE, NS)`, or use [`Feature`].
pub const FEATURE: &str = "csi";

/// The `<csi/>` stream feature: the server supports CSI.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Feature;

impl Payload for Feature {
    fn matches(element: &Element) -> bool {
        element.is(FEATURE, NS)
    }

    fn parse(element: &Element) -> Result<Self, PayloadError> {
        expect(element, FEATURE, NS)?;
        Ok(Self)
    }

    fn to_element(&self) -> Element {
        Element::bare(FEATURE, NS)
    }
}

/// The `<active/>` nonza: the user is interacting with the client again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Active;

impl Payload for Active {
    fn matches(element: &Element) -> bool {
        element.is("active", NS)
    }

    fn parse(element: &Element) -> Result<Self, PayloadError> {
        expect(element, "active", NS)?;
        Ok(Self)
    }

    fn to_element(&self) -> Element {
        Element::bare("active", NS)
    }
}

/// The `<inactive/>` nonza: the user is not interacting with the client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Inactive;

impl Payload for Inactive {
    fn matches(element: &Element) -> bool {
        element.is("inactive", NS)
    }

    fn parse(element: &Element) -> Result<Self, PayloadError> {
        expect(element, "inactive", NS)?;
        Ok(Self)
    }

    fn to_element(&self) -> Element {
        Element::bare("inactive", NS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// XEP-0352 example 1 (server indicates support for CSI), the feature.
    #[test]
    fn spec_example_1() {
        let features: Element = "<stream:features xmlns:stream='http://etherx.jabber.org/streams'>
            <bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>
            <csi xmlns='urn:xmpp:csi:0'/>
          </stream:features>"
            .parse()
            .unwrap();
        let csi = features.get_child(FEATURE, NS).unwrap();
        assert!(Feature::matches(csi));
        assert_eq!(Feature::parse(csi), Ok(Feature));
        assert_eq!(&Feature.to_element(), csi);
    }

    /// XEP-0352 examples 2 (client indicates it is inactive) and 3 (active).
    #[test]
    fn spec_examples_2_and_3() {
        let e: Element = "<inactive xmlns='urn:xmpp:csi:0'/>".parse().unwrap();
        assert!(Inactive::matches(&e));
        assert!(!Active::matches(&e));
        assert_eq!(Inactive::parse(&e), Ok(Inactive));
        assert_eq!(Inactive.to_element(), e);
        let e: Element = "<active xmlns='urn:xmpp:csi:0'/>".parse().unwrap();
        assert!(Active::matches(&e));
        assert!(!Inactive::matches(&e));
        assert_eq!(Active::parse(&e), Ok(Active));
        assert_eq!(Active.to_element(), e);
    }

    #[test]
    fn other_elements_are_refused() {
        // A chat state, not a client state.
        let e: Element = "<active xmlns='http://jabber.org/protocol/chatstates'/>"
            .parse()
            .unwrap();
        assert!(!Active::matches(&e));
        assert!(matches!(
            Active::parse(&e),
            Err(PayloadError::WrongElement { .. })
        ));
        assert!(matches!(
            Inactive::parse(&e),
            Err(PayloadError::WrongElement { .. })
        ));
        assert!(matches!(
            Feature::parse(&e),
            Err(PayloadError::WrongElement { .. })
        ));
    }
}
