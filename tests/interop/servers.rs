//! Private Prosody and ejabberd instances on loopback, each in a temporary
//! directory of its own: generated config, a test CA and a leaf
//! certificate, accounts, a component port and secret, a pubsub service,
//! XEP-0198 and WebSocket. Started as child processes and stopped by pid
//! (the [`Running`] guard), never through the system's services.
//! `../shared/INTEROP.md` explains the choices (run as root, no Erlang
//! distribution, no rate limits).

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The XMPP domain both servers serve.
pub const DOMAIN: &str = "localhost";
/// The pubsub service of both servers.
pub const PUBSUB: &str = "pubsub.localhost";
/// The XEP-0114 component's domain and secret.
pub const COMPONENT: &str = "comp.localhost";
pub const COMPONENT_SECRET: &str = "interop-component-secret";
/// Every account's password.
pub const PASSWORD: &str = "interop-pw-1";
/// The account allowed to create pubsub nodes (Prosody: admins only).
pub const ADMIN: &str = "admin";

/// Numbered accounts for load tests: `{prefix}0` to `{prefix}{count-1}`,
/// all with one password.
#[derive(Debug, Clone)]
pub struct LoadAccounts {
    pub prefix: String,
    pub count: usize,
    pub password: String,
}

impl LoadAccounts {
    /// The local parts, in order.
    pub fn names(&self) -> impl Iterator<Item = String> + '_ {
        (0..self.count).map(|i| format!("{}{i}", self.prefix))
    }
}

/// What a server starts with.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options<'a> {
    /// Named accounts, each with [`PASSWORD`].
    pub users: &'a [&'a str],
    /// Numbered accounts, created in bulk; with them the server is tuned
    /// for load tests (quiet logs, no shapers or rate limits).
    pub load: Option<&'a LoadAccounts>,
}

/// A test CA and a leaf certificate for `localhost` and `*.localhost`,
/// written as PEM files.
pub struct Certs {
    pub ca_file: PathBuf,
    /// The leaf followed by the CA.
    pub chain_file: PathBuf,
    pub key_file: PathBuf,
}

/// Writes a fresh CA and leaf into `dir`.
pub fn make_certs(dir: &Path) -> Result<Certs, String> {
    let err = |e: rcgen::Error| format!("certificate generation: {e}");
    let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(err)?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "xmpp-kit interop CA");
    // rcgen's default validity ends in 4096, which overflows ejabberd's
    // expiry timer (it crashes and serves no certificate): one year.
    let year = 1970
        + std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() / 31_556_952) as i32;
    let not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    let not_after = rcgen::date_time_ymd(year + 1, 12, 31);
    ca_params.not_before = not_before;
    ca_params.not_after = not_after;
    let ca_cert = ca_params.self_signed(&ca_key).map_err(err)?;
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(err)?;
    let mut params = rcgen::CertificateParams::new(vec![
        DOMAIN.to_owned(),
        format!("*.{DOMAIN}"),
        PUBSUB.to_owned(),
        COMPONENT.to_owned(),
    ])
    .map_err(err)?;
    params
        .subject_alt_names
        .push(rcgen::SanType::IpAddress([127, 0, 0, 1].into()));
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, DOMAIN);
    params.not_before = not_before;
    params.not_after = not_after;
    let cert = params.signed_by(&key, &issuer).map_err(err)?;
    let certs = Certs {
        ca_file: dir.join("ca.pem"),
        chain_file: dir.join("chain.pem"),
        key_file: dir.join("key.pem"),
    };
    write(&certs.ca_file, &ca_cert.pem())?;
    write(
        &certs.chain_file,
        &format!("{}{}", cert.pem(), ca_cert.pem()),
    )?;
    write(&certs.key_file, &key.serialize_pem())?;
    Ok(certs)
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
}

/// A free TCP port on 127.0.0.1 (free when asked; the servers bind it a
/// moment later).
fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

/// What a scenario needs to know about a running server.
#[derive(Debug, Clone)]
pub struct Target {
    /// "prosody" or "ejabberd".
    pub name: &'static str,
    pub starttls: SocketAddr,
    pub direct_tls: SocketAddr,
    pub component: SocketAddr,
    /// `wss://` URL of the WebSocket endpoint.
    pub websocket: String,
    pub ca_file: PathBuf,
}

/// A server process, stopped by pid when dropped.
pub struct Running {
    pub target: Target,
    child: Child,
    log: PathBuf,
    dir: PathBuf,
}

impl Running {
    /// The server's process id (for its CPU time and memory).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last lines of the server's log, for failure messages.
    pub fn log_tail(&self) -> String {
        log_tail(&self.log)
    }

