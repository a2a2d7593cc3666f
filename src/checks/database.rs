//! DB001–DB004: the databases the env files name: reachable on every
//! resolved address, speaking the protocol their URL says (a
//! credential-free sniff), and, for PostgreSQL with the project's own
//! credentials, letting the project log in (DB004, `pglogin`).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::engine::{Check, CheckError, Context};
use crate::finding::{Finding, Fix};
use crate::project::{parse_env_line, parse_url, read_bounded, ENV_FILES};

use super::pglogin::{login_of_url, try_login, Login, Outcome};

pub struct Database;

const ID: &str = "database";

impl Check for Database {
    fn id(&self) -> &'static str {
        ID
    }
    fn description(&self) -> &'static str {
        "databases named by env files, compose files and doctor.toml: reachable, and speaking their protocol"
    }
    fn codes(&self) -> &'static [&'static str] {
        &["DB001", "DB002", "DB003", "DB004"]
    }
    fn run(&self, ctx: &Context) -> Result<Vec<Finding>, CheckError> {
        let (targets, mut out) = targets(ctx);
        if targets.is_empty() && out.is_empty() {
            return Err(CheckError::Skipped(
                "no database URL in the env files".into(),
            ));
        }
        let timeout = ctx.config.timeout;
        let targets = without_stopped_holders(ctx, with_holders(ctx, targets));
        out.extend(super::probe_concurrently(ctx, targets, move |t| {
            probe(&t, timeout)
        }));
        Ok(out)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Protocol {
    Postgres,
    Redis,
    Mysql,
    Mongo,
}

impl Protocol {
    fn of_scheme(scheme: &str) -> Option<Protocol> {
        // SQLAlchemy names the driver after a `+`: `postgresql+psycopg`.
        let scheme = scheme.split('+').next().unwrap_or(scheme);
        Some(match scheme {
            "postgres" | "postgresql" => Protocol::Postgres,
            "redis" | "rediss" => Protocol::Redis,
            "mysql" | "mariadb" => Protocol::Mysql,
            "mongodb" => Protocol::Mongo,
            _ => return None,
        })
    }
    fn name(self) -> &'static str {
        match self {
            Protocol::Postgres => "PostgreSQL",
            Protocol::Redis => "Redis",
            Protocol::Mysql => "MySQL",
            Protocol::Mongo => "MongoDB",
        }
    }
}

struct Target {
    key: String,
    source: String,
    /// The services whose code reads this variable from this env file's
    /// scope (the file's folder holds theirs): a database they open at
    /// start-up refusing is why they are down.
    read_by: Vec<String>,
    protocol: Protocol,
    host: String,
    port: u16,
    /// PostgreSQL: what the app logs in with, and where that is written.
    login: Option<(Login, String)>,
    /// Who listens on the port (`pid 812 (postgres -D /var/lib/…)`), its
    /// pid, and whether that is a container engine's forwarder.
    holder: Option<(String, u32, bool)>,
}

/// The login a PostgreSQL URL gives, with where it is written.
fn url_login(protocol: Protocol, value: &str, at: &str) -> Option<(Login, String)> {
    (protocol == Protocol::Postgres)
        .then(|| login_of_url(value))
        .flatten()
        .map(|l| (l, at.to_string()))
}

/// The login that parts give (`POSTGRES_USER`, `POSTGRES_PASSWORD`,
/// `POSTGRES_DB`), when a user is named: without one the app's driver
/// would pick its own, which doctor cannot know.
fn parts_login(value: impl Fn(&str) -> Option<(String, String)>) -> Option<(Login, String)> {
    let first = |keys: &[&str]| keys.iter().find_map(|k| value(k));
    let (user, user_at) = first(&["POSTGRES_USER", "PGUSER", "DB_USER", "DB_USERNAME"])?;
    let password = first(&["POSTGRES_PASSWORD", "PGPASSWORD", "DB_PASSWORD", "DB_PASS"]);
    let database = first(&["POSTGRES_DB", "PGDATABASE", "POSTGRES_DATABASE", "DB_NAME"]);
    let mut at = vec![user_at];
    at.extend(password.iter().map(|(_, a)| a.clone()));
    at.dedup();
    Some((
        Login {
            user,
            password: password.map(|(p, _)| p),
            database: database.map(|(d, _)| d),
        },
        at.join(", "),
    ))
}

