//! XEP-0163: Personal Eventing Protocol.
//!
//! PEP is publish-subscribe on an IM account: every account is a virtual
//! pubsub service at its bare JID, with one node per payload namespace
//! (the NodeID is the namespace, such as `http://jabber.org/protocol/tune`).
//! The account owner publishes with an iq set that has no `to` (or `to` its
//! own bare JID), the server creates the node on first publish, and
//! contacts receive the notifications because they share presence with the
//! owner and advertise `NodeID+notify` in their entity capabilities
//! (XEP-0115) — no explicit subscription.
//!
//! The payloads are the ones of [`pubsub`](super::pubsub); this module has
//! the PEP shortcuts.
//!
//! ```
//! use xmpp_kit::ext::{Payload, pep};
//! use xmpp_kit::ext::pubsub::{Event, PubSub};
//!
//! const TUNE: &str = "http://jabber.org/protocol/tune";
//! let tune: minidom::Element =
//!     "<tune xmlns='http://jabber.org/protocol/tune'><artist>Gerald Finzi</artist></tune>"
//!         .parse()
//!         .expect("valid XML");
//!
//! // Juliet's client publishes what she listens to (the iq has no 'to')…
//! let publish = pep::publish(TUNE, None, tune.clone());
//! assert_eq!(PubSub::parse(&publish.to_element())?, publish);
//!
//! // …Romeo's client asks for tune notifications in its disco#info…
//! assert_eq!(pep::notify_feature(TUNE), "http://jabber.org/protocol/tune+notify");
//!
//! // …and receives them.
//! let notification: minidom::Element = "<event xmlns='http://jabber.org/protocol/pubsub#event'>\
//!     <items node='http://jabber.org/protocol/tune'><item>\
//!     <tune xmlns='http://jabber.org/protocol/tune'><artist>Gerald Finzi</artist></tune>\
//!     </item></items></event>"
//!     .parse()
//!     .expect("valid XML");
//! let event = Event::parse(&notification)?;
//! assert_eq!(pep::latest_payload(&event, TUNE), Some(&tune));
//! # Ok::<(), xmpp_kit::ext::PayloadError>(())
//! ```

use minidom::Element;

use super::pubsub::{Event, Item, PubSub};
use super::{set_attr, text_element};

/// The suffix of the service discovery feature by which a contact asks for
/// a node's notifications (XEP-0060 section 9.2).
pub const NOTIFY_SUFFIX: &str = "+notify";

/// The service discovery identity category of a PEP service.
pub const IDENTITY_CATEGORY: &str = "pubsub";

/// The service discovery identity type of a PEP service.
pub const IDENTITY_TYPE: &str = "pep";

/// The ItemID XEP-0060 recommends for the one item of a singleton node
/// (section 12, "Singleton Nodes"), such as a PEP node holding the current tune.
pub const SINGLETON_ITEM_ID: &str = "current";

/// The `FORM_TYPE` of a publish-options form.
const PUBLISH_OPTIONS_FORM_TYPE: &str = "http://jabber.org/protocol/pubsub#publish-options";

/// The data forms namespace.
const DATA_FORMS_NS: &str = "jabber:x:data";

/// The feature a client advertises to receive the notifications of `node`:
/// `node + "+notify"`.
pub fn notify_feature(node: &str) -> String {
    format!("{node}{NOTIFY_SUFFIX}")
}

/// The node whose notifications a `+notify` feature asks for, or `None` for
/// any other feature.
pub fn notified_node(feature: &str) -> Option<&str> {
    feature
        .strip_suffix(NOTIFY_SUFFIX)
        .filter(|node| !node.is_empty())
}

/// Publishes `payload` to the account's `node`, with ItemID `item_id` (or
/// none, for the server to generate one).
pub fn publish(node: impl Into<String>, item_id: Option<&str>, payload: Element) -> PubSub {
    PubSub::publish(node, item(item_id, payload))
}

/// Like [`publish`], with publish-options (a form, as built by
/// [`publish_options`]): preconditions on the node configuration, applied
/// when the server auto-creates the node.
pub fn publish_with_options(
    node: impl Into<String>,
    item_id: Option<&str>,
    payload: Element,
    options: Element,
) -> PubSub {
    PubSub::Publish {
        node: node.into(),
        items: vec![item(item_id, payload)],
        publish_options: Some(options),
    }
}

/// An item carrying `payload`, with ItemID `item_id` if any.
fn item(item_id: Option<&str>, payload: Element) -> Item {
    let mut item = Item::new(payload);
    item.id = item_id.map(str::to_owned);
    item
}

/// A publish-options form submitting `fields` (variable, value), such as
/// `[("pubsub#access_model", "whitelist"), ("pubsub#persist_items", "true")]`
/// for private storage.
pub fn publish_options<'a>(fields: impl IntoIterator<Item = (&'a str, &'a str)>) -> Element {
    let mut form = Element::bare("x", DATA_FORMS_NS);
    set_attr(&mut form, "type", "submit");
    let mut form_type = field("FORM_TYPE", PUBLISH_OPTIONS_FORM_TYPE);
    set_attr(&mut form_type, "type", "hidden");
    form.append_child(form_type);
    for (var, value) in fields {
        form.append_child(field(var, value));
    }
    form
}

/// `<field var=var><value>value</value></field>`.
fn field(var: &str, value: &str) -> Element {
    let mut field = Element::bare("field", DATA_FORMS_NS);
    set_attr(&mut field, "var", var);
    field.append_child(text_element("value", DATA_FORMS_NS, value));
    field
}

