//! A node's configuration: the `pubsub#node_config` data form (XEP-0060
//! section 8.2) and `publish-options` preconditions (section 7.1.5), and
//! how the configuration and affiliations are kept in
//! [`StoredNode::config`](crate::hub::store::StoredNode::config).

use std::collections::BTreeMap;

use minidom::Element;

use super::{PubsubLimits, not_acceptable};
use crate::ext::data_forms::{DataForm, FORM_TYPE, Field, FieldType, FormType};
use crate::ext::pubsub::{AccessModel, Affiliation, ErrorCondition, PubSubError};
use crate::ext::{Payload as _, set_attr};
use crate::jid::BareJid;
use crate::stanza::{DefinedCondition, StanzaError};

/// The `FORM_TYPE` of node configuration forms.
pub(super) const NODE_CONFIG: &str = "http://jabber.org/protocol/pubsub#node_config";
/// The `FORM_TYPE` of publish-options forms.
pub(super) const PUBLISH_OPTIONS: &str = "http://jabber.org/protocol/pubsub#publish-options";
/// The `FORM_TYPE` of node meta-data (disco#info of a node).
pub(super) const META_DATA: &str = "http://jabber.org/protocol/pubsub#meta-data";

/// The namespace of the stored serialization (versioned: a change of
/// format gets a new one, and `decode` keeps reading the old ones).
const NS_STORED: &str = "urn:xmpp-kit:hub:pubsub:1";

/// Bytes of a node's title, at most.
const MAX_TITLE_BYTES: usize = 1024;

/// The default `pubsub#max_items` of a new node (capped by
/// [`PubsubLimits::max_items`]).
const DEFAULT_MAX_ITEMS: usize = 10;

/// How notifications are sent (`pubsub#notification_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NotificationType {
    /// `headline`: to available resources only, never stored.
    Headline,
    /// `normal`: a normal message, which the hub delivers like any other
    /// (stored offline when the subscriber has no available resource).
    Normal,
}

impl NotificationType {
    fn as_str(self) -> &'static str {
        match self {
            Self::Headline => "headline",
            Self::Normal => "normal",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "headline" => Some(Self::Headline),
            "normal" => Some(Self::Normal),
            _ => None,
        }
    }
}

/// What an owner configures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct NodeConfig {
    /// Who may subscribe and retrieve items: open, presence or whitelist.
    pub(super) access_model: AccessModel,
    /// Items kept (the oldest go first), 1 to [`PubsubLimits::max_items`].
    pub(super) max_items: usize,
    /// Whether items are kept; a node without keeps its last item only.
    pub(super) persist_items: bool,
    /// The type of notification messages.
    pub(super) notification_type: NotificationType,
    /// Whether notifications carry the payload.
    pub(super) deliver_payloads: bool,
    /// A human-readable name (no control characters).
    pub(super) title: String,
}

impl NodeConfig {
    /// The configuration of a new node: `access_model` (open on the
    /// pubsub service, presence in PEP), 10 items kept, persistent,
    /// headline notifications with payloads.
    pub(super) fn new(access_model: AccessModel, limits: &PubsubLimits) -> Self {
        Self {
            access_model,
            max_items: DEFAULT_MAX_ITEMS.min(limits.max_items).max(1),
            persist_items: true,
            notification_type: NotificationType::Headline,
            deliver_payloads: true,
            title: String::new(),
        }
    }

    /// How many items the store keeps: `max_items`, or 1 on a node that
    /// does not persist items (its current item).
    pub(super) fn kept_items(&self) -> usize {
        if self.persist_items {
            self.max_items
        } else {
            1
        }
    }

