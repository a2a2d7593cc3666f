//! DB001–DB003: the databases the env files name: reachable on every
//! resolved address, and speaking the protocol their URL says (a
//! credential-free sniff: nothing is logged into).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::engine::{Check, CheckError, Context};
use crate::finding::{Finding, Fix};
use crate::project::{parse_env_line, parse_url, read_bounded, ENV_FILES};

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
        &["DB001", "DB002", "DB003"]
    }
    fn run(&self, ctx: &Context) -> Result<Vec<Finding>, CheckError> {
        let (targets, mut out) = targets(ctx);
        if targets.is_empty() && out.is_empty() {
            return Err(CheckError::Skipped(
                "no database URL in the env files".into(),
            ));
        }
        let timeout = ctx.config.timeout;
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
                            source,
                            read_by,
                            protocol,
                            host: u.host,
                            port: u.port,
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
                    targets.push(Target {
                        key,
                        source,
                        read_by: readers(project, dir, host_key),
                        protocol,
                        host,
                        port,
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
            let holder = snapshot
                .listener_pids(service.port)
                .iter()
                .filter_map(|p| snapshot.process(*p))
                .filter(|p| p.cwd.as_ref().is_some_and(|c| c.starts_with(&project.root)))
                .max_by_key(|p| p.start_time)
                .map(|p| p.pid);
            let Some(env) = holder.and_then(crate::platform::environment_of) else {
                continue;
            };
            for (key, value) in &env {
                let (Some(key), Some(value)) = (key.to_str(), value.to_str()) else {
                    continue;
                };
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
                        source: format!(
                            "the environment of pid {} ({})",
                            holder.unwrap_or_default(),
                            service.name
                        ),
                        read_by: vec![service.name.clone()],
                        protocol,
                        host: u.host,
                        port: u.port,
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
                        speaking = true;
                        probe["result"] = json!(format!("speaks {}: {what}", t.protocol.name()));
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
