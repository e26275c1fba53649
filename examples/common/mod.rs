//! What the examples share: the command line (`--server`, `--ca`,
//! `--max-messages`, positional arguments, `--help`), the exit status, a
//! tokio runtime, logging, and the answers a service gives to pings and
//! disco#info queries.

// Each example uses a part of this module.
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use xmpp_kit::ext::Payload as _;
use xmpp_kit::ext::disco::{self, DiscoInfo, Identity};
use xmpp_kit::ext::ping::{self, Ping};
use xmpp_kit::rt::Roots;
use xmpp_kit::rt::client::ClientBuilder;
use xmpp_kit::stanza::{DefinedCondition, Iq, IqKind, StanzaError};

/// Which options an example takes besides `--server` and `--help`.
#[derive(Debug, Clone, Copy)]
pub struct Takes {
    /// `--ca FILE` (repeatable).
    pub ca: bool,
    /// `--max-messages N`.
    pub max_messages: bool,
}

/// A parsed command line with `N` positional arguments.
#[derive(Debug)]
pub struct Args<const N: usize> {
    pub positional: [String; N],
    pub server: Option<String>,
    pub ca_files: Vec<PathBuf>,
    pub max_messages: Option<u64>,
}

/// Reads the command line of the example `name`. `expected` names the
/// positional arguments for the error message. On `--help` the usage goes
/// to stdout (exit 0); on a mistake the message and the usage go to stderr
/// (exit 1): `Err` carries that exit status.
pub fn args<const N: usize>(
    name: &str,
    usage: &str,
    expected: &str,
    takes: Takes,
) -> Result<Args<N>, ExitCode> {
    match parse(expected, takes) {
        Ok(Some(args)) => Ok(args),
        Ok(None) => {
            print!("{usage}");
            Err(ExitCode::SUCCESS)
        }
        Err(message) => {
            eprintln!("{name}: {message}\n\n{usage}");
            Err(ExitCode::FAILURE)
        }
    }
}

/// Parses the command line: `None` when help was asked for.
fn parse<const N: usize>(expected: &str, takes: Takes) -> Result<Option<Args<N>>, String> {
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
            "--ca" if takes.ca => ca_files.push(PathBuf::from(value(&mut args, "--ca")?)),
            "--max-messages" if takes.max_messages => {
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
    let positional = <[String; N]>::try_from(positional).map_err(|positional| {
        format!("expected {expected}, got {} argument(s)", positional.len())
    })?;
    Ok(Some(Args {
        positional,
        server,
        ca_files,
        max_messages,
    }))
}

/// The value after an option.
fn value(args: &mut impl Iterator<Item = String>, option: &str) -> Result<String, String> {
    args.next().ok_or_else(|| format!("{option} needs a value"))
}

/// The exit status of a run: 0, or 1 with the message on stderr.
pub fn exit(name: &str, result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{name}: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `future` on a current-thread tokio runtime built by hand (the
/// library's tokio features suffice, no macros needed).
pub fn block_on(name: &str, future: impl Future<Output = Result<(), String>>) -> ExitCode {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => exit(name, runtime.block_on(future)),
        Err(error) => exit(
            name,
            Err(format!("cannot start the tokio runtime: {error}")),
        ),
    }
}

/// A client builder for `jid`: `--server` instead of SRV, and with `--ca`
/// only those CAs instead of the system's roots.
pub fn client_builder(
    jid: &str,
    password: &str,
    server: Option<&str>,
    ca_files: &[PathBuf],
) -> ClientBuilder {
    let mut builder = ClientBuilder::new(jid, password);
    if let Some(server) = server {
        builder = builder.server(server);
    }
    if !ca_files.is_empty() {
        builder = builder.roots(Roots::ExtraOnly);
        for file in ca_files {
            builder = builder.ca_file(file);
        }
    }
    builder
}

/// Prints one line on stdout at once (a closed stdout does not stop the
/// program).
pub fn log(line: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

/// The answer to an iq: a result for a ping or a disco#info query (with
/// `identity`), an error for any other request, nothing for results and
/// errors.
pub fn answer(iq: &Iq, identity: Identity) -> Option<Iq> {
    let from = iq.from.as_ref().map_or("the server", |from| from.as_str());
    match &iq.kind {
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
                        identities: vec![identity],
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
