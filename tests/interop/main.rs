//! Interop against real, independently written peers on loopback:
//! private Prosody and ejabberd instances (our `Client` and `Component`
//! against them), and slixmpp as a client of our server side.
//!
//! A test binary with its own runner (`harness = false`): it starts both
//! servers once, runs every scenario against each with a time limit,
//! stops the servers by pid, and exits non-zero if anything failed.
//! Arguments that do not start with `-` filter scenarios by substring
//! (`cargo test --all-features --test interop -- pubsub`).
//!
//! With `--serve` it runs no scenarios: it starts our hub, Prosody and
//! ejabberd with numbered accounts for load tests and keeps them running
//! (see `serve.rs`; `cargo test --release --all-features --test interop
//! -- --serve --accounts 2000`).
//!
//! With `XMPP_KIT_INTEROP=1` (as `.ci/run` sets it) a missing server or
//! slixmpp is a failure. Without it, this binary says loudly what it
//! skips and why.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    unreachable_pub
)]

#[path = "../killable/mod.rs"]
mod killable;
mod scenarios;
mod serve;
mod servers;
mod slixmpp;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use futures::FutureExt as _;

/// The most one scenario may take.
const SCENARIO_LIMIT: Duration = Duration::from_secs(90);

/// The Python with slixmpp: `XMPP_KIT_SLIXMPP_PYTHON`, or the virtualenv
/// `.ci/run` makes in `target/interop-venv`.
fn slixmpp_python() -> Option<PathBuf> {
    let path = std::env::var_os("XMPP_KIT_SLIXMPP_PYTHON").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/interop-venv/bin/python"),
        PathBuf::from,
    );
    let ok = std::process::Command::new(&path)
        .args(["-c", "import slixmpp"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(path)
}

/// One outcome line, and whether it passed.
struct Outcome {
    name: String,
    result: Result<Duration, String>,
}

async fn run_one(name: String, future: impl Future<Output = ()> + Send + 'static) -> Outcome {
    let started = Instant::now();
    let task = tokio::spawn(future);
    let result = match tokio::time::timeout(SCENARIO_LIMIT, task).await {
        Err(_) => Err(format!("timed out after {SCENARIO_LIMIT:?}")),
        Ok(Ok(())) => Ok(started.elapsed()),
        Ok(Err(join)) => Err(match join.try_into_panic() {
            Ok(panic) => panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "panicked".to_owned()),
            Err(e) => e.to_string(),
        }),
    };
    match &result {
        Ok(took) => println!("test {name} ... ok ({:.1} s)", took.as_secs_f64()),
        Err(e) => println!("test {name} ... FAILED: {e}"),
    }
    Outcome { name, result }
}

/// Runs the selected scenarios against one server, one after another.
async fn against(
    server: Result<servers::Running, String>,
    label: &'static str,
    selected: Vec<(&'static str, scenarios::ScenarioFn)>,
) -> Vec<Outcome> {
    let running = match server {
        Ok(running) => running,
        Err(e) => {
            return vec![Outcome {
                name: format!("{label}::start"),
                result: Err(e),
            }];
        }
    };
    let mut outcomes = Vec::new();
    for (name, scenario) in selected {
        let outcome = run_one(format!("{label}::{name}"), scenario(running.target.clone())).await;
        if outcome.result.is_err() {
            println!("---- {label} log (last lines) ----\n{}", running.log_tail());
        }
        outcomes.push(outcome);
    }
    let mut running = running;
    tokio::task::spawn_blocking(move || running.stop())
        .await
        .unwrap_or_default();
    outcomes
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--serve") {
        return serve::main(&args);
    }
    if args.iter().any(|a| a == "--list") {
        for (name, _) in scenarios::all() {
            println!("prosody::{name}: test\nejabberd::{name}: test");
        }
        println!("slixmpp::against_our_server: test");
        return ExitCode::SUCCESS;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let wanted =
        |name: &str| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()));
    let required = std::env::var("XMPP_KIT_INTEROP").is_ok_and(|v| v == "1");
    // The runner prints each failure's message; the hook adds only where.
    std::panic::set_hook(Box::new(|info| {
        if let Some(location) = info.location() {
            println!("    (panicked at {location})");
        }
    }));

    let pick = |label: &str| -> Vec<(&'static str, scenarios::ScenarioFn)> {
        scenarios::all()
            .into_iter()
            .filter(|(name, _)| wanted(&format!("{label}::{name}")))
            .collect()
    };
    let prosody_scenarios = pick("prosody");
    let ejabberd_scenarios = pick("ejabberd");
    let want_slixmpp = wanted("slixmpp::against_our_server");

    let mut missing = Vec::new();
    let prosody = !prosody_scenarios.is_empty()
        && (servers::prosody_installed() || {
            missing.push("Prosody (apt-get install prosody lua-unbound lua-event lua-sec)");
            false
        });
    let ejabberd = !ejabberd_scenarios.is_empty()
        && (servers::ejabberd_installed() || {
            missing.push("ejabberd (apt-get install ejabberd)");
            false
        });
    let python = if want_slixmpp {
        let found = slixmpp_python();
        if found.is_none() {
            missing.push(
                "slixmpp (python3 -m venv target/interop-venv && target/interop-venv/bin/pip install slixmpp, or XMPP_KIT_SLIXMPP_PYTHON)",
            );
        }
        found
    } else {
        None
    };
    if !missing.is_empty() {
        for what in &missing {
            println!("interop: MISSING {what}");
        }
        if required {
            println!("interop: FAILED: XMPP_KIT_INTEROP=1 and peers are missing");
            return ExitCode::FAILURE;
        }
        println!(
            "interop: SKIPPING the scenarios of missing peers (set XMPP_KIT_INTEROP=1 to make this a failure)"
        );
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let started = Instant::now();
    let outcomes: Vec<Outcome> = runtime.block_on(async {
        let users = scenarios::USERS;
        let prosody_run = async {
            if !prosody {
                return Vec::new();
            }
            let server = tokio::task::spawn_blocking(move || servers::start_prosody(users))
                .await
                .unwrap_or_else(|e| Err(e.to_string()));
            against(server, "prosody", prosody_scenarios).await
        };
        let ejabberd_run = async {
            if !ejabberd {
                return Vec::new();
            }
            let server = tokio::task::spawn_blocking(move || servers::start_ejabberd(users))
                .await
                .unwrap_or_else(|e| Err(e.to_string()));
            against(server, "ejabberd", ejabberd_scenarios).await
        };
        let slixmpp_run = async {
            let Some(python) = python else {
                return Vec::new();
            };
            vec![
                run_one("slixmpp::against_our_server".to_owned(), async move {
                    if let Err(e) = slixmpp::slixmpp_against_our_server(&python).await {
                        panic!("{e}");
                    }
                })
                .await,
            ]
        };
        let (a, b, c) = futures::join!(prosody_run, ejabberd_run, slixmpp_run.boxed());
        a.into_iter().chain(b).chain(c).collect()
    });
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| o.result.is_err()).collect();
    println!(
        "\ninterop: {} passed, {} failed, in {:.1} s",
        outcomes.len() - failed.len(),
        failed.len(),
        started.elapsed().as_secs_f64()
    );
    for outcome in &failed {
        println!("    FAILED {}", outcome.name);
    }
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
