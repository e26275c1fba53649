//! XEP-0280: Message Carbons.
//!
//! A client enables carbons with an iq set carrying `<enable/>` (and
//! disables them with `<disable/>`). From then on its server copies to it
//! the messages its user's other clients receive, wrapped in `<received/>`,
//! and send, wrapped in `<sent/>`; each wrapper holds a XEP-0297
//! [`Forwarded`]. A message carrying `<private/>` is not copied.
//!
//! Only accept carbons from the user's own bare JID (the `from` of the
//! wrapping message); anyone else could forge them.
//!
//! ```
//! use minidom::Element;
//! use xmpp_kit::ext::{Payload, carbons::{self, Carbon}};
//!
//! let payload: Element = "<sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>\
//!     <message xmlns='jabber:client' to='juliet@capulet.example/balcony' \
//!     from='romeo@montague.example/home' type='chat'><body>Neither, fair saint, if either thee dislike.</body>\
//!     </message></forwarded></sent>".parse()?;
//! let carbon = Carbon::parse(&payload)?;
//! assert!(matches!(carbon, Carbon::Sent(_)));
//! assert_eq!(carbon.forwarded().stanza.attr("to"), Some("juliet@capulet.example/balcony"));
//! assert_eq!(carbons::FEATURE, "urn:xmpp:carbons:2");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use minidom::Element;

use super::forwarding::{self, Forwarded};
use super::{Payload, PayloadError, expect};

/// The carbons namespace.
pub const NS: &str = "urn:xmpp:carbons:2";

/// The service discovery feature a server supporting carbons advertises.
pub const FEATURE: &str = NS;

macro_rules! empty_payload {
    ($(#[$doc:meta])* $ty:ident, $name:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
        pub struct $ty;

        impl Payload for $ty {
            fn matches(element: &Element) -> bool {
                element.is($name, NS)
            }

            fn parse(element: &Element) -> Result<Self, PayloadError> {
                expect(element, $name, NS)?;
                Ok(Self)
            }

            fn to_element(&self) -> Element {
                Element::bare($name, NS)
            }
        }
    };
}

empty_payload!(
    /// `<enable/>`, in an iq set: enable carbons for this client.
    Enable,
    "enable"
);
empty_payload!(
    /// `<disable/>`, in an iq set: disable carbons for this client.
    Disable,
    "disable"
);
empty_payload!(
    /// `<private/>`, in a message: do not copy this message to the other
    /// clients (of the sender or, if the server keeps the hint, of the
    /// recipient).
    Private,
    "private"
);

/// Parses the `<forwarded/>` inside a `<received/>` or `<sent/>`.
fn parse_wrapped(element: &Element, name: &'static str) -> Result<Forwarded, PayloadError> {
    expect(element, name, NS)?;
    let forwarded =
        element
            .get_child("forwarded", forwarding::NS)
            .ok_or(PayloadError::MissingChild {
                element: name,
                child: "forwarded",
            })?;
    Forwarded::parse(forwarded)
}

fn wrap(name: &str, forwarded: &Forwarded) -> Element {
    let mut element = Element::bare(name, NS);
    element.append_child(forwarded.to_element());
    element
}

/// `<received/>`: a copy of a message another client of the user received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received(pub Forwarded);

impl Payload for Received {
    fn matches(element: &Element) -> bool {
        element.is("received", NS)
    }

    fn parse(element: &Element) -> Result<Self, PayloadError> {
        parse_wrapped(element, "received").map(Self)
    }

    fn to_element(&self) -> Element {
        wrap("received", &self.0)
    }
}

/// `<sent/>`: a copy of a message another client of the user sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent(pub Forwarded);

impl Payload for Sent {
    fn matches(element: &Element) -> bool {
        element.is("sent", NS)
    }

    fn parse(element: &Element) -> Result<Self, PayloadError> {
        parse_wrapped(element, "sent").map(Self)
    }

    fn to_element(&self) -> Element {
        wrap("sent", &self.0)
    }
}

/// Either carbon copy, for code that handles both alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Carbon {
    /// A `<received/>` copy.
    Received(Forwarded),
    /// A `<sent/>` copy.
    Sent(Forwarded),
}

impl Carbon {
    /// The forwarded copy.
    pub fn forwarded(&self) -> &Forwarded {
        match self {
            Self::Received(forwarded) | Self::Sent(forwarded) => forwarded,
        }
    }

    /// The forwarded copy, by value.
    pub fn into_forwarded(self) -> Forwarded {
        match self {
            Self::Received(forwarded) | Self::Sent(forwarded) => forwarded,
        }
    }
}

impl From<Received> for Carbon {
    fn from(received: Received) -> Self {
        Self::Received(received.0)
    }
}

impl From<Sent> for Carbon {
    fn from(sent: Sent) -> Self {
        Self::Sent(sent.0)
    }
}

impl Payload for Carbon {
    fn matches(element: &Element) -> bool {
        Received::matches(element) || Sent::matches(element)
    }

    fn parse(element: &Element) -> Result<Self, PayloadError> {
        if Sent::matches(element) {
            parse_wrapped(element, "sent").map(Self::Sent)
        } else if Received::matches(element) {
            parse_wrapped(element, "received").map(Self::Received)
        } else {
            Err(PayloadError::WrongElement {
                expected: "received|sent",
                namespace: NS,
                found: element.name().to_owned(),
                found_namespace: element.ns(),
            })
        }
    }

