//! XEP-0066: Out of Band Data (URLs).
//!
//! Two forms communicate a URI. In a message (or presence),
//! `<x xmlns='jabber:x:oob'>` carries a `<url/>` and an optional `<desc/>`:
//! [`Oob`]. In an iq set, `<query xmlns='jabber:iq:oob'>` asks the recipient
//! to fetch the file, optionally naming the stream negotiated with XEP-0095
//! (`sid`): [`IqOob`]. The URL is kept as written; it may be any URI scheme.
//!
//! ```
//! use xmpp_kit::ext::{Payload, oob::Oob};
//!
//! let oob = Oob::new("http://www.jabber.org/images/psa-license.jpg").with_desc("A license to Jabber!");
//! let element = oob.to_element();
//! assert_eq!(element.ns(), "jabber:x:oob");
//! assert_eq!(Oob::parse(&element)?, oob);
//! # Ok::<(), xmpp_kit::ext::PayloadError>(())
//! ```

use minidom::Element;

use super::{Payload, PayloadError, expect, set_opt_attr, text_element};

/// The namespace of the `<x/>` form, in messages and presences.
pub const NS: &str = "jabber:x:oob";

/// The namespace of the `<query/>` form, in iq sets.
pub const NS_IQ: &str = "jabber:iq:oob";

/// `<x xmlns='jabber:x:oob'/>`: a URI communicated in a message or presence.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Oob {
    /// The URI (`<url/>`, required, not empty).
    pub url: String,
    /// A description of the resource (`<desc/>`).
    pub desc: Option<String>,
}

impl Oob {
    /// A URI without description.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            desc: None,
        }
    }

    /// Sets the description.
    #[must_use]
    pub fn with_desc(mut self, desc: impl Into<String>) -> Self {
        self.desc = Some(desc.into());
        self
    }
}

impl Payload for Oob {
    fn matches(element: &Element) -> bool {
        element.is("x", NS)
    }

    fn parse(element: &Element) -> Result<Self, PayloadError> {
        expect(element, "x", NS)?;
        let (url, desc) = parse_url_desc(element, NS, "x")?;
        Ok(Self { url, desc })
    }

    fn to_element(&self) -> Element {
        let mut element = Element::bare("x", NS);
        append_url_desc(&mut element, NS, &self.url, self.desc.as_deref());
        element
    }
}

/// `<query xmlns='jabber:iq:oob'/>`: a request, in an iq set, to fetch a
/// file (the recipient answers with a result once it has the whole file, or
/// an error such as `item-not-found` or `not-acceptable`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IqOob {
    /// The URI of the file (`<url/>`, required, not empty).
    pub url: String,
    /// A description of the file (`<desc/>`).
    pub desc: Option<String>,
    /// The XEP-0095 stream id, when negotiated by stream initiation.
    pub sid: Option<String>,
}

impl IqOob {
    /// A request to fetch `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            desc: None,
            sid: None,
        }
    }

    /// Sets the description.
    #[must_use]
    pub fn with_desc(mut self, desc: impl Into<String>) -> Self {
        self.desc = Some(desc.into());
        self
    }

    /// Sets the stream id.
    #[must_use]
    pub fn with_sid(mut self, sid: impl Into<String>) -> Self {
        self.sid = Some(sid.into());
        self
    }
}

impl Payload for IqOob {
    fn matches(element: &Element) -> bool {
        element.is("query", NS_IQ)
    }

    fn parse(element: &Element) -> Result<Self, PayloadError> {
        expect(element, "query", NS_IQ)?;
        let (url, desc) = parse_url_desc(element, NS_IQ, "query")?;
        Ok(Self {
            url,
            desc,
            sid: crate::ext::attr(element, "sid").map(str::to_owned),
        })
    }

    fn to_element(&self) -> Element {
        let mut element = Element::bare("query", NS_IQ);
        set_opt_attr(&mut element, "sid", self.sid.as_deref());
        append_url_desc(&mut element, NS_IQ, &self.url, self.desc.as_deref());
        element
    }
}

