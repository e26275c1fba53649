//! What owners do (XEP-0060 section 8): create, configure, delete and
//! purge nodes, and manage their affiliations and subscriptions.

use std::collections::{BTreeMap, BTreeSet};

use minidom::Element;

use super::config::NodeConfig;
use super::{
    Budget, Done, Node, Op, Outcome, SUBSCRIBED, bad_request, check_name, config, error_with,
    no_such_node, node_required, not_acceptable, notify, service_nodes, store_failed, unsupported,
};
use crate::ext::Payload as _;
use crate::ext::data_forms::{DataForm, FormType};
use crate::ext::pubsub::{
    Affiliation, EntityAffiliation, ErrorCondition, Event, PubSub, PubSubOwner, Subscription,
    SubscriptionState,
};
use crate::hub::store::{StoredNode, StoredSubscription};
use crate::jid::Jid;
use crate::stanza::{DefinedCondition, StanzaError};

impl Op<'_> {
    pub(super) fn create(&mut self, node: Option<String>, configure: Option<Element>) -> Outcome {
        self.check_account()?;
        let instant = node.is_none();
        let name = match node {
            Some(name) => {
                check_name("node name", &name)?;
                if self.inner.nodes.contains_key(&self.key(&name)) {
                    return Err(
                        StanzaError::new(DefinedCondition::Conflict).with_text("the node exists")
                    );
                }
                name
            }
            None => self.instant_name()?,
        };
        let mut config = NodeConfig::new(self.default_access(), self.limits);
        if let Some(form) = configure {
            let form = DataForm::parse(&form).map_err(|_| bad_request("invalid form"))?;
            config.apply(&form, self.limits)?;
        }
        self.create_node(&name, config)?;
        Ok(if instant {
            Done::reply(PubSub::create(Some(name)).to_element())
        } else {
            Done::default()
        })
    }

    /// A node name no node of the service has.
    pub(super) fn instant_name(&mut self) -> Result<String, StanzaError> {
        for _ in 0..8 {
            let name = self.inner.ids.next_id();
            if !self.inner.nodes.contains_key(&self.key(&name)) {
                return Ok(name);
            }
        }
        Err(StanzaError::new(DefinedCondition::InternalServerError))
    }

    /// Creates a node owned by the requester, within the limits.
    pub(super) fn create_node(
        &mut self,
        name: &str,
        config: NodeConfig,
    ) -> Result<(), StanzaError> {
        let mut in_service = 0;
        let mut owned = 0;
        for (_, node) in service_nodes(&self.inner.nodes, &self.service.key) {
            in_service += 1;
            if node.affiliation(&self.requester) == Affiliation::Owner {
                owned += 1;
            }
        }
        let full = if self.service.pep.is_some() {
            in_service >= self.limits.max_nodes_per_owner
        } else {
            in_service >= self.limits.max_nodes || owned >= self.limits.max_nodes_per_owner
        };
        if full {
            return Err(error_with(
                DefinedCondition::NotAllowed,
                ErrorCondition::MaxNodesExceeded,
            ));
        }
        let node = Node {
            config,
            affiliations: BTreeMap::from([(self.requester.clone(), Affiliation::Owner)]),
            subscriptions: BTreeMap::new(),
        };
        self.store
            .put_node(&self.stored_node(name, &node.config, &node))
            .map_err(store_failed)?;
        self.inner.nodes.insert(self.key(name), node);
        Ok(())
    }

    pub(super) fn configure_get(&self, node: Option<String>) -> Outcome {
        let name = node.ok_or_else(node_required)?;
        let node = self.owned_node(&name)?;
        let form = node.config.to_form(self.limits).to_element();
        Ok(Done::reply(
            PubSubOwner::Configure {
                node: Some(name),
                form: Some(form),
            }
            .to_element(),
        ))
    }

    pub(super) fn configure_set(&mut self, node: Option<String>, form: Option<Element>) -> Outcome {
        let name = node.ok_or_else(node_required)?;
        let node = self.owned_node(&name)?;
        let form = form.ok_or_else(|| bad_request("no configuration form"))?;
        let form = DataForm::parse(&form).map_err(|_| bad_request("invalid form"))?;
        if form.form_type == FormType::Cancel {
            return Ok(Done::default());
        }
        let mut config = node.config.clone();
        config.apply(&form, self.limits)?;
        if config == node.config {
            return Ok(Done::default());
        }
        let shrinks = config.kept_items() < node.config.kept_items();
        let kept = config.kept_items();
        self.store
            .put_node(&self.stored_node(&name, &config, node))
            .map_err(store_failed)?;
        if let Some(node) = self.inner.nodes.get_mut(&self.key(&name)) {
            node.config = config;
        }
        if shrinks {
            // The store keeps the newest `kept` items from now on.
            let items = self
                .store
                .items(&self.service.key, &name)
                .map_err(store_failed)?;
            let excess = items.len().saturating_sub(kept);
            for item in items.iter().take(excess) {
                self.store
                    .remove_item(&self.service.key, &name, &item.id)
                    .map_err(store_failed)?;
            }
        }
        Ok(Done::default())
    }

    pub(super) fn delete(&mut self, name: &str, redirect: Option<String>) -> Outcome {
        self.owned_node(name)?;
        let key = self.key(name);
        let node = self.inner.nodes.get(&key).ok_or_else(no_such_node)?;
        let event = Event::Delete {
            node: name.to_owned(),
            redirect,
        }
        .to_element();
        let notifications = notify(
            &self.service,
            &mut self.inner.ids,
            node,
            &event,
            self.access,
        );
        self.store
            .remove_node(&self.service.key, name)
            .map_err(store_failed)?;
        self.inner.nodes.remove(&key);
        Ok(Done {
            reply: None,
            notifications,
        })
    }

    pub(super) fn purge(&mut self, name: &str) -> Outcome {
        self.owned_node(name)?;
        let key = self.key(name);
        let node = self.inner.nodes.get(&key).ok_or_else(no_such_node)?;
        self.store
            .purge_items(&self.service.key, name)
            .map_err(store_failed)?;
        let event = Event::Purge {
            node: name.to_owned(),
        }
        .to_element();
        Ok(Done {
            reply: None,
            notifications: notify(
                &self.service,
                &mut self.inner.ids,
                node,
                &event,
                self.access,
            ),
        })
    }

    pub(super) fn subscriptions_get(&self, name: &str) -> Outcome {
        let node = self.owned_node(name)?;
        let mut budget = Budget::new(self.limits);
        let subscriptions = node
            .subscriptions
            .iter()
            .take_while(|(jid, subid)| budget.take(jid.as_str().len() + subid.len()))
            .map(|(jid, subid)| Subscription {
                node: None,
                jid: jid.clone(),
                subid: Some(subid.clone()),
                state: Some(SubscriptionState::Subscribed),
                options: None,
            })
            .collect();
        Ok(Done::reply(
            PubSubOwner::Subscriptions {
                node: name.to_owned(),
                subscriptions,
            }
            .to_element(),
        ))
    }

    /// XEP-0060 8.8.2: subscribes (`subscribed`) or unsubscribes (`none`)
    /// entities.
    pub(super) fn subscriptions_set(&mut self, name: &str, entries: Vec<Subscription>) -> Outcome {
        let node = self.owned_node(name)?;
        let mut adds = BTreeSet::new();
        let mut removes = BTreeSet::new();
        for entry in entries {
            match entry.state {
                Some(SubscriptionState::Subscribed) => {
                    removes.remove(&entry.jid);
                    if !node.subscriptions.contains_key(&entry.jid) {
                        adds.insert(entry.jid);
                    }
                }
                Some(SubscriptionState::None) => {
                    adds.remove(&entry.jid);
                    if node.subscriptions.contains_key(&entry.jid) {
                        removes.insert(entry.jid);
                    }
                }
                _ => return Err(not_acceptable("a subscription is set subscribed or none")),
            }
        }
        if node.subscriptions.len() - removes.len() + adds.len() > self.limits.max_subscriptions {
            return Err(error_with(
                DefinedCondition::PolicyViolation,
                ErrorCondition::TooManySubscriptions,
            ));
        }
        for jid in &removes {
            self.remove_subscription(name, jid)?;
        }
        let key = self.key(name);
        for jid in adds {
            let subid = self.inner.ids.next_id();
            self.store
                .put_subscription(&StoredSubscription {
                    service: self.service.key.clone(),
                    node: name.to_owned(),
                    jid: jid.to_string(),
                    subid: subid.clone(),
                    state: SUBSCRIBED.to_owned(),
                })
                .map_err(store_failed)?;
            if let Some(node) = self.inner.nodes.get_mut(&key) {
                node.subscriptions.insert(jid, subid);
            }
        }
        Ok(Done::default())
    }

    pub(super) fn affiliations_get(&self, name: &str) -> Outcome {
        let node = self.owned_node(name)?;
        let mut budget = Budget::new(self.limits);
        let affiliations = node
            .affiliations
            .iter()
            .take_while(|(jid, _)| budget.take(jid.as_str().len()))
            .map(|(jid, affiliation)| EntityAffiliation {
                jid: jid.clone().into(),
                affiliation: *affiliation,
            })
            .collect();
        Ok(Done::reply(
            PubSubOwner::Affiliations {
                node: name.to_owned(),
                affiliations,
            }
            .to_element(),
        ))
    }

    /// XEP-0060 8.9.2: sets affiliations (`none` removes one). An entity
    /// made `outcast` loses its subscriptions.
    pub(super) fn affiliations_set(
        &mut self,
        name: &str,
        entries: Vec<EntityAffiliation>,
    ) -> Outcome {
        let node = self.owned_node(name)?;
        let mut affiliations = node.affiliations.clone();
        for entry in entries {
            let jid = entry.jid.to_bare();
            if entry.affiliation == Affiliation::PublishOnly {
                return Err(unsupported("publish-only-affiliation"));
            }
            if let Some(account) = &self.service.pep {
                if jid == *account {
                    return Err(not_acceptable("the account owns its PEP nodes"));
                }
                if matches!(
                    entry.affiliation,
                    Affiliation::Owner | Affiliation::Publisher
                ) {
                    return Err(not_acceptable(
                        "on a PEP node, only the account owns and publishes",
                    ));
                }
            }
            if entry.affiliation == Affiliation::None {
                affiliations.remove(&jid);
            } else {
                affiliations.insert(jid, entry.affiliation);
            }
        }
        if !affiliations.values().any(|a| *a == Affiliation::Owner) {
            return Err(not_acceptable("a node keeps at least one owner"));
        }
        if affiliations.len() > self.limits.max_affiliations {
            return Err(StanzaError::new(DefinedCondition::ResourceConstraint)
                .with_text("too many affiliations"));
        }
        if affiliations == node.affiliations {
            return Ok(Done::default());
        }
        let outcasts: Vec<Jid> = node
            .subscriptions
            .keys()
            .filter(|jid| affiliations.get(&jid.to_bare()) == Some(&Affiliation::Outcast))
            .cloned()
            .collect();
        let stored = StoredNode {
            service: self.service.key.clone(),
            node: name.to_owned(),
            config: config::encode(&node.config, &affiliations),
        };
        self.store.put_node(&stored).map_err(store_failed)?;
        if let Some(node) = self.inner.nodes.get_mut(&self.key(name)) {
            node.affiliations = affiliations;
        }
        for jid in &outcasts {
            self.remove_subscription(name, jid)?;
        }
        Ok(Done::default())
    }
}
