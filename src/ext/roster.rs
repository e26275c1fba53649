//! RFC 6121: roster management (get, set, push, versioning).
//!
//! The roster is the contact list the server stores for an account
//! (RFC 6121 section 2). A client gets it with an iq get carrying an empty
//! [`Roster`] query (with the `ver` of its cached copy when it supports
//! roster versioning), changes it with a roster set of one [`Item`], and
//! learns of changes from roster pushes: iq sets from the server carrying
//! one item (and a `ver`).
//!
//! ```
//! use xmpp_kit::ext::Payload;
//! use xmpp_kit::ext::roster::{Item, Roster, Subscription};
//!
//! // The query of a roster get, bootstrapping roster versioning.
//! let get = Roster::request(Some(""));
//! assert_eq!(get.to_element().attr("ver"), Some(""));
//!
//! // Adding a contact: a roster set with one item.
//! let set = Roster::set(
//!     Item::new("nurse@example.com".parse()?).with_name("Nurse").with_group("Servants"),
//! );
//! let parsed = Roster::parse(&set.to_element())?;
//! let item = parsed.single_item()?;
//! assert_eq!(item.subscription, Subscription::None);
//! assert_eq!(item.groups, ["Servants"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::str::FromStr;

use minidom::Element;

use super::{Payload, PayloadError, expect, required_attr, set_attr, set_opt_attr, text_element};
use crate::jid::BareJid;

/// The roster namespace.
pub const NS: &str = "jabber:iq:roster";

/// The `subscription` state of a roster item (RFC 6121 section 2.1.2.5).
///
/// `remove` is not a state but the request (in a roster set) or the notice
/// (in a push) that the item is gone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Subscription {
    /// No subscription in either direction (the default).
    #[default]
    None,
    /// The user is subscribed to the contact's presence.
    To,
    /// The contact is subscribed to the user's presence.
    From,
    /// Both directions.
    Both,
    /// The item is to be, or has been, removed.
    Remove,
}

impl Subscription {
    /// Every value RFC 6121 defines.
    pub const ALL: [Self; 5] = [Self::None, Self::To, Self::From, Self::Both, Self::Remove];

    /// The value of the `subscription` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::To => "to",
            Self::From => "from",
            Self::Both => "both",
            Self::Remove => "remove",
        }
    }
}

impl fmt::Display for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Subscription {
    type Err = PayloadError;

    /// Parses a subscription state.
    ///
    /// # Errors
    /// [`PayloadError::InvalidValue`] for a value RFC 6121 does not define.
    fn from_str(s: &str) -> Result<Self, PayloadError> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| invalid_attr("attribute 'subscription'", s))
    }
}

fn invalid_attr(what: &'static str, value: &str) -> PayloadError {
    PayloadError::InvalidValue {
        element: "item",
        what,
        value: value.to_owned(),
    }
}

/// A roster `<item/>`: one contact.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Item {
    /// The contact's bare JID.
    pub jid: BareJid,
    /// The user's handle for the contact.
    pub name: Option<String>,
    /// The subscription state.
    pub subscription: Subscription,
    /// Whether the user has asked for a subscription to the contact's
    /// presence that is still pending (`ask='subscribe'`).
    pub ask: bool,
    /// Whether the user has pre-approved a subscription request from the
    /// contact (`approved='true'`).
    pub approved: bool,
    /// The groups the contact is in, in order.
    pub groups: Vec<String>,
}

impl Item {
    /// An item with only a JID, as in a roster set adding a contact.
    pub fn new(jid: BareJid) -> Self {
        Self {
            jid,
            name: None,
            subscription: Subscription::None,
            ask: false,
            approved: false,
            groups: Vec::new(),
        }
    }

    /// An item with `subscription='remove'`, to remove a contact.
    pub fn remove(jid: BareJid) -> Self {
        Self::new(jid).with_subscription(Subscription::Remove)
    }

    /// Sets the name.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Adds a group.
    #[must_use]
    pub fn with_group(mut self, group: impl Into<String>) -> Self {
        self.groups.push(group.into());
        self
    }

    /// Sets the subscription state.
    #[must_use]
    pub fn with_subscription(mut self, subscription: Subscription) -> Self {
        self.subscription = subscription;
        self
    }

    /// Whether this item removes the contact.
    pub fn is_remove(&self) -> bool {
        self.subscription == Subscription::Remove
    }