/// Each target's listener, named from the snapshot.
fn with_holders(ctx: &Context, mut targets: Vec<Target>) -> Vec<Target> {
    let Ok(snapshot) = ctx.snapshot() else {
        return targets;
    };
    for t in &mut targets {
        let pid = snapshot.listener_pids(t.port).into_iter().next();
        t.holder = pid.map(|pid| {
            let forwarder = snapshot.process(pid).is_some_and(super::is_forwarder);
            (super::describe_pid(snapshot, pid), pid, forwarder)
        });
    }
    targets
}

/// A database whose server is stopped (`kill -STOP`, Ctrl-Z) is not probed:
/// the kernel still accepts on its port and nothing answers, which reads as
/// "does not speak PostgreSQL" (DB002, field gc fc P2 c9) and costs a
/// timeout. PROC001 names the stopped process and its SIGCONT.
fn without_stopped_holders(ctx: &Context, targets: Vec<Target>) -> Vec<Target> {
    let Ok(snapshot) = ctx.snapshot() else {
        return targets;
    };
    targets
        .into_iter()
        .filter(|t| {
            let stopped = t.holder.as_ref().is_some_and(|(_, pid, _)| {
                snapshot
                    .process(*pid)
                    .is_some_and(|p| p.state == crate::platform::ProcState::Stopped)
            });
            if stopped {
                ctx.record_probe(json!({"check": ID, "variable": t.key, "source": t.source, "port": t.port, "skipped": "its server is stopped (PROC001)"}));
            }
            !stopped
        })
        .collect()
}

fn is_db_key(key: &str) -> bool {
    let k = key.to_ascii_uppercase();
    k == "DATABASE_URL"
        || k.ends_with("_DATABASE_URL")
        || k.starts_with("REDIS_URL")
        || k.starts_with("MONGO") && (k.ends_with("_URL") || k.ends_with("_URI"))
        || k.ends_with("_DB_URL")
        || k == "DB_URL"
        || k.ends_with("DATABASE_URI")
}

/// A database that is a file (`sqlite:///app.db`): nothing to connect to.
fn is_file_database(value: &str) -> bool {
    value.trim().to_ascii_lowercase().starts_with("sqlite")
}

/// Database URLs of the env files (DB003 for those that do not parse), and
/// host/port pairs written as parts (`PGHOST`/`PGPORT`, `POSTGRES_*`, `MYSQL_*`).
/// The services in the scope of an env file in `dir` whose code reads `key`.
fn readers(project: &crate::project::Project, dir: &std::path::Path, key: &str) -> Vec<String> {
    project
        .services
        .iter()
        .filter(|s| {
            s.folder
                .as_ref()
                .is_some_and(|f| f.starts_with(dir) && project.code.reads_key(f, key))
        })
        .map(|s| s.name.clone())
        .collect()
}

