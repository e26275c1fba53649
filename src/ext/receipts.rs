//! XEP-0184: Message Delivery Receipts.
//!
//! The sender of a message (which must carry an `id`) adds
//! `<request xmlns='urn:xmpp:receipts'/>`; the recipient's client answers
//! with a message carrying `<received xmlns='urn:xmpp:receipts' id='...'/>`
//! that echoes that id. A receipt only says the message reached a client,
//! not that anyone read it.
//!
//! ```
//! use xmpp_kit::ext::{Payload, receipts::{Received, Request}};
//!
//! let request = Request.to_element();
//! assert!(Request::matches(&request));
//! // The content message had id='richard2-4.1.247': acknowledge it.
//! let ack = Received::new("richard2-4.1.247").to_element();
//! assert_eq!(Received::parse(&ack)?.id.as_deref(), Some("richard2-4.1.247"));
//! # Ok::<(), xmpp_kit::ext::PayloadError>(())
//! ```

use minidom::Element;

use super::{Payload, PayloadError, expect, set_opt_attr};

/// The receipts namespace, also the service discovery feature.
pub const NS: &str = "urn:xmpp:receipts";

/// `<request/>`: the sender asks for a receipt for this message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Request;

impl Payload for Request {
    fn matches(element: &Element) -> bool {
        element.is("request", NS)
    }

    fn parse(element: &Element) -> Result<Self, PayloadError> {
        expect(element, "request", NS)?;
        Ok(Self)
    }

    fn to_element(&self) -> Element {
        Element::bare("request", NS)
    }
}

/// `<received/>`: the receipt for the message whose `id` it echoes.
///
/// XEP-0184 1.1 and later require the `id` attribute; receipts from older
/// implementations (1.0 had no `id`) still parse, with `id: None`, so the
/// caller decides what an unattributed receipt is worth.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Received {
    /// The `id` of the acknowledged message.
    pub id: Option<String>,
}

impl Received {
    /// The receipt for the message with this `id`.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: Some(id.into()),
        }
    }
}

impl Payload for Received {
    fn matches(element: &Element) -> bool {
        element.is("received", NS)
    }

    fn parse(element: &Element) -> Result<Self, PayloadError> {
        expect(element, "received", NS)?;
        Ok(Self {
            id: crate::ext::attr(element, "id").map(str::to_owned),
        })
    }

    fn to_element(&self) -> Element {
        let mut element = Element::bare("received", NS);
        set_opt_attr(&mut element, "id", self.id.as_deref());
        element
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// XEP-0184 example 3 (a content message with receipt requested), the
    /// payload.
    #[test]
    fn spec_request() {
        let e: Element = "<request xmlns='urn:xmpp:receipts'/>".parse().unwrap();
        assert!(Request::matches(&e));
        assert!(!Received::matches(&e));
        assert_eq!(Request::parse(&e), Ok(Request));
        assert_eq!(Request.to_element(), e);
    }

    /// XEP-0184 example 4 (a message delivery receipt), the payload.
    #[test]
    fn spec_received() {
        let e: Element = "<received xmlns='urn:xmpp:receipts' id='richard2-4.1.247'/>"
            .parse()
            .unwrap();
        assert!(Received::matches(&e));
        assert!(!Request::matches(&e));
        let received = Received::parse(&e).unwrap();
        assert_eq!(received, Received::new("richard2-4.1.247"));
        assert_eq!(received.to_element(), e);
    }

    /// XEP-0184 1.0 receipts had no id.
    #[test]
    fn received_without_id_is_tolerated() {
        let e: Element = "<received xmlns='urn:xmpp:receipts'/>".parse().unwrap();
        let received = Received::parse(&e).unwrap();
        assert_eq!(received.id, None);
        assert_eq!(received.to_element(), e);
    }

    #[test]
    fn unknown_content_is_ignored() {
        let e: Element = "<request xmlns='urn:xmpp:receipts' foo='1'><x xmlns='urn:x'/></request>"
            .parse()
            .unwrap();
        assert_eq!(Request::parse(&e), Ok(Request));
        let e: Element = "<received xmlns='urn:xmpp:receipts' id='a' foo='1'>text</received>"
            .parse()
            .unwrap();
        assert_eq!(Received::parse(&e), Ok(Received::new("a")));
    }

    #[test]
    fn other_elements_are_refused() {
        let e: Element = "<received xmlns='urn:xmpp:chat-markers:0' id='a'/>"
            .parse()
            .unwrap();
        assert!(!Received::matches(&e));
        assert!(matches!(
            Received::parse(&e),
            Err(PayloadError::WrongElement { .. })
        ));
        assert!(matches!(
            Request::parse(&e),
            Err(PayloadError::WrongElement { .. })
        ));
    }
}
