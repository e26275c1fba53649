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

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use futures::StreamExt as _;
use xmpp_kit::ext::Payload as _;
use xmpp_kit::ext::disco::{self, DiscoInfo, Identity};
use xmpp_kit::ext::ping::{self, Ping};
use xmpp_kit::rt::Roots;
use xmpp_kit::rt::client::{Client, ClientBuilder, ClientError, ClientEvent};
use xmpp_kit::stanza::{
    DefinedCondition, Iq, IqKind, Message, MessageType, Presence, Stanza, StanzaError,
};

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
    let args = match parse_args() {
        Ok(Some(args)) => args,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("echo_bot: {message}\n\n{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    // The library's tokio features suffice for a runtime built by hand.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("echo_bot: cannot start the tokio runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("echo_bot: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Parses the command line: `None` when help was asked for.
fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Vec::new();
    for arg in std::env::args_os().skip(1) {
        args.push(
            arg.into_string()
                .map_err(|arg| format!("argument {arg:?} is not valid UTF-8"))?,
        );
    }
    let mut args = args.into_iter();
    let mut server = None;
    let mut ca_files = Vec::new();
    let mut max_messages = None;
    let mut positional = Vec::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--server" => server = Some(value(&mut args, "--server")?),
            "--ca" => ca_files.push(PathBuf::from(value(&mut args, "--ca")?)),
            "--max-messages" => {
                let n = value(&mut args, "--max-messages")?;
                match n.parse::<u64>() {
                    Ok(n) if n > 0 => max_messages = Some(n),
                    _ => return Err(format!("--max-messages needs a number above 0, not {n:?}")),
                }
            }
            "--" => {
                positional.extend(args.by_ref());
                break;
            }
            option if option.starts_with('-') && option.len() > 1 => {
                return Err(format!("unknown option {option}"));
            }
            _ => positional.push(arg),
        }
    }
    let [jid, password] = <[String; 2]>::try_from(positional).map_err(|positional| {
        format!(
            "expected JID and PASSWORD, got {} argument(s)",
            positional.len()
        )
    })?;
    Ok(Some(Args {
        jid,
        password,
        server,
        ca_files,
        max_messages,
    }))
}

/// The value after an option.
fn value(args: &mut impl Iterator<Item = String>, option: &str) -> Result<String, String> {
    args.next().ok_or_else(|| format!("{option} needs a value"))
}

/// Prints one line on stdout at once (a closed stdout does not stop the
/// bot).
fn log(line: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

async fn run(args: Args) -> Result<(), String> {
    let mut builder = ClientBuilder::new(&args.jid, args.password.as_str());
    if let Some(server) = &args.server {
        builder = builder.server(server);
    }
    if !args.ca_files.is_empty() {
        builder = builder.roots(Roots::ExtraOnly);
        for file in &args.ca_files {
            builder = builder.ca_file(file);
        }
    }
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
            if let Some(reply) = answer(&iq) {
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

/// The answer to an iq: a result for a ping or a disco#info query, an
/// error for any other request, nothing for results and errors.
fn answer(iq: &Iq) -> Option<Iq> {
    let from = iq.from.as_ref().map_or("the server", |from| from.as_str());
    match &iq.kind {
        // (The client answers pings itself before they get here; this arm
        // shows how it is done.)
        IqKind::Get(payload) if Ping::matches(payload) => {
            log(format_args!("ping from {from}"));
            Some(Iq::result_for(iq, None))
        }
        IqKind::Get(payload) if DiscoInfo::matches(payload) => {
            log(format_args!("disco#info query from {from}"));
            match DiscoInfo::parse(payload) {
                // We have no nodes.
                Ok(query) if query.node.is_some() => {
                    iq.error_reply(StanzaError::new(DefinedCondition::ItemNotFound))
                }
                Ok(_) => {
                    let info = DiscoInfo {
                        identities: vec![Identity::new("client", "bot").with_name("echo bot")],
                        features: vec![disco::NS_INFO.to_owned(), ping::NS.to_owned()],
                        ..DiscoInfo::default()
                    };
                    Some(Iq::result_for(iq, Some(info.to_element())))
                }
                Err(error) => iq.error_reply(StanzaError::new(error.condition())),
            }
        }
        IqKind::Get(payload) | IqKind::Set(payload) => {
            log(format_args!(
                "refused an iq {} <{} xmlns='{}'/> from {from}",
                iq.kind.as_str(),
                payload.name(),
                payload.ns()
            ));
            iq.error_reply(StanzaError::new(DefinedCondition::ServiceUnavailable))
        }
        IqKind::Result(_) | IqKind::Error { .. } => None,
    }
}