    fn parse(element: &Element) -> Result<Self, PayloadError> {
        let jid = required_attr(element, "jid", "item")?;
        let jid = jid.parse().map_err(|error| PayloadError::InvalidJid {
            element: "item",
            what: "attribute 'jid'",
            error,
        })?;
        let mut item = Self::new(jid);
        item.name = crate::ext::attr(element, "name").map(str::to_owned);
        if let Some(subscription) = crate::ext::attr(element, "subscription") {
            item.subscription = subscription.parse()?;
        }
        item.ask = match crate::ext::attr(element, "ask") {
            None => false,
            Some("subscribe") => true,
            Some(other) => return Err(invalid_attr("attribute 'ask'", other)),
        };
        item.approved = match crate::ext::attr(element, "approved") {
            None | Some("false" | "0") => false,
            Some("true" | "1") => true,
            Some(other) => return Err(invalid_attr("attribute 'approved'", other)),
        };
        item.groups = element
            .children()
            .filter(|child| child.is("group", NS))
            .map(Element::text)
            .collect();
        Ok(item)
    }

    fn to_element(&self) -> Element {
        let mut element = Element::bare("item", NS);
        set_attr(&mut element, "jid", self.jid.as_str());
        set_opt_attr(&mut element, "name", self.name.as_deref());
        if self.subscription != Subscription::None {
            set_attr(&mut element, "subscription", self.subscription.as_str());
        }
        if self.ask {
            set_attr(&mut element, "ask", "subscribe");
        }
        if self.approved {
            set_attr(&mut element, "approved", "true");
        }
        for group in &self.groups {
            element.append_child(text_element("group", NS, group.as_str()));
        }
        element
    }
}

/// The `<query xmlns='jabber:iq:roster'/>` of a roster get, result, set or
/// push.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Roster {
    /// The roster version (RFC 6121 section 2.6): in a get, the version the
    /// client has cached (`Some("")` to bootstrap versioning); in a result or
    /// push, the version of the roster after it.
    pub ver: Option<String>,
    /// The items.
    pub items: Vec<Item>,
}

impl Roster {
    /// The empty query of a roster get, with the cached version if the
    /// client supports roster versioning.
    pub fn request(ver: Option<&str>) -> Self {
        Self {
            ver: ver.map(str::to_owned),
            items: Vec::new(),
        }
    }

    /// The query of a roster set: exactly one item (use [`Item::remove`] to
    /// remove a contact).
    pub fn set(item: Item) -> Self {
        Self {
            ver: None,
            items: vec![item],
        }
    }

    /// The query of a roster push: one item and, with versioning, the new
    /// roster version.
    pub fn push(item: Item, ver: Option<&str>) -> Self {
        Self {
            ver: ver.map(str::to_owned),
            items: vec![item],
        }
    }

    /// The item of a roster set or push, which must carry exactly one
    /// (RFC 6121 sections 2.1.5 and 2.1.6).
    ///
    /// # Errors
    /// [`PayloadError::InvalidStructure`] when there are no items or more
    /// than one (answer `bad-request`).
    pub fn single_item(&self) -> Result<&Item, PayloadError> {
        match self.items.as_slice() {
            [item] => Ok(item),
            _ => Err(PayloadError::InvalidStructure {
                element: "query",
                reason: "a roster set or push must carry exactly one <item/>",
            }),
        }
    }
}

impl Payload for Roster {
    fn matches(element: &Element) -> bool {
        element.is("query", NS)
    }

    fn parse(element: &Element) -> Result<Self, PayloadError> {
        expect(element, "query", NS)?;
        Ok(Self {
            ver: crate::ext::attr(element, "ver").map(str::to_owned),
            items: element
                .children()
                .filter(|child| child.is("item", NS))
                .map(Item::parse)
                .collect::<Result<_, _>>()?,
        })
    }

