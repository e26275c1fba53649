//! XEP-0092: Software Version.
//!
//! An iq get carrying an empty `<query xmlns='jabber:iq:version'/>` asks an
//! entity which software it runs; the iq result carries the same element
//! with `<name/>` and `<version/>` (both required in a result) and,
//! optionally, `<os/>`.
//!
//! Two types cover the two directions:
//!
//! * [`VersionQuery`] parses any `<query/>`: each child is optional, and
//!   [`is_request`](VersionQuery::is_request) tells the empty request from a
//!   result. Use it where either may arrive, and to build the request
//!   ([`VersionQuery::request`]).
//! * [`Version`] is a result: parsing fails with
//!   [`PayloadError::MissingChild`] when `<name/>` or `<version/>` is
//!   missing (so a request does not parse as a `Version`).
//!
//! ```
//! use xmpp_kit::ext::{Payload, version::{Version, VersionQuery}};
//!
//! let request = VersionQuery::request().to_element();
//! assert!(VersionQuery::parse(&request)?.is_request());
//!
//! let answer = Version::new("Exodus", "0.7.0.4").with_os("Windows-XP 5.01.2600");
//! let result = answer.to_element();
//! assert_eq!(Version::parse(&result)?, answer);
//! assert_eq!(VersionQuery::parse(&result)?.into_version()?, answer);
//! assert!(Version::parse(&request).is_err());
//! # Ok::<(), xmpp_kit::ext::PayloadError>(())
//! ```

use minidom::Element;

use super::{Payload, PayloadError, expect, text_element};

/// The software version namespace, also the service discovery feature.
pub const NS: &str = "jabber:iq:version";

/// A software version result: what an entity answers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version {
    /// The natural-language name of the software (`<name/>`).
    pub name: String,
    /// The version of the software (`<version/>`).
    pub version: String,
    /// The operating system (`<os/>`). XEP-0092 asks applications to let
    /// users and administrators withhold it.
    pub os: Option<String>,
}

impl Version {
    /// A result without operating system.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            os: None,
        }
    }

    /// Sets the operating system.
    #[must_use]
    pub fn with_os(mut self, os: impl Into<String>) -> Self {
        self.os = Some(os.into());
        self
    }
}

impl Payload for Version {
    fn matches(element: &Element) -> bool {
        element.is("query", NS)
    }

    /// Parses a result.
    ///
    /// # Errors
    /// [`PayloadError::MissingChild`] when `<name/>` or `<version/>` is
    /// missing, as in a request.
    fn parse(element: &Element) -> Result<Self, PayloadError> {
        VersionQuery::parse(element)?.into_version()
    }

    fn to_element(&self) -> Element {
        VersionQuery::from(self.clone()).to_element()
    }
}

/// Any `<query xmlns='jabber:iq:version'/>`: the empty request, a result,
/// or something in between (each child optional, as parsed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct VersionQuery {
    /// `<name/>`, if present.
    pub name: Option<String>,
    /// `<version/>`, if present.
    pub version: Option<String>,
    /// `<os/>`, if present.
    pub os: Option<String>,
}

impl VersionQuery {
    /// The request: an empty query.
    pub fn request() -> Self {
        Self::default()
    }

    /// Whether this is the request: no `<name/>`, `<version/>` or `<os/>`.
    pub fn is_request(&self) -> bool {
        self.name.is_none() && self.version.is_none() && self.os.is_none()
    }

    /// The result this query carries.
    ///
    /// # Errors
    /// [`PayloadError::MissingChild`] when `<name/>` or `<version/>` is
    /// missing.
    pub fn into_version(self) -> Result<Version, PayloadError> {
        let missing = |child| PayloadError::MissingChild {
            element: "query",
            child,
        };
        Ok(Version {
            name: self.name.ok_or_else(|| missing("name"))?,
            version: self.version.ok_or_else(|| missing("version"))?,
            os: self.os,
        })
    }
}

impl From<Version> for VersionQuery {
    fn from(version: Version) -> Self {
        Self {
            name: Some(version.name),
            version: Some(version.version),
            os: version.os,
        }
    }
}

impl Payload for VersionQuery {
    fn matches(element: &Element) -> bool {
        element.is("query", NS)
    }

