//! What our public `Client` / `Component` API must do against a real
//! server. Every scenario uses its own accounts, so they do not disturb
//! each other, and panics on the first broken expectation (the runner
//! reports the message).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use minidom::Element;
use xmpp_kit::client::ConnectionError;
use xmpp_kit::ext::Payload as _;
use xmpp_kit::ext::disco::{DiscoInfo, DiscoItems};
use xmpp_kit::ext::ping::Ping;
use xmpp_kit::ext::pubsub::Event as PubSubEvent;
use xmpp_kit::ext::pubsub::Item as PubSubItem;
use xmpp_kit::ext::pubsub::PubSub;
use xmpp_kit::ext::roster::{Roster, Subscription};
use xmpp_kit::ext::version::VersionQuery;
use xmpp_kit::jid::{BareJid, Jid};
use xmpp_kit::rt::Roots;
use xmpp_kit::rt::client::{Client, ClientBuilder, ClientError, ClientEvent};
use xmpp_kit::rt::component::{Component, ComponentEvent};
use xmpp_kit::rt::tokio::TokioSleeper;
use xmpp_kit::sasl::{Mechanism, SaslError};
use xmpp_kit::stanza::{Iq, IqKind, Message, Presence, PresenceType, Stanza};

use crate::killable::KillSwitch;
use crate::servers::{ADMIN, COMPONENT, COMPONENT_SECRET, DOMAIN, PASSWORD, PUBSUB, Target};

/// How long one wait for a stanza may take.
const WAIT: Duration = Duration::from_secs(15);

fn jid(s: &str) -> Jid {
    s.parse().unwrap_or_else(|e| panic!("bad JID {s:?}: {e}"))
}

fn bare(user: &str) -> String {
    format!("{user}@{DOMAIN}")
}

/// Options for `user` on the STARTTLS port, trusting only the test CA.
pub fn builder(t: &Target, user: &str) -> ClientBuilder {
    ClientBuilder::new(&bare(user), PASSWORD)
        .server(&t.starttls.to_string())
        .roots(Roots::ExtraOnly)
        .ca_file(&t.ca_file)
}

async fn connect(t: &Target, user: &str) -> Client {
    builder(t, user)
        .connect()
        .await
        .unwrap_or_else(|e| panic!("{user} could not log in to {}: {e}", t.name))
}

/// The next stanza that `pick` accepts (others are dropped), within
/// [`WAIT`].
async fn next_where<T>(
    client: &mut Client,
    what: &str,
    mut pick: impl FnMut(&Stanza) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let event = tokio::time::timeout_at(deadline, client.next())
            .await
            .unwrap_or_else(|_| panic!("no {what} within {WAIT:?}"));
        match event {
            Some(ClientEvent::Stanza(stanza)) => {
                if let Some(found) = pick(&stanza) {
                    return found;
                }
            }
            Some(ClientEvent::Disconnected { error, .. }) => {
                panic!("disconnected while waiting for {what}: {error}")
            }
            Some(_) => {}
            None => panic!("client ended while waiting for {what}"),
        }
    }
}

fn body_of(stanza: &Stanza) -> Option<(String, Option<Jid>)> {
    match stanza {
        Stanza::Message(m) => m.body().map(|b| (b.to_owned(), m.from.clone())),
        _ => None,
    }
}

async fn ping(client: &Client, to: Jid) {
    let iq = Iq::get(Some(to.clone()), Ping.to_element());
    let answer = client
        .request(iq)
        .await
        .unwrap_or_else(|e| panic!("ping to {to} failed: {e}"));
    assert!(
        matches!(answer.kind, IqKind::Result(_)),
        "ping answer: {answer:?}"
    );
}

/// Default options log in over STARTTLS and over direct TLS, whatever
/// SASL mechanisms (and -PLUS variants) the server advertises.
pub async fn default_login(t: Target) {
    for direct in [false, true] {
        let mut b = builder(&t, "mech");
        if direct {
            b = b.server(&t.direct_tls.to_string()).direct_tls(true);
        }
        let client = b
            .connect()
            .await
            .unwrap_or_else(|e| panic!("default login (direct TLS: {direct}) failed: {e}"));
        ping(&client, jid(DOMAIN)).await;
        client.close().await;
    }
}

