//! [`LazyElement`]: an element kept as the bytes it arrived as until it is
//! looked into.

use std::borrow::Cow;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::OnceLock;

use bytes::Bytes;
use minidom::Element;
use rxml::NcName;

/// An element that may still be the bytes it arrived as: a stanza's
/// extension payload.
///
/// A router forwards most payloads without ever looking into them, so the
/// framer keeps a payload that declares its own namespace as its bytes,
/// with its name and namespace, instead of building an element tree for it
/// (see [`StreamParser::set_split_stanzas`](super::StreamParser::set_split_stanzas)).
/// [`name`](Self::name), [`namespace`](Self::namespace), [`is`](Self::is)
/// and [`has_ns`](Self::has_ns) answer without parsing; the first use of the
/// element itself (through [`Deref`]) parses the bytes once and keeps the
/// tree. [`StreamWriter`](super::StreamWriter) writes the bytes as they
/// came. A payload built by the application, or one that depends on a
/// namespace declared outside it, is an [`Element`] from the start.
///
/// Either way it reads, compares and converts like the [`Element`] it
/// stands for:
///
/// ```
/// use minidom::Element;
/// use xmpp_kit::xml::LazyElement;
///
/// let element: Element = "<x xmlns='urn:example'><y/></x>".parse()?;
/// let lazy = LazyElement::from(element.clone());
/// assert!(lazy.is("x", "urn:example"));
/// assert!(lazy.get_child("y", "urn:example").is_some()); // an Element method
/// assert_eq!(lazy, element);
/// assert_eq!(Element::from(lazy), element);
/// # Ok::<(), minidom::Error>(())
/// ```
#[derive(Clone)]
pub struct LazyElement {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    /// A tree from the start.
    Tree(Element),
    /// The bytes as they arrived, parsed on first use.
    Raw {
        /// A whole element that declares every namespace it uses.
        bytes: Bytes,
        name: NcName,
        /// Where the namespace name is in `bytes`, or the name itself when
        /// it is not written there verbatim.
        namespace: NamespaceName,
        tree: OnceLock<Element>,
    },
    /// A text-only child in a stanza's namespace (a body, a status):
    /// its name, `xml:lang` and text, made into a tree on first use.
    Text {
        name: NcName,
        namespace: &'static str,
        lang: Option<String>,
        text: Option<String>,
        tree: OnceLock<Element>,
    },
}

/// The namespace name of a raw element: nearly always written verbatim in
/// its own start tag, so found there rather than copied.
#[derive(Debug, Clone)]
pub(crate) enum NamespaceName {
    InBytes { start: u32, end: u32 },
    Owned(String),
}

impl LazyElement {
    /// A raw element: `bytes` are a whole element named `name` in
    /// `namespace`, as the framer read it, declaring every namespace it
    /// uses (it parses alone, to the same tree).
    pub(crate) fn raw(bytes: Bytes, name: NcName, namespace: NamespaceName) -> Self {
        Self {
            repr: Repr::Raw {
                bytes,
                name,
                namespace,
                tree: OnceLock::new(),
            },
        }
    }

    /// A text-only element: no attribute but `xml:lang`, no child element,
    /// `text` its text if it has any.
    pub(crate) fn text(
        name: NcName,
        namespace: &'static str,
        lang: Option<String>,
        text: Option<String>,
    ) -> Self {
        Self {
            repr: Repr::Text {
                name,
                namespace,
                lang,
                text,
                tree: OnceLock::new(),
            },
        }
    }

    /// The element's local name, without parsing it.
    pub fn name(&self) -> &str {
        match &self.repr {
            Repr::Tree(element) => element.name(),
            Repr::Raw { name, .. } | Repr::Text { name, .. } => name.as_str(),
        }
    }

    /// The text of a text-only element read by the framer, without making
    /// a tree: `Some` for those only.
    pub(crate) fn simple_text(&self) -> Option<&str> {
        match &self.repr {
            Repr::Text { text, .. } => Some(text.as_deref().unwrap_or_default()),
            Repr::Tree(_) | Repr::Raw { .. } => None,
        }
    }

