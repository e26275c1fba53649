//! `--serve`: our hub, Prosody and ejabberd side by side with the same
//! numbered accounts, for load tests (`examples/loadgen.rs`,
//! `scripts/loadbench.sh`), instead of running the scenarios.
//!
//! ```text
//! cargo test --release --all-features --test interop -- --serve --accounts 2000
//! cargo test --release --all-features --test interop -- --serve --servers hub,prosody
//! ```
//!
//! Every server gets `load0@localhost` ... `load{N-1}@localhost` with the
//! password `load-pw`, a test CA of its own, and settings fit for load
//! (Prosody without mod_limits and with warnings-only logging, ejabberd
//! without shapers and with a deep session queue). The hub runs in this
//! process (so its pid is ours). Once all are up, one line per server:
//!
//! ```text
//! SERVE-RUNNER pid=PID
//! SERVE name=hub starttls=127.0.0.1:PORT direct=127.0.0.1:PORT domain=localhost ca=PATH pid=PID
//! SERVE-READY
//! ```
//!
//! then it runs until its stdin is closed (Ctrl-D, or the end of a pipe:
//! keep stdin open, `< /dev/null` stops it at once) or it gets SIGTERM or
//! SIGINT, and stops every server cleanly.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use xmpp_kit::hub::{Hub, MemoryUsers};
use xmpp_kit::rt::ServerTls;

use crate::servers::{self, DOMAIN, LoadAccounts, Options, Running};

/// The accounts' local part before the number.
pub const LOAD_PREFIX: &str = "load";
/// Every load account's password.
pub const LOAD_PASSWORD: &str = "load-pw";

const USAGE: &str = "\
Usage: interop --serve [--accounts N] [--servers hub,prosody,ejabberd]

Starts the hub (in this process), Prosody and ejabberd with the accounts
load0@localhost ... load{N-1}@localhost (password load-pw), prints one
SERVE line per server and SERVE-READY, and runs until stdin is closed or
SIGTERM / SIGINT comes.

  --accounts N      accounts per server (default 2000)
  --servers LIST    which servers, comma-separated (default all three)
";

/// The command line of the serve mode.
struct ServeArgs {
    accounts: usize,
    hub: bool,
    prosody: bool,
    ejabberd: bool,
}

fn parse(args: &[String]) -> Result<ServeArgs, String> {
    let mut parsed = ServeArgs {
        accounts: 2000,
        hub: true,
        prosody: true,
        ejabberd: true,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--serve" => {}
            "--accounts" => {
                let n = args.next().ok_or("--accounts needs a value")?;
                parsed.accounts = n
                    .parse()
                    .map_err(|_| format!("--accounts needs a number, not {n:?}"))?;
            }
            "--servers" => {
                let list = args.next().ok_or("--servers needs a value")?;
                parsed.hub = false;
                parsed.prosody = false;
                parsed.ejabberd = false;
                for name in list.split(',') {
                    match name.trim() {
                        "hub" => parsed.hub = true,
                        "prosody" => parsed.prosody = true,
                        "ejabberd" => parsed.ejabberd = true,
                        other => return Err(format!("unknown server {other:?}")),
                    }
                }
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(parsed)
}

/// Prints a line at once (a closed stdout does not stop the servers).
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

/// The hub's certificate (from the same kind of test CA as the others)
/// and its accounts, made in `dir`.
fn prepare_hub(load: &LoadAccounts) -> Result<(PathBuf, servers::Certs, MemoryUsers), String> {
    let dir = servers::temp_dir("hub")?;
    let certs = servers::make_certs(&dir)?;
    // Two SCRAM verifiers (PBKDF2) per account: spread over the cores.
    let users = MemoryUsers::new();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let names: Vec<String> = load.names().collect();
    let chunk = names.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = names
            .chunks(chunk)
            .map(|names| {
                let users = users.clone();
                scope.spawn(move || {
                    for name in names {
                        users
                            .add(&format!("{name}@{DOMAIN}"), &load.password)
                            .map_err(|e| format!("hub account {name}: {e}"))?;
                    }
                    Ok::<(), String>(())
                })
            })
            .collect();
        handles
            .into_iter()
            .try_for_each(|h| h.join().unwrap_or_else(|_| Err("panic".into())))
    })?;
    Ok((dir, certs, users))
}

/// Runs the serve mode (`args` are the runner's arguments).
pub fn main(args: &[String]) -> ExitCode {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let args = match parse(args) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("interop --serve: {e}\n\n{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    match serve(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            say(&format!("SERVE-FAILED {e}"));
            ExitCode::FAILURE
        }
    }
}