    /// Stops the server: SIGTERM, then SIGKILL after 5 s.
    pub fn stop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
        if std::env::var_os("XMPP_KIT_INTEROP_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(40);
    lines.get(start..).unwrap_or_default().join("\n")
}

/// Waits until every port accepts connections, or the process ends, or
/// 30 s pass.
fn wait_ready(child: &mut Child, ports: &[SocketAddr], log: &Path) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "the server exited at start ({status}); its log:\n{}",
                log_tail(log)
            ));
        }
        if ports
            .iter()
            .all(|a| TcpStream::connect_timeout(a, Duration::from_millis(200)).is_ok())
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the server did not open its ports in 30 s; its log:\n{}",
                log_tail(log)
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A fresh temporary directory for one server.
pub fn temp_dir(name: &str) -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!(
        "xmpp-kit-interop-{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    Ok(dir)
}

fn lua_string(path: &Path) -> String {
    format!("{:?}", path.display().to_string())
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Whether Prosody is installed.
pub fn prosody_installed() -> bool {
    Path::new("/usr/bin/prosody").exists() && Path::new("/usr/bin/prosodyctl").exists()
}

/// Starts Prosody with `users` (each with [`PASSWORD`]).
pub fn start_prosody(users: &[&str]) -> Result<Running, String> {
    start_prosody_with(Options { users, load: None })
}

/// Starts Prosody with `options`.
pub fn start_prosody_with(options: Options<'_>) -> Result<Running, String> {
    let Options { users, load } = options;
    let dir = temp_dir("prosody")?;
    let certs = make_certs(&dir)?;
    let data = dir.join("data");
    std::fs::create_dir_all(&data).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(dir.join("certs")).map_err(|e| e.to_string())?;
    let (c2s, direct, component, http, https) = (
        free_port()?,
        free_port()?,
        free_port()?,
        free_port()?,
        free_port()?,
    );
    let log = dir.join("prosody.log");
    let ssl = format!(
        "{{ certificate = {}; key = {} }}",
        lua_string(&certs.chain_file),
        lua_string(&certs.key_file)
    );
    // Load tests: warnings only (debug logging costs more than routing).
    let level = if load.is_some() { "warn" } else { "debug" };
    let mut config = String::new();
    let _ = write!(
        config,
        r#"-- generated by xmpp-kit's interop harness
run_as_root = true
pidfile = {pid}
data_path = {data}
certificates = {certdir}
admins = {{ "{ADMIN}@{DOMAIN}" }}
plugin_paths = {{}}
modules_enabled = {{
  "disco"; "roster"; "saslauth"; "tls"; "smacks"; "ping"; "pep";
  "version"; "carbons"; "websocket";
}}
modules_disabled = {{ "s2s"; "limits"; "posix" }}
authentication = "internal_hashed"
storage = "internal"
log = {{ {level} = {log} }}
interfaces = {{ "127.0.0.1" }}
local_interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {c2s} }}
c2s_direct_tls_ports = {{ {direct} }}
component_ports = {{ {component} }}
component_interfaces = {{ "127.0.0.1" }}
http_ports = {{ {http} }}
http_interfaces = {{ "127.0.0.1" }}
https_ports = {{ {https} }}
https_interfaces = {{ "127.0.0.1" }}
c2s_require_encryption = true
smacks_hibernation_time = 60
ssl = {ssl}
https_ssl = {ssl}
c2s_direct_tls_ssl = {ssl}
VirtualHost "{DOMAIN}"
  ssl = {ssl}
Component "{PUBSUB}" "pubsub"
Component "{COMPONENT}"
  component_secret = "{COMPONENT_SECRET}"
"#,
        pid = lua_string(&dir.join("prosody.pid")),
        data = lua_string(&data),
        certdir = lua_string(&dir.join("certs")),
        log = lua_string(&log),
    );
    let config_file = dir.join("prosody.cfg.lua");
    write(&config_file, &config)?;
    if let Some(load) = load {
        write_prosody_accounts(&data, load)?;
    }
    // Accounts first (prosodyctl writes the data files directly).
    std::thread::scope(|scope| {
        let handles: Vec<_> = users
            .iter()
            .map(|user| {
                let config_file = &config_file;
                scope.spawn(move || {
                    let out = Command::new("prosodyctl")
                        .arg("--config")
                        .arg(config_file)
                        .args(["register", user, DOMAIN, PASSWORD])
                        .output()
                        .map_err(|e| format!("prosodyctl: {e}"))?;
                    if out.status.success() {
                        Ok(())
                    } else {
                        Err(format!(
                            "prosodyctl register {user} failed: {}{}",
                            String::from_utf8_lossy(&out.stdout),
                            String::from_utf8_lossy(&out.stderr)
                        ))
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("panic".into())))
            .collect::<Result<Vec<()>, String>>()
    })?;
    let out = std::fs::File::create(dir.join("stdout.log")).map_err(|e| e.to_string())?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut child = Command::new("prosody")
        .arg("--config")
        .arg(&config_file)
        .arg("-F")
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("starting prosody: {e}"))?;
    let ports = [addr(c2s), addr(direct), addr(component), addr(https)];
    if let Err(e) = wait_ready(&mut child, &ports, &log) {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!("prosody: {e}"));
    }
    Ok(Running {
        target: Target {
            name: "prosody",
            starttls: addr(c2s),
            direct_tls: addr(direct),
            component: addr(component),
            websocket: format!("wss://{DOMAIN}:{https}/xmpp-websocket"),
            ca_file: certs.ca_file,
        },
        child,
        log,
        dir,
    })
}

