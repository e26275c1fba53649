//! Sends one chat message with the synchronous [`BlockingClient`] (no
//! async runtime, feature `blocking`) and exits 0 only once the server
//! confirmed receiving it (`send_confirmed`: a XEP-0198 ack, or the answer
//! to a ping sent right after it). Anything else (bad arguments, no
//! connection, wrong password, no confirmation) is reported on stderr with
//! exit status 1: fit for scripts and cron jobs.
//!
//! ```text
//! cargo run --example blocking_send --features blocking -- \
//!     me@example.org 'password' you@example.org 'Hello!'
//! cargo run --example blocking_send --features blocking -- --server 127.0.0.1:5222 \
//!     --ca ca.pem me@example.test 'password' you@example.test 'Hello!'
//! ```
//!
//! Without `--server`, the client connects to the JID's domain on port 5222
//! (the blocking client does no DNS SRV lookup: see `send_message` for
//! the tokio client, which does). The certificate is always checked
//! against the JID's domain, with the system's roots or, with `--ca`, a
//! private CA's.
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
use xmpp_kit::rt::Roots;
use xmpp_kit::rt::blocking::{BlockingClient, BlockingOptions};
use xmpp_kit::stanza::Message;

const USAGE: &str = "\
Usage: blocking_send [OPTIONS] JID PASSWORD TO BODY

Connects as JID, sends BODY as a chat message to TO, and exits 0 once the
server confirmed receiving it (1 otherwise).

Options:
  --server HOST:PORT  connect to this address instead of the JID's domain
                      on port 5222
  --ca FILE           trust the CA certificates of this PEM file instead of
                      the system's roots (may be repeated)
  -h, --help          print this help
  --                  end of options (for arguments starting with '-')
";

/// How long the confirmation may take.
const CONFIRM_LIMIT: Duration = Duration::from_secs(30);

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
    let parsed = match common::args("blocking_send", USAGE, "JID PASSWORD TO BODY", takes) {
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
    common::exit("blocking_send", run(args))
}

fn run(args: Args) -> Result<(), String> {
    // Check the recipient before connecting.
    let to: Jid = args
        .to
        .parse()
        .map_err(|error| format!("invalid recipient {:?}: {error}", args.to))?;

    let mut options = BlockingOptions::new(&args.jid, &args.password);
    options.server = args.server;
    if !args.ca_files.is_empty() {
        options.roots = Roots::ExtraOnly;
        options.ca_files = args.ca_files;
    }
    // Bounded by `options.timeout` (30 s) once the name is resolved.
    let mut client = BlockingClient::connect(&options)
        .map_err(|error| format!("cannot connect as {}: {error}", args.jid))?;

    let message = Message::chat(to, args.body.as_str());
    if let Err(error) = client.send_confirmed(message, CONFIRM_LIMIT) {
        // The connection may be unusable: a clean close is a courtesy.
        let _ = client.close();
        return Err(format!(
            "the message to {} was not confirmed: {error}",
            args.to
        ));
    }
    // (A closed stdout must not turn the success into a failure.)
    let _ = writeln!(std::io::stdout(), "sent to {}", args.to);
    if let Err(error) = client.close() {
        // The message is confirmed: that is what counts.
        eprintln!("blocking_send: warning: the stream did not close cleanly: {error}");
    }
    Ok(())
}
