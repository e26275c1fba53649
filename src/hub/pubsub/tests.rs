//! The service against a [`MemoryStore`]: requests in, answers and
//! notifications out, and what the store holds afterwards.

use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};

use super::*;
use crate::ext::data_forms::{DataForm, Field, FieldType, FormType};
use crate::ext::pubsub::{EntityAffiliation, Event, Item, Subscription, SubscriptionState};
use crate::hub::store::{
    MemoryStore, Spooled, StoreResult, StoredItem, StoredSession, StoredSubscription,
};
use crate::jid::FullJid;
use crate::sasl::ScramCredentials;

const DOMAIN: &str = "hub.test";
const SERVICE: &str = "pubsub.hub.test";

/// Who has a presence subscription to whom: (subscriber, owner).
#[derive(Default)]
struct Contacts(HashSet<(String, String)>);

impl PubsubAccess for Contacts {
    fn is_subscribed_to(&self, subscriber: &BareJid, owner: &BareJid) -> bool {
        self.0
            .contains(&(subscriber.to_string(), owner.to_string()))
    }
}

fn bare(user: &str) -> BareJid {
    format!("{user}@{DOMAIN}").parse().unwrap()
}

fn full(user: &str) -> FullJid {
    format!("{user}@{DOMAIN}/phone").parse().unwrap()
}

fn jid(s: &str) -> Jid {
    s.parse().unwrap()
}

/// The answer to one request and the notifications it made.
#[derive(Debug)]
struct Answer {
    reply: Result<Option<Element>, StanzaError>,
    messages: Vec<Message>,
}

impl Answer {
    #[track_caller]
    fn ok(&self) -> Option<&Element> {
        match &self.reply {
            Ok(payload) => payload.as_ref(),
            Err(error) => panic!("expected a result, got {error:?}"),
        }
    }

    #[track_caller]
    fn error(&self) -> Refusal {
        match &self.reply {
            Ok(payload) => panic!("expected an error, got {payload:?}"),
            Err(error) => (
                error.condition,
                error.application.as_ref().map(|a| a.name().to_owned()),
            ),
        }
    }

    /// The events notified, by recipient.
    fn events(&self) -> Vec<(Jid, MessageType, Event)> {
        self.messages
            .iter()
            .map(|m| {
                (
                    m.to.clone().unwrap(),
                    m.kind,
                    m.payload::<Event>().unwrap().unwrap(),
                )
            })
            .collect()
    }

    fn recipients(&self) -> Vec<Jid> {
        let mut to: Vec<Jid> = self.messages.iter().filter_map(|m| m.to.clone()).collect();
        to.sort();
        to
    }
}

/// A refusal: the defined condition and the pubsub#errors one, if any.
type Refusal = (DefinedCondition, Option<String>);

/// What items retrieval gives: (id, payload text) each, or the refusal.
type Items = Result<Vec<(String, String)>, Refusal>;

fn expect(condition: DefinedCondition, application: Option<&str>) -> Refusal {
    (condition, application.map(str::to_owned))
}

struct World {
    store: Arc<dyn Store>,
    pubsub: Pubsub,
    contacts: Contacts,
}

impl World {
    fn new() -> Self {
        Self::with_limits(PubsubLimits::default())
    }

    fn with_limits(limits: PubsubLimits) -> Self {
        Self::on(Arc::new(MemoryStore::new()), limits)
    }

    fn on(store: Arc<dyn Store>, limits: PubsubLimits) -> Self {
        Self {
            pubsub: Pubsub::load(Arc::clone(&store), limits).unwrap(),
            store,
            contacts: Contacts::default(),
        }
    }

    /// `subscriber` has a presence subscription to `owner`.
    fn contact(&mut self, subscriber: &str, owner: &str) {
        self.contacts
            .0
            .insert((bare(subscriber).to_string(), bare(owner).to_string()));
    }

    /// An iq from `from`'s full JID to `service`.
    fn send(&self, from: &str, service: &str, set: bool, payload: Element) -> Answer {
        let kind = if set {
            IqKind::Set(payload.into())
        } else {
            IqKind::Get(payload.into())
        };
        let iq = Iq {
            to: Some(jid(service)),
            from: Some(full(from).into()),
            id: "q1".into(),
            kind,
            lang: None,
            other_attrs: Default::default(),
        };
        let mut out = self
            .pubsub
            .handle_iq(&jid(service), &iq, &self.contacts)
            .into_iter();
        let Some(Stanza::Iq(reply)) = out.next() else {
            panic!("no iq answer");
        };
        assert_eq!(reply.id, "q1");
        assert_eq!(reply.to, iq.from);
        assert_eq!(reply.from, iq.to);
        let reply = match reply.kind {
            IqKind::Result(payload) => Ok(payload.map(Element::from)),
            IqKind::Error { error, .. } => Err(*error),
            other => panic!("not an answer: {other:?}"),
        };
        let messages = out
            .map(|stanza| match stanza {
                Stanza::Message(m) => {
                    assert_eq!(m.from, Some(jid(service).to_bare().into()));
                    m
                }
                other => panic!("not a notification: {other:?}"),
            })
            .collect();
        Answer { reply, messages }
    }

    fn set(&self, from: &str, payload: Element) -> Answer {
        self.send(from, SERVICE, true, payload)
    }

    fn get(&self, from: &str, payload: Element) -> Answer {
        self.send(from, SERVICE, false, payload)
    }

    /// Items of `node` (on `service`) as `who` sees them: (id, payload text).
    fn items_at(&self, who: &str, service: &str, request: PubSub) -> Items {
        let answer = self.send(who, service, false, request.to_element());
        if answer.reply.is_err() {
            return Err(answer.error());
        }
        let PubSub::Items { items, .. } = PubSub::parse(answer.ok().unwrap()).unwrap() else {
            panic!("not items");
        };
        Ok(items
            .into_iter()
            .map(|i| {
                (
                    i.id.unwrap(),
                    i.payload.map(|p| p.text()).unwrap_or_default(),
                )
            })
            .collect())
    }

    fn items(&self, who: &str, node: &str) -> Items {
        self.items_at(who, SERVICE, PubSub::items(node))
    }

    fn stored_ids(&self, service: &str, node: &str) -> Vec<String> {
        self.store
            .items(service, node)
            .unwrap()
            .into_iter()
            .map(|i| i.id)
            .collect()
    }
}