/// Writes Prosody's account files for `load` directly, as
/// `mod_auth_internal_hashed` keeps them (0.12, SCRAM-SHA-1, internal
/// storage): `DATA/localhost/accounts/NAME.dat`, a Lua table. Directory
/// and file names are URL-encoded by Prosody (every byte outside
/// `[A-Za-z0-9]` as `%xx`); ours need no encoding, which is checked.
/// prosodyctl would take a process per account (minutes for thousands).
/// One salt serves every account: the verifier is computed once.
fn write_prosody_accounts(data: &Path, load: &LoadAccounts) -> Result<(), String> {
    use xmpp_kit::sasl::{ScramCredentials, ScramHash};
    let plain = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric());
    if !plain(DOMAIN) || !plain(&load.prefix) {
        return Err(format!(
            "account names must be letters and digits for the Prosody files: {}@{DOMAIN}",
            load.prefix
        ));
    }
    let dir = data.join(DOMAIN).join("accounts");
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    // A UUID-like salt, as Prosody makes them (no Lua escaping needed).
    let salt = "4f1c3a52-9d0e-4b7a-8c61-0b2d5e7f9a13";
    let iterations = xmpp_kit::sasl::MIN_ITERATIONS;
    let creds =
        ScramCredentials::derive(ScramHash::Sha1, &load.password, salt.as_bytes(), iterations);
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let text = format!(
        "return {{\n\t[\"iteration_count\"] = {iterations};\n\t[\"salt\"] = \"{salt}\";\n\t[\"server_key\"] = \"{}\";\n\t[\"stored_key\"] = \"{}\";\n}};\n",
        hex(&creds.server_key),
        hex(&creds.stored_key),
    );
    for name in load.names() {
        write(&dir.join(format!("{name}.dat")), &text)?;
    }
    Ok(())
}

/// Where Debian keeps ejabberd's Erlang applications.
fn ejabberd_libs() -> Option<PathBuf> {
    let base = Path::new("/usr/lib/x86_64-linux-gnu");
    let found = std::fs::read_dir(base)
        .ok()?
        .flatten()
        .any(|entry| entry.file_name().to_string_lossy().starts_with("ejabberd-"));
    found.then(|| base.to_path_buf())
}

/// Whether ejabberd is installed.
pub fn ejabberd_installed() -> bool {
    Path::new("/usr/bin/erl").exists() && ejabberd_libs().is_some()
}

/// Starts ejabberd with `users` (each with [`PASSWORD`]), as a plain
/// Erlang node without distribution: no epmd, no cookie, no
/// `ejabberdctl`. Accounts are registered by an `-eval` once the
/// application is up.
pub fn start_ejabberd(users: &[&str]) -> Result<Running, String> {
    start_ejabberd_with(Options { users, load: None })
}

