//! The embedded hub: a small in-process XMPP server (feature `hub`), so an
//! application can offer push messaging without deploying Prosody or
//! ejabberd. Any XMPP client, bot or XEP-0114 component connects to it.
//!
//! ```no_run
//! # async fn run() -> Result<(), xmpp_kit::hub::HubError> {
//! use xmpp_kit::hub::Hub;
//!
//! let hub = Hub::builder("localhost")
//!     .listen("127.0.0.1:5222")          // STARTTLS, required
//!     .user("alice@localhost", "alice-password")
//!     .user("bob@localhost", "bob-password")
//!     .component("push.localhost", "component-secret")
//!     .components("127.0.0.1:5347")
//!     .ca_file("hub-ca.pem")             // a CA made at start, for clients to trust
//!     .start()
//!     .await?;
//! println!("clients connect to {:?}", hub.c2s_addr());
//! // ... run the application ...
//! hub.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! What it does:
//! - Client streams (RFC 6120) over STARTTLS (required by default), direct
//!   TLS (XEP-0368) and WebSocket (RFC 7395), with SCRAM from the
//!   [`UserStore`], XEP-0198 stream management and resumption: a client
//!   that reconnects within the resume window loses nothing (also when
//!   the hub has not noticed yet that its previous connection died: the
//!   new connection takes the session over).
//! - Routing (RFC 6120 section 10, RFC 6121 section 8) to full and bare
//!   JIDs, to the server, to components; `from` is always stamped by the
//!   hub; errors (`service-unavailable`, `remote-server-not-found`, ...)
//!   where the rules say so.
//! - Rosters, the presence subscription handshake, presence broadcast and
//!   probes, directed presence (RFC 6121).
//! - Server iqs: ping, disco#info / #items (listing the components and
//!   the pubsub service), version, roster.
//! - Publish-subscribe (XEP-0060) at `pubsub.<domain>`
//!   ([`HubBuilder::pubsub`]) and PEP (XEP-0163) on every account: nodes,
//!   items and subscriptions kept in the [`Store`], within
//!   [`PubsubLimits`]. Open, presence and whitelist access models; owners
//!   and publishers publish. PEP notifications go to explicit subscribers
//!   and the account (no `+notify` filtering).
//! - Isolation: every connection is its own task with a bounded mailbox;
//!   a client that does not read is disconnected with `resource-constraint`
//!   (its session waits for it to resume) instead of growing memory or
//!   stalling others, and a client or component that floods another is
//!   slowed to the pace its recipient reads at. Unfinished negotiations end at
//!   [`HubLimits::negotiation_timeout`].
//!
//! - Durability: everything is kept in a [`Store`]
//!   ([`HubBuilder::database`] for SQLite). Chat and normal messages to an
//!   account are written to the store before the sender's XEP-0198
//!   acknowledgement counts them, and stay there until the recipient
//!   acknowledges them; a recipient with no available resource gets them
//!   as offline messages (XEP-0203 delay) at its next initial presence
//!   ([`HubLimits::spool_per_user`] bounds them; beyond,
//!   `resource-constraint`). Resumable sessions are stored too: after a
//!   crash and restart on the same database, clients resume and every
//!   message the hub acknowledged is delivered exactly once. Without
//!   stream management on the recipient's side, delivery is at most once
//!   (removed from the store when written to its stream).
//!
//! Not yet: server-to-server.

mod certs;
mod pubsub;
pub mod roster;
mod router;
mod session;
mod spool;
pub mod store;
mod users;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::compat::TokioAsyncReadCompatExt as _;

pub use certs::CertError;
pub use pubsub::PubsubLimits;
pub use router::HubLimits;
pub use users::{MemoryUsers, UserError, UserStore};

use crate::jid::BareJid;
use crate::rt::ServerTls;
use crate::rt::server::ServerTransport;
use crate::rt::tls::TlsSetupError;
use crate::sasl::MIN_ITERATIONS;
use crate::server::{AcceptConfig, TlsPolicy};
use crate::stanza::Stanza;
use crate::xml::Limits;
use roster::{RosterLimits, Rosters};
use router::{Router, RouterConfig};
use store::{MemoryStore, Store, StoreError};
use users::{DomainCredentials, StoreUsers};

