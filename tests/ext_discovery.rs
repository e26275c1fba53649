//! Integration tests of the discovery payloads: roster (RFC 6121), service
//! discovery (XEP-0030), data forms (XEP-0004) and entity capabilities
//! (XEP-0115), through the public API only, with property-based round
//! trips (value -> element -> XML text -> element -> value).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use minidom::Element;
use proptest::prelude::*;
use xmpp_kit::ext::caps::{self, Caps};
use xmpp_kit::ext::data_forms::{DataForm, Field, FieldOption, FieldType, FormType};
use xmpp_kit::ext::disco::{DiscoInfo, DiscoItem, DiscoItems, Identity};
use xmpp_kit::ext::roster::{Item, Roster, Subscription};
use xmpp_kit::ext::{Payload, PayloadError};
use xmpp_kit::{BareJid, Jid};

/// Serializes to XML text and parses it back, so that escaping is part of
/// the round trip.
fn through_text(element: &Element) -> Element {
    String::from(element).parse().unwrap()
}

fn round_trip<P: Payload + PartialEq + std::fmt::Debug>(value: &P) {
    let element = value.to_element();
    assert!(P::matches(&element));
    assert_eq!(&P::parse(&element).unwrap(), value);
    assert_eq!(&P::parse(&through_text(&element)).unwrap(), value);
}

// ---- strategies ----------------------------------------------------------

/// Text with characters that need escaping, non-ASCII characters and
/// spaces; any string of these is valid XML character data.
fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 <>&'\"\u{e9}\u{3a8}:/#=-]{0,12}"
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    prop::option::of(text())
}

fn bare_jid() -> impl Strategy<Value = BareJid> {
    (
        prop::option::of("[a-z][a-z0-9]{0,5}"),
        "[a-z]{1,6}\\.(lit|com|net)",
    )
        .prop_map(|(node, domain)| BareJid::new(node.as_deref(), &domain).unwrap())
}

fn jid() -> impl Strategy<Value = Jid> {
    (bare_jid(), prop::option::of("[a-zA-Z0-9]{1,6}")).prop_map(|(bare, resource)| match resource {
        Some(resource) => Jid::Full(bare.with_resource(&resource).unwrap()),
        None => Jid::Bare(bare),
    })
}

fn subscription() -> impl Strategy<Value = Subscription> {
    prop::sample::select(Subscription::ALL.to_vec())
}

fn roster_item() -> impl Strategy<Value = Item> {
    (
        bare_jid(),
        opt_text(),
        subscription(),
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(text(), 0..3),
    )
        .prop_map(|(jid, name, subscription, ask, approved, groups)| Item {
            jid,
            name,
            subscription,
            ask,
            approved,
            groups,
        })
}

fn roster() -> impl Strategy<Value = Roster> {
    (opt_text(), prop::collection::vec(roster_item(), 0..4))
        .prop_map(|(ver, items)| Roster { ver, items })
}

fn field_type() -> impl Strategy<Value = FieldType> {
    prop_oneof![
        prop::sample::select(FieldType::KNOWN.to_vec()),
        "x-[a-z]{1,6}".prop_map(FieldType::Other),
    ]
}

fn field() -> impl Strategy<Value = Field> {
    (
        opt_text(),
        field_type(),
        opt_text(),
        any::<bool>(),
        opt_text(),
        prop::collection::vec(text(), 0..3),
        prop::collection::vec((opt_text(), text()), 0..3),
    )
        .prop_map(
            |(var, type_, label, required, desc, values, options)| Field {
                var,
                type_,
                label,
                required,
                desc,
                values,
                options: options
                    .into_iter()
                    .map(|(label, value)| FieldOption { label, value })
                    .collect(),
            },
        )
}

fn fields(max: usize) -> impl Strategy<Value = Vec<Field>> {
    prop::collection::vec(field(), 0..max)
}

fn data_form() -> impl Strategy<Value = DataForm> {
    (
        prop::sample::select(FormType::ALL.to_vec()),
        opt_text(),
        prop::collection::vec(text(), 0..3),
        fields(4),
        prop::option::of(fields(3)),
        prop::collection::vec(fields(3), 0..3),
    )
        .prop_map(
            |(form_type, title, instructions, fields, reported, items)| DataForm {
                form_type,
                title,
                instructions,
                fields,
                reported,
                items,
            },
        )
}

fn identity() -> impl Strategy<Value = Identity> {
    (
        "[a-z]{1,8}",
        "[a-z-]{1,8}",
        opt_text(),
        prop::option::of("[a-z]{2}(-[A-Z]{2})?"),
    )
        .prop_map(|(category, type_, name, lang)| Identity {
            category,
            type_,
            name,
            lang,
        })
}

