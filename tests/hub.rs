//! The embedded hub with several of our clients and a component, over
//! real TLS on loopback: routing to full and bare JIDs, presence and
//! rosters, iq routing and errors, misbehaving clients, XEP-0198 resume on
//! the hub side, clean shutdown.
#![cfg(feature = "hub")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod killable;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use xmpp_kit::client::ConnectionError;
use xmpp_kit::ext::Payload as _;
use xmpp_kit::ext::disco::{DiscoInfo, DiscoItems};
use xmpp_kit::ext::ping::Ping;
use xmpp_kit::ext::roster::{Roster, Subscription};
use xmpp_kit::hub::store::{MemoryStore, Store};
use xmpp_kit::hub::{Hub, HubLimits};
use xmpp_kit::jid::{BareJid, Jid};
use xmpp_kit::rt::Roots;
use xmpp_kit::rt::backoff::ReconnectPolicy;
use xmpp_kit::rt::client::{Client, ClientBuilder, ClientError, ClientEvent, ClientEvents};
use xmpp_kit::rt::component::{Component, ComponentEvent};
use xmpp_kit::rt::tokio::TokioSleeper;
use xmpp_kit::stanza::{
    DefinedCondition, Iq, IqKind, Message, MessageType, Presence, PresenceType, Stanza,
};
use xmpp_kit::stream::StreamErrorCondition;

const DOMAIN: &str = "hub.test";
const PASSWORD: &str = "hub-test-pw";
const COMPONENT: &str = "push.hub.test";
const SECRET: &str = "component-secret";
const WAIT: Duration = Duration::from_secs(10);

const USERS: &[&str] = &["alice", "bob", "carol", "dave"];

async fn start_hub_with(limits: HubLimits) -> Hub {
    let mut builder = Hub::builder(DOMAIN)
        .listen("127.0.0.1:0")
        .components("127.0.0.1:0")
        .component(COMPONENT, SECRET)
        .limits(limits);
    for user in USERS {
        builder = builder.user(&format!("{user}@{DOMAIN}"), PASSWORD);
    }
    builder.start().await.expect("the hub starts")
}

async fn start_hub() -> Hub {
    let limits = HubLimits::default();
    start_hub_with(limits).await
}

fn builder(hub: &Hub, user: &str) -> ClientBuilder {
    ClientBuilder::new(&format!("{user}@{DOMAIN}"), PASSWORD)
        .server(&hub.c2s_addr().unwrap().to_string())
        .roots(Roots::ExtraOnly)
        .ca_pem(hub.ca_pem().unwrap().as_bytes().to_vec())
}

async fn connect(hub: &Hub, user: &str) -> Client {
    tokio::time::timeout(WAIT, builder(hub, user).connect())
        .await
        .expect("login in time")
        .unwrap_or_else(|e| panic!("{user} could not log in: {e}"))
}

async fn online(hub: &Hub, user: &str) -> Client {
    let client = connect(hub, user).await;
    client.send(Presence::available()).await.unwrap();
    client
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

fn body(stanza: &Stanza) -> Option<(String, Option<Jid>)> {
    match stanza {
        Stanza::Message(m) if m.kind != MessageType::Error => {
            m.body().map(|b| (b.to_owned(), m.from.clone()))
        }
        _ => None,
    }
}

fn message_error(stanza: &Stanza) -> Option<DefinedCondition> {
    match stanza {
        Stanza::Message(m) if m.kind == MessageType::Error => m.error.as_ref().map(|e| e.condition),
        _ => None,
    }
}

/// Nothing matching `pick` arrives for a while.
async fn nothing_where(client: &mut Client, mut pick: impl FnMut(&Stanza) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, client.next()).await {
        if let ClientEvent::Stanza(stanza) = event {
            assert!(!pick(&stanza), "unexpected {stanza:?}");
        }
    }
}

#[tokio::test]
async fn messages_to_full_and_bare_jids_follow_priority() {
    let hub = start_hub().await;
    let alice = online(&hub, "alice").await;
    let mut bob1 = connect(&hub, "bob").await;
    bob1.send(Presence::available().with_priority(5))
        .await
        .unwrap();
    let mut bob2 = connect(&hub, "bob").await;
    bob2.send(Presence::available().with_priority(1))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    // Full JID: exactly that resource, with from stamped.
    alice
        .send(Message::chat(bob2.jid().clone().into(), "to bob2"))
        .await
        .unwrap();
    let (text, from) = next_where(&mut bob2, "the message to bob2", body).await;
    assert_eq!(text, "to bob2");
    assert_eq!(from, Some(alice.jid().clone().into()));

    // Bare JID, chat: the highest priority resource only.
    alice
        .send(Message::chat(bare("bob").into(), "to bare bob"))
        .await
        .unwrap();
    let (text, _) = next_where(&mut bob1, "the message to bare bob", body).await;
    assert_eq!(text, "to bare bob");
    nothing_where(&mut bob2, |s| {
        body(s).is_some_and(|(t, _)| t == "to bare bob")
    })
    .await;

    // Headline to the bare JID: every non-negative resource.
    let mut headline = Message::headline(bare("bob").into());
    headline = headline.with_body("news");
    alice.send(headline).await.unwrap();
    next_where(&mut bob1, "the headline at bob1", |s| {
        body(s).filter(|(t, _)| t == "news")
    })
    .await;
    next_where(&mut bob2, "the headline at bob2", |s| {
        body(s).filter(|(t, _)| t == "news")
    })
    .await;
    hub.shutdown().await;
}