fn entry(text: &str) -> Element {
    Element::builder("entry", "http://www.w3.org/2005/Atom")
        .append(text)
        .build()
}

fn form(form_type: &str, fields: &[(&str, &str)]) -> Element {
    let mut form = DataForm::with_form_type(FormType::Submit, form_type);
    for (var, value) in fields {
        form = form.with_field(Field::new(*var, FieldType::TextSingle).with_value(*value));
    }
    form.to_element()
}

fn create(node: &str, fields: &[(&str, &str)]) -> Element {
    PubSub::Create {
        node: Some(node.to_owned()),
        configure: (!fields.is_empty()).then(|| form(config::NODE_CONFIG, fields)),
    }
    .to_element()
}

fn configure(node: &str, fields: &[(&str, &str)]) -> Element {
    PubSubOwner::Configure {
        node: Some(node.to_owned()),
        form: Some(form(config::NODE_CONFIG, fields)),
    }
    .to_element()
}

fn publish(node: &str, id: &str, text: &str) -> Element {
    PubSub::publish(node, Item::new(entry(text)).with_id(id)).to_element()
}

fn subscribe(node: &str, who: Jid) -> Element {
    PubSub::subscribe(node, who).to_element()
}

fn affiliate(node: &str, entries: &[(&str, Affiliation)]) -> Element {
    PubSubOwner::Affiliations {
        node: node.to_owned(),
        affiliations: entries
            .iter()
            .map(|(user, affiliation)| EntityAffiliation {
                jid: bare(user).into(),
                affiliation: *affiliation,
            })
            .collect(),
    }
    .to_element()
}

/// Alice owns `node` (with `fields`); bob has a presence subscription to
/// her; dave is a member, eve an outcast.
fn world_with_node(node: &str, fields: &[(&str, &str)]) -> World {
    let mut world = World::new();
    world.contact("bob", "alice");
    world.set("alice", create(node, fields)).ok();
    world
        .set(
            "alice",
            affiliate(
                node,
                &[("dave", Affiliation::Member), ("eve", Affiliation::Outcast)],
            ),
        )
        .ok();
    world
}

#[test]
fn access_models_on_subscribe_and_items() {
    let ok = None;
    let forbidden = Some(expect(DefinedCondition::Forbidden, None));
    let presence = Some(expect(
        DefinedCondition::NotAuthorized,
        Some("presence-subscription-required"),
    ));
    let closed = Some(expect(DefinedCondition::NotAllowed, Some("closed-node")));
    // Requesters: alice (owner), bob (contact of alice), carol (stranger),
    // dave (member), eve (outcast).
    let table = [
        (
            "open",
            [
                ok.clone(),
                ok.clone(),
                ok.clone(),
                ok.clone(),
                forbidden.clone(),
            ],
        ),
        (
            "presence",
            [
                ok.clone(),
                ok.clone(),
                presence,
                ok.clone(),
                forbidden.clone(),
            ],
        ),
        (
            "whitelist",
            [ok.clone(), closed.clone(), closed, ok, forbidden],
        ),
    ];
    for (model, expected) in table {
        let world = world_with_node("news", &[("pubsub#access_model", model)]);
        world.set("alice", publish("news", "first", "hello")).ok();
        for (user, expected) in ["alice", "bob", "carol", "dave", "eve"]
            .iter()
            .zip(expected)
        {
            let items = world.items(user, "news");
            let answer = world.set(user, subscribe("news", bare(user).into()));
            match expected {
                None => {
                    assert_eq!(
                        items,
                        Ok(vec![("first".into(), "hello".into())]),
                        "{model}: {user} retrieves"
                    );
                    answer.ok();
                }
                Some(error) => {
                    assert_eq!(items, Err(error.clone()), "{model}: {user} retrieves");
                    assert_eq!(answer.error(), error, "{model}: {user} subscribes");
                }
            }
        }
    }
}

#[test]
fn a_member_added_later_gets_in_and_an_outcast_loses_its_subscription() {
    let world = world_with_node("club", &[("pubsub#access_model", "whitelist")]);
    assert_eq!(
        world
            .set("carol", subscribe("club", bare("carol").into()))
            .error(),
        expect(DefinedCondition::NotAllowed, Some("closed-node"))
    );
    world
        .set(
            "alice",
            affiliate("club", &[("carol", Affiliation::Member)]),
        )
        .ok();
    world
        .set("carol", subscribe("club", bare("carol").into()))
        .ok();
    let published = world.set("alice", publish("club", "1", "x"));
    assert_eq!(published.recipients(), vec![Jid::from(bare("carol"))]);
    // Banned: the subscription goes, notifications stop.
    world
        .set(
            "alice",
            affiliate("club", &[("carol", Affiliation::Outcast)]),
        )
        .ok();
    assert!(
        world
            .set("alice", publish("club", "2", "y"))
            .messages
            .is_empty()
    );
    assert!(
        world
            .store
            .subscriptions(SERVICE, "club")
            .unwrap()
            .is_empty()
    );
    // Back to none: no longer on the whitelist.
    world
        .set("alice", affiliate("club", &[("carol", Affiliation::None)]))
        .ok();
    assert_eq!(
        world.items("carol", "club"),
        Err(expect(DefinedCondition::NotAllowed, Some("closed-node")))
    );
}

