//! Choosing a mechanism and a channel binding from what the server offers.

use std::fmt;

use super::SaslError;
use super::mechanism::{ChannelBinding, ChannelBindingType, Gs2Flag, Mechanism, binding_data};

/// What the user authenticates with.
///
/// [`Debug`] does not print the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The authentication identity: for XMPP, the localpart of the account
    /// JID, already normalized (PRECIS UsernameCaseMapped); it is sent as
    /// given.
    pub username: String,
    /// The password, sent (PLAIN) or used (SCRAM) as given, without
    /// SASLprep.
    pub password: String,
    /// The authorization identity, to act as another entity (rare; `None`
    /// or an empty string means "the identity of the username").
    pub authzid: Option<String>,
}

impl Credentials {
    /// Credentials without an authorization identity.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: password.into(),
            authzid: None,
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("authzid", &self.authzid)
            .finish()
    }
}

/// Which mechanisms the client may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientPolicy {
    /// Allow `PLAIN` over TLS when the server offers no SCRAM at all
    /// (default `true`).
    pub allow_plain: bool,
    /// Also allow `PLAIN` on an unencrypted stream (default `false`: the
    /// password would travel in clear).
    pub allow_plain_without_tls: bool,
    /// Authenticate with `EXTERNAL` (a TLS client certificate) when the
    /// server offers it, before any password mechanism (default `false`).
    pub use_external: bool,
    /// Log in anonymously with `ANONYMOUS` when the server offers it, before
    /// any password mechanism (default `false`).
    pub use_anonymous: bool,
    /// Mechanisms never to use, whatever the server offers.
    pub disabled: Vec<Mechanism>,
    /// Use `PLAIN` (over TLS, and only when [`allow_plain`](Self::allow_plain))
    /// even when the server also offers SCRAM, if every offered SCRAM is
    /// [`disabled`](Self::disabled) (default `false`). Normally an offer
    /// of SCRAM makes `PLAIN` a downgrade and it is refused; set this for
    /// a server whose SCRAM is known not to work for the account (say, an
    /// LDAP backend that advertises it anyway), or to test `PLAIN`.
    pub plain_despite_scram: bool,
}

impl Default for ClientPolicy {
    fn default() -> Self {
        Self {
            allow_plain: true,
            allow_plain_without_tls: false,
            use_external: false,
            use_anonymous: false,
            disabled: Vec::new(),
            plain_despite_scram: false,
        }
    }
}

/// What the server offers and what the TLS layer can give, for [`select`].
#[derive(Debug, Clone, Copy)]
pub struct Offer<'a> {
    /// The mechanism names the server advertised in `<mechanisms/>`.
    /// Unknown names are ignored.
    pub mechanisms: &'a [String],
    /// The channel binding types of XEP-0440 `<sasl-channel-binding/>`, or
    /// `None` when the server does not advertise it.
    pub server_channel_bindings: Option<&'a [ChannelBindingType]>,
    /// Whether the stream is encrypted (TLS).
    pub tls: bool,
    /// The channel bindings the TLS layer can give for this connection.
    pub bindings: &'a [ChannelBinding],
}

/// The outcome of [`select`]: the mechanism and how SCRAM binds to the
/// channel. Give it to [`SaslClient::new`](super::SaslClient::new).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Selection {
    /// The mechanism to authenticate with.
    pub mechanism: Mechanism,
    /// The channel binding type for a `-PLUS` mechanism, `None` otherwise.
    pub channel_binding: Option<ChannelBindingType>,
    /// The GS2 flag a SCRAM client sends; [`Gs2Flag::NotSupported`] for the
    /// mechanisms other than SCRAM (which have no GS2 header).
    pub gs2_flag: Gs2Flag,
}

impl Selection {
    /// A selection of `mechanism` without channel binding (flag `n`).
    pub const fn without_binding(mechanism: Mechanism) -> Self {
        Self {
            mechanism,
            channel_binding: None,
            gs2_flag: Gs2Flag::NotSupported,
        }
    }
}

/// The channel binding types the server accepts when it does not advertise
/// XEP-0440: `tls-unique` only (XEP-0440 section 4).
const LEGACY_SERVER_BINDINGS: &[ChannelBindingType] = &[ChannelBindingType::TlsUnique];

/// The channel binding type both sides can use, the first in the order of
/// [`ChannelBindingType::ALL`] (`tls-exporter`, `tls-server-end-point`,
/// `tls-unique`); `None` without TLS. See [`select`] for which types the
/// server accepts.
pub fn usable_channel_binding(offer: &Offer<'_>) -> Option<ChannelBindingType> {
    if !offer.tls {
        return None;
    }
    let server = offer
        .server_channel_bindings
        .unwrap_or(LEGACY_SERVER_BINDINGS);
    ChannelBindingType::ALL
        .into_iter()
        .find(|kind| server.contains(kind) && binding_data(offer.bindings, *kind).is_some())
}

