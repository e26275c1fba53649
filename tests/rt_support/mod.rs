//! A small XMPP server built from our own server-side adapter, for the
//! adapter tests and the examples' tests: a test CA, SCRAM accounts, a
//! router between online clients, and hooks to misbehave (answer nothing,
//! cut a connection mid-stream).
#![allow(
    dead_code,
    clippy::collapsible_match,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use futures::StreamExt as _;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::compat::TokioAsyncReadCompatExt as _;
use xmpp_kit::client::ResumeState;
use xmpp_kit::ext::Payload as _;
use xmpp_kit::ext::disco::{DiscoInfo, Identity};
use xmpp_kit::ext::ping::Ping;
use xmpp_kit::jid::{FullJid, Jid};
use xmpp_kit::rt::ServerTls;
use xmpp_kit::rt::server::{ServerTransport, serve_client, serve_component};
use xmpp_kit::rt::session::{SessionEvent, SessionHandle};
use xmpp_kit::rt::tokio::TokioSleeper;
use xmpp_kit::sasl::{ScramCredentials, ScramHash, ServerCredentials};
use xmpp_kit::server::{self, AcceptConfig, ListenConfig, ServerConnection, TlsPolicy};
use xmpp_kit::stanza::{DefinedCondition, Iq, IqKind, Message, Stanza, StanzaError};

pub const DOMAIN: &str = "example.test";
pub const PASSWORD: &str = "s3cr3t-pw";
/// Iqs with a payload in this namespace are never answered.
pub const NS_SILENT: &str = "urn:xmpp-kit:test:silent";
/// Iqs with a payload in this namespace are answered after 300 ms, so that
/// acknowledgements overtake the answer.
pub const NS_LATE: &str = "urn:xmpp-kit:test:late";
/// A message with this body to the server's domain cuts the sender's TCP
/// connection (after keeping its resumption state).
pub const KILL: &str = "kill-my-connection";
pub const COMPONENT_SECRET: &str = "component-secret";

/// A CA, a server certificate for [`DOMAIN`] signed by it, and the CA's
/// PEM file on disk (for `--ca`).
pub struct TestCa {
    pub ca_pem: String,
    pub ca_file: PathBuf,
    pub server: ServerTls,
}