fn targets(ctx: &Context) -> (Vec<Target>, Vec<Finding>) {
    let project = &ctx.project;
    let mut targets: Vec<Target> = Vec::new();
    let mut out = Vec::new();
    for dir in &project.folders {
        for name in ENV_FILES {
            let path = dir.join(name);
            let Ok(text) = read_bounded(&path) else {
                continue;
            };
            let rel = project.relative(&path);
            let mut parts: std::collections::BTreeMap<String, (String, usize)> = Default::default();
            for (i, line) in text.lines().enumerate() {
                let Some((key, value)) = parse_env_line(line) else {
                    continue;
                };
                parts.insert(key.to_ascii_uppercase(), (value.to_string(), i + 1));
                if !is_db_key(key) || value.is_empty() || is_file_database(value) {
                    continue;
                }
                let source = format!("{rel}:{}", i + 1);
                match parse_url(value).and_then(|u| Protocol::of_scheme(&u.scheme).map(|p| (u, p)))
                {
                    Some((u, protocol)) if crate::project::is_local_host(&u.host) => {
                        let read_by = readers(project, dir, key);
                        targets.push(Target {
                            key: key.to_string(),
                            login: url_login(protocol, value, &source),
                            source,
                            read_by,
                            protocol,
                            host: u.host,
                            port: u.port,
                            holder: None,
                        });
                    }
                    Some(_) => {} // a remote database: not this machine's to probe
                    None if value.contains("://") || value.contains('@') => out.push(
                        Finding::new(
                            "DB003",
                            ID,
                            format!("{key} ({source}) is not a database URL doctor can read"),
                        )
                        .evidence("variable", key.to_string())
                        .evidence("source", source.clone())
                        .with_fix(Fix::manual(
                            "write it as scheme://user:password@host:port/name",
                            vec![format!("edit {source}")],
                        )),
                    ),
                    None => {}
                }
            }
            for (protocol, host_keys, port_key, default) in [
                (
                    Protocol::Postgres,
                    &["PGHOST", "POSTGRES_HOST", "POSTGRES_SERVER"][..],
                    &["PGPORT", "POSTGRES_PORT"][..],
                    5432,
                ),
                (
                    Protocol::Mysql,
                    &["MYSQL_HOST", "MYSQL_SERVER"][..],
                    &["MYSQL_PORT"][..],
                    3306,
                ),
                (
                    Protocol::Redis,
                    &["REDIS_HOST", "REDIS_SERVER"][..],
                    &["REDIS_PORT"][..],
                    6379,
                ),
                (
                    // DB_HOST/DB_PORT name no engine: the port does (3306 is MySQL).
                    if parts.get("DB_PORT").is_some_and(|(p, _)| p == "3306") {
                        Protocol::Mysql
                    } else {
                        Protocol::Postgres
                    },
                    &["DB_HOST", "DB_SERVER"][..],
                    &["DB_PORT"][..],
                    5432,
                ),
            ] {
                // Named as the project writes them (POSTGRES_SERVER, not
                // a PGHOST it never mentions), the port's own line kept.
                let Some((host_key, (host, line))) = host_keys
                    .iter()
                    .find_map(|k| parts.get(*k).cloned().map(|v| (*k, v)))
                else {
                    continue;
                };
                let port_at = port_key.iter().find_map(|k| parts.get(*k).map(|v| (*k, v)));
                let port = port_at
                    .and_then(|(_, (p, _))| p.parse().ok())
                    .unwrap_or(default);
                let key = match port_at {
                    Some((port_key, _)) => format!("{host_key}/{port_key}"),
                    None => host_key.to_string(),
                };
                let source = match port_at {
                    Some((_, (_, port_line))) if *port_line != line => {
                        format!("{rel}:{line}, {rel}:{port_line}")
                    }
                    _ => format!("{rel}:{line}"),
                };
                if crate::project::is_local_host(&host) && !targets.iter().any(|t| t.port == port) {
                    let login = (protocol == Protocol::Postgres)
                        .then(|| {
                            parts_login(|k| {
                                parts
                                    .get(k)
                                    .filter(|(v, _)| !v.is_empty())
                                    .map(|(v, l)| (v.clone(), format!("{rel}:{l}")))
                            })
                        })
                        .flatten();
                    targets.push(Target {
                        key,
                        source,
                        read_by: readers(project, dir, host_key),
                        protocol,
                        host,
                        port,
                        login,
                        holder: None,
                    });
                }
            }
        }
    }
    // What a running server of the project was started with: a database
    // URL exported into its shell (from a compose file's `environment:`,
    // a README's `export`) that no env file holds.
    if let Ok(snapshot) = ctx.snapshot() {
        for service in project
            .services
            .iter()
            .filter(|s| s.expected && !s.is_frontend())
        {
            let holder =
                super::project_server(snapshot, &project.root, service.port).map(|p| p.pid);
            let Some(env) = holder.and_then(crate::platform::environment_of) else {
                continue;
            };
            let pid = holder.unwrap_or_default();
            let at = format!("the environment of pid {pid} ({})", service.name);
            let env: std::collections::BTreeMap<String, String> = env
                .iter()
                .filter_map(|(k, v)| Some((k.to_str()?.to_string(), v.to_str()?.to_string())))
                .collect();
            // The login the running server was started with outranks the
            // files' (files say what was intended).
            for t in targets.iter_mut().filter(|t| {
                t.protocol == Protocol::Postgres
                    && (t.read_by.is_empty() || t.read_by.contains(&service.name))
            }) {
                let from_env = match env.get(&t.key) {
                    Some(url) => url_login(t.protocol, url, &at),
                    None => parts_login(|k| {
                        env.get(k)
                            .filter(|v| !v.is_empty())
                            .map(|v| (v.clone(), at.clone()))
                    })
                    .map(|(l, _)| (l, at.clone())),
                };
                if from_env.is_some() {
                    t.login = from_env;
                }
            }
            for (key, value) in &env {
                if !is_db_key(key) {
                    continue;
                }
                let Some((u, protocol)) =
                    parse_url(value).and_then(|u| Protocol::of_scheme(&u.scheme).map(|p| (u, p)))
                else {
                    continue;
                };
                if crate::project::is_local_host(&u.host)
                    && !targets.iter().any(|t| t.port == u.port)
                {
                    targets.push(Target {
                        key: key.to_string(),
                        login: url_login(protocol, value, &at),
                        source: at.clone(),
                        read_by: vec![service.name.clone()],
                        protocol,
                        host: u.host,
                        port: u.port,
                        holder: None,
                    });
                }
            }
        }
    }
    // Databases known from elsewhere (a compose file's published port, doctor.toml).
    for s in &project.services {
        let protocol = match s.kind.as_deref() {
            Some("postgres") => Protocol::Postgres,
            Some("redis") => Protocol::Redis,
            Some("mysql") => Protocol::Mysql,
            Some("mongodb") => Protocol::Mongo,
            _ => continue,
        };
        if !targets.iter().any(|t| t.port == s.port) {
            targets.push(Target {
                key: s.name.clone(),
                source: s.source.clone(),
                read_by: Vec::new(),
                protocol,
                host: s.host.clone(),
                port: s.port,
                login: None,
                holder: None,
            });
        }
    }
    // `--port 5432`: a database port the user asked about is probed as one.
    for &port in &project.examined_ports {
        let protocol = match port {
            5432 => Protocol::Postgres,
            6379 => Protocol::Redis,
            3306 => Protocol::Mysql,
            27017 => Protocol::Mongo,
            _ => continue,
        };
        if !targets.iter().any(|t| t.port == port) {
            targets.push(Target {
                key: format!("port {port}"),
                source: "--port".into(),
                read_by: Vec::new(),
                protocol,
                host: "localhost".into(),
                port,
                login: None,
                holder: None,
            });
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    targets.retain(|t| seen.insert((t.host.clone(), t.port)));
    (targets, out)
}

enum Sniff {
    Speaks(String),
    Other(String),
}

/// A first exchange that every server of the protocol answers, with no
/// credentials: PostgreSQL's SSLRequest, Redis' PING, MySQL's greeting,
/// MongoDB's `hello`.
fn sniff(stream: &mut TcpStream, protocol: Protocol) -> Sniff {
    let mut buf = [0u8; 512];
    let sent: Vec<u8> = match protocol {
        Protocol::Postgres => vec![0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f],
        Protocol::Redis => b"PING\r\n".to_vec(),
        Protocol::Mysql => Vec::new(), // the server speaks first
        Protocol::Mongo => mongo_hello(),
    };
    if !sent.is_empty() && stream.write_all(&sent).is_err() {
        return Sniff::Other("the connection closed when doctor spoke".into());
    }
    let n = match stream.read(&mut buf) {
        Ok(0) => return Sniff::Other("it closed the connection without a word".into()),
        Ok(n) => n,
        Err(_) => return Sniff::Other("it said nothing within the timeout".into()),
    };
    let got = &buf[..n];
    let shown: String = String::from_utf8_lossy(&got[..n.min(40)])
        .chars()
        .map(|c| if c.is_control() { '.' } else { c })
        .collect();
    match protocol {
        Protocol::Postgres if n == 1 && (got[0] == b'S' || got[0] == b'N') => {
            Sniff::Speaks(format!("SSLRequest answered '{}'", got[0] as char))
        }
        Protocol::Postgres if got[0] == b'E' => {
            Sniff::Speaks("an ErrorResponse to SSLRequest".into())
        }
        Protocol::Redis
            if got.starts_with(b"+PONG")
                || got.starts_with(b"-NOAUTH")
                || got.starts_with(b"-ERR")
                || got.starts_with(b"-DENIED") =>
        {
            Sniff::Speaks(format!("PING answered {}", shown.trim_end_matches('.')))
        }
        Protocol::Mysql if n > 4 && (got[4] == 10 || got[4] == 0xff) => {
            Sniff::Speaks("a MySQL greeting".into())
        }
        Protocol::Mongo if n >= 16 && got[12..16] == 2013u32.to_le_bytes() => {
            Sniff::Speaks("an OP_MSG reply to hello".into())
        }
        _ => Sniff::Other(format!("it answered {:?}", shown)),
    }
}

/// OP_MSG { hello: 1, $db: "admin" }: header, flag bits, section kind 0, BSON.
fn mongo_hello() -> Vec<u8> {
    let mut doc = Vec::new();
    doc.push(0x10); // int32 element
    doc.extend_from_slice(b"hello\0");
    doc.extend_from_slice(&1i32.to_le_bytes());
    doc.push(0x02); // string element
    doc.extend_from_slice(b"$db\0");
    doc.extend_from_slice(&6i32.to_le_bytes());
    doc.extend_from_slice(b"admin\0");
    doc.push(0);
    let doc_len = (doc.len() + 4) as i32;
    let total = 16 + 4 + 1 + doc_len;
    let mut msg = Vec::with_capacity(total as usize);
    msg.extend_from_slice(&total.to_le_bytes());
    msg.extend_from_slice(&1i32.to_le_bytes()); // request id
    msg.extend_from_slice(&0i32.to_le_bytes()); // response to
    msg.extend_from_slice(&2013i32.to_le_bytes()); // OP_MSG
    msg.extend_from_slice(&0u32.to_le_bytes()); // flag bits
    msg.push(0); // section kind: body
    msg.extend_from_slice(&doc_len.to_le_bytes());
    msg.extend_from_slice(&doc);
    msg
}

/// After the database is up, a server that failed to open it at start-up
/// is still down: a reloader waits for a file change, not for the database.
fn db_down_steps(t: &Target) -> Vec<String> {
    // `.env:35, .env:36`: the port is on the last line named.
    let port_line = t.source.rsplit(", ").next().unwrap_or(&t.source);
    let mut steps = vec![format!("or change the port in {port_line}")];
    for name in &t.read_by {
        steps.push(format!(
            "then, once the database is up, restart {name} if it is down (its code reads {}, and it opens the database at start-up): a reloader waits for a change to a source file, not for the database (save one); a plain server needs its start command again",
            t.key
        ));
    }
    steps
}

fn probe(t: &Target, timeout: Duration) -> (Vec<Finding>, Vec<serde_json::Value>) {
    let mut out = Vec::new();
    let mut probes = Vec::new();
    let Ok(addrs) = crate::net::resolve(&t.host, t.port) else {
        return (out, probes);
    };
    let mut refused = Vec::new();
    let mut strangers = Vec::new();
    let mut speaking = false;
    let mut login_refused: Option<(String, String, SocketAddr)> = None;
    for addr in &addrs {
        let start = Instant::now();
        let mut probe = json!({"check": ID, "variable": t.key, "source": t.source, "protocol": t.protocol.name(), "address": addr.to_string()});
        match crate::net::connect(addr, timeout) {
            Err(e) => {
                probe["result"] = json!(format!("connect: {e}"));
                refused.push(*addr);
            }
            Ok(mut stream) => {
                probe["connect_ms"] = json!(start.elapsed().as_secs_f64() * 1000.0);
                stream.set_read_timeout(Some(timeout)).ok();
                stream.set_write_timeout(Some(timeout)).ok();
                match sniff(&mut stream, t.protocol) {
                    Sniff::Speaks(what) => {
                        probe["result"] = json!(format!("speaks {}: {what}", t.protocol.name()));
                        // One login per database, on its first address that speaks.
                        if let (false, Some((login, _))) = (speaking, &t.login) {
                            let said = crate::net::connect(addr, timeout).map(|mut s| {
                                s.set_read_timeout(Some(timeout)).ok();
                                s.set_write_timeout(Some(timeout)).ok();
                                try_login(&mut s, login)
                            });
                            probe["login"] = json!(match &said {
                                Ok(Outcome::Accepted) => format!("{} logged in", login.user),
                                Ok(Outcome::Refused { sqlstate, message }) =>
                                    format!("refused: {message} (SQLSTATE {sqlstate})"),
                                Ok(Outcome::Unknown(why)) => format!("not checked: {why}"),
                                Err(e) => format!("not checked: connect: {e}"),
                            });
                            if let Ok(Outcome::Refused { sqlstate, message }) = said {
                                if ["28P01", "28000", "3D000"].contains(&sqlstate.as_str()) {
                                    login_refused = Some((sqlstate, message, *addr));
                                }
                            }
                        }
                        speaking = true;
                    }
                    Sniff::Other(what) => {
                        probe["result"] = json!(what.clone());
                        strangers.push(json!({"address": addr.to_string(), "answer": what}));
                    }
                }
            }
        }
        probes.push(probe);
    }
    let hostport = format!("{}:{}", t.host, t.port);
    if !speaking && strangers.is_empty() && !refused.is_empty() {
        out.push(
            Finding::new(
                "DB001",
                ID,
                format!(
                    "{} ({}) is refused at {hostport}: no {} there",
                    t.key,
                    t.source,
                    t.protocol.name()
                ),
            )
            .evidence("variable", t.key.clone())
            .evidence("port", t.port)
            .evidence("source", t.source.clone())
            .evidence("read_by", t.read_by.clone())
            .evidence(
                "refused",
                refused
                    .iter()
                    .map(SocketAddr::to_string)
                    .collect::<Vec<_>>(),
            )
            .with_fix(Fix::manual(
                format!("start {} on port {}", t.protocol.name(), t.port),
                db_down_steps(t),
            )),
        );
    }
    if let (Some((sqlstate, message, addr)), Some((login, at))) = (login_refused, &t.login) {
        out.push(login_finding(t, login, at, &sqlstate, &message, addr));
    }
    if !strangers.is_empty() {
        out.push(
            Finding::new(
                "DB002",
                ID,
                format!(
                    "something answers at {hostport} ({}), but it does not speak {}",
                    t.source,
                    t.protocol.name()
                ),
            )
            .evidence("variable", t.key.clone())
            .evidence("port", t.port)
            .evidence("source", t.source.clone())
            .evidence("answers", strangers)
            .with_fix(Fix::manual(
                "find what holds the port",
                vec![format!("doctor port {}", t.port)],
            )),
        );
    }
    (out, probes)
}

/// DB004: the server on the project's port refused the project's login.
fn login_finding(
    t: &Target,
    login: &Login,
    at: &str,
    sqlstate: &str,
    message: &str,
    addr: SocketAddr,
) -> Finding {
    let hostport = format!("{}:{}", t.host, t.port);
    let whose = match &t.holder {
        Some((_, pid, _)) => format!(" (pid {pid})"),
        None => String::new(),
    };
    let mut steps = Vec::new();
    let title = match sqlstate {
        "28P01" => {
            steps.push(format!(
                "the password is written at {at}: set it to this server's password for user {}",
                login.user
            ));
            format!(
                "log in to the PostgreSQL on port {} with its password for {}, or give the project its own PostgreSQL",
                t.port, login.user
            )
        }
        "28000" => {
            steps.push(format!(
                "create the role on this server: createuser -h {} -p {} --pwprompt {}",
                t.host, t.port, login.user
            ));
            format!(
                "create the role {} on the PostgreSQL on port {}, or give the project its own PostgreSQL",
                login.user, t.port
            )
        }
        _ => {
            let db = login.database.as_deref().unwrap_or(&login.user);
            steps.push(format!(
                "create it: createdb -h {} -p {} -U {} {db} (then the project's migrations)",
                t.host, t.port, login.user
            ));
            format!(
                "create the database {db} on the PostgreSQL on port {}",
                t.port
            )
        }
    };
    match &t.holder {
        Some((_, _, true)) => steps.push(
            "a container's PostgreSQL keeps the user and password of its first start (its volume): set them back in the env file, or remove the volume (`docker compose down -v` deletes its data) and start it again".into(),
        ),
        Some((who, _, false)) => steps.push(format!(
            "if {who} is not the project's database (another project's cluster on this port), stop it or move the project's database to a port of its own: doctor port {}",
            t.port
        )),
        None => {}
    }
    for name in &t.read_by {
        steps.push(format!(
            "then restart {name} if it is down (its code reads {}; a server that opens the database at start-up exited with this refusal)",
            t.key
        ));
    }
    Finding::new(
        "DB004",
        ID,
        format!(
            "the PostgreSQL at {hostport}{whose} refuses the project's login as {} ({at}): {message}",
            login.user
        ),
    )
    .severity(if t.read_by.is_empty() {
        crate::finding::Severity::Info
    } else {
        crate::finding::Severity::Error
    })
    .evidence("variable", t.key.clone())
    .evidence("port", t.port)
    .evidence("source", t.source.clone())
    .evidence("login_from", at.to_string())
    .evidence("user", login.user.clone())
    .evidence("database", login.database.clone())
    .evidence("sqlstate", sqlstate.to_string())
    .evidence("server_says", message.to_string())
    .evidence("address", addr.to_string())
    .evidence("holder", t.holder.as_ref().map(|(w, _, _)| w.clone()))
    .evidence("read_by", t.read_by.clone())
    .with_fix(Fix::manual(title, steps))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mongo_hello_is_well_formed() {
        let m = mongo_hello();
        assert_eq!(m.len(), 52);
        assert_eq!(
            u32::from_le_bytes(m[0..4].try_into().unwrap()) as usize,
            m.len()
        );
        assert_eq!(&m[12..16], &2013u32.to_le_bytes());
        assert_eq!(m[21], 31);
        assert_eq!(&m[26..31], b"hello");
    }

    #[test]
    fn db_keys() {
        for k in [
            "DATABASE_URL",
            "TEST_DATABASE_URL",
            "REDIS_URL",
            "MONGODB_URI",
            "MONGO_URL",
        ] {
            assert!(is_db_key(k), "{k}");
        }
        assert!(!is_db_key("VITE_API_URL"));
    }
}
