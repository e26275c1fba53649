//! An echo bot: connects with the tokio [`ClientBuilder`], sends its
//! presence, echoes every chat message back to its sender, answers pings
//! and service discovery (disco#info), and refuses other requests with
//! `service-unavailable`. It logs one line per event on stdout.
//!
//! ```text
//! cargo run --example echo_bot -- bot@example.org 'password'
//! cargo run --example echo_bot -- --server 127.0.0.1:5222 --ca ca.pem bot@example.test 'password'
//! cargo run --example echo_bot -- --max-messages 3 bot@example.org 'password'
//! ```
//!
//! Without `--server`, the server is found with DNS SRV records of the
//! JID's domain; the certificate is always checked against that domain,
//! with the system's roots or, with `--ca`, a private CA's. The bot runs
//! until the connection ends for good (it reconnects by itself and resumes
//! the session when it can) or, with `--max-messages N`, until it echoed N
//! messages; then it closes the stream cleanly. Ctrl-C stops it at once,
//! without closing the stream (the server notices the lost connection).
//!
//! Command-line arguments are visible to other users of the machine: use a
//! password you can afford to show, or adapt the example to read it from
//! elsewhere.

mod common;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use futures::StreamExt as _;
use xmpp_kit::ext::disco::Identity;
use xmpp_kit::rt::client::{Client, ClientError, ClientEvent};
use xmpp_kit::stanza::{Message, MessageType, Presence, Stanza};

use common::log;

const USAGE: &str = "\
Usage: echo_bot [OPTIONS] JID PASSWORD

Connects as JID, echoes chat messages back to their sender, answers pings
and service discovery, and runs until the connection ends.

Options:
  --server HOST:PORT  connect to this address instead of looking up the
                      JID's domain in DNS (SRV records)
  --ca FILE           trust the CA certificates of this PEM file instead of
                      the system's roots (may be repeated)
  --max-messages N    stop after echoing N messages
  -h, --help          print this help
  --                  end of options (for a password starting with '-')
";

/// How long closing may take before the bot gives up waiting.
const CLOSE_LIMIT: Duration = Duration::from_secs(10);

/// The command line.
struct Args {
    jid: String,
    password: String,
    server: Option<String>,
    ca_files: Vec<PathBuf>,
    max_messages: Option<u64>,
}

fn main() -> ExitCode {
    let takes = common::Takes {
        ca: true,
        max_messages: true,
    };
    let parsed = match common::args("echo_bot", USAGE, "JID and PASSWORD", takes) {
        Ok(parsed) => parsed,
        Err(status) => return status,
    };
    let [jid, password] = parsed.positional;
    let args = Args {
        jid,
        password,
        server: parsed.server,
        ca_files: parsed.ca_files,
        max_messages: parsed.max_messages,
    };
    common::block_on("echo_bot", run(args))
}

async fn run(args: Args) -> Result<(), String> {
    let builder = common::client_builder(
        &args.jid,
        &args.password,
        args.server.as_deref(),
        &args.ca_files,
    );
    let mut client = builder
        .connect()
        .await
        .map_err(|error| format!("cannot connect as {}: {error}", args.jid))?;
    log(format_args!("online as {}", client.jid()));
    client
        .send(Presence::available())
        .await
        .map_err(|error| format!("cannot send presence: {error}"))?;

    let mut echoed = 0;
    let mut failure = None;
    while let Some(event) = client.next().await {
        match event {
            ClientEvent::Online { jid, resumed } => {
                if resumed {
                    log(format_args!("online again as {jid} (session resumed)"));
                } else {
                    // A new session: the server forgot our presence.
                    log(format_args!("online again as {jid} (new session)"));
                    client
                        .send(Presence::available())
                        .await
                        .map_err(|error| format!("cannot send presence: {error}"))?;
                }
            }
            ClientEvent::Disconnected {
                error,
                reconnecting,
            } => {
                if reconnecting {
                    log(format_args!("disconnected ({error}), reconnecting"));
                } else {
                    log(format_args!("disconnected ({error})"));
                    failure = Some(error);
                }
            }
            ClientEvent::Stanza(stanza) => {
                let was_echo = match handle(&client, stanza).await {
                    Ok(was_echo) => was_echo,
                    // One answer refused (an invalid address): carry on.
                    Err(ClientError::Send(error)) => {
                        log(format_args!("could not answer: {error}"));
                        false
                    }
                    Err(error) => return Err(format!("cannot answer: {error}")),
                };
                if was_echo {
                    echoed += 1;
                    if args.max_messages == Some(echoed) {
                        log(format_args!("echoed {echoed} message(s), closing"));
                        break;
                    }
                }
            }
            other => log(format_args!("event: {other:?}")),
        }
    }
    if let Some(error) = failure {
        return Err(format!("the connection ended: {error}"));
    }
    // Everything sent before is written first, then the stream ends.
    if tokio::time::timeout(CLOSE_LIMIT, client.close())
        .await
        .is_err()
    {
        log(format_args!("the server did not close its side in time"));
    } else {
        log(format_args!("closed"));
    }
    Ok(())
}

/// Handles one incoming stanza; true when it was a message we echoed.
async fn handle(client: &Client, stanza: Stanza) -> Result<bool, ClientError> {
    match stanza {
        Stanza::Message(message) => {
            let from = message.from.clone();
            match (message.kind, message.body(), from) {
                // Person-to-person messages with text. Never answer errors
                // (two bots would bounce them forever), groupchat or
                // headlines (which expect no reply).
                (MessageType::Chat | MessageType::Normal, Some(body), Some(from)) => {
                    log(format_args!("message from {from}: {body:?}"));
                    let mut echo = Message::new(message.kind)
                        .with_to(from.clone())
                        .with_body(body);
                    echo.thread = message.thread.clone();
                    client.send(echo).await?;
                    log(format_args!("echoed to {from}"));
                    Ok(true)
                }
                (kind, _, from) => {
                    let from = from.as_ref().map_or("the server", |from| from.as_str());
                    log(format_args!(
                        "ignored a {} message without text from {from}",
                        kind.as_str()
                    ));
                    Ok(false)
                }
            }
        }
        Stanza::Iq(iq) => {
            if let Some(reply) =
                common::answer(&iq, Identity::new("client", "bot").with_name("echo bot"))
            {
                client.send(reply).await?;
            }
            Ok(false)
        }
        Stanza::Presence(presence) => {
            let from = presence.from.as_ref().map_or("?", |from| from.as_str());
            let kind = presence.kind.as_str().unwrap_or("available");
            log(format_args!("presence from {from}: {kind}"));
            Ok(false)
        }
    }
}