/// Every mechanism the server offers that we implement logs in, alone,
/// over STARTTLS and direct TLS. The server's offer is read from the
/// typed error of a login with every mechanism disabled.
pub async fn each_sasl_mechanism(t: Target) {
    for direct in [false, true] {
        let base = || {
            let b = builder(&t, "mech");
            if direct {
                b.server(&t.direct_tls.to_string()).direct_tls(true)
            } else {
                b
            }
        };
        let offered = match base()
            .configure(|c| c.sasl.disabled = Mechanism::ALL.to_vec())
            .connect()
            .await
        {
            Err(ClientError::Connection(ConnectionError::Sasl(
                SaslError::NoAcceptableMechanism { offered },
            ))) => offered,
            Err(e) => panic!("with every mechanism disabled: unexpected error {e}"),
            Ok(_) => panic!("logged in with every mechanism disabled"),
        };
        let ours: Vec<Mechanism> = offered
            .iter()
            .filter_map(|name| name.parse::<Mechanism>().ok())
            .filter(|m| m.is_scram() || *m == Mechanism::Plain)
            .collect();
        assert!(
            ours.iter().any(|m| m.is_scram()),
            "{} offers no SCRAM we know: {offered:?}",
            t.name
        );
        if t.name == "ejabberd" {
            // The case XEP-0440 is about: -PLUS advertised on TLS 1.3
            // without a usable channel binding type.
            assert!(
                ours.iter().any(|m| m.is_plus()),
                "ejabberd should advertise -PLUS: {offered:?}"
            );
        }
        let mut report = Vec::new();
        for mechanism in ours {
            let result = base()
                .configure(move |c| {
                    c.sasl.disabled = Mechanism::ALL
                        .into_iter()
                        .filter(|m| *m != mechanism)
                        .collect();
                    c.sasl.plain_despite_scram = true;
                })
                .connect()
                .await;
            // ejabberd 23.01 implements only tls-unique, which TLS 1.3
            // lacks, and does not advertise XEP-0440: no -PLUS can work,
            // and our client must refuse it up front.
            let expect_ok = !(t.name == "ejabberd" && mechanism.is_plus());
            match result {
                Ok(client) => {
                    assert!(expect_ok, "{mechanism:?} should not have been chosen");
                    ping(&client, jid(DOMAIN)).await;
                    client.close().await;
                    report.push(format!("{} ok", mechanism.as_str()));
                }
                Err(ClientError::Connection(ConnectionError::Sasl(
                    SaslError::NoAcceptableMechanism { .. },
                ))) if !expect_ok => {
                    report.push(format!(
                        "{} refused by us (no usable binding)",
                        mechanism.as_str()
                    ));
                }
                Err(e) => panic!(
                    "{} over {}: {e}",
                    mechanism.as_str(),
                    if direct { "direct TLS" } else { "STARTTLS" }
                ),
            }
        }
        println!(
            "    {} over {}: offered {offered:?}: {}",
            t.name,
            if direct { "direct TLS" } else { "STARTTLS" },
            report.join(", ")
        );
    }
}

/// A wrong password is a typed, final authentication error, at once (no
/// retry loop).
pub async fn wrong_password(t: Target) {
    for direct in [false, true] {
        let mut b = ClientBuilder::new(&bare("mech"), "not-the-password")
            .server(&t.starttls.to_string())
            .roots(Roots::ExtraOnly)
            .ca_file(&t.ca_file);
        if direct {
            b = b.server(&t.direct_tls.to_string()).direct_tls(true);
        }
        let started = Instant::now();
        match b.connect().await {
            Err(e @ ClientError::Connection(ConnectionError::AuthenticationFailed(_))) => {
                assert!(e.is_final(), "an authentication failure is final");
            }
            Err(e) => panic!("expected AuthenticationFailed, got {e}"),
            Ok(_) => panic!("logged in with a wrong password"),
        }
        // ejabberd and Prosody answer at once; 5 s leaves room for a
        // loaded machine but not for a retry loop.
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the failure took {:?}",
            started.elapsed()
        );
    }
}

