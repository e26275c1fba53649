//! Integration tests for `xmpp_kit::sasl`: the RFC 5802 and RFC 7677 SCRAM
//! vectors on both sides, our client against our server for every
//! mechanism and channel binding type, the failure paths (wrong password,
//! unknown user, channel binding mismatch, stripped -PLUS, tampered server
//! signature, malformed fields), the mechanism selection table, and
//! property tests that hostile bytes never panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

use std::collections::HashMap;
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use minidom::Element;
use proptest::prelude::*;
use xmpp_kit::ext::Payload;
use xmpp_kit::sasl::{
    ChannelBinding, ChannelBindingType, ClientPolicy, Credentials, Failure, Gs2Flag, Mechanism,
    Offer, SaslClient, SaslCondition, SaslError, SaslServer, ScramCredentials, ScramHash,
    Selection, ServerCredentials, ServerStep, select,
};

// ---- fixtures -----------------------------------------------------------

/// An account store keeping only SCRAM verifiers.
struct Store {
    users: HashMap<String, Vec<ScramCredentials>>,
    external: Option<String>,
    anonymous: bool,
}

impl Store {
    fn new(users: &[(&str, &str)]) -> Self {
        let users = users
            .iter()
            .map(|(name, password)| {
                // 16 bytes, like the decoy salt.
                let salt = format!("salt:{name:<11}");
                let creds = [ScramHash::Sha1, ScramHash::Sha256, ScramHash::Sha512]
                    .map(|h| ScramCredentials::derive(h, password, salt.as_bytes(), 4096))
                    .to_vec();
                ((*name).to_owned(), creds)
            })
            .collect();
        Self {
            users,
            external: None,
            anonymous: false,
        }
    }

    fn juliet() -> Self {
        Self::new(&[("juliet", "r0m30 & p3nc1l")])
    }
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
        let creds = self
            .scram(username, ScramHash::Sha256)
            .unwrap_or_else(|| self.scram_decoy(username, ScramHash::Sha256));
        creds.verify_password(password) && self.users.contains_key(username)
    }

    fn external(&self, authzid: Option<&str>) -> Option<String> {
        let identity = self.external.clone()?;
        (authzid.is_none() || authzid == Some(identity.as_str())).then_some(identity)
    }

    fn anonymous(&self) -> bool {
        self.anonymous
    }
}

fn binding(kind: ChannelBindingType, byte: u8) -> ChannelBinding {
    ChannelBinding::new(kind, vec![byte; 32])
}

fn all_bindings(byte: u8) -> Vec<ChannelBinding> {
    ChannelBindingType::ALL
        .into_iter()
        .map(|k| binding(k, byte))
        .collect()
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Success {
        authcid: String,
        authzid: Option<String>,
    },
    /// The server failed, at this step (1 is the initial response).
    Server(SaslError, usize),
    /// The client failed.
    Client(SaslError),
}

/// Runs `client` against `server` to the end.
fn exchange(
    client: &mut SaslClient,
    server: &mut SaslServer,
    store: &dyn ServerCredentials,
) -> Outcome {
    let mut message = match client.initial_response() {
        Ok(m) => m,
        Err(e) => return Outcome::Client(e),
    };
    for step in 1..10 {
        match server.step(&message, store) {
            Err(e) => return Outcome::Server(e, step),
            Ok(ServerStep::Challenge(challenge)) => match client.challenge(&challenge) {
                Ok(response) => message = response,
                Err(e) => return Outcome::Client(e),
            },
            Ok(ServerStep::Success {
                additional,
                authcid,
                authzid,
            }) => {
                return match client.success(additional.as_deref().unwrap_or_default()) {
                    Ok(()) => {
                        assert!(client.is_done());
                        Outcome::Success { authcid, authzid }
                    }
                    Err(e) => Outcome::Client(e),
                };
            }
        }
    }
    panic!("the exchange does not end");
}

fn success(authcid: &str) -> Outcome {
    Outcome::Success {
        authcid: authcid.to_owned(),
        authzid: None,
    }
}

/// Client and server for `selection`, each with its own bindings.
fn pair(
    selection: Selection,
    credentials: &Credentials,
    client_bindings: &[ChannelBinding],
    server_bindings: &[ChannelBinding],
    plus_offered: bool,
) -> (SaslClient, SaslServer) {
    let client = SaslClient::new(&selection, credentials, client_bindings, "cl1ent-n0nce").unwrap();
    let server = SaslServer::new(
        selection.mechanism,
        server_bindings,
        plus_offered,
        "serv3r-n0nce",
    );
    (client, server)
}

fn scram(mechanism: Mechanism, flag: Gs2Flag) -> Selection {
    let channel_binding = match flag {
        Gs2Flag::Used(kind) => Some(kind),
        _ => None,
    };
    Selection {
        mechanism,
        channel_binding,
        gs2_flag: flag,
    }
}

fn run(
    selection: Selection,
    credentials: &Credentials,
    bindings: &[ChannelBinding],
    plus_offered: bool,
    store: &Store,
) -> Outcome {
    let (mut client, mut server) = pair(selection, credentials, bindings, bindings, plus_offered);
    exchange(&mut client, &mut server, store)
}

fn juliet() -> Credentials {
    Credentials::new("juliet", "r0m30 & p3nc1l")
}

// ---- RFC vectors ----------------------------------------------------------

struct Vector {
    mechanism: Mechanism,
    client_nonce: &'static str,
    server_nonce: &'static str,
    salt: &'static str,
    client_first: &'static str,
    server_first: &'static str,
    client_final: &'static str,
    server_final: &'static str,
}

/// RFC 5802 section 5.
const RFC5802: Vector = Vector {
    mechanism: Mechanism::ScramSha1,
    client_nonce: "fyko+d2lbbFgONRv9qkxdawL",
    server_nonce: "3rfcNHYJY1ZVvWVs7j",
    salt: "QSXCR+Q6sek8bf92",
    client_first: "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
    server_first: "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
    client_final: "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
    server_final: "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
};

/// RFC 7677 section 3.
const RFC7677: Vector = Vector {
    mechanism: Mechanism::ScramSha256,
    client_nonce: "rOprNGfwEbeRWgbNEkqO",
    server_nonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
    salt: "W22ZaJ0SNY7soEsUEjb6gQ==",
    client_first: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
    server_first: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
    client_final: "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
    server_final: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
};

fn vector_client(v: &Vector) {
    let selection = Selection::without_binding(v.mechanism);
    let mut client = SaslClient::new(
        &selection,
        &Credentials::new("user", "pencil"),
        &[],
        v.client_nonce,
    )
    .unwrap();
    assert_eq!(client.mechanism(), v.mechanism);
    assert_eq!(
        client.initial_response().unwrap(),
        v.client_first.as_bytes()
    );
    assert_eq!(
        client.challenge(v.server_first.as_bytes()).unwrap(),
        v.client_final.as_bytes()
    );
    assert!(!client.is_done());
    client.success(v.server_final.as_bytes()).unwrap();
    assert!(client.is_done());
}

struct VectorStore(ScramCredentials);

impl ServerCredentials for VectorStore {
    fn scram(&self, username: &str, hash: ScramHash) -> Option<ScramCredentials> {
        (username == "user" && hash == self.0.hash).then(|| self.0.clone())
    }
    fn verify_plain(&self, _: &str, _: &str) -> bool {
        false
    }
}

fn vector_server(v: &Vector) {
    let hash = v.mechanism.scram_hash().unwrap();
    let salt = BASE64.decode(v.salt).unwrap();
    let store = VectorStore(ScramCredentials::derive(hash, "pencil", &salt, 4096));
    let mut server = SaslServer::new(v.mechanism, &[], false, v.server_nonce);
    assert_eq!(
        server.step(v.client_first.as_bytes(), &store).unwrap(),
        ServerStep::Challenge(v.server_first.as_bytes().to_vec())
    );
    assert_eq!(
        server.step(v.client_final.as_bytes(), &store).unwrap(),
        ServerStep::Success {
            additional: Some(v.server_final.as_bytes().to_vec()),
            authcid: "user".to_owned(),
            authzid: None,
        }
    );
    assert_eq!(
        server.step(b"", &store),
        Err(SaslError::UnexpectedStep),
        "nothing after success"
    );
}

