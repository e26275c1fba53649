//! Sends one chat message with the tokio [`ClientBuilder`] and exits 0 only
//! once the server confirmed receiving it (`send_confirmed`: a XEP-0198
//! ack, or the answer to a ping sent right after it). Anything else (bad
//! arguments, no connection, wrong password, no confirmation) is reported
//! on stderr with exit status 1: fit for scripts and cron jobs.
//!
//! ```text
//! cargo run --example send_message -- me@example.org 'password' you@example.org 'Hello!'
//! cargo run --example send_message -- --server 127.0.0.1:5222 --ca ca.pem \
//!     me@example.test 'password' you@example.test 'Hello!'
//! ```
//!
//! Without `--server`, the server is found with DNS SRV records of the
//! JID's domain; the certificate is always checked against that domain,
//! with the system's roots or, with `--ca`, a private CA's. The blocking
//! client does the same without an async runtime: see `blocking_send`.
//!
//! Command-line arguments are visible to other users of the machine: use a
//! password you can afford to show, or adapt the example to read it from
//! elsewhere.

mod common;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use xmpp_kit::jid::Jid;
use xmpp_kit::stanza::Message;

const USAGE: &str = "\
Usage: send_message [OPTIONS] JID PASSWORD TO BODY

Connects as JID, sends BODY as a chat message to TO, and exits 0 once the
server confirmed receiving it (1 otherwise).

Options:
  --server HOST:PORT  connect to this address instead of looking up the
                      JID's domain in DNS (SRV records)
  --ca FILE           trust the CA certificates of this PEM file instead of
                      the system's roots (may be repeated)
  -h, --help          print this help
  --                  end of options (for arguments starting with '-')
";

/// How long connecting, and then the confirmation, may take.
const LIMIT: Duration = Duration::from_secs(30);
/// How long closing may take.
const CLOSE_LIMIT: Duration = Duration::from_secs(10);

/// The command line.
struct Args {
    jid: String,
    password: String,
    to: String,
    body: String,
    server: Option<String>,
    ca_files: Vec<PathBuf>,
}

fn main() -> ExitCode {
    let takes = common::Takes {
        ca: true,
        max_messages: false,
    };
    let parsed = match common::args("send_message", USAGE, "JID PASSWORD TO BODY", takes) {
        Ok(parsed) => parsed,
        Err(status) => return status,
    };
    let [jid, password, to, body] = parsed.positional;
    let args = Args {
        jid,
        password,
        to,
        body,
        server: parsed.server,
        ca_files: parsed.ca_files,
    };
    common::block_on("send_message", run(args))
}

async fn run(args: Args) -> Result<(), String> {
    // Check the recipient before connecting.
    let to: Jid = args
        .to
        .parse()
        .map_err(|error| format!("invalid recipient {:?}: {error}", args.to))?;

    let builder = common::client_builder(
        &args.jid,
        &args.password,
        args.server.as_deref(),
        &args.ca_files,
    );
    let client = tokio::time::timeout(LIMIT, builder.connect())
        .await
        .map_err(|_| format!("cannot connect as {}: no answer in time", args.jid))?
        .map_err(|error| format!("cannot connect as {}: {error}", args.jid))?;

    let message = Message::chat(to, args.body.as_str());
    let confirmed = tokio::time::timeout(LIMIT, client.send_confirmed(message)).await;
    match confirmed {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            let _ = tokio::time::timeout(CLOSE_LIMIT, client.close()).await;
            return Err(format!(
                "the message to {} was not confirmed: {error}",
                args.to
            ));
        }
        Err(_) => {
            // Still unconfirmed: do not wait for a clean close either.
            return Err(format!(
                "the server did not confirm the message to {} within {} s",
                args.to,
                LIMIT.as_secs()
            ));
        }
    }
    // (A closed stdout must not turn the success into a failure.)
    let _ = writeln!(std::io::stdout(), "sent to {}", args.to);
    if tokio::time::timeout(CLOSE_LIMIT, client.close())
        .await
        .is_err()
    {
        // The message is confirmed: that is what counts.
        eprintln!("send_message: warning: the server did not close the stream in time");
    }
    Ok(())
}