/// Chooses the mechanism to authenticate with: the strongest that both
/// sides support, under `policy`.
///
/// In order:
///
/// 1. `EXTERNAL` if [`ClientPolicy::use_external`] and offered, then
///    `ANONYMOUS` if [`ClientPolicy::use_anonymous`] and offered.
/// 2. The strongest offered SCRAM `-PLUS` with `p=<type>`, if a channel
///    binding type is usable: one that our TLS layer gives
///    ([`Offer::bindings`]) and that the server accepts. The server's
///    XEP-0440 list is authoritative when present; without it the server is
///    assumed to implement `tls-unique` only (XEP-0440 section 4), which
///    TLS 1.3 does not have. Types are preferred in the order
///    `tls-exporter`, `tls-server-end-point`, `tls-unique`.
/// 3. The strongest offered plain SCRAM, with the GS2 flag:
///    * `n` if the server offers a `-PLUS` that we cannot use. This is the
///      case of ejabberd 23.01 on TLS 1.3: it advertises `-PLUS` but not
///      XEP-0440, so it only implements `tls-unique`, which TLS 1.3 lacks;
///      we cannot bind with anything it implements. This is no sign of a
///      downgrade (an attacker who strips `-PLUS` makes it disappear, not
///      appear), and `y` would make the honest server fail us.
///    * `y` if no `-PLUS` is offered but our TLS layer gives a channel
///      binding: we support it but think the server does not, so an honest
///      server that does support it detects that its `-PLUS` offer was
///      stripped (RFC 5802 section 6).
///    * `n` without TLS.
/// 4. `PLAIN`, only if no SCRAM is offered at all (even a SCRAM disabled by
///    the policy: an offer of SCRAM means PLAIN is a downgrade, unless
///    [`ClientPolicy::plain_despite_scram`]), if
///    [`ClientPolicy::allow_plain`], and over TLS unless
///    [`ClientPolicy::allow_plain_without_tls`].
///
/// Mechanisms in [`ClientPolicy::disabled`] are never chosen.
///
/// # Errors
/// [`SaslError::PlainWithoutTls`] when PLAIN is the only option left and
/// the stream is not encrypted; [`SaslError::NoAcceptableMechanism`] when
/// nothing is left.
///
/// ```
/// use xmpp_kit::sasl::{
///     ChannelBinding, ChannelBindingType, ClientPolicy, Gs2Flag, Mechanism, Offer, select,
/// };
///
/// let mechanisms: Vec<String> = ["SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS", "PLAIN"]
///     .map(String::from)
///     .to_vec();
/// let bindings = [ChannelBinding::new(ChannelBindingType::TlsExporter, [7; 32])];
/// let offer = Offer {
///     mechanisms: &mechanisms,
///     server_channel_bindings: Some(&[ChannelBindingType::TlsExporter]),
///     tls: true,
///     bindings: &bindings,
/// };
/// let selection = select(&offer, &ClientPolicy::default())?;
/// assert_eq!(selection.mechanism, Mechanism::ScramSha256Plus);
/// assert_eq!(selection.gs2_flag, Gs2Flag::Used(ChannelBindingType::TlsExporter));
/// # Ok::<(), xmpp_kit::sasl::SaslError>(())
/// ```
pub fn select(offer: &Offer<'_>, policy: &ClientPolicy) -> Result<Selection, SaslError> {
    let offered: Vec<Mechanism> = offer
        .mechanisms
        .iter()
        .filter_map(|name| name.trim().parse().ok())
        .collect();
    let allowed = |m: Mechanism| offered.contains(&m) && !policy.disabled.contains(&m);
    let server_plus = offered.iter().any(|m| m.is_plus());
    let server_scram = offered.iter().any(|m| m.is_scram());

    if policy.use_external && allowed(Mechanism::External) {
        return Ok(Selection::without_binding(Mechanism::External));
    }
    if policy.use_anonymous && allowed(Mechanism::Anonymous) {
        return Ok(Selection::without_binding(Mechanism::Anonymous));
    }

    // Mechanism::ALL is in preference order, so the first found is the
    // strongest.
    if let Some(kind) = usable_channel_binding(offer)
        && let Some(mechanism) = Mechanism::ALL
            .into_iter()
            .find(|m| m.is_plus() && allowed(*m))
    {
        return Ok(Selection {
            mechanism,
            channel_binding: Some(kind),
            gs2_flag: Gs2Flag::Used(kind),
        });
    }

    if let Some(mechanism) = Mechanism::ALL
        .into_iter()
        .find(|m| m.is_scram() && !m.is_plus() && allowed(*m))
    {
        let we_can_bind = offer.bindings.iter().any(|b| !b.data.is_empty());
        let gs2_flag = if offer.tls && we_can_bind && !server_plus {
            Gs2Flag::ClientOnly
        } else {
            Gs2Flag::NotSupported
        };
        return Ok(Selection {
            mechanism,
            channel_binding: None,
            gs2_flag,
        });
    }

    if (!server_scram || policy.plain_despite_scram)
        && policy.allow_plain
        && allowed(Mechanism::Plain)
    {
        if offer.tls || policy.allow_plain_without_tls {
            return Ok(Selection::without_binding(Mechanism::Plain));
        }
        return Err(SaslError::PlainWithoutTls);
    }

    Err(SaslError::NoAcceptableMechanism {
        offered: offer.mechanisms.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_debug_hides_password() {
        let c = Credentials::new("juliet", "s3cr3t");
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }

    #[test]
    fn legacy_server_means_tls_unique() {
        let unique = [ChannelBinding::new(ChannelBindingType::TlsUnique, [1; 12])];
        let exporter = [ChannelBinding::new(
            ChannelBindingType::TlsExporter,
            [1; 32],
        )];
        let offer = |bindings| Offer {
            mechanisms: &[],
            server_channel_bindings: None,
            tls: true,
            bindings,
        };
        assert_eq!(
            usable_channel_binding(&offer(&unique)),
            Some(ChannelBindingType::TlsUnique)
        );
        assert_eq!(usable_channel_binding(&offer(&exporter)), None);
        let empty = [ChannelBinding::new(ChannelBindingType::TlsUnique, [])];
        assert_eq!(usable_channel_binding(&offer(&empty)), None);
    }
}