    fn to_element(&self) -> Element {
        let mut element = Element::bare("query", NS);
        set_opt_attr(&mut element, "ver", self.ver.as_deref());
        for item in &self.items {
            element.append_child(item.to_element());
        }
        element
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jid::JidError;

    fn parse(xml: &str) -> Result<Roster, PayloadError> {
        Roster::parse(&xml.parse::<Element>().unwrap())
    }

    fn round_trips(roster: &Roster) {
        assert_eq!(&Roster::parse(&roster.to_element()).unwrap(), roster);
    }

    fn jid(s: &str) -> BareJid {
        s.parse().unwrap()
    }

    /// RFC 6121 section 2.1.3 (roster get).
    #[test]
    fn roster_get() {
        let get = parse("<query xmlns='jabber:iq:roster'/>").unwrap();
        assert_eq!(get, Roster::request(None));
        assert!(get.to_element().attr("ver").is_none());
        round_trips(&get);
    }

    /// RFC 6121 section 2.1.4 (roster result).
    #[test]
    fn roster_result() {
        let result = parse(
            "<query xmlns='jabber:iq:roster' ver='ver11'>
      <item jid='romeo@example.net'
            name='Romeo'
            subscription='both'>
        <group>Friends</group>
      </item>
      <item jid='mercutio@example.com'
            name='Mercutio'
            subscription='from'/>
      <item jid='benvolio@example.net'
            name='Benvolio'
            subscription='both'/>
    </query>",
        )
        .unwrap();
        assert_eq!(result.ver.as_deref(), Some("ver11"));
        assert_eq!(
            result.items,
            [
                Item::new(jid("romeo@example.net"))
                    .with_name("Romeo")
                    .with_subscription(Subscription::Both)
                    .with_group("Friends"),
                Item::new(jid("mercutio@example.com"))
                    .with_name("Mercutio")
                    .with_subscription(Subscription::From),
                Item::new(jid("benvolio@example.net"))
                    .with_name("Benvolio")
                    .with_subscription(Subscription::Both),
            ]
        );
        assert!(result.single_item().is_err());
        round_trips(&result);
    }

    /// RFC 6121 section 2.1.5 (roster set) and 2.3.1 (adding an item with
    /// a name and a group).
    #[test]
    fn roster_set() {
        let set = parse("<query xmlns='jabber:iq:roster'><item jid='nurse@example.com'/></query>")
            .unwrap();
        assert_eq!(set, Roster::set(Item::new(jid("nurse@example.com"))));
        round_trips(&set);

        let set = parse(
            "<query xmlns='jabber:iq:roster'>
        <item jid='nurse@example.com'
              name='Nurse'>
          <group>Servants</group>
        </item>
      </query>",
        )
        .unwrap();
        let item = set.single_item().unwrap();
        assert_eq!(item.jid, jid("nurse@example.com"));
        assert_eq!(item.name.as_deref(), Some("Nurse"));
        assert_eq!(item.subscription, Subscription::None);
        assert_eq!(item.groups, ["Servants"]);
        round_trips(&set);
    }

    /// RFC 6121 section 2.1.6 / 2.3.2 (roster push after adding an item).
    #[test]
    fn roster_push() {
        let push = parse(
            "<query xmlns='jabber:iq:roster'>
        <item jid='nurse@example.com'
              name='Nurse'
              subscription='none'>
          <group>Servants</group>
        </item>
      </query>",
        )
        .unwrap();
        assert_eq!(
            push,
            Roster::push(
                Item::new(jid("nurse@example.com"))
                    .with_name("Nurse")
                    .with_group("Servants"),
                None
            )
        );
        round_trips(&push);
    }

    /// RFC 6121 section 2.5.1 and 2.5.2 (deleting an item, and the push).
    #[test]
    fn roster_remove() {
        let remove = parse(
            "<query xmlns='jabber:iq:roster'>
        <item jid='nurse@example.com'
              subscription='remove'/>
      </query>",
        )
        .unwrap();
        let item = remove.single_item().unwrap();
        assert!(item.is_remove());
        assert_eq!(remove, Roster::set(Item::remove(jid("nurse@example.com"))));
        assert_eq!(
            remove
                .to_element()
                .get_child("item", NS)
                .unwrap()
                .attr("subscription"),
            Some("remove")
        );
        round_trips(&remove);
    }

    /// RFC 6121 section 2.6 (roster versioning): a get with a cached
    /// version, the bootstrap with an empty version, an empty result, and
    /// interim pushes with versions.
    #[test]
    fn roster_versioning() {
        let get = parse("<query xmlns='jabber:iq:roster' ver='ver14'/>").unwrap();
        assert_eq!(get, Roster::request(Some("ver14")));
        round_trips(&get);

        let bootstrap = parse("<query xmlns='jabber:iq:roster' ver=''/>").unwrap();
        assert_eq!(bootstrap.ver.as_deref(), Some(""));
        assert_eq!(bootstrap.to_element().attr("ver"), Some(""));
        round_trips(&bootstrap);

        let push = parse(
            "<query xmlns='jabber:iq:roster' ver='ver34'>
        <item jid='romeo@example.net'
              subscription='remove'/>
      </query>",
        )
        .unwrap();
        assert_eq!(
            push,
            Roster::push(Item::remove(jid("romeo@example.net")), Some("ver34"))
        );
        round_trips(&push);

        let push = parse(
            "<query xmlns='jabber:iq:roster' ver='ver42'>
        <item jid='bill@example.org'
              subscription='both'/>
      </query>",
        )
        .unwrap();
        assert_eq!(push.ver.as_deref(), Some("ver42"));
        assert_eq!(push.single_item().unwrap().subscription, Subscription::Both);
        round_trips(&push);
    }

    /// RFC 6121 section 3.1.3 (push of a pending outbound subscription,
    /// `ask='subscribe'`) and section 3.4 (pre-approval, `approved='true'`).
    #[test]
    fn ask_and_approved() {
        let push = parse(
            "<query xmlns='jabber:iq:roster'>
        <item ask='subscribe'
              jid='juliet@example.com'
              subscription='none'/>
      </query>",
        )
        .unwrap();
        let item = push.single_item().unwrap();
        assert!(item.ask);
        assert!(!item.approved);
        assert_eq!(item.subscription, Subscription::None);
        assert_eq!(
            push.to_element().get_child("item", NS).unwrap().attr("ask"),
            Some("subscribe")
        );
        round_trips(&push);

        let push = parse(
            "<query xmlns='jabber:iq:roster'>
        <item approved='true'
              jid='romeo@example.net'
              subscription='none'/>
      </query>",
        )
        .unwrap();
        let item = push.single_item().unwrap();
        assert!(item.approved);
        assert!(!item.ask);
        round_trips(&push);

        let item = parse("<query xmlns='jabber:iq:roster'><item jid='a@b' approved='1'/><item jid='c@d' approved='false'/></query>")
            .unwrap();
        assert!(item.items[0].approved);
        assert!(!item.items[1].approved);
    }

    #[test]
    fn groups_keep_order_and_unknown_content_is_ignored() {
        let roster = parse(
            "<query xmlns='jabber:iq:roster' extra='1'>
               <item jid='romeo@example.net' name='' foo='bar'>
                 <group>Lovers</group><group>Friends</group><group/><x xmlns='urn:other'/>
               </item>
               <other/>
             </query>",
        )
        .unwrap();
        let item = roster.single_item().unwrap();
        assert_eq!(item.name.as_deref(), Some(""));
        assert_eq!(item.groups, ["Lovers", "Friends", ""]);
        round_trips(&roster);
    }

    #[test]
    fn subscription_strings() {
        for s in Subscription::ALL {
            assert_eq!(s.as_str().parse::<Subscription>(), Ok(s));
        }
        assert_eq!(Subscription::default(), Subscription::None);
    }

    #[test]
    fn malformed_items_are_refused() {
        assert!(matches!(
            parse("<query xmlns='jabber:iq:roster'><item name='x'/></query>"),
            Err(PayloadError::MissingAttribute {
                element: "item",
                attribute: "jid"
            })
        ));
        assert!(matches!(
            parse("<query xmlns='jabber:iq:roster'><item jid='a@b/c'/></query>"),
            Err(PayloadError::InvalidJid {
                element: "item",
                error: JidError::UnexpectedResource,
                ..
            })
        ));
        assert!(matches!(
            parse("<query xmlns='jabber:iq:roster'><item jid='@b'/></query>"),
            Err(PayloadError::InvalidJid {
                element: "item",
                ..
            })
        ));
        assert_eq!(
            parse(
                "<query xmlns='jabber:iq:roster'><item jid='a@b' subscription='pending'/></query>"
            ),
            Err(PayloadError::InvalidValue {
                element: "item",
                what: "attribute 'subscription'",
                value: "pending".to_owned()
            })
        );
        assert!(matches!(
            parse("<query xmlns='jabber:iq:roster'><item jid='a@b' ask='unsubscribe'/></query>"),
            Err(PayloadError::InvalidValue {
                what: "attribute 'ask'",
                ..
            })
        ));
        assert!(matches!(
            parse("<query xmlns='jabber:iq:roster'><item jid='a@b' approved='yes'/></query>"),
            Err(PayloadError::InvalidValue {
                what: "attribute 'approved'",
                ..
            })
        ));
        assert!(matches!(
            parse("<query xmlns='jabber:iq:private'/>"),
            Err(PayloadError::WrongElement { .. })
        ));
        assert!(matches!(
            Roster::request(None).single_item(),
            Err(PayloadError::InvalidStructure { .. })
        ));
    }
}