/// Why the hub could not start (or a call failed).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HubError {
    /// A listening address could not be bound.
    #[error("cannot listen on {address}: {error}")]
    Listen {
        /// The address.
        address: String,
        /// Why.
        error: std::io::Error,
    },
    /// The given certificate or key is unusable.
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
    /// The local certificate could not be made.
    #[error(transparent)]
    Cert(#[from] CertError),
    /// The CA file could not be written.
    #[error("cannot write the CA file {path}: {error}")]
    CaFile {
        /// Where.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// An account given to the builder is invalid.
    #[error(transparent)]
    User(#[from] UserError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The options contradict each other.
    #[error("invalid hub configuration: {0}")]
    Config(String),
    /// A stanza given to [`Hub::send`] has no `from` or `to`, or a `from`
    /// outside the hub's domains and components.
    #[error("cannot send this stanza: {0}")]
    Stanza(String),
}

/// Where the certificate comes from.
enum TlsChoice {
    /// Made at start (a CA and a leaf for the domains).
    Local,
    /// Given.
    Given(ServerTls),
}

/// Options of a [`Hub`]; [`start`](Self::start) runs it.
#[must_use]
pub struct HubBuilder {
    domains: Vec<String>,
    c2s: Option<String>,
    direct_tls: Option<String>,
    websocket: Option<(String, bool)>,
    components: Option<String>,
    component_secrets: HashMap<String, String>,
    tls: TlsChoice,
    ca_file: Option<PathBuf>,
    tls_required: bool,
    users_store: Option<Arc<dyn UserStore>>,
    store: Option<Arc<dyn Store>>,
    accounts: Vec<(String, String)>,
    limits: HubLimits,
    xml_limits: Limits,
    roster_limits: RosterLimits,
    pubsub_domain: Option<String>,
    pubsub_limits: PubsubLimits,
}

impl std::fmt::Debug for HubBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubBuilder")
            .field("domains", &self.domains)
            .field("c2s", &self.c2s)
            .field("direct_tls", &self.direct_tls)
            .field("websocket", &self.websocket)
            .field("components", &self.components)
            .field("tls_required", &self.tls_required)
            .finish_non_exhaustive()
    }
}

impl HubBuilder {
    /// Also serves `domain` (a virtual host with its own accounts).
    pub fn domain(mut self, domain: &str) -> Self {
        self.domains.push(domain.to_owned());
        self
    }

    /// Listens for clients on `address` (`host:port`): STARTTLS, required
    /// unless [`allow_plaintext`](Self::allow_plaintext). Default
    /// `127.0.0.1:5222`; port 0 picks a free one ([`Hub::c2s_addr`]).
    pub fn listen(mut self, address: &str) -> Self {
        self.c2s = Some(address.to_owned());
        self
    }

    /// Also listens for direct TLS clients (XEP-0368) on `address`.
    pub fn direct_tls(mut self, address: &str) -> Self {
        self.direct_tls = Some(address.to_owned());
        self
    }

    /// Also listens for RFC 7395 WebSocket clients on `address`, over TLS
    /// (`wss://`) when `tls`, else plain `ws://` (for a TLS-terminating
    /// proxy in front; it then needs [`allow_plaintext`](Self::allow_plaintext)).
    pub fn websocket(mut self, address: &str, tls: bool) -> Self {
        self.websocket = Some((address.to_owned(), tls));
        self
    }

    /// Listens for XEP-0114 components on `address` (plain TCP, as the XEP
    /// has it: keep it on loopback or a private network).
    pub fn components(mut self, address: &str) -> Self {
        self.components = Some(address.to_owned());
        self
    }

    /// Allows the component `domain` to connect with `secret`.
    pub fn component(mut self, domain: &str, secret: &str) -> Self {
        self.component_secrets
            .insert(domain.to_owned(), secret.to_owned());
        self
    }

    /// Uses this certificate instead of making a local one.
    pub fn tls(mut self, tls: ServerTls) -> Self {
        self.tls = TlsChoice::Given(tls);
        self
    }

    /// Writes the CA certificate made at start to `path` (PEM), for
    /// clients to trust. Only with the local certificate (no
    /// [`tls`](Self::tls)).
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// Lets clients log in without TLS (STARTTLS offered, not required;
    /// PLAIN is then refused). For tests behind a TLS proxy only.
    pub fn allow_plaintext(mut self) -> Self {
        self.tls_required = false;
        self
    }

    /// Keeps the hub's state (accounts, rosters, spooled messages,
    /// resumable sessions, pubsub) in `store`. Default: a [`MemoryStore`],
    /// lost with the process; [`database`](Self::database) for a durable
    /// one.
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// Keeps the hub's state in the SQLite database at `path` (created if
    /// missing, migrated to the current schema): a hub restarted on the
    /// same file has lost nothing it acknowledged.
    ///
    /// # Errors
    /// [`HubError::Store`] if the database cannot be opened or migrated.
    #[cfg(feature = "sqlite")]
    pub fn database(self, path: impl AsRef<std::path::Path>) -> Result<Self, HubError> {
        let store: Arc<dyn Store> = Arc::new(store::sqlite::SqliteStore::open(path)?);
        Ok(self.store(store))
    }