#[tokio::test]
async fn undeliverable_stanzas_get_the_right_errors() {
    let hub = start_hub().await;
    let mut alice = online(&hub, "alice").await;

    // No such account.
    alice
        .send(Message::chat(jid(&format!("nobody@{DOMAIN}")), "hello?"))
        .await
        .unwrap();
    let condition = next_where(&mut alice, "the error for nobody", message_error).await;
    assert_eq!(condition, DefinedCondition::ServiceUnavailable);

    // Another domain: no server-to-server.
    let error = alice
        .request(Iq::get(Some(jid("elsewhere.example")), Ping.to_element()))
        .await
        .unwrap_err();
    assert_stanza_error(&error, DefinedCondition::RemoteServerNotFound);

    // An iq to a full JID that is not online.
    let error = alice
        .request(Iq::get(
            Some(jid(&format!("bob@{DOMAIN}/gone"))),
            Ping.to_element(),
        ))
        .await
        .unwrap_err();
    assert_stanza_error(&error, DefinedCondition::ServiceUnavailable);

    // An iq the server does not implement.
    let unknown = minidom::Element::builder("query", "urn:example:unknown").build();
    let error = alice
        .request(Iq::get(Some(jid(DOMAIN)), unknown))
        .await
        .unwrap_err();
    assert_stanza_error(&error, DefinedCondition::ServiceUnavailable);

    // A configured component that is not connected.
    let error = alice
        .request(Iq::get(Some(jid(COMPONENT)), Ping.to_element()))
        .await
        .unwrap_err();
    assert_stanza_error(&error, DefinedCondition::ServiceUnavailable);
    hub.shutdown().await;
}

/// A message's body and whether it carries a XEP-0203 delay.
fn delayed_body(stanza: &Stanza) -> Option<(String, bool)> {
    match stanza {
        Stanza::Message(m) if m.kind != MessageType::Error => {
            let delayed = m.payloads.iter().any(|p| p.is("delay", "urn:xmpp:delay"));
            m.body().map(|b| (b.to_owned(), delayed))
        }
        _ => None,
    }
}

#[tokio::test]
async fn offline_messages_wait_and_arrive_with_delay() {
    let hub = start_hub().await;
    let mut alice = online(&hub, "alice").await;
    for i in 0..3 {
        alice
            .send(Message::chat(bare("carol").into(), format!("offline {i}")))
            .await
            .unwrap();
    }
    // A chat state alone is not kept (XEP-0160).
    let mut typing = Message::chat(bare("carol").into(), "");
    typing.bodies.clear();
    typing.payloads.push(
        minidom::Element::builder("composing", "http://jabber.org/protocol/chatstates")
            .build()
            .into(),
    );
    alice.send(typing).await.unwrap();
    // Accepted: no error comes back.
    nothing_where(&mut alice, |s| message_error(s).is_some()).await;

    // Carol logs in: nothing before her initial presence, then the three
    // messages in order, each stamped with a delay.
    let mut carol = connect(&hub, "carol").await;
    nothing_where(&mut carol, |s| body(s).is_some()).await;
    carol.send(Presence::available()).await.unwrap();
    for i in 0..3 {
        let (text, delayed) = next_where(&mut carol, "an offline message", delayed_body).await;
        assert_eq!(text, format!("offline {i}"));
        assert!(delayed, "offline message {i} has no delay");
    }
    nothing_where(&mut carol, |s| matches!(s, Stanza::Message(_))).await;
    // Acknowledged, so delivered for good: a new session gets nothing.
    carol.send_confirmed(Presence::available()).await.unwrap();
    carol.close().await;
    let mut again = online(&hub, "carol").await;
    nothing_where(&mut again, |s| body(s).is_some()).await;

    // While carol is online, messages go straight to her, without delay.
    alice
        .send(Message::chat(bare("carol").into(), "live"))
        .await
        .unwrap();
    let (text, delayed) = next_where(&mut again, "a live message", delayed_body).await;
    assert_eq!(text, "live");
    assert!(!delayed);
    hub.shutdown().await;
}

#[tokio::test]
async fn a_full_spool_refuses_with_resource_constraint() {
    let mut limits = HubLimits::default();
    limits.spool_per_user = 2;
    let hub = start_hub_with(limits).await;
    let mut alice = online(&hub, "alice").await;
    for i in 0..3 {
        alice
            .send(Message::chat(bare("dave").into(), format!("m{i}")).with_id(format!("m{i}")))
            .await
            .unwrap();
    }
    let (condition, id) = next_where(&mut alice, "the error for the third", |s| match s {
        Stanza::Message(m) if m.kind == MessageType::Error => {
            Some((m.error.as_ref().map(|e| e.condition), m.id.clone()))
        }
        _ => None,
    })
    .await;
    assert_eq!(condition, Some(DefinedCondition::ResourceConstraint));
    assert_eq!(id.as_deref(), Some("m2"));
    let mut dave = online(&hub, "dave").await;
    for i in 0..2 {
        let (text, _) = next_where(&mut dave, "a kept message", delayed_body).await;
        assert_eq!(text, format!("m{i}"));
    }
    hub.shutdown().await;
}