/// Starts ejabberd with `options`: the numbered accounts are registered
/// by one loop in the `-eval`.
pub fn start_ejabberd_with(options: Options<'_>) -> Result<Running, String> {
    let Options { users, load } = options;
    let libs = ejabberd_libs().ok_or("ejabberd is not installed")?;
    let dir = temp_dir("ejabberd")?;
    let certs = make_certs(&dir)?;
    let spool = dir.join("spool");
    std::fs::create_dir_all(&spool).map_err(|e| e.to_string())?;
    let (c2s, direct, component, https) = (free_port()?, free_port()?, free_port()?, free_port()?);
    let log = dir.join("ejabberd.log");
    // Load tests: warnings only; no shaper on the client listeners (the
    // default is none, said explicitly), fast shapers in case a rule names
    // one, and a deep queue per session process.
    let (loglevel, tuning, listener_tuning) = if load.is_some() {
        (
            "warning",
            "shaper:\n  normal: 1000000000\n  fast: 1000000000\nshaper_rules:\n  c2s_shaper: none\n  s2s_shaper: none\nmax_fsm_queue: 1000000\n",
            "\n    shaper: none\n    max_fsm_queue: 1000000",
        )
    } else {
        ("info", "shaper: {}\n", "")
    };
    let config = format!(
        r#"# generated by xmpp-kit's interop harness
loglevel: {loglevel}
hosts:
  - {DOMAIN}
certfiles:
  - "{chain}"
  - "{key}"
auth_password_format: plain
auth_method: internal
{tuning}listen:
  -
    port: {c2s}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    max_stanza_size: 262144
    starttls_required: true
    backlog: 1024{listener_tuning}
  -
    port: {direct}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    max_stanza_size: 262144
    tls: true
    backlog: 1024{listener_tuning}
  -
    port: {https}
    ip: "127.0.0.1"
    module: ejabberd_http
    tls: true
    request_handlers:
      /ws: ejabberd_http_ws
  -
    port: {component}
    ip: "127.0.0.1"
    module: ejabberd_service
    hosts:
      {COMPONENT}:
        password: "{COMPONENT_SECRET}"
acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
  c2s:
    allow: all
  pubsub_createnode:
    allow: local
modules:
  mod_disco: {{}}
  mod_ping: {{}}
  mod_roster: {{}}
  mod_stream_mgmt:
    resume_timeout: 60
  mod_version: {{}}
  mod_caps: {{}}
  mod_pubsub:
    host: "{PUBSUB}"
    access_createnode: pubsub_createnode
    plugins:
      - flat
      - pep
"#,
        chain = certs.chain_file.display(),
        key = certs.key_file.display(),
    );
    let config_file = dir.join("ejabberd.yml");
    write(&config_file, &config)?;
    let registrations: String = users
        .iter()
        .map(|u| {
            format!(
                "ok = ejabberd_auth:try_register(<<\"{u}\">>, <<\"{DOMAIN}\">>, <<\"{PASSWORD}\">>), "
            )
        })
        .collect();
    let numbered = load.map_or_else(String::new, |load| {
        format!(
            "lists:foreach(fun(I) -> ok = ejabberd_auth:try_register(<<\"{prefix}\", (integer_to_binary(I))/binary>>, <<\"{DOMAIN}\">>, <<\"{password}\">>) end, lists:seq(0, {last})), ",
            prefix = load.prefix,
            password = load.password,
            last = load.count as i64 - 1,
        )
    });
    let eval = format!("{registrations}{numbered}io:format(\"accounts registered~n\").");
    let out = std::fs::File::create(dir.join("stdout.log")).map_err(|e| e.to_string())?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut child = Command::new("/usr/bin/erl")
        .args(["-noinput", "-noshell", "+K", "true", "-mnesia", "dir"])
        .arg(format!("{:?}", spool.display().to_string()))
        .args(["-s", "ejabberd", "-eval", &eval])
        .env("EJABBERD_CONFIG_PATH", &config_file)
        .env("EJABBERD_LOG_PATH", &log)
        .env("ERL_LIBS", libs)
        .env("HOME", &dir)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("starting ejabberd: {e}"))?;
    let ports = [addr(c2s), addr(direct), addr(component), addr(https)];
    let ready = wait_ready(&mut child, &ports, &log).and_then(|()| {
        // The listeners open before the -eval registers the accounts.
        let stdout = dir.join("stdout.log");
        let accounts = users.len() + load.map_or(0, |load| load.count);
        let deadline = Instant::now() + Duration::from_secs(20 + accounts as u64 / 50);
        loop {
            let text = std::fs::read_to_string(&stdout).unwrap_or_default();
            if text.contains("accounts registered") {
                return Ok(());
            }
            if Instant::now() > deadline || text.contains("error") {
                return Err(format!("account registration failed:\n{text}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    if let Err(e) = ready {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!("ejabberd: {e}"));
    }
    Ok(Running {
        target: Target {
            name: "ejabberd",
            starttls: addr(c2s),
            direct_tls: addr(direct),
            component: addr(component),
            websocket: format!("wss://{DOMAIN}:{https}/ws"),
            ca_file: certs.ca_file,
        },
        child,
        log,
        dir,
    })
}