/// The `<url/>` (required, not empty) and `<desc/>` children; the first of
/// each counts.
fn parse_url_desc(
    element: &Element,
    namespace: &str,
    element_name: &'static str,
) -> Result<(String, Option<String>), PayloadError> {
    let url = element
        .get_child("url", namespace)
        .ok_or(PayloadError::MissingChild {
            element: element_name,
            child: "url",
        })?;
    let url = url.text();
    if url.is_empty() {
        return Err(PayloadError::InvalidValue {
            element: "url",
            what: "text",
            value: url,
        });
    }
    let desc = element.get_child("desc", namespace).map(Element::text);
    Ok((url, desc))
}

fn append_url_desc(element: &mut Element, namespace: &str, url: &str, desc: Option<&str>) {
    element.append_child(text_element("url", namespace, url));
    if let Some(desc) = desc {
        element.append_child(text_element("desc", namespace, desc));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// XEP-0066 example 5 (sender communicates a URI), the payload.
    #[test]
    fn spec_example_5() {
        let e: Element =
            "<x xmlns='jabber:x:oob'><url>http://www.jabber.org/images/psa-license.jpg</url></x>"
                .parse()
                .unwrap();
        assert!(Oob::matches(&e));
        assert!(!IqOob::matches(&e));
        let oob = Oob::parse(&e).unwrap();
        assert_eq!(
            oob,
            Oob::new("http://www.jabber.org/images/psa-license.jpg")
        );
        assert_eq!(oob.to_element(), e);
    }

    /// XEP-0066 example 1 (sender initiates request-response), the payload,
    /// as written (with whitespace).
    #[test]
    fn spec_example_1() {
        let e: Element = "<query xmlns='jabber:iq:oob'>
            <url>http://www.jabber.org/images/psa-license.jpg</url>
            <desc>A license to Jabber!</desc>
          </query>"
            .parse()
            .unwrap();
        assert!(IqOob::matches(&e));
        let query = IqOob::parse(&e).unwrap();
        assert_eq!(query.url, "http://www.jabber.org/images/psa-license.jpg");
        assert_eq!(query.desc.as_deref(), Some("A license to Jabber!"));
        assert_eq!(query.sid, None);
        assert_eq!(IqOob::parse(&query.to_element()).unwrap(), query);
    }

    /// XEP-0066 example 10 (request-response after stream initiation).
    #[test]
    fn spec_example_10() {
        let e: Element = "<query xmlns='jabber:iq:oob' sid='a0'><url>http://www.shakespeare.lit/files/letter.txt</url></query>"
            .parse()
            .unwrap();
        let query = IqOob::parse(&e).unwrap();
        assert_eq!(
            query,
            IqOob::new("http://www.shakespeare.lit/files/letter.txt").with_sid("a0")
        );
        assert_eq!(query.to_element(), e);
    }

    #[test]
    fn desc_and_unknown_content() {
        let oob = Oob::new("https://example.org/a.png").with_desc("");
        assert_eq!(Oob::parse(&oob.to_element()).unwrap(), oob);
        let e: Element = "<x xmlns='jabber:x:oob' foo='1'><url>sip:a@b</url><url>ignored</url><y xmlns='urn:y'/></x>"
            .parse()
            .unwrap();
        assert_eq!(Oob::parse(&e).unwrap(), Oob::new("sip:a@b"));
    }

    #[test]
    fn malformed() {
        let e: Element = "<x xmlns='jabber:x:oob'><desc>no url</desc></x>"
            .parse()
            .unwrap();
        assert_eq!(
            Oob::parse(&e),
            Err(PayloadError::MissingChild {
                element: "x",
                child: "url"
            })
        );
        // A <url/> in another namespace is not the url.
        let e: Element =
            "<query xmlns='jabber:iq:oob'><url xmlns='urn:other'>http://a/</url></query>"
                .parse()
                .unwrap();
        assert_eq!(
            IqOob::parse(&e),
            Err(PayloadError::MissingChild {
                element: "query",
                child: "url"
            })
        );
        let e: Element = "<x xmlns='jabber:x:oob'><url/></x>".parse().unwrap();
        assert_eq!(
            Oob::parse(&e),
            Err(PayloadError::InvalidValue {
                element: "url",
                what: "text",
                value: String::new()
            })
        );
        let e: Element = "<query xmlns='jabber:x:oob'><url>http://a/</url></query>"
            .parse()
            .unwrap();
        assert!(matches!(
            IqOob::parse(&e),
            Err(PayloadError::WrongElement { .. })
        ));
        assert!(matches!(
            Oob::parse(&e),
            Err(PayloadError::WrongElement { .. })
        ));
    }
}