/// What the hub accepted survives a restart on the same store: rosters
/// with pending subscription requests, and offline messages.
#[tokio::test]
async fn rosters_and_offline_messages_survive_a_restart() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let start = |store: Arc<dyn Store>| async move {
        let mut builder = Hub::builder(DOMAIN).listen("127.0.0.1:0").store(store);
        for user in USERS {
            builder = builder.user(&format!("{user}@{DOMAIN}"), PASSWORD);
        }
        builder.start().await.unwrap()
    };
    let hub = start(Arc::clone(&store)).await;
    let alice = online(&hub, "alice").await;
    let mut item = xmpp_kit::ext::roster::Item::new(bare("bob"));
    item.name = Some("Bob".into());
    let set = Roster {
        ver: None,
        items: vec![item],
    };
    alice
        .request(Iq::set(None, set.to_element()))
        .await
        .unwrap();
    alice
        .send(Presence::subscribe(bare("bob").into()))
        .await
        .unwrap();
    alice
        .send_confirmed(Message::chat(bare("carol").into(), "kept across a restart"))
        .await
        .unwrap();
    alice.close().await;
    hub.shutdown().await;

    let hub = start(store).await;
    let alice = online(&hub, "alice").await;
    let roster = roster(&alice).await;
    let bob_item = roster.items.iter().find(|i| i.jid == bare("bob")).unwrap();
    assert_eq!(bob_item.name.as_deref(), Some("Bob"));
    assert!(bob_item.ask, "the pending subscription is remembered");
    let mut bob = online(&hub, "bob").await;
    let request = next_where(&mut bob, "the pending subscription request", |s| match s {
        Stanza::Presence(p) if p.kind == PresenceType::Subscribe => p.from.clone(),
        _ => None,
    })
    .await;
    assert_eq!(request, Jid::from(bare("alice")));
    let mut carol = online(&hub, "carol").await;
    let (text, delayed) = next_where(&mut carol, "the offline message", delayed_body).await;
    assert_eq!(text, "kept across a restart");
    assert!(delayed);
    hub.shutdown().await;
}

fn assert_stanza_error(error: &ClientError, condition: DefinedCondition) {
    match error {
        ClientError::Stanza(e) => assert_eq!(e.condition, condition, "{error}"),
        other => panic!("expected a stanza error {condition:?}, got {other}"),
    }
}

#[tokio::test]
async fn iqs_route_between_clients_and_the_server_answers_its_own() {
    let hub = start_hub().await;
    let alice = connect(&hub, "alice").await;
    let bob = connect(&hub, "bob").await;
    // Our client answers pings itself.
    let answer = alice
        .request(Iq::get(Some(bob.jid().clone().into()), Ping.to_element()))
        .await
        .unwrap();
    assert!(matches!(answer.kind, IqKind::Result(_)));
    assert_eq!(answer.from, Some(bob.jid().clone().into()));
    // The server: ping, disco (components listed), version.
    let answer = alice
        .request(Iq::get(Some(jid(DOMAIN)), Ping.to_element()))
        .await
        .unwrap();
    assert!(matches!(answer.kind, IqKind::Result(_)));
    let info = alice
        .request(Iq::get(
            Some(jid(DOMAIN)),
            DiscoInfo::request(None).to_element(),
        ))
        .await
        .unwrap()
        .payload_as::<DiscoInfo>()
        .unwrap()
        .unwrap();
    assert!(info.has_identity("server", "im"));
    assert!(info.has_feature("urn:xmpp:ping"));
    let items = alice
        .request(Iq::get(
            Some(jid(DOMAIN)),
            DiscoItems::request(None).to_element(),
        ))
        .await
        .unwrap()
        .payload_as::<DiscoItems>()
        .unwrap()
        .unwrap();
    assert!(
        items.items.iter().any(|i| i.jid == jid(COMPONENT)),
        "{items:?}"
    );
    // An iq to another account's bare JID is answered by the server.
    let answer = alice
        .request(Iq::get(Some(bare("bob").into()), Ping.to_element()))
        .await
        .unwrap();
    assert_eq!(answer.from, Some(bare("bob").into()));
    hub.shutdown().await;
}

fn roster_push(stanza: &Stanza) -> Option<(Iq, xmpp_kit::ext::roster::Item)> {
    let Stanza::Iq(iq) = stanza else { return None };
    if !matches!(iq.kind, IqKind::Set(_)) {
        return None;
    }
    let roster = iq.payload_as::<Roster>()?.ok()?;
    Some((iq.clone(), roster.single_item().ok()?.clone()))
}

fn presence_from(stanza: &Stanza, kind: PresenceType, from: &BareJid) -> Option<()> {
    let Stanza::Presence(p) = stanza else {
        return None;
    };
    (p.kind == kind && p.from.as_ref()?.to_bare() == *from).then_some(())
}