#[test]
fn rfc5802_client() {
    vector_client(&RFC5802);
}

#[test]
fn rfc5802_server() {
    vector_server(&RFC5802);
}

#[test]
fn rfc7677_client() {
    vector_client(&RFC7677);
}

#[test]
fn rfc7677_server() {
    vector_server(&RFC7677);
}

/// The vector with the server signature sent in a challenge, then an empty
/// success (what some older servers do).
#[test]
fn server_final_in_a_challenge() {
    let v = RFC5802;
    let selection = Selection::without_binding(v.mechanism);
    let creds = Credentials::new("user", "pencil");
    let mut client = SaslClient::new(&selection, &creds, &[], v.client_nonce).unwrap();
    client.initial_response().unwrap();
    client.challenge(v.server_first.as_bytes()).unwrap();
    assert_eq!(client.challenge(v.server_final.as_bytes()).unwrap(), b"");
    client.success(b"").unwrap();
    assert!(client.is_done());

    // Same, with the signature repeated in success: fine if it verifies.
    let mut client = SaslClient::new(&selection, &creds, &[], v.client_nonce).unwrap();
    client.initial_response().unwrap();
    client.challenge(v.server_first.as_bytes()).unwrap();
    client.challenge(v.server_final.as_bytes()).unwrap();
    assert_eq!(
        client.success(b"v=AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
        Err(SaslError::ServerSignatureMismatch)
    );

    // A tampered signature in the challenge.
    let mut client = SaslClient::new(&selection, &creds, &[], v.client_nonce).unwrap();
    client.initial_response().unwrap();
    client.challenge(v.server_first.as_bytes()).unwrap();
    assert_eq!(
        client.challenge(b"v=rmF9pqV8S7suAoZWja4dJRkFsKM="),
        Err(SaslError::ServerSignatureMismatch)
    );
}

/// A server that asks for the initial response with an empty challenge.
#[test]
fn initial_response_solicited() {
    let store = Store::juliet();
    for mechanism in [Mechanism::ScramSha256, Mechanism::Plain] {
        let (mut client, mut server) = pair(
            Selection::without_binding(mechanism),
            &juliet(),
            &[],
            &[],
            false,
        );
        // The client sent <auth/> without data.
        let ServerStep::Challenge(empty) = server.step(b"", &store).unwrap() else {
            panic!("expected an empty challenge");
        };
        assert!(empty.is_empty());
        let mut message = client.challenge(&empty).unwrap();
        assert!(!message.is_empty());
        let mut steps = 0;
        loop {
            steps += 1;
            assert!(steps < 5);
            match server.step(&message, &store).unwrap() {
                ServerStep::Challenge(c) => message = client.challenge(&c).unwrap(),
                ServerStep::Success { additional, .. } => {
                    client
                        .success(additional.as_deref().unwrap_or_default())
                        .unwrap();
                    break;
                }
            }
        }
        // Only once: a second empty message is malformed.
        let mut server = SaslServer::new(mechanism, &[], false, "n0nce");
        server.step(b"", &store).unwrap();
        assert!(server.step(b"", &store).is_err());
    }
}

// ---- end to end -----------------------------------------------------------

#[test]
fn every_scram_mechanism_without_binding() {
    let store = Store::juliet();
    for hash in [ScramHash::Sha1, ScramHash::Sha256, ScramHash::Sha512] {
        let mechanism = Mechanism::scram(hash, false);
        // n: no TLS.
        assert_eq!(
            run(
                scram(mechanism, Gs2Flag::NotSupported),
                &juliet(),
                &[],
                false,
                &store
            ),
            success("juliet"),
            "{mechanism} n"
        );
        // y: we could bind, the server offered no -PLUS.
        assert_eq!(
            run(
                scram(mechanism, Gs2Flag::ClientOnly),
                &juliet(),
                &all_bindings(1),
                false,
                &store
            ),
            success("juliet"),
            "{mechanism} y"
        );
        // n while the server offers -PLUS: fine (we cannot bind with what it implements).
        assert_eq!(
            run(
                scram(mechanism, Gs2Flag::NotSupported),
                &juliet(),
                &all_bindings(1),
                true,
                &store
            ),
            success("juliet"),
            "{mechanism} n with plus offered"
        );
    }
}

#[test]
fn every_plus_mechanism_with_every_binding_type() {
    let store = Store::juliet();
    for hash in [ScramHash::Sha1, ScramHash::Sha256, ScramHash::Sha512] {
        let mechanism = Mechanism::scram(hash, true);
        for kind in ChannelBindingType::ALL {
            assert_eq!(
                run(
                    scram(mechanism, Gs2Flag::Used(kind)),
                    &juliet(),
                    &all_bindings(7),
                    true,
                    &store
                ),
                success("juliet"),
                "{mechanism} {kind}"
            );
            // Only that type on both sides.
            assert_eq!(
                run(
                    scram(mechanism, Gs2Flag::Used(kind)),
                    &juliet(),
                    &[binding(kind, 9)],
                    true,
                    &store
                ),
                success("juliet"),
                "{mechanism} {kind} alone"
            );
        }
    }
}

#[test]
fn select_then_authenticate() {
    let store = Store::juliet();
    let mechanisms: Vec<String> = Mechanism::ALL.iter().map(|m| m.to_string()).collect();
    let bindings = all_bindings(3);
    let offer = Offer {
        mechanisms: &mechanisms,
        server_channel_bindings: Some(&ChannelBindingType::ALL),
        tls: true,
        bindings: &bindings,
    };
    let selection = select(&offer, &ClientPolicy::default()).unwrap();
    assert_eq!(selection.mechanism, Mechanism::ScramSha512Plus);
    assert_eq!(
        run(selection, &juliet(), &bindings, true, &store),
        success("juliet")
    );
}

#[test]
fn plain_external_anonymous() {
    let mut store = Store::juliet();
    let none = Selection::without_binding;
    assert_eq!(
        run(none(Mechanism::Plain), &juliet(), &[], false, &store),
        success("juliet")
    );

    // EXTERNAL and ANONYMOUS are refused by default.
    assert_eq!(
        run(none(Mechanism::External), &juliet(), &[], false, &store),
        Outcome::Server(SaslError::AuthenticationFailed, 1)
    );
    assert_eq!(
        run(none(Mechanism::Anonymous), &juliet(), &[], false, &store),
        Outcome::Server(SaslError::AuthenticationFailed, 1)
    );

    store.external = Some("juliet@capulet.lit".to_owned());
    store.anonymous = true;
    assert_eq!(
        run(
            none(Mechanism::External),
            &Credentials::new("", ""),
            &[],
            false,
            &store
        ),
        success("juliet@capulet.lit")
    );
    let mut with_authzid = Credentials::new("", "");
    with_authzid.authzid = Some("juliet@capulet.lit".to_owned());
    assert_eq!(
        run(none(Mechanism::External), &with_authzid, &[], false, &store),
        Outcome::Success {
            authcid: "juliet@capulet.lit".to_owned(),
            authzid: Some("juliet@capulet.lit".to_owned()),
        }
    );
    with_authzid.authzid = Some("romeo@montague.lit".to_owned());
    assert_eq!(
        run(none(Mechanism::External), &with_authzid, &[], false, &store),
        Outcome::Server(SaslError::AuthenticationFailed, 1)
    );
    assert_eq!(
        run(
            none(Mechanism::Anonymous),
            &Credentials::new("", ""),
            &[],
            false,
            &store
        ),
        success("")
    );
    assert_eq!(
        run(
            none(Mechanism::Anonymous),
            &Credentials::new("trace@example.com", ""),
            &[],
            false,
            &store
        ),
        success("")
    );
}

#[test]
fn client_messages_of_simple_mechanisms() {
    let none = Selection::without_binding;
    let mut creds = Credentials::new("tim", "tanstaaftanstaaf");
    let initial = |selection: Selection, creds: &Credentials| {
        SaslClient::new(&selection, creds, &[], "ignored")
            .unwrap()
            .initial_response()
            .unwrap()
    };
    // RFC 4616 section 4.
    assert_eq!(
        initial(none(Mechanism::Plain), &creds),
        b"\0tim\0tanstaaftanstaaf"
    );
    creds.authzid = Some("Ursel".to_owned());
    assert_eq!(
        initial(none(Mechanism::Plain), &creds),
        b"Ursel\0tim\0tanstaaftanstaaf"
    );
    assert_eq!(initial(none(Mechanism::External), &creds), b"Ursel");
    creds.authzid = Some(String::new());
    assert_eq!(
        initial(none(Mechanism::Plain), &creds),
        b"\0tim\0tanstaaftanstaaf"
    );
    assert_eq!(initial(none(Mechanism::External), &creds), b"");
    // RFC 4505 section 4: the trace.
    assert_eq!(
        initial(none(Mechanism::Anonymous), &Credentials::new("sirhc", "")),
        b"sirhc"
    );

    // PLAIN: a challenge or a second initial response is unexpected.
    let mut client = SaslClient::new(&none(Mechanism::Plain), &creds, &[], "x").unwrap();
    assert_eq!(client.success(b""), Err(SaslError::UnexpectedStep));
    let mut client = SaslClient::new(&none(Mechanism::Plain), &creds, &[], "x").unwrap();
    client.initial_response().unwrap();
    assert_eq!(client.challenge(b"more?"), Err(SaslError::UnexpectedStep));
    assert_eq!(
        client.success(b""),
        Err(SaslError::UnexpectedStep),
        "failed stays failed"
    );
    let mut client = SaslClient::new(&none(Mechanism::Plain), &creds, &[], "x").unwrap();
    client.initial_response().unwrap();
    assert_eq!(client.initial_response(), Err(SaslError::UnexpectedStep));
}

#[test]
fn authzid_and_names_with_commas_and_equals() {
    let store = Store::new(&[("a=b,c", "pw")]);
    let mut creds = Credentials::new("a=b,c", "pw");
    creds.authzid = Some("admin,=x@example.com".to_owned());
    let selection = scram(Mechanism::ScramSha256, Gs2Flag::NotSupported);
    let (mut client, mut server) = pair(selection, &creds, &[], &[], false);
    let first = client.clone_initial();
    assert!(
        first.starts_with("n,a=admin=2C=3Dx@example.com,n=a=3Db=2Cc,r="),
        "{first}"
    );
    let (mut client, _) = pair(selection, &creds, &[], &[], false);
    assert_eq!(
        exchange(&mut client, &mut server, &store),
        Outcome::Success {
            authcid: "a=b,c".to_owned(),
            authzid: Some("admin,=x@example.com".to_owned()),
        }
    );
    // PLAIN carries the authzid too.
    assert_eq!(
        run(
            Selection::without_binding(Mechanism::Plain),
            &creds,
            &[],
            false,
            &store
        ),
        Outcome::Success {
            authcid: "a=b,c".to_owned(),
            authzid: Some("admin,=x@example.com".to_owned()),
        }
    );
}

/// The initial response as a string, for a client not used further.
trait CloneInitial {
    fn clone_initial(&mut self) -> String;
}

impl CloneInitial for SaslClient {
    fn clone_initial(&mut self) -> String {
        String::from_utf8(self.initial_response().unwrap()).unwrap()
    }
}

// ---- failures -------------------------------------------------------------

#[test]
fn wrong_password_and_unknown_user_are_the_same_failure() {
    let store = Store::juliet();
    for mechanism in [
        Mechanism::ScramSha1,
        Mechanism::ScramSha256,
        Mechanism::ScramSha512,
    ] {
        let selection = scram(mechanism, Gs2Flag::NotSupported);
        let wrong = run(
            selection,
            &Credentials::new("juliet", "wrong"),
            &[],
            false,
            &store,
        );
        let unknown = run(
            selection,
            &Credentials::new("romeo", "r0m30 & p3nc1l"),
            &[],
            false,
            &store,
        );
        assert_eq!(
            wrong,
            Outcome::Server(SaslError::AuthenticationFailed, 2),
            "{mechanism}"
        );
        assert_eq!(wrong, unknown, "{mechanism}");
        assert_eq!(
            SaslError::AuthenticationFailed.condition(),
            SaslCondition::NotAuthorized
        );
    }
    let plain = Selection::without_binding(Mechanism::Plain);
    let wrong = run(
        plain,
        &Credentials::new("juliet", "wrong"),
        &[],
        false,
        &store,
    );
    let unknown = run(
        plain,
        &Credentials::new("romeo", "r0m30 & p3nc1l"),
        &[],
        false,
        &store,
    );
    assert_eq!(wrong, Outcome::Server(SaslError::AuthenticationFailed, 1));
    assert_eq!(wrong, unknown);
}

/// The server-first of an unknown user looks like a real one: same salt
/// length and iteration count as this store's, the same every time.
#[test]
fn unknown_user_server_first_is_stable() {
    let store = Store::juliet();
    let first = |user: &str, nonce: &str| {
        let mut server = SaslServer::new(Mechanism::ScramSha256, &[], false, nonce);
        let message = format!("n,,n={user},r=abc");
        let ServerStep::Challenge(c) = server.step(message.as_bytes(), &store).unwrap() else {
            panic!()
        };
        let c = String::from_utf8(c).unwrap();
        c.split_once(',').unwrap().1.to_owned() // s=...,i=...
    };
    assert_eq!(first("romeo", "n1"), first("romeo", "n2"));
    assert_ne!(first("romeo", "n1"), first("tybalt", "n1"));
    let real = first("juliet", "n1");
    let fake = first("romeo", "n1");
    assert_eq!(real.len(), fake.len(), "{real} vs {fake}");
    assert!(real.ends_with(",i=4096") && fake.ends_with(",i=4096"));
}

#[test]
fn channel_binding_data_mismatch() {
    let store = Store::juliet();
    for kind in ChannelBindingType::ALL {
        let selection = scram(Mechanism::ScramSha256Plus, Gs2Flag::Used(kind));
        // A man in the middle: the client's TLS session is not the server's.
        let (mut client, mut server) = pair(
            selection,
            &juliet(),
            &[binding(kind, 1)],
            &[binding(kind, 2)],
            true,
        );
        assert_eq!(
            exchange(&mut client, &mut server, &store),
            Outcome::Server(SaslError::ChannelBindingMismatch, 2),
            "{kind}"
        );
    }
}

#[test]
fn channel_binding_type_the_server_cannot_give() {
    let store = Store::juliet();
    let selection = scram(
        Mechanism::ScramSha256Plus,
        Gs2Flag::Used(ChannelBindingType::TlsUnique),
    );
    let (mut client, mut server) = pair(
        selection,
        &juliet(),
        &all_bindings(1),
        &[binding(ChannelBindingType::TlsExporter, 1)],
        true,
    );
    assert_eq!(
        exchange(&mut client, &mut server, &store),
        Outcome::Server(SaslError::ChannelBindingUnavailable, 1)
    );
    // An unknown type name.
    let mut server = SaslServer::new(Mechanism::ScramSha256Plus, &all_bindings(1), true, "s");
    assert_eq!(
        server.step(b"p=tls-foo,,n=juliet,r=abc", &store),
        Err(SaslError::ChannelBindingUnavailable)
    );
    // The client cannot select a type it has no data for.
    assert_eq!(
        SaslClient::new(
            &selection,
            &juliet(),
            &[binding(ChannelBindingType::TlsExporter, 1)],
            "n"
        )
        .unwrap_err(),
        SaslError::ChannelBindingUnavailable
    );
}

#[test]
fn stripped_plus_is_detected() {
    let store = Store::juliet();
    // The server offers -PLUS and XEP-0440; an attacker strips the -PLUS.
    let offered: Vec<String> = ["SCRAM-SHA-1", "SCRAM-SHA-256", "PLAIN"]
        .map(String::from)
        .to_vec();
    let bindings = [binding(ChannelBindingType::TlsExporter, 5)];
    let offer = Offer {
        mechanisms: &offered,
        server_channel_bindings: Some(&[ChannelBindingType::TlsExporter]),
        tls: true,
        bindings: &bindings,
    };
    let selection = select(&offer, &ClientPolicy::default()).unwrap();
    assert_eq!(selection.gs2_flag, Gs2Flag::ClientOnly);
    assert_eq!(
        run(selection, &juliet(), &bindings, true, &store),
        Outcome::Server(SaslError::DowngradeDetected, 1)
    );
    // A server that really offered no -PLUS accepts 'y'.
    assert_eq!(
        run(selection, &juliet(), &bindings, false, &store),
        success("juliet")
    );
}

#[test]
fn tampered_server_signature() {
    let store = Store::juliet();
    let selection = scram(Mechanism::ScramSha256, Gs2Flag::NotSupported);
    let (mut client, mut server) = pair(selection, &juliet(), &[], &[], false);
    let ServerStep::Challenge(first) = server
        .step(&client.initial_response().unwrap(), &store)
        .unwrap()
    else {
        panic!()
    };
    let last = client.challenge(&first).unwrap();
    let ServerStep::Success {
        additional: Some(v),
        ..
    } = server.step(&last, &store).unwrap()
    else {
        panic!()
    };
    let signature = BASE64.decode(&v[2..]).unwrap();
    for i in [0, signature.len() / 2, signature.len() - 1] {
        let mut tampered = signature.clone();
        tampered[i] ^= 1;
        let message = format!("v={}", BASE64.encode(&tampered));
        let (mut c, mut s) = pair(selection, &juliet(), &[], &[], false);
        let ServerStep::Challenge(f) = s.step(&c.initial_response().unwrap(), &store).unwrap()
        else {
            panic!()
        };
        c.challenge(&f).unwrap();
        assert_eq!(
            c.success(message.as_bytes()),
            Err(SaslError::ServerSignatureMismatch)
        );
        assert!(!c.is_done());
        assert_eq!(
            c.success(&v),
            Err(SaslError::UnexpectedStep),
            "no second chance"
        );
    }
    // Truncated, empty, missing.
    for bad in [&format!("v={}", BASE64.encode(&signature[..16]))[..], "v="] {
        let (mut c, mut s) = pair(selection, &juliet(), &[], &[], false);
        let ServerStep::Challenge(f) = s.step(&c.initial_response().unwrap(), &store).unwrap()
        else {
            panic!()
        };
        c.challenge(&f).unwrap();
        assert_eq!(
            c.success(bad.as_bytes()),
            Err(SaslError::ServerSignatureMismatch),
            "{bad}"
        );
    }
    client.success(&v).unwrap();
}

#[test]
fn scram_success_without_server_signature() {
    let selection = scram(Mechanism::ScramSha1, Gs2Flag::NotSupported);
    let v = RFC5802;
    let creds = Credentials::new("user", "pencil");
    // Success right after the client-first: the server skipped the proof.
    let mut client = SaslClient::new(&selection, &creds, &[], v.client_nonce).unwrap();
    client.initial_response().unwrap();
    assert_eq!(client.success(b""), Err(SaslError::UnexpectedStep));
    // Success without data after the proof.
    let mut client = SaslClient::new(&selection, &creds, &[], v.client_nonce).unwrap();
    client.initial_response().unwrap();
    client.challenge(v.server_first.as_bytes()).unwrap();
    assert!(matches!(
        client.success(b""),
        Err(SaslError::MalformedMessage(_))
    ));
    // Success before anything.
    let mut client = SaslClient::new(&selection, &creds, &[], v.client_nonce).unwrap();
    assert_eq!(
        client.success(v.server_final.as_bytes()),
        Err(SaslError::UnexpectedStep)
    );
}

/// A SCRAM-SHA-1 client of RFC 5802 after the client-first.
fn rfc_client_after_first() -> SaslClient {
    let mut client = SaslClient::new(
        &Selection::without_binding(Mechanism::ScramSha1),
        &Credentials::new("user", "pencil"),
        &[],
        RFC5802.client_nonce,
    )
    .unwrap();
    client.initial_response().unwrap();
    client
}

/// Whether `got` is the `expected` error; any `MalformedMessage` matches
/// any other (the text says which field, and is not part of the contract).
fn same_error(got: &SaslError, expected: &SaslError) -> bool {
    match (got, expected) {
        (SaslError::MalformedMessage(_), SaslError::MalformedMessage(_)) => true,
        _ => got == expected,
    }
}

/// `{n}` is the client nonce of RFC 5802, `{s}` a valid salt, `{t}` a
/// valid salt and iteration count.
fn server_first_case(template: &str) -> String {
    template
        .replace("{t}", "{s},i=4096")
        .replace("{s}", "s=QSXCR+Q6sek8bf92")
        .replace("{n}", RFC5802.client_nonce)
}

#[test]
fn malformed_server_first() {
    let malformed = SaslError::MalformedMessage("");
    let cases = [
        ("", &malformed),
        ("garbage", &malformed),
        ("r={n}XYZ", &malformed),
        ("r={n}XYZ,{s}", &malformed),
        ("m=ext,r={n}XYZ,{t}", &malformed),
        ("{s},r={n}XYZ,i=4096", &malformed),
        ("r={n}XYZ,i=4096,{s}", &malformed),
        ("r={n}X Z,{t}", &malformed),
        ("r=,{t}", &malformed),
        ("r={n}XYZ,s=,i=4096", &malformed),
        ("r={n}XYZ,s=!!!!,i=4096", &malformed),
        ("r={n}XYZ,s=QSXCR+Q6sek8bf9,i=4096", &malformed),
        ("r={n}XYZ,{s},i=", &malformed),
        ("r={n}XYZ,{s},i=-1", &malformed),
        ("r={n}XYZ,{s},i=4096x", &malformed),
        ("r={n}XYZ,{s},i= 4096", &malformed),
        ("r={n}XYZ,{t},", &malformed),
        ("r={n}XYZ,{t},extension", &malformed),
        ("r={n}XYZ,{t},1=x", &malformed),
        ("r={n},{t}", &SaslError::NonceMismatch),
        ("r=XYZ{n},{t}", &SaslError::NonceMismatch),
        ("r=fyko+d2lbbFgONRv9qkxdaw,{t}", &SaslError::NonceMismatch),
        ("r=other,{t}", &SaslError::NonceMismatch),
        ("r={n}XYZ,{s},i=0", &SaslError::IterationCountTooLow(0)),
        (
            "r={n}XYZ,{s},i=4095",
            &SaslError::IterationCountTooLow(4095),
        ),
        (
            "r={n}XYZ,{s},i=10000001",
            &SaslError::IterationCountTooHigh(10_000_001),
        ),
        (
            "r={n}XYZ,{s},i=99999999999",
            &SaslError::IterationCountTooHigh(u32::MAX),
        ),
        (
            "e=unknown-user",
            &SaslError::ServerError("unknown-user".into()),
        ),
        (
            "e=other-error,x=y",
            &SaslError::ServerError("other-error".into()),
        ),
    ];
    for (template, expected) in cases {
        let message = server_first_case(template);
        let mut client = rfc_client_after_first();
        let got = client.challenge(message.as_bytes()).unwrap_err();
        assert!(same_error(&got, expected), "{message:?}: {got:?}");
        // After an error, the exchange is over.
        assert_eq!(client.challenge(b"x"), Err(SaslError::UnexpectedStep));
    }
    assert_eq!(
        SaslError::ServerError("x".into()).condition(),
        SaslCondition::NotAuthorized
    );
    // Not UTF-8.
    let mut client = rfc_client_after_first();
    assert!(matches!(
        client.challenge(b"r=\xff,s=QSXCR+Q6sek8bf92,i=4096"),
        Err(SaslError::MalformedMessage(_))
    ));
    // Extensions are ignored.
    let mut client = rfc_client_after_first();
    let with_ext = format!("{},x=whatever", RFC5802.server_first);
    client.challenge(with_ext.as_bytes()).unwrap();
}

#[test]
fn iteration_limits_are_configurable() {
    let creds = Credentials::new("user", "pencil");
    let selection = Selection::without_binding(Mechanism::ScramSha1);
    let mut client = SaslClient::new(&selection, &creds, &[], "abc")
        .unwrap()
        .with_iteration_limits(1, 100);
    client.initial_response().unwrap();
    client.challenge(b"r=abcd,s=QSXCR+Q6sek8bf92,i=1").unwrap();
    let mut client = SaslClient::new(&selection, &creds, &[], "abc")
        .unwrap()
        .with_iteration_limits(0, 100);
    client.initial_response().unwrap();
    assert_eq!(
        client.challenge(b"r=abcd,s=QSXCR+Q6sek8bf92,i=0"),
        Err(SaslError::IterationCountTooLow(0))
    );
    let mut client = SaslClient::new(&selection, &creds, &[], "abc")
        .unwrap()
        .with_iteration_limits(1, 100);
    client.initial_response().unwrap();
    assert_eq!(
        client.challenge(b"r=abcd,s=QSXCR+Q6sek8bf92,i=101"),
        Err(SaslError::IterationCountTooHigh(101))
    );
}

#[test]
fn malformed_server_final() {
    let cases = [
        "",
        "v",
        "x=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
        "v=rmF9pqV8S7suAoZWja4dJRkFsKQ",
        "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=,",
        "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=,garbage",
        "V=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
        " v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
    ];
    for message in cases {
        let mut client = rfc_client_after_first();
        client.challenge(RFC5802.server_first.as_bytes()).unwrap();
        let got = client.success(message.as_bytes()).unwrap_err();
        assert!(
            matches!(got, SaslError::MalformedMessage(_)),
            "{message:?}: {got:?}"
        );
    }
    let mut client = rfc_client_after_first();
    client.challenge(RFC5802.server_first.as_bytes()).unwrap();
    assert_eq!(
        client.success(b"e=invalid-proof"),
        Err(SaslError::ServerError("invalid-proof".to_owned()))
    );
    // Extensions after v= are allowed.
    let mut client = rfc_client_after_first();
    client.challenge(RFC5802.server_first.as_bytes()).unwrap();
    client
        .success(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=,x=1")
        .unwrap();
}

/// A SCRAM-SHA-1 server over the RFC 5802 store.
fn rfc_server(mechanism: Mechanism, bindings: &[ChannelBinding], plus_offered: bool) -> SaslServer {
    SaslServer::new(mechanism, bindings, plus_offered, RFC5802.server_nonce)
}

fn rfc_store() -> VectorStore {
    let salt = BASE64.decode(RFC5802.salt).unwrap();
    VectorStore(ScramCredentials::derive(
        ScramHash::Sha1,
        "pencil",
        &salt,
        4096,
    ))
}

#[test]
fn malformed_client_first() {
    let store = rfc_store();
    let malformed = [
        "",
        "n",
        "n,",
        "n,,",
        "x,,n=user,r=abc",
        "N,,n=user,r=abc",
        "p,,n=user,r=abc",
        "n,a,n=user,r=abc",
        "n,b=x,n=user,r=abc",
        "n,,r=abc,n=user",
        "n,,n=user",
        "n,,n=user,r=",
        "n,,n=user,r=a b",
        "n,,n=,r=abc",
        "n,,n=us=er,r=abc",
        "n,,n=us=2cer,r=abc",
        "n,,n=user,r=abc,",
        "n,,n=user,r=abc,junk",
        "n,,m=ext,n=user,r=abc",
        "n,,n=user\0,r=abc",
        "p=tls-exporter,,n=user,r=abc",
        "p=,,n=user,r=abc",
        "p=tls exporter,,n=user,r=abc",
        "p=tls-unique,,n=user,r=abc",
    ];
    for message in malformed {
        let mut server = rfc_server(Mechanism::ScramSha1, &all_bindings(1), false);
        let got = server.step(message.as_bytes(), &store);
        // The empty message solicits the initial response (once).
        if message.is_empty() {
            assert_eq!(got, Ok(ServerStep::Challenge(vec![])));
            continue;
        }
        let got = got.unwrap_err();
        assert!(
            matches!(got, SaslError::MalformedMessage(_)),
            "{message:?}: {got:?}"
        );
        assert_eq!(got.condition(), SaslCondition::MalformedRequest);
        assert_eq!(
            server.step(RFC5802.client_first.as_bytes(), &store),
            Err(SaslError::UnexpectedStep)
        );
    }
    for message in ["n,a=,n=user,r=abc", "n,a=x=y,n=user,r=abc"] {
        let mut server = rfc_server(Mechanism::ScramSha1, &[], false);
        let got = server.step(message.as_bytes(), &store).unwrap_err();
        assert_eq!(got, SaslError::InvalidAuthzid, "{message:?}");
        assert_eq!(got.condition(), SaslCondition::InvalidAuthzid);
    }
    let mut server = rfc_server(Mechanism::ScramSha1, &[], false);
    assert!(matches!(
        server.step(b"n,,n=\xffuser,r=abc", &store),
        Err(SaslError::MalformedMessage(_))
    ));
    // -PLUS without p=.
    for flag in ["n", "y"] {
        let mut server = rfc_server(Mechanism::ScramSha1Plus, &all_bindings(1), true);
        let message = format!("{flag},,n=user,r=abc");
        assert!(matches!(
            server.step(message.as_bytes(), &store),
            Err(SaslError::MalformedMessage(_))
        ));
    }
    // A bad server nonce is the caller's fault.
    let mut server = SaslServer::new(Mechanism::ScramSha1, &[], false, "a,b");
    assert!(matches!(
        server.step(RFC5802.client_first.as_bytes(), &store),
        Err(SaslError::InvalidArgument(_))
    ));
    // Optional extensions are ignored.
    let mut server = rfc_server(Mechanism::ScramSha1, &[], false);
    assert!(server.step(b"n,,n=user,r=abc,x=1", &store).is_ok());
}

#[test]
fn malformed_client_final() {
    let store = rfc_store();
    let v = RFC5802;
    let malformed = SaslError::MalformedMessage("");
    let mismatch = SaslError::ChannelBindingMismatch;
    let failed = SaslError::AuthenticationFailed;
    // {r} is the combined nonce, {p} the RFC proof.
    let cases = [
        ("", &malformed),
        ("{p}", &malformed),
        ("c=biws,r={r}", &malformed),
        ("c=biws,r={r},p=", &malformed),
        ("c=biws,r={r},p=!!", &malformed),
        ("c=biws,r={r},p=AAAA", &malformed),
        ("c=biws,r={r},{p},x=1", &malformed),
        ("r={r},c=biws,{p}", &malformed),
        ("c=biws,{p}", &malformed),
        ("c=bi,r={r},{p}", &malformed),
        ("c=biws,r={r},junk,{p}", &malformed),
        ("c=,r={r},{p}", &mismatch),
        ("c=eSws,r={r},{p}", &mismatch), // "y,,"
        ("c=biwsAA==,r={r},{p}", &mismatch),
        ("c=biws,r={r}x,{p}", &SaslError::NonceMismatch),
        (
            "c=biws,r=fyko+d2lbbFgONRv9qkxdawL,{p}",
            &SaslError::NonceMismatch,
        ),
        ("c=biws,r=,{p}", &SaslError::NonceMismatch),
        ("c=biws,r={r},p=w0X8v3Bz2T0CJGbJQyF0X+HI4Ts=", &failed),
        ("c=biws,r={r},p=AAAAAAAAAAAAAAAAAAAAAAAAAAA=", &failed),
        // The proof covers the extensions, so it no longer verifies.
        ("c=biws,r={r},x=1,{p}", &failed),
    ];
    for (template, expected) in cases {
        let message = template
            .replace("{r}", "fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j")
            .replace("{p}", "p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=");
        let mut server = rfc_server(Mechanism::ScramSha1, &[], false);
        server.step(v.client_first.as_bytes(), &store).unwrap();
        let got = server.step(message.as_bytes(), &store).unwrap_err();
        assert!(same_error(&got, expected), "{message:?}: {got:?}");
        assert_eq!(
            server.step(v.client_final.as_bytes(), &store),
            Err(SaslError::UnexpectedStep)
        );
    }
}

#[test]
fn malformed_plain() {
    let store = Store::juliet();
    let cases: [&[u8]; 10] = [
        b"juliet",
        b"\0juliet",
        b"\0juliet\0",
        b"\0\0r0m30 & p3nc1l",
        b"\0juliet\0r0m30 & p3nc1l\0",
        b"\0\0\0",
        b"a\0b\0c\0d",
        b"\0jul\xffiet\0r0m30 & p3nc1l",
        b"\0juliet\0r0m30 \xff p3nc1l",
        b"\0juliet\0\0r0m30 & p3nc1l",
    ];
    for data in cases {
        let mut server = SaslServer::new(Mechanism::Plain, &[], false, "");
        let got = server.step(data, &store).unwrap_err();
        assert!(
            matches!(got, SaslError::MalformedMessage(_)),
            "{data:?}: {got:?}"
        );
    }
    let mut server = SaslServer::new(Mechanism::Plain, &[], false, "");
    assert_eq!(
        server.step(b"\xff\0juliet\0r0m30 & p3nc1l", &store),
        Err(SaslError::InvalidAuthzid)
    );
    let mut server = SaslServer::new(Mechanism::Plain, &[], false, "");
    assert!(server.step(b"\0juliet\0r0m30 & p3nc1l", &store).is_ok());
    assert_eq!(
        server.step(b"\0juliet\0r0m30 & p3nc1l", &store),
        Err(SaslError::UnexpectedStep)
    );
}

#[test]
fn malformed_external_and_anonymous() {
    let mut store = Store::juliet();
    store.external = Some("juliet@capulet.lit".to_owned());
    store.anonymous = true;
    let mut server = SaslServer::new(Mechanism::External, &[], false, "");
    assert_eq!(server.step(b"\xff", &store), Err(SaslError::InvalidAuthzid));
    let mut server = SaslServer::new(Mechanism::External, &[], false, "");
    assert_eq!(server.step(b"a\0b", &store), Err(SaslError::InvalidAuthzid));
    let mut server = SaslServer::new(Mechanism::Anonymous, &[], false, "");
    assert!(matches!(
        server.step(b"\xff", &store),
        Err(SaslError::MalformedMessage(_))
    ));
    let mut server = SaslServer::new(Mechanism::Anonymous, &[], false, "");
    let long = "é".repeat(256);
    assert!(matches!(
        server.step(long.as_bytes(), &store),
        Err(SaslError::MalformedMessage(_))
    ));
    let mut server = SaslServer::new(Mechanism::Anonymous, &[], false, "");
    assert!(server.step("é".repeat(255).as_bytes(), &store).is_ok());
}

#[test]
fn invalid_client_arguments() {
    let none = Selection::without_binding;
    let creds = juliet();
    let bad = |selection: Selection, creds: &Credentials, nonce: &str| {
        matches!(
            SaslClient::new(&selection, creds, &all_bindings(1), nonce),
            Err(SaslError::InvalidArgument(_))
        )
    };
    for nonce in ["", "a,b", "a b", "é"] {
        assert!(
            bad(none(Mechanism::ScramSha256), &creds, nonce),
            "{nonce:?}"
        );
    }
    assert!(bad(
        none(Mechanism::ScramSha256),
        &Credentials::new("", "pw"),
        "n"
    ));
    assert!(bad(
        none(Mechanism::Plain),
        &Credentials::new("", "pw"),
        "n"
    ));
    assert!(bad(none(Mechanism::Plain), &Credentials::new("u", ""), "n"));
    assert!(bad(
        none(Mechanism::Plain),
        &Credentials::new("u\0", "pw"),
        "n"
    ));
    assert!(bad(
        none(Mechanism::Anonymous),
        &Credentials::new("x".repeat(256), ""),
        "n"
    ));
    // Inconsistent selections.
    assert!(bad(none(Mechanism::ScramSha256Plus), &creds, "n"));
    let exporter = ChannelBindingType::TlsExporter;
    assert!(bad(
        scram(Mechanism::ScramSha256, Gs2Flag::Used(exporter)),
        &creds,
        "n"
    ));
    let mut mixed = scram(Mechanism::ScramSha256Plus, Gs2Flag::Used(exporter));
    mixed.channel_binding = Some(ChannelBindingType::TlsUnique);
    assert!(bad(mixed, &creds, "n"));
    let mut mixed = scram(Mechanism::ScramSha256, Gs2Flag::ClientOnly);
    mixed.channel_binding = Some(exporter);
    assert!(bad(mixed, &creds, "n"));
    // Non-SCRAM mechanisms ignore the nonce.
    assert!(SaslClient::new(&none(Mechanism::Plain), &creds, &[], "").is_ok());
}

// ---- selection ----------------------------------------------------------------

/// What `select` picked: the mechanism and the GS2 flag.
type Picked = Result<(Mechanism, Gs2Flag), SaslError>;

const EJABBERD: &str = "SCRAM-SHA-1 SCRAM-SHA-1-PLUS SCRAM-SHA-256 SCRAM-SHA-256-PLUS SCRAM-SHA-512 SCRAM-SHA-512-PLUS PLAIN X-OAUTH2";

/// What a TLS 1.3 adapter gives (no tls-unique).
const TLS13: &[ChannelBindingType] = &[
    ChannelBindingType::TlsExporter,
    ChannelBindingType::TlsServerEndPoint,
];

/// What a TLS 1.2 adapter gives.
const TLS12: &[ChannelBindingType] = &[
    ChannelBindingType::TlsUnique,
    ChannelBindingType::TlsServerEndPoint,
];

fn names(mechanisms: &str) -> Vec<String> {
    mechanisms
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `select` over the space-separated `mechanisms`, the XEP-0440 list, TLS
/// or not, the binding types our TLS layer gives, and a policy.
fn pick(
    mechanisms: &str,
    server_cb: Option<&[ChannelBindingType]>,
    tls: bool,
    ours: &[ChannelBindingType],
    policy: &ClientPolicy,
) -> Picked {
    let mechanisms = names(mechanisms);
    let bindings: Vec<ChannelBinding> = ours.iter().map(|k| binding(*k, 1)).collect();
    let offer = Offer {
        mechanisms: &mechanisms,
        server_channel_bindings: server_cb,
        tls,
        bindings: &bindings,
    };
    select(&offer, policy).map(|s| {
        let expected_cb = match s.gs2_flag {
            Gs2Flag::Used(kind) => Some(kind),
            _ => None,
        };
        assert_eq!(s.channel_binding, expected_cb);
        assert_eq!(s.mechanism.is_plus(), expected_cb.is_some());
        (s.mechanism, s.gs2_flag)
    })
}

fn none_acceptable(mechanisms: &str) -> Picked {
    Err(SaslError::NoAcceptableMechanism {
        offered: names(mechanisms),
    })
}

#[test]
fn select_table() {
    use ChannelBindingType::{TlsExporter, TlsServerEndPoint, TlsUnique};
    use Gs2Flag::{ClientOnly, NotSupported, Used};
    use Mechanism::*;
    let default = ClientPolicy::default();
    let policy = |f: fn(&mut ClientPolicy)| {
        let mut p = ClientPolicy::default();
        f(&mut p);
        p
    };
    let disabling = |disabled: &[Mechanism]| ClientPolicy {
        disabled: disabled.to_vec(),
        ..ClientPolicy::default()
    };
    let scram_only = "SCRAM-SHA-1 SCRAM-SHA-256";

    // ejabberd 23.01 on TLS 1.3: -PLUS without XEP-0440 means tls-unique only,
    // which we do not have: the strongest plain SCRAM with n, never PLAIN.
    let got = pick(EJABBERD, None, true, TLS13, &default);
    assert_eq!(got, Ok((ScramSha512, NotSupported)), "ejabberd");
    let got = pick(EJABBERD, Some(&[TlsExporter]), true, TLS13, &default);
    assert_eq!(
        got,
        Ok((ScramSha512Plus, Used(TlsExporter))),
        "XEP-0440 exporter"
    );
    let got = pick(
        EJABBERD,
        Some(&[TlsServerEndPoint, TlsExporter]),
        true,
        TLS13,
        &default,
    );
    assert_eq!(
        got,
        Ok((ScramSha512Plus, Used(TlsExporter))),
        "exporter first"
    );
    let got = pick(
        EJABBERD,
        Some(&[TlsServerEndPoint, TlsUnique]),
        true,
        TLS13,
        &default,
    );
    assert_eq!(
        got,
        Ok((ScramSha512Plus, Used(TlsServerEndPoint))),
        "end-point"
    );
    let got = pick(EJABBERD, Some(&[TlsUnique]), true, TLS13, &default);
    assert_eq!(
        got,
        Ok((ScramSha512, NotSupported)),
        "XEP-0440, nothing in common"
    );
    let got = pick(EJABBERD, Some(&[]), true, TLS13, &default);
    assert_eq!(got, Ok((ScramSha512, NotSupported)), "XEP-0440 empty");
    let got = pick(EJABBERD, None, true, TLS12, &default);
    assert_eq!(
        got,
        Ok((ScramSha512Plus, Used(TlsUnique))),
        "TLS 1.2 legacy"
    );

    // Preference among mechanisms.
    let plus = "SCRAM-SHA-1-PLUS SCRAM-SHA-256-PLUS SCRAM-SHA-256";
    let got = pick(plus, Some(&[TlsExporter]), true, TLS13, &default);
    assert_eq!(
        got,
        Ok((ScramSha256Plus, Used(TlsExporter))),
        "strongest -PLUS"
    );
    let got = pick(
        "SCRAM-SHA-1-PLUS SCRAM-SHA-512",
        Some(&[TlsExporter]),
        true,
        TLS13,
        &default,
    );
    assert_eq!(got, Ok((ScramSha1Plus, Used(TlsExporter))), "-PLUS first");

    // The y flag: we can bind, no -PLUS offered.
    let stripped = "SCRAM-SHA-1 SCRAM-SHA-256 PLAIN";
    let got = pick(stripped, Some(&[TlsExporter]), true, TLS13, &default);
    assert_eq!(got, Ok((ScramSha256, ClientOnly)), "stripped, XEP-0440");
    let got = pick(scram_only, None, true, TLS13, &default);
    assert_eq!(got, Ok((ScramSha256, ClientOnly)), "stripped, no XEP-0440");
    let got = pick(scram_only, None, true, &[], &default);
    assert_eq!(got, Ok((ScramSha256, NotSupported)), "no bindings");
    let got = pick(
        "SCRAM-SHA-256-PLUS SCRAM-SHA-256",
        Some(&[TlsExporter]),
        false,
        TLS13,
        &default,
    );
    assert_eq!(got, Ok((ScramSha256, NotSupported)), "no TLS");
    let got = pick(scram_only, None, false, TLS13, &default);
    assert_eq!(got, Ok((ScramSha256, NotSupported)), "no TLS, no -PLUS");

    // PLAIN.
    let got = pick("SCRAM-SHA-256-PLUS PLAIN", None, true, TLS13, &default);
    assert_eq!(
        got,
        none_acceptable("SCRAM-SHA-256-PLUS PLAIN"),
        "only unusable -PLUS"
    );
    let got = pick("PLAIN", None, true, TLS13, &default);
    assert_eq!(got, Ok((Plain, NotSupported)), "PLAIN over TLS");
    let got = pick("PLAIN", None, false, &[], &default);
    assert_eq!(got, Err(SaslError::PlainWithoutTls), "PLAIN over plaintext");
    let allow = policy(|p| p.allow_plain_without_tls = true);
    let got = pick("PLAIN", None, false, &[], &allow);
    assert_eq!(
        got,
        Ok((Plain, NotSupported)),
        "PLAIN over plaintext allowed"
    );
    let got = pick("PLAIN", None, true, &[], &policy(|p| p.allow_plain = false));
    assert_eq!(got, none_acceptable("PLAIN"), "PLAIN not allowed");
    let got = pick("PLAIN", None, true, &[], &disabling(&[Plain]));
    assert_eq!(got, none_acceptable("PLAIN"), "PLAIN disabled");
    // PLAIN despite SCRAM: only when asked for and every SCRAM is disabled.
    let despite = policy(|p| p.plain_despite_scram = true);
    let got = pick("SCRAM-SHA-1 PLAIN", None, true, TLS13, &despite);
    assert_eq!(got, Ok((ScramSha1, ClientOnly)), "SCRAM still first");
    let despite_no_scram = ClientPolicy {
        plain_despite_scram: true,
        disabled: vec![ScramSha1],
        ..ClientPolicy::default()
    };
    let got = pick("SCRAM-SHA-1 PLAIN", None, true, TLS13, &despite_no_scram);
    assert_eq!(got, Ok((Plain, NotSupported)), "PLAIN despite SCRAM");
    let got = pick(
        "SCRAM-SHA-1 PLAIN",
        None,
        true,
        TLS13,
        &disabling(&[ScramSha1]),
    );
    assert_eq!(
        got,
        none_acceptable("SCRAM-SHA-1 PLAIN"),
        "disabled SCRAM is still a downgrade by default"
    );
    let got = pick("SCRAM-SHA-1 PLAIN", None, false, &[], &despite_no_scram);
    assert_eq!(
        got,
        Err(SaslError::PlainWithoutTls),
        "despite SCRAM, never in clear"
    );
    let got = pick(
        "SCRAM-SHA-1 PLAIN",
        None,
        true,
        &[],
        &disabling(&[ScramSha1]),
    );
    assert_eq!(
        got,
        none_acceptable("SCRAM-SHA-1 PLAIN"),
        "never PLAIN next to SCRAM"
    );

    // Policy.
    let no_512 = disabling(&[ScramSha512Plus, ScramSha512]);
    let got = pick(EJABBERD, Some(&[TlsExporter]), true, TLS13, &no_512);
    assert_eq!(
        got,
        Ok((ScramSha256Plus, Used(TlsExporter))),
        "disabled strongest"
    );
    // n, not y: y would make the honest server (which offered -PLUS) fail us.
    let no_plus = disabling(&[ScramSha512Plus, ScramSha256Plus, ScramSha1Plus]);
    let got = pick(EJABBERD, Some(&[TlsExporter]), true, TLS13, &no_plus);
    assert_eq!(got, Ok((ScramSha512, NotSupported)), "every -PLUS disabled");

    // Names.
    let odd = "X-OAUTH2 DIGEST-MD5 scram-sha-512 SCRAM-SHA-1\t SCRAM-SHA-3";
    let got = pick(odd, None, true, &[], &default);
    assert_eq!(got, Ok((ScramSha1, NotSupported)), "unknown names ignored");
    let got = pick("X-OAUTH2 DIGEST-MD5", None, true, &[], &default);
    assert_eq!(
        got,
        none_acceptable("X-OAUTH2 DIGEST-MD5"),
        "only unknown names"
    );
    assert_eq!(
        pick("", None, true, &[], &default),
        none_acceptable(""),
        "nothing"
    );

    // EXTERNAL and ANONYMOUS.
    let got = pick("EXTERNAL ANONYMOUS", None, true, &[], &default);
    assert_eq!(
        got,
        none_acceptable("EXTERNAL ANONYMOUS"),
        "only when asked"
    );
    let both = policy(|p| {
        p.use_external = true;
        p.use_anonymous = true;
    });
    let got = pick("SCRAM-SHA-256 EXTERNAL ANONYMOUS", None, true, &[], &both);
    assert_eq!(
        got,
        Ok((External, NotSupported)),
        "EXTERNAL first when asked"
    );
    let got = pick("SCRAM-SHA-256", None, true, &[], &both);
    assert_eq!(
        got,
        Ok((ScramSha256, NotSupported)),
        "asked but not offered"
    );
    let got = pick("SCRAM-SHA-256 ANONYMOUS", None, true, &[], &both);
    assert_eq!(got, Ok((Anonymous, NotSupported)), "ANONYMOUS when asked");
    let mut anonymous_disabled = both.clone();
    anonymous_disabled.disabled = vec![Anonymous];
    let got = pick(
        "SCRAM-SHA-256 ANONYMOUS",
        None,
        true,
        &[],
        &anonymous_disabled,
    );
    assert_eq!(got, Ok((ScramSha256, NotSupported)), "ANONYMOUS disabled");

    assert_eq!(
        SaslError::PlainWithoutTls.condition(),
        SaslCondition::EncryptionRequired
    );
}

// ---- <failure/> -------------------------------------------------------------

#[test]
fn failure_element() {
    let e: Element =
        "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>"
            .parse()
            .unwrap();
    let failure = Failure::parse(&e).unwrap();
    assert_eq!(failure, SaslError::AuthenticationFailed.to_failure());
    assert_eq!(failure.to_element(), e);
    assert_eq!(
        SaslError::InvalidAuthzid.to_failure().condition,
        Some(SaslCondition::InvalidAuthzid)
    );
}

// ---- property tests -------------------------------------------------------------

/// Pieces a hostile peer might assemble SCRAM messages from.
fn scram_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("r=abc".to_owned()),
        Just("r=abcdef".to_owned()),
        Just("s=QSXCR+Q6sek8bf92".to_owned()),
        Just("s=".to_owned()),
        "i=[0-9]{0,3}",
        "[a-z]=[ -~]{0,6}",
        Just("v=rmF9pqV8S7suAoZWja4dJRkFsKQ=".to_owned()),
        Just("e=x".to_owned()),
        Just("m=x".to_owned()),
        Just("n".to_owned()),
        Just("y".to_owned()),
        Just("p=tls-exporter".to_owned()),
        Just("n=user".to_owned()),
        Just("a=x=2C".to_owned()),
        Just("c=biws".to_owned()),
        Just("p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=".to_owned()),
        Just(String::new()),
        "[ -~]{0,8}",
        "\\PC{0,4}",
    ]
}

fn scram_message() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(scram_piece(), 0..7).prop_map(|p| p.join(",").into_bytes()),
        proptest::collection::vec(any::<u8>(), 0..64),
    ]
}

