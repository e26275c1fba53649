//! The same client flows as `rt_tokio.rs`, through the futures-io adapter
//! on smol (a non-tokio executor): smol's sockets, async-io's timer,
//! smol's spawner. Only the test server runs on a tokio runtime of its own,
//! in the background.
#![cfg(feature = "tokio")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod rt_support;

use std::future::Future;
use std::pin::Pin;

use rt_support::TestServer;
use rt_support::flows;
use xmpp_kit::rt::client::{Client, ClientBuilder, ClientError};
use xmpp_kit::rt::driver::sleeper;

/// Connects with smol: the address the builder was given, smol's TCP
/// stream.
fn smol_connect(
    builder: ClientBuilder,
) -> Pin<Box<dyn Future<Output = Result<Client, ClientError>> + Send>> {
    let (host, port) = builder.address().expect("tests give an address");
    {
        Box::pin(builder.connect_with(
            move || smol::net::TcpStream::connect((host.clone(), port)),
            sleeper(|deadline| async move {
                async_io::Timer::at(deadline).await;
            }),
            |task| smol::spawn(task).detach(),
        ))
    }
}

/// Runs `flow` on smol against a test server on a background tokio
/// runtime.
fn on_smol(users: &[&str], flow: impl AsyncFnOnce(&TestServer, &flows::Connector)) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(TestServer::start(users));
    smol::block_on(flow(&server, &smol_connect));
    drop(server);
    runtime.shutdown_background();
}

#[test]
fn starttls_scram_plus_message_request_and_close() {
    on_smol(&["alice", "bob"], async |server, connect| {
        flows::starttls_scram_plus_message_request_and_close(server, connect).await;
    });
}

#[test]
fn direct_tls_scram_plus() {
    on_smol(&["alice"], async |server, connect| {
        flows::direct_tls_scram_plus(server, connect).await;
    });
}

#[test]
fn reconnect_and_resume_after_the_server_cuts_the_connection() {
    on_smol(&["alice"], async |server, connect| {
        flows::reconnect_and_resume_after_the_server_cuts_the_connection(server, connect).await;
    });
}

#[test]
fn request_times_out() {
    on_smol(&["alice"], async |server, connect| {
        flows::request_times_out(server, connect).await;
    });
}

#[cfg(feature = "websocket")]
#[test]
fn websocket_wss_and_ws() {
    on_smol(&["alice", "bob"], async |server, connect| {
        flows::websocket_wss_and_ws(server, connect).await;
    });
}
