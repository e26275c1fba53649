//! End to end on loopback: our tokio client adapter against our own
//! server-side adapter, with real TLS from a test CA.
#![cfg(feature = "tokio")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod rt_support;

use std::time::Duration;

use futures::StreamExt as _;
use rt_support::{DOMAIN, KILL, NS_SILENT, PASSWORD, TestServer, to_server};
use xmpp_kit::client::ConnectionError;
use xmpp_kit::ext::Payload as _;
use xmpp_kit::ext::ping::Ping;
use xmpp_kit::jid::Jid;
use xmpp_kit::rt::Roots;
use xmpp_kit::rt::client::{ClientBuilder, ClientError, ClientEvent};
use xmpp_kit::sasl::Mechanism;
use xmpp_kit::stanza::{DefinedCondition, Iq, Message, Stanza};

const LIMIT: Duration = Duration::from_secs(20);

fn builder(server: &TestServer, user: &str, address: std::net::SocketAddr) -> ClientBuilder {
    ClientBuilder::new(&format!("{user}@{DOMAIN}"), PASSWORD)
        .server(&address.to_string())
        .roots(Roots::ExtraOnly)
        .ca_file(&server.ca.ca_file)
}

fn only_scram_sha256_plus(config: &mut xmpp_kit::ClientConfig) {
    config.sasl.disabled = vec![
        Mechanism::ScramSha512Plus,
        Mechanism::ScramSha1Plus,
        Mechanism::ScramSha512,
        Mechanism::ScramSha256,
        Mechanism::ScramSha1,
        Mechanism::Plain,
    ];
}

async fn next_stanza(client: &mut xmpp_kit::rt::client::Client) -> Stanza {
    loop {
        match tokio::time::timeout(LIMIT, client.next()).await.unwrap() {
            Some(ClientEvent::Stanza(stanza)) => return stanza,
            Some(_) => {}
            None => panic!("client ended"),
        }
    }
}

/// STARTTLS, SCRAM-SHA-256-PLUS with tls-exporter (TLS 1.3), a message
/// through the server to another client, a ping, a clean close.
#[tokio::test]
async fn starttls_scram_plus_message_request_and_close() {
    let server = TestServer::start(&["alice", "bob"]).await;
    let seen_mechanism = std::sync::Arc::new(std::sync::Mutex::new(None));
    let recorder = std::sync::Arc::clone(&seen_mechanism);
    let alice = builder(&server, "alice", server.starttls)
        .configure(move |config| {
            // Only SCRAM-SHA-256-PLUS may succeed here: proof that the
            // channel binding (tls-exporter on TLS 1.3) matched on both
            // sides.
            only_scram_sha256_plus(config);
            *recorder.lock().unwrap() = Some(());
        })
        .connect();
    let alice = tokio::time::timeout(LIMIT, alice).await.unwrap().unwrap();
    assert!(seen_mechanism.lock().unwrap().is_some());
    assert_eq!(alice.jid().domain(), DOMAIN);
    let mut bob = tokio::time::timeout(LIMIT, builder(&server, "bob", server.starttls).connect())
        .await
        .unwrap()
        .unwrap();

    let to_bob: Jid = bob.jid().clone().into();
    alice
        .send_confirmed(Message::chat(to_bob, "hello bob"))
        .await
        .unwrap();
    let Stanza::Message(got) = next_stanza(&mut bob).await else {
        panic!("not a message")
    };
    assert_eq!(got.body(), Some("hello bob"));
    assert_eq!(
        got.from.as_ref().map(Jid::as_str),
        Some(alice.jid().as_str())
    );

    let pong = alice
        .request(Iq::get(None, Ping.to_element()))
        .await
        .unwrap();
    assert!(matches!(pong.kind, xmpp_kit::stanza::IqKind::Result(None)));
    let refused = alice
        .request(Iq::get(
            None,
            minidom::Element::builder("x", "urn:unknown").build(),
        ))
        .await
        .unwrap_err();
    match refused {
        ClientError::Stanza(error) => {
            assert_eq!(error.condition, DefinedCondition::ServiceUnavailable)
        }
        other => panic!("{other:?}"),
    }
    tokio::time::timeout(LIMIT, alice.close()).await.unwrap();
    tokio::time::timeout(LIMIT, bob.close()).await.unwrap();
}