pub fn test_ca() -> TestCa {
    let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "xmpp-kit test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let params = rcgen::CertificateParams::new(vec![DOMAIN.to_owned()]).unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let chain = format!("{}{}", cert.pem(), ca_cert.pem());
    let server = ServerTls::from_pem(chain.as_bytes(), key.serialize_pem().as_bytes()).unwrap();
    let dir = std::env::temp_dir().join(format!("xmpp-kit-test-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca_file = dir.join(format!("ca-{}.pem", unique()));
    std::fs::write(&ca_file, ca_cert.pem()).unwrap();
    TestCa {
        ca_pem: ca_cert.pem(),
        ca_file,
        server,
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Accounts as SCRAM credentials: every user has [`PASSWORD`].
struct Store {
    users: HashMap<String, Vec<ScramCredentials>>,
}

impl ServerCredentials for Store {
    fn scram(&self, username: &str, hash: ScramHash) -> Option<ScramCredentials> {
        self.users
            .get(username)?
            .iter()
            .find(|c| c.hash == hash)
            .cloned()
    }
    fn verify_plain(&self, username: &str, password: &str) -> bool {
        self.users
            .get(username)
            .and_then(|c| c.first())
            .is_some_and(|c| c.verify_password(password))
    }
}

fn store(users: &[&str]) -> Arc<Store> {
    let users = users
        .iter()
        .map(|user| {
            let creds = [ScramHash::Sha1, ScramHash::Sha256, ScramHash::Sha512]
                .into_iter()
                .map(|h| ScramCredentials::derive(h, PASSWORD, user.as_bytes(), 4096))
                .collect();
            ((*user).to_owned(), creds)
        })
        .collect();
    Arc::new(Store { users })
}

/// What the server saw, for assertions.
#[derive(Default)]
pub struct Seen {
    /// Bodies of messages the server routed or received, in order.
    pub bodies: Vec<String>,
    /// SASL mechanisms clients authenticated with.
    pub mechanisms: Vec<String>,
    /// Sessions that resumed.
    pub resumed: usize,
    /// Connections cut by [`KILL`].
    pub kills: usize,
}

#[derive(Default)]
struct Shared {
    online: HashMap<String, SessionHandle<ServerConnection>>,
    components: HashMap<String, SessionHandle<xmpp_kit::component::ComponentConnection>>,
    parked: HashMap<String, ResumeState>,
    seen: Seen,
}

pub struct TestServer {
    /// STARTTLS port.
    pub starttls: std::net::SocketAddr,
    /// Direct TLS port.
    pub direct: std::net::SocketAddr,
    /// WebSocket over TLS (wss) port.
    pub wss: std::net::SocketAddr,
    /// Plain WebSocket (ws) port.
    pub ws: std::net::SocketAddr,
    /// XEP-0114 component port.
    pub component: std::net::SocketAddr,
    pub ca: TestCa,
    shared: Arc<Mutex<Shared>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl TestServer {
    /// Starts all listeners on loopback with accounts `users`.
    pub async fn start(users: &[&str]) -> Self {
        let ca = test_ca();
        let accept = AcceptConfig::new(DOMAIN, store(users));
        let shared = Arc::new(Mutex::new(Shared::default()));
        let mut tasks = Vec::new();
        let mut listen = |transport: ServerTransport, accept: AcceptConfig| {
            let shared = Arc::clone(&shared);
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.set_nonblocking(true).unwrap();
            let addr = listener.local_addr().unwrap();
            let listener = TcpListener::from_std(listener).unwrap();
            tasks.push(tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        return;
                    };
                    let killed = Arc::new(std::sync::atomic::AtomicBool::new(false));
                    let io = Killable {
                        io: stream.compat(),
                        killed: Arc::clone(&killed),
                    };
                    let (session, task) =
                        serve_client(io, ListenConfig::new(rand_seed()), &transport, TokioSleeper)
                            .unwrap();
                    let run = tokio::spawn(task);
                    tokio::spawn(serve(
                        session,
                        accept.clone(),
                        Arc::clone(&shared),
                        run,
                        killed,
                    ));
                }
            }));
            addr
        };
        let starttls = listen(ServerTransport::starttls(ca.server.clone()), accept.clone());
        let direct = listen(
            ServerTransport::direct_tls(ca.server.clone()),
            accept.clone(),
        );
        let mut wss = ServerTransport::direct_tls(ca.server.clone());
        wss.websocket = true;
        let wss = listen(wss, accept.clone());
        let mut ws = ServerTransport::default();
        ws.websocket = true;
        let mut plain = accept.clone();
        plain.tls = TlsPolicy::Disabled;
        let ws = listen(ws, plain);
        // Components.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let component = listener.local_addr().unwrap();
        let listener = TcpListener::from_std(listener).unwrap();
        let comp_shared = Arc::clone(&shared);
        tasks.push(tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (session, task) = serve_component(
                    stream.compat(),
                    xmpp_kit::component::AcceptConfig::new(rand_seed()),
                    TokioSleeper,
                );
                tokio::spawn(task);
                tokio::spawn(serve_one_component(session, Arc::clone(&comp_shared)));
            }
        }));
        Self {
            starttls,
            direct,
            wss,
            ws,
            component,
            ca,
            shared,
            tasks,
        }
    }

    pub fn seen<R>(&self, f: impl FnOnce(&Seen) -> R) -> R {
        f(&self.shared.lock().unwrap().seen)
    }
}

pub fn rand_seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    let n = unique().to_le_bytes();
    seed[..8].copy_from_slice(&n);
    seed[8..16].copy_from_slice(&(std::process::id() as u64).to_le_bytes());
    seed
}