#[test]
fn publish_notifies_every_subscriber_with_the_payload() {
    let world = world_with_node("news", &[]);
    // Bare JIDs and a full JID.
    world.set("bob", subscribe("news", bare("bob").into())).ok();
    world
        .set("carol", subscribe("news", full("carol").into()))
        .ok();
    world
        .set("dave", subscribe("news", bare("dave").into()))
        .ok();
    let answer = world.set("alice", publish("news", "a1", "first"));
    let PubSub::Publish { items, .. } = PubSub::parse(answer.ok().unwrap()).unwrap() else {
        panic!("a publish result");
    };
    assert_eq!(items[0].id.as_deref(), Some("a1"));
    let events = answer.events();
    assert_eq!(
        answer.recipients(),
        vec![
            Jid::from(bare("bob")),
            Jid::from(full("carol")),
            Jid::from(bare("dave"))
        ]
    );
    for (_, kind, event) in events {
        assert_eq!(kind, MessageType::Headline);
        assert_eq!(
            event,
            Event::Items {
                node: "news".into(),
                items: vec![Item::new(entry("first")).with_id("a1")],
                retracts: Vec::new(),
            }
        );
    }
    // Normal messages without payloads; generated, distinct item ids.
    world
        .set(
            "alice",
            configure(
                "news",
                &[
                    ("pubsub#notification_type", "normal"),
                    ("pubsub#deliver_payloads", "0"),
                ],
            ),
        )
        .ok();
    let mut ids = HashSet::new();
    for _ in 0..2 {
        let answer = world.set(
            "alice",
            PubSub::publish("news", Item::new(entry("anonymous"))).to_element(),
        );
        let PubSub::Publish { items, .. } = PubSub::parse(answer.ok().unwrap()).unwrap() else {
            panic!("a publish result");
        };
        let id = items[0].id.clone().unwrap();
        assert!(ids.insert(id.clone()));
        assert_eq!(answer.messages.len(), 3);
        for (_, kind, event) in answer.events() {
            assert_eq!(kind, MessageType::Normal);
            assert_eq!(
                event,
                Event::Items {
                    node: "news".into(),
                    items: vec![Item::with_id_only(id.as_str())],
                    retracts: Vec::new(),
                }
            );
        }
    }
}

#[test]
fn only_owners_and_publishers_publish() {
    let world = world_with_node("news", &[]);
    for user in ["bob", "dave", "eve"] {
        assert_eq!(
            world.set(user, publish("news", "x", "no")).error(),
            expect(DefinedCondition::Forbidden, None),
            "{user}"
        );
    }
    world
        .set(
            "alice",
            affiliate("news", &[("bob", Affiliation::Publisher)]),
        )
        .ok();
    world.set("bob", publish("news", "x", "yes")).ok();
    // A publisher publishes and retracts, but does not configure.
    assert_eq!(
        world
            .get("bob", PubSubOwner::configure("news").to_element())
            .error(),
        expect(DefinedCondition::Forbidden, None)
    );
    world
        .set("bob", PubSub::retract("news", "x").to_element())
        .ok();
    // On the service, a node is not created by publishing.
    assert_eq!(
        world.set("alice", publish("nowhere", "x", "y")).error(),
        expect(DefinedCondition::ItemNotFound, None)
    );
}

#[test]
fn max_items_keeps_the_newest() {
    let world = world_with_node("feed", &[("pubsub#max_items", "3")]);
    for i in 1..=5 {
        world
            .set(
                "alice",
                publish("feed", &format!("i{i}"), &format!("item {i}")),
            )
            .ok();
    }
    let ids =
        |items: Vec<(String, String)>| items.into_iter().map(|(id, _)| id).collect::<Vec<_>>();
    assert_eq!(ids(world.items("bob", "feed").unwrap()), ["i3", "i4", "i5"]);
    assert_eq!(world.stored_ids(SERVICE, "feed"), ["i3", "i4", "i5"]);
    assert_eq!(
        world.items_at("bob", SERVICE, PubSub::last_items("feed", 2)),
        Ok(vec![
            ("i4".into(), "item 4".into()),
            ("i5".into(), "item 5".into())
        ])
    );
    assert_eq!(
        ids(world
            .items_at("bob", SERVICE, PubSub::items_by_id("feed", ["i1", "i4"]))
            .unwrap()),
        ["i4"]
    );
    assert_eq!(
        world.items_at("bob", SERVICE, PubSub::items_by_id("feed", ["i1"])),
        Err(expect(DefinedCondition::ItemNotFound, None))
    );
    // Publishing an existing id replaces the item, as the newest.
    world.set("alice", publish("feed", "i3", "again")).ok();
    assert_eq!(world.stored_ids(SERVICE, "feed"), ["i4", "i5", "i3"]);
    // Fewer items: the store drops the oldest at once.
    world
        .set("alice", configure("feed", &[("pubsub#max_items", "2")]))
        .ok();
    assert_eq!(world.stored_ids(SERVICE, "feed"), ["i5", "i3"]);
    // Not persistent: the last item only.
    world
        .set(
            "alice",
            configure("feed", &[("pubsub#persist_items", "false")]),
        )
        .ok();
    assert_eq!(world.stored_ids(SERVICE, "feed"), ["i3"]);
    world.set("alice", publish("feed", "i6", "six")).ok();
    assert_eq!(
        world.items("bob", "feed"),
        Ok(vec![("i6".into(), "six".into())])
    );
}

#[test]
fn answers_hold_what_fits_in_max_reply_bytes() {
    let world = World::with_limits(PubsubLimits {
        max_reply_bytes: 400,
        ..PubsubLimits::default()
    });
    world.set("alice", create("big", &[])).ok();
    let text = "x".repeat(60);
    for i in 1..=5 {
        world
            .set("alice", publish("big", &format!("i{i}"), &text))
            .ok();
    }
    // Each item takes a little under 200 bytes: the two newest fit.
    let items = world.items("bob", "big").unwrap();
    assert_eq!(
        items.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(),
        ["i4", "i5"]
    );
    // Lists are cut too.
    for i in 0..20 {
        world.set("alice", create(&format!("node-{i}"), &[])).ok();
    }
    let listed = DiscoItems::parse(
        world
            .get("bob", DiscoItems::request(None).to_element())
            .ok()
            .unwrap(),
    )
    .unwrap()
    .items
    .len();
    assert!((1..21).contains(&listed), "{listed}");
}

#[test]
fn retract_notifies_only_when_asked() {
    let world = world_with_node("news", &[]);
    world.set("bob", subscribe("news", bare("bob").into())).ok();
    world.set("alice", publish("news", "a", "1")).ok();
    world.set("alice", publish("news", "b", "2")).ok();
    let quiet = world.set("alice", PubSub::retract("news", "a").to_element());
    quiet.ok();
    assert!(quiet.messages.is_empty());
    let loud = world.set(
        "alice",
        PubSub::Retract {
            node: "news".into(),
            notify: true,
            ids: vec!["b".into()],
        }
        .to_element(),
    );
    loud.ok();
    assert_eq!(
        loud.events(),
        vec![(
            Jid::from(bare("bob")),
            MessageType::Headline,
            Event::Items {
                node: "news".into(),
                items: Vec::new(),
                retracts: vec!["b".into()],
            }
        )]
    );
    assert!(world.stored_ids(SERVICE, "news").is_empty());
    assert_eq!(
        world
            .set("alice", PubSub::retract("news", "b").to_element())
            .error(),
        expect(DefinedCondition::ItemNotFound, None)
    );
    let empty = PubSub::Retract {
        node: "news".into(),
        notify: false,
        ids: Vec::new(),
    };
    assert_eq!(
        world.set("alice", empty.to_element()).error(),
        expect(DefinedCondition::BadRequest, Some("item-required"))
    );
    assert_eq!(
        world
            .set("bob", PubSub::retract("news", "a").to_element())
            .error(),
        expect(DefinedCondition::Forbidden, None)
    );
}