/// A message between two clients, to the full and to the bare JID.
pub async fn message_between_clients(t: Target) {
    let mut a = connect(&t, "msg-a").await;
    let mut b = connect(&t, "msg-b").await;
    // The bare JID reaches only available resources.
    b.send(Presence::available()).await.unwrap();
    a.send(Presence::available()).await.unwrap();
    let b_full: Jid = b.jid().clone().into();
    a.send(Message::chat(b_full, "to the full JID"))
        .await
        .unwrap();
    let (body, from) = next_where(&mut b, "the message to the full JID", body_of).await;
    assert_eq!(body, "to the full JID");
    assert_eq!(
        from,
        Some(a.jid().clone().into()),
        "from stamped by the server"
    );
    a.send(Message::chat(jid(&bare("msg-b")), "to the bare JID"))
        .await
        .unwrap();
    let (body, _) = next_where(&mut b, "the message to the bare JID", body_of).await;
    assert_eq!(body, "to the bare JID");
    b.send(Message::chat(a.jid().clone().into(), "and back"))
        .await
        .unwrap();
    let (body, from) = next_where(&mut a, "the answer", body_of).await;
    assert_eq!(body, "and back");
    assert_eq!(from, Some(b.jid().clone().into()));
    a.close().await;
    b.close().await;
}

/// Ping, disco#info and disco#items on the server, version, and a ping
/// between two clients.
pub async fn ping_disco_version(t: Target) {
    let a = connect(&t, "disco").await;
    ping(&a, jid(DOMAIN)).await;
    let info = a
        .request(Iq::get(
            Some(jid(DOMAIN)),
            DiscoInfo::request(None).to_element(),
        ))
        .await
        .unwrap_or_else(|e| panic!("disco#info: {e}"));
    let info = info
        .payload_as::<DiscoInfo>()
        .expect("disco#info payload")
        .expect("valid disco#info");
    assert!(
        info.has_identity("server", "im"),
        "server identity: {info:?}"
    );
    assert!(info.has_feature("urn:xmpp:ping"), "ping feature: {info:?}");
    let items = a
        .request(Iq::get(
            Some(jid(DOMAIN)),
            DiscoItems::request(None).to_element(),
        ))
        .await
        .unwrap_or_else(|e| panic!("disco#items: {e}"));
    let items = items
        .payload_as::<DiscoItems>()
        .expect("disco#items payload")
        .expect("valid disco#items");
    assert!(
        items.items.iter().any(|i| i.jid == jid(PUBSUB)),
        "the pubsub service is listed: {items:?}"
    );
    let version = a
        .request(Iq::get(
            Some(jid(DOMAIN)),
            VersionQuery::request().to_element(),
        ))
        .await
        .unwrap_or_else(|e| panic!("version: {e}"));
    let version = version
        .payload_as::<VersionQuery>()
        .expect("version payload")
        .expect("valid version")
        .into_version()
        .expect("name and version");
    println!(
        "    {} says it is {:?} {:?}",
        t.name, version.name, version.version
    );
    assert!(!version.name.is_empty(), "a version name");
    // A ping to another client's full JID, answered by our client.
    let b = connect(&t, "disco").await;
    ping(&a, b.jid().clone().into()).await;
    a.close().await;
    b.close().await;
}

/// Answers a roster push (RFC 6121 2.1.6) and returns its item.
fn roster_push(stanza: &Stanza) -> Option<(Iq, xmpp_kit::ext::roster::Item)> {
    let Stanza::Iq(iq) = stanza else { return None };
    if !matches!(iq.kind, IqKind::Set(_)) {
        return None;
    }
    let roster = iq.payload_as::<Roster>()?.ok()?;
    let item = roster.single_item().ok()?.clone();
    Some((iq.clone(), item))
}

async fn roster_of(client: &Client) -> Roster {
    let answer = client
        .request(Iq::get(None, Roster::request(None).to_element()))
        .await
        .unwrap_or_else(|e| panic!("roster get: {e}"));
    answer
        .payload_as::<Roster>()
        .expect("a roster")
        .expect("a valid roster")
}

fn presence_from(stanza: &Stanza, kind: PresenceType, from: &BareJid) -> Option<()> {
    let Stanza::Presence(p) = stanza else {
        return None;
    };
    let sender = p.from.as_ref()?;
    (p.kind == kind && &sender.to_bare() == from).then_some(())
}

