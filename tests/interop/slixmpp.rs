//! slixmpp, an independent Python XMPP client, against our server side,
//! the embedded hub (`xmpp_kit::hub`): `slixmpp_peer.py` logs in as alice
//! over STARTTLS (verifying the CA the hub made at start), enables XEP-0198, exchanges a message with our own client (bob),
//! pings the server, checks that the server acks its stanzas and
//! disconnects cleanly. Every step the script passes prints an `ok:` line.
//!
//! The script runs under `std::process` (watched with `try_wait`, its
//! output read on `spawn_blocking`), so this needs no tokio `process`
//! feature.
// Public for the harness, which is a binary crate.
#![allow(unreachable_pub)]

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use futures::StreamExt as _;
use tokio::time::{Instant, timeout_at};
use xmpp_kit::jid::Jid;
use xmpp_kit::rt::client::{Client, ClientEvent};
use xmpp_kit::stanza::{Message, Stanza};

use xmpp_kit::hub::Hub;
use xmpp_kit::rt::Roots;
use xmpp_kit::rt::client::ClientBuilder;

const DOMAIN: &str = "hub.test";
const PASSWORD: &str = "slixmpp-interop-pw";

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/slixmpp_peer.py");
/// The bound on the whole run.
const LIMIT: Duration = Duration::from_secs(60);
/// The script's own limit, below [`LIMIT`] so that it reports the step it
/// was stuck in.
const SCRIPT_LIMIT: Duration = Duration::from_secs(45);
const FROM_SLIXMPP: &str = "hello from slixmpp";
const FROM_US: &str = "hello from xmpp-kit";

/// Runs `slixmpp_peer.py` with `python` against the hub while our
/// client answers it; `Err` carries the script's exit status and output.
/// Set `XMPP_KIT_INTEROP_DEBUG` to have the script log its XML exchange.
pub async fn slixmpp_against_our_server(python: &Path) -> Result<(), String> {
    let deadline = Instant::now() + LIMIT;
    let hub = Hub::builder(DOMAIN)
        .listen("127.0.0.1:0")
        .user(&format!("alice@{DOMAIN}"), PASSWORD)
        .user(&format!("bob@{DOMAIN}"), PASSWORD)
        .start()
        .await
        .map_err(|e| format!("the hub did not start: {e}"))?;
    let address = hub.c2s_addr().ok_or("the hub has no client listener")?;
    let ca_pem = hub.ca_pem().ok_or("the hub made no CA")?.to_owned();
    let ca_file = std::env::temp_dir().join(format!(
        "xmpp-kit-slixmpp-ca-{}-{}.pem",
        std::process::id(),
        address.port()
    ));
    std::fs::write(&ca_file, &ca_pem).map_err(|e| format!("{}: {e}", ca_file.display()))?;
    let mut bob = timeout_at(
        deadline,
        ClientBuilder::new(&format!("bob@{DOMAIN}"), PASSWORD)
            .server(&address.to_string())
            .roots(Roots::ExtraOnly)
            .ca_pem(ca_pem.into_bytes())
            .connect(),
    )
    .await
    .map_err(|_| format!("our client did not connect within {LIMIT:?}"))?
    .map_err(|e| format!("our client (bob) could not connect: {e}"))?;
    // Available, so that a message to the bare JID reaches it.
    bob.send(xmpp_kit::stanza::Presence::available())
        .await
        .map_err(|e| format!("our client's presence: {e}"))?;

    let mut command = Command::new(python);
    command
        .arg(SCRIPT)
        .args(["--host", &address.ip().to_string()])
        .args(["--port", &address.port().to_string()])
        .args(["--jid", &format!("alice@{DOMAIN}")])
        .args(["--password", PASSWORD])
        .arg("--ca")
        .arg(&ca_file)
        .args(["--peer", &format!("bob@{DOMAIN}")])
        .args(["--timeout", &SCRIPT_LIMIT.as_secs().to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if std::env::var_os("XMPP_KIT_INTEROP_DEBUG").is_some() {
        command.arg("--debug");
    }
    let mut child = KillOnDrop(
        command
            .spawn()
            .map_err(|e| format!("cannot run {} {SCRIPT}: {e}", python.display()))?,
    );
    let stdout = read_all(child.0.stdout.take());
    let stderr = read_all(child.0.stderr.take());

    let outcome = timeout_at(deadline, answer_while_running(&mut bob, &mut child.0))
        .await
        .unwrap_or_else(|_| Err(format!("no result within {LIMIT:?}")));
    // Reaped here whatever happened, so that the pipes close and the
    // readers finish.
    let status = tokio::task::spawn_blocking(move || {
        let mut child = child;
        let _ = child.0.kill();
        child.0.wait()
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|status| status.map_err(|e| e.to_string()));
    let stdout = stdout.await.map_err(|e| e.to_string())?;
    let stderr = stderr.await.map_err(|e| e.to_string())?;
    let _ = tokio::time::timeout(Duration::from_secs(5), bob.close()).await;
    hub.shutdown().await;
    let _ = std::fs::remove_file(&ca_file);

    let report = |problem: &str| {
        let status = match &status {
            Ok(status) => status.to_string(),
            Err(e) => format!("unknown ({e})"),
        };
        format!(
            "slixmpp interop: {problem}\nscript exit status: {status}\n\
             --- script stdout ---\n{stdout}\n--- script stderr ---\n{stderr}"
        )
    };
    match outcome {
        Err(problem) => Err(report(&problem)),
        Ok((exit, answered)) if !exit.success() => Err(report(if answered.is_some() {
            "the script failed"
        } else {
            "the script failed (and our client never got its message)"
        })),
        Ok((_, None)) => Err(report(&format!(
            "the script passed but our client never got {FROM_SLIXMPP:?} from alice"
        ))),
        Ok((_, Some(_))) => Ok(()),
    }
}

/// Drives our client until the script exits: answers alice's greeting
/// (to the full JID it came from). Returns the script's exit status and
/// whom we answered.
async fn answer_while_running(
    bob: &mut Client,
    child: &mut Child,
) -> Result<(ExitStatus, Option<Jid>), String> {
    let mut answered: Option<Jid> = None;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    loop {
        tokio::select! {
            event = bob.next() => match event {
                Some(ClientEvent::Stanza(Stanza::Message(message)))
                    if message.body() == Some(FROM_SLIXMPP) =>
                {
                    let from = message
                        .from
                        .clone()
                        .ok_or_else(|| format!("{FROM_SLIXMPP:?} arrived without a sender"))?;
                    if from.bare_str() != format!("alice@{DOMAIN}") || !from.is_full() {
                        return Err(format!(
                            "{FROM_SLIXMPP:?} came from {from}, not from a full JID of alice"
                        ));
                    }
                    if answered.is_none() {
                        bob.send(Message::chat(from.clone(), FROM_US))
                            .await
                            .map_err(|e| format!("our client could not answer: {e}"))?;
                        answered = Some(from);
                    }
                }
                Some(ClientEvent::Disconnected { error, .. }) => {
                    return Err(format!("our client was disconnected: {error}"));
                }
                Some(_) => {}
                None => return Err("our client's event stream ended".to_owned()),
            },
            _ = tick.tick() => {
                if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
                    return Ok((status, answered));
                }
            }
        }
    }
}

/// A child process killed (and reaped) when dropped, e.g. when the test's
/// future is dropped on a timeout.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Everything `pipe` yields until it closes, read on a blocking thread.
fn read_all(pipe: Option<impl std::io::Read + Send + 'static>) -> tokio::task::JoinHandle<String> {
    tokio::task::spawn_blocking(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}