#[test]
fn delete_and_purge_notify_subscribers() {
    let world = world_with_node("news", &[]);
    world.set("bob", subscribe("news", bare("bob").into())).ok();
    world.set("alice", publish("news", "a", "1")).ok();
    let purged = world.set("alice", PubSubOwner::purge("news").to_element());
    purged.ok();
    assert_eq!(
        purged.events(),
        vec![(
            Jid::from(bare("bob")),
            MessageType::Headline,
            Event::Purge {
                node: "news".into()
            }
        )]
    );
    assert_eq!(world.items("bob", "news"), Ok(Vec::new()));
    world.set("alice", publish("news", "b", "2")).ok();

    assert_eq!(
        world
            .set("bob", PubSubOwner::delete("news").to_element())
            .error(),
        expect(DefinedCondition::Forbidden, None)
    );
    let deleted = world.set("alice", PubSubOwner::delete("news").to_element());
    deleted.ok();
    assert_eq!(
        deleted.events(),
        vec![(
            Jid::from(bare("bob")),
            MessageType::Headline,
            Event::Delete {
                node: "news".into(),
                redirect: None
            }
        )]
    );
    assert_eq!(
        world.items("bob", "news"),
        Err(expect(DefinedCondition::ItemNotFound, None))
    );
    assert!(world.store.nodes().unwrap().is_empty());
    assert!(world.store.items(SERVICE, "news").unwrap().is_empty());
    assert!(
        world
            .store
            .subscriptions(SERVICE, "news")
            .unwrap()
            .is_empty()
    );
    assert!(world.pubsub.snapshot().is_empty());
    // The name is free again.
    world.set("alice", create("news", &[])).ok();
}

#[test]
fn pep_nodes_are_created_on_publish_and_belong_to_the_account() {
    let mut world = World::new();
    world.contact("bob", "alice");
    let alice = bare("alice");
    let service = alice.as_str();
    const TUNE: &str = "http://jabber.org/protocol/tune";
    let tune = PubSub::publish(TUNE, Item::new(entry("Finzi")).with_id("current")).to_element();
    // The first publish creates the node; the account is notified.
    let first = world.send("alice", service, true, tune.clone());
    first.ok();
    assert_eq!(first.recipients(), vec![Jid::from(alice.clone())]);
    let (node, _) = world.pubsub.snapshot().into_iter().next().unwrap();
    assert_eq!(node, (service.to_owned(), TUNE.to_owned()));
    let config = world.send(
        "alice",
        service,
        false,
        PubSubOwner::configure(TUNE).to_element(),
    );
    let PubSubOwner::Configure {
        form: Some(config_form),
        ..
    } = PubSubOwner::parse(config.ok().unwrap()).unwrap()
    else {
        panic!("a configuration form");
    };
    let config = DataForm::parse(&config_form).unwrap();
    assert_eq!(
        config.field("pubsub#access_model").and_then(Field::value),
        Some("presence")
    );
    // A contact subscribes; a stranger may not.
    world
        .send("bob", service, true, subscribe(TUNE, bare("bob").into()))
        .ok();
    assert_eq!(
        world
            .send(
                "carol",
                service,
                true,
                subscribe(TUNE, bare("carol").into())
            )
            .error(),
        expect(
            DefinedCondition::NotAuthorized,
            Some("presence-subscription-required")
        )
    );
    assert_eq!(
        world.items_at("bob", service, PubSub::items(TUNE)),
        Ok(vec![("current".into(), "Finzi".into())])
    );
    // Only the account publishes, creates, configures, deletes.
    for request in [
        tune.clone(),
        create("other", &[]),
        configure(TUNE, &[("pubsub#access_model", "open")]),
        PubSubOwner::delete(TUNE).to_element(),
        PubSub::retract(TUNE, "current").to_element(),
    ] {
        assert_eq!(
            world.send("bob", service, true, request).error(),
            expect(DefinedCondition::Forbidden, None)
        );
    }
    // Notifications: the subscriber and the account.
    let second = world.send("alice", service, true, tune);
    assert_eq!(
        second.recipients(),
        vec![Jid::from(alice.clone()), Jid::from(bare("bob"))]
    );
    // Publish-options configure a node being created, and are
    // preconditions on an existing one.
    let open = |node: &str| PubSub::Publish {
        node: node.to_owned(),
        items: vec![Item::new(entry("x"))],
        publish_options: Some(form(
            config::PUBLISH_OPTIONS,
            &[("pubsub#access_model", "open")],
        )),
    };
    world
        .send("alice", service, true, open("urn:open").to_element())
        .ok();
    world
        .send(
            "carol",
            service,
            true,
            subscribe("urn:open", bare("carol").into()),
        )
        .ok();
    assert_eq!(
        world
            .send("alice", service, true, open(TUNE).to_element())
            .error(),
        expect(DefinedCondition::Conflict, Some("precondition-not-met"))
    );
    // The account stays the one owner and publisher.
    for (user, affiliation) in [
        ("bob", Affiliation::Publisher),
        ("bob", Affiliation::Owner),
        ("alice", Affiliation::None),
    ] {
        assert_eq!(
            world
                .send(
                    "alice",
                    service,
                    true,
                    affiliate(TUNE, &[(user, affiliation)])
                )
                .error(),
            expect(DefinedCondition::NotAcceptable, None)
        );
    }
    world
        .send(
            "alice",
            service,
            true,
            affiliate(TUNE, &[("carol", Affiliation::Member)]),
        )
        .ok();
    // PEP discovery is the account's, answered by the hub.
    assert_eq!(
        world
            .send("bob", service, false, DiscoInfo::request(None).to_element())
            .error(),
        expect(DefinedCondition::ServiceUnavailable, None)
    );
}

