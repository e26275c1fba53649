//! # xmpp-kit
//!
//! XMPP for push-based messaging: bots, services that push events to people
//! and devices, and servers built on top.
//!
//! ## Quickstart (feature `tokio`, on by default)
//!
//! ```no_run
//! # #[cfg(feature = "tokio")]
//! # async fn bot() -> Result<(), xmpp_kit::rt::client::ClientError> {
//! use xmpp_kit::rt::client::Client;
//! use xmpp_kit::stanza::Message;
//! let client = Client::connect("bot@example.com", "secret").await?;
//! client.send_confirmed(Message::chat("ops@example.com".parse()?, "deploy done")).await?;
//! client.close().await;
//! # Ok(()) }
//! ```
//!
//! [`Client::connect`](rt::client::Client::connect) looks up the domain's
//! SRV records (RFC 6120, XEP-0368), runs STARTTLS or direct TLS with the
//! system's roots, authenticates with the strongest SASL mechanism
//! (SCRAM-*-PLUS when TLS allows channel binding), binds, and enables
//! stream management. The client reconnects by itself and resumes the
//! session, so nothing sent is lost. Use
//! [`ClientBuilder`](rt::client::ClientBuilder) to set the server address,
//! an extra CA, direct TLS, WebSocket, limits or the reconnect policy.
//! Events arrive as a [`futures::Stream`]; `request(iq).await` returns the
//! answer or a typed error. See `examples/` for a bot, a one-shot sender,
//! a component and a blocking script.
//!
//! ## Layers
//!
//! The crate is built in layers, bottom up. Arrows point down only; the core
//! never names a socket, an async runtime, a TLS library or the clock.
//!
//! ```text
//!   rt (features): Client, Component, server-side Sessions
//!     tokio | futures-io (any executor) | blocking adapters
//!     Engine: rustls (sans-IO) + RFC 7395 WebSocket + a machine
//!   ---------------------------------------------------------------
//!   sans-IO core (always built):
//!     client connection, SASL      ClientConnection, sasl
//!     stanza, ext   typed stanzas and extension payloads
//!     server side, components   ServerConnection, component
//!     xml   framing: StreamParser / StreamWriter, Limits
//!     jid   RFC 7622 addresses with PRECIS
//!     stream, ns   stream error conditions, namespace names
//! ```
//!
//! ## Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `tokio` | yes | TCP, DNS SRV (hickory), tokio tasks and timers; `Client::connect`, `Component::connect`, `ServerListener`, `ComponentListener` |
//! | `futures-io` | with `tokio` | the async driver over any `futures::io` stream and a caller's timer (smol, async-std): `ClientBuilder::connect_with`, `Session` |
//! | `blocking` | no | `BlockingClient` over `std::net`, for scripts and cron jobs |
//! | `websocket` | no | RFC 7395 over ws and wss in the adapters above |
//! | `tls` | with any adapter | rustls configurations and channel-binding export |
//!
//! Without default features only the sans-IO core is built:
//! `cargo build --no-default-features` names no runtime and no TLS library.
//!
//! ## What the core offers
//!
//! * [`Jid`], [`BareJid`], [`FullJid`]: parsing, validation and
//!   normalization of XMPP addresses (RFC 7622), and XEP-0106 escaping
//!   ([`jid::escape_node`], [`jid::unescape_node`]).
//! * [`xml::StreamParser`]: an incremental, sans-IO framer that turns bytes
//!   from a peer, split anywhere, into [`xml::Frame`]s (stream header,
//!   complete top-level elements as [`minidom::Element`], keepalives, close),
//!   for RFC 6120 streams and RFC 7395 WebSocket framing, with enforced
//!   [`xml::Limits`] and typed errors that map to RFC 6120 stream error
//!   conditions ([`stream::StreamErrorCondition`]).
//! * [`xml::StreamWriter`]: the other direction, writing straight into a
//!   [`bytes::BytesMut`].
//! * [`stanza`]: typed [`Message`](stanza::Message),
//!   [`Presence`](stanza::Presence), [`Iq`](stanza::Iq), stanza errors and
//!   error replies; [`ext`]: typed payloads of the common XEPs.
//! * [`sasl`]: SCRAM (with channel binding), PLAIN, EXTERNAL and ANONYMOUS,
//!   client and server sides.
//! * [`ClientConnection`]: the client stream as a state machine: STARTTLS,
//!   SASL, bind, stream management with resumption, iq tracking, keepalive.
//! * [`server::ServerConnection`]: the server side of client streams, and
//!   [`component::ComponentConnection`]: XEP-0114 components, connecting to
//!   a server or accepted by one.
//!
//! ## Writing your own adapter
//!
//! With feature `tls`, [`rt::Engine`] stacks rustls, optional WebSocket
//! framing and any connection machine, so a custom adapter (mio, an
//! embedded loop) only moves raw bytes: `handle_input` what the socket
//! read, write every `poll_transmit`, take every `poll_output`, arm one
//! timer at `poll_timeout`. Below it, the machines themselves follow the
//! same loop:
//!
//! ### The run loop of a connection
//!
//! [`ClientConnection`] (like [`server::ServerConnection`] and
//! [`component::ComponentConnection`])
//! is a state machine with one contract, the same for every runtime: feed
//! it what happened (`handle_input`, `handle_eof`, `handle_timeout`,
//! `tls_established`) or what you want (`send`, `close`); after **every**
//! such call, drain `poll_output` until it returns `None`, acting on each
//! output in order; then arm one timer for `poll_timeout`. Time always
//! comes from the caller, as an [`Instant`](std::time::Instant).
//!
//! ```
//! use std::time::Instant;
//! use xmpp_kit::client::{ClientConfig, ClientConnection, CloseReason, Output};
//!
//! /// Whatever moves bytes: a socket, a TLS session, a test double.
//! trait Transport {
//!     fn write(&mut self, bytes: &[u8]);
//!     /// Bytes read, or `None` at the end of the input.
//!     fn read(&mut self) -> Option<Vec<u8>>;
//!     fn start_tls(&mut self) -> xmpp_kit::client::TlsInfo;
//! }
//!
//! fn run(mut connection: ClientConnection, transport: &mut impl Transport) -> CloseReason {
//!     loop {
//!         // 1. Act on every output, in order.
//!         while let Some(output) = connection.poll_output() {
//!             match output {
//!                 Output::Transmit(bytes) => transport.write(&bytes),
//!                 Output::StartTls => {
//!                     let info = transport.start_tls();
//!                     let _ = connection.tls_established(Instant::now(), info);
//!                 }
//!                 Output::Event(event) => println!("{event:?}"),
//!                 Output::Closed(reason) => return reason,
//!                 _ => {}
//!             }
//!         }
//!         // 2. Wait for input or for `connection.poll_timeout()` (a real
//!         //    loop selects on both), then feed what happened.
//!         match transport.read() {
//!             Some(bytes) => {
//!                 let _ = connection.handle_input(Instant::now(), &bytes);
//!             }
//!             None => connection.handle_eof(Instant::now()),
//!         }
//!     }
//! }
//!
//! // A transport whose peer hangs up at once.
//! struct HangUp(Vec<u8>);
//! impl Transport for HangUp {
//!     fn write(&mut self, bytes: &[u8]) { self.0.extend_from_slice(bytes) }
//!     fn read(&mut self) -> Option<Vec<u8>> { None }
//!     fn start_tls(&mut self) -> xmpp_kit::client::TlsInfo { Default::default() }
//! }
//!
//! let config = ClientConfig::new("juliet@example.com".parse()?, "secret", [0; 32]);
//! let mut transport = HangUp(Vec::new());
//! let reason = run(ClientConnection::new(config, Instant::now()), &mut transport);
//! assert!(transport.0.starts_with(b"<?xml version='1.0'?><stream:stream"));
//! assert!(matches!(reason, CloseReason::Error(_)));
//! # Ok::<(), xmpp_kit::JidError>(())
//! ```
//!
//! ## Reading a stream
//!
//! The framer is driven by the caller: feed whatever bytes arrived, then
//! take frames until there are none. Nothing blocks and nothing is read
//! behind the caller's back, so the same code serves a tokio task, a
//! blocking loop, a fuzzer or a test with bytes in memory.
//!
//! ```
//! use xmpp_kit::stream::StreamErrorCondition;
//! use xmpp_kit::xml::{Frame, Limits, StreamParser};
//!
//! let mut parser = StreamParser::new(Limits::default());
//! let reads: [&[u8]; 3] = [
//!     b"<stream:stream xmlns='jabber:client' xmlns:stream='http://ethe",
//!     b"rx.jabber.org/streams' to='example.com' version='1.0'><message><bo",
//!     b"dy>hi</body></message><!-- no comments in XMPP -->",
//! ];
//! let mut elements = 0;
//! let mut error = None;
//! 'read: for bytes in reads {
//!     parser.feed(bytes);
//!     loop {
//!         match parser.next_frame() {
//!             Ok(Some(Frame::Element(_))) => elements += 1,
//!             Ok(Some(_)) => {}
//!             Ok(None) => break,                      // wait for the next read
//!             Err(e) => { error = Some(e.condition()); break 'read; }
//!         }
//!     }
//! }
//! assert_eq!(elements, 1);
//! // The peer is answered with <stream:error><restricted-xml/>...
//! assert_eq!(error, Some(StreamErrorCondition::RestrictedXml));
//! ```

pub mod client;
pub mod component;
pub mod ext;
#[cfg(feature = "hub")]
pub mod hub;
pub mod jid;
pub mod ns;
#[cfg(feature = "tls")]
pub mod rt;
pub mod sasl;
pub mod server;
pub mod stanza;
pub mod stream;
pub mod xml;

pub use client::{ClientConfig, ClientConnection};
pub use jid::{BareJid, FullJid, Jid, JidError};

/// The code blocks of README.md, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