async fn roster(client: &Client) -> Roster {
    client
        .request(Iq::get(None, Roster::request(None).to_element()))
        .await
        .unwrap()
        .payload_as::<Roster>()
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn subscription_handshake_roster_pushes_and_presence_broadcast() {
    let hub = start_hub().await;
    let mut alice = connect(&hub, "alice").await;
    let mut bob = connect(&hub, "bob").await;
    assert!(roster(&alice).await.items.is_empty());
    assert!(roster(&bob).await.items.is_empty());
    alice.send(Presence::available()).await.unwrap();
    bob.send(Presence::available()).await.unwrap();

    alice
        .send(Presence::subscribe(bare("bob").into()))
        .await
        .unwrap();
    let (push, item) = next_where(&mut alice, "alice's push (ask)", roster_push).await;
    assert_eq!(item.jid, bare("bob"));
    assert!(item.ask);
    assert_eq!(item.subscription, Subscription::None);
    alice.send(Iq::result_for(&push, None)).await.unwrap();
    next_where(&mut bob, "the request", |s| {
        presence_from(s, PresenceType::Subscribe, &bare("alice"))
    })
    .await;
    bob.send(Presence::subscribed(bare("alice").into()))
        .await
        .unwrap();
    // Bob's roster now has alice as from; alice's has bob as to, and gets
    // bob's presence.
    let (_, item) = next_where(&mut bob, "bob's push (from)", roster_push).await;
    assert_eq!(item.subscription, Subscription::From);
    next_where(&mut alice, "the approval", |s| {
        presence_from(s, PresenceType::Subscribed, &bare("bob"))
    })
    .await;
    next_where(&mut alice, "bob's presence", |s| {
        presence_from(s, PresenceType::Available, &bare("bob"))
    })
    .await;
    let alice_roster = roster(&alice).await;
    assert_eq!(alice_roster.items.len(), 1);
    assert_eq!(alice_roster.items[0].subscription, Subscription::To);

    // A later presence change of bob is broadcast to alice; alice's is not
    // sent to bob (he has no subscription to her).
    bob.send(Presence::available().with_status("busy"))
        .await
        .unwrap();
    let status = next_where(&mut alice, "bob's new status", |s| match s {
        Stanza::Presence(p) if p.from.as_ref().map(Jid::to_bare) == Some(bare("bob")) => {
            p.status().map(str::to_owned)
        }
        _ => None,
    })
    .await;
    assert_eq!(status, "busy");
    alice
        .send(Presence::available().with_status("here"))
        .await
        .unwrap();
    nothing_where(&mut bob, |s| {
        presence_from(s, PresenceType::Available, &bare("alice")).is_some()
    })
    .await;

    // Bob goes away: alice learns it.
    bob.close().await;
    next_where(&mut alice, "bob's unavailable", |s| {
        presence_from(s, PresenceType::Unavailable, &bare("bob"))
    })
    .await;
    hub.shutdown().await;
}

#[tokio::test]
async fn a_spoofed_from_is_replaced_by_the_real_address() {
    let hub = start_hub().await;
    let alice = online(&hub, "alice").await;
    let mut bob = online(&hub, "bob").await;
    let spoofed = Message::chat(bob.jid().clone().into(), "who am I?")
        .with_from(jid(&format!("carol@{DOMAIN}/spoof")));
    alice.send(spoofed).await.unwrap();
    let (text, from) = next_where(&mut bob, "the spoofed message", body).await;
    assert_eq!(text, "who am I?");
    assert_eq!(
        from,
        Some(alice.jid().clone().into()),
        "from stamped by the hub"
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn an_oversized_stanza_ends_only_that_client() {
    let hub = start_hub().await;
    let alice = online(&hub, "alice").await;
    let mut bob = online(&hub, "bob").await;
    let (carol, mut carol_events) = online(&hub, "carol").await.split();
    let huge = "x".repeat(300 * 1024);
    carol
        .send(Message::chat(bob.jid().clone().into(), huge))
        .await
        .unwrap();
    let error = tokio::time::timeout(WAIT, async {
        loop {
            match carol_events.next().await {
                Some(ClientEvent::Disconnected { error, .. }) => return error,
                Some(_) => {}
                None => panic!("carol ended without a disconnection"),
            }
        }
    })
    .await
    .expect("carol is cut off");
    match &error {
        ClientError::Connection(ConnectionError::StreamError(e)) => {
            assert_eq!(
                e.condition,
                StreamErrorCondition::PolicyViolation,
                "{error}"
            );
        }
        // The hub closes the socket after its stream error; a client still
        // writing its huge stanza may see the write fail first.
        ClientError::Transport(_) => {}
        other => panic!("expected a stream error, got {other}"),
    }
    // The others carry on.
    alice
        .send(Message::chat(bob.jid().clone().into(), "still here"))
        .await
        .unwrap();
    let (text, _) = next_where(&mut bob, "the next message", body).await;
    assert_eq!(text, "still here");
    hub.shutdown().await;
}

#[tokio::test]
async fn a_client_that_does_not_read_is_disconnected_and_others_keep_going() {
    let limits = HubLimits::default();
    let hub = start_hub_with(limits).await;
    // Alice floods and does not care about the errors that come back.
    let (alice, alice_events) = online(&hub, "alice").await.split();
    drop(alice_events);
    let mut bob = online(&hub, "bob").await;
    // Carol never reads her events: her client stops reading the socket.
    let (carol, _carol_events) = online(&hub, "carol").await.split();
    let carol_jid: Jid = carol.jid().clone().into();
    let big = "y".repeat(8 * 1024);
    let flood = tokio::spawn({
        let alice = alice.clone();
        async move {
            for _ in 0..3000 {
                if alice
                    .send(Message::chat(carol_jid.clone(), big.clone()))
                    .await
                    .is_err()
                {
                    break;
                }
            }
        }
    });
    // Meanwhile bob still gets service.
    for i in 0..5 {
        let answer = tokio::time::timeout(
            Duration::from_secs(3),
            bob.request(Iq::get(Some(jid(DOMAIN)), Ping.to_element())),
        )
        .await
        .expect("the hub answers bob in time")
        .unwrap();
        assert!(matches!(answer.kind, IqKind::Result(_)), "ping {i}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::timeout(Duration::from_secs(60), flood)
        .await
        .expect("the flood ends")
        .unwrap();
    // Carol was cut off: at most her parked session remains, no longer a
    // live connection.
    let deadline = tokio::time::Instant::now() + WAIT;
    while hub.connections() > 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stuck client is still connected ({} connections)",
            hub.connections()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    alice
        .send(Message::chat(bob.jid().clone().into(), "after the flood"))
        .await
        .unwrap();
    next_where(&mut bob, "the message after the flood", |s| {
        body(s).filter(|(t, _)| t == "after the flood")
    })
    .await;
    drop(carol);
    hub.shutdown().await;
}

#[tokio::test]
async fn a_flooding_client_does_not_starve_the_others() {
    let hub = start_hub().await;
    let alice = online(&hub, "alice").await;
    let mut bob = online(&hub, "bob").await;
    let (dave, _dave_events) = online(&hub, "dave").await.split();
    // Dave floods the server with pings, never waiting for answers.
    let flood = tokio::spawn(async move {
        for _ in 0..20_000 {
            let iq = Iq::get(Some(jid(DOMAIN)), Ping.to_element());
            if dave.send(iq).await.is_err() {
                break;
            }
        }
    });
    for i in 0..10 {
        let started = std::time::Instant::now();
        alice
            .send(Message::chat(bob.jid().clone().into(), format!("m{i}")))
            .await
            .unwrap();
        let (text, _) = next_where(&mut bob, "a message during the flood", body).await;
        assert_eq!(text, format!("m{i}"));
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "a message took {:?} during the flood",
            started.elapsed()
        );
    }
    flood.abort();
    hub.shutdown().await;
}

#[tokio::test]
async fn stream_management_resume_on_the_hub_loses_nothing() {
    const N: usize = 60;
    let hub = start_hub().await;
    let sender = online(&hub, "alice").await;
    let switch = killable::KillSwitch::default();
    let connector = killable::connector(hub.c2s_addr().unwrap(), switch.clone());
    let mut receiver = builder(&hub, "bob")
        .connect_with(connector, TokioSleeper, |task| {
            tokio::spawn(task);
        })
        .await
        .unwrap();
    let to: Jid = receiver.jid().clone().into();
    let collecting = tokio::spawn(async move {
        let mut got = Vec::new();
        let mut resumed = 0;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while got.len() < N {
            match tokio::time::timeout_at(deadline, receiver.next()).await {
                Err(_) => break,
                Ok(Some(ClientEvent::Stanza(Stanza::Message(m)))) => {
                    if let Some(b) = m.body() {
                        got.push(b.to_owned());
                    }
                }
                Ok(Some(ClientEvent::Online { resumed: r, .. })) => {
                    assert!(r, "not resumed");
                    resumed += 1;
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
            }
        }
        (got, resumed)
    });
    for i in 0..N {
        if i == 25 {
            switch.kill();
        }
        sender
            .send(Message::chat(to.clone(), format!("sm-{i}")))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (got, resumed) = collecting.await.unwrap();
    let expected: Vec<String> = (0..N).map(|i| format!("sm-{i}")).collect();
    assert_eq!(got, expected, "every message exactly once, in order");
    assert_eq!(resumed, 1);
    hub.shutdown().await;
}

// ---- found by the soak (tests/hub_soak.rs) --------------------------------

/// Reconnects at once (tests hold the reconnection with the kill switch).
fn quick() -> ReconnectPolicy {
    let mut policy = ReconnectPolicy::new();
    policy.initial = Duration::from_millis(50);
    policy.max = Duration::from_millis(200);
    policy
}

/// `user` at resource "phone", available, on connections `switch` cuts.
async fn cuttable(
    hub: &Hub,
    user: &str,
    switch: &killable::KillSwitch,
    policy: ReconnectPolicy,
) -> Client {
    let connector = killable::connector(hub.c2s_addr().unwrap(), switch.clone());
    let client = tokio::time::timeout(
        WAIT,
        builder(hub, user)
            .resource("phone")
            .reconnect(policy)
            .connect_with(connector, TokioSleeper, |task| {
                tokio::spawn(task);
            }),
    )
    .await
    .expect("login in time")
    .unwrap();
    client.send_confirmed(Presence::available()).await.unwrap();
    client
}

/// Cuts the connection of `switch` (its client notices when `alice` writes
/// to it) and waits until the hub parked the session: `left` connections.
async fn cut_and_park(
    hub: &Hub,
    switch: &killable::KillSwitch,
    alice: &Client,
    to: &Jid,
    left: usize,
) {
    switch.kill();
    alice
        .send_confirmed(Message::chat(to.clone(), "wake"))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while hub.connections() > left {
        assert!(tokio::time::Instant::now() < deadline, "not parked in time");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Message bodies `client` gets until `n` arrived (or WAIT passed).
async fn bodies(client: &mut ClientEvents, n: usize) -> Vec<String> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while got.len() < n {
        match tokio::time::timeout_at(deadline, client.next()).await {
            Ok(Some(ClientEvent::Stanza(Stanza::Message(m)))) => {
                if let Some(text) = m.body() {
                    got.push(text.to_owned());
                }
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    got
}

/// Each of `expected` exactly once (in any order).
fn assert_once(got: &[String], expected: &[String]) {
    let mut sorted = got.to_vec();
    sorted.sort();
    let mut want = expected.to_vec();
    want.sort();
    assert_eq!(sorted, want, "each message exactly once");
}

#[tokio::test]
async fn a_new_session_on_a_parked_resource_gets_the_parked_messages() {
    // Binding the resource afresh dropped the parked session as it was:
    // its messages stayed marked as sent on a session that no longer
    // existed, never delivered.
    let hub = start_hub().await;
    let alice = online(&hub, "alice").await;
    let switch = killable::KillSwitch::default();
    let first = cuttable(&hub, "bob", &switch, ReconnectPolicy::never()).await;
    let to: Jid = first.jid().clone().into();
    cut_and_park(&hub, &switch, &alice, &to, 1).await;
    let mut expected = vec!["wake".to_owned()];
    for i in 0..5 {
        let text = format!("parked-{i}");
        alice
            .send_confirmed(Message::chat(to.clone(), text.clone()))
            .await
            .unwrap();
        expected.push(text);
    }
    drop(first);
    let (second, mut events) =
        tokio::time::timeout(WAIT, builder(&hub, "bob").resource("phone").connect())
            .await
            .expect("login in time")
            .unwrap()
            .split();
    second.send(Presence::available()).await.unwrap();
    assert_once(&bodies(&mut events, expected.len()).await, &expected);
    tokio::time::timeout(WAIT, second.close()).await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while hub.store().spool_count(&bare("bob")).unwrap() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "bob's spool is not emptied"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sessions = hub.store().sessions().unwrap();
    assert!(
        sessions.iter().all(|s| s.jid.to_bare() != bare("bob")),
        "{sessions:?}"
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn a_resumed_session_gets_what_its_full_parked_queue_could_not_take() {
    // What a full parked queue could not take waited as an offline
    // message, for an initial presence a resumed session never sends.
    let mut limits = HubLimits::default();
    limits.parked_queue = 3;
    let hub = start_hub_with(limits).await;
    let alice = online(&hub, "alice").await;
    let switch = killable::KillSwitch::default();
    let (bob, mut events) = cuttable(&hub, "bob", &switch, quick()).await.split();
    let to: Jid = bob.jid().clone().into();
    switch.hold(true);
    cut_and_park(&hub, &switch, &alice, &to, 1).await;
    let mut expected = vec!["wake".to_owned()];
    for i in 0..10 {
        let text = format!("over-{i}");
        alice
            .send_confirmed(Message::chat(to.clone(), text.clone()))
            .await
            .unwrap();
        expected.push(text);
    }
    switch.hold(false);
    assert_once(&bodies(&mut events, expected.len()).await, &expected);
    hub.shutdown().await;
}

#[tokio::test]
async fn a_resumption_sends_more_than_a_tls_buffer_at_once() {
    // The hub wrote the parked stanzas into rustls in one go, beyond its
    // 64 KiB buffer: the connection failed half written and the session
    // was lost.
    let hub = start_hub().await;
    let alice = online(&hub, "alice").await;
    let switch = killable::KillSwitch::default();
    let (bob, mut events) = cuttable(&hub, "bob", &switch, quick()).await.split();
    let to: Jid = bob.jid().clone().into();
    switch.hold(true);
    cut_and_park(&hub, &switch, &alice, &to, 1).await;
    let mut expected = vec!["wake".to_owned()];
    let filler = "z".repeat(2000);
    for i in 0..100 {
        let text = format!("big-{i}-{filler}");
        alice
            .send(Message::chat(to.clone(), text.clone()))
            .await
            .unwrap();
        expected.push(text);
    }
    send_last(&alice, &to, &mut expected).await;
    switch.hold(false);
    let got = bodies(&mut events, expected.len()).await;
    assert_eq!(got, expected, "each message exactly once, in order");
    hub.shutdown().await;
}

/// Sends `count` chat messages `{prefix}-0`, `{prefix}-1`, ... from `from`
/// to `to`; their bodies, in order.
async fn send_numbered(from: &Client, to: &Jid, prefix: &str, count: usize) -> Vec<String> {
    let mut sent = Vec::with_capacity(count);
    for i in 0..count {
        let text = format!("{prefix}-{i}");
        from.send(Message::chat(to.clone(), text.clone()))
            .await
            .unwrap();
        sent.push(text);
    }
    sent
}

/// Sends "last" from `from` to `to` and waits until the hub confirmed it
/// (and so everything sent before); adds it to `expected`.
async fn send_last(from: &Client, to: &Jid, expected: &mut Vec<String>) {
    from.send_confirmed(Message::chat(to.clone(), "last"))
        .await
        .unwrap();
    expected.push("last".to_owned());
}

#[tokio::test]
async fn a_cut_while_the_application_lags_loses_no_message() {
    // A connection that failed while the application's event queue was
    // full dropped the stanzas already read (and counted in XEP-0198 `h`):
    // the hub never sent them again.
    const N: usize = 400;
    let hub = start_hub().await;
    let alice = online(&hub, "alice").await;
    let switch = killable::KillSwitch::default();
    // Bob's application does not read for now: his client stops reading
    // once 256 events wait.
    let (bob, mut events) = cuttable(&hub, "bob", &switch, quick()).await.split();
    let to: Jid = bob.jid().clone().into();
    let expected = send_numbered(&alice, &to, "lag", N).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The cut shows when bob's client writes.
    switch.kill();
    bob.send(Message::chat(alice.jid().clone().into(), "poke"))
        .await
        .unwrap();
    let got = bodies(&mut events, N).await;
    assert_eq!(got, expected, "each message exactly once, in order");
    hub.shutdown().await;
}

#[tokio::test]
async fn a_client_kicked_for_not_reading_resumes_and_gets_everything() {
    // The hub disconnects a client that stops reading (1000 stanzas
    // unacknowledged): the stanza it refused then waited unnoticed, as an
    // offline message, while the client resumed.
    const N: usize = 1500;
    // Room for all of them while parked: nothing goes to offline storage.
    let mut limits = HubLimits::default();
    limits.parked_queue = 10_000;
    let hub = start_hub_with(limits).await;
    let alice = online(&hub, "alice").await;
    let switch = killable::KillSwitch::default();
    let (bob, mut events) = cuttable(&hub, "bob", &switch, quick()).await.split();
    let to: Jid = bob.jid().clone().into();
    let mut expected = send_numbered(&alice, &to, "flood", N).await;
    send_last(&alice, &to, &mut expected).await;
    let mut got = Vec::new();
    let mut kicked = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while got.len() < expected.len() {
        match tokio::time::timeout_at(deadline, events.next()).await {
            Ok(Some(ClientEvent::Stanza(Stanza::Message(m)))) => {
                got.extend(m.body().map(str::to_owned));
            }
            // The stream error, or the socket closed after it.
            Ok(Some(ClientEvent::Disconnected { .. })) => kicked = true,
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    assert!(kicked, "bob was not disconnected for not reading");
    assert_once(&got, &expected);
    hub.shutdown().await;
}

#[tokio::test]
async fn a_confirmed_send_survives_a_cut_during_the_reconnection() {
    // Given while the client reconnected, a confirmed send was confirmed
    // by a ping on that connection: cut before it was online, the send
    // failed although the stanza itself went out on the next one. And a
    // connection cut before its resumption was answered lost the session.
    let hub = start_hub().await;
    let mut alice = online(&hub, "alice").await;
    let switch = killable::KillSwitch::default();
    let (bob, mut bob_events) = cuttable(&hub, "bob", &switch, quick()).await.split();
    let to: Jid = bob.jid().clone().into();
    switch.hold(true);
    cut_and_park(&hub, &switch, &alice, &to, 1).await;
    let sending = tokio::spawn({
        let bob = bob.clone();
        let to: Jid = alice.jid().clone().into();
        async move { bob.send_confirmed(Message::chat(to, "during")).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The next connection is cut in its TLS handshake.
    switch.cut_next_after(500);
    switch.hold(false);
    tokio::time::timeout(WAIT, sending)
        .await
        .expect("confirmed in time")
        .unwrap()
        .expect("confirmed, not failed");
    let (text, _) = next_where(&mut alice, "bob's message", body).await;
    assert_eq!(text, "during");
    nothing_where(&mut alice, |s| body(s).is_some()).await;
    let mut resumed = Vec::new();
    while let Ok(Some(event)) =
        tokio::time::timeout(Duration::from_millis(300), bob_events.next()).await
    {
        if let ClientEvent::Online { resumed: r, .. } = event {
            resumed.push(r);
        }
    }
    assert_eq!(resumed, vec![true], "bob resumed his session");
    hub.shutdown().await;
}

#[tokio::test]
async fn a_resumption_takes_over_a_connection_the_hub_thinks_alive() {
    // The client's connection died without the hub noticing (no FIN, no
    // RST): its resumption found the session still live, not parked, and
    // failed; the new session got what the old one had sent again.
    let hub = start_hub().await;
    let alice = online(&hub, "alice").await;
    let switch = killable::KillSwitch::default();
    switch.half_open(true);
    let (bob, mut events) = cuttable(&hub, "bob", &switch, quick()).await.split();
    let to: Jid = bob.jid().clone().into();
    let mut expected = send_numbered(&alice, &to, "before", 5).await;
    let mut got = bodies(&mut events, expected.len()).await;
    switch.kill();
    // Bob's client notices the cut when this arrives; the hub does not.
    alice
        .send_confirmed(Message::chat(to.clone(), "after"))
        .await
        .unwrap();
    expected.push("after".to_owned());
    let mut resumed = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while got.len() < expected.len() {
        match tokio::time::timeout_at(deadline, events.next()).await {
            Ok(Some(ClientEvent::Stanza(Stanza::Message(m)))) => {
                got.extend(m.body().map(str::to_owned));
            }
            Ok(Some(ClientEvent::Online { resumed: r, .. })) => resumed.push(r),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    assert_eq!(resumed, vec![true], "bob resumed his session");
    // Nothing comes twice.
    while let Ok(Some(event)) =
        tokio::time::timeout(Duration::from_millis(300), events.next()).await
    {
        if let ClientEvent::Stanza(Stanza::Message(m)) = event {
            got.extend(m.body().map(str::to_owned));
        }
    }
    assert_eq!(got, expected, "each message exactly once, in order");
    hub.shutdown().await;
}

#[tokio::test]
async fn a_client_kicked_for_a_full_mailbox_resumes_and_gets_everything() {
    // A session whose mailbox overflowed was ended for good: its client
    // could not resume, and what it had been sent came again, on a new
    // session, after its next initial presence.
    const N: usize = 300;
    let mut limits = HubLimits::default();
    limits.session_queue = 1;
    let hub = start_hub_with(limits).await;
    let alice = online(&hub, "alice").await;
    let switch = killable::KillSwitch::default();
    let (bob, mut events) = cuttable(&hub, "bob", &switch, quick()).await.split();
    let to: Jid = bob.jid().clone().into();
    let mut expected = send_numbered(&alice, &to, "burst", N).await;
    send_last(&alice, &to, &mut expected).await;
    let mut got = Vec::new();
    let mut resumed = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while got.len() < expected.len() {
        match tokio::time::timeout_at(deadline, events.next()).await {
            Ok(Some(ClientEvent::Stanza(Stanza::Message(m)))) => {
                got.extend(m.body().map(str::to_owned));
            }
            Ok(Some(ClientEvent::Online { resumed: r, .. })) => resumed.push(r),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    assert!(
        resumed.iter().all(|r| *r),
        "every reconnection resumed: {resumed:?}"
    );
    assert_once(&got, &expected);
    hub.shutdown().await;
}

#[tokio::test]
async fn components_exchange_messages_and_a_wrong_secret_is_refused() {
    let hub = start_hub().await;
    let address = hub.component_addr().unwrap().to_string();
    let wrong = Component::connect(&address, COMPONENT, "not-the-secret").await;
    assert!(wrong.is_err(), "a wrong secret must be refused");
    let mut component = Component::connect(&address, COMPONENT, SECRET)
        .await
        .unwrap();
    let mut alice = online(&hub, "alice").await;
    let bot = jid(&format!("bot@{COMPONENT}"));
    alice
        .send(Message::chat(bot.clone(), "hi component"))
        .await
        .unwrap();
    let from = tokio::time::timeout(WAIT, async {
        loop {
            match component.next().await {
                Some(ComponentEvent::Stanza(Stanza::Message(m))) => return m.from.unwrap(),
                Some(_) => {}
                None => panic!("component ended"),
            }
        }
    })
    .await
    .expect("the component gets the message");
    assert_eq!(from, Jid::from(alice.jid().clone()));
    // The component pushes to the bare JID of the account.
    component
        .send(Message::chat(bare("alice").into(), "pushed").with_from(bot.clone()))
        .await
        .unwrap();
    let (text, sender) = next_where(&mut alice, "the push", body).await;
    assert_eq!(text, "pushed");
    assert_eq!(sender, Some(bot));
    component.close().await;
    hub.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_every_stream_with_system_shutdown() {
    let hub = start_hub().await;
    let (alice, mut events) = online(&hub, "alice").await.split();
    tokio::time::sleep(Duration::from_millis(50)).await;
    hub.shutdown().await;
    let error = tokio::time::timeout(WAIT, async {
        loop {
            match events.next().await {
                Some(ClientEvent::Disconnected { error, .. }) => return error,
                Some(_) => {}
                None => panic!("ended without a disconnection"),
            }
        }
    })
    .await
    .expect("the client learns of the shutdown");
    match &error {
        ClientError::Connection(ConnectionError::StreamError(e)) => {
            assert_eq!(e.condition, StreamErrorCondition::SystemShutdown);
        }
        other => panic!("expected system-shutdown, got {other}"),
    }
    drop(alice);
}

#[tokio::test]
async fn a_silent_direct_tls_connection_ends_at_the_negotiation_deadline() {
    // The TLS handshake counts against `negotiation_timeout` (it was a
    // fixed 30 s): a connection that never sends its ClientHello is closed
    // when the deadline passes.
    use tokio::io::AsyncReadExt as _;
    let mut limits = HubLimits::default();
    limits.negotiation_timeout = Duration::from_millis(500);
    let hub = Hub::builder(DOMAIN)
        .direct_tls("127.0.0.1:0")
        .limits(limits)
        .start()
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    let mut silent = tokio::net::TcpStream::connect(hub.direct_tls_addr().unwrap())
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(5), silent.read(&mut buf))
        .await
        .expect("the hub closed the silent connection");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(3),
        "closed after {took:?}"
    );
}

#[tokio::test]
async fn direct_tls_and_websocket_clients_reach_starttls_clients() {
    let hub = Hub::builder(DOMAIN)
        .listen("127.0.0.1:0")
        .direct_tls("127.0.0.1:0")
        .websocket("127.0.0.1:0", true)
        .user(&format!("alice@{DOMAIN}"), PASSWORD)
        .user(&format!("bob@{DOMAIN}"), PASSWORD)
        .user(&format!("carol@{DOMAIN}"), PASSWORD)
        .start()
        .await
        .unwrap();
    let ca = hub.ca_pem().unwrap().as_bytes().to_vec();
    let direct = ClientBuilder::new(&format!("alice@{DOMAIN}"), PASSWORD)
        .server(&hub.direct_tls_addr().unwrap().to_string())
        .direct_tls(true)
        .roots(Roots::ExtraOnly)
        .ca_pem(ca.clone())
        .connect()
        .await
        .expect("direct TLS login");
    let port = hub.websocket_addr().unwrap().port();
    let ws = ClientBuilder::new(&format!("bob@{DOMAIN}"), PASSWORD)
        .websocket(&format!("wss://localhost:{port}/xmpp-websocket"))
        .roots(Roots::ExtraOnly)
        .ca_pem(ca)
        .connect()
        .await
        .expect("wss login");
    let mut carol = online(&hub, "carol").await;
    for (client, text) in [(&direct, "over direct TLS"), (&ws, "over WebSocket")] {
        client
            .send(Message::chat(carol.jid().clone().into(), text))
            .await
            .unwrap();
        let (got, from) = next_where(&mut carol, text, body).await;
        assert_eq!(got, text);
        assert_eq!(from, Some(client.jid().clone().into()));
    }
    hub.shutdown().await;
}
