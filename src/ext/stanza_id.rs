//! XEP-0359: Unique and Stable Stanza IDs.
//!
//! An entity that stores or routes a message (a server archiving it, a chat
//! room reflecting it) stamps it with `<stanza-id id='...' by='...'/>`: an
//! id unique and stable within the scope of the `by` address. The
//! originating client can add `<origin-id id='...'/>`, which has no `by`
//! (the sender may want to conceal its address) and which servers preserve.
//!
//! ```
//! use xmpp_kit::ext::{Payload, stanza_id::{OriginId, StanzaId}};
//!
//! let sid = StanzaId::new("5f3dbc5e-e1d3-4077-a492-693f3769c7ad", "room@muc.example.org".parse()?);
//! let element = sid.to_element();
//! assert_eq!(element.attr("by"), Some("room@muc.example.org"));
//! assert_eq!(StanzaId::parse(&element)?, sid);
//! assert!(!OriginId::matches(&element));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use minidom::Element;

use super::{Payload, PayloadError, expect, required_attr, required_jid_attr, set_attr};
use crate::jid::Jid;

/// The stanza ids namespace, also the service discovery feature.
pub const NS: &str = "urn:xmpp:sid:0";

/// `<stanza-id/>`: an id assigned by the entity `by`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StanzaId {
    /// The id, opaque, unique and stable within the scope of `by`.
    pub id: String,
    /// The address of the entity that assigned the id.
    pub by: Jid,
}

impl StanzaId {
    /// The id `id` assigned by `by`.
    pub fn new(id: impl Into<String>, by: Jid) -> Self {
        Self { id: id.into(), by }
    }
}

impl Payload for StanzaId {
    fn matches(element: &Element) -> bool {
        element.is("stanza-id", NS)
    }

    fn parse(element: &Element) -> Result<Self, PayloadError> {
        expect(element, "stanza-id", NS)?;
        let id = required_attr(element, "id", "stanza-id")?.to_owned();
        let by = required_jid_attr(element, "by", "stanza-id")?;
        Ok(Self { id, by })
    }

    fn to_element(&self) -> Element {
        let mut element = Element::bare("stanza-id", NS);
        set_attr(&mut element, "id", self.id.as_str());
        set_attr(&mut element, "by", self.by.as_str());
        element
    }
}

/// `<origin-id/>`: an id assigned by the client that sent the stanza.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OriginId {
    /// The id.
    pub id: String,
}

impl OriginId {
    /// The origin id `id`.
    pub fn new(id: impl Into<String>) -> Self {
        Self { id: id.into() }
    }
}

impl Payload for OriginId {
    fn matches(element: &Element) -> bool {
        element.is("origin-id", NS)
    }

    fn parse(element: &Element) -> Result<Self, PayloadError> {
        expect(element, "origin-id", NS)?;
        Ok(Self::new(required_attr(element, "id", "origin-id")?))
    }

    fn to_element(&self) -> Element {
        let mut element = Element::bare("origin-id", NS);
        set_attr(&mut element, "id", self.id.as_str());
        element
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// XEP-0359 example 1 (the stanza ID extension).
    #[test]
    fn spec_example_1() {
        let e: Element = "<stanza-id xmlns='urn:xmpp:sid:0'
               id='de305d54-75b4-431b-adb2-eb6b9e546013'
               by='room@muc.xmpp.org'/>"
            .parse()
            .unwrap();
        assert!(StanzaId::matches(&e));
        let sid = StanzaId::parse(&e).unwrap();
        assert_eq!(sid.id, "de305d54-75b4-431b-adb2-eb6b9e546013");
        assert_eq!(sid.by, "room@muc.xmpp.org".parse::<Jid>().unwrap());
        assert_eq!(sid.to_element(), e);
    }

    /// XEP-0359 example 3 (a message with both ids): the two payloads.
    #[test]
    fn spec_example_3() {
        let message: Element = "<message xmlns='jabber:client'
                 to='room@muc.example.org'
                 type='groupchat'>
          <body>Typical body text</body>
          <stanza-id xmlns='urn:xmpp:sid:0'
                     id='5f3dbc5e-e1d3-4077-a492-693f3769c7ad'
                     by='room@muc.example.org'/>
          <origin-id xmlns='urn:xmpp:sid:0' id='de305d54-75b4-431b-adb2-eb6b9e546013'/>
        </message>"
            .parse()
            .unwrap();
        let sid = message.children().find(|c| StanzaId::matches(c)).unwrap();
        let oid = message.children().find(|c| OriginId::matches(c)).unwrap();
        assert_eq!(
            StanzaId::parse(sid).unwrap(),
            StanzaId::new(
                "5f3dbc5e-e1d3-4077-a492-693f3769c7ad",
                "room@muc.example.org".parse().unwrap()
            )
        );
        let origin = OriginId::parse(oid).unwrap();
        assert_eq!(
            origin,
            OriginId::new("de305d54-75b4-431b-adb2-eb6b9e546013")
        );
        assert_eq!(&origin.to_element(), oid);
    }

    #[test]
    fn unknown_content_is_ignored() {
        let e: Element =
            "<origin-id xmlns='urn:xmpp:sid:0' id='a' by='x@y'><z xmlns='urn:z'/></origin-id>"
                .parse()
                .unwrap();
        assert_eq!(OriginId::parse(&e), Ok(OriginId::new("a")));
    }

    #[test]
    fn malformed_ids() {
        let parse_sid = |s: &str| StanzaId::parse(&s.parse::<Element>().unwrap());
        assert_eq!(
            parse_sid("<stanza-id xmlns='urn:xmpp:sid:0' by='room@muc.xmpp.org'/>"),
            Err(PayloadError::MissingAttribute {
                element: "stanza-id",
                attribute: "id"
            })
        );
        assert_eq!(
            parse_sid("<stanza-id xmlns='urn:xmpp:sid:0' id='a'/>"),
            Err(PayloadError::MissingAttribute {
                element: "stanza-id",
                attribute: "by"
            })
        );
        assert!(matches!(
            parse_sid("<stanza-id xmlns='urn:xmpp:sid:0' id='a' by='room@'/>"),
            Err(PayloadError::InvalidJid {
                element: "stanza-id",
                what: "attribute 'by'",
                ..
            })
        ));
        let e: Element = "<origin-id xmlns='urn:xmpp:sid:0'/>".parse().unwrap();
        assert_eq!(
            OriginId::parse(&e),
            Err(PayloadError::MissingAttribute {
                element: "origin-id",
                attribute: "id"
            })
        );
        assert!(matches!(
            StanzaId::parse(&e),
            Err(PayloadError::WrongElement { .. })
        ));
        let e: Element = "<stanza-id xmlns='urn:xmpp:mam:2' id='a' by='b'/>"
            .parse()
            .unwrap();
        assert!(!StanzaId::matches(&e));
    }
}