#[test]
fn limits_are_errors_and_change_nothing() {
    let world = World::with_limits(PubsubLimits {
        max_nodes: 3,
        max_nodes_per_owner: 2,
        max_items: 5,
        max_payload_bytes: 100,
        max_subscriptions: 2,
        max_affiliations: 3,
        ..PubsubLimits::default()
    });
    let full = expect(DefinedCondition::NotAllowed, Some("max-nodes-exceeded"));
    world.set("alice", create("a1", &[])).ok();
    world.set("alice", create("a2", &[])).ok();
    let before = world.pubsub.snapshot();
    assert_eq!(world.set("alice", create("a3", &[])).error(), full);
    assert_eq!(
        world
            .set("alice", PubSub::create(None).to_element())
            .error(),
        full
    );
    world.set("bob", create("b1", &[])).ok();
    assert_eq!(world.set("carol", create("c1", &[])).error(), full);
    // PEP: per account.
    let pep = bare("carol");
    for node in ["p1", "p2"] {
        world
            .send("carol", pep.as_str(), true, publish(node, "1", "x"))
            .ok();
    }
    assert_eq!(
        world
            .send("carol", pep.as_str(), true, publish("p3", "1", "x"))
            .error(),
        full
    );

    let big = "x".repeat(100);
    assert_eq!(
        world.set("alice", publish("a1", "big", &big)).error(),
        expect(DefinedCondition::NotAcceptable, Some("payload-too-big"))
    );
    assert_eq!(
        world
            .set("alice", configure("a1", &[("pubsub#max_items", "6")]))
            .error(),
        expect(DefinedCondition::NotAcceptable, None)
    );
    world
        .set("alice", configure("a1", &[("pubsub#max_items", "max")]))
        .ok();
    world.set("bob", subscribe("a1", bare("bob").into())).ok();
    world
        .set("carol", subscribe("a1", bare("carol").into()))
        .ok();
    assert_eq!(
        world
            .set("dave", subscribe("a1", bare("dave").into()))
            .error(),
        expect(
            DefinedCondition::PolicyViolation,
            Some("too-many-subscriptions")
        )
    );
    world
        .set(
            "alice",
            affiliate(
                "a2",
                &[("bob", Affiliation::Member), ("carol", Affiliation::Member)],
            ),
        )
        .ok();
    assert_eq!(
        world
            .set("alice", affiliate("a2", &[("dave", Affiliation::Member)]))
            .error(),
        expect(DefinedCondition::ResourceConstraint, None)
    );
    let names = |snapshot: &BTreeMap<NodeKey, Node>| snapshot.keys().cloned().collect::<Vec<_>>();
    let after = world.pubsub.snapshot();
    assert_eq!(
        names(&after),
        [
            names(&before),
            vec![
                (bare("carol").to_string(), "p1".into()),
                (bare("carol").to_string(), "p2".into()),
                (SERVICE.into(), "b1".into())
            ]
        ]
        .concat()
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>()
    );
    assert_eq!(
        after[&(SERVICE.to_owned(), "a1".to_owned())]
            .subscriptions
            .len(),
        2
    );
    assert_eq!(
        after[&(SERVICE.to_owned(), "a2".to_owned())]
            .affiliations
            .len(),
        3
    );
    assert!(world.store.items(SERVICE, "a1").unwrap().is_empty());
}

#[test]
fn requests_get_the_errors_of_xep_0060() {
    let world = world_with_node("news", &[]);
    let cases: Vec<(&str, bool, Element, Refusal)> = vec![
        // 6.1.3.1: the JID must be the requester's.
        (
            "bob",
            true,
            subscribe("news", bare("carol").into()),
            expect(DefinedCondition::BadRequest, Some("invalid-jid")),
        ),
        (
            "bob",
            true,
            PubSub::Subscribe {
                node: None,
                jid: bare("bob").into(),
                options: None,
            }
            .to_element(),
            expect(DefinedCondition::BadRequest, Some("nodeid-required")),
        ),
        (
            "bob",
            true,
            PubSub::Subscribe {
                node: Some("news".into()),
                jid: bare("bob").into(),
                options: Some(form(
                    "http://jabber.org/protocol/pubsub#subscribe_options",
                    &[],
                )),
            }
            .to_element(),
            expect(DefinedCondition::FeatureNotImplemented, Some("unsupported")),
        ),
        (
            "bob",
            true,
            subscribe("nothing", bare("bob").into()),
            expect(DefinedCondition::ItemNotFound, None),
        ),
        (
            "bob",
            true,
            PubSub::unsubscribe("news", bare("bob").into()).to_element(),
            expect(DefinedCondition::UnexpectedRequest, Some("not-subscribed")),
        ),
        (
            "bob",
            true,
            PubSub::unsubscribe("news", bare("carol").into()).to_element(),
            expect(DefinedCondition::BadRequest, Some("invalid-jid")),
        ),
        (
            "alice",
            true,
            create("news", &[]),
            expect(DefinedCondition::Conflict, None),
        ),
        (
            "alice",
            true,
            create("new", &[("pubsub#access_model", "authorize")]),
            expect(
                DefinedCondition::NotAcceptable,
                Some("unsupported-access-model"),
            ),
        ),
        (
            "alice",
            true,
            PubSub::Publish {
                node: "news".into(),
                items: vec![Item::new(entry("1")), Item::new(entry("2"))],
                publish_options: None,
            }
            .to_element(),
            expect(DefinedCondition::BadRequest, Some("invalid-payload")),
        ),
        (
            "alice",
            true,
            PubSub::publish("news", Item::with_id_only("empty")).to_element(),
            expect(DefinedCondition::BadRequest, Some("payload-required")),
        ),
        (
            "alice",
            true,
            PubSub::Publish {
                node: "news".into(),
                items: Vec::new(),
                publish_options: None,
            }
            .to_element(),
            expect(DefinedCondition::BadRequest, Some("item-required")),
        ),
        (
            "alice",
            false,
            PubSubOwner::Configure {
                node: None,
                form: None,
            }
            .to_element(),
            expect(DefinedCondition::BadRequest, Some("nodeid-required")),
        ),
        (
            "alice",
            true,
            affiliate("news", &[("alice", Affiliation::None)]),
            expect(DefinedCondition::NotAcceptable, None),
        ),
        (
            "alice",
            true,
            affiliate("news", &[("bob", Affiliation::PublishOnly)]),
            expect(DefinedCondition::FeatureNotImplemented, Some("unsupported")),
        ),
        (
            "bob",
            false,
            PubSub::Options {
                node: Some("news".into()),
                jid: bare("bob").into(),
                subid: None,
                form: None,
            }
            .to_element(),
            expect(DefinedCondition::FeatureNotImplemented, Some("unsupported")),
        ),
        // A request of the wrong type.
        (
            "alice",
            false,
            publish("news", "x", "y"),
            expect(DefinedCondition::BadRequest, None),
        ),
        (
            "alice",
            true,
            PubSub::items("news").to_element(),
            expect(DefinedCondition::BadRequest, None),
        ),
        // Not pubsub, not disco.
        (
            "alice",
            false,
            Element::bare("query", "jabber:iq:version"),
            expect(DefinedCondition::ServiceUnavailable, None),
        ),
        (
            "alice",
            true,
            Element::bare("pubsub", crate::ext::pubsub::NS),
            expect(DefinedCondition::BadRequest, None),
        ),
    ];
    let before = world.pubsub.snapshot();
    for (user, set, payload, expected) in cases {
        let text = String::from(&payload);
        assert_eq!(
            world.send(user, SERVICE, set, payload).error(),
            expected,
            "{text}"
        );
    }
    assert_eq!(world.pubsub.snapshot(), before);

    // Unsubscribing with the wrong subid, then the right one.
    let answer = world.set("bob", subscribe("news", bare("bob").into()));
    let PubSub::Subscription(subscription) = PubSub::parse(answer.ok().unwrap()).unwrap() else {
        panic!("a subscription");
    };
    assert_eq!(subscription.state, Some(SubscriptionState::Subscribed));
    // Subscribing again gives the same subscription.
    let again = world.set("bob", subscribe("news", bare("bob").into()));
    assert_eq!(
        PubSub::parse(again.ok().unwrap()).unwrap(),
        PubSub::Subscription(subscription.clone())
    );
    let wrong = PubSub::Unsubscribe {
        node: Some("news".into()),
        jid: bare("bob").into(),
        subid: Some("wrong".into()),
    };
    assert_eq!(
        world.set("bob", wrong.to_element()).error(),
        expect(DefinedCondition::NotAcceptable, Some("invalid-subid"))
    );
    let right = PubSub::Unsubscribe {
        node: Some("news".into()),
        jid: bare("bob").into(),
        subid: subscription.subid,
    };
    world.set("bob", right.to_element()).ok();
    assert!(
        world
            .store
            .subscriptions(SERVICE, "news")
            .unwrap()
            .is_empty()
    );

    // An answer is never answered.
    let result = Iq {
        to: Some(jid(SERVICE)),
        from: Some(full("bob").into()),
        id: "r".into(),
        kind: IqKind::Result(None),
        lang: None,
        other_attrs: Default::default(),
    };
    assert!(
        world
            .pubsub
            .handle_iq(&jid(SERVICE), &result, &world.contacts)
            .is_empty()
    );
}

