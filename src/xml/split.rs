//! Stanzas as the framer splits them: [`StanzaParts`].

use minidom::{Element, Node};
use rxml::{AttrMap, Namespace, NcName};

use super::lazy::LazyElement;
use super::parser::StreamNamespace;

/// The name of a stanza element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StanzaName {
    /// `<message/>`.
    Message,
    /// `<presence/>`.
    Presence,
    /// `<iq/>`.
    Iq,
}

impl StanzaName {
    /// The element name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Message => "message",
            Self::Presence => "presence",
            Self::Iq => "iq",
        }
    }

    /// The stanza name `name` is, if it is one.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "message" => Some(Self::Message),
            "presence" => Some(Self::Presence),
            "iq" => Some(Self::Iq),
            _ => None,
        }
    }
}

/// A stanza element taken apart: the attributes every stanza has, the
/// others, and the child elements, each either a tree or the bytes it
/// arrived as (see [`LazyElement`]).
///
/// [`StreamParser`](super::StreamParser) gives stanzas this way, as
/// [`Frame::Stanza`](super::Frame::Stanza), once
/// [`set_split_stanzas`](super::StreamParser::set_split_stanzas) is on; the
/// typed stanzas of [`crate::stanza`] are made from it. Text between the
/// children (whitespace without meaning in a stanza) is not kept.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StanzaParts {
    /// Which stanza.
    pub name: StanzaName,
    /// Its namespace, a content namespace.
    pub namespace: StreamNamespace,
    /// The `to` attribute, as sent.
    pub to: Option<String>,
    /// The `from` attribute, as sent.
    pub from: Option<String>,
    /// The `id` attribute.
    pub id: Option<String>,
    /// The `type` attribute.
    pub kind: Option<String>,
    /// The `xml:lang` attribute.
    pub lang: Option<String>,
    /// Every other attribute.
    pub other_attrs: AttrMap,
    /// The child elements, in order.
    pub children: Vec<LazyElement>,
}

impl StanzaParts {
    /// Empty parts of a stanza named `name` in `namespace`.
    pub fn new(name: StanzaName, namespace: StreamNamespace) -> Self {
        Self {
            name,
            namespace,
            to: None,
            from: None,
            id: None,
            kind: None,
            lang: None,
            other_attrs: AttrMap::new(),
            children: Vec::new(),
        }
    }

    /// Takes a stanza element apart, moving its attributes and children
    /// rather than copying them; an element that is not a stanza (a
    /// `message`, `presence` or `iq` in a content namespace) is given back.
    ///
    /// # Errors
    /// The element itself, untouched, when it is not a stanza.
    pub fn from_element(mut element: Element) -> Result<Self, Element> {
        let Some(name) = StanzaName::from_name(element.name()) else {
            return Err(element);
        };
        let Some(namespace) = StreamNamespace::of(&element) else {
            return Err(element);
        };
        let mut parts = Self::new(name, namespace);
        for ((attr_ns, attr), value) in std::mem::take(element.attrs_mut()) {
            if attr_ns.is_none() {
                let slot = match attr.as_str() {
                    "to" => &mut parts.to,
                    "from" => &mut parts.from,
                    "id" => &mut parts.id,
                    "type" => &mut parts.kind,
                    _ => {
                        parts.other_attrs.insert(attr_ns, attr, value);
                        continue;
                    }
                };
                *slot = Some(value);
            } else if attr_ns == Namespace::XML && attr.as_str() == "lang" {
                parts.lang = Some(value);
            } else {
                parts.other_attrs.insert(attr_ns, attr, value);
            }
        }
        parts.children = element
            .take_nodes()
            .into_iter()
            .filter_map(|node| match node {
                Node::Element(child) => Some(LazyElement::from(child)),
                Node::Text(_) => None,
            })
            .collect();
        Ok(parts)
    }

    /// The value of attribute `name` (no namespace), whether modelled or
    /// not.
    ///
    /// ```
    /// use xmpp_kit::xml::StanzaParts;
    ///
    /// let element: minidom::Element =
    ///     "<iq xmlns='jabber:client' type='get' id='q1' custom='c'/>".parse()?;
    /// let parts = StanzaParts::from_element(element).expect("a stanza");
    /// assert_eq!(parts.attr("type"), Some("get"));
    /// assert_eq!(parts.kind.as_deref(), Some("get"));
    /// assert_eq!(parts.attr("custom"), Some("c"));
    /// assert_eq!(parts.attr("to"), None);
    /// # Ok::<(), minidom::Error>(())
    /// ```
    pub fn attr(&self, name: &str) -> Option<&str> {
        let modelled = match name {
            "to" => &self.to,
            "from" => &self.from,
            "id" => &self.id,
            "type" => &self.kind,
            _ => {
                return self
                    .other_attrs
                    .get(&Namespace::NONE, name)
                    .map(String::as_str);
            }
        };
        modelled.as_deref()
    }

    /// The stanza as one element, the children parsed where they are
    /// bytes.
    pub fn into_element(self) -> Element {
        let mut element = Element::bare(self.name.as_str(), self.namespace.as_str());
        *element.attrs_mut() = self.other_attrs;
        for (name, value) in [
            ("to", self.to),
            ("from", self.from),
            ("id", self.id),
            ("type", self.kind),
        ] {
            if let (Some(value), Ok(name)) = (value, NcName::try_from(name)) {
                element.attrs_mut().insert(Namespace::NONE, name, value);
            }
        }
        if let (Some(lang), Ok(name)) = (self.lang, NcName::try_from("lang")) {
            element.attrs_mut().insert(Namespace::XML, name, lang);
        }
        for child in self.children {
            element.append_child(child.into_element());
        }
        element
    }
}
