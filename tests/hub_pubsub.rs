//! The hub's publish-subscribe service (XEP-0060) and PEP (XEP-0163) with
//! our clients over real TLS on loopback: access models, notifications to
//! every online subscriber, max_items, retract and delete notifications,
//! PEP, and nodes, items and subscriptions surviving a restart of the hub
//! on the same store.
//!
//! Offline delivery of `normal` notifications depends on the hub's offline
//! storage and is not tested here.
#![cfg(feature = "hub")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use minidom::Element;
use xmpp_kit::ext::Payload as _;
use xmpp_kit::ext::data_forms::{DataForm, Field, FieldType, FormType};
use xmpp_kit::ext::disco::{DiscoInfo, DiscoItems};
use xmpp_kit::ext::ping::Ping;
use xmpp_kit::ext::pubsub::{
    Affiliation, EntityAffiliation, Event, Item, PubSub, PubSubOwner, SubscriptionState,
};
use xmpp_kit::hub::Hub;
use xmpp_kit::hub::store::{MemoryStore, Store};
use xmpp_kit::jid::{BareJid, Jid};
use xmpp_kit::rt::Roots;
use xmpp_kit::rt::client::{Client, ClientBuilder, ClientError, ClientEvent};
use xmpp_kit::stanza::{
    DefinedCondition, Iq, Message, MessageType, Presence, PresenceType, Stanza,
};

const DOMAIN: &str = "hub.test";
const PUBSUB: &str = "pubsub.hub.test";
const PASSWORD: &str = "hub-pubsub-pw";
const WAIT: Duration = Duration::from_secs(10);
const USERS: &[&str] = &["alice", "bob", "carol"];
const NODE_CONFIG: &str = "http://jabber.org/protocol/pubsub#node_config";

async fn start_hub(store: Arc<dyn Store>) -> Hub {
    let mut builder = Hub::builder(DOMAIN).listen("127.0.0.1:0").store(store);
    for user in USERS {
        builder = builder.user(&format!("{user}@{DOMAIN}"), PASSWORD);
    }
    builder.start().await.expect("the hub starts")
}

fn builder(hub: &Hub, user: &str) -> ClientBuilder {
    ClientBuilder::new(&format!("{user}@{DOMAIN}"), PASSWORD)
        .server(&hub.c2s_addr().unwrap().to_string())
        .roots(Roots::ExtraOnly)
        .ca_pem(hub.ca_pem().unwrap().as_bytes().to_vec())
        .request_timeout(WAIT)
}

/// Logged in, with initial presence sent and handled.
async fn online(hub: &Hub, user: &str) -> Client {
    let client = tokio::time::timeout(WAIT, builder(hub, user).connect())
        .await
        .expect("login in time")
        .unwrap_or_else(|e| panic!("{user} could not log in: {e}"));
    client.send(Presence::available()).await.unwrap();
    settle(&client).await;
    client
}

/// A round trip to the server: what the client sent before is handled.
async fn settle(client: &Client) {
    client
        .request(Iq::get(Some(jid(DOMAIN)), Ping.to_element()))
        .await
        .unwrap();
}

fn jid(s: &str) -> Jid {
    s.parse().unwrap()
}

fn bare(user: &str) -> BareJid {
    format!("{user}@{DOMAIN}").parse().unwrap()
}

/// The next stanza `pick` accepts (others are dropped).
async fn next_where<T>(
    client: &mut Client,
    what: &str,
    mut pick: impl FnMut(&Stanza) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, client.next()).await {
            Err(_) => panic!("no {what} in time"),
            Ok(Some(ClientEvent::Stanza(stanza))) => {
                if let Some(found) = pick(&stanza) {
                    return found;
                }
            }
            Ok(Some(ClientEvent::Disconnected { error, .. })) => {
                panic!("disconnected while waiting for {what}: {error}")
            }
            Ok(Some(_)) => {}
            Ok(None) => panic!("client ended while waiting for {what}"),
        }
    }
}

