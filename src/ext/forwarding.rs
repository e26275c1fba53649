//! XEP-0297: Stanza Forwarding.
//!
//! `<forwarded xmlns='urn:xmpp:forward:0'>` wraps a copy of a stanza,
//! optionally with a XEP-0203 `<delay/>` saying when the forwarder received
//! it. Other specifications embed it (Message Carbons, Message Archive
//! Management); on its own it lets a user forward a message to someone else.
//!
//! The forwarded stanza keeps its own namespace (normally `jabber:client`)
//! and is kept here as an [`Element`], untouched.
//!
//! ```
//! use minidom::Element;
//! use xmpp_kit::ext::{Payload, delay::{DateTime, Delay}, forwarding::Forwarded};
//!
//! let original: Element = "<message xmlns='jabber:client' from='juliet@capulet.lit/orchard' \
//!     id='0202197' to='romeo@montague.lit' type='chat'>\
//!     <body>Yet I should kill thee with much cherishing.</body></message>".parse()?;
//! let forwarded = Forwarded::new(original.clone())
//!     .with_delay(Delay::new(DateTime::utc(2010, 7, 10, 23, 8, 25)?));
//! let element = forwarded.to_element();
//! let parsed = Forwarded::parse(&element)?;
//! assert_eq!(parsed.stanza, original);
//! assert_eq!(parsed.delay.map(|d| d.stamp.to_string()).as_deref(), Some("2010-07-10T23:08:25Z"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use minidom::Element;

use super::delay::{self, Delay};
use super::{Payload, PayloadError, expect};
use crate::stanza::{Stanza, StanzaParseError};

/// The forwarding namespace, also the service discovery feature.
pub const NS: &str = "urn:xmpp:forward:0";

/// A forwarded stanza.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarded {
    /// When the forwarding entity received the original stanza.
    pub delay: Option<Delay>,
    /// The forwarded stanza, as an element: its first child named
    /// `<message/>`, `<presence/>` or `<iq/>` (in `jabber:client` or
    /// `jabber:server` as the specification says; another namespace is
    /// kept as found, for the caller to judge).
    pub stanza: Element,
}

impl Forwarded {
    /// The forwarded stanza, typed. Parses a copy of [`stanza`](Self::stanza)
    /// each time it is called.
    ///
    /// # Errors
    /// [`StanzaParseError`] when the element is not a valid stanza.
    pub fn typed(&self) -> Result<Stanza, StanzaParseError> {
        Stanza::try_from(self.stanza.clone())
    }

    /// Forwards a typed stanza, without delay.
    pub fn from_stanza(stanza: Stanza) -> Self {
        Self::new(stanza.into())
    }

    /// Forwards `stanza`, without delay.
    pub fn new(stanza: Element) -> Self {
        Self {
            delay: None,
            stanza,
        }
    }

    /// Sets when the original stanza was received.
    #[must_use]
    pub fn with_delay(mut self, delay: Delay) -> Self {
        self.delay = Some(delay);
        self
    }
}

fn is_stanza(element: &Element) -> bool {
    matches!(element.name(), "message" | "presence" | "iq")
}

impl Payload for Forwarded {
    fn matches(element: &Element) -> bool {
        element.is("forwarded", NS)
    }

    /// Parses `<forwarded/>`. The first `<delay/>` counts (an invalid one is
    /// an error); other unknown children are ignored.
    ///
    /// # Errors
    /// [`PayloadError::MissingChild`] (child `message`) when there is no
    /// stanza, and the errors of [`Delay::parse`].
    fn parse(element: &Element) -> Result<Self, PayloadError> {
        expect(element, "forwarded", NS)?;
        let delay = element
            .get_child("delay", delay::NS)
            .map(Delay::parse)
            .transpose()?;
        let stanza = element.children().find(|child| is_stanza(child)).ok_or(
            PayloadError::MissingChild {
                element: "forwarded",
                child: "message",
            },
        )?;
        Ok(Self {
            delay,
            stanza: stanza.clone(),
        })
    }

