//! XEP-0115: Entity Capabilities, with the verification string.
//!
//! An entity advertises what it supports by adding a [`Caps`] element,
//! `<c xmlns='http://jabber.org/protocol/caps'/>`, to its presence. Its
//! `ver` is a hash of the entity's disco#info result ([`DiscoInfo`]),
//! computed by the algorithm of XEP-0115 section 5.1
//! ([`verification_string`], [`hash_ver`]); a receiver that has seen the
//! `ver` before needs no disco#info query, and one that has not queries
//! `node#ver` ([`Caps::disco_node`]) and checks the answer
//! ([`Caps::verify`]) before caching it.
//!
//! ```
//! use xmpp_kit::ext::Payload;
//! use xmpp_kit::ext::caps::Caps;
//! use xmpp_kit::ext::disco::{DiscoInfo, Identity};
//!
//! // XEP-0115 section 5.2.
//! let info = DiscoInfo {
//!     identities: vec![Identity::new("client", "pc").with_name("Exodus 0.9.1")],
//!     features: vec![
//!         "http://jabber.org/protocol/disco#info".into(),
//!         "http://jabber.org/protocol/disco#items".into(),
//!         "http://jabber.org/protocol/muc".into(),
//!         "http://jabber.org/protocol/caps".into(),
//!     ],
//!     ..DiscoInfo::default()
//! };
//! let caps = Caps::from_disco(&info, "http://code.google.com/p/exodus");
//! assert_eq!(caps.ver, "QgayPKawpkPSDYmwT/WM94uAlu0=");
//! assert_eq!(caps.disco_node(), "http://code.google.com/p/exodus#QgayPKawpkPSDYmwT/WM94uAlu0=");
//! assert!(caps.verify(&info));
//! assert_eq!(Caps::parse(&caps.to_element())?, caps);
//! # Ok::<(), xmpp_kit::ext::PayloadError>(())
//! ```

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use minidom::Element;
use sha1::{Digest, Sha1};

use super::data_forms::{DataForm, FORM_TYPE, FieldType};
use super::disco::{DiscoInfo, Identity};
use super::{Payload, PayloadError, expect, required_attr, set_attr};

/// The entity capabilities namespace.
pub const NS: &str = "http://jabber.org/protocol/caps";

/// The name of SHA-1 in the hash function registry, the hash that
/// [`hash_ver`] computes.
pub const SHA_1: &str = "sha-1";

/// The `<c/>` element of a presence.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Caps {
    /// The hash function of `ver`, from the IANA "Hash Function Textual
    /// Names" registry, such as `sha-1`.
    pub hash: String,
    /// A URI identifying the software, such as `http://code.google.com/p/exodus`.
    pub node: String,
    /// The verification string: the base64 of the hash of the
    /// disco#info result.
    pub ver: String,
}

impl Caps {
    /// A `<c/>` element from its parts.
    pub fn new(hash: impl Into<String>, node: impl Into<String>, ver: impl Into<String>) -> Self {
        Self {
            hash: hash.into(),
            node: node.into(),
            ver: ver.into(),
        }
    }

    /// The `<c/>` advertising `info` for the software identified by
    /// `node`, hashed with SHA-1.
    pub fn from_disco(info: &DiscoInfo, node: impl Into<String>) -> Self {
        Self::new(SHA_1, node, hash_ver(info))
    }

    /// The node to query with disco#info to learn the capabilities:
    /// `node#ver` (XEP-0115 section 6.2).
    pub fn disco_node(&self) -> String {
        format!("{}#{}", self.node, self.ver)
    }

    /// Whether `info` is what this `<c/>` advertises, as processed by
    /// XEP-0115 section 5.4: the hash is SHA-1 (the only one supported
    /// here), `info` is well formed ([`is_well_formed`]) and its
    /// verification string hashes to `ver`. Only then may the result be
    /// cached under `ver` for every entity advertising it.
    pub fn verify(&self, info: &DiscoInfo) -> bool {
        self.hash.eq_ignore_ascii_case(SHA_1) && is_well_formed(info) && hash_ver(info) == self.ver
    }
}

impl Payload for Caps {
    fn matches(element: &Element) -> bool {
        element.is("c", NS)
    }

    /// Parses `<c/>`; the deprecated `ext` attribute is ignored, and a
    /// legacy `<c/>` without `hash` (XEP-0115 before version 1.4) is
    /// [`PayloadError::MissingAttribute`].
    fn parse(element: &Element) -> Result<Self, PayloadError> {
        expect(element, "c", NS)?;
        Ok(Self {
            hash: required_attr(element, "hash", "c")?.to_owned(),
            node: required_attr(element, "node", "c")?.to_owned(),
            ver: required_attr(element, "ver", "c")?.to_owned(),
        })
    }