/// The next pubsub notification.
async fn next_event(client: &mut Client, what: &str) -> (Message, Event) {
    next_where(client, what, |stanza| match stanza {
        Stanza::Message(m) => m
            .payload::<Event>()
            .and_then(Result::ok)
            .map(|event| (m.clone(), event)),
        _ => None,
    })
    .await
}

/// `subscriber` gets a presence subscription to `owner` (both online).
async fn share_presence(subscriber: &mut Client, owner: &mut Client) {
    let owner_jid = subscriber_of(owner);
    let subscriber_jid = subscriber_of(subscriber);
    subscriber
        .send(Presence::subscribe(owner_jid.clone().into()))
        .await
        .unwrap();
    next_where(owner, "the subscription request", |s| {
        presence_from(s, PresenceType::Subscribe, &subscriber_jid)
    })
    .await;
    owner
        .send(Presence::subscribed(subscriber_jid.into()))
        .await
        .unwrap();
    next_where(subscriber, "the approval", |s| {
        presence_from(s, PresenceType::Subscribed, &owner_jid)
    })
    .await;
}

fn subscriber_of(client: &Client) -> BareJid {
    client.jid().to_bare()
}

fn presence_from(stanza: &Stanza, kind: PresenceType, from: &BareJid) -> Option<()> {
    let Stanza::Presence(p) = stanza else {
        return None;
    };
    (p.kind == kind && p.from.as_ref()?.to_bare() == *from).then_some(())
}

fn config_form(fields: &[(&str, &str)]) -> Element {
    let mut form = DataForm::with_form_type(FormType::Submit, NODE_CONFIG);
    for (var, value) in fields {
        form = form.with_field(Field::new(*var, FieldType::TextSingle).with_value(*value));
    }
    form.to_element()
}

fn entry(text: &str) -> Element {
    Element::builder("entry", "http://www.w3.org/2005/Atom")
        .append(text)
        .build()
}

/// An iq set to `to` (the pubsub service, an account, or `None`: one's own
/// account) and its answer's payload.
async fn set(
    client: &Client,
    to: Option<&str>,
    payload: Element,
) -> Result<Option<Element>, ClientError> {
    let answer = client.request(Iq::set(to.map(jid), payload)).await?;
    Ok(answer.payload().map(|p| p.as_element().clone()))
}

async fn get(
    client: &Client,
    to: Option<&str>,
    payload: Element,
) -> Result<Option<Element>, ClientError> {
    let answer = client.request(Iq::get(to.map(jid), payload)).await?;
    Ok(answer.payload().map(|p| p.as_element().clone()))
}

async fn create(client: &Client, node: &str, fields: &[(&str, &str)]) {
    let request = PubSub::Create {
        node: Some(node.to_owned()),
        configure: (!fields.is_empty()).then(|| config_form(fields)),
    };
    set(client, Some(PUBSUB), request.to_element())
        .await
        .unwrap_or_else(|e| panic!("creating {node}: {e}"));
}

async fn publish(client: &Client, to: Option<&str>, node: &str, id: &str, text: &str) {
    let request = PubSub::publish(node, Item::new(entry(text)).with_id(id));
    set(client, to, request.to_element())
        .await
        .unwrap_or_else(|e| panic!("publishing {id} to {node}: {e}"));
}

async fn subscribe(client: &Client, to: &str, node: &str) -> Result<(), ClientError> {
    let me = Jid::from(client.jid().to_bare());
    let answer = set(client, Some(to), PubSub::subscribe(node, me).to_element()).await?;
    let PubSub::Subscription(subscription) = PubSub::parse(&answer.unwrap()).unwrap() else {
        panic!("not a subscription");
    };
    assert_eq!(subscription.state, Some(SubscriptionState::Subscribed));
    Ok(())
}

/// The ids and payload texts of a node's items, as `client` sees them.
async fn items(
    client: &Client,
    to: &str,
    request: PubSub,
) -> Result<Vec<(String, String)>, ClientError> {
    let answer = get(client, Some(to), request.to_element()).await?;
    let PubSub::Items { items, .. } = PubSub::parse(&answer.unwrap()).unwrap() else {
        panic!("not items");
    };
    Ok(items
        .into_iter()
        .map(|item| {
            (
                item.id.unwrap(),
                item.payload.map(|p| p.text()).unwrap_or_default(),
            )
        })
        .collect())
}

