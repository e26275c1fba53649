//! The blocking client over std::net against our own server-side adapter
//! (on a background tokio runtime), with real TLS from a test CA.
#![cfg(all(feature = "tokio", feature = "blocking"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod rt_support;

use std::time::Duration;

use rt_support::{DOMAIN, NS_SILENT, PASSWORD, TestServer, to_server};
use xmpp_kit::client::ConnectionError;
use xmpp_kit::ext::Payload as _;
use xmpp_kit::ext::ping::Ping;
use xmpp_kit::rt::Roots;
use xmpp_kit::rt::blocking::{BlockingClient, BlockingOptions};
use xmpp_kit::rt::client::ClientError;
use xmpp_kit::stanza::{Iq, IqKind, Message, Stanza};

const WAIT: Duration = Duration::from_secs(10);

fn with_server(users: &[&str], test: impl FnOnce(&TestServer)) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(TestServer::start(users));
    test(&server);
    drop(server);
    runtime.shutdown_background();
}

fn options(server: &TestServer, user: &str, address: std::net::SocketAddr) -> BlockingOptions {
    let mut options = BlockingOptions::new(&format!("{user}@{DOMAIN}"), PASSWORD);
    options.server = Some(address.to_string());
    options.roots = Roots::ExtraOnly;
    options.ca_files = vec![server.ca.ca_file.clone()];
    options
}

/// STARTTLS, a message to another blocking client, confirmation, ping,
/// a request that times out, clean close.
#[test]
fn starttls_message_request_timeout_and_close() {
    with_server(&["alice", "bob"], |server| {
        let mut alice =
            BlockingClient::connect(&options(server, "alice", server.starttls)).unwrap();
        let mut bob = BlockingClient::connect(&options(server, "bob", server.starttls)).unwrap();
        alice
            .send_confirmed(Message::chat(bob.jid().clone().into(), "hi bob"), WAIT)
            .unwrap();
        let got = loop {
            match bob.recv(WAIT).unwrap() {
                Some(Stanza::Message(message)) => break message,
                Some(_) => {}
                None => panic!("no message"),
            }
        };
        assert_eq!(got.body(), Some("hi bob"));
        let pong = alice
            .request(Iq::get(None, Ping.to_element()), WAIT)
            .unwrap();
        assert!(matches!(pong.kind, IqKind::Result(None)));
        let silent = minidom::Element::builder("q", NS_SILENT).build();
        let error = alice
            .request(Iq::get(None, silent), Duration::from_millis(300))
            .unwrap_err();
        assert!(matches!(error, ClientError::Timeout), "{error:?}");
        alice
            .send_confirmed(to_server("after the timeout"), WAIT)
            .unwrap();
        alice.close().unwrap();
        bob.close().unwrap();
        let bodies = server.seen(|seen| seen.bodies.clone());
        assert_eq!(bodies, ["hi bob", "after the timeout"]);
    });
}

/// XEP-0368 direct TLS (ALPN xmpp-client).
#[test]
fn direct_tls() {
    with_server(&["alice"], |server| {
        let mut options = options(server, "alice", server.direct);
        options.direct_tls = true;
        let mut alice = BlockingClient::connect(&options).unwrap();
        alice
            .request(Iq::get(None, Ping.to_element()), WAIT)
            .unwrap();
        alice.close().unwrap();
    });
}

#[test]
fn wrong_password_is_a_typed_error() {
    with_server(&["alice"], |server| {
        let mut options = options(server, "alice", server.starttls);
        options.password = "wrong".to_owned();
        let error = BlockingClient::connect(&options).unwrap_err();
        assert!(
            matches!(
                error,
                ClientError::Connection(ConnectionError::AuthenticationFailed(_))
            ),
            "{error:?}"
        );
    });
}
