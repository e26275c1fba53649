//! Splitting stanzas as they are read
//! ([`StreamParser::set_split_stanzas`]): the stanza's attributes sorted
//! into fields, its text-only children kept as text, its extension payloads
//! kept as the bytes they arrived as.

use bytes::Bytes;
use rxml::{Namespace, NcName};

use super::{Frame, Head, Resolved, StreamParser, parse_fragment};
use crate::ns;
use crate::xml::error::ParseError;
use crate::xml::lazy::{LazyElement, NamespaceName};
use crate::xml::parser::StreamNamespace;
use crate::xml::split::{StanzaName, StanzaParts};

/// A stanza being split ([`StreamParser::set_split_stanzas`]).
#[derive(Debug)]
pub(super) struct SplitStanza {
    parts: StanzaParts,
    /// The child being kept as bytes, while it is open.
    pub(super) raw: Option<OpenRaw>,
    /// The text-only child being read, while it is open and still
    /// text-only; its text gathers in `pending_text`.
    pub(super) text: Option<OpenText>,
}

/// A child of a split stanza in its namespace with no attribute but
/// `xml:lang` (a body, a status), read without a tree while it has no
/// child element.
#[derive(Debug)]
pub(super) struct OpenText {
    name: NcName,
    lang: Option<String>,
}

/// A child of a split stanza being kept as bytes.
#[derive(Debug)]
pub(super) struct OpenRaw {
    start: u64,
    /// How many elements are open with it, itself included.
    depth: usize,
    /// The length of the bindings before its own declarations.
    mark: usize,
    /// Whether it uses only namespaces it declares itself.
    self_contained: bool,
    name: NcName,
    namespace: NamespaceName,
}

/// A child of a split stanza: made, or a range of the kept bytes until
/// the stanza ends.
#[derive(Debug)]
pub(super) enum SplitChild {
    Done(LazyElement),
    Raw {
        start: u64,
        end: u64,
        name: NcName,
        namespace: NamespaceName,
    },
}

