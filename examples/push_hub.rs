//! The embedded hub with a push service: README's main command.
//!
//! ```text
//! cargo run --example push_hub
//! cargo run --example push_hub -- --port 5222 --component-port 5347 --ca-file hub-ca.pem
//! ```
//!
//! It starts an XMPP server in this process on 127.0.0.1 (domain
//! `localhost`, STARTTLS with a certificate made at start, its CA written
//! to a file), with three demo accounts, and a demo XEP-0114 component,
//! `push.localhost`, that pushes a timestamped event every second to every
//! subscribed account. alice and bob are subscribed from the start; any
//! account subscribes by sending presence of type `subscribe` (or a
//! message "subscribe") to `events@push.localhost`, and leaves with
//! `unsubscribe`.
//!
//! Then connect any XMPP client, for example our echo bot in a second
//! terminal (it prints the pushes it receives):
//!
//! ```text
//! cargo run --example echo_bot -- --server 127.0.0.1:5222 --ca target/push_hub-ca.pem alice@localhost alice-pw
//! ```
//!
//! Ctrl-C (or `--run-for SECONDS`) shuts the hub down cleanly: every
//! stream is closed with `system-shutdown`.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::StreamExt as _;
use xmpp_kit::hub::Hub;
use xmpp_kit::jid::{BareJid, Jid};
use xmpp_kit::rt::component::{Component, ComponentEvent};
use xmpp_kit::stanza::{Message, Presence, PresenceType, Stanza};

use common::log;

const USAGE: &str = "\
Usage: push_hub [OPTIONS]

Runs an embedded XMPP hub for the domain `localhost` on 127.0.0.1, with
demo accounts and a component that pushes an event every second.

Options:
  --port N            client port (STARTTLS), default 5222 (0: any free port)
  --component-port N  component port (XEP-0114), default 5347 (0: any)
  --ca-file FILE      where to write the CA certificate clients must trust
                      (default target/push_hub-ca.pem)
  --database FILE     the SQLite database that keeps accounts, rosters,
                      messages and the certificate across restarts
                      (default target/push_hub.db)
  --memory            keep everything in memory instead (lost at exit)
  --run-for SECONDS   shut down after this long (default: until Ctrl-C)
  -h, --help          print this help
";

const DOMAIN: &str = "localhost";
const COMPONENT: &str = "push.localhost";
const SECRET: &str = "push-hub-demo-secret";
const ACCOUNTS: &[(&str, &str)] = &[
    ("alice", "alice-pw"),
    ("bob", "bob-pw"),
    ("carol", "carol-pw"),
];

struct Options {
    port: u16,
    component_port: u16,
    ca_file: PathBuf,
    database: Option<PathBuf>,
    run_for: Option<Duration>,
}

fn parse() -> Result<Option<Options>, String> {
    let mut options = Options {
        port: 5222,
        component_port: 5347,
        ca_file: PathBuf::from("target/push_hub-ca.pem"),
        database: Some(PathBuf::from("target/push_hub.db")),
        run_for: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--port" => {
                options.port = value("--port")?
                    .parse()
                    .map_err(|e| format!("--port: {e}"))?;
            }
            "--component-port" => {
                options.component_port = value("--component-port")?
                    .parse()
                    .map_err(|e| format!("--component-port: {e}"))?;
            }
            "--ca-file" => options.ca_file = PathBuf::from(value("--ca-file")?),
            "--database" => options.database = Some(PathBuf::from(value("--database")?)),
            "--memory" => options.database = None,
            "--run-for" => {
                let seconds: f64 = value("--run-for")?
                    .parse()
                    .map_err(|e| format!("--run-for: {e}"))?;
                if !(seconds.is_finite() && seconds >= 0.0) {
                    return Err("--run-for: a number of seconds".into());
                }
                options.run_for = Some(Duration::from_secs_f64(seconds));
            }
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    Ok(Some(options))
}