    /// The `xml:lang` and text of a text-only element read by the framer,
    /// moved out (it is left empty); `None` for any other element.
    pub(crate) fn take_text(&mut self) -> Option<(Option<String>, String)> {
        match &mut self.repr {
            Repr::Text {
                lang, text, tree, ..
            } => {
                *tree = OnceLock::new();
                Some((lang.take(), text.take().unwrap_or_default()))
            }
            Repr::Tree(_) | Repr::Raw { .. } => None,
        }
    }

    /// The element's namespace name, without parsing it: borrowed from a
    /// raw element, copied from a tree (minidom lends it out only as a
    /// copy).
    pub fn namespace(&self) -> Cow<'_, str> {
        match &self.repr {
            Repr::Tree(element) => Cow::Owned(element.ns()),
            Repr::Raw { .. } | Repr::Text { .. } => {
                Cow::Borrowed(self.raw_namespace().unwrap_or_default())
            }
        }
    }

    /// The namespace name of a raw or text-only element, which keep it
    /// without a tree; `None` for a tree.
    fn raw_namespace(&self) -> Option<&str> {
        match &self.repr {
            Repr::Tree(_) => None,
            Repr::Text { namespace, .. } => Some(namespace),
            Repr::Raw {
                bytes, namespace, ..
            } => Some(namespace.get(bytes)),
        }
    }

    /// The namespace name as an owned string, like [`Element::ns`], without
    /// parsing the element.
    pub fn ns(&self) -> String {
        self.namespace().into_owned()
    }

    /// Whether the element is named `name` in namespace `namespace`,
    /// without parsing it.
    pub fn is(&self, name: &str, namespace: &str) -> bool {
        match &self.repr {
            Repr::Tree(element) => element.is(name, namespace),
            Repr::Raw { .. } | Repr::Text { .. } => self.name() == name && self.has_ns(namespace),
        }
    }

    /// Whether the element is in namespace `namespace`, without parsing it.
    pub fn has_ns(&self, namespace: &str) -> bool {
        match &self.repr {
            Repr::Tree(element) => element.has_ns(namespace),
            Repr::Raw { .. } | Repr::Text { .. } => self.raw_namespace() == Some(namespace),
        }
    }

    /// The bytes the element arrived as, when it is still held that way
    /// (it declares every namespace it uses, so they parse alone). `None`
    /// for an element that was built as a tree or changed through
    /// [`DerefMut`].
    pub fn raw_bytes(&self) -> Option<&[u8]> {
        match &self.repr {
            Repr::Tree(_) | Repr::Text { .. } => None,
            Repr::Raw { bytes, .. } => Some(bytes),
        }
    }

    /// The element as a tree, parsed now if it was not yet.
    pub fn as_element(&self) -> &Element {
        match &self.repr {
            Repr::Tree(element) => element,
            Repr::Raw { tree, .. } | Repr::Text { tree, .. } => tree.get_or_init(|| self.fresh()),
        }
    }

    /// A new tree for a raw or text-only element.
    fn fresh(&self) -> Element {
        match &self.repr {
            Repr::Tree(element) => element.clone(),
            Repr::Raw {
                bytes,
                name,
                namespace,
                ..
            } => parse(bytes, name.as_str(), namespace.get(bytes)),
            Repr::Text {
                name,
                namespace,
                lang,
                text,
                ..
            } => text_element(name, namespace, lang.clone(), text.clone()),
        }
    }

    /// The element as a tree, parsed now if it was not yet; the bytes are
    /// let go of, since the tree may be changed.
    pub fn as_element_mut(&mut self) -> &mut Element {
        match self.repr {
            Repr::Tree(ref mut element) => element,
            Repr::Raw { .. } | Repr::Text { .. } => {
                let element =
                    std::mem::replace(self, Self::from(Element::bare("", ""))).into_element();
                self.repr = Repr::Tree(element);
                self.as_element_mut()
            }
        }
    }

    /// The element as a tree.
    pub fn into_element(self) -> Element {
        match self.repr {
            Repr::Tree(element) => element,
            Repr::Raw { tree, .. } | Repr::Text { tree, .. } if tree.get().is_some() => {
                tree.into_inner().unwrap_or_else(|| Element::bare("", ""))
            }
            _ => self.fresh(),
        }
    }
}