/// Splitting stanzas ([`StreamParser::set_split_stanzas`]).
impl StreamParser {
    /// The namespace of a prefixed attribute, as an attribute map keeps it.
    pub(super) fn attr_namespace(&self, namespace: Resolved) -> Namespace<'static> {
        let name = self.ns_str(namespace);
        Namespace::try_share_static(name).unwrap_or_else(|| Namespace::from(name.to_owned()))
    }

    /// Starts splitting a stanza whose head has just closed: its attributes
    /// go to their fields, without an attribute map for the usual ones.
    pub(super) fn start_stanza(
        &mut self,
        name: StanzaName,
        content: StreamNamespace,
    ) -> Result<Option<Frame>, ParseError> {
        let mut parts = StanzaParts::new(name, content);
        let mut raw = std::mem::take(&mut self.raw_attributes);
        let mut result = Ok(());
        for (prefix, local, value) in raw.drain(..) {
            let namespace = match prefix {
                None => None,
                Some(p) => match self.resolve(Some(&p)) {
                    Ok(namespace) => Some(namespace),
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                },
            };
            let slot = match (namespace, local.as_str()) {
                (None, "to") => Some(&mut parts.to),
                (None, "from") => Some(&mut parts.from),
                (None, "id") => Some(&mut parts.id),
                (None, "type") => Some(&mut parts.kind),
                (Some(namespace), "lang") if self.ns_str(namespace) == rxml::XMLNS_XML => {
                    Some(&mut parts.lang)
                }
                _ => None,
            };
            let duplicate = match slot {
                Some(slot) => slot.replace(value).is_some(),
                None => {
                    let namespace = match namespace {
                        None => ns::NO_NAMESPACE.clone(),
                        Some(namespace) => self.attr_namespace(namespace),
                    };
                    parts
                        .other_attrs
                        .insert(namespace, local.clone(), value)
                        .is_some()
                }
            };
            if duplicate {
                result = Err(ParseError::DuplicateAttribute(local.as_str().to_owned()));
                break;
            }
        }
        raw.clear();
        self.raw_attributes = raw;
        result?;
        self.split_children.clear();
        self.stanza = Some(SplitStanza {
            parts,
            raw: None,
            text: None,
        });
        Ok(None)
    }

    /// An element head closed inside a split stanza, outside any child
    /// built as a tree: a child of the stanza, or an element inside a child
    /// kept as bytes.
    pub(super) fn split_child_head(
        &mut self,
        head: Head,
        namespace: Resolved,
    ) -> Result<Option<Frame>, ParseError> {
        let own = |mark: usize| matches!(namespace, Resolved::Bound(i) if i >= mark);
        if let Some(raw) = self.stanza.as_ref().and_then(|s| s.raw.as_ref()) {
            let mark = raw.mark;
            // The attributes are checked whatever the element's namespace.
            let attributes_contained = self.check_raw_attributes(mark)?;
            let contained = own(mark) && attributes_contained;
            if !contained && let Some(raw) = self.stanza.as_mut().and_then(|s| s.raw.as_mut()) {
                raw.self_contained = false;
            }
            return Ok(None);
        }
        let content = self.stanza.as_ref().map(|s| s.parts.namespace.as_str());
        if content == Some(self.ns_str(namespace)) {
            // A child in the stanza's own namespace (a body, an error, ...)
            // is read for the stanza types: text-only ones without a tree.
            if let Some(lang) = self.text_only_attributes()
                && let Some(stanza) = self.stanza.as_mut()
            {
                stanza.text = Some(OpenText {
                    name: head.local,
                    lang,
                });
                return Ok(None);
            }
            let attributes = self.resolve_attributes()?;
            self.open_element(namespace, &head.local, attributes);
            return Ok(None);
        }
        let mark = self.scopes.last().copied().unwrap_or(0);
        let attributes_contained = self.check_raw_attributes(mark)?;
        let self_contained = own(mark) && attributes_contained;
        let namespace = NamespaceName::locate(
            self.held_bytes(head.start, self.evented),
            self.ns_str(namespace),
        );
        let raw = OpenRaw {
            start: head.start,
            depth: self.scopes.len(),
            mark,
            self_contained,
            name: head.local,
            namespace,
        };
        if let Some(stanza) = self.stanza.as_mut() {
            stanza.raw = Some(raw);
        }
        Ok(None)
    }

    /// When the head being closed has no attribute but `xml:lang`: its
    /// value, taken. `None` (and the attributes left) otherwise.
    fn text_only_attributes(&mut self) -> Option<Option<String>> {
        match self.raw_attributes.as_mut_slice() {
            [] => Some(None),
            [(Some(prefix), local, value)]
                if prefix.as_str() == "xml" && local.as_str() == "lang" =>
            {
                let lang = std::mem::take(value);
                self.raw_attributes.clear();
                Some(Some(lang))
            }
            _ => None,
        }
    }

    /// Makes the open text-only child of the split stanza a tree, with the
    /// text read so far, for the child element that has just started in it.
    pub(super) fn open_text_as_tree(&mut self, text: OpenText) {
        let namespace = self
            .stanza
            .as_ref()
            .map_or("", |s| s.parts.namespace.as_str());
        let mut element = self.templates.element(text.name.as_str(), namespace);
        if let (Some(lang), Ok(attr)) = (text.lang, NcName::try_from("lang")) {
            element.attrs_mut().insert(Namespace::XML, attr, lang);
        }
        self.stack.push(element);
        self.append_pending_text();
    }

    /// Checks the attributes of an element kept as bytes as building its
    /// attribute map would (prefixes declared, no duplicates), without
    /// building it. Returns whether they use only namespaces declared from
    /// binding `mark` on. Called for every such element, whatever its own
    /// namespace: it also clears the attributes read for the next one.
    fn check_raw_attributes(&mut self, mark: usize) -> Result<bool, ParseError> {
        let raw = std::mem::take(&mut self.raw_attributes);
        let result = self.check_attributes(&raw, mark);
        let mut raw = raw;
        raw.clear();
        self.raw_attributes = raw;
        result
    }

    fn check_attributes(
        &self,
        raw: &[(Option<NcName>, NcName, String)],
        mark: usize,
    ) -> Result<bool, ParseError> {
        let mut contained = true;
        for (i, (prefix, local, _)) in raw.iter().enumerate() {
            let namespace = match prefix {
                None => None,
                Some(p) => Some(self.resolve(Some(p))?),
            };
            if let Some(Resolved::Bound(index)) = namespace
                && index < mark
            {
                contained = false;
            }
            let name_of = |n: Option<Resolved>| n.map(|n| self.ns_str(n));
            for (other_prefix, other_local, _) in raw.iter().take(i) {
                if other_local != local {
                    continue;
                }
                let other = match other_prefix {
                    None => None,
                    Some(p) => Some(self.resolve(Some(p))?),
                };
                if name_of(other) == name_of(namespace) {
                    return Err(ParseError::DuplicateAttribute(local.as_str().to_owned()));
                }
            }
        }
        Ok(contained)
    }

    /// An element ended inside a split stanza, outside any child built as
    /// a tree: a child kept as bytes, an element inside one, or the stanza.
    pub(super) fn split_foot(&mut self) -> Result<Option<Frame>, ParseError> {
        let open = self.scopes.len();
        let Some(stanza) = self.stanza.as_mut() else {
            return Ok(None);
        };
        if let Some(text) = stanza.text.take() {
            let namespace = stanza.parts.namespace.as_str();
            let child =
                LazyElement::text(text.name, namespace, text.lang, self.pending_text.take());
            self.split_children.push(SplitChild::Done(child));
            return Ok(None);
        }
        match stanza.raw.take() {
            Some(raw) if open + 1 == raw.depth => {
                let child = if raw.self_contained {
                    SplitChild::Raw {
                        start: raw.start,
                        end: self.evented,
                        name: raw.name,
                        namespace: raw.namespace,
                    }
                } else {
                    // It needs declarations from outside: parsed now, with
                    // them in scope (the bindings are back to what they were
                    // where it started).
                    let bytes = self.held_bytes(raw.start, self.evented);
                    SplitChild::Done(parse_fragment(bytes, &self.bindings)?.into())
                };
                self.split_children.push(child);
                Ok(None)
            }
            Some(raw) => {
                stanza.raw = Some(raw);
                Ok(None)
            }
            None => self.finish_stanza(),
        }
    }

    /// The split stanza has ended: its children kept as bytes share one
    /// copy of the bytes they span.
    fn finish_stanza(&mut self) -> Result<Option<Frame>, ParseError> {
        let Some(stanza) = self.stanza.take() else {
            return Ok(None);
        };
        let mut parts = stanza.parts;
        let span = self
            .split_children
            .iter()
            .filter_map(|child| match child {
                SplitChild::Raw { start, end, .. } => Some((*start, *end)),
                SplitChild::Done(_) => None,
            })
            .reduce(|(a, b), (c, d)| (a.min(c), b.max(d)));
        let (first, shared) = match span {
            Some((first, last)) => (first, Bytes::copy_from_slice(self.held_bytes(first, last))),
            None => (0, Bytes::new()),
        };
        parts.children.reserve_exact(self.split_children.len());
        for child in self.split_children.drain(..) {
            parts.children.push(match child {
                SplitChild::Done(element) => element,
                SplitChild::Raw {
                    start,
                    end,
                    name,
                    namespace,
                } => {
                    let at = |offset: u64| {
                        usize::try_from(offset.saturating_sub(first)).unwrap_or(usize::MAX)
                    };
                    let (start, end) = (at(start), at(end));
                    let bytes = if start <= end && end <= shared.len() {
                        shared.slice(start..end)
                    } else {
                        Bytes::new()
                    };
                    LazyElement::raw(bytes, name, namespace)
                }
            });
        }
        Ok(self.end_top_level(Frame::Stanza(parts)))
    }
}