    /// Authenticates clients against `users` instead of the accounts of
    /// the [`store`](Self::store) (your own user database; the store still
    /// keeps rosters and messages).
    pub fn users(mut self, users: impl UserStore) -> Self {
        self.users_store = Some(Arc::new(users));
        self
    }

    /// Adds (or replaces) an account (`user@domain`) in the store at start.
    pub fn user(mut self, jid: &str, password: &str) -> Self {
        self.accounts.push((jid.to_owned(), password.to_owned()));
        self
    }

    /// Hub limits (mailboxes, resources, connections, resumption).
    pub fn limits(mut self, limits: HubLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Limits on what each client may send (stanza size, depth, ...).
    pub fn xml_limits(mut self, limits: Limits) -> Self {
        self.xml_limits = limits;
        self
    }

    /// Limits on rosters.
    pub fn roster_limits(mut self, limits: RosterLimits) -> Self {
        self.roster_limits = limits;
        self
    }

    /// Serves the publish-subscribe service (XEP-0060) at `domain`
    /// (default `pubsub.` and the first domain). It must differ from the
    /// hub's domains and components.
    pub fn pubsub(mut self, domain: &str) -> Self {
        self.pubsub_domain = Some(domain.to_owned());
        self
    }

    /// Limits of the pubsub service and of PEP (nodes, items, payloads,
    /// subscriptions).
    pub fn pubsub_limits(mut self, limits: PubsubLimits) -> Self {
        self.pubsub_limits = limits;
        self
    }

    /// Binds the listeners and starts serving, on the current tokio
    /// runtime.
    ///
    /// # Errors
    /// [`HubError`] if an address cannot be bound, the certificate is
    /// unusable, an account is invalid, or the options contradict each
    /// other.
    pub async fn start(self) -> Result<Hub, HubError> {
        if self.domains.is_empty() {
            return Err(HubError::Config("no domain".into()));
        }
        for domain in &self.domains {
            BareJid::domain_only(domain)
                .map_err(|e| HubError::Config(format!("invalid domain {domain:?}: {e}")))?;
        }
        let pubsub_domain = match self.pubsub_domain {
            Some(domain) => domain,
            None => format!("pubsub.{}", self.domains.first().map_or("", String::as_str)),
        };
        BareJid::domain_only(&pubsub_domain).map_err(|e| {
            HubError::Config(format!("invalid pubsub domain {pubsub_domain:?}: {e}"))
        })?;
        if self.domains.contains(&pubsub_domain)
            || self.component_secrets.contains_key(&pubsub_domain)
        {
            return Err(HubError::Config(format!(
                "the pubsub domain {pubsub_domain} is also a hub domain or a component"
            )));
        }
        let store: Arc<dyn Store> = self.store.unwrap_or_else(|| Arc::new(MemoryStore::new()));
        let users: Arc<dyn UserStore> = match self.users_store {
            Some(users) => {
                if !self.accounts.is_empty() {
                    return Err(HubError::Config(
                        "user() adds to the store's accounts, but users() replaced them".into(),
                    ));
                }
                users
            }
            None => {
                for (jid, password) in &self.accounts {
                    let user = users::check_account(jid, password)?;
                    store.put_account(&user, &users::verifiers(password, MIN_ITERATIONS))?;
                }
                Arc::new(StoreUsers(Arc::clone(&store)))
            }
        };
        let (server_tls, ca_pem) = match self.tls {
            TlsChoice::Given(tls) => {
                if self.ca_file.is_some() {
                    return Err(HubError::Config(
                        "ca_file() writes the local CA, but tls() gave a certificate".into(),
                    ));
                }
                (tls, None)
            }
            TlsChoice::Local => {
                let mut names = self.domains.clone();
                names.extend(self.component_secrets.keys().cloned());
                names.push("localhost".to_owned());
                names.sort();
                names.dedup();
                let ca = certs::stored_local_ca(&*store, &names)?;
                if let Some(path) = &self.ca_file {
                    std::fs::write(path, &ca.ca_pem).map_err(|error| HubError::CaFile {
                        path: path.clone(),
                        error,
                    })?;
                }
                (ca.server, Some(ca.ca_pem))
            }
        };
        let mut accept = HashMap::new();
        for domain in &self.domains {
            let credentials = Arc::new(DomainCredentials {
                domain: domain.clone(),
                store: Arc::clone(&users),
            });
            let mut config = AcceptConfig::new(domain, credentials);
            config.tls = if self.tls_required {
                TlsPolicy::Required
            } else {
                TlsPolicy::Optional
            };
            config.stream_management = true;
            // A client's stanza is acknowledged only once routed (and a
            // message spooled): an acknowledged message survives a crash.
            config.confirm_stanzas = true;
            accept.insert(domain.clone(), config);
        }
        let router = Router::new(
            RouterConfig {
                domains: self.domains.clone(),
                components: self.component_secrets.clone(),
                users: Arc::clone(&users),
                store: Arc::clone(&store),
                limits: self.limits.clone(),
                pubsub_domain,
                pubsub_limits: self.pubsub_limits,
            },
            Rosters::new(self.roster_limits),
        )?;
        router.restore(Instant::now())?;
        let inner = Arc::new(Inner {
            router,
            domains: self.domains,
            accept,
            component_secrets: self.component_secrets,
            limits: self.limits,
            xml_limits: self.xml_limits,
            next_conn: AtomicU64::new(1),
            closing: std::sync::atomic::AtomicBool::new(false),
        });

        let mut tasks = Vec::new();
        let mut addrs = Addresses::default();
        let c2s = self.c2s.unwrap_or_else(|| "127.0.0.1:5222".to_owned());
        let listener = bind(&c2s).await?;
        addrs.c2s = listener.local_addr().ok();
        tasks.push(tokio::spawn(accept_clients(
            listener,
            Arc::clone(&inner),
            Arc::new(ServerTransport::starttls(server_tls.clone())),
        )));
        if let Some(address) = &self.direct_tls {
            let listener = bind(address).await?;
            addrs.direct_tls = listener.local_addr().ok();
            tasks.push(tokio::spawn(accept_clients(
                listener,
                Arc::clone(&inner),
                Arc::new(ServerTransport::direct_tls(server_tls.clone())),
            )));
        }
        if let Some((address, tls)) = &self.websocket {
            let listener = bind(address).await?;
            addrs.websocket = listener.local_addr().ok();
            let mut transport = if *tls {
                ServerTransport::direct_tls(server_tls.clone())
            } else {
                if self.tls_required {
                    return Err(HubError::Config(
                        "a plain ws:// listener needs allow_plaintext()".into(),
                    ));
                }
                ServerTransport::default()
            };
            transport.websocket = true;
            tasks.push(tokio::spawn(accept_clients(
                listener,
                Arc::clone(&inner),
                Arc::new(transport),
            )));
        }
        if let Some(address) = &self.components {
            let listener = bind(address).await?;
            addrs.components = listener.local_addr().ok();
            tasks.push(tokio::spawn(accept_components(
                listener,
                Arc::clone(&inner),
            )));
        }
        // Parked sessions past their resume window end.
        let expiring = Arc::clone(&inner);
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                expiring.router.expire_parked(Instant::now());
            }
        }));
        Ok(Hub {
            inner,
            addrs,
            ca_pem,
            tasks,
            store,
        })
    }
}

