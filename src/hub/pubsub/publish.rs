//! What publishers and subscribers do (XEP-0060 sections 6 and 7):
//! publish, retract, retrieve items, subscribe, unsubscribe, and list one's
//! own subscriptions and affiliations.

use std::collections::HashSet;

use minidom::Element;

use super::config::NodeConfig;
use super::{
    Budget, Done, Op, Outcome, SUBSCRIBED, bad_request, check_access, check_name, error_with,
    forbidden, no_such_node, node_required, notify, service_nodes, store_failed, unsupported,
};
use crate::ext::Payload as _;
use crate::ext::data_forms::DataForm;
use crate::ext::pubsub::{
    AccessModel, Affiliation, ErrorCondition, Event, Item, NodeAffiliation, PubSub, Subscription,
    SubscriptionState,
};
use crate::hub::store::{StoredItem, StoredSubscription, element_text, now_ms};
use crate::jid::Jid;
use crate::stanza::{DefinedCondition, StanzaError};

impl Op<'_> {
    pub(super) fn publish(
        &mut self,
        name: &str,
        mut items: Vec<Item>,
        options: Option<Element>,
    ) -> Outcome {
        self.check_account()?;
        let item = match (items.pop(), items.is_empty()) {
            (None, _) => {
                return Err(error_with(
                    DefinedCondition::BadRequest,
                    ErrorCondition::ItemRequired,
                ));
            }
            (Some(item), true) => item,
            (Some(_), false) => {
                return Err(error_with(
                    DefinedCondition::BadRequest,
                    ErrorCondition::InvalidPayload,
                )
                .with_text("one item per publish"));
            }
        };
        let payload = item.payload.ok_or_else(|| {
            error_with(
                DefinedCondition::BadRequest,
                ErrorCondition::PayloadRequired,
            )
        })?;
        // A payload XML cannot carry again is refused like one too big.
        let serialized = element_text(&payload).unwrap_or_default();
        if serialized.is_empty() || serialized.len() > self.limits.max_payload_bytes {
            return Err(error_with(
                DefinedCondition::NotAcceptable,
                ErrorCondition::PayloadTooBig,
            ));
        }
        let id = match item.id.filter(|id| !id.is_empty()) {
            Some(id) => {
                check_name("item id", &id)?;
                id
            }
            None => self.inner.ids.next_id(),
        };
        let options = options
            .map(|form| DataForm::parse(&form))
            .transpose()
            .map_err(|_| bad_request("invalid publish-options form"))?;
        match self.inner.nodes.get(&self.key(name)) {
            Some(node) => {
                if self.service.pep.is_none()
                    && !matches!(
                        node.affiliation(&self.requester),
                        Affiliation::Owner | Affiliation::Publisher
                    )
                {
                    return Err(forbidden("only owners and publishers publish"));
                }
                if let Some(form) = &options {
                    node.config.check_preconditions(form, self.limits)?;
                }
            }
            None if self.service.pep.is_some() => {
                // XEP-0163 7.1.1: the node is created on first publish.
                check_name("node name", name)?;
                let mut config = NodeConfig::new(AccessModel::Presence, self.limits);
                if let Some(form) = &options {
                    config.apply_options(form, self.limits)?;
                }
                self.create_node(name, config)?;
            }
            None => return Err(no_such_node()),
        }
        let key = self.key(name);
        let node = self.inner.nodes.get(&key).ok_or_else(no_such_node)?;
        let stored = StoredItem {
            service: self.service.key.clone(),
            node: name.to_owned(),
            id: id.clone(),
            publisher: self.from.to_string(),
            payload: serialized,
            stamp_ms: now_ms(),
        };
        self.store
            .put_item(&stored, node.config.kept_items())
            .map_err(store_failed)?;
        let event = Event::Items {
            node: name.to_owned(),
            items: vec![Item {
                id: Some(id.clone()),
                publisher: None,
                payload: node.config.deliver_payloads.then_some(payload),
            }],
            retracts: Vec::new(),
        }
        .to_element();
        let notifications = notify(
            &self.service,
            &mut self.inner.ids,
            node,
            &event,
            self.access,
        );
        Ok(Done {
            reply: Some(
                PubSub::Publish {
                    node: name.to_owned(),
                    items: vec![Item::with_id_only(id)],
                    publish_options: None,
                }
                .to_element(),
            ),
            notifications,
        })
    }

    pub(super) fn retract(&mut self, name: &str, notify_retract: bool, ids: &[String]) -> Outcome {
        self.check_account()?;
        let key = self.key(name);
        let node = self.inner.nodes.get(&key).ok_or_else(no_such_node)?;
        if !matches!(
            node.affiliation(&self.requester),
            Affiliation::Owner | Affiliation::Publisher
        ) {
            return Err(forbidden("only owners and publishers retract"));
        }
        if ids.is_empty() {
            return Err(error_with(
                DefinedCondition::BadRequest,
                ErrorCondition::ItemRequired,
            ));
        }
        let mut removed = Vec::new();
        for id in ids {
            if self
                .store
                .remove_item(&self.service.key, name, id)
                .map_err(store_failed)?
            {
                removed.push(id.clone());
            }
        }
        if removed.is_empty() {
            return Err(StanzaError::new(DefinedCondition::ItemNotFound).with_text("no such item"));
        }
        let notifications = if notify_retract {
            let event = Event::Items {
                node: name.to_owned(),
                items: Vec::new(),
                retracts: removed,
            }
            .to_element();
            notify(
                &self.service,
                &mut self.inner.ids,
                node,
                &event,
                self.access,
            )
        } else {
            Vec::new()
        };
        Ok(Done {
            reply: None,
            notifications,
        })
    }

    pub(super) fn items(&self, name: &str, max_items: Option<u32>, wanted: &[Item]) -> Outcome {
        let node = self.node(name)?;
        check_access(node, &self.requester, self.access)?;
        let mut stored = self
            .store
            .items(&self.service.key, name)
            .map_err(store_failed)?;
        // Only the newest the node keeps, should the store hold more.
        let excess = stored.len().saturating_sub(node.config.kept_items());
        stored.drain(..excess);
        if !wanted.is_empty() {
            let ids: HashSet<&str> = wanted.iter().filter_map(|i| i.id.as_deref()).collect();
            stored.retain(|item| ids.contains(item.id.as_str()));
            if stored.is_empty() {
                return Err(
                    StanzaError::new(DefinedCondition::ItemNotFound).with_text("no such item")
                );
            }
        } else if let Some(max) = max_items {
            let max = usize::try_from(max).unwrap_or(usize::MAX);
            let excess = stored.len().saturating_sub(max);
            stored.drain(..excess);
        }
        // The newest items that fit in a reply.
        let mut budget = Budget::new(self.limits);
        let mut first = stored.len();
        for (i, item) in stored.iter().enumerate().rev() {
            if !budget.take(item.payload.len() + item.id.len()) {
                break;
            }
            first = i;
        }
        let items = stored
            .into_iter()
            .skip(first)
            .map(|item| {
                let payload = if item.payload.is_empty() {
                    None
                } else {
                    Some(item.payload.parse::<Element>().map_err(|_| {
                        StanzaError::new(DefinedCondition::InternalServerError)
                            .with_text("a stored item is unreadable")
                    })?)
                };
                Ok(Item {
                    id: Some(item.id),
                    publisher: None,
                    payload,
                })
            })
            .collect::<Result<Vec<_>, StanzaError>>()?;
        Ok(Done::reply(PubSub::items_result(name, items).to_element()))
    }

    pub(super) fn subscribe(
        &mut self,
        node: Option<String>,
        jid: Jid,
        options: Option<Element>,
    ) -> Outcome {
        let name = node.ok_or_else(node_required)?;
        if jid.to_bare() != self.requester {
            return Err(error_with(
                DefinedCondition::BadRequest,
                ErrorCondition::InvalidJid,
            ));
        }
        if options.is_some() {
            return Err(unsupported("subscription-options"));
        }
        let key = self.key(&name);
        let node = self.node(&name)?;
        check_access(node, &self.requester, self.access)?;
        let subid = match node.subscriptions.get(&jid) {
            Some(subid) => subid.clone(),
            None => {
                if node.subscriptions.len() >= self.limits.max_subscriptions {
                    return Err(error_with(
                        DefinedCondition::PolicyViolation,
                        ErrorCondition::TooManySubscriptions,
                    ));
                }
                let subid = self.inner.ids.next_id();
                self.store
                    .put_subscription(&StoredSubscription {
                        service: self.service.key.clone(),
                        node: name.clone(),
                        jid: jid.to_string(),
                        subid: subid.clone(),
                        state: SUBSCRIBED.to_owned(),
                    })
                    .map_err(store_failed)?;
                if let Some(node) = self.inner.nodes.get_mut(&key) {
                    node.subscriptions.insert(jid.clone(), subid.clone());
                }
                subid
            }
        };
        Ok(Done::reply(
            PubSub::Subscription(
                Subscription::new(name, jid, SubscriptionState::Subscribed).with_subid(subid),
            )
            .to_element(),
        ))
    }

    pub(super) fn unsubscribe(
        &mut self,
        node: Option<String>,
        jid: &Jid,
        subid: Option<String>,
    ) -> Outcome {
        let name = node.ok_or_else(node_required)?;
        if jid.to_bare() != self.requester {
            return Err(error_with(
                DefinedCondition::BadRequest,
                ErrorCondition::InvalidJid,
            ));
        }
        let node = self.node(&name)?;
        let current = node.subscriptions.get(jid).ok_or_else(|| {
            error_with(
                DefinedCondition::UnexpectedRequest,
                ErrorCondition::NotSubscribed,
            )
        })?;
        if subid.is_some_and(|subid| subid != *current) {
            return Err(error_with(
                DefinedCondition::NotAcceptable,
                ErrorCondition::InvalidSubid,
            ));
        }
        self.remove_subscription(&name, jid)?;
        Ok(Done::default())
    }

    pub(super) fn remove_subscription(&mut self, name: &str, jid: &Jid) -> Result<(), StanzaError> {
        self.store
            .remove_subscription(&self.service.key, name, jid.as_str(), None)
            .map_err(store_failed)?;
        if let Some(node) = self.inner.nodes.get_mut(&self.key(name)) {
            node.subscriptions.remove(jid);
        }
        Ok(())
    }

    /// The requester's subscriptions (XEP-0060 section 5.6).
    pub(super) fn own_subscriptions(&self, node: Option<String>) -> Outcome {
        if let Some(name) = &node {
            self.node(name)?;
        }
        let mut subscriptions = Vec::new();
        let mut budget = Budget::new(self.limits);
        'nodes: for (name, n) in service_nodes(&self.inner.nodes, &self.service.key) {
            if node.as_deref().is_some_and(|wanted| wanted != name) {
                continue;
            }
            for (jid, subid) in &n.subscriptions {
                if jid.to_bare() == self.requester {
                    if !budget.take(name.len() + jid.as_str().len() + subid.len()) {
                        break 'nodes;
                    }
                    subscriptions.push(
                        Subscription::new(name, jid.clone(), SubscriptionState::Subscribed)
                            .with_subid(subid.as_str()),
                    );
                }
            }
        }
        Ok(Done::reply(
            PubSub::Subscriptions {
                node,
                subscriptions,
            }
            .to_element(),
        ))
    }

    /// The requester's affiliations (XEP-0060 section 5.7).
    pub(super) fn own_affiliations(&self, node: Option<String>) -> Outcome {
        if let Some(name) = &node {
            self.node(name)?;
        }
        let mut budget = Budget::new(self.limits);
        let affiliations = service_nodes(&self.inner.nodes, &self.service.key)
            .filter(|(name, _)| node.as_deref().is_none_or(|wanted| wanted == *name))
            .filter_map(|(name, n)| {
                n.affiliations
                    .get(&self.requester)
                    .map(|affiliation| NodeAffiliation {
                        node: name.to_owned(),
                        affiliation: *affiliation,
                    })
            })
            .take_while(|entry| budget.take(entry.node.len()))
            .collect();
        Ok(Done::reply(
            PubSub::Affiliations { node, affiliations }.to_element(),
        ))
    }
}
