//! The client flows every adapter must pass, written once over a
//! `connect` function so the tokio and the futures-io (smol) tests run the
//! very same steps. Timeouts use async-io's timer, which works on any
//! executor.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures::StreamExt as _;
use xmpp_kit::client::ConnectionError;
use xmpp_kit::ext::Payload as _;
use xmpp_kit::ext::ping::Ping;
use xmpp_kit::jid::Jid;
use xmpp_kit::rt::Roots;
use xmpp_kit::rt::client::{Client, ClientBuilder, ClientError, ClientEvent};
use xmpp_kit::sasl::Mechanism;
use xmpp_kit::stanza::{DefinedCondition, Iq, Message, Stanza};

use super::{DOMAIN, KILL, NS_SILENT, PASSWORD, TestServer, to_server};

/// Connects a built client with some adapter.
pub type Connector =
    dyn Fn(ClientBuilder) -> Pin<Box<dyn Future<Output = Result<Client, ClientError>> + Send>>;

const LIMIT: Duration = Duration::from_secs(20);

/// `future`, or a panic after 20 s: no test hangs.
pub async fn within<T>(future: impl Future<Output = T>) -> T {
    let timer = async {
        async_io::Timer::after(LIMIT).await;
        panic!("timed out after {LIMIT:?}");
    };
    futures::pin_mut!(future);
    futures::pin_mut!(timer);
    match futures::future::select(future, timer).await {
        futures::future::Either::Left((value, _)) => value,
        futures::future::Either::Right(((), _)) => unreachable!(),
    }
}

pub fn builder(server: &TestServer, user: &str, address: std::net::SocketAddr) -> ClientBuilder {
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

pub async fn next_stanza(client: &mut Client) -> Stanza {
    loop {
        match within(client.next()).await {
            Some(ClientEvent::Stanza(stanza)) => return stanza,
            Some(_) => {}
            None => panic!("client ended"),
        }
    }
}

pub async fn starttls_scram_plus_message_request_and_close(
    server: &TestServer,
    connect: &Connector,
) {
    let seen_mechanism = std::sync::Arc::new(std::sync::Mutex::new(None));
    let recorder = std::sync::Arc::clone(&seen_mechanism);
    let alice = builder(server, "alice", server.starttls).configure(move |config| {
        // Only SCRAM-SHA-256-PLUS may succeed here: proof that the
        // channel binding (tls-exporter on TLS 1.3) matched on both
        // sides.
        only_scram_sha256_plus(config);
        *recorder.lock().unwrap() = Some(());
    });
    let alice = within(connect(alice)).await.unwrap();
    assert!(seen_mechanism.lock().unwrap().is_some());
    assert_eq!(alice.jid().domain(), DOMAIN);
    let mut bob = within(connect(builder(server, "bob", server.starttls)))
        .await
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
    within(alice.close()).await;
    within(bob.close()).await;
}

pub async fn direct_tls_scram_plus(server: &TestServer, connect: &Connector) {
    let alice = builder(server, "alice", server.direct)
        .direct_tls(true)
        .configure(only_scram_sha256_plus);
    let alice = within(connect(alice)).await.unwrap();
    alice
        .request(Iq::get(None, Ping.to_element()))
        .await
        .unwrap();
    alice.close().await;
}

pub async fn reconnect_and_resume_after_the_server_cuts_the_connection(
    server: &TestServer,
    connect: &Connector,
) {
    let alice = builder(server, "alice", server.starttls).reconnect({
        let mut policy = xmpp_kit::rt::backoff::ReconnectPolicy::new();
        policy.initial = Duration::from_millis(50);
        policy.max = Duration::from_millis(200);
        policy
    });
    let mut alice = within(connect(alice)).await.unwrap();
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
        match within(alice.next()).await.unwrap() {
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

pub async fn request_times_out(server: &TestServer, connect: &Connector) {
    let alice =
        builder(server, "alice", server.starttls).request_timeout(Duration::from_millis(300));
    let alice = within(connect(alice)).await.unwrap();
    let silent = minidom::Element::builder("q", NS_SILENT).build();
    let error = alice.request(Iq::get(None, silent)).await.unwrap_err();
    assert!(matches!(error, ClientError::Timeout), "{error:?}");
    alice
        .request(Iq::get(None, Ping.to_element()))
        .await
        .unwrap();
    alice.close().await;
}

pub async fn wrong_password_is_a_final_error(server: &TestServer, connect: &Connector) {
    let result = ClientBuilder::new(&format!("alice@{DOMAIN}"), "wrong")
        .server(&server.starttls.to_string())
        .roots(Roots::ExtraOnly)
        .ca_file(&server.ca.ca_file);
    let error = within(connect(result)).await.unwrap_err();
    assert!(
        matches!(
            error,
            ClientError::Connection(ConnectionError::AuthenticationFailed(_))
        ),
        "{error:?}"
    );
}

pub async fn untrusted_certificate_is_refused(server: &TestServer, connect: &Connector) {
    let other = super::test_ca();
    let result = ClientBuilder::new(&format!("alice@{DOMAIN}"), PASSWORD)
        .server(&server.starttls.to_string())
        .roots(Roots::ExtraOnly)
        .ca_pem(other.ca_pem.as_bytes());
    let error = within(connect(result)).await.unwrap_err();
    assert!(
        matches!(
            &error,
            ClientError::Transport(xmpp_kit::rt::TransportError::Tls(_))
        ),
        "{error:?}"
    );
}

#[cfg(feature = "websocket")]
pub async fn websocket_wss_and_ws(server: &TestServer, connect: &Connector) {
    let alice = ClientBuilder::new(&format!("alice@{DOMAIN}"), PASSWORD)
        .websocket(&format!("wss://{}/xmpp-websocket", server.wss))
        .roots(Roots::ExtraOnly)
        .ca_file(&server.ca.ca_file);
    let alice = within(connect(alice)).await.unwrap();
    let bob = ClientBuilder::new(&format!("bob@{DOMAIN}"), PASSWORD)
        .websocket(&format!("ws://{}/xmpp-websocket", server.ws))
        .allow_plaintext();
    let mut bob = within(connect(bob)).await.unwrap();
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