fn serve(args: &ServeArgs) -> Result<(), String> {
    // First, so that a script can stop this process whatever happens.
    say(&format!("SERVE-RUNNER pid={}", std::process::id()));
    if args.prosody && !servers::prosody_installed() {
        return Err(
            "Prosody is not installed (apt-get install prosody lua-unbound lua-event lua-sec)"
                .into(),
        );
    }
    if args.ejabberd && !servers::ejabberd_installed() {
        return Err("ejabberd is not installed (apt-get install ejabberd)".into());
    }
    let load = LoadAccounts {
        prefix: LOAD_PREFIX.to_owned(),
        count: args.accounts,
        password: LOAD_PASSWORD.to_owned(),
    };
    let options = Options {
        users: &[],
        load: Some(&load),
    };
    let started = Instant::now();
    // All three get ready at once: the external servers start while the
    // hub's verifiers are computed.
    let (hub_setup, prosody, ejabberd) = std::thread::scope(|scope| {
        let prosody = args
            .prosody
            .then(|| scope.spawn(move || servers::start_prosody_with(options)));
        let ejabberd = args
            .ejabberd
            .then(|| scope.spawn(move || servers::start_ejabberd_with(options)));
        let hub = args.hub.then(|| prepare_hub(&load));
        let join = |handle: std::thread::ScopedJoinHandle<'_, Result<Running, String>>| {
            handle.join().unwrap_or_else(|_| Err("panicked".into()))
        };
        (hub, prosody.map(join), ejabberd.map(join))
    });
    // A failure stops the others (their guards) before reporting.
    let hub_setup = hub_setup.transpose().map_err(|e| format!("hub: {e}"))?;
    let prosody = prosody.transpose().map_err(|e| format!("prosody: {e}"))?;
    let ejabberd = ejabberd.transpose().map_err(|e| format!("ejabberd: {e}"))?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let result = runtime.block_on(async {
        let hub = match &hub_setup {
            Some((dir, certs, users)) => {
                let tls = ServerTls::from_pem_files(&certs.chain_file, &certs.key_file)
                    .map_err(|e| format!("hub certificate: {e}"))?;
                // The durable store, as a deployed hub has it: every
                // message is written to SQLite before it is acknowledged.
                let hub = Hub::builder(DOMAIN)
                    .listen("127.0.0.1:0")
                    .direct_tls("127.0.0.1:0")
                    .tls(tls)
                    .users(users.clone())
                    .database(dir.join("hub.db"))
                    .map_err(|e| format!("hub database: {e}"))?
                    .start()
                    .await
                    .map_err(|e| format!("hub: {e}"))?;
                let address = |a: Option<std::net::SocketAddr>| {
                    a.map_or_else(|| "none".to_owned(), |a| a.to_string())
                };
                say(&format!(
                    "SERVE name=hub starttls={} direct={} domain={DOMAIN} ca={} pid={} accounts={}",
                    address(hub.c2s_addr()),
                    address(hub.direct_tls_addr()),
                    certs.ca_file.display(),
                    std::process::id(),
                    args.accounts,
                ));
                Some(hub)
            }
            None => None,
        };
        for running in prosody.iter().chain(ejabberd.iter()) {
            let t = &running.target;
            say(&format!(
                "SERVE name={} starttls={} direct={} domain={DOMAIN} ca={} pid={} accounts={}",
                t.name,
                t.starttls,
                t.direct_tls,
                t.ca_file.display(),
                running.pid(),
                args.accounts,
            ));
        }
        say(&format!(
            "SERVE-READY in {:.1} s: stop with Ctrl-C, SIGTERM or by closing stdin",
            started.elapsed().as_secs_f64()
        ));
        let why = wait_for_stop().await;
        say(&format!("SERVE-STOPPING ({why})"));
        if let Some(hub) = hub {
            hub.shutdown().await;
        }
        Ok::<(), String>(())
    });
    runtime.shutdown_timeout(Duration::from_secs(2));
    // The external servers stop (and their directories go) with their
    // guards; then the hub's directory.
    drop(prosody);
    drop(ejabberd);
    if let Some((dir, _, _)) = hub_setup
        && std::env::var_os("XMPP_KIT_INTEROP_KEEP").is_none()
    {
        let _ = std::fs::remove_dir_all(dir);
    }
    say("SERVE-STOPPED");
    result
}

/// Waits for the end of stdin, SIGTERM or SIGINT; says which.
async fn wait_for_stop() -> &'static str {
    let (eof_tx, eof_rx) = tokio::sync::oneshot::channel::<()>();
    // A plain thread: a blocked read must not hold up the runtime's end.
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin();
        let mut buf = [0u8; 256];
        while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
        let _ = eof_tx.send(());
    });
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = eof_rx => "stdin closed",
        _ = tokio::signal::ctrl_c() => "SIGINT",
        () = terminate => "SIGTERM",
    }
}
