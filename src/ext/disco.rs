//! XEP-0030: Service Discovery (info and items).
//!
//! An entity answers a disco#info query ([`DiscoInfo`]) with its identities,
//! the features it supports and, per XEP-0128, extended information as data
//! forms; it answers a disco#items query ([`DiscoItems`]) with the items
//! associated with it. Both queries may address a `node` of the entity.
//!
//! ```
//! use xmpp_kit::ext::Payload;
//! use xmpp_kit::ext::disco::{DiscoInfo, Identity};
//!
//! // The query of an iq get, then the answer of a client.
//! let request = DiscoInfo::request(None);
//! assert!(DiscoInfo::parse(&request.to_element())?.identities.is_empty());
//!
//! let answer = DiscoInfo {
//!     identities: vec![Identity::new("client", "pc").with_name("Gabber")],
//!     features: vec!["jabber:iq:time".into(), "jabber:iq:version".into()],
//!     ..request
//! };
//! let parsed = DiscoInfo::parse(&answer.to_element())?;
//! assert!(parsed.has_identity("client", "pc"));
//! assert!(parsed.has_feature("jabber:iq:version"));
//! assert_eq!(parsed, answer);
//! # Ok::<(), xmpp_kit::ext::PayloadError>(())
//! ```

use minidom::Element;

use super::data_forms::{self, DataForm};
use super::{
    Payload, PayloadError, expect, lang, required_attr, required_jid_attr, set_attr, set_lang,
    set_opt_attr,
};
use crate::jid::Jid;

/// The disco#info namespace.
pub const NS_INFO: &str = "http://jabber.org/protocol/disco#info";

/// The disco#items namespace.
pub const NS_ITEMS: &str = "http://jabber.org/protocol/disco#items";

/// An `<identity/>` of a disco#info result: what the entity is.
///
/// Category and type come from the XMPP registry of service discovery
/// identities (such as `client`/`pc` or `conference`/`text`), but any
/// value is kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    /// The `category`, such as `client` or `server`.
    pub category: String,
    /// The `type` within the category, such as `pc` or `im`.
    pub type_: String,
    /// The natural-language `name`.
    pub name: Option<String>,
    /// The `xml:lang` of the name.
    pub lang: Option<String>,
}

impl Identity {
    /// An identity without name.
    pub fn new(category: impl Into<String>, type_: impl Into<String>) -> Self {
        Self {
            category: category.into(),
            type_: type_.into(),
            name: None,
            lang: None,
        }
    }

    /// Sets the name.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the language of the name.
    #[must_use]
    pub fn with_lang(mut self, lang: impl Into<String>) -> Self {
        self.lang = Some(lang.into());
        self
    }

    fn parse(element: &Element) -> Result<Self, PayloadError> {
        Ok(Self {
            category: required_attr(element, "category", "identity")?.to_owned(),
            type_: required_attr(element, "type", "identity")?.to_owned(),
            name: crate::ext::attr(element, "name").map(str::to_owned),
            lang: lang(element).map(str::to_owned),
        })
    }

    fn to_element(&self) -> Element {
        let mut element = Element::bare("identity", NS_INFO);
        set_attr(&mut element, "category", self.category.as_str());
        set_attr(&mut element, "type", self.type_.as_str());
        set_opt_attr(&mut element, "name", self.name.as_deref());
        set_lang(&mut element, self.lang.as_deref());
        element
    }
}

/// The `<query xmlns='http://jabber.org/protocol/disco#info'/>` of a
/// request (empty) or a result.
///
/// Identities, features and extension forms keep the order they were
/// found in; on the wire they are written identities first, then
/// features, then forms.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct DiscoInfo {
    /// The `node` queried.
    pub node: Option<String>,
    /// The identities.
    pub identities: Vec<Identity>,
    /// The `var`s of the `<feature/>`s.
    pub features: Vec<String>,
    /// Extended information, XEP-0128 data forms (normally of type
    /// `result`, each with a `FORM_TYPE`).
    pub extensions: Vec<DataForm>,
}

impl DiscoInfo {
    /// The empty query of a request, for the entity itself or one of its
    /// nodes.
    pub fn request(node: Option<&str>) -> Self {
        Self {
            node: node.map(str::to_owned),
            ..Self::default()
        }
    }

    /// Whether the features include `var`.
    pub fn has_feature(&self, var: &str) -> bool {
        self.features.iter().any(|f| f == var)
    }