    fn to_element(&self) -> Element {
        let mut element = Element::bare("c", NS);
        set_attr(&mut element, "hash", self.hash.as_str());
        set_attr(&mut element, "node", self.node.as_str());
        set_attr(&mut element, "ver", self.ver.as_str());
        element
    }
}

/// The `FORM_TYPE` of an extension form, if it has one that counts: the
/// first value of a `hidden` field named `FORM_TYPE` (XEP-0115 section 5.4
/// says to ignore forms without one).
fn extension_form_type(form: &DataForm) -> Option<&str> {
    form.fields
        .iter()
        .find(|field| field.var.as_deref() == Some(FORM_TYPE))
        .filter(|field| field.type_ == FieldType::Hidden)
        .and_then(|field| field.value())
}

/// The sort key of an identity: category, type, `xml:lang`, name, each
/// compared as octets (XEP-0115 section 5.1, step 2).
fn identity_key(identity: &Identity) -> (&str, &str, &str, &str) {
    (
        &identity.category,
        &identity.type_,
        identity.lang.as_deref().unwrap_or(""),
        identity.name.as_deref().unwrap_or(""),
    )
}

/// The string S of XEP-0115 section 5.1, before hashing.
///
/// Identities are sorted by category, type, `xml:lang` and name and
/// written as `category/type/lang/name<`; features are sorted and written
/// as `feature<`; extension forms (XEP-0128) with a hidden `FORM_TYPE` are
/// sorted by it and written as `FORM_TYPE<`, then, for each other field
/// sorted by `var`, `var<` and the sorted values each followed by `<`.
/// Forms without a hidden `FORM_TYPE` and fields without `var` are left
/// out. All sorting compares UTF-8 octets ("i;octet").
pub fn verification_string(info: &DiscoInfo) -> String {
    let mut s = String::new();

    let mut identities: Vec<&Identity> = info.identities.iter().collect();
    identities.sort_by(|a, b| identity_key(a).cmp(&identity_key(b)));
    for identity in identities {
        let (category, type_, lang, name) = identity_key(identity);
        for part in [category, "/", type_, "/", lang, "/", name, "<"] {
            s.push_str(part);
        }
    }

    let mut features: Vec<&str> = info.features.iter().map(String::as_str).collect();
    features.sort_unstable();
    for feature in features {
        s.push_str(feature);
        s.push('<');
    }

    let mut forms: Vec<(&str, &DataForm)> = info
        .extensions
        .iter()
        .filter_map(|form| extension_form_type(form).map(|form_type| (form_type, form)))
        .collect();
    forms.sort_by(|a, b| a.0.cmp(b.0));
    for (form_type, form) in forms {
        s.push_str(form_type);
        s.push('<');
        let mut fields: Vec<(&str, &[String])> = form
            .fields
            .iter()
            .filter_map(|field| Some((field.var.as_deref()?, field.values.as_slice())))
            .filter(|(var, _)| *var != FORM_TYPE)
            .collect();
        fields.sort_by(|a, b| a.0.cmp(b.0));
        for (var, values) in fields {
            s.push_str(var);
            s.push('<');
            let mut values: Vec<&str> = values.iter().map(String::as_str).collect();
            values.sort_unstable();
            for value in values {
                s.push_str(value);
                s.push('<');
            }
        }
    }
    s
}

/// The `ver` of `info` with SHA-1: the base64 (with padding) of the SHA-1
/// of the UTF-8 [`verification_string`].
pub fn hash_ver(info: &DiscoInfo) -> String {
    STANDARD.encode(Sha1::digest(verification_string(info).as_bytes()))
}