async fn bind(address: &str) -> Result<TcpListener, HubError> {
    TcpListener::bind(address)
        .await
        .map_err(|error| HubError::Listen {
            address: address.to_owned(),
            error,
        })
}

async fn accept_clients(listener: TcpListener, hub: Arc<Inner>, transport: Arc<ServerTransport>) {
    loop {
        let Ok((stream, _peer)) = listener.accept().await else {
            // Out of file descriptors, say: wait a little, do not spin.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let _ignored = stream.set_nodelay(true);
        drop(tokio::spawn(session::serve_client(
            stream.compat(),
            Arc::clone(&hub),
            Arc::clone(&transport),
        )));
    }
}

async fn accept_components(listener: TcpListener, hub: Arc<Inner>) {
    loop {
        let Ok((stream, _peer)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let _ignored = stream.set_nodelay(true);
        drop(tokio::spawn(session::serve_component(
            stream.compat(),
            Arc::clone(&hub),
        )));
    }
}

/// What every session task shares.
pub(crate) struct Inner {
    pub(crate) router: Router,
    pub(crate) domains: Vec<String>,
    pub(crate) accept: HashMap<String, AcceptConfig>,
    pub(crate) component_secrets: HashMap<String, String>,
    pub(crate) limits: HubLimits,
    pub(crate) xml_limits: Limits,
    next_conn: AtomicU64,
    closing: std::sync::atomic::AtomicBool,
}

impl Inner {
    pub(crate) fn next_conn(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Addresses {
    c2s: Option<SocketAddr>,
    direct_tls: Option<SocketAddr>,
    websocket: Option<SocketAddr>,
    components: Option<SocketAddr>,
}

/// A running hub. Dropping it stops the listeners; [`shutdown`](Self::shutdown)
/// also closes every stream properly.
pub struct Hub {
    inner: Arc<Inner>,
    addrs: Addresses,
    ca_pem: Option<String>,
    tasks: Vec<JoinHandle<()>>,
    store: Arc<dyn Store>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("domains", &self.inner.domains)
            .field("addresses", &self.addrs)
            .finish_non_exhaustive()
    }
}

impl Hub {
    /// Options for a hub serving `domain`.
    pub fn builder(domain: &str) -> HubBuilder {
        HubBuilder {
            domains: vec![domain.to_owned()],
            c2s: None,
            direct_tls: None,
            websocket: None,
            components: None,
            component_secrets: HashMap::new(),
            tls: TlsChoice::Local,
            ca_file: None,
            tls_required: true,
            users_store: None,
            store: None,
            accounts: Vec::new(),
            limits: HubLimits::default(),
            xml_limits: Limits::default(),
            roster_limits: RosterLimits::default(),
            pubsub_domain: None,
            pubsub_limits: PubsubLimits::default(),
        }
    }

    /// The client (STARTTLS) listener's address.
    pub fn c2s_addr(&self) -> Option<SocketAddr> {
        self.addrs.c2s
    }

    /// The direct TLS listener's address, if any.
    pub fn direct_tls_addr(&self) -> Option<SocketAddr> {
        self.addrs.direct_tls
    }

    /// The WebSocket listener's address, if any.
    pub fn websocket_addr(&self) -> Option<SocketAddr> {
        self.addrs.websocket
    }

    /// The component listener's address, if any.
    pub fn component_addr(&self) -> Option<SocketAddr> {
        self.addrs.components
    }

    /// The PEM of the CA made at start (clients must trust it); `None`
    /// with a given certificate.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// The hub's store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Adds or replaces an account while running (in the store; unused
    /// when [`HubBuilder::users`] gave another user database).
    ///
    /// # Errors
    /// [`HubError::User`] for an invalid address or empty password,
    /// [`HubError::Store`] if the store fails.
    pub fn add_user(&self, jid: &str, password: &str) -> Result<(), HubError> {
        let user = users::check_account(jid, password)?;
        self.store
            .put_account(&user, &users::verifiers(password, MIN_ITERATIONS))?;
        Ok(())
    }

    /// Removes an account from the store; `true` if it existed.
    ///
    /// # Errors
    /// [`HubError::Store`] if the store fails.
    pub fn remove_user(&self, user: &BareJid) -> Result<bool, HubError> {
        Ok(self.store.remove_account(user)?)
    }

    /// Accounts with at least one bound resource.
    pub fn online(&self) -> Vec<BareJid> {
        self.inner.router.online_users()
    }

    /// Open connections (clients and components, authenticated or not).
    pub fn connections(&self) -> usize {
        self.inner.router.session_count()
    }

    /// Sends a stanza from the application, routed like any other: its
    /// `from` must be one of the hub's domains (or an address in one) or a
    /// configured component domain.
    ///
    /// # Errors
    /// [`HubError::Stanza`] without `to`, or with a missing or foreign
    /// `from`.
    pub fn send(&self, stanza: impl Into<Stanza>) -> Result<(), HubError> {
        let stanza = stanza.into();
        let from = stanza
            .sender()
            .ok_or_else(|| HubError::Stanza("no from".into()))?;
        let ours = self.inner.domains.iter().any(|d| d == from.domain())
            || self.inner.component_secrets.contains_key(from.domain());
        if !ours {
            return Err(HubError::Stanza(format!(
                "from {from} is not in the hub's domains"
            )));
        }
        if stanza.recipient().is_none() {
            return Err(HubError::Stanza("no to".into()));
        }
        self.inner.router.inject(stanza);
        Ok(())
    }

    /// Stops accepting, closes every stream with `system-shutdown` and
    /// waits (up to 5 s) for the connections to end.
    pub async fn shutdown(self) {
        self.inner.closing.store(true, Ordering::SeqCst);
        for task in &self.tasks {
            task.abort();
        }
        self.inner.router.shutdown();
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.inner.router.session_count() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