async fn serve(
    mut session: xmpp_kit::rt::session::Session<ServerConnection>,
    accept: AcceptConfig,
    shared: Arc<Mutex<Shared>>,
    run: JoinHandle<()>,
    killed: Arc<std::sync::atomic::AtomicBool>,
) {
    let handle = session.handle();
    let mut me: Option<FullJid> = None;
    while let Some(event) = session.next().await {
        let SessionEvent::Event(event) = event else {
            break;
        };
        match event {
            server::Event::Header { .. } => {
                let accept = accept.clone();
                let _ = handle.call(move |m, now| m.accept(now, accept)).await;
            }
            server::Event::Authenticated { .. } => {}
            server::Event::Bind { requested } => {
                let user = handle
                    .call(|m, _| m.username().map(str::to_owned))
                    .await
                    .unwrap()
                    .unwrap();
                let resource = requested.unwrap_or_else(|| format!("r{}", unique()));
                let jid = FullJid::new(Some(&user), DOMAIN, &resource).unwrap();
                // Routable before the client learns its address, so a
                // message sent to it right after its connect is not lost.
                shared
                    .lock()
                    .unwrap()
                    .online
                    .insert(jid.as_str().to_owned(), handle.clone());
                me = Some(jid.clone());
                let _ = handle
                    .call(move |m, now| m.complete_bind(now, Ok(jid)))
                    .await;
            }
            server::Event::Resume { previd, .. } => {
                let state = shared.lock().unwrap().parked.remove(&previd);
                let resumed = state.is_some();
                if let Some(state) = &state {
                    shared
                        .lock()
                        .unwrap()
                        .online
                        .insert(state.jid.as_str().to_owned(), handle.clone());
                    me = Some(state.jid.clone());
                }
                let _ = handle
                    .call(move |m, now| m.complete_resume(now, state))
                    .await;
                if resumed {
                    shared.lock().unwrap().seen.resumed += 1;
                }
            }
            server::Event::Online { jid, .. } => {
                shared
                    .lock()
                    .unwrap()
                    .online
                    .insert(jid.as_str().to_owned(), handle.clone());
                me = Some(jid);
            }
            server::Event::Stanza(stanza) => {
                if handle_stanza(&handle, stanza, &shared).await == Flow::Kill {
                    // In one step inside the session task: keep the
                    // resumption state and cut the socket, so nothing is
                    // read (and counted) after the state was taken.
                    let parking = Arc::clone(&shared);
                    let kill = Arc::clone(&killed);
                    handle
                        .call(move |m, _| {
                            let state = m.take_resume_state();
                            let mut shared = parking.lock().unwrap();
                            if let Some(state) = state {
                                shared.parked.insert(state.id.clone(), state);
                            }
                            shared.seen.kills += 1;
                            kill.store(true, std::sync::atomic::Ordering::SeqCst);
                        })
                        .await
                        .unwrap();
                    drop(run);
                    // Stanzas the machine already counted as handled are
                    // ours to process: a cut transport loses none of them.
                    while let Some(event) = session.next().await {
                        if let SessionEvent::Event(server::Event::Stanza(stanza)) = event {
                            handle_stanza(&handle, stanza, &shared).await;
                        }
                    }
                    // The address now belongs to the session that resumes.
                    me = None;
                    break;
                }
            }
            _ => {}
        }
    }
    if let Some(me) = me {
        shared.lock().unwrap().online.remove(me.as_str());
    }
}

#[derive(PartialEq)]
enum Flow {
    Go,
    Kill,
}

async fn handle_stanza(
    handle: &SessionHandle<ServerConnection>,
    stanza: Stanza,
    shared: &Arc<Mutex<Shared>>,
) -> Flow {
    let to_server = stanza.recipient().is_none_or(|to| to.as_str() == DOMAIN);
    match stanza {
        Stanza::Iq(iq) if to_server => {
            let reply = match &iq.kind {
                // A server without XEP-0199, for the account "noping".
                IqKind::Get(payload)
                    if Ping::matches(payload)
                        && iq.from.as_ref().and_then(Jid::node) == Some("noping") =>
                {
                    iq.error_reply(StanzaError::new(DefinedCondition::ServiceUnavailable))
                }
                IqKind::Get(payload) if Ping::matches(payload) => Some(Iq::result_for(&iq, None)),
                IqKind::Get(payload) if DiscoInfo::matches(payload) => {
                    let mut info = DiscoInfo::default();
                    info.identities.push(Identity::new("server", "im"));
                    Some(Iq::result_for(&iq, Some(info.to_element())))
                }
                IqKind::Get(payload) | IqKind::Set(payload) if payload.ns() == NS_SILENT => None,
                IqKind::Get(payload) if payload.ns() == NS_LATE => {
                    let reply = Iq::result_for(&iq, None);
                    let handle = handle.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                        let _ = handle.call(move |m, now| m.send(now, reply)).await;
                    });
                    None
                }
                IqKind::Get(_) | IqKind::Set(_) => {
                    iq.error_reply(StanzaError::new(DefinedCondition::ServiceUnavailable))
                }
                _ => None,
            };
            if let Some(reply) = reply {
                let _ = handle.call(move |m, now| m.send(now, reply)).await;
            }
            Flow::Go
        }
        Stanza::Message(message) if to_server => {
            let body = message.body().unwrap_or_default().to_owned();
            shared.lock().unwrap().seen.bodies.push(body.clone());
            if body == KILL { Flow::Kill } else { Flow::Go }
        }
        other => {
            route(other, shared).await;
            Flow::Go
        }
    }
}

