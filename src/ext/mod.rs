//! Typed payloads of XMPP extensions, one module per specification.
//!
//! Every payload type implements [`Payload`]: it recognizes its element,
//! parses it tolerantly (unknown attributes and children are ignored, and
//! where a type keeps arbitrary content, it keeps it), and serializes to a
//! [`minidom::Element`]. Stanzas keep their payloads as elements and parse
//! them on demand, so a payload nobody asks for costs nothing:
//!
//! ```
//! use xmpp_kit::ext::Payload;
//! use xmpp_kit::ext::ping::Ping;
//! use xmpp_kit::stanza::Iq;
//!
//! let iq = Iq::get(None, Ping.to_element());
//! let element = iq.payload().expect("a get has a payload");
//! assert!(Ping::matches(element));
//! assert_eq!(Ping::parse(element)?, Ping);
//! # Ok::<(), xmpp_kit::ext::PayloadError>(())
//! ```
//!
//! A malformed payload gives a [`PayloadError`], which says what is wrong
//! and maps to the stanza error to answer with ([`PayloadError::condition`]).

pub mod caps;
pub mod carbons;
pub mod chatstates;
pub mod csi;
pub mod data_forms;
pub mod delay;
pub mod disco;
pub mod forwarding;
pub mod muc;
pub mod oob;
pub mod pep;
pub mod ping;
pub mod pubsub;
pub mod receipts;
pub mod roster;
pub mod sm;
pub mod stanza_id;
pub mod stream_limits;
pub mod version;

use minidom::Element;
use rxml::{Namespace, NcName};

use crate::jid::{Jid, JidError};
use crate::stanza::DefinedCondition;

/// A typed payload: an element (or a family of elements) of one
/// specification.
pub trait Payload: Sized {
    /// Whether `element` is this payload, by name and namespace.
    fn matches(element: &Element) -> bool;

    /// Parses the payload from its element.
    ///
    /// # Errors
    /// [`PayloadError`] when the element is not this payload or is malformed.
    fn parse(element: &Element) -> Result<Self, PayloadError>;

    /// Serializes the payload to an element.
    fn to_element(&self) -> Element;
}

/// A payload that could not be parsed.
///
/// Element and attribute names are those of the specification, so the
/// message says exactly what was wrong, such as
/// `<item/> lacks the required attribute 'jid'`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// The element is not the expected one.
    #[error(
        "expected <{expected}/> in namespace {namespace}, found <{found}/> in {found_namespace}"
    )]
    WrongElement {
        /// The expected element name.
        expected: &'static str,
        /// The expected namespace.
        namespace: &'static str,
        /// The name found.
        found: String,
        /// The namespace found.
        found_namespace: String,
    },
    /// A required attribute is missing.
    #[error("<{element}/> lacks the required attribute '{attribute}'")]
    MissingAttribute {
        /// The element.
        element: &'static str,
        /// The attribute.
        attribute: &'static str,
    },
    /// A required child element is missing.
    #[error("<{element}/> lacks the required child <{child}/>")]
    MissingChild {
        /// The element.
        element: &'static str,
        /// The child.
        child: &'static str,
    },
    /// An attribute, child or text has a value the specification does not allow.
    #[error("<{element}/> has an invalid {what}: {value:?}")]
    InvalidValue {
        /// The element.
        element: &'static str,
        /// What is invalid, such as `"attribute 'type'"` or `"text"`.
        what: &'static str,
        /// The value found.
        value: String,
    },
    /// An attribute or text that must be a JID is not a valid one.
    #[error("<{element}/> has an invalid JID in {what}: {error}")]
    InvalidJid {
        /// The element.
        element: &'static str,
        /// Where the JID was, such as `"attribute 'jid'"`.
        what: &'static str,
        /// Why the JID is invalid.
        error: JidError,
    },
    /// The element has children the specification does not allow in this
    /// combination (for example two payloads in an iq get).
    #[error("<{element}/> has an invalid structure: {reason}")]
    InvalidStructure {
        /// The element.
        element: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
}

impl PayloadError {
    /// The stanza error condition to answer a request carrying this payload
    /// with: `jid-malformed` for a bad JID, `bad-request` otherwise.
    pub fn condition(&self) -> DefinedCondition {
        match self {
            Self::InvalidJid { .. } => DefinedCondition::JidMalformed,
            _ => DefinedCondition::BadRequest,
        }
    }
}

// ---- helpers shared by the payload modules and the stanza module --------

/// Checks that `element` is `<name xmlns=namespace>`.
pub(crate) fn expect(
    element: &Element,
    name: &'static str,
    namespace: &'static str,
) -> Result<(), PayloadError> {
    if element.is(name, namespace) {
        Ok(())
    } else {
        Err(PayloadError::WrongElement {
            expected: name,
            namespace,
            found: element.name().to_owned(),
            found_namespace: element.ns(),
        })
    }
}

/// An attribute without namespace, like [`Element::attr`] but looked up with
/// [`ns::NO_NAMESPACE`](crate::ns::NO_NAMESPACE), which compares faster.
pub(crate) fn attr<'a>(element: &'a Element, name: &str) -> Option<&'a str> {
    element
        .attrs()
        .get(&crate::ns::NO_NAMESPACE, name)
        .map(String::as_str)
}