    /// Parses any query; the first of each child counts, unknown children
    /// are ignored.
    fn parse(element: &Element) -> Result<Self, PayloadError> {
        expect(element, "query", NS)?;
        let child = |name: &str| element.get_child(name, NS).map(Element::text);
        Ok(Self {
            name: child("name"),
            version: child("version"),
            os: child("os"),
        })
    }

    fn to_element(&self) -> Element {
        let mut element = Element::bare("query", NS);
        for (name, value) in [
            ("name", &self.name),
            ("version", &self.version),
            ("os", &self.os),
        ] {
            if let Some(value) = value {
                element.append_child(text_element(name, NS, value.as_str()));
            }
        }
        element
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// XEP-0092 example 1 (querying another entity for its software
    /// version), the payload.
    #[test]
    fn spec_example_1() {
        let e: Element = "<query xmlns='jabber:iq:version'/>".parse().unwrap();
        assert!(VersionQuery::matches(&e));
        let query = VersionQuery::parse(&e).unwrap();
        assert!(query.is_request());
        assert_eq!(query, VersionQuery::request());
        assert_eq!(query.to_element(), e);
        assert_eq!(
            Version::parse(&e),
            Err(PayloadError::MissingChild {
                element: "query",
                child: "name"
            })
        );
    }

    /// XEP-0092 example 2 (receiving a reply regarding software version),
    /// the payload as written.
    #[test]
    fn spec_example_2() {
        let e: Element = "<query xmlns='jabber:iq:version'>
            <name>Exodus</name>
            <version>0.7.0.4</version>
            <os>Windows-XP 5.01.2600</os>
          </query>"
            .parse()
            .unwrap();
        assert!(Version::matches(&e));
        let version = Version::parse(&e).unwrap();
        assert_eq!(version.name, "Exodus");
        assert_eq!(version.version, "0.7.0.4");
        assert_eq!(version.os.as_deref(), Some("Windows-XP 5.01.2600"));
        let query = VersionQuery::parse(&e).unwrap();
        assert!(!query.is_request());
        assert_eq!(query, VersionQuery::from(version.clone()));
        assert_eq!(Version::parse(&version.to_element()).unwrap(), version);
        assert_eq!(
            version.to_element(),
            "<query xmlns='jabber:iq:version'><name>Exodus</name><version>0.7.0.4</version><os>Windows-XP 5.01.2600</os></query>"
                .parse::<Element>()
                .unwrap()
        );
    }

    #[test]
    fn partial_and_unknown_content() {
        let e: Element = "<query xmlns='jabber:iq:version' foo='1'><version>1.0</version><x xmlns='urn:x'/><name>a</name><name>b</name></query>"
            .parse()
            .unwrap();
        let query = VersionQuery::parse(&e).unwrap();
        assert_eq!(query.name.as_deref(), Some("a"));
        assert_eq!(Version::parse(&e).unwrap(), Version::new("a", "1.0"));
        let e: Element = "<query xmlns='jabber:iq:version'><name>a</name><os>Linux</os></query>"
            .parse()
            .unwrap();
        let query = VersionQuery::parse(&e).unwrap();
        assert!(!query.is_request());
        assert_eq!(
            query.into_version(),
            Err(PayloadError::MissingChild {
                element: "query",
                child: "version"
            })
        );
        // Empty elements are present, empty values.
        let version = Version::new("", "");
        assert_eq!(Version::parse(&version.to_element()).unwrap(), version);
        // Children in another namespace are not these.
        let e: Element = "<query xmlns='jabber:iq:version'><name xmlns='urn:x'>a</name></query>"
            .parse()
            .unwrap();
        assert!(VersionQuery::parse(&e).unwrap().is_request());
    }

    #[test]
    fn other_elements_are_refused() {
        let e: Element = "<query xmlns='jabber:iq:last'/>".parse().unwrap();
        assert!(!VersionQuery::matches(&e));
        assert!(matches!(
            VersionQuery::parse(&e),
            Err(PayloadError::WrongElement { .. })
        ));
        assert!(matches!(
            Version::parse(&e),
            Err(PayloadError::WrongElement { .. })
        ));
    }
}