/// XEP-0368 direct TLS (ALPN xmpp-client) with SCRAM-SHA-256-PLUS.
#[tokio::test]
async fn direct_tls_scram_plus() {
    let server = TestServer::start(&["alice"]).await;
    let alice = builder(&server, "alice", server.direct)
        .direct_tls(true)
        .configure(only_scram_sha256_plus)
        .connect();
    let alice = tokio::time::timeout(LIMIT, alice).await.unwrap().unwrap();
    alice
        .request(Iq::get(None, Ping.to_element()))
        .await
        .unwrap();
    alice.close().await;
}

/// The server side cuts TCP mid-stream; the client reconnects, resumes
/// the XEP-0198 session, and nothing sent is lost.
#[tokio::test]
async fn reconnect_and_resume_after_the_server_cuts_the_connection() {
    let server = TestServer::start(&["alice"]).await;
    let alice = builder(&server, "alice", server.starttls)
        .reconnect({
            let mut policy = xmpp_kit::rt::backoff::ReconnectPolicy::new();
            policy.initial = Duration::from_millis(50);
            policy.max = Duration::from_millis(200);
            policy
        })
        .connect();
    let mut alice = tokio::time::timeout(LIMIT, alice).await.unwrap().unwrap();
    let first_jid = alice.jid().clone();
    for i in 0..5 {
        alice.send(to_server(&format!("before {i}"))).await.unwrap();
    }
    alice.send(to_server(KILL)).await.unwrap();
    // Sent while the connection is being cut or already gone: queued or
    // unacknowledged, resent after resumption.
    for i in 0..5 {
        alice.send(to_server(&format!("after {i}"))).await.unwrap();
    }
    let mut disconnected = false;
    loop {
        match tokio::time::timeout(LIMIT, alice.next())
            .await
            .unwrap()
            .unwrap()
        {
            ClientEvent::Disconnected { reconnecting, .. } => {
                assert!(reconnecting);
                disconnected = true;
            }
            ClientEvent::Online { jid, resumed } => {
                assert!(disconnected);
                assert!(resumed, "the session resumed");
                assert_eq!(jid, first_jid);
                break;
            }
            ClientEvent::Stanza(_) => {}
            other => panic!("{other:?}"),
        }
    }
    alice.send_confirmed(to_server("last")).await.unwrap();
    let bodies = server.seen(|seen| seen.bodies.clone());
    let mut expected: Vec<String> = (0..5).map(|i| format!("before {i}")).collect();
    expected.push(KILL.to_owned());
    expected.extend((0..5).map(|i| format!("after {i}")));
    expected.push("last".to_owned());
    // Nothing lost, nothing twice, in order.
    assert_eq!(bodies, expected);
    assert_eq!(server.seen(|seen| seen.resumed), 1);
    alice.close().await;
}

/// A request nobody answers times out with a typed error, and the stream
/// stays usable.
#[tokio::test]
async fn request_times_out() {
    let server = TestServer::start(&["alice"]).await;
    let alice = builder(&server, "alice", server.starttls)
        .request_timeout(Duration::from_millis(300))
        .connect();
    let alice = tokio::time::timeout(LIMIT, alice).await.unwrap().unwrap();
    let silent = minidom::Element::builder("q", NS_SILENT).build();
    let error = alice.request(Iq::get(None, silent)).await.unwrap_err();
    assert!(matches!(error, ClientError::Timeout), "{error:?}");
    alice
        .request(Iq::get(None, Ping.to_element()))
        .await
        .unwrap();
    alice.close().await;
}

/// Wrong password: the first connect fails with the typed error, no retry.
#[tokio::test]
async fn wrong_password_is_a_final_error() {
    let server = TestServer::start(&["alice"]).await;
    let result = ClientBuilder::new(&format!("alice@{DOMAIN}"), "wrong")
        .server(&server.starttls.to_string())
        .roots(Roots::ExtraOnly)
        .ca_file(&server.ca.ca_file)
        .connect();
    let error = tokio::time::timeout(LIMIT, result)
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(
            error,
            ClientError::Connection(ConnectionError::AuthenticationFailed(_))
        ),
        "{error:?}"
    );
}