fn main() -> ExitCode {
    let options = match parse() {
        Ok(Some(options)) => options,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("push_hub: {message}\n\n{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    common::block_on("push_hub", run(options))
}

async fn run(options: Options) -> Result<(), String> {
    if let Some(dir) = options.ca_file.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let mut builder = Hub::builder(DOMAIN)
        .listen(&format!("127.0.0.1:{}", options.port))
        .components(&format!("127.0.0.1:{}", options.component_port))
        .component(COMPONENT, SECRET)
        .ca_file(&options.ca_file);
    if let Some(database) = &options.database {
        if let Some(dir) = database.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        builder = builder
            .database(database)
            .map_err(|e| format!("{}: {e}", database.display()))?;
        log(format_args!(
            "push_hub: state kept in {}",
            database.display()
        ));
    }
    for (user, password) in ACCOUNTS {
        builder = builder.user(&format!("{user}@{DOMAIN}"), password);
    }
    let hub = builder.start().await.map_err(|e| e.to_string())?;
    let c2s = hub.c2s_addr().ok_or("no client listener")?;
    let components = hub.component_addr().ok_or("no component listener")?;
    log(format_args!(
        "push_hub: serving {DOMAIN} on {c2s} (STARTTLS required), components on {components}"
    ));
    log(format_args!(
        "CA certificate for clients to trust: {}",
        options.ca_file.display()
    ));
    for (user, password) in ACCOUNTS {
        log(format_args!(
            "account: {user}@{DOMAIN}  password: {password}"
        ));
    }
    log(format_args!(
        "events: every second from events@{COMPONENT} to subscribers (alice and bob from the start; \
         others send presence 'subscribe' or the message \"subscribe\" to events@{COMPONENT})"
    ));
    log(format_args!(
        "try: cargo run --example echo_bot -- --server {c2s} --ca {} alice@{DOMAIN} alice-pw",
        options.ca_file.display()
    ));

    let component = Component::connect(&components.to_string(), COMPONENT, SECRET)
        .await
        .map_err(|e| format!("the demo component could not connect: {e}"))?;
    log(format_args!("component {COMPONENT}: online"));
    let pushing = tokio::spawn(push_events(component));

    let stop = async {
        match options.run_for {
            Some(limit) => tokio::time::sleep(limit).await,
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    };
    stop.await;
    log(format_args!("push_hub: shutting down"));
    pushing.abort();
    hub.shutdown().await;
    log(format_args!("push_hub: stopped"));
    Ok(())
}

/// The demo component: keeps the subscribers, answers subscription
/// requests, and pushes a headline every second.
async fn push_events(mut component: Component) {
    let events: Jid = match format!("events@{COMPONENT}").parse() {
        Ok(jid) => jid,
        Err(_) => return,
    };
    let mut subscribers: BTreeSet<BareJid> = ["alice", "bob"]
        .iter()
        .filter_map(|user| format!("{user}@{DOMAIN}").parse().ok())
        .collect();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut count: u64 = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                count += 1;
                let text = format!("event #{count} at {}", utc_now());
                for subscriber in &subscribers {
                    let push = Message::headline(subscriber.clone().into())
                        .with_body(text.clone())
                        .with_from(events.clone());
                    if component.send(push).await.is_err() {
                        return;
                    }
                }
            }
            event = component.next() => {
                let Some(ComponentEvent::Stanza(stanza)) = event else {
                    log(format_args!("component {COMPONENT}: ended"));
                    return;
                };
                let Some(from) = stanza.sender().map(Jid::to_bare) else { continue };
                let wish = match &stanza {
                    Stanza::Presence(p) => match p.kind {
                        PresenceType::Subscribe => Some(true),
                        PresenceType::Unsubscribe => Some(false),
                        _ => None,
                    },
                    Stanza::Message(m) => match m.body().map(str::trim) {
                        Some("subscribe") => Some(true),
                        Some("unsubscribe") => Some(false),
                        _ => None,
                    },
                    Stanza::Iq(_) => None,
                };
                let Some(subscribe) = wish else { continue };
                let answer = if subscribe {
                    subscribers.insert(from.clone());
                    Presence::subscribed(from.clone().into())
                } else {
                    subscribers.remove(&from);
                    Presence::unsubscribed(from.clone().into())
                };
                log(format_args!(
                    "component {COMPONENT}: {from} {}",
                    if subscribe { "subscribed" } else { "unsubscribed" }
                ));
                if component.send(answer.with_from(events.clone())).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Now as `YYYY-MM-DDTHH:MM:SSZ` (UTC).
fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}