    /// The configuration form (type `form`, XEP-0060 section 8.2.1).
    pub(super) fn to_form(&self, limits: &PubsubLimits) -> DataForm {
        let bool_str = |b: bool| if b { "1" } else { "0" };
        let mut access = Field::new("pubsub#access_model", FieldType::ListSingle)
            .with_label("Who may subscribe and retrieve items")
            .with_value(self.access_model.as_str());
        for model in [
            AccessModel::Open,
            AccessModel::Presence,
            AccessModel::Whitelist,
        ] {
            access = access.with_option(None, model.as_str());
        }
        DataForm::with_form_type(FormType::Form, NODE_CONFIG)
            .with_field(
                Field::new("pubsub#title", FieldType::TextSingle)
                    .with_label("A friendly name for the node")
                    .with_value(self.title.as_str()),
            )
            .with_field(access)
            .with_field(
                Field::new("pubsub#max_items", FieldType::TextSingle)
                    .with_label("Max # of items to persist")
                    .with_desc(format!("1 to {} (or max)", limits.max_items))
                    .with_value(self.max_items.to_string()),
            )
            .with_field(
                Field::new("pubsub#persist_items", FieldType::Boolean)
                    .with_label("Persist items (else only the last one is kept)")
                    .with_value(bool_str(self.persist_items)),
            )
            .with_field(
                Field::new("pubsub#notification_type", FieldType::ListSingle)
                    .with_label("Type of notification messages")
                    .with_value(self.notification_type.as_str())
                    .with_option(None, "headline")
                    .with_option(None, "normal"),
            )
            .with_field(
                Field::new("pubsub#deliver_payloads", FieldType::Boolean)
                    .with_label("Deliver payloads with event notifications")
                    .with_value(bool_str(self.deliver_payloads)),
            )
            .with_field(
                Field::new("pubsub#publish_model", FieldType::ListSingle)
                    .with_label("Who may publish: owners and publishers")
                    .with_value("publishers")
                    .with_option(None, "publishers"),
            )
    }

    /// Applies a submitted configuration form (create-and-configure or
    /// configure, XEP-0060 sections 8.1.3 and 8.2.4). Nothing changes on
    /// an error: `not-acceptable` for a value out of range or a field this
    /// service does not know.
    pub(super) fn apply(
        &mut self,
        form: &DataForm,
        limits: &PubsubLimits,
    ) -> Result<(), StanzaError> {
        if form.form_type != FormType::Submit {
            return Err(not_acceptable("the configuration must be a submitted form"));
        }
        check_form_type(form, NODE_CONFIG)?;
        let mut next = self.clone();
        for field in &form.fields {
            let Some(var) = field.var.as_deref() else {
                continue;
            };
            if var == FORM_TYPE {
                continue;
            }
            next.set(var, field, limits)?;
        }
        *self = next;
        Ok(())
    }

    /// Checks publish-options (XEP-0060 section 7.1.5): every field must
    /// hold for this configuration, else `conflict` with
    /// `precondition-not-met`.
    pub(super) fn check_preconditions(
        &self,
        form: &DataForm,
        limits: &PubsubLimits,
    ) -> Result<(), StanzaError> {
        check_form_type(form, PUBLISH_OPTIONS).map_err(|_| precondition_not_met("FORM_TYPE"))?;
        for field in &form.fields {
            let Some(var) = field.var.as_deref() else {
                continue;
            };
            if var == FORM_TYPE {
                continue;
            }
            let mut wanted = self.clone();
            if wanted.set(var, field, limits).is_err() || wanted != *self {
                return Err(precondition_not_met(var));
            }
        }
        Ok(())
    }

    /// Applies publish-options to the configuration of a node being
    /// auto-created (XEP-0163 section 7.1.1): a field this service cannot
    /// honour is an unmet precondition.
    pub(super) fn apply_options(
        &mut self,
        form: &DataForm,
        limits: &PubsubLimits,
    ) -> Result<(), StanzaError> {
        check_form_type(form, PUBLISH_OPTIONS).map_err(|_| precondition_not_met("FORM_TYPE"))?;
        let mut next = self.clone();
        for field in &form.fields {
            let Some(var) = field.var.as_deref() else {
                continue;
            };
            if var == FORM_TYPE {
                continue;
            }
            next.set(var, field, limits)
                .map_err(|_| precondition_not_met(var))?;
        }
        *self = next;
        Ok(())
    }