    fn to_element(&self) -> Element {
        match self {
            Self::Received(forwarded) => wrap("received", forwarded),
            Self::Sent(forwarded) => wrap("sent", forwarded),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// XEP-0280 examples 3 (enable) and 6 (disable), the payloads.
    #[test]
    fn spec_enable_disable() {
        let e: Element = "<enable xmlns='urn:xmpp:carbons:2'/>".parse().unwrap();
        assert!(Enable::matches(&e));
        assert!(!Disable::matches(&e));
        assert_eq!(Enable::parse(&e), Ok(Enable));
        assert_eq!(Enable.to_element(), e);
        let e: Element = "<disable xmlns='urn:xmpp:carbons:2'/>".parse().unwrap();
        assert!(Disable::matches(&e));
        assert_eq!(Disable::parse(&e), Ok(Disable));
        assert_eq!(Disable.to_element(), e);
        assert!(matches!(
            Enable::parse(&e),
            Err(PayloadError::WrongElement { .. })
        ));
    }

    /// XEP-0280 example 13 (Romeo sends to Juliet, excluding carbons), the
    /// hint.
    #[test]
    fn spec_private() {
        let message: Element = "<message xmlns='jabber:client'
                 from='romeo@montague.example/home'
                 to='juliet@capulet.example/home'
                 type='chat'>
          <body>Neither, fair saint, if either thee dislike.</body>
          <thread>0e3141cd80894871a68e6fe6b1ec56fa</thread>
          <private xmlns='urn:xmpp:carbons:2'/>
        </message>"
            .parse()
            .unwrap();
        let private = message.children().find(|c| Private::matches(c)).unwrap();
        assert_eq!(Private::parse(private), Ok(Private));
        assert_eq!(&Private.to_element(), private);
    }

    /// XEP-0280 example 10 (server sends carbon to Romeo's other clients),
    /// the payload.
    const EXAMPLE_10: &str = "<received xmlns='urn:xmpp:carbons:2'>
            <forwarded xmlns='urn:xmpp:forward:0'>
              <message xmlns='jabber:client'
                       from='juliet@capulet.example/balcony'
                       to='romeo@montague.example/garden'
                       type='chat'>
                <body>What man art thou that, thus bescreen'd in night, so stumblest on my counsel?</body>
                <thread>0e3141cd80894871a68e6fe6b1ec56fa</thread>
              </message>
            </forwarded>
          </received>";

    /// XEP-0280 example 12 (Romeo's other clients receive a copy), the
    /// payload.
    const EXAMPLE_12: &str = "<sent xmlns='urn:xmpp:carbons:2'>
            <forwarded xmlns='urn:xmpp:forward:0'>
              <message xmlns='jabber:client'
                       to='juliet@capulet.example/balcony'
                       from='romeo@montague.example/home'
                       type='chat'>
                <body>Neither, fair saint, if either thee dislike.</body>
                <thread>0e3141cd80894871a68e6fe6b1ec56fa</thread>
              </message>
            </forwarded>
          </sent>";

    #[test]
    fn spec_received() {
        let e: Element = EXAMPLE_10.parse().unwrap();
        assert!(Received::matches(&e));
        assert!(!Sent::matches(&e));
        let received = Received::parse(&e).unwrap();
        let stanza = &received.0.stanza;
        assert!(stanza.is("message", "jabber:client"));
        assert_eq!(stanza.attr("from"), Some("juliet@capulet.example/balcony"));
        assert_eq!(received.0.delay, None);
        assert_eq!(Received::parse(&received.to_element()).unwrap(), received);
        let carbon = Carbon::parse(&e).unwrap();
        assert_eq!(carbon, Carbon::from(received.clone()));
        assert_eq!(carbon.to_element(), received.to_element());
        assert_eq!(carbon.into_forwarded(), received.0);
    }

    #[test]
    fn spec_sent() {
        let e: Element = EXAMPLE_12.parse().unwrap();
        assert!(Sent::matches(&e));
        let sent = Sent::parse(&e).unwrap();
        assert_eq!(
            sent.0.stanza.attr("from"),
            Some("romeo@montague.example/home")
        );
        let body = sent.0.stanza.get_child("body", "jabber:client").unwrap();
        assert_eq!(body.text(), "Neither, fair saint, if either thee dislike.");
        assert_eq!(Sent::parse(&sent.to_element()).unwrap(), sent);
        let carbon = Carbon::parse(&e).unwrap();
        assert_eq!(carbon.forwarded(), &sent.0);
        assert_eq!(
            Carbon::parse(&carbon.to_element()).unwrap(),
            Carbon::from(sent)
        );
        assert!(matches!(
            Received::parse(&e),
            Err(PayloadError::WrongElement { .. })
        ));
    }

    #[test]
    fn malformed() {
        let e: Element = "<received xmlns='urn:xmpp:carbons:2'/>".parse().unwrap();
        assert_eq!(
            Received::parse(&e),
            Err(PayloadError::MissingChild {
                element: "received",
                child: "forwarded"
            })
        );
        assert_eq!(
            Carbon::parse(&e),
            Err(PayloadError::MissingChild {
                element: "received",
                child: "forwarded"
            })
        );
        let e: Element =
            "<sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'/></sent>"
                .parse()
                .unwrap();
        assert_eq!(
            Sent::parse(&e),
            Err(PayloadError::MissingChild {
                element: "forwarded",
                child: "message"
            })
        );
        // The older carbons:1 namespace is not this one.
        let e: Element = "<sent xmlns='urn:xmpp:carbons:1'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client'/></forwarded></sent>"
            .parse()
            .unwrap();
        assert!(!Carbon::matches(&e));
        assert!(matches!(
            Carbon::parse(&e),
            Err(PayloadError::WrongElement { .. })
        ));
    }
}