/// Roster get, then the whole subscription handshake between two
/// accounts (RFC 6121 3.1): subscribe, subscribed both ways, roster
/// pushes, and presence broadcast once subscribed.
pub async fn roster_and_subscription(t: Target) {
    let mut a = connect(&t, "rost-a").await;
    let mut b = connect(&t, "rost-b").await;
    let a_bare: BareJid = bare("rost-a").parse().unwrap();
    let b_bare: BareJid = bare("rost-b").parse().unwrap();
    assert!(
        roster_of(&a).await.items.is_empty(),
        "a fresh roster is empty"
    );
    a.send(Presence::available()).await.unwrap();
    b.send(Presence::available()).await.unwrap();

    // A asks; B is asked.
    a.send(Presence::subscribe(b_bare.clone().into()))
        .await
        .unwrap();
    let (push, item) = next_where(&mut a, "a roster push with ask", roster_push).await;
    assert_eq!(item.jid, b_bare);
    assert!(item.ask, "pending out: {item:?}");
    a.send(Iq::result_for(&push, None)).await.unwrap();
    next_where(&mut b, "the subscription request", |s| {
        presence_from(s, PresenceType::Subscribe, &a_bare)
    })
    .await;

    // B approves and asks back.
    b.send(Presence::subscribed(a_bare.clone().into()))
        .await
        .unwrap();
    b.send(Presence::subscribe(a_bare.clone().into()))
        .await
        .unwrap();
    // A sees the approval, B's request and (once it may) B's available
    // presence, in whatever order the server sends them; it approves B's
    // request when it comes.
    let (mut approved, mut asked, mut available) = (false, false, false);
    while !(approved && asked && available) {
        let kind = next_where(&mut a, "the approval, B's request and B's presence", |s| {
            [
                PresenceType::Subscribed,
                PresenceType::Subscribe,
                PresenceType::Available,
            ]
            .into_iter()
            .find(|kind| presence_from(s, *kind, &b_bare).is_some())
        })
        .await;
        match kind {
            PresenceType::Subscribed => approved = true,
            PresenceType::Subscribe if !asked => {
                asked = true;
                a.send(Presence::subscribed(b_bare.clone().into()))
                    .await
                    .unwrap();
            }
            PresenceType::Available => {
                assert!(approved, "B's presence came before the approval");
                available = true;
            }
            _ => {}
        }
    }

    // Both rosters end at "both".
    let deadline = Instant::now() + WAIT;
    loop {
        let ra = roster_of(&a).await;
        let rb = roster_of(&b).await;
        let sub_a = ra
            .items
            .iter()
            .find(|i| i.jid == b_bare)
            .map(|i| i.subscription);
        let sub_b = rb
            .items
            .iter()
            .find(|i| i.jid == a_bare)
            .map(|i| i.subscription);
        if sub_a == Some(Subscription::Both) && sub_b == Some(Subscription::Both) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "rosters did not reach both: {sub_a:?} / {sub_b:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    a.close().await;
    b.close().await;
}

/// Connects `user` over STARTTLS through a transport the test can cut.
async fn connect_killable(t: &Target, user: &str, switch: KillSwitch) -> Client {
    let connector = crate::killable::connector(t.starttls, switch);
    builder(t, user)
        .connect_with(connector, TokioSleeper, |task| {
            tokio::spawn(task);
        })
        .await
        .unwrap_or_else(|e| panic!("{user} could not log in to {}: {e}", t.name))
}

async fn wait_resumed(client: &mut Client, who: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match tokio::time::timeout_at(deadline, client.next()).await {
            Err(_) => panic!("{who} did not come back online"),
            Ok(Some(ClientEvent::Online { resumed, .. })) => {
                assert!(resumed, "{who}'s session was not resumed");
                return;
            }
            Ok(Some(ClientEvent::Disconnected {
                reconnecting: false,
                error,
            })) => panic!("{who} gave up: {error}"),
            Ok(Some(_)) => {}
            Ok(None) => panic!("{who} ended"),
        }
    }
}