#[test]
fn instant_nodes_and_the_requesters_own_lists() {
    let world = World::new();
    let answer = world.set("alice", PubSub::create(None).to_element());
    let PubSub::Create {
        node: Some(name), ..
    } = PubSub::parse(answer.ok().unwrap()).unwrap()
    else {
        panic!("the instant node's name");
    };
    world.set("alice", create("named", &[])).ok();
    world
        .set("bob", subscribe("named", full("bob").into()))
        .ok();
    world.set("bob", subscribe(&name, bare("bob").into())).ok();

    let PubSub::Subscriptions { subscriptions, .. } = PubSub::parse(
        world
            .get(
                "bob",
                PubSub::Subscriptions {
                    node: None,
                    subscriptions: Vec::new(),
                }
                .to_element(),
            )
            .ok()
            .unwrap(),
    )
    .unwrap() else {
        panic!("subscriptions");
    };
    let mut mine: Vec<(String, Jid)> = subscriptions
        .into_iter()
        .map(|s| (s.node.unwrap(), s.jid))
        .collect();
    mine.sort();
    let mut expected = vec![
        (name.clone(), Jid::from(bare("bob"))),
        ("named".to_owned(), Jid::from(full("bob"))),
    ];
    expected.sort();
    assert_eq!(mine, expected);

    let PubSub::Affiliations { affiliations, .. } = PubSub::parse(
        world
            .get(
                "alice",
                PubSub::Affiliations {
                    node: None,
                    affiliations: Vec::new(),
                }
                .to_element(),
            )
            .ok()
            .unwrap(),
    )
    .unwrap() else {
        panic!("affiliations");
    };
    assert_eq!(affiliations.len(), 2);
    assert!(
        affiliations
            .iter()
            .all(|a| a.affiliation == Affiliation::Owner)
    );
}

#[test]
fn owners_manage_affiliations_and_subscriptions() {
    let world = world_with_node("news", &[]);
    let PubSubOwner::Affiliations { affiliations, .. } = PubSubOwner::parse(
        world
            .get(
                "alice",
                PubSubOwner::Affiliations {
                    node: "news".into(),
                    affiliations: Vec::new(),
                }
                .to_element(),
            )
            .ok()
            .unwrap(),
    )
    .unwrap() else {
        panic!("affiliations");
    };
    assert_eq!(
        affiliations,
        vec![
            EntityAffiliation {
                jid: bare("alice").into(),
                affiliation: Affiliation::Owner
            },
            EntityAffiliation {
                jid: bare("dave").into(),
                affiliation: Affiliation::Member
            },
            EntityAffiliation {
                jid: bare("eve").into(),
                affiliation: Affiliation::Outcast
            },
        ]
    );
    // A second owner may do what the first does.
    world
        .set("alice", affiliate("news", &[("bob", Affiliation::Owner)]))
        .ok();
    world
        .set("bob", configure("news", &[("pubsub#title", "Bob's too")]))
        .ok();

    let entries = |list: &[(&str, SubscriptionState)]| PubSubOwner::Subscriptions {
        node: "news".into(),
        subscriptions: list
            .iter()
            .map(|(user, state)| Subscription {
                node: None,
                jid: bare(user).into(),
                subid: None,
                state: Some(*state),
                options: None,
            })
            .collect(),
    };
    world
        .set(
            "alice",
            entries(&[
                ("carol", SubscriptionState::Subscribed),
                ("dave", SubscriptionState::Subscribed),
            ])
            .to_element(),
        )
        .ok();
    world
        .set(
            "alice",
            entries(&[("dave", SubscriptionState::None)]).to_element(),
        )
        .ok();
    assert_eq!(
        world
            .set(
                "alice",
                entries(&[("dave", SubscriptionState::Pending)]).to_element()
            )
            .error(),
        expect(DefinedCondition::NotAcceptable, None)
    );
    let PubSubOwner::Subscriptions { subscriptions, .. } =
        PubSubOwner::parse(world.get("alice", entries(&[]).to_element()).ok().unwrap()).unwrap()
    else {
        panic!("subscriptions");
    };
    assert_eq!(
        subscriptions
            .iter()
            .map(|s| s.jid.clone())
            .collect::<Vec<_>>(),
        vec![Jid::from(bare("carol"))]
    );
    assert_eq!(
        world.get("carol", entries(&[]).to_element()).error(),
        expect(DefinedCondition::Forbidden, None)
    );
    // The default configuration form.
    let default = world.get("carol", PubSubOwner::Default { form: None }.to_element());
    assert!(matches!(
        PubSubOwner::parse(default.ok().unwrap()).unwrap(),
        PubSubOwner::Default { form: Some(_) }
    ));
}