/// A server certificate from a CA the client does not trust is refused.
#[tokio::test]
async fn untrusted_certificate_is_refused() {
    let server = TestServer::start(&["alice"]).await;
    let other = rt_support::test_ca();
    let result = ClientBuilder::new(&format!("alice@{DOMAIN}"), PASSWORD)
        .server(&server.starttls.to_string())
        .roots(Roots::ExtraOnly)
        .ca_pem(other.ca_pem.as_bytes())
        .connect();
    let error = tokio::time::timeout(LIMIT, result)
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(
            &error,
            ClientError::Transport(xmpp_kit::rt::TransportError::Tls(_))
        ),
        "{error:?}"
    );
}

/// A missing CA file is a typed error naming the file.
#[tokio::test]
async fn missing_ca_file_is_reported() {
    let error = ClientBuilder::new("alice@example.test", PASSWORD)
        .server("127.0.0.1:1")
        .ca_file("/nonexistent/ca.pem")
        .connect()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("/nonexistent/ca.pem"), "{error}");
}

/// RFC 7395 over TLS (wss) and plain (ws).
#[cfg(feature = "websocket")]
#[tokio::test]
async fn websocket_wss_and_ws() {
    let server = TestServer::start(&["alice", "bob"]).await;
    let alice = ClientBuilder::new(&format!("alice@{DOMAIN}"), PASSWORD)
        .websocket(&format!("wss://{}/xmpp-websocket", server.wss))
        .roots(Roots::ExtraOnly)
        .ca_file(&server.ca.ca_file)
        .connect();
    let alice = tokio::time::timeout(LIMIT, alice).await.unwrap().unwrap();
    let bob = ClientBuilder::new(&format!("bob@{DOMAIN}"), PASSWORD)
        .websocket(&format!("ws://{}/xmpp-websocket", server.ws))
        .allow_plaintext()
        .connect();
    let mut bob = tokio::time::timeout(LIMIT, bob).await.unwrap().unwrap();
    alice
        .send_confirmed(Message::chat(bob.jid().clone().into(), "over websocket"))
        .await
        .unwrap();
    let Stanza::Message(got) = next_stanza(&mut bob).await else {
        panic!()
    };
    assert_eq!(got.body(), Some("over websocket"));
    alice
        .request(Iq::get(None, Ping.to_element()))
        .await
        .unwrap();
    alice.close().await;
    bob.close().await;
}

/// A component connects, gets a message routed to its domain and answers.
#[tokio::test]
async fn component_round_trip() {
    let server = TestServer::start(&["alice"]).await;
    let mut component = tokio::time::timeout(
        LIMIT,
        xmpp_kit::rt::component::Component::connect(
            &server.component.to_string(),
            "echo.example.test",
            rt_support::COMPONENT_SECRET,
        ),
    )
    .await
    .unwrap()
    .unwrap();
    let mut alice =
        tokio::time::timeout(LIMIT, builder(&server, "alice", server.starttls).connect())
            .await
            .unwrap()
            .unwrap();
    alice
        .send(Message::chat(
            "bot@echo.example.test".parse().unwrap(),
            "ping me",
        ))
        .await
        .unwrap();
    let event = tokio::time::timeout(LIMIT, component.next())
        .await
        .unwrap()
        .unwrap();
    let xmpp_kit::rt::component::ComponentEvent::Stanza(Stanza::Message(message)) = event else {
        panic!("{event:?}")
    };
    let reply = Message::chat(message.from.clone().unwrap(), "pong")
        .with_from("bot@echo.example.test".parse().unwrap());
    component.send(reply).await.unwrap();
    let Stanza::Message(got) = next_stanza(&mut alice).await else {
        panic!()
    };
    assert_eq!(got.body(), Some("pong"));
    component.close().await;
    alice.close().await;
}