/// Whether a disco#info result is well formed for caps processing
/// (XEP-0115 section 5.4, steps 3.3 to 3.5): no two identities with the
/// same category, type, `xml:lang` and name; no feature twice; no two
/// extension forms with the same `FORM_TYPE`; no `FORM_TYPE` field with
/// differing values. A receiver must not cache an ill-formed result.
pub fn is_well_formed(info: &DiscoInfo) -> bool {
    let mut identities = HashSet::new();
    if !info
        .identities
        .iter()
        .all(|i| identities.insert(identity_key(i)))
    {
        return false;
    }
    let mut features = HashSet::new();
    if !info.features.iter().all(|f| features.insert(f.as_str())) {
        return false;
    }
    let mut form_types = HashSet::new();
    for form in &info.extensions {
        let Some(form_type) = extension_form_type(form) else {
            continue;
        };
        if !form_types.insert(form_type) {
            return false;
        }
        let differing = form
            .fields
            .iter()
            .filter(|field| field.var.as_deref() == Some(FORM_TYPE))
            .flat_map(|field| &field.values)
            .any(|value| value != form_type);
        if differing {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ext::data_forms::{Field, FormType};

    fn info(xml: &str) -> DiscoInfo {
        DiscoInfo::parse(&xml.parse::<Element>().unwrap()).unwrap()
    }

    fn caps(xml: &str) -> Result<Caps, PayloadError> {
        Caps::parse(&xml.parse::<Element>().unwrap())
    }

    /// XEP-0115 section 5.2 (Simple Generation Example), as a disco#info
    /// result written from the section's description.
    const SIMPLE: &str = "<query xmlns='http://jabber.org/protocol/disco#info'>
      <identity category='client' type='pc' name='Exodus 0.9.1'/>
      <feature var='http://jabber.org/protocol/disco#info'/>
      <feature var='http://jabber.org/protocol/disco#items'/>
      <feature var='http://jabber.org/protocol/muc'/>
      <feature var='http://jabber.org/protocol/caps'/>
    </query>";

    /// XEP-0115 section 5.3 (Complex Generation Example), the query.
    const COMPLEX: &str = "<query xmlns='http://jabber.org/protocol/disco#info'
         node='http://psi-im.org#q07IKJEyjvHSyhy//CH0CxmKi8w='>
    <identity xml:lang='en' category='client' name='Psi 0.11' type='pc'/>
    <identity xml:lang='el' category='client' name='\u{3a8} 0.11' type='pc'/>
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
  </query>";

    #[test]
    fn simple_generation_example() {
        let info = info(SIMPLE);
        assert_eq!(
            verification_string(&info),
            "client/pc//Exodus 0.9.1<http://jabber.org/protocol/caps<http://jabber.org/protocol/disco#info<\
             http://jabber.org/protocol/disco#items<http://jabber.org/protocol/muc<"
        );
        assert_eq!(hash_ver(&info), "QgayPKawpkPSDYmwT/WM94uAlu0=");
        assert!(is_well_formed(&info));
    }

    #[test]
    fn complex_generation_example() {
        let info = info(COMPLEX);
        assert_eq!(
            verification_string(&info),
            "client/pc/el/\u{3a8} 0.11<client/pc/en/Psi 0.11<http://jabber.org/protocol/caps<\
             http://jabber.org/protocol/disco#info<http://jabber.org/protocol/disco#items<\
             http://jabber.org/protocol/muc<urn:xmpp:dataforms:softwareinfo<\
             ip_version<ipv4<ipv6<os<Mac<os_version<10.5.1<software<Psi<software_version<0.11<"
        );
        assert_eq!(hash_ver(&info), "q07IKJEyjvHSyhy//CH0CxmKi8w=");
        let caps = Caps::from_disco(&info, "http://psi-im.org");
        assert_eq!(caps.disco_node(), info.node.clone().unwrap());
        assert!(caps.verify(&info));
    }

    #[test]
    fn order_of_the_input_does_not_matter() {
        let mut info = info(COMPLEX);
        let expected = hash_ver(&info);
        info.identities.reverse();
        info.features.reverse();
        if let Some(form) = info.extensions.first_mut() {
            form.fields.reverse();
            for field in &mut form.fields {
                field.values.reverse();
            }
        }
        assert_eq!(hash_ver(&info), expected);
    }

    #[test]
    fn identities_sort_by_category_type_lang_then_name() {
        let info = DiscoInfo {
            identities: vec![
                Identity::new("client", "pc").with_name("B").with_lang("en"),
                Identity::new("client", "pc").with_name("A").with_lang("en"),
                Identity::new("client", "pc").with_name("Z"),
                Identity::new("client", "bot"),
                Identity::new("client-x", "a"),
                Identity::new("account", "registered"),
            ],
            ..DiscoInfo::default()
        };
        assert_eq!(
            verification_string(&info),
            "account/registered//<client/bot//<client/pc//Z<client/pc/en/A<client/pc/en/B<client-x/a//<"
        );
    }

    #[test]
    fn forms_sort_by_form_type_and_only_hidden_form_types_count() {
        let form = |form_type: &str, var: &str| {
            DataForm::with_form_type(FormType::Result, form_type).with_field(
                Field::new(var, FieldType::TextMulti)
                    .with_value("b")
                    .with_value("a"),
            )
        };
        let not_hidden = DataForm::new(FormType::Result)
            .with_field(Field::new(FORM_TYPE, FieldType::TextSingle).with_value("urn:0"))
            .with_field(Field::new("x", FieldType::TextSingle).with_value("x"));
        let without_form_type =
            DataForm::new(FormType::Result).with_field(Field::new("y", FieldType::TextSingle));
        let info = DiscoInfo {
            extensions: vec![
                form("urn:b", "f"),
                not_hidden,
                form("urn:a", "g"),
                without_form_type,
                DataForm::with_form_type(FormType::Result, "urn:c")
                    .with_field(Field::fixed("no var")),
            ],
            ..DiscoInfo::default()
        };
        assert_eq!(verification_string(&info), "urn:a<g<a<b<urn:b<f<a<b<urn:c<");
        assert!(is_well_formed(&info));
    }

    #[test]
    fn empty_info_hashes_the_empty_string() {
        assert_eq!(verification_string(&DiscoInfo::default()), "");
        assert_eq!(
            hash_ver(&DiscoInfo::default()),
            "2jmj7l5rSw0yVb/vlWAYkK/YBwk="
        );
    }

    #[test]
    fn ill_formed_results_are_detected() {
        let base = info(COMPLEX);
        assert!(is_well_formed(&base));

        let mut twice = base.clone();
        twice.identities.push(base.identities[0].clone());
        assert!(!is_well_formed(&twice));

        let mut twice = base.clone();
        twice.features.push("http://jabber.org/protocol/muc".into());
        assert!(!is_well_formed(&twice));

        let mut twice = base.clone();
        twice.extensions.push(base.extensions[0].clone());
        assert!(!is_well_formed(&twice));

        let mut differing = base.clone();
        differing.extensions[0].fields[0]
            .values
            .push("urn:other".into());
        assert!(!is_well_formed(&differing));

        let caps = Caps::from_disco(&base, "http://psi-im.org");
        assert!(!caps.verify(&twice));
        assert!(!caps.verify(&differing));
    }

    #[test]
    fn verify_checks_hash_and_ver() {
        let info = info(SIMPLE);
        let caps = Caps::new(
            "sha-1",
            "http://code.google.com/p/exodus",
            "QgayPKawpkPSDYmwT/WM94uAlu0=",
        );
        assert!(caps.verify(&info));
        assert!(
            Caps {
                hash: "SHA-1".into(),
                ..caps.clone()
            }
            .verify(&info)
        );
        assert!(
            !Caps {
                hash: "sha-256".into(),
                ..caps.clone()
            }
            .verify(&info)
        );
        assert!(
            !Caps {
                ver: "66/0NaeaBKkwk85efJTGmU47vXI=".into(),
                ..caps
            }
            .verify(&info)
        );
    }

    /// XEP-0115 section 6.1 (Presence with caps, and with a recomputed ver)
    /// and section 6.2 (the disco#info request for `node#ver`).
    #[test]
    fn caps_element() {
        let c = caps(
            "<c xmlns='http://jabber.org/protocol/caps'
     hash='sha-1'
     node='http://code.google.com/p/exodus'
     ver='QgayPKawpkPSDYmwT/WM94uAlu0='/>",
        )
        .unwrap();
        assert_eq!(
            c,
            Caps::new(
                "sha-1",
                "http://code.google.com/p/exodus",
                "QgayPKawpkPSDYmwT/WM94uAlu0="
            )
        );
        assert_eq!(
            c,
            Caps::from_disco(&info(SIMPLE), "http://code.google.com/p/exodus")
        );
        assert_eq!(Caps::parse(&c.to_element()).unwrap(), c);

        let request = info(
            "<query xmlns='http://jabber.org/protocol/disco#info'
         node='http://code.google.com/p/exodus#QgayPKawpkPSDYmwT/WM94uAlu0='/>",
        );
        assert_eq!(request.node, Some(c.disco_node()));

        let recomputed = caps(
            "<c xmlns='http://jabber.org/protocol/caps'
     hash='sha-1'
     node='http://code.google.com/p/exodus'
     ver='66/0NaeaBKkwk85efJTGmU47vXI='/>",
        )
        .unwrap();
        assert_eq!(recomputed.ver, "66/0NaeaBKkwk85efJTGmU47vXI=");
        assert_eq!(Caps::parse(&recomputed.to_element()).unwrap(), recomputed);
    }

    #[test]
    fn malformed_caps_are_refused() {
        // The legacy format (XEP-0115 before 1.4) has no hash.
        assert_eq!(
            caps(
                "<c xmlns='http://jabber.org/protocol/caps' node='http://exodus.jabberstudio.org/caps' ver='0.9' ext='xhtml'/>"
            ),
            Err(PayloadError::MissingAttribute {
                element: "c",
                attribute: "hash"
            })
        );
        assert_eq!(
            caps("<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' ver='x'/>"),
            Err(PayloadError::MissingAttribute {
                element: "c",
                attribute: "node"
            })
        );
        assert_eq!(
            caps("<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n'/>"),
            Err(PayloadError::MissingAttribute {
                element: "c",
                attribute: "ver"
            })
        );
        assert!(matches!(
            caps("<c xmlns='urn:xmpp:caps' hash='sha-1' node='n' ver='v'/>"),
            Err(PayloadError::WrongElement { .. })
        ));
    }
}