#[test]
fn discovery_of_the_service_its_nodes_and_items() {
    let world = world_with_node(
        "club",
        &[
            ("pubsub#access_model", "whitelist"),
            ("pubsub#title", "Club"),
        ],
    );
    world.set("alice", create("open", &[])).ok();
    world.set("alice", publish("open", "i1", "x")).ok();
    let info = DiscoInfo::parse(
        world
            .get("carol", DiscoInfo::request(None).to_element())
            .ok()
            .unwrap(),
    )
    .unwrap();
    assert!(info.has_identity("pubsub", "service"));
    for feature in FEATURES {
        assert!(
            info.has_feature(&crate::ext::pubsub::feature(feature)),
            "{feature}"
        );
    }
    let node_info = DiscoInfo::parse(
        world
            .get("carol", DiscoInfo::request(Some("club")).to_element())
            .ok()
            .unwrap(),
    )
    .unwrap();
    assert!(node_info.has_identity("pubsub", "leaf"));
    let meta = node_info.extension(META_DATA).unwrap();
    assert_eq!(
        meta.field("pubsub#title").and_then(Field::value),
        Some("Club")
    );
    assert_eq!(
        meta.field("pubsub#owner").map(|f| f.values.clone()),
        Some(vec![bare("alice").to_string()])
    );
    // Nodes the requester may access; items of a node.
    let nodes = |who: &str| {
        DiscoItems::parse(
            world
                .get(who, DiscoItems::request(None).to_element())
                .ok()
                .unwrap(),
        )
        .unwrap()
        .items
        .into_iter()
        .map(|i| i.node.unwrap())
        .collect::<Vec<_>>()
    };
    assert_eq!(nodes("carol"), ["open"]);
    assert_eq!(nodes("dave"), ["club", "open"]);
    let items = DiscoItems::parse(
        world
            .get("carol", DiscoItems::request(Some("open")).to_element())
            .ok()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(items.items[0].name.as_deref(), Some("i1"));
    assert_eq!(
        world
            .get("carol", DiscoItems::request(Some("club")).to_element())
            .error(),
        expect(DefinedCondition::NotAllowed, Some("closed-node"))
    );
    world.get("carol", Ping.to_element()).ok();
}

#[test]
fn reloading_from_the_store_gives_the_same_service() {
    let mut world = world_with_node(
        "news",
        &[("pubsub#title", "The news"), ("pubsub#max_items", "2")],
    );
    world.contact("bob", "alice");
    world
        .set(
            "alice",
            create("club", &[("pubsub#access_model", "whitelist")]),
        )
        .ok();
    world.set("bob", subscribe("news", bare("bob").into())).ok();
    world
        .set("carol", subscribe("news", full("carol").into()))
        .ok();
    for i in 1..=3 {
        world
            .set("alice", publish("news", &format!("n{i}"), "text"))
            .ok();
    }
    world
        .send(
            "alice",
            bare("alice").as_str(),
            true,
            publish("urn:pep", "current", "pep"),
        )
        .ok();
    world
        .send(
            "bob",
            bare("alice").as_str(),
            true,
            subscribe("urn:pep", bare("bob").into()),
        )
        .ok();
    let snapshot = world.pubsub.snapshot();
    assert_eq!(snapshot.len(), 3);

    let mut again = World::on(Arc::clone(&world.store), PubsubLimits::default());
    again.contact("bob", "alice");
    assert_eq!(again.pubsub.snapshot(), snapshot);
    assert_eq!(
        again.items("bob", "news").unwrap(),
        world.items("bob", "news").unwrap()
    );
    // The reloaded service goes on: the old subscribers are notified.
    let published = again.set("alice", publish("news", "n4", "more"));
    assert_eq!(
        published.recipients(),
        vec![Jid::from(bare("bob")), Jid::from(full("carol"))]
    );
    let pep = again.send(
        "alice",
        bare("alice").as_str(),
        true,
        publish("urn:pep", "current", "again"),
    );
    assert_eq!(
        pep.recipients(),
        vec![Jid::from(bare("alice")), Jid::from(bare("bob"))]
    );
    // A store holding something this service did not write.
    let store = MemoryStore::new();
    store
        .put_node(&StoredNode {
            service: SERVICE.into(),
            node: "odd".into(),
            config: "<unknown/>".into(),
        })
        .unwrap();
    assert!(matches!(
        Pubsub::load(Arc::new(store), PubsubLimits::default()),
        Err(StoreError::Corrupt(_))
    ));
}

/// A [`MemoryStore`] whose pubsub writes fail while `failing` is set.
#[derive(Default)]
struct FailingStore {
    inner: MemoryStore,
    failing: AtomicBool,
}

impl FailingStore {
    fn check(&self) -> StoreResult<()> {
        if self.failing.load(Ordering::SeqCst) {
            Err(StoreError::Backend("the disk is gone".into()))
        } else {
            Ok(())
        }
    }
}

impl Store for FailingStore {
    fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        self.inner.meta(key)
    }
    fn set_meta(&self, key: &str, value: &str) -> StoreResult<()> {
        self.inner.set_meta(key, value)
    }
    fn put_account(&self, user: &BareJid, verifiers: &[ScramCredentials]) -> StoreResult<()> {
        self.inner.put_account(user, verifiers)
    }
    fn account(&self, user: &BareJid) -> StoreResult<Option<Vec<ScramCredentials>>> {
        self.inner.account(user)
    }
    fn remove_account(&self, user: &BareJid) -> StoreResult<bool> {
        self.inner.remove_account(user)
    }
    fn account_count(&self) -> StoreResult<usize> {
        self.inner.account_count()
    }
    fn put_roster(&self, user: &BareJid, roster: &str) -> StoreResult<()> {
        self.inner.put_roster(user, roster)
    }
    fn remove_roster(&self, user: &BareJid) -> StoreResult<()> {
        self.inner.remove_roster(user)
    }
    fn rosters(&self) -> StoreResult<Vec<(BareJid, String)>> {
        self.inner.rosters()
    }
    fn spool(
        &self,
        user: &BareJid,
        stanza: &str,
        stamp_ms: u64,
        limit: usize,
        sender: Option<&StoredSession>,
    ) -> StoreResult<u64> {
        self.inner.spool(user, stanza, stamp_ms, limit, sender)
    }
    fn spool_sent(&self, id: u64, session: &StoredSession, seq: u32) -> StoreResult<()> {
        self.inner.spool_sent(id, session, seq)
    }
    fn spool_remove(&self, id: u64) -> StoreResult<()> {
        self.inner.spool_remove(id)
    }
    fn spool_acked(&self, session: &str, h: u32) -> StoreResult<()> {
        self.inner.spool_acked(session, h)
    }
    fn spool_release(&self, session: &str) -> StoreResult<()> {
        self.inner.spool_release(session)
    }
    fn spooled(&self, user: &BareJid) -> StoreResult<Vec<Spooled>> {
        self.inner.spooled(user)
    }
    fn spool_count(&self, user: &BareJid) -> StoreResult<usize> {
        self.inner.spool_count(user)
    }
    fn put_session(&self, session: &StoredSession) -> StoreResult<()> {
        self.inner.put_session(session)
    }
    fn remove_session(&self, id: &str) -> StoreResult<()> {
        self.inner.remove_session(id)
    }
    fn sessions(&self) -> StoreResult<Vec<StoredSession>> {
        self.inner.sessions()
    }
    fn put_node(&self, node: &StoredNode) -> StoreResult<()> {
        self.check()?;
        self.inner.put_node(node)
    }
    fn remove_node(&self, service: &str, node: &str) -> StoreResult<bool> {
        self.check()?;
        self.inner.remove_node(service, node)
    }
    fn nodes(&self) -> StoreResult<Vec<StoredNode>> {
        self.inner.nodes()
    }
    fn put_item(&self, item: &StoredItem, max_items: usize) -> StoreResult<()> {
        self.check()?;
        self.inner.put_item(item, max_items)
    }
    fn remove_item(&self, service: &str, node: &str, id: &str) -> StoreResult<bool> {
        self.check()?;
        self.inner.remove_item(service, node, id)
    }
    fn purge_items(&self, service: &str, node: &str) -> StoreResult<()> {
        self.check()?;
        self.inner.purge_items(service, node)
    }
    fn items(&self, service: &str, node: &str) -> StoreResult<Vec<StoredItem>> {
        self.inner.items(service, node)
    }
    fn put_subscription(&self, subscription: &StoredSubscription) -> StoreResult<()> {
        self.check()?;
        self.inner.put_subscription(subscription)
    }
    fn remove_subscription(
        &self,
        service: &str,
        node: &str,
        jid: &str,
        subid: Option<&str>,
    ) -> StoreResult<usize> {
        self.check()?;
        self.inner.remove_subscription(service, node, jid, subid)
    }
    fn subscriptions(&self, service: &str, node: &str) -> StoreResult<Vec<StoredSubscription>> {
        self.inner.subscriptions(service, node)
    }
}