    fn to_element(&self) -> Element {
        let mut element = Element::bare("forwarded", NS);
        if let Some(delay) = &self.delay {
            element.append_child(delay.to_element());
        }
        element.append_child(self.stanza.clone());
        element
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forwarded_stanza_is_available_typed() {
        let message =
            crate::stanza::Message::chat("romeo@example.net".parse().unwrap(), "hi").with_id("f1");
        let forwarded = Forwarded::from_stanza(message.clone().into());
        let back = Forwarded::parse(&forwarded.to_element()).unwrap();
        assert_eq!(back.typed().unwrap(), Stanza::Message(message));
    }
    use crate::ext::delay::DateTime;

    /// XEP-0297 example 2 (forwarding a message), the payload as written.
    const EXAMPLE_2: &str = "<forwarded xmlns='urn:xmpp:forward:0'>
          <delay xmlns='urn:xmpp:delay' stamp='2010-07-10T23:08:25Z'/>
          <message from='juliet@capulet.lit/orchard'
                   id='0202197'
                   to='romeo@montague.lit'
                   type='chat'
                   xmlns='jabber:client'>
              <body>Yet I should kill thee with much cherishing.</body>
              <mood xmlns='http://jabber.org/protocol/mood'>
                  <amorous/>
              </mood>
          </message>
        </forwarded>";

    /// XEP-0297 example 1 (receiving a message): the original stanza.
    const EXAMPLE_1: &str = "<message from='juliet@capulet.lit/orchard'
               id='0202197'
               to='romeo@montague.lit'
               type='chat'
               xmlns='jabber:client'>
              <body>Yet I should kill thee with much cherishing.</body>
              <mood xmlns='http://jabber.org/protocol/mood'>
                  <amorous/>
              </mood>
          </message>";

    #[test]
    fn spec_example_2() {
        let e: Element = EXAMPLE_2.parse().unwrap();
        assert!(Forwarded::matches(&e));
        let forwarded = Forwarded::parse(&e).unwrap();
        assert_eq!(
            forwarded.delay,
            Some(Delay::new(DateTime::utc(2010, 7, 10, 23, 8, 25).unwrap()))
        );
        assert!(forwarded.stanza.is("message", "jabber:client"));
        assert_eq!(forwarded.stanza.attr("id"), Some("0202197"));
        assert_eq!(forwarded.stanza, EXAMPLE_1.parse::<Element>().unwrap());
        let body = forwarded.stanza.get_child("body", "jabber:client").unwrap();
        assert_eq!(body.text(), "Yet I should kill thee with much cherishing.");
        assert!(
            forwarded
                .stanza
                .has_child("mood", "http://jabber.org/protocol/mood")
        );
        assert_eq!(
            Forwarded::parse(&forwarded.to_element()).unwrap(),
            forwarded
        );
        // Serialized and parsed again, as on the wire.
        let text = String::from(&forwarded.to_element());
        assert_eq!(Forwarded::parse(&text.parse().unwrap()).unwrap(), forwarded);
    }

    #[test]
    fn without_delay_and_other_stanzas() {
        let e: Element = "<forwarded xmlns='urn:xmpp:forward:0'><presence xmlns='jabber:server' from='a@b/c'/></forwarded>"
            .parse()
            .unwrap();
        let forwarded = Forwarded::parse(&e).unwrap();
        assert_eq!(forwarded.delay, None);
        assert!(forwarded.stanza.is("presence", "jabber:server"));
        assert_eq!(forwarded.to_element(), e);
        // Unknown children are skipped; the stanza need not come right after
        // the delay.
        let e: Element = "<forwarded xmlns='urn:xmpp:forward:0'><x xmlns='urn:x'/><iq xmlns='jabber:client' type='get' id='1'/></forwarded>"
            .parse()
            .unwrap();
        assert!(
            Forwarded::parse(&e)
                .unwrap()
                .stanza
                .is("iq", "jabber:client")
        );
    }

    #[test]
    fn malformed() {
        let e: Element = "<forwarded xmlns='urn:xmpp:forward:0'><delay xmlns='urn:xmpp:delay' stamp='2010-07-10T23:08:25Z'/></forwarded>"
            .parse()
            .unwrap();
        assert_eq!(
            Forwarded::parse(&e),
            Err(PayloadError::MissingChild {
                element: "forwarded",
                child: "message"
            })
        );
        let e: Element = "<forwarded xmlns='urn:xmpp:forward:0'><delay xmlns='urn:xmpp:delay' stamp='yesterday'/><message xmlns='jabber:client'/></forwarded>"
            .parse()
            .unwrap();
        assert!(matches!(
            Forwarded::parse(&e),
            Err(PayloadError::InvalidValue {
                element: "delay",
                ..
            })
        ));
        let e: Element =
            "<forwarded xmlns='urn:xmpp:forward:1'><message xmlns='jabber:client'/></forwarded>"
                .parse()
                .unwrap();
        assert!(!Forwarded::matches(&e));
        assert!(matches!(
            Forwarded::parse(&e),
            Err(PayloadError::WrongElement { .. })
        ));
    }
}