/// Delivers a stanza to an online full JID, any resource of a bare JID,
/// or a component's domain.
async fn route(stanza: Stanza, shared: &Arc<Mutex<Shared>>) {
    let Some(to) = stanza.recipient().cloned() else {
        return;
    };
    if let Stanza::Message(message) = &stanza
        && let Some(body) = message.body()
    {
        shared.lock().unwrap().seen.bodies.push(body.to_owned());
    }
    let (client, component) = {
        let shared = shared.lock().unwrap();
        let client = shared.online.get(to.as_str()).cloned().or_else(|| {
            shared
                .online
                .iter()
                .find(|(jid, _)| jid.split('/').next() == Some(to.as_str()))
                .map(|(_, h)| h.clone())
        });
        let component = shared.components.get(to.domain()).cloned();
        (client, component)
    };
    if let Some(component) = component {
        let _ = component.call(move |m, now| m.send(now, stanza)).await;
    } else if let Some(client) = client {
        let _ = client.call(move |m, now| m.send(now, stanza)).await;
    }
}

async fn serve_one_component(
    mut session: xmpp_kit::rt::session::Session<xmpp_kit::component::ComponentConnection>,
    shared: Arc<Mutex<Shared>>,
) {
    let handle = session.handle();
    let mut domain = None;
    while let Some(event) = session.next().await {
        let SessionEvent::Event(event) = event else {
            break;
        };
        match event {
            xmpp_kit::component::Event::Connecting { domain: d } => {
                let _ = handle
                    .call(|m, now| m.accept_component(now, COMPONENT_SECRET))
                    .await;
                domain = Some(d);
            }
            xmpp_kit::component::Event::Online { domain: d } => {
                shared.lock().unwrap().components.insert(d, handle.clone());
            }
            xmpp_kit::component::Event::Stanza(stanza) => route(stanza, &shared).await,
            _ => {}
        }
    }
    if let Some(domain) = domain {
        shared.lock().unwrap().components.remove(&domain);
    }
}

/// A message to the server's domain.
pub fn to_server(body: &str) -> Message {
    Message::chat(
        Jid::from(xmpp_kit::jid::BareJid::domain_only(DOMAIN).unwrap()),
        body,
    )
}
pub mod flows;

/// A transport that fails every read and write once `killed` is set: the
/// socket is cut as a network failure would (no stream close, no TLS
/// close_notify).
struct Killable<IO> {
    io: IO,
    killed: Arc<std::sync::atomic::AtomicBool>,
}

impl<IO> Killable<IO> {
    fn check(&self) -> std::io::Result<()> {
        if self.killed.load(std::sync::atomic::Ordering::SeqCst) {
            Err(std::io::ErrorKind::ConnectionReset.into())
        } else {
            Ok(())
        }
    }
}

impl<IO: futures::AsyncRead + Unpin> futures::AsyncRead for Killable<IO> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.check()?;
        std::pin::Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: futures::AsyncWrite + Unpin> futures::AsyncWrite for Killable<IO> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.check()?;
        std::pin::Pin::new(&mut self.io).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        self.check()?;
        std::pin::Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_close(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_close(cx)
    }
}