/// A required attribute.
pub(crate) fn required_attr<'a>(
    element: &'a Element,
    name: &'static str,
    element_name: &'static str,
) -> Result<&'a str, PayloadError> {
    attr(element, name).ok_or(PayloadError::MissingAttribute {
        element: element_name,
        attribute: name,
    })
}

/// An optional attribute holding a JID.
pub(crate) fn jid_attr(
    element: &Element,
    name: &'static str,
    element_name: &'static str,
) -> Result<Option<Jid>, PayloadError> {
    parse_jid_attr(attr(element, name), name, element_name)
}

/// The value of an optional attribute `name` of `element_name`, already
/// looked up, parsed as a JID.
pub(crate) fn parse_jid_attr(
    value: Option<&str>,
    name: &'static str,
    element_name: &'static str,
) -> Result<Option<Jid>, PayloadError> {
    value
        .map(|value| {
            value.parse().map_err(|error| PayloadError::InvalidJid {
                element: element_name,
                what: attr_what(name),
                error,
            })
        })
        .transpose()
}

/// A required attribute holding a JID.
pub(crate) fn required_jid_attr(
    element: &Element,
    name: &'static str,
    element_name: &'static str,
) -> Result<Jid, PayloadError> {
    jid_attr(element, name, element_name)?.ok_or(PayloadError::MissingAttribute {
        element: element_name,
        attribute: name,
    })
}

/// An optional attribute parsed with [`std::str::FromStr`].
pub(crate) fn parsed_attr<T: std::str::FromStr>(
    element: &Element,
    name: &'static str,
    element_name: &'static str,
) -> Result<Option<T>, PayloadError> {
    attr(element, name)
        .map(|value| {
            value.parse().map_err(|_| PayloadError::InvalidValue {
                element: element_name,
                what: attr_what(name),
                value: value.to_owned(),
            })
        })
        .transpose()
}

/// An optional unsigned counter attribute (surrounding whitespace allowed,
/// as in XML Schema); garbage, negatives and values above `u32::MAX` are
/// [`PayloadError::InvalidValue`].
pub(crate) fn u32_attr(
    element: &Element,
    name: &'static str,
    what: &'static str,
    element_name: &'static str,
) -> Result<Option<u32>, PayloadError> {
    attr(element, name)
        .map(|value| {
            value
                .trim()
                .parse()
                .map_err(|_| PayloadError::InvalidValue {
                    element: element_name,
                    what,
                    value: value.to_owned(),
                })
        })
        .transpose()
}

/// `"attribute 'name'"` for the common names, for error messages.
fn attr_what(name: &'static str) -> &'static str {
    match name {
        "jid" => "attribute 'jid'",
        "to" => "attribute 'to'",
        "from" => "attribute 'from'",
        "by" => "attribute 'by'",
        "type" => "attribute 'type'",
        "node" => "attribute 'node'",
        "id" => "attribute 'id'",
        _ => "attribute",
    }
}

/// Sets an attribute without namespace. `name` is a literal of this crate;
/// the test `attribute_names_are_valid` below and each module's tests make
/// sure it is a valid XML name.
pub(crate) fn set_attr(element: &mut Element, name: &'static str, value: impl Into<String>) {
    match NcName::try_from(name) {
        Ok(name) => {
            element
                .attrs_mut()
                .insert(crate::ns::NO_NAMESPACE.clone(), name, value.into());
        }
        Err(_) => debug_assert!(false, "invalid attribute name literal {name:?}"),
    }
}

/// Sets an attribute if the value is present.
pub(crate) fn set_opt_attr<V: Into<String>>(
    element: &mut Element,
    name: &'static str,
    value: Option<V>,
) {
    if let Some(value) = value {
        set_attr(element, name, value);
    }
}

/// Sets `xml:lang` if present.
pub(crate) fn set_lang(element: &mut Element, lang: Option<&str>) {
    if let Some(lang) = lang {
        match NcName::try_from("lang") {
            Ok(name) => {
                element
                    .attrs_mut()
                    .insert(Namespace::XML, name, lang.to_owned());
            }
            Err(_) => debug_assert!(false, "'lang' is a valid name"),
        }
    }
}

/// The `xml:lang` attribute of an element.
pub(crate) fn lang(element: &Element) -> Option<&str> {
    element.attr_ns(crate::ns::XML, "lang")
}

/// `<name xmlns=namespace>text</name>`.
pub(crate) fn text_element(name: &str, namespace: &str, text: impl Into<String>) -> Element {
    let mut element = Element::bare(name, namespace);
    let text = text.into();
    if !text.is_empty() {
        element.append_text_node(text);
    }
    element
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_names_are_valid() {
        let mut e = Element::bare("x", "urn:x");
        set_attr(&mut e, "jid", "a");
        set_lang(&mut e, Some("en"));
        assert_eq!(e.attr("jid"), Some("a"));
        assert_eq!(lang(&e), Some("en"));
    }
}