/// Deletes the item `item_id` from the account's `node`, notifying
/// subscribers if `notify`.
pub fn retract(node: impl Into<String>, item_id: impl Into<String>, notify: bool) -> PubSub {
    PubSub::Retract {
        node: node.into(),
        notify,
        ids: vec![item_id.into()],
    }
}

/// Requests the last item published to a node (of the account, or of a
/// contact when the iq is sent to the contact's bare JID).
pub fn retrieve_last(node: impl Into<String>) -> PubSub {
    PubSub::last_items(node, 1)
}

/// The payload of the last item of `node` in a notification, if it is an
/// items notification of that node with a payload.
pub fn latest_payload<'a>(event: &'a Event, node: &str) -> Option<&'a Element> {
    match event {
        Event::Items { node: n, items, .. } if n == node => items.last()?.payload.as_ref(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ext::Payload;
    use crate::ext::pubsub::Event;

    const TUNE_NODE: &str = "http://jabber.org/protocol/tune";

    /// The tune of XEP-0163's examples.
    const TUNE: &str = "<tune xmlns='http://jabber.org/protocol/tune'>
          <artist>Gerald Finzi</artist>
          <length>255</length>
          <source>Music for \"Love's Labors Lost\" (Suite for small orchestra)</source>
          <title>Introduction (Allegro vigoroso)</title>
          <track>1</track>
        </tune>";

    fn el(xml: &str) -> Element {
        xml.parse().unwrap()
    }

    /// XEP-0163 example 1 (publishing an event) and example 6 (account
    /// owner publishes item), the same payload.
    #[test]
    fn publishing_an_event() {
        let element = el(&format!(
            "<pubsub xmlns='http://jabber.org/protocol/pubsub'>
               <publish node='http://jabber.org/protocol/tune'>
                 <item>
                   {TUNE}
                 </item>
               </publish>
             </pubsub>"
        ));
        let parsed = PubSub::parse(&element).unwrap();
        assert_eq!(parsed, publish(TUNE_NODE, None, el(TUNE)));
        assert_eq!(PubSub::parse(&parsed.to_element()).unwrap(), parsed);
        let PubSub::Publish { items, .. } = &parsed else {
            panic!("publish")
        };
        let tune = items[0].payload.as_ref().unwrap();
        assert_eq!(
            tune.get_child("artist", TUNE_NODE)
                .map(Element::text)
                .as_deref(),
            Some("Gerald Finzi")
        );
    }

    /// XEP-0163 examples 2 and 3 (contacts and the publisher receive the
    /// notification) and 9 (last published item sent to a newly available
    /// resource), the same payload.
    #[test]
    fn receiving_the_notification() {
        let element = el(&format!(
            "<event xmlns='http://jabber.org/protocol/pubsub#event'>
               <items node='http://jabber.org/protocol/tune'>
                 <item>
                   {TUNE}
                 </item>
               </items>
             </event>"
        ));
        let event = Event::parse(&element).unwrap();
        assert_eq!(Event::parse(&event.to_element()).unwrap(), event);
        assert_eq!(latest_payload(&event, TUNE_NODE), Some(&el(TUNE)));
        assert_eq!(
            latest_payload(&event, "http://jabber.org/protocol/mood"),
            None
        );
        let Event::Items { items, .. } = &event else {
            panic!("items")
        };
        assert_eq!(items[0].id, None);
    }

    /// The `+notify` features of XEP-0163 example 5 (disco#info result of
    /// Romeo's client).
    #[test]
    fn filtered_notification_features() {
        let features = [
            "http://jabber.org/protocol/disco#info",
            "http://jabber.org/protocol/disco#items",
            "http://jabber.org/protocol/geoloc",
            "http://jabber.org/protocol/geoloc+notify",
            "http://jabber.org/protocol/tune",
            "http://jabber.org/protocol/tune+notify",
        ];
        let notified: Vec<&str> = features.iter().filter_map(|f| notified_node(f)).collect();
        assert_eq!(notified, ["http://jabber.org/protocol/geoloc", TUNE_NODE]);
        assert_eq!(
            notify_feature(TUNE_NODE),
            "http://jabber.org/protocol/tune+notify"
        );
        assert_eq!(notified_node("+notify"), None);
    }

    /// The publish-options form of XEP-0060 example 116, built.
    #[test]
    fn publish_options_form() {
        let form = publish_options([("pubsub#access_model", "presence")]);
        assert_eq!(
            form,
            el("<x xmlns='jabber:x:data' type='submit'>\
                <field var='FORM_TYPE' type='hidden'>\
                <value>http://jabber.org/protocol/pubsub#publish-options</value>\
                </field>\
                <field var='pubsub#access_model'><value>presence</value></field>\
                </x>")
        );
        let request =
            publish_with_options(TUNE_NODE, Some(SINGLETON_ITEM_ID), el(TUNE), form.clone());
        let PubSub::Publish {
            items,
            publish_options,
            ..
        } = PubSub::parse(&request.to_element()).unwrap()
        else {
            panic!("publish")
        };
        assert_eq!(items[0].id.as_deref(), Some("current"));
        assert_eq!(publish_options, Some(form));
    }

    #[test]
    fn retract_and_retrieve() {
        assert_eq!(
            retract(TUNE_NODE, "current", true),
            PubSub::Retract {
                node: TUNE_NODE.into(),
                notify: true,
                ids: vec!["current".into()]
            }
        );
        let request = retrieve_last(TUNE_NODE);
        assert_eq!(
            request.to_element(),
            el("<pubsub xmlns='http://jabber.org/protocol/pubsub'>\
                <items node='http://jabber.org/protocol/tune' max_items='1'/></pubsub>")
        );
    }
}