/// Longest start of an element searched for its namespace name, and
/// longest namespace name searched for, so the search stays cheap whatever
/// a peer sends.
const LOCATE_WITHIN: usize = 1024;
const LOCATE_LONGEST: usize = 256;

impl NamespaceName {
    /// The namespace name `namespace` of an element whose bytes start with
    /// `head`: where it is written in `head` (relative to its start), or a
    /// copy.
    pub(crate) fn locate(head: &[u8], namespace: &str) -> Self {
        let within = head.get(..LOCATE_WITHIN).unwrap_or(head);
        let found = if namespace.len() <= LOCATE_LONGEST {
            find(within, namespace.as_bytes())
        } else {
            None
        };
        match found.map(|start| (u32::try_from(start), u32::try_from(start + namespace.len()))) {
            Some((Ok(start), Ok(end))) => Self::InBytes { start, end },
            _ => Self::Owned(namespace.to_owned()),
        }
    }

    fn get<'a>(&'a self, bytes: &'a [u8]) -> &'a str {
        match self {
            Self::Owned(name) => name,
            Self::InBytes { start, end } => bytes
                .get(*start as usize..*end as usize)
                .and_then(|b| std::str::from_utf8(b).ok())
                .unwrap_or_default(),
        }
    }
}

/// The tree of a text-only element, as the framer would have built it.
fn text_element(
    name: &NcName,
    namespace: &str,
    lang: Option<String>,
    text: Option<String>,
) -> Element {
    let mut element = Element::bare(name.as_str(), namespace);
    if let (Some(lang), Ok(attr)) = (lang, NcName::try_from("lang")) {
        element.attrs_mut().insert(rxml::Namespace::XML, attr, lang);
    }
    if let Some(text) = text {
        element.append_text(text);
    }
    element
}

/// Parses the bytes of a raw element. They were read by the framer as a
/// well-formed, self-contained element, so this does not fail; if it did,
/// the element would read as an empty one with its name and namespace.
fn parse(bytes: &[u8], name: &str, namespace: &str) -> Element {
    super::parser::parse_fragment(bytes, &[]).unwrap_or_else(|_| Element::bare(name, namespace))
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

impl From<Element> for LazyElement {
    fn from(element: Element) -> Self {
        Self {
            repr: Repr::Tree(element),
        }
    }
}

impl From<LazyElement> for Element {
    fn from(lazy: LazyElement) -> Self {
        lazy.into_element()
    }
}

impl Deref for LazyElement {
    type Target = Element;

    fn deref(&self) -> &Element {
        self.as_element()
    }
}

impl DerefMut for LazyElement {
    fn deref_mut(&mut self) -> &mut Element {
        self.as_element_mut()
    }
}

impl AsRef<Element> for LazyElement {
    fn as_ref(&self) -> &Element {
        self.as_element()
    }
}

impl PartialEq for LazyElement {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name() && self.as_element() == other.as_element()
    }
}

impl PartialEq<Element> for LazyElement {
    fn eq(&self, other: &Element) -> bool {
        self.as_element() == other
    }
}

impl PartialEq<LazyElement> for Element {
    fn eq(&self, other: &LazyElement) -> bool {
        self == other.as_element()
    }
}

impl fmt::Debug for LazyElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Tree(element) => element.fmt(f),
            Repr::Text { .. } => self.as_element().fmt(f),
            Repr::Raw { bytes, .. } => f
                .debug_struct("LazyElement")
                .field("name", &self.name())
                .field("namespace", &self.namespace())
                .field("bytes", &String::from_utf8_lossy(bytes))
                .finish(),
        }
    }
}
