//! End to end on loopback: our tokio client adapter against our own
//! server-side adapter, with real TLS from a test CA. The flows live in
//! `rt_support::flows`; `rt_futures_io.rs` runs the same ones on smol.
#![cfg(feature = "tokio")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod rt_support;

use futures::StreamExt as _;
use rt_support::TestServer;
use rt_support::flows::{self, Connector, builder, next_stanza, within};
use xmpp_kit::rt::client::ClientBuilder;
use xmpp_kit::stanza::{Message, Stanza};

fn tokio_connect(
    builder: ClientBuilder,
) -> std::pin::Pin<
    Box<
        dyn Future<Output = Result<xmpp_kit::rt::client::Client, xmpp_kit::rt::client::ClientError>>
            + Send,
    >,
> {
    Box::pin(builder.connect())
}

#[tokio::test]
async fn starttls_scram_plus_message_request_and_close() {
    let server = TestServer::start(&["alice", "bob"]).await;
    flows::starttls_scram_plus_message_request_and_close(&server, &tokio_connect).await;
}

#[tokio::test]
async fn direct_tls_scram_plus() {
    let server = TestServer::start(&["alice"]).await;
    flows::direct_tls_scram_plus(&server, &tokio_connect).await;
}

#[tokio::test]
async fn reconnect_and_resume_after_the_server_cuts_the_connection() {
    let server = TestServer::start(&["alice"]).await;
    flows::reconnect_and_resume_after_the_server_cuts_the_connection(&server, &tokio_connect).await;
}

#[tokio::test]
async fn request_times_out() {
    let server = TestServer::start(&["alice"]).await;
    flows::request_times_out(&server, &tokio_connect).await;
}

#[tokio::test]
async fn wrong_password_is_a_final_error() {
    let server = TestServer::start(&["alice"]).await;
    flows::wrong_password_is_a_final_error(&server, &tokio_connect).await;
}

#[tokio::test]
async fn untrusted_certificate_is_refused() {
    let server = TestServer::start(&["alice"]).await;
    flows::untrusted_certificate_is_refused(&server, &tokio_connect).await;
}

#[cfg(feature = "websocket")]
#[tokio::test]
async fn websocket_wss_and_ws() {
    let server = TestServer::start(&["alice", "bob"]).await;
    flows::websocket_wss_and_ws(&server, &tokio_connect).await;
}

/// A missing CA file is a typed error naming the file.
#[tokio::test]
async fn missing_ca_file_is_reported() {
    let error = ClientBuilder::new("alice@example.test", rt_support::PASSWORD)
        .server("127.0.0.1:1")
        .ca_file("/nonexistent/ca.pem")
        .connect()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("/nonexistent/ca.pem"), "{error}");
}

#[tokio::test]
async fn component_round_trip() {
    let server = TestServer::start(&["alice"]).await;
    let server = &server;
    let connect: &Connector = &tokio_connect;
    let mut component = within(xmpp_kit::rt::component::Component::connect(
        &server.component.to_string(),
        "echo.example.test",
        rt_support::COMPONENT_SECRET,
    ))
    .await
    .unwrap();
    let mut alice = within(connect(builder(server, "alice", server.starttls)))
        .await
        .unwrap();
    alice
        .send(Message::chat(
            "bot@echo.example.test".parse().unwrap(),
            "ping me",
        ))
        .await
        .unwrap();
    let event = within(component.next()).await.unwrap();
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

/// A send-only program drops its events: the client keeps reading (acks
/// still arrive) however many stanzas come in.
#[tokio::test]
async fn dropped_events_do_not_stall_the_client() {
    let server = TestServer::start(&["alice", "bob"]).await;
    let alice = within(tokio_connect(builder(&server, "alice", server.starttls)))
        .await
        .unwrap();
    let (alice, events) = alice.split();
    drop(events);
    let bob = within(tokio_connect(builder(&server, "bob", server.starttls)))
        .await
        .unwrap();
    let to_alice: xmpp_kit::jid::Jid = alice.jid().clone().into();
    for i in 0..400 {
        bob.send(Message::chat(to_alice.clone(), format!("m{i}")))
            .await
            .unwrap();
    }
    within(bob.send_confirmed(Message::chat(to_alice.clone(), "last")))
        .await
        .unwrap();
    within(alice.send_confirmed(rt_support::to_server("still reading")))
        .await
        .unwrap();
    alice.close().await;
    bob.close().await;
}

/// A request acknowledged (XEP-0198) before it is answered still gets its
/// answer: the ack confirms receipt, not the answer.
#[tokio::test]
async fn a_request_acked_before_its_answer_still_gets_the_answer() {
    let server = TestServer::start(&["alice"]).await;
    let alice = within(tokio_connect(builder(&server, "alice", server.starttls)))
        .await
        .unwrap();
    let late = minidom::Element::builder("q", rt_support::NS_LATE).build();
    let request = alice.request(xmpp_kit::stanza::Iq::get(None, late));
    // Confirming a message asks for an ack now, which covers the request.
    let confirm = alice.send_confirmed(rt_support::to_server("after the request"));
    let (answer, confirmed) = within(futures::future::join(request, confirm)).await;
    confirmed.unwrap();
    let answer = answer.unwrap();
    assert!(matches!(
        answer.kind,
        xmpp_kit::stanza::IqKind::Result(None)
    ));
    alice.close().await;
}

/// Without stream management, a message is confirmed by a ping round trip;
/// a server that answers pings with an error confirms it all the same.
#[tokio::test]
async fn send_confirmed_without_sm_accepts_an_error_answer_to_the_ping() {
    let server = TestServer::start(&["noping"]).await;
    let client = within(tokio_connect(
        builder(&server, "noping", server.starttls).stream_management(false),
    ))
    .await
    .unwrap();
    within(client.send_confirmed(rt_support::to_server("confirmed anyway")))
        .await
        .unwrap();
    assert_eq!(
        server.seen(|seen| seen.bodies.clone()),
        ["confirmed anyway"]
    );
    client.close().await;
}