    /// Whether an identity has this category and type.
    pub fn has_identity(&self, category: &str, type_: &str) -> bool {
        self.identities
            .iter()
            .any(|i| i.category == category && i.type_ == type_)
    }

    /// The first extension form whose `FORM_TYPE` is `form_type`.
    pub fn extension(&self, form_type: &str) -> Option<&DataForm> {
        self.extensions
            .iter()
            .find(|form| form.form_type_value() == Some(form_type))
    }
}

impl Payload for DiscoInfo {
    fn matches(element: &Element) -> bool {
        element.is("query", NS_INFO)
    }

    fn parse(element: &Element) -> Result<Self, PayloadError> {
        expect(element, "query", NS_INFO)?;
        let mut info = Self::request(crate::ext::attr(element, "node"));
        for child in element.children() {
            if child.is("identity", NS_INFO) {
                info.identities.push(Identity::parse(child)?);
            } else if child.is("feature", NS_INFO) {
                info.features
                    .push(required_attr(child, "var", "feature")?.to_owned());
            } else if child.is("x", data_forms::NS) {
                info.extensions.push(DataForm::parse(child)?);
            }
        }
        Ok(info)
    }

    fn to_element(&self) -> Element {
        let mut element = Element::bare("query", NS_INFO);
        set_opt_attr(&mut element, "node", self.node.as_deref());
        for identity in &self.identities {
            element.append_child(identity.to_element());
        }
        for feature in &self.features {
            let mut child = Element::bare("feature", NS_INFO);
            set_attr(&mut child, "var", feature.as_str());
            element.append_child(child);
        }
        for form in &self.extensions {
            element.append_child(form.to_element());
        }
        element
    }
}

/// An `<item/>` of a disco#items result.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DiscoItem {
    /// The item's `jid`.
    pub jid: Jid,
    /// The item's `node`, for items that are not addressable by JID alone.
    pub node: Option<String>,
    /// The natural-language `name`.
    pub name: Option<String>,
}

impl DiscoItem {
    /// An item with only a JID.
    pub fn new(jid: Jid) -> Self {
        Self {
            jid,
            node: None,
            name: None,
        }
    }

    /// Sets the node.
    #[must_use]
    pub fn with_node(mut self, node: impl Into<String>) -> Self {
        self.node = Some(node.into());
        self
    }

    /// Sets the name.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    fn parse(element: &Element) -> Result<Self, PayloadError> {
        Ok(Self {
            jid: required_jid_attr(element, "jid", "item")?,
            node: crate::ext::attr(element, "node").map(str::to_owned),
            name: crate::ext::attr(element, "name").map(str::to_owned),
        })
    }

    fn to_element(&self) -> Element {
        let mut element = Element::bare("item", NS_ITEMS);
        set_attr(&mut element, "jid", self.jid.as_str());
        set_opt_attr(&mut element, "node", self.node.as_deref());
        set_opt_attr(&mut element, "name", self.name.as_deref());
        element
    }
}

/// The `<query xmlns='http://jabber.org/protocol/disco#items'/>` of a
/// request (empty) or a result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct DiscoItems {
    /// The `node` queried.
    pub node: Option<String>,
    /// The items, in order.
    pub items: Vec<DiscoItem>,
}

impl DiscoItems {
    /// The empty query of a request, for the entity itself or one of its
    /// nodes.
    pub fn request(node: Option<&str>) -> Self {
        Self {
            node: node.map(str::to_owned),
            items: Vec::new(),
        }
    }
}

impl Payload for DiscoItems {
    fn matches(element: &Element) -> bool {
        element.is("query", NS_ITEMS)
    }

    fn parse(element: &Element) -> Result<Self, PayloadError> {
        expect(element, "query", NS_ITEMS)?;
        let mut items = Self::request(crate::ext::attr(element, "node"));
        for child in element.children() {
            if child.is("item", NS_ITEMS) {
                items.items.push(DiscoItem::parse(child)?);
            }
        }
        Ok(items)
    }

