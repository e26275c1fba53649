//! An echo service as an XEP-0114 external component (tokio): the server
//! routes every stanza for `DOMAIN` and its addresses (`anything@DOMAIN`)
//! to it. It echoes messages back from the address they were sent to,
//! answers pings and service discovery (disco#info), and refuses other
//! requests with `service-unavailable`. It logs one line per event on
//! stdout.
//!
//! ```text
//! cargo run --example component -- echo.example.org 'shared secret'
//! cargo run --example component -- --server 127.0.0.1:5347 --max-messages 3 \
//!     echo.example.org 'shared secret'
//! ```
//!
//! `DOMAIN` and `SECRET` are those of the server's component
//! configuration; `--server` is the server's component port (default
//! 127.0.0.1:5347). The XEP-0114 stream is not encrypted: run components
//! on the server's host or a private network only. The service runs until
//! the server ends the stream or, with `--max-messages N`, until it echoed
//! N messages; then it closes the stream cleanly. Ctrl-C stops it at once.
//!
//! Command-line arguments are visible to other users of the machine: use a
//! secret you can afford to show, or adapt the example to read it from
//! elsewhere.

mod common;

use std::process::ExitCode;
use std::time::Duration;

use futures::StreamExt as _;
use xmpp_kit::ext::disco::Identity;
use xmpp_kit::rt::component::{Component, ComponentClientError, ComponentEvent};
use xmpp_kit::stanza::{Message, MessageType, Stanza};

use common::log;

const USAGE: &str = "\
Usage: component [OPTIONS] DOMAIN SECRET

Connects to the server's component port as DOMAIN with SECRET (XEP-0114),
echoes messages, answers pings and service discovery.

Options:
  --server HOST:PORT  the server's component port (default 127.0.0.1:5347)
  --max-messages N    stop after echoing N messages
  -h, --help          print this help
  --                  end of options (for a secret starting with '-')
";

/// Where servers usually accept components.
const DEFAULT_SERVER: &str = "127.0.0.1:5347";
/// How long connecting may take.
const CONNECT_LIMIT: Duration = Duration::from_secs(30);
/// How long closing may take.
const CLOSE_LIMIT: Duration = Duration::from_secs(10);

/// The command line.
struct Args {
    domain: String,
    secret: String,
    server: String,
    max_messages: Option<u64>,
}

fn main() -> ExitCode {
    let takes = common::Takes {
        ca: false,
        max_messages: true,
    };
    let parsed = match common::args("component", USAGE, "DOMAIN and SECRET", takes) {
        Ok(parsed) => parsed,
        Err(status) => return status,
    };
    let [domain, secret] = parsed.positional;
    let args = Args {
        domain,
        secret,
        server: parsed.server.unwrap_or_else(|| DEFAULT_SERVER.to_owned()),
        max_messages: parsed.max_messages,
    };
    common::block_on("component", run(args))
}

async fn run(args: Args) -> Result<(), String> {
    let connecting = Component::connect(&args.server, &args.domain, &args.secret);
    let mut component = tokio::time::timeout(CONNECT_LIMIT, connecting)
        .await
        .map_err(|_| format!("cannot connect to {}: no answer in time", args.server))?
        .map_err(|error| {
            format!(
                "cannot connect to {} as {}: {error}",
                args.server, args.domain
            )
        })?;
    log(format_args!("online as {}", component.domain()));

    let mut echoed = 0;
    while let Some(event) = component.next().await {
        match event {
            ComponentEvent::Stanza(stanza) => {
                let was_echo = match handle(&component, stanza).await {
                    Ok(was_echo) => was_echo,
                    // One answer refused (an invalid address): carry on.
                    Err(ComponentClientError::Send(error)) => {
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
            ComponentEvent::Ended(None) => {
                log(format_args!("the server closed the stream"));
                return Ok(());
            }
            ComponentEvent::Ended(Some(error)) => {
                return Err(format!("the stream ended: {error}"));
            }
            other => log(format_args!("event: {other:?}")),
        }
    }
    if tokio::time::timeout(CLOSE_LIMIT, component.close())
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
async fn handle(component: &Component, stanza: Stanza) -> Result<bool, ComponentClientError> {
    match stanza {
        Stanza::Message(message) => {
            let addresses = message.from.clone().zip(message.to.clone());
            match (message.kind, message.body(), addresses) {
                // Person-to-person messages with text. Never answer errors
                // (two services would bounce them forever), groupchat or
                // headlines (which expect no reply).
                (MessageType::Chat | MessageType::Normal, Some(body), Some((from, to))) => {
                    log(format_args!("message from {from} to {to}: {body:?}"));
                    // The echo comes from the address that was written to,
                    // which is in our domain.
                    let mut echo = Message::new(message.kind)
                        .with_to(from.clone())
                        .with_from(to)
                        .with_body(body);
                    echo.thread = message.thread.clone();
                    component.send(echo).await?;
                    log(format_args!("echoed to {from}"));
                    Ok(true)
                }
                (kind, _, _) => {
                    let from = message.from.as_ref().map_or("?", |from| from.as_str());
                    log(format_args!(
                        "ignored a {} message without text from {from}",
                        kind.as_str()
                    ));
                    Ok(false)
                }
            }
        }
        Stanza::Iq(iq) => {
            if let Some(reply) = common::answer(
                &iq,
                Identity::new("component", "generic").with_name("echo service"),
            ) {
                component.send(reply).await?;
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