struct Hostile;

impl ServerCredentials for Hostile {
    fn scram(&self, username: &str, hash: ScramHash) -> Option<ScramCredentials> {
        // Sometimes an inconsistent verifier.
        username.len().is_multiple_of(2).then(|| ScramCredentials {
            hash,
            salt: username.as_bytes().to_vec(),
            iterations: 1,
            stored_key: vec![1; 3],
            server_key: vec![],
        })
    }
    fn verify_plain(&self, _: &str, password: &str) -> bool {
        password.len() == 3
    }
    fn external(&self, authzid: Option<&str>) -> Option<String> {
        authzid.map(str::to_owned)
    }
    fn anonymous(&self) -> bool {
        true
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn server_never_panics(
        mechanism in proptest::sample::select(Mechanism::ALL.to_vec()),
        plus_offered in any::<bool>(),
        messages in proptest::collection::vec(scram_message(), 1..4),
    ) {
        static STORE: OnceLock<Store> = OnceLock::new();
        let store = STORE.get_or_init(|| {
            let mut store = Store::juliet();
            store.anonymous = true;
            store
        });
        let mut server = SaslServer::new(mechanism, &all_bindings(1), plus_offered, "srv");
        let mut hostile = SaslServer::new(mechanism, &[], plus_offered, "srv");
        for message in &messages {
            let _ = server.step(message, store);
            let _ = hostile.step(message, &Hostile);
        }
    }

    #[test]
    fn client_never_panics(
        mechanism in proptest::sample::select(Mechanism::ALL.to_vec()),
        messages in proptest::collection::vec(scram_message(), 0..4),
        success in scram_message(),
        send_initial in any::<bool>(),
    ) {
        let bindings = all_bindings(1);
        let flag = if mechanism.is_plus() {
            Gs2Flag::Used(ChannelBindingType::TlsExporter)
        } else {
            Gs2Flag::ClientOnly
        };
        let selection = if mechanism.is_scram() {
            scram(mechanism, flag)
        } else {
            Selection::without_binding(mechanism)
        };
        // Small iteration counts keep PBKDF2 fast when a message happens to
        // be a valid server-first.
        let mut client = SaslClient::new(&selection, &juliet(), &bindings, "abc")
            .unwrap()
            .with_iteration_limits(1, 999);
        if send_initial {
            let _ = client.initial_response();
        }
        for message in &messages {
            let _ = client.challenge(message);
        }
        let _ = client.success(&success);
        let _ = client.success(&success);
        let _ = client.initial_response();
    }

    /// Our client against our server with arbitrary credentials and
    /// nonces: success exactly when the password matches.
    #[test]
    fn client_and_server_agree(
        username in "[^\\x00]{1,12}",
        password in "\\PC{0,12}",
        authzid in proptest::option::of("[^\\x00]{1,8}"),
        client_nonce in "[!-+\\--~]{1,16}",
        server_nonce in "[!-+\\--~]{1,16}",
        right in any::<bool>(),
    ) {
        let mut users = HashMap::new();
        let stored = if right { password.clone() } else { format!("{password}x") };
        users.insert(
            username.clone(),
            vec![ScramCredentials::derive(ScramHash::Sha256, &stored, b"salt", 64)],
        );
        let store = Store { users, external: None, anonymous: false };
        let credentials = Credentials { username: username.clone(), password, authzid: authzid.clone() };
        let selection = Selection::without_binding(Mechanism::ScramSha256);
        let mut client = SaslClient::new(&selection, &credentials, &[], &client_nonce)
            .unwrap()
            .with_iteration_limits(1, 100);
        let mut server = SaslServer::new(Mechanism::ScramSha256, &[], false, &server_nonce);
        let outcome = exchange(&mut client, &mut server, &store);
        if right {
            prop_assert_eq!(outcome, Outcome::Success { authcid: username, authzid });
        } else {
            prop_assert_eq!(outcome, Outcome::Server(SaslError::AuthenticationFailed, 2));
        }
    }
}