/// The defined condition and the pubsub#errors condition of a refusal.
#[track_caller]
fn refusal<T: std::fmt::Debug>(
    result: Result<T, ClientError>,
) -> (DefinedCondition, Option<String>) {
    match result {
        Err(ClientError::Stanza(error)) => (
            error.condition,
            error.application.as_ref().map(|a| a.name().to_owned()),
        ),
        other => panic!("expected a stanza error, got {other:?}"),
    }
}

fn pubsub_error(
    condition: DefinedCondition,
    application: &str,
) -> (DefinedCondition, Option<String>) {
    (condition, Some(application.to_owned()))
}

#[tokio::test]
async fn access_models_are_enforced_on_subscribe_and_items() {
    let hub = start_hub(Arc::new(MemoryStore::new())).await;
    let mut alice = online(&hub, "alice").await;
    let mut bob = online(&hub, "bob").await;
    let carol = online(&hub, "carol").await;

    // The service is listed by the server and describes itself.
    let listed = get(&carol, Some(DOMAIN), DiscoItems::request(None).to_element())
        .await
        .unwrap()
        .unwrap();
    assert!(
        DiscoItems::parse(&listed)
            .unwrap()
            .items
            .iter()
            .any(|i| i.jid == jid(PUBSUB))
    );
    let info = get(&carol, Some(PUBSUB), DiscoInfo::request(None).to_element())
        .await
        .unwrap()
        .unwrap();
    let info = DiscoInfo::parse(&info).unwrap();
    assert!(info.has_identity("pubsub", "service"));
    assert!(info.has_feature("http://jabber.org/protocol/pubsub#access-whitelist"));

    create(&alice, "open", &[]).await;
    create(&alice, "friends", &[("pubsub#access_model", "presence")]).await;
    create(&alice, "club", &[("pubsub#access_model", "whitelist")]).await;
    publish(&alice, Some(PUBSUB), "friends", "f1", "for friends").await;

    // Open: anyone.
    subscribe(&carol, PUBSUB, "open").await.unwrap();

    // Presence: a stranger is refused, a contact with a presence
    // subscription to the owner is let in.
    let presence_required = pubsub_error(
        DefinedCondition::NotAuthorized,
        "presence-subscription-required",
    );
    assert_eq!(
        refusal(subscribe(&bob, PUBSUB, "friends").await),
        presence_required
    );
    assert_eq!(
        refusal(items(&carol, PUBSUB, PubSub::items("friends")).await),
        presence_required
    );
    share_presence(&mut bob, &mut alice).await;
    subscribe(&bob, PUBSUB, "friends").await.unwrap();
    assert_eq!(
        items(&bob, PUBSUB, PubSub::items("friends")).await.unwrap(),
        [("f1".to_owned(), "for friends".to_owned())]
    );
    assert_eq!(
        refusal(subscribe(&carol, PUBSUB, "friends").await),
        presence_required
    );

    // Whitelist: members only, once the owner makes them so.
    let closed = pubsub_error(DefinedCondition::NotAllowed, "closed-node");
    assert_eq!(refusal(subscribe(&carol, PUBSUB, "club").await), closed);
    assert_eq!(
        refusal(items(&carol, PUBSUB, PubSub::items("club")).await),
        closed
    );
    let member = PubSubOwner::Affiliations {
        node: "club".into(),
        affiliations: vec![EntityAffiliation {
            jid: bare("carol").into(),
            affiliation: Affiliation::Member,
        }],
    };
    // Only an owner sets affiliations.
    assert_eq!(
        refusal(set(&bob, Some(PUBSUB), member.to_element()).await).0,
        DefinedCondition::Forbidden
    );
    set(&alice, Some(PUBSUB), member.to_element())
        .await
        .unwrap();
    subscribe(&carol, PUBSUB, "club").await.unwrap();
    assert_eq!(
        items(&carol, PUBSUB, PubSub::items("club")).await.unwrap(),
        []
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn notifications_with_payload_reach_every_online_subscriber() {
    let hub = start_hub(Arc::new(MemoryStore::new())).await;
    let alice = online(&hub, "alice").await;
    let mut bob1 = online(&hub, "bob").await;
    let mut bob2 = online(&hub, "bob").await;
    let mut carol = online(&hub, "carol").await;
    create(&alice, "news", &[]).await;
    // Bob subscribes his bare JID: each of his resources is notified.
    subscribe(&bob1, PUBSUB, "news").await.unwrap();
    subscribe(&carol, PUBSUB, "news").await.unwrap();

    publish(&alice, Some(PUBSUB), "news", "n1", "Extra! Extra!").await;
    for (client, who) in [
        (&mut bob1, "bob1"),
        (&mut bob2, "bob2"),
        (&mut carol, "carol"),
    ] {
        let (message, event) = next_event(client, &format!("the notification at {who}")).await;
        assert_eq!(message.from, Some(jid(PUBSUB)), "{who}");
        assert_eq!(message.kind, MessageType::Headline, "{who}");
        assert_eq!(
            event,
            Event::Items {
                node: "news".into(),
                items: vec![Item::new(entry("Extra! Extra!")).with_id("n1")],
                retracts: Vec::new(),
            },
            "{who}"
        );
    }
    hub.shutdown().await;
}

/// `pubsub#notification_type` normal: a subscriber with no available
/// resource gets the notification later, as an offline message; headline
/// notifications are for whoever is online.
#[tokio::test]
async fn normal_notifications_wait_for_an_offline_subscriber() {
    let hub = start_hub(Arc::new(MemoryStore::new())).await;
    let alice = online(&hub, "alice").await;
    create(&alice, "alerts", &[("pubsub#notification_type", "normal")]).await;
    create(&alice, "ticker", &[]).await;
    let bob = online(&hub, "bob").await;
    subscribe(&bob, PUBSUB, "alerts").await.unwrap();
    subscribe(&bob, PUBSUB, "ticker").await.unwrap();
    bob.close().await;

    publish(&alice, Some(PUBSUB), "ticker", "t1", "gone by").await;
    publish(&alice, Some(PUBSUB), "alerts", "a1", "Wake up").await;
    let mut bob = online(&hub, "bob").await;
    let (message, event) = next_event(&mut bob, "the kept notification").await;
    assert_eq!(message.kind, MessageType::Normal);
    assert!(
        message
            .payloads
            .iter()
            .any(|p| p.is("delay", "urn:xmpp:delay")),
        "an offline notification carries its delay"
    );
    assert_eq!(
        event,
        Event::Items {
            node: "alerts".into(),
            items: vec![Item::new(entry("Wake up")).with_id("a1")],
            retracts: Vec::new(),
        }
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn max_items_retract_and_delete() {
    let hub = start_hub(Arc::new(MemoryStore::new())).await;
    let alice = online(&hub, "alice").await;
    let mut bob = online(&hub, "bob").await;
    create(&alice, "feed", &[("pubsub#max_items", "3")]).await;
    subscribe(&bob, PUBSUB, "feed").await.unwrap();
    for i in 1..=5 {
        publish(
            &alice,
            Some(PUBSUB),
            "feed",
            &format!("p{i}"),
            &format!("post {i}"),
        )
        .await;
        let (_, event) = next_event(&mut bob, "a post").await;
        assert!(
            matches!(event, Event::Items { ref items, .. } if items[0].id == Some(format!("p{i}")))
        );
    }
    // The 3 newest, oldest first.
    let ids =
        |items: Vec<(String, String)>| items.into_iter().map(|(id, _)| id).collect::<Vec<_>>();
    assert_eq!(
        ids(items(&bob, PUBSUB, PubSub::items("feed")).await.unwrap()),
        ["p3", "p4", "p5"]
    );
    assert_eq!(
        ids(items(&bob, PUBSUB, PubSub::last_items("feed", 1))
            .await
            .unwrap()),
        ["p5"]
    );

    // A retract with notify reaches the subscriber.
    let retract = PubSub::Retract {
        node: "feed".into(),
        notify: true,
        ids: vec!["p5".into()],
    };
    set(&alice, Some(PUBSUB), retract.to_element())
        .await
        .unwrap();
    let (_, event) = next_event(&mut bob, "the retraction").await;
    assert_eq!(
        event,
        Event::Items {
            node: "feed".into(),
            items: Vec::new(),
            retracts: vec!["p5".into()],
        }
    );
    assert_eq!(
        ids(items(&bob, PUBSUB, PubSub::items("feed")).await.unwrap()),
        ["p3", "p4"]
    );

    // Deleting the node tells the subscriber; the node is gone.
    set(
        &alice,
        Some(PUBSUB),
        PubSubOwner::delete("feed").to_element(),
    )
    .await
    .unwrap();
    let (_, event) = next_event(&mut bob, "the deletion").await;
    assert_eq!(
        event,
        Event::Delete {
            node: "feed".into(),
            redirect: None,
        }
    );
    assert_eq!(
        refusal(items(&bob, PUBSUB, PubSub::items("feed")).await).0,
        DefinedCondition::ItemNotFound
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn pep_publish_notifies_the_account_and_a_subscriber() {
    const MOOD: &str = "http://jabber.org/protocol/mood";
    let hub = start_hub(Arc::new(MemoryStore::new())).await;
    let mut alice = online(&hub, "alice").await;
    let mut bob = online(&hub, "bob").await;
    let carol = online(&hub, "carol").await;
    let alice_bare = bare("alice").to_string();

    // The account is a PEP service.
    let info = get(
        &bob,
        Some(&alice_bare),
        DiscoInfo::request(None).to_element(),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(
        DiscoInfo::parse(&info)
            .unwrap()
            .has_identity("pubsub", "pep")
    );

    // Publishing (the iq has no 'to') creates the node; the account's
    // resources are notified, from its bare JID.
    publish(&alice, None, MOOD, "current", "happy").await;
    let (message, _) = next_event(&mut alice, "alice's own notification").await;
    assert_eq!(message.from, Some(Jid::from(bare("alice"))));

    // Presence access: a contact subscribes, a stranger may not; only the
    // account publishes.
    assert_eq!(
        refusal(subscribe(&carol, &alice_bare, MOOD).await),
        pubsub_error(
            DefinedCondition::NotAuthorized,
            "presence-subscription-required"
        )
    );
    let intrusion = PubSub::publish(MOOD, Item::new(entry("sad")));
    assert_eq!(
        refusal(set(&carol, Some(&alice_bare), intrusion.to_element()).await).0,
        DefinedCondition::Forbidden
    );
    share_presence(&mut bob, &mut alice).await;
    subscribe(&bob, &alice_bare, MOOD).await.unwrap();
    assert_eq!(
        items(&bob, &alice_bare, PubSub::last_items(MOOD, 1))
            .await
            .unwrap(),
        [("current".to_owned(), "happy".to_owned())]
    );

    publish(&alice, None, MOOD, "current", "in love").await;
    let (message, event) = next_event(&mut bob, "bob's notification").await;
    assert_eq!(message.from, Some(Jid::from(bare("alice"))));
    assert_eq!(
        event,
        Event::Items {
            node: MOOD.into(),
            items: vec![Item::new(entry("in love")).with_id("current")],
            retracts: Vec::new(),
        }
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn nodes_items_and_subscriptions_survive_a_restart() {
    const TUNE: &str = "http://jabber.org/protocol/tune";
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    {
        let hub = start_hub(Arc::clone(&store)).await;
        let mut alice = online(&hub, "alice").await;
        let mut bob = online(&hub, "bob").await;
        create(&alice, "durable", &[("pubsub#title", "Kept")]).await;
        subscribe(&bob, PUBSUB, "durable").await.unwrap();
        publish(&alice, Some(PUBSUB), "durable", "d1", "before").await;
        next_event(&mut bob, "the first notification").await;
        // And a PEP node, with a subscriber that shares presence.
        share_presence(&mut bob, &mut alice).await;
        publish(&alice, None, TUNE, "current", "Finzi").await;
        subscribe(&bob, bare("alice").as_str(), TUNE).await.unwrap();
        hub.shutdown().await;
    }

    let hub = start_hub(Arc::clone(&store)).await;
    let alice = online(&hub, "alice").await;
    let mut bob = online(&hub, "bob").await;
    assert_eq!(
        items(&bob, PUBSUB, PubSub::items("durable")).await.unwrap(),
        [("d1".to_owned(), "before".to_owned())]
    );
    // The old subscription still gets notifications.
    publish(&alice, Some(PUBSUB), "durable", "d2", "after").await;
    let (_, event) = next_event(&mut bob, "the notification after the restart").await;
    assert_eq!(
        event,
        Event::Items {
            node: "durable".into(),
            items: vec![Item::new(entry("after")).with_id("d2")],
            retracts: Vec::new(),
        }
    );
    // The configuration too.
    let config = get(
        &alice,
        Some(PUBSUB),
        PubSubOwner::configure("durable").to_element(),
    )
    .await
    .unwrap()
    .unwrap();
    let PubSubOwner::Configure {
        form: Some(form), ..
    } = PubSubOwner::parse(&config).unwrap()
    else {
        panic!("a configuration form");
    };
    assert_eq!(
        DataForm::parse(&form)
            .unwrap()
            .field("pubsub#title")
            .and_then(Field::value),
        Some("Kept")
    );
    // The PEP node and its subscriber; the presence subscription that
    // its access model needs was kept with the rosters.
    assert_eq!(
        items(&alice, bare("alice").as_str(), PubSub::items(TUNE))
            .await
            .unwrap(),
        [("current".to_owned(), "Finzi".to_owned())]
    );
    publish(&alice, None, TUNE, "current", "Elgar").await;
    let (message, _) = next_event(&mut bob, "the PEP notification after the restart").await;
    assert_eq!(message.from, Some(Jid::from(bare("alice"))));
    hub.shutdown().await;
}

#[tokio::test]
async fn the_pubsub_domain_is_configurable_and_its_own() {
    let hub = Hub::builder(DOMAIN)
        .listen("127.0.0.1:0")
        .pubsub("news.hub.test")
        .user(&format!("alice@{DOMAIN}"), PASSWORD)
        .start()
        .await
        .unwrap();
    let alice = online(&hub, "alice").await;
    let listed = get(&alice, Some(DOMAIN), DiscoItems::request(None).to_element())
        .await
        .unwrap()
        .unwrap();
    let listed = DiscoItems::parse(&listed).unwrap();
    assert!(listed.items.iter().any(|i| i.jid == jid("news.hub.test")));
    assert!(!listed.items.iter().any(|i| i.jid == jid(PUBSUB)));
    let request = PubSub::create(Some("n".into())).to_element();
    set(&alice, Some("news.hub.test"), request).await.unwrap();
    // Messages to the service are refused.
    let mut alice = alice;
    alice
        .send(Message::chat(jid("news.hub.test"), "hello?"))
        .await
        .unwrap();
    let condition = next_where(&mut alice, "the error", |s| match s {
        Stanza::Message(m) if m.kind == MessageType::Error => m.error.as_ref().map(|e| e.condition),
        _ => None,
    })
    .await;
    assert_eq!(condition, DefinedCondition::ServiceUnavailable);
    hub.shutdown().await;

    for domain in [DOMAIN, "push.hub.test", "not a domain"] {
        let result = Hub::builder(DOMAIN)
            .listen("127.0.0.1:0")
            .component("push.hub.test", "secret")
            .pubsub(domain)
            .start()
            .await;
        assert!(
            matches!(result, Err(xmpp_kit::hub::HubError::Config(_))),
            "{domain}: {result:?}"
        );
    }
}