    /// Sets one field.
    fn set(&mut self, var: &str, field: &Field, limits: &PubsubLimits) -> Result<(), StanzaError> {
        let value = field.value().unwrap_or("");
        let bool_value = || {
            field
                .bool_value()
                .map_err(|_| not_acceptable(format!("{var} is a boolean")))
        };
        match var {
            "pubsub#access_model" => {
                self.access_model = match value.parse::<AccessModel>() {
                    Ok(
                        model
                        @ (AccessModel::Open | AccessModel::Presence | AccessModel::Whitelist),
                    ) => model,
                    _ => {
                        return Err(not_acceptable(format!("access model {value:?}"))
                            .with_application(
                                PubSubError::new(ErrorCondition::UnsupportedAccessModel)
                                    .to_element(),
                            ));
                    }
                }
            }
            "pubsub#max_items" => {
                self.max_items = if value == "max" {
                    limits.max_items
                } else {
                    match value.parse::<usize>() {
                        Ok(n) if (1..=limits.max_items).contains(&n) => n,
                        _ => {
                            return Err(not_acceptable(format!(
                                "pubsub#max_items must be 1 to {} or max",
                                limits.max_items
                            )));
                        }
                    }
                };
            }
            "pubsub#persist_items" => self.persist_items = bool_value()?,
            "pubsub#deliver_payloads" => self.deliver_payloads = bool_value()?,
            "pubsub#notification_type" => {
                self.notification_type = NotificationType::parse(value).ok_or_else(|| {
                    not_acceptable("pubsub#notification_type is headline or normal")
                })?;
            }
            "pubsub#title" => {
                if value.len() > MAX_TITLE_BYTES || value.chars().any(char::is_control) {
                    return Err(not_acceptable(format!(
                        "pubsub#title: at most {MAX_TITLE_BYTES} bytes, no control characters"
                    )));
                }
                value.clone_into(&mut self.title);
            }
            "pubsub#publish_model" => {
                if value != "publishers" {
                    return Err(not_acceptable(
                        "pubsub#publish_model: only publishers (owners and publishers) publish",
                    ));
                }
            }
            other => return Err(not_acceptable(format!("unsupported field {other}"))),
        }
        Ok(())
    }
}

/// A form's `FORM_TYPE`, when present, must be `expected`.
fn check_form_type(form: &DataForm, expected: &str) -> Result<(), StanzaError> {
    match form.field(FORM_TYPE).and_then(Field::value) {
        None => Ok(()),
        Some(value) if value == expected => Ok(()),
        Some(other) => Err(not_acceptable(format!(
            "FORM_TYPE {other}, expected {expected}"
        ))),
    }
}

/// `conflict` with `precondition-not-met` (XEP-0060 section 7.1.5).
fn precondition_not_met(var: &str) -> StanzaError {
    StanzaError::new(DefinedCondition::Conflict)
        .with_text(format!("publish-options precondition not met: {var}"))
        .with_application(PubSubError::new(ErrorCondition::PreconditionNotMet).to_element())
}

// ---- storage ---------------------------------------------------------------

/// Serializes a node's configuration and affiliations for
/// [`StoredNode::config`](crate::hub::store::StoredNode::config):
/// `<node xmlns='urn:xmpp-kit:hub:pubsub:1' access=... max-items=...
/// persist=... notification=... payloads=... title=...>` with an
/// `<affiliation jid=... affiliation=.../>` per affiliated entity.
pub(super) fn encode(config: &NodeConfig, affiliations: &BTreeMap<BareJid, Affiliation>) -> String {
    let bool_str = |b: bool| if b { "true" } else { "false" };
    let mut element = Element::bare("node", NS_STORED);
    set_attr(&mut element, "access", config.access_model.as_str());
    set_attr(&mut element, "max-items", config.max_items.to_string());
    set_attr(&mut element, "persist", bool_str(config.persist_items));
    set_attr(
        &mut element,
        "notification",
        config.notification_type.as_str(),
    );
    set_attr(&mut element, "payloads", bool_str(config.deliver_payloads));
    set_attr(&mut element, "title", config.title.as_str());
    for (jid, affiliation) in affiliations {
        let mut child = Element::bare("affiliation", NS_STORED);
        set_attr(&mut child, "jid", jid.as_str());
        set_attr(&mut child, "affiliation", affiliation.as_str());
        element.append_child(child);
    }
    String::from(&element)
}