fn disco_info() -> impl Strategy<Value = DiscoInfo> {
    (
        opt_text(),
        prop::collection::vec(identity(), 0..4),
        prop::collection::vec(text(), 0..5),
        prop::collection::vec(data_form(), 0..2),
    )
        .prop_map(|(node, identities, features, extensions)| DiscoInfo {
            node,
            identities,
            features,
            extensions,
        })
}

fn disco_items() -> impl Strategy<Value = DiscoItems> {
    (
        opt_text(),
        prop::collection::vec((jid(), opt_text(), opt_text()), 0..5),
    )
        .prop_map(|(node, items)| DiscoItems {
            node,
            items: items
                .into_iter()
                .map(|(jid, node, name)| DiscoItem { jid, node, name })
                .collect(),
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn roster_round_trips(roster in roster()) {
        round_trip(&roster);
    }

    #[test]
    fn data_form_round_trips(form in data_form()) {
        round_trip(&form);
    }

    #[test]
    fn disco_info_round_trips(info in disco_info()) {
        round_trip(&info);
    }

    #[test]
    fn disco_items_round_trips(items in disco_items()) {
        round_trip(&items);
    }

    #[test]
    fn caps_round_trip(hash in text(), node in text(), ver in text()) {
        round_trip(&Caps { hash, node, ver });
    }

    /// The verification string does not depend on the order of
    /// identities, features, forms, fields or values, and survives the
    /// trip through XML.
    #[test]
    fn caps_ver_is_order_independent(info in disco_info(), seed in any::<u64>()) {
        let ver = caps::hash_ver(&info);
        let parsed = DiscoInfo::parse(&through_text(&info.to_element())).unwrap();
        prop_assert_eq!(caps::hash_ver(&parsed), ver.clone());

        let mut shuffled = info.clone();
        let rotate = |len: usize| if len == 0 { 0 } else { (seed as usize) % len };
        let n = rotate(shuffled.identities.len());
        shuffled.identities.rotate_left(n);
        shuffled.features.reverse();
        shuffled.extensions.reverse();
        for form in &mut shuffled.extensions {
            form.fields.reverse();
            for field in &mut form.fields {
                field.values.reverse();
            }
        }
        // Reversing fields that share a var may reorder their values in S;
        // only compare when vars are distinct within each form.
        let distinct_vars = info.extensions.iter().all(|form| {
            let mut vars: Vec<_> = form.fields.iter().filter_map(|f| f.var.as_deref()).collect();
            let len = vars.len();
            vars.sort_unstable();
            vars.dedup();
            vars.len() == len
        });
        if distinct_vars && caps::is_well_formed(&info) {
            prop_assert_eq!(caps::hash_ver(&shuffled), ver);
        }
    }

    /// Parsing never panics on arbitrary children and attributes.
    #[test]
    fn parsing_arbitrary_elements_never_panics(
        names in prop::collection::vec(prop::sample::select(vec![
            "item", "group", "identity", "feature", "x", "field", "value", "option",
            "reported", "title", "instructions", "desc", "required", "c",
        ]), 0..6),
        attrs in prop::collection::vec((prop::sample::select(vec![
            "jid", "name", "subscription", "ask", "approved", "category", "type", "var",
            "label", "node", "hash", "ver",
        ]), text()), 0..6),
        ns in prop::sample::select(vec![
            "jabber:iq:roster", "http://jabber.org/protocol/disco#info",
            "http://jabber.org/protocol/disco#items", "jabber:x:data",
            "http://jabber.org/protocol/caps",
        ]),
    ) {
        let mut xml = format!("<query xmlns='{ns}'>");
        for name in &names {
            xml.push_str(&format!("<{name}"));
            for (attr, value) in &attrs {
                let escaped = value.replace('&', "&amp;").replace('<', "&lt;").replace('\'', "&apos;");
                xml.push_str(&format!(" {attr}='{escaped}'"));
            }
            xml.push_str(&format!("><value>v</value><x xmlns='jabber:x:data' type='result'/></{name}>"));
        }
        xml.push_str("</query>");
        let element: Element = xml.parse().unwrap();
        let _ = Roster::parse(&element);
        let _ = DiscoInfo::parse(&element);
        let _ = DiscoItems::parse(&element);
        for child in element.children() {
            let _ = DataForm::parse(child);
            let _ = Caps::parse(child);
        }
    }
}

// ---- spec examples through the public API --------------------------------

/// RFC 6121 section 2.1.4, the whole roster result iq's query.
#[test]
fn rfc6121_roster_result() {
    let element: Element = "<query xmlns='jabber:iq:roster' ver='ver11'>
      <item jid='romeo@example.net' name='Romeo' subscription='both'>
        <group>Friends</group>
      </item>
      <item jid='mercutio@example.com' name='Mercutio' subscription='from'/>
      <item jid='benvolio@example.net' name='Benvolio' subscription='both'/>
    </query>"
        .parse()
        .unwrap();
    let roster = Roster::parse(&element).unwrap();
    assert_eq!(roster.ver.as_deref(), Some("ver11"));
    assert_eq!(roster.items.len(), 3);
    assert_eq!(roster.items[1].subscription, Subscription::From);
    round_trip(&roster);
}

/// XEP-0115 section 5.3, end to end: the query as received, then the caps
/// advertised for it.
#[test]
fn xep0115_complex_example_end_to_end() {
    let element: Element = "<query xmlns='http://jabber.org/protocol/disco#info'
         node='http://psi-im.org#q07IKJEyjvHSyhy//CH0CxmKi8w='>
    <identity xml:lang='en' category='client' name='Psi 0.11' type='pc'/>
    <identity xml:lang='el' category='client' name='&#936; 0.11' type='pc'/>
    <feature var='http://jabber.org/protocol/caps'/>
    <feature var='http://jabber.org/protocol/disco#info'/>
    <feature var='http://jabber.org/protocol/disco#items'/>
    <feature var='http://jabber.org/protocol/muc'/>
    <x xmlns='jabber:x:data' type='result'>
      <field var='FORM_TYPE' type='hidden'>
        <value>urn:xmpp:dataforms:softwareinfo</value>
      </field>
      <field var='ip_version'>
        <value>ipv4</value>
        <value>ipv6</value>
      </field>
      <field var='os'>
        <value>Mac</value>
      </field>
      <field var='os_version'>
        <value>10.5.1</value>
      </field>
      <field var='software'>
        <value>Psi</value>
      </field>
      <field var='software_version'>
        <value>0.11</value>
      </field>
    </x>
  </query>"
        .parse()
        .unwrap();
    let info = DiscoInfo::parse(&element).unwrap();
    assert_eq!(caps::hash_ver(&info), "q07IKJEyjvHSyhy//CH0CxmKi8w=");
    let form = info.extension("urn:xmpp:dataforms:softwareinfo").unwrap();
    assert_eq!(
        form.form_type_value(),
        Some("urn:xmpp:dataforms:softwareinfo")
    );
    assert_eq!(form.field("ip_version").unwrap().values, ["ipv4", "ipv6"]);

    let c = Caps::from_disco(&info, "http://psi-im.org");
    assert_eq!(
        String::from(&c.to_element())
            .parse::<Element>()
            .unwrap()
            .attr("ver"),
        Some("q07IKJEyjvHSyhy//CH0CxmKi8w=")
    );
    assert_eq!(info.node.as_deref(), Some(c.disco_node().as_str()));
    assert!(c.verify(&info));
    round_trip(&info);
}

/// XEP-0115 section 5.2 through the public API.
#[test]
fn xep0115_simple_example() {
    let info = DiscoInfo {
        identities: vec![Identity::new("client", "pc").with_name("Exodus 0.9.1")],
        features: [
            "http://jabber.org/protocol/muc",
            "http://jabber.org/protocol/disco#items",
            "http://jabber.org/protocol/caps",
            "http://jabber.org/protocol/disco#info",
        ]
        .map(String::from)
        .to_vec(),
        ..DiscoInfo::default()
    };
    assert_eq!(caps::hash_ver(&info), "QgayPKawpkPSDYmwT/WM94uAlu0=");
}

/// XEP-0030 example 12 and 17, through the public API.
#[test]
fn xep0030_items() {
    let element: Element = "<query xmlns='http://jabber.org/protocol/disco#items'>
    <item jid='catalog.shakespeare.lit' node='books' name='Books by and about Shakespeare'/>
    <item jid='people.shakespeare.lit' name='Directory of Characters'/>
  </query>"
        .parse()
        .unwrap();
    let items = DiscoItems::parse(&element).unwrap();
    assert_eq!(items.items[0].node.as_deref(), Some("books"));
    assert_eq!(
        items.items[1].jid,
        "people.shakespeare.lit".parse::<Jid>().unwrap()
    );
    round_trip(&items);
}

#[test]
fn errors_map_to_stanza_conditions() {
    use xmpp_kit::stanza::DefinedCondition;
    let bad_jid: Element = "<query xmlns='jabber:iq:roster'><item jid='a@b/c'/></query>"
        .parse()
        .unwrap();
    let error = Roster::parse(&bad_jid).unwrap_err();
    assert!(matches!(error, PayloadError::InvalidJid { .. }));
    assert_eq!(error.condition(), DefinedCondition::JidMalformed);

    let missing: Element =
        "<query xmlns='http://jabber.org/protocol/disco#info'><feature/></query>"
            .parse()
            .unwrap();
    let error = DiscoInfo::parse(&missing).unwrap_err();
    assert_eq!(error.condition(), DefinedCondition::BadRequest);
    assert_eq!(
        error.to_string(),
        "<feature/> lacks the required attribute 'var'"
    );
}