#[test]
fn a_store_failure_answers_wait_and_changes_nothing() {
    let store = Arc::new(FailingStore::default());
    let world = World::on(store.clone(), PubsubLimits::default());
    world.set("alice", create("news", &[])).ok();
    world.set("alice", publish("news", "a", "1")).ok();
    world.set("bob", subscribe("news", bare("bob").into())).ok();
    let memory = world.pubsub.snapshot();
    let stored = || {
        (
            store.nodes().unwrap(),
            store.items(SERVICE, "news").unwrap(),
            store.subscriptions(SERVICE, "news").unwrap(),
        )
    };
    let on_disk = stored();
    store.failing.store(true, Ordering::SeqCst);
    for (user, payload) in [
        ("alice", create("other", &[])),
        ("alice", PubSub::create(None).to_element()),
        ("alice", configure("news", &[("pubsub#max_items", "1")])),
        ("alice", publish("news", "b", "2")),
        ("alice", PubSub::retract("news", "a").to_element()),
        ("alice", PubSubOwner::purge("news").to_element()),
        ("alice", PubSubOwner::delete("news").to_element()),
        ("alice", affiliate("news", &[("bob", Affiliation::Outcast)])),
        ("carol", subscribe("news", bare("carol").into())),
        (
            "bob",
            PubSub::unsubscribe("news", bare("bob").into()).to_element(),
        ),
    ] {
        let text = String::from(&payload);
        let answer = world.set(user, payload);
        let Err(error) = &answer.reply else {
            panic!("{text} succeeded");
        };
        assert_eq!(
            error.condition,
            DefinedCondition::InternalServerError,
            "{text}"
        );
        assert_eq!(error.error_type, ErrorType::Wait, "{text}");
        assert!(answer.messages.is_empty(), "{text}");
        assert_eq!(world.pubsub.snapshot(), memory, "{text}");
        assert_eq!(stored(), on_disk, "{text}");
    }
    // PEP auto-creation too.
    let answer = world.send(
        "alice",
        bare("alice").as_str(),
        true,
        publish("urn:pep", "1", "x"),
    );
    assert_eq!(answer.error().0, DefinedCondition::InternalServerError);
    assert_eq!(world.pubsub.snapshot(), memory);
    // Reads go on.
    assert_eq!(world.items("bob", "news").unwrap().len(), 1);
    store.failing.store(false, Ordering::SeqCst);
    world.set("alice", publish("news", "b", "2")).ok();
}