/// XEP-0198: the test cuts the receiver's TCP connection, then the
/// sender's, in the middle of a stream of messages. Both resume, and the
/// receiver gets every message exactly once, in order.
pub async fn sm_resume_after_kill(t: Target) {
    const N: usize = 60;
    let receiver_switch = KillSwitch::default();
    let sender_switch = KillSwitch::default();
    let mut receiver = connect_killable(&t, "sm-b", receiver_switch.clone()).await;
    let mut sender = connect_killable(&t, "sm-a", sender_switch.clone()).await;
    let to: Jid = receiver.jid().clone().into();
    let bodies: Arc<Mutex<Vec<String>>> = Arc::default();
    let got = Arc::clone(&bodies);
    let sender_jid: Jid = sender.jid().clone().into();
    // The receiver collects on its own task, so that its reconnection
    // goes on while the sender sends.
    let collecting = tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let mut resumed = 0;
        while got.lock().unwrap().len() < N {
            match tokio::time::timeout_at(deadline, receiver.next()).await {
                Err(_) => break,
                Ok(Some(ClientEvent::Stanza(Stanza::Message(m)))) => {
                    if m.from.as_ref() == Some(&sender_jid)
                        && let Some(body) = m.body()
                    {
                        got.lock().unwrap().push(body.to_owned());
                    }
                }
                Ok(Some(ClientEvent::Online { resumed: r, .. })) => {
                    assert!(r, "the receiver's session was not resumed");
                    resumed += 1;
                }
                Ok(Some(ClientEvent::Disconnected {
                    reconnecting: false,
                    error,
                })) => panic!("the receiver gave up: {error}"),
                Ok(Some(_)) => {}
                Ok(None) => panic!("the receiver ended"),
            }
        }
        // Anything more would be a duplicate: wait a little for one.
        if let Ok(Some(ClientEvent::Stanza(s))) =
            tokio::time::timeout(Duration::from_millis(500), receiver.next()).await
        {
            panic!("an extra stanza after all {N} messages: {s:?}");
        }
        receiver.close().await;
        resumed
    });
    for i in 0..N {
        if i == 20 {
            receiver_switch.kill();
        }
        if i == 40 {
            sender_switch.kill();
        }
        sender
            .send(Message::chat(to.clone(), format!("sm-{i}")))
            .await
            .unwrap_or_else(|e| panic!("send {i}: {e}"));
        tokio::time::sleep(Duration::from_millis(20)).await;
        if i == 40 {
            wait_resumed(&mut sender, "the sender").await;
        }
    }
    let resumed = collecting
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    let got = bodies.lock().unwrap().clone();
    let expected: Vec<String> = (0..N).map(|i| format!("sm-{i}")).collect();
    assert_eq!(got, expected, "every message exactly once, in order");
    assert_eq!(resumed, 1, "the receiver resumed once");
    sender.close().await;
}

/// A component connects with its secret and exchanges messages with a
/// client.
pub async fn component(t: Target) {
    let mut component = Component::connect(&t.component.to_string(), COMPONENT, COMPONENT_SECRET)
        .await
        .unwrap_or_else(|e| panic!("component: {e}"));
    let mut client = connect(&t, "comp").await;
    let bot: Jid = jid(&format!("bot@{COMPONENT}"));
    client
        .send(Message::chat(bot.clone(), "hello component"))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    let from = loop {
        match tokio::time::timeout_at(deadline, component.next()).await {
            Err(_) => panic!("the component got nothing"),
            Ok(Some(ComponentEvent::Stanza(Stanza::Message(m))))
                if m.body() == Some("hello component") =>
            {
                assert_eq!(m.to.as_ref(), Some(&bot));
                break m.from.expect("from stamped by the server");
            }
            Ok(Some(ComponentEvent::Ended(e))) => panic!("the component ended: {e:?}"),
            Ok(Some(_)) => {}
            Ok(None) => panic!("the component ended"),
        }
    };
    assert_eq!(
        from,
        Jid::from(client.jid().clone()),
        "the sender's full JID"
    );
    component
        .send(Message::chat(from, "hello client").with_from(bot.clone()))
        .await
        .unwrap();
    let (body, sender) = next_where(&mut client, "the component's answer", body_of).await;
    assert_eq!(body, "hello client");
    assert_eq!(sender, Some(bot));
    client.close().await;
    component.close().await;
}