    fn to_element(&self) -> Element {
        let mut element = Element::bare("query", NS_ITEMS);
        set_opt_attr(&mut element, "node", self.node.as_deref());
        for item in &self.items {
            element.append_child(item.to_element());
        }
        element
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ext::data_forms::FormType;

    fn info(xml: &str) -> Result<DiscoInfo, PayloadError> {
        DiscoInfo::parse(&xml.parse::<Element>().unwrap())
    }

    fn items(xml: &str) -> Result<DiscoItems, PayloadError> {
        DiscoItems::parse(&xml.parse::<Element>().unwrap())
    }

    fn info_round_trips(value: &DiscoInfo) {
        assert_eq!(&DiscoInfo::parse(&value.to_element()).unwrap(), value);
    }

    fn items_round_trips(value: &DiscoItems) {
        assert_eq!(&DiscoItems::parse(&value.to_element()).unwrap(), value);
    }

    /// XEP-0030 examples 1 and 5 (info requests) and example 9 (a request
    /// for a node).
    #[test]
    fn info_requests() {
        let request = info("<query xmlns='http://jabber.org/protocol/disco#info'/>").unwrap();
        assert_eq!(request, DiscoInfo::request(None));
        info_round_trips(&request);

        let request = info(
            "<query xmlns='http://jabber.org/protocol/disco#info' \n         node='http://jabber.org/protocol/commands'/>",
        )
        .unwrap();
        assert_eq!(
            request,
            DiscoInfo::request(Some("http://jabber.org/protocol/commands"))
        );
        assert_eq!(
            request.to_element().attr("node"),
            Some("http://jabber.org/protocol/commands")
        );
        info_round_trips(&request);
    }

    /// XEP-0030 example 2 (Result-set for information request).
    #[test]
    fn info_result() {
        let result = info(
            "<query xmlns='http://jabber.org/protocol/disco#info'>
    <identity
        category='conference'
        type='text'
        name='Play-Specific Chatrooms'/>
    <identity
        category='directory'
        type='chatroom'
        name='Play-Specific Chatrooms'/>
    <feature var='http://jabber.org/protocol/disco#info'/>
    <feature var='http://jabber.org/protocol/disco#items'/>
    <feature var='http://jabber.org/protocol/muc'/>
    <feature var='jabber:iq:register'/>
    <feature var='jabber:iq:search'/>
    <feature var='jabber:iq:time'/>
    <feature var='jabber:iq:version'/>
  </query>",
        )
        .unwrap();
        assert_eq!(result.node, None);
        assert_eq!(
            result.identities,
            [
                Identity::new("conference", "text").with_name("Play-Specific Chatrooms"),
                Identity::new("directory", "chatroom").with_name("Play-Specific Chatrooms"),
            ]
        );
        assert_eq!(
            result.features,
            [
                "http://jabber.org/protocol/disco#info",
                "http://jabber.org/protocol/disco#items",
                "http://jabber.org/protocol/muc",
                "jabber:iq:register",
                "jabber:iq:search",
                "jabber:iq:time",
                "jabber:iq:version",
            ]
        );
        assert!(result.has_identity("directory", "chatroom"));
        assert!(!result.has_identity("directory", "user"));
        assert!(result.has_feature("jabber:iq:search"));
        assert!(result.extensions.is_empty());
        info_round_trips(&result);
    }

    /// XEP-0030 examples 6 (account on behalf of a bare JID), 7 (a room),
    /// 8 (a connected resource) and 10 (a node).
    #[test]
    fn more_info_results() {
        let account = info(
            "<query xmlns='http://jabber.org/protocol/disco#info'>
    <identity category='account' type='registered'/>
  </query>",
        )
        .unwrap();
        assert_eq!(account.identities, [Identity::new("account", "registered")]);
        assert!(account.features.is_empty());
        info_round_trips(&account);

        let room = info(
            "<query xmlns='http://jabber.org/protocol/disco#info'>
    <identity
        category='conference'
        type='text'
        name='Romeo and Juliet, Act II, Scene II'/>
    <feature var='http://jabber.org/protocol/disco#info'/>
    <feature var='http://jabber.org/protocol/muc'/>
    <feature var='http://jabber.org/protocol/feature-neg'/>
    <feature var='muc-password'/>
    <feature var='muc-hidden'/>
    <feature var='muc-temporary'/>
    <feature var='muc-open'/>
    <feature var='muc-unmoderated'/>
    <feature var='muc-nonanonymous'/>
  </query>",
        )
        .unwrap();
        assert_eq!(room.features.len(), 9);
        assert_eq!(room.features[3], "muc-password");
        assert_eq!(room.features[8], "muc-nonanonymous");
        info_round_trips(&room);

        let resource = info(
            "<query xmlns='http://jabber.org/protocol/disco#info'>
    <identity
        category='client'
        type='pc'
        name='Gabber'/>
    <feature var='jabber:iq:time'/>
    <feature var='jabber:iq:version'/>
  </query>",
        )
        .unwrap();
        assert_eq!(
            resource.identities,
            [Identity::new("client", "pc").with_name("Gabber")]
        );
        info_round_trips(&resource);

        let node = info(
            "<query xmlns='http://jabber.org/protocol/disco#info' \n         node='http://jabber.org/protocol/commands'>
    <identity
        category='automation'
        type='command-list'/>
  </query>",
        )
        .unwrap();
        assert_eq!(
            node.node.as_deref(),
            Some("http://jabber.org/protocol/commands")
        );
        assert_eq!(
            node.identities,
            [Identity::new("automation", "command-list")]
        );
        info_round_trips(&node);
    }

    /// XEP-0115 section 5.3: identities with `xml:lang` and an XEP-0128
    /// extension form.
    #[test]
    fn identities_with_lang_and_extension_form() {
        let result = info(
            "<query xmlns='http://jabber.org/protocol/disco#info'
         node='http://psi-im.org#q07IKJEyjvHSyhy//CH0CxmKi8w='>
    <identity xml:lang='en' category='client' name='Psi 0.11' type='pc'/>
    <identity xml:lang='el' category='client' name='\u{3a8} 0.11' type='pc'/>
    <feature var='http://jabber.org/protocol/caps'/>
    <x xmlns='jabber:x:data' type='result'>
      <field var='FORM_TYPE' type='hidden'>
        <value>urn:xmpp:dataforms:softwareinfo</value>
      </field>
      <field var='os'>
        <value>Mac</value>
      </field>
    </x>
  </query>",
        )
        .unwrap();
        assert_eq!(
            result.identities,
            [
                Identity::new("client", "pc")
                    .with_name("Psi 0.11")
                    .with_lang("en"),
                Identity::new("client", "pc")
                    .with_name("\u{3a8} 0.11")
                    .with_lang("el"),
            ]
        );
        assert_eq!(result.extensions.len(), 1);
        let form = result.extension("urn:xmpp:dataforms:softwareinfo").unwrap();
        assert_eq!(form.form_type, FormType::Result);
        assert_eq!(form.field("os").unwrap().value(), Some("Mac"));
        assert!(result.extension("urn:other").is_none());
        let element = result.to_element();
        let identity = element.get_child("identity", NS_INFO).unwrap();
        assert_eq!(identity.attr_ns(crate::ns::XML, "lang"), Some("en"));
        info_round_trips(&result);
    }

    /// Unknown attributes, unknown children and children in other
    /// namespaces are ignored.
    #[test]
    fn unknown_children_are_ignored() {
        let result = info(
            "<query xmlns='http://jabber.org/protocol/disco#info' x='y'><foo/><feature xmlns='urn:other' var='z'/><feature var='a'/></query>",
        )
        .unwrap();
        assert_eq!(result.features, ["a"]);
    }

    #[test]
    fn malformed_info_is_refused() {
        assert!(matches!(
            info(
                "<query xmlns='http://jabber.org/protocol/disco#info'><identity type='pc'/></query>"
            ),
            Err(PayloadError::MissingAttribute {
                element: "identity",
                attribute: "category"
            })
        ));
        assert!(matches!(
            info(
                "<query xmlns='http://jabber.org/protocol/disco#info'><identity category='client'/></query>"
            ),
            Err(PayloadError::MissingAttribute {
                element: "identity",
                attribute: "type"
            })
        ));
        assert!(matches!(
            info("<query xmlns='http://jabber.org/protocol/disco#info'><feature/></query>"),
            Err(PayloadError::MissingAttribute {
                element: "feature",
                attribute: "var"
            })
        ));
        assert!(matches!(
            info(
                "<query xmlns='http://jabber.org/protocol/disco#info'><x xmlns='jabber:x:data'/></query>"
            ),
            Err(PayloadError::MissingAttribute {
                element: "x",
                attribute: "type"
            })
        ));
        assert!(matches!(
            info("<query xmlns='http://jabber.org/protocol/disco#items'/>"),
            Err(PayloadError::WrongElement { .. })
        ));
        assert!(!DiscoInfo::matches(
            &"<query xmlns='http://jabber.org/protocol/disco#items'/>"
                .parse()
                .unwrap()
        ));
    }

    /// XEP-0030 examples 11 (request), 12 (Result-set for all items) and 13
    /// (empty result).
    #[test]
    fn items_result() {
        let request = items("<query xmlns='http://jabber.org/protocol/disco#items'/>").unwrap();
        assert_eq!(request, DiscoItems::request(None));
        items_round_trips(&request);

        let result = items(
            "<query xmlns='http://jabber.org/protocol/disco#items'>
    <item jid='people.shakespeare.lit'
          name='Directory of Characters'/>
    <item jid='plays.shakespeare.lit'
          name='Play-Specific Chatrooms'/>
    <item jid='mim.shakespeare.lit'
          name='Gateway to Marlowe IM'/>
    <item jid='words.shakespeare.lit'
          name='Shakespearean Lexicon'/>
    <item jid='globe.shakespeare.lit'
          name='Calendar of Performances'/>
    <item jid='headlines.shakespeare.lit'
          name='Latest Shakespearean News'/>
    <item jid='catalog.shakespeare.lit'
          name='Buy Shakespeare Stuff!'/>
    <item jid='en2fr.shakespeare.lit'
          name='French Translation Service'/>
  </query>",
        )
        .unwrap();
        assert_eq!(result.node, None);
        assert_eq!(result.items.len(), 8);
        assert_eq!(
            result.items[0],
            DiscoItem::new("people.shakespeare.lit".parse().unwrap())
                .with_name("Directory of Characters")
        );
        assert_eq!(result.items[7].jid.as_str(), "en2fr.shakespeare.lit");
        assert_eq!(
            result.items[7].name.as_deref(),
            Some("French Translation Service")
        );
        items_round_trips(&result);
    }

    /// XEP-0030 example 15: items that are full JIDs.
    #[test]
    fn items_with_full_jids() {
        let result = items(
            "<query xmlns='http://jabber.org/protocol/disco#items'>
    <item jid='juliet@capulet.com/balcony'/>
    <item jid='juliet@capulet.com/chamber'/>
  </query>",
        )
        .unwrap();
        assert!(result.items[0].jid.is_full());
        assert_eq!(result.items[1].jid.resource(), Some("chamber"));
        assert_eq!(result.items[1].name, None);
        items_round_trips(&result);
    }

    /// XEP-0030 examples 17 (Service returns nodes), 20 (a request for a
    /// node) and 21 (Service returns even more nodes).
    #[test]
    fn items_nodes() {
        let result = items(
            "<query xmlns='http://jabber.org/protocol/disco#items'>
    <item jid='catalog.shakespeare.lit'
          node='books'
          name='Books by and about Shakespeare'/>
    <item jid='catalog.shakespeare.lit'
          node='clothing'
          name='Wear your literary taste with pride'/>
    <item jid='catalog.shakespeare.lit'
          node='music'
          name='Music from the time of Shakespeare'/>
  </query>",
        )
        .unwrap();
        assert_eq!(result.items.len(), 3);
        assert_eq!(result.items[1].node.as_deref(), Some("clothing"));
        items_round_trips(&result);

        let request = items(
            "<query xmlns='http://jabber.org/protocol/disco#items' \n         node='music/D'/>",
        )
        .unwrap();
        assert_eq!(request, DiscoItems::request(Some("music/D")));

        let result = items(
            "<query xmlns='http://jabber.org/protocol/disco#items' \n         node='music/D'>
    <item jid='catalog.shakespeare.lit'
          node='music/D/dowland-firstbooke'
          name='John Dowland - First Booke of Songes or Ayres'/>
    <item jid='catalog.shakespeare.lit'
          node='music/D/dowland-solace'
          name='John Dowland - A Pilgrimes Solace'/>
  </query>",
        )
        .unwrap();
        assert_eq!(result.node.as_deref(), Some("music/D"));
        assert_eq!(
            result.items[1],
            DiscoItem::new("catalog.shakespeare.lit".parse().unwrap())
                .with_node("music/D/dowland-solace")
                .with_name("John Dowland - A Pilgrimes Solace")
        );
        items_round_trips(&result);
    }

    #[test]
    fn malformed_items_are_refused() {
        assert!(matches!(
            items("<query xmlns='http://jabber.org/protocol/disco#items'><item name='x'/></query>"),
            Err(PayloadError::MissingAttribute {
                element: "item",
                attribute: "jid"
            })
        ));
        assert!(matches!(
            items(
                "<query xmlns='http://jabber.org/protocol/disco#items'><item jid='@bad'/></query>"
            ),
            Err(PayloadError::InvalidJid {
                element: "item",
                ..
            })
        ));
        assert!(matches!(
            items("<query xmlns='http://jabber.org/protocol/disco#info'/>"),
            Err(PayloadError::WrongElement { .. })
        ));
    }
}