/// Reads what [`encode`] wrote.
pub(super) fn decode(text: &str) -> Result<(NodeConfig, BTreeMap<BareJid, Affiliation>), String> {
    let element: Element = text.parse().map_err(|e| format!("not XML: {e}"))?;
    if !element.is("node", NS_STORED) {
        return Err(format!("unknown format <{}/>", element.name()));
    }
    let attr = |name: &'static str| {
        crate::ext::attr(&element, name).ok_or_else(|| format!("no {name} attribute"))
    };
    let boolean = |name: &'static str| match attr(name)? {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(format!("{name}={other:?}")),
    };
    let access = attr("access")?;
    let max_items = attr("max-items")?;
    let notification = attr("notification")?;
    let config = NodeConfig {
        access_model: access.parse().map_err(|()| format!("access={access:?}"))?,
        max_items: max_items
            .parse()
            .map_err(|_| format!("max-items={max_items:?}"))?,
        persist_items: boolean("persist")?,
        notification_type: NotificationType::parse(notification)
            .ok_or_else(|| format!("notification={notification:?}"))?,
        deliver_payloads: boolean("payloads")?,
        title: attr("title")?.to_owned(),
    };
    let mut affiliations = BTreeMap::new();
    for child in element
        .children()
        .filter(|c| c.is("affiliation", NS_STORED))
    {
        let jid = crate::ext::attr(child, "jid").ok_or("an affiliation without jid")?;
        let affiliation =
            crate::ext::attr(child, "affiliation").ok_or("an affiliation without affiliation")?;
        affiliations.insert(
            jid.parse::<BareJid>()
                .map_err(|e| format!("affiliation jid {jid:?}: {e}"))?,
            affiliation
                .parse::<Affiliation>()
                .map_err(|()| format!("affiliation {affiliation:?}"))?,
        );
    }
    Ok((config, affiliations))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> PubsubLimits {
        PubsubLimits::default()
    }

    fn submit(fields: &[(&str, &str)]) -> DataForm {
        let mut form = DataForm::with_form_type(FormType::Submit, NODE_CONFIG);
        for (var, value) in fields {
            form = form.with_field(Field::new(*var, FieldType::TextSingle).with_value(*value));
        }
        form
    }

    #[test]
    fn storage_round_trips_exactly() {
        let jid = |s: &str| s.parse::<BareJid>().unwrap();
        let mut affiliations = BTreeMap::new();
        affiliations.insert(jid("owner@example.org"), Affiliation::Owner);
        affiliations.insert(jid("pub@example.org"), Affiliation::Publisher);
        affiliations.insert(jid("member@example.org"), Affiliation::Member);
        affiliations.insert(jid("bad@example.org"), Affiliation::Outcast);
        let configs = [
            NodeConfig::new(AccessModel::Open, &limits()),
            NodeConfig {
                access_model: AccessModel::Whitelist,
                max_items: 256,
                persist_items: false,
                notification_type: NotificationType::Normal,
                deliver_payloads: false,
                title: "Quotes ' \" <&> and ünïcødé, spaces  twice ".to_owned(),
            },
            NodeConfig {
                access_model: AccessModel::Presence,
                title: String::new(),
                ..NodeConfig::new(AccessModel::Presence, &limits())
            },
        ];
        for config in configs {
            for affs in [BTreeMap::new(), affiliations.clone()] {
                let text = encode(&config, &affs);
                assert_eq!(decode(&text), Ok((config.clone(), affs)), "{text}");
            }
        }
    }

    #[test]
    fn storage_refuses_what_it_did_not_write() {
        for text in [
            "",
            "<node/>",
            "<other xmlns='urn:xmpp-kit:hub:pubsub:1'/>",
            "<node xmlns='urn:xmpp-kit:hub:pubsub:1' access='open'/>",
            "<node xmlns='urn:xmpp-kit:hub:pubsub:1' access='everyone' max-items='1' persist='true' \
             notification='headline' payloads='true' title=''/>",
            "<node xmlns='urn:xmpp-kit:hub:pubsub:1' access='open' max-items='-1' persist='true' \
             notification='headline' payloads='true' title=''/>",
            "<node xmlns='urn:xmpp-kit:hub:pubsub:1' access='open' max-items='1' persist='yes' \
             notification='headline' payloads='true' title=''/>",
            "<node xmlns='urn:xmpp-kit:hub:pubsub:1' access='open' max-items='1' persist='true' \
             notification='headline' payloads='true' title=''><affiliation jid='@x' affiliation='owner'/></node>",
            "<node xmlns='urn:xmpp-kit:hub:pubsub:1' access='open' max-items='1' persist='true' \
             notification='headline' payloads='true' title=''><affiliation jid='a@x' affiliation='king'/></node>",
        ] {
            assert!(decode(text).is_err(), "{text}");
        }
    }

    #[test]
    fn configuration_forms_apply_whole_or_not_at_all() {
        let limits = limits();
        let mut config = NodeConfig::new(AccessModel::Open, &limits);
        config
            .apply(
                &submit(&[
                    ("pubsub#access_model", "whitelist"),
                    ("pubsub#max_items", "3"),
                    ("pubsub#persist_items", "0"),
                    ("pubsub#notification_type", "normal"),
                    ("pubsub#deliver_payloads", "false"),
                    ("pubsub#title", "News"),
                    ("pubsub#publish_model", "publishers"),
                ]),
                &limits,
            )
            .unwrap();
        assert_eq!(
            config,
            NodeConfig {
                access_model: AccessModel::Whitelist,
                max_items: 3,
                persist_items: false,
                notification_type: NotificationType::Normal,
                deliver_payloads: false,
                title: "News".into(),
            }
        );
        assert_eq!(config.kept_items(), 1);
        config
            .apply(&submit(&[("pubsub#max_items", "max")]), &limits)
            .unwrap();
        assert_eq!(config.max_items, limits.max_items);

        let before = config.clone();
        let too_many = (limits.max_items + 1).to_string();
        for (fields, condition) in [
            (
                vec![
                    ("pubsub#title", "ok"),
                    ("pubsub#max_items", too_many.as_str()),
                ],
                DefinedCondition::NotAcceptable,
            ),
            (
                vec![("pubsub#max_items", "0")],
                DefinedCondition::NotAcceptable,
            ),
            (
                vec![("pubsub#access_model", "authorize")],
                DefinedCondition::NotAcceptable,
            ),
            (
                vec![("pubsub#access_model", "roster")],
                DefinedCondition::NotAcceptable,
            ),
            (
                vec![("pubsub#persist_items", "maybe")],
                DefinedCondition::NotAcceptable,
            ),
            (
                vec![("pubsub#notification_type", "chat")],
                DefinedCondition::NotAcceptable,
            ),
            (
                vec![("pubsub#title", "two\nlines")],
                DefinedCondition::NotAcceptable,
            ),
            (
                vec![("pubsub#publish_model", "open")],
                DefinedCondition::NotAcceptable,
            ),
            (
                vec![("pubsub#collection", "x")],
                DefinedCondition::NotAcceptable,
            ),
        ] {
            let error = config.apply(&submit(&fields), &limits).unwrap_err();
            assert_eq!(error.condition, condition, "{fields:?}");
            assert_eq!(config, before, "unchanged after {fields:?}");
        }
        let error = config
            .apply(&submit(&[("pubsub#access_model", "roster")]), &limits)
            .unwrap_err();
        let application = error.application.unwrap();
        assert_eq!(application.name(), "unsupported-access-model");
        // Another FORM_TYPE, or a form that is not submitted.
        let mut other = DataForm::with_form_type(FormType::Submit, "urn:other");
        assert!(config.apply(&other, &limits).is_err());
        other = DataForm::new(FormType::Form);
        assert!(config.apply(&other, &limits).is_err());
    }

    #[test]
    fn preconditions_hold_or_conflict() {
        let limits = limits();
        let config = NodeConfig::new(AccessModel::Presence, &limits);
        let options = |fields: &[(&str, &str)]| {
            let mut form = DataForm::with_form_type(FormType::Submit, PUBLISH_OPTIONS);
            for (var, value) in fields {
                form = form.with_field(Field::new(*var, FieldType::TextSingle).with_value(*value));
            }
            form
        };
        config
            .check_preconditions(
                &options(&[
                    ("pubsub#access_model", "presence"),
                    ("pubsub#persist_items", "true"),
                ]),
                &limits,
            )
            .unwrap();
        for fields in [
            vec![("pubsub#access_model", "open")],
            vec![("pubsub#max_items", "max")],
            vec![("pubsub#send_last_published_item", "on_sub")],
        ] {
            let error = config
                .check_preconditions(&options(&fields), &limits)
                .unwrap_err();
            assert_eq!(error.condition, DefinedCondition::Conflict);
            assert_eq!(
                error.application.unwrap().name(),
                "precondition-not-met",
                "{fields:?}"
            );
        }
        let mut created = config.clone();
        created
            .apply_options(&options(&[("pubsub#access_model", "open")]), &limits)
            .unwrap();
        assert_eq!(created.access_model, AccessModel::Open);
        assert!(
            created
                .apply_options(&options(&[("pubsub#unknown", "1")]), &limits)
                .is_err()
        );
        assert_eq!(created.access_model, AccessModel::Open);
    }

    #[test]
    fn the_form_shows_the_configuration() {
        let limits = limits();
        let config = NodeConfig::new(AccessModel::Whitelist, &limits);
        let form = config.to_form(&limits);
        assert_eq!(form.form_type_value(), Some(NODE_CONFIG));
        assert_eq!(
            form.field("pubsub#access_model").and_then(Field::value),
            Some("whitelist")
        );
        assert_eq!(
            form.field("pubsub#max_items").and_then(Field::value),
            Some("10")
        );
        // Submitted back as it is, it changes nothing.
        let mut submitted = form.clone();
        submitted.form_type = FormType::Submit;
        let mut same = config.clone();
        same.apply(&submitted, &limits).unwrap();
        assert_eq!(same, config);
    }
}