/// Pubsub (XEP-0060): create a node, subscribe another account, publish,
/// and the notification with the payload arrives.
pub async fn pubsub(t: Target) {
    let owner = connect(&t, ADMIN).await;
    let mut subscriber = connect(&t, "ps-sub").await;
    subscriber.send(Presence::available()).await.unwrap();
    let service = jid(PUBSUB);
    let node = "interop-news";
    owner
        .request(Iq::set(
            Some(service.clone()),
            PubSub::create(Some(node.to_owned())).to_element(),
        ))
        .await
        .unwrap_or_else(|e| panic!("create node: {e}"));
    let subscribed = subscriber
        .request(Iq::set(
            Some(service.clone()),
            PubSub::subscribe(node, jid(&bare("ps-sub"))).to_element(),
        ))
        .await
        .unwrap_or_else(|e| panic!("subscribe: {e}"));
    assert!(
        matches!(subscribed.kind, IqKind::Result(_)),
        "{subscribed:?}"
    );
    let payload = Element::builder("entry", "urn:xmpp-kit:interop")
        .append("pushed")
        .build();
    owner
        .request(Iq::set(
            Some(service.clone()),
            PubSub::publish(node, PubSubItem::new(payload).with_id("item-1")).to_element(),
        ))
        .await
        .unwrap_or_else(|e| panic!("publish: {e}"));
    let items = next_where(&mut subscriber, "the notification", |s| {
        let Stanza::Message(m) = s else { return None };
        if m.from.as_ref() != Some(&service) {
            return None;
        }
        match m.payload::<PubSubEvent>()?.ok()? {
            PubSubEvent::Items { node: n, items, .. } if n == node => Some(items),
            _ => None,
        }
    })
    .await;
    let item = items.first().expect("one item");
    assert_eq!(item.id.as_deref(), Some("item-1"));
    let entry = item.payload.as_ref().expect("the payload");
    assert!(entry.is("entry", "urn:xmpp-kit:interop"), "{entry:?}");
    assert_eq!(entry.text(), "pushed");
    owner.close().await;
    subscriber.close().await;
}

/// RFC 7395: log in over `wss://` and exchange a message with a TCP
/// client.
pub async fn websocket(t: Target) {
    let mut ws = ClientBuilder::new(&bare("ws-a"), PASSWORD)
        .websocket(&t.websocket)
        .roots(Roots::ExtraOnly)
        .ca_file(&t.ca_file)
        .connect()
        .await
        .unwrap_or_else(|e| panic!("WebSocket login at {}: {e}", t.websocket));
    let mut tcp = connect(&t, "ws-b").await;
    ws.send(Message::chat(tcp.jid().clone().into(), "over websocket"))
        .await
        .unwrap();
    let (body, from) = next_where(&mut tcp, "the WebSocket client's message", body_of).await;
    assert_eq!(body, "over websocket");
    assert_eq!(from, Some(ws.jid().clone().into()));
    tcp.send(Message::chat(ws.jid().clone().into(), "back to websocket"))
        .await
        .unwrap();
    let (body, _) = next_where(&mut ws, "the answer over WebSocket", body_of).await;
    assert_eq!(body, "back to websocket");
    ping(&ws, jid(DOMAIN)).await;
    ws.close().await;
    tcp.close().await;
}

/// Every account the scenarios use.
pub const USERS: &[&str] = &[
    ADMIN, "mech", "msg-a", "msg-b", "disco", "rost-a", "rost-b", "sm-a", "sm-b", "comp", "ps-sub",
    "ws-a", "ws-b",
];

pub type ScenarioFn = fn(Target) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// The scenarios run against each server, by name.
pub fn all() -> Vec<(&'static str, ScenarioFn)> {
    macro_rules! scenario {
        ($name:ident) => {
            (stringify!($name), (|t| Box::pin($name(t))) as ScenarioFn)
        };
    }
    vec![
        scenario!(default_login),
        scenario!(each_sasl_mechanism),
        scenario!(wrong_password),
        scenario!(message_between_clients),
        scenario!(ping_disco_version),
        scenario!(roster_and_subscription),
        scenario!(sm_resume_after_kill),
        scenario!(component),
        scenario!(pubsub),
        scenario!(websocket),
    ]
}
