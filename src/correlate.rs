//! Causes and consequences. Checks report what each of them sees; one
//! failure is often seen by several (a missing package: PY002, PY003, then
//! PORT001 for the service that never started). This step links each
//! finding to the one that explains it (`caused_by`), orders the report so
//! every cause comes first with its consequences right after it, and never
//! drops one: the evidence stays complete.

use crate::finding::{Finding, Severity};

/// A rule: a finding with code `consequence` is explained by a finding with
/// one of the codes `causes` when `related` holds for the pair.
struct Rule {
    consequence: &'static [&'static str],
    causes: &'static [&'static str],
    related: fn(&Finding, &Finding) -> bool,
}

const HEALTH_AND_CORS: &[&str] = &[
    "HEALTH001",
    "HEALTH002",
    "HEALTH003",
    "HEALTH004",
    "HEALTH005",
    "CORS001",
    "CORS002",
    "CORS003",
    "CORS004",
    "CORS005",
    "CORS006",
];

/// Most specific first: the first rule and the first cause that match win.
const RULES: &[Rule] = &[
    // The URL's scheme is not what the server speaks (http:// on a TLS
    // port, or the reverse): that is why its probes get no HTTP answer or
    // an error status, and why the CORS probe fails.
    Rule {
        consequence: &[
            "HEALTH001",
            "HEALTH002",
            "HEALTH003",
            "HEALTH004",
            "HEALTH005",
            "CORS001",
            "CORS002",
            "CORS003",
            "CORS004",
        ],
        causes: &["HEALTH007"],
        related: same_port,
    },
    // A compose service name read by a server that runs outside compose:
    // the lookup fails, so the server dies at start, waits listening
    // nowhere, or its proxy cannot reach the backend.
    Rule {
        consequence: &[
            "PORT001",
            "PROC007",
            "PY003",
            "HEALTH006",
            "HEALTH003",
            "NODE005",
        ],
        causes: &["NET004"],
        related: same_service,
    },
    // An env file the server reads at start is missing: the settings it
    // holds are unset, so the server dies at start or waits listening
    // nowhere.
    Rule {
        consequence: &["PORT001", "PROC007", "PY003", "DB001"],
        causes: &["ENV001"],
        related: same_service_only,
    },
    // A tracked env file deleted from the working tree set the variable
    // the code reads and nothing else sets: one fact, said by the file.
    Rule {
        consequence: &["ENV007"],
        causes: &["ENV001"],
        related: deleted_file_set_the_variable,
    },
    // A server error the browser reports as CORS: the error status on the
    // same port is the root (its health endpoint fails the same way).
    Rule {
        consequence: &["CORS005"],
        causes: &["HEALTH003", "PY003"],
        related: same_port,
    },
    // `localhost` resolves elsewhere (the hosts file): every probe of a
    // URL that says localhost reaches another host.
    Rule {
        consequence: HEALTH_AND_CORS,
        causes: &["NET001"],
        related: localhost_port,
    },
    // A server whose folder is gone (a removed or re-cloned checkout) is
    // what the port's other findings about its holder see: a stranger, an
    // orphan, old code, a copy.
    Rule {
        consequence: &["PORT002", "PORT007", "PROC003", "PROC004", "PROC005"],
        causes: &["PROC008"],
        related: same_port,
    },
    // A stopped, stuck, stale, orphaned or foreign process on the port
    // explains every probe of it (an orphaned next-server spins once its
    // output's reader is gone: it accepts and never answers).
    Rule {
        consequence: HEALTH_AND_CORS,
        causes: &[
            "PROC001", "PROC002", "PROC008", "PORT002", "PORT011", "PROC003", "PORT015",
        ],
        related: same_port,
    },
    // The frontend the user runs moved off its port because an orphan or a
    // stranger holds it: the backend refuses the moved origin (its allowed
    // list names the usual port). The holder is the root.
    Rule {
        consequence: &["CORS001", "CORS002", "CORS003", "CORS004"],
        causes: &["PROC003", "PORT002"],
        related: origin_on_moved_port,
    },
    // Two copies of an app where one is an orphaned tree: the same fact,
    // said once, by the orphan.
    Rule {
        consequence: &["PROC005"],
        causes: &["PROC003"],
        related: orphan_is_a_stale_copy,
    },
    // A listener on an address the URL does not use explains what its
    // probes see, when it is judged at least as severe (an address split
    // that refuses some clients does not hide a probe that fails for all).
    Rule {
        consequence: &["HEALTH001", "HEALTH005"],
        causes: &["PORT003"],
        related: same_port,
    },
    Rule {
        consequence: HEALTH_AND_CORS,
        causes: &["PORT003"],
        related: same_port_and_as_severe,
    },
    // The crash another check saw is the variable nothing sets: its
    // message names it (`KeyError: 'DATABASE_URL'`, pydantic's field, "X is
    // required") or it happened at the line that reads it.
    Rule {
        consequence: &["PY003", "NODE005"],
        causes: &["ENV007"],
        related: crash_on_unset_variable,
    },
    // A server error whose debug page names the variable nothing sets
    // (Django's "The SECRET_KEY setting must not be empty"): the variable
    // is why, not the status.
    Rule {
        consequence: &["HEALTH003"],
        causes: &["ENV007"],
        related: crash_on_unset_variable,
    },
    // Django up without its SECRET_KEY: every request that signs (the
    // default middleware's message cookie) is a bare 500.
    Rule {
        consequence: &["HEALTH003"],
        causes: &["ENV007"],
        related: required_django_setting_unset,
    },
    // A server up but failing on its own import (Flask's lazy loader
    // answers every request with the ImportError): the import is why.
    Rule {
        consequence: &["HEALTH003"],
        causes: &["PY003", "PY002"],
        related: same_service,
    },
    // The example's key missing from the env file is the variable whose
    // absence stops the server: one fact, said by the finding that says
    // why it matters (and whose fix is a value, not an empty key).
    Rule {
        consequence: &["ENV002"],
        causes: &["ENV007"],
        related: example_key_is_the_unset_variable,
    },
    // The worker dies at import: the reloader holds the port with no
    // worker (PROC007), connections pile up in its queue (PROC002) and the
    // probes hang. The import (or the requirement behind it) is the cause.
    Rule {
        consequence: &["PROC002", "PROC007", "HEALTH002"],
        causes: &["PY003", "PY002"],
        related: same_service,
    },
    // A stopped owner explains a full accept queue and a reloader whose
    // worker is stopped: PROC001, never PROC002 or PROC007.
    Rule {
        consequence: &["PROC002", "PROC007"],
        causes: &["PROC001"],
        related: same_port,
    },
    // A reloader without a worker explains its full accept queue, and the
    // probes its queue accepts and never answers.
    Rule {
        consequence: &["PROC002"],
        causes: &["PROC007"],
        related: same_port,
    },
    Rule {
        consequence: HEALTH_AND_CORS,
        causes: &["PROC007"],
        related: same_port,
    },
    // What keeps the backend from answering explains the frontend's proxy
    // failing on the way to it.
    Rule {
        consequence: &["HEALTH006"],
        causes: &[
            "PORT003",
            "PROC001",
            "PROC002",
            "PROC007",
            "PORT002",
            "PY003",
            "PY002",
            "NODE005",
            "PORT001",
            "PORT010",
            "HEALTH002",
            "HEALTH003",
            "DB001",
        ],
        related: proxy_target,
    },
    // A hung server makes the CORS probe time out too.
    Rule {
        consequence: &["CORS001", "CORS002", "CORS003", "CORS004"],
        causes: &["HEALTH002"],
        related: same_port,
    },
    // The service never started because its module does not import, or
    // flask cannot find its app.
    Rule {
        consequence: &["PORT001", "PROC007"],
        causes: &["PY003", "PY006", "NODE005"],
        related: same_service,
    },
    // A read that fails when the variable is unset runs at start-up, and
    // nothing sets it: the service exits before it listens.
    Rule {
        consequence: &["PORT001", "PROC007"],
        causes: &["ENV007"],
        related: unset_at_start,
    },
    // The backend's code reads the database's URL and its import is fine,
    // yet it is down or its reloader has no worker: it failed to open the
    // database at start-up (a lifespan or startup hook that connects).
    Rule {
        consequence: &["PORT001", "PROC007"],
        causes: &["DB001"],
        related: database_read_by_service,
    },
    // The database answers and refuses the backend's login: the backend
    // died opening it, or answers 500 where it needs it.
    Rule {
        consequence: &["PORT001", "PROC007", "HEALTH003", "CORS005"],
        causes: &["DB004"],
        related: database_read_by_service,
    },
    // The foreign cluster on the port compose publishes is the server that
    // refuses the login: one story, told by the login's refusal.
    Rule {
        consequence: &["PORT014", "PORT001"],
        causes: &["DB004"],
        related: same_port,
    },
    // One `concurrently -k` starts this service and a sibling whose port
    // was taken (a stranger, an orphan, an old copy): the sibling exited,
    // and `-k` ended this one with it.
    Rule {
        consequence: &["PORT001"],
        causes: &[
            "PORT002", "PROC003", "PROC004", "PROC005", "PROC008", "PORT010", "PORT011",
        ],
        related: launcher_sibling,
    },
    // The Node backend exits at start: its port's probes fail with it.
    Rule {
        consequence: HEALTH_AND_CORS,
        causes: &["NODE005"],
        related: same_service,
    },
    Rule {
        consequence: HEALTH_AND_CORS,
        causes: &["ENV007"],
        related: unset_at_start,
    },
    // It exits on a declared dependency that is not installed.
    Rule {
        consequence: &["NODE005"],
        causes: &["NODE003", "NODE002"],
        related: declared_package_missing,
    },
    // A bind on ::1 only is refused from Windows too (WSL's NAT forwarding).
    Rule {
        consequence: &["WSL001"],
        causes: &["PORT003"],
        related: same_port,
    },
    // A dev server that dies at start (webpack 4 on OpenSSL 3).
    Rule {
        consequence: &["PORT001", "HEALTH006"],
        causes: &["NODE006", "NODE007"],
        related: same_port,
    },
    // A port that cannot be bound is why nothing listens there.
    Rule {
        consequence: &["PORT001"],
        causes: &["PORT010"],
        related: same_port,
    },
    // The database's own finding says more than "nothing listens".
    Rule {
        consequence: &["PORT001"],
        causes: &["DB001", "DB002"],
        related: same_port,
    },
    // The env URL names the wrong port: nothing listens there because of it.
    Rule {
        consequence: &["PORT001"],
        causes: &["ENV004"],
        related: env_url_port,
    },
    // The proxy target names the wrong port: the proxied path fails.
    Rule {
        consequence: &["HEALTH006"],
        causes: &["ENV004"],
        related: proxy_url_port,
    },
    // Leftover sockets of a server that is gone.
    Rule {
        consequence: &["PORT004"],
        causes: &["PORT001"],
        related: same_port,
    },
    // The import fails on a declared requirement that is not installed.
    Rule {
        consequence: &["PY003"],
        causes: &["PY002"],
        related: missing_module_declared,
    },
    // The same requirements reported for a second folder.
    Rule {
        consequence: &["PY002"],
        causes: &["PY002"],
        related: same_missing,
    },
];

fn same_port(a: &Finding, b: &Finding) -> bool {
    a.port().is_some() && a.port() == b.port()
}

fn localhost_port(consequence: &Finding, net001: &Finding) -> bool {
    let port = consequence.port().map(u64::from);
    port.is_some()
        && net001.severity <= Severity::Warning
        && net001
            .evidence
            .get("ports")
            .and_then(|v| v.as_array())
            .is_some_and(|ps| ps.iter().any(|p| p.as_u64() == port))
}

fn proxy_target(proxied: &Finding, cause: &Finding) -> bool {
    let target = proxied.evidence.get("target_port").and_then(|v| v.as_u64());
    target.is_some() && target == cause.port().map(u64::from)
}

fn same_port_and_as_severe(consequence: &Finding, cause: &Finding) -> bool {
    same_port(consequence, cause) && cause.severity <= consequence.severity
}

fn same_service(a: &Finding, b: &Finding) -> bool {
    let theirs = b.services();
    a.services().iter().any(|s| theirs.contains(s)) || same_port(a, b)
}

/// The same service named in both (not merely the same port: ENV001 has
/// none of its own).
fn same_service_only(a: &Finding, b: &Finding) -> bool {
    let theirs = b.services();
    !theirs.is_empty() && a.services().iter().any(|s| theirs.contains(s))
}

fn deleted_file_set_the_variable(env007: &Finding, env001: &Finding) -> bool {
    let variable = env007.evidence.get("variable").and_then(|v| v.as_str());
    env001
        .evidence
        .get("sets")
        .and_then(|v| v.as_array())
        .is_some_and(|keys| keys.iter().any(|k| k.as_str() == variable))
}

/// ENV007 as a warning (a read that fails at start-up, the service down)
/// about the same service.
fn unset_at_start(down: &Finding, env007: &Finding) -> bool {
    env007.severity <= Severity::Warning && same_service(down, env007)
}

fn example_key_is_the_unset_variable(env002: &Finding, env007: &Finding) -> bool {
    let variable = env007.evidence.get("variable").and_then(|v| v.as_str());
    env007.severity <= Severity::Warning
        && env002.evidence.get("env_file") == env007.evidence.get("should_go")
        && env002
            .evidence
            .get("missing")
            .and_then(|m| m.as_array())
            .is_some_and(|m| m.iter().any(|k| k["key"].as_str() == variable))
}

/// PY003's exception or NODE005's error names the variable (or the
/// pydantic field) as a word, or points at a line that reads it.
fn crash_on_unset_variable(crash: &Finding, env007: &Finding) -> bool {
    if !same_service(crash, env007) {
        return false;
    }
    let e = &crash.evidence;
    let field = |k: &str| e.get(k).cloned().unwrap_or_default();
    let mut text = String::new();
    for v in [&field("exception")["message"], &field("error")["message"]] {
        if let Some(m) = v.as_str() {
            text.push_str(m);
            text.push('\n');
        }
    }
    for l in field("output").as_array().into_iter().flatten() {
        text.push_str(l.as_str().unwrap_or_default());
        text.push('\n');
    }
    let names = crate::checks::unset::names(env007);
    let word = |name: &str| {
        text.match_indices(name).any(|(i, _)| {
            let before = text[..i].chars().next_back();
            let after = text[i + name.len()..].chars().next();
            let edge = |c: Option<char>| c.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
            edge(before) && edge(after)
        })
    };
    let at = e.get("location").and_then(|v| v.as_str());
    let read_here = at.is_some_and(|at| {
        env007
            .evidence
            .get("reads")
            .and_then(|r| r.as_array())
            .is_some_and(|r| r.iter().any(|x| x["at"].as_str() == Some(at)))
    });
    // The import died on a None, and the one variable read at start-up
    // as None when unset is set nowhere (`environ.get("X")`, then
    // `X.split(…)` or a driver handed None).
    let on_none = text.contains("'NoneType'")
        && env007.evidence.get("none_at_start") == Some(&serde_json::json!(true));
    read_here || on_none || names.iter().any(|n| word(n))
}

/// A 5xx of the service whose settings read a setting Django refuses
/// empty from a variable nothing sets.
fn required_django_setting_unset(failing: &Finding, env007: &Finding) -> bool {
    env007.evidence.get("django_setting").is_some()
        && same_service(failing, env007)
        && failing
            .evidence
            .get("status")
            .and_then(|v| v.as_u64())
            .is_some_and(|s| s >= 500)
}

fn orphan_is_a_stale_copy(copies: &Finding, orphan: &Finding) -> bool {
    let pid = orphan.evidence["process"]["pid"].as_u64();
    pid.is_some()
        && copies.evidence["stale"]
            .as_array()
            .is_some_and(|s| s.iter().any(|p| p.as_u64() == pid))
}

fn origin_on_moved_port(cors: &Finding, holder: &Finding) -> bool {
    let moved = holder
        .evidence
        .get("moved_to")
        .and_then(|m| m["port"].as_u64());
    let origin_port = cors
        .evidence
        .get("origin")
        .and_then(|o| o.as_str())
        .and_then(crate::project::parse_url)
        .map(|u| u64::from(u.port));
    moved.is_some() && moved == origin_port
}

fn launcher_sibling(down: &Finding, cause: &Finding) -> bool {
    let launcher = &down.evidence.get("launcher");
    let Some(launcher) = launcher else {
        return false;
    };
    launcher["kill_others"] == true
        && cause.port().is_some_and(|p| {
            launcher["siblings"]
                .as_array()
                .is_some_and(|s| s.iter().any(|x| x["port"].as_u64() == Some(u64::from(p))))
        })
}

fn database_read_by_service(down: &Finding, db001: &Finding) -> bool {
    let readers = db001.evidence.get("read_by").and_then(|v| v.as_array());
    readers.is_some_and(|r| {
        down.services()
            .iter()
            .any(|s| r.iter().any(|x| x.as_str() == Some(*s)))
    })
}

fn proxy_url_port(proxied: &Finding, env004: &Finding) -> bool {
    let url_port = env004.evidence.get("url_port").and_then(|v| v.as_u64());
    url_port.is_some() && url_port == proxied.evidence.get("target_port").and_then(|v| v.as_u64())
}

fn env_url_port(port001: &Finding, env004: &Finding) -> bool {
    let url_port = env004.evidence.get("url_port").and_then(|v| v.as_u64());
    url_port.is_some() && url_port == port001.port().map(u64::from)
}

/// NODE005 on a package its package.json declares, and NODE003 naming it
/// missing there (or NODE002: that package.json has no node_modules).
fn declared_package_missing(node005: &Finding, install: &Finding) -> bool {
    let e = &node005.evidence;
    let Some(name) = e.get("package").and_then(|v| v.as_str()) else {
        return false;
    };
    if e.get("declared") != Some(&serde_json::Value::Bool(true))
        || e.get("package_json") != install.evidence.get("package")
    {
        return false;
    }
    install.code == "NODE002"
        || install.evidence["dependencies"]
            .as_array()
            .is_some_and(|d| d.iter().any(|d| d["name"] == name))
}

/// `No module named 'flask_limiter'` and a missing `flask-limiter`.
fn missing_module_declared(py003: &Finding, py002: &Finding) -> bool {
    let message = py003.evidence["exception"]["message"]
        .as_str()
        .unwrap_or_default();
    let Some(module) = message
        .strip_prefix("No module named '")
        .and_then(|m| m.split(['\'', '.']).next())
    else {
        return false;
    };
    let module = crate::checks::python::normalize(module);
    missing_names(py002).contains(&module)
}

fn missing_names(py002: &Finding) -> Vec<String> {
    py002.evidence["missing"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["name"].as_str())
        .map(crate::checks::python::normalize)
        .collect()
}

fn same_missing(a: &Finding, b: &Finding) -> bool {
    let (x, y) = (missing_names(a), missing_names(b));
    !x.is_empty() && x == y
}

/// Link, then reorder: every cause (by severity, then code) followed by the
/// findings it explains, each with `caused_by` set to its cause's index.
pub fn correlate(findings: &mut Vec<Finding>) {
    let n = findings.len();
    let mut parent: Vec<Option<usize>> = (0..n).map(|i| cause_of(findings, i)).collect();
    // A cycle (two findings naming each other) has no cause: break it.
    for i in 0..n {
        let mut seen = vec![false; n];
        let mut at = i;
        while let Some(p) = parent[at] {
            if seen[p] {
                parent[i] = None;
                break;
            }
            seen[p] = true;
            at = p;
        }
    }
    let mut order: Vec<usize> = Vec::with_capacity(n);
    fn visit(i: usize, parent: &[Option<usize>], order: &mut Vec<usize>) {
        order.push(i);
        for child in (0..parent.len()).filter(|&c| parent[c] == Some(i)) {
            visit(child, parent, order);
        }
    }
    // A cause is at least as severe as what it explains: an address split
    // that makes every client refused is the error, not the refusal.
    let mut severity: Vec<Severity> = findings.iter().map(|f| f.severity).collect();
    for i in 0..n {
        let mut at = i;
        while let Some(p) = parent[at] {
            severity[p] = severity[p].min(severity[i]);
            at = p;
        }
    }
    for (f, s) in findings.iter_mut().zip(&severity) {
        f.severity = *s;
    }
    // Roots by severity, then in the order the checks reported them.
    let mut roots: Vec<usize> = (0..n).filter(|&i| parent[i].is_none()).collect();
    roots.sort_by_key(|&i| (severity[i], i));
    for root in roots {
        visit(root, &parent, &mut order);
    }
    let mut new_index = vec![0; n];
    for (new, &old) in order.iter().enumerate() {
        new_index[old] = new;
    }
    // Ending the reloader or the stuck server repairs nothing when its
    // worker died at import or is stopped (the fix is the code, the package,
    // or SIGCONT): those kills are not offered, nor printed.
    let root_of = |mut i: usize| {
        while let Some(p) = parent[i] {
            i = p;
        }
        i
    };
    for i in 0..n {
        let root = root_of(i);
        if root != i
            && matches!(findings[i].code, "PROC002" | "PROC007")
            && matches!(
                findings[root].code,
                "PY003" | "PY002" | "PROC001" | "ENV007"
            )
        {
            findings[i].fix = None;
        }
    }
    let mut taken: Vec<Option<Finding>> = std::mem::take(findings).into_iter().map(Some).collect();
    for &old in &order {
        if let Some(mut f) = taken[old].take() {
            f.caused_by = parent[old].map(|p| new_index[p]);
            findings.push(f);
        }
    }
}

/// A requirement declared but imported nowhere (PY002 as info: a deploy
/// file's server) explains nothing the dev stack does: taken as the cause
/// of a proxy failure, it was raised to an error and `--fix --yes`
/// installed it into a working venv (found by our own suite, round 9).
fn explains_anything(cause: &Finding) -> bool {
    !(cause.code == "PY002" && cause.severity == Severity::Info)
}

fn cause_of(findings: &[Finding], i: usize) -> Option<usize> {
    let f = &findings[i];
    for rule in RULES {
        if !rule.consequence.contains(&f.code) {
            continue;
        }
        for cause_code in rule.causes {
            let found = findings.iter().enumerate().find(|(j, c)| {
                *j != i && c.code == *cause_code && explains_anything(c) && (rule.related)(f, c)
            });
            if let Some((j, _)) = found {
                // Two findings of one code explain each other only one way.
                if rule.consequence.contains(cause_code) && j > i {
                    continue;
                }
                return Some(j);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn finding(code: &'static str, evidence: serde_json::Value) -> Finding {
        let mut f = Finding::new(code, "test", code);
        if let serde_json::Value::Object(map) = evidence {
            f.evidence = map;
        }
        f
    }

    #[test]
    fn one_missing_package_is_one_cause() {
        let mut findings = vec![
            finding(
                "PORT001",
                json!({"port": 8000, "expected_by": [{"service": "backend"}]}),
            ),
            finding("PY002", json!({"missing": [{"name": "flask-limiter"}]})),
            finding("PY002", json!({"missing": [{"name": "flask-limiter"}]})),
            finding(
                "PY003",
                json!({"service": "backend", "exception": {"message": "No module named 'flask_limiter'"}}),
            ),
            finding("PORT004", json!({"port": 8000})),
        ];
        correlate(&mut findings);
        let shape: Vec<(&str, Option<usize>)> =
            findings.iter().map(|f| (f.code, f.caused_by)).collect();
        assert_eq!(
            shape,
            [
                ("PY002", None),
                ("PY002", Some(0)),
                ("PY003", Some(0)),
                ("PORT001", Some(2)),
                ("PORT004", Some(3)),
            ]
        );
    }

    #[test]
    fn a_worker_dead_at_import_explains_the_reloader_and_its_queue() {
        let kill = crate::finding::Fix {
            title: "end the reloader".into(),
            safety: crate::finding::Safety::Confirm,
            commands: vec!["kill -TERM 10".into()],
            action: None,
        };
        let mut findings = vec![
            finding("PROC002", json!({"port": 8000})).with_fix(kill.clone()),
            finding("PROC007", json!({"port": 8000})).with_fix(kill),
            finding("HEALTH002", json!({"port": 8000})),
            finding("PY003", json!({"port": 8000, "service": "backend"})),
        ];
        correlate(&mut findings);
        let shape: Vec<(&str, Option<usize>)> =
            findings.iter().map(|f| (f.code, f.caused_by)).collect();
        assert_eq!(shape[0], ("PY003", None), "{shape:?}");
        assert!(shape[1..].iter().all(|(_, c)| c.is_some()), "{shape:?}");
        // Ending the reloader repairs nothing: not offered.
        assert!(findings
            .iter()
            .all(|f| f.code == "PY003" || f.fix.is_none()));
    }

    /// Field fb P3-3 (recorded): an orphaned next-server on :3000 that
    /// accepts and never answers, and a second copy of the app the user
    /// started on :3001. The orphan is the one cause, an error.
    #[test]
    fn an_orphaned_tree_explains_its_hang_and_the_copies() {
        let mut orphan = finding("PROC003", json!({"port": 3000, "process": {"pid": 31689}}));
        orphan.severity = Severity::Warning;
        let mut copies = finding(
            "PROC005",
            json!({"port": 3000, "stale": [31689], "copies": [{"pid": 31689}, {"pid": 32665}]}),
        );
        copies.severity = Severity::Warning;
        let mut findings = vec![finding("HEALTH002", json!({"port": 3000})), copies, orphan];
        correlate(&mut findings);
        let shape: Vec<(&str, Option<usize>)> =
            findings.iter().map(|f| (f.code, f.caused_by)).collect();
        assert_eq!(shape[0], ("PROC003", None), "{shape:?}");
        assert!(shape[1..].iter().all(|(_, c)| *c == Some(0)), "{shape:?}");
        assert_eq!(findings[0].severity, Severity::Error);
    }

    /// Field round 7 fd P1 X (recorded): an orphaned vite holds :5173, the
    /// user's vite moved to :5174, and the backend refuses origin :5174.
    /// The orphan is the root; the refusal folds under it.
    #[test]
    fn an_orphan_explains_the_cors_refusal_of_the_origin_it_moved() {
        let mut orphan = finding(
            "PROC003",
            json!({"port": 5173, "process": {"pid": 14940}, "moved_to": {"port": 5174}}),
        );
        orphan.severity = Severity::Warning;
        let cors = finding(
            "CORS001",
            json!({"port": 8000, "origin": "http://localhost:5174", "service": "backend"}),
        );
        let other = finding(
            "CORS001",
            json!({"port": 8000, "origin": "http://localhost:3000", "service": "backend"}),
        );
        let mut findings = vec![cors, other, orphan];
        correlate(&mut findings);
        let shape: Vec<(&str, Option<usize>)> =
            findings.iter().map(|f| (f.code, f.caused_by)).collect();
        let root = shape.iter().position(|s| *s == ("PROC003", None)).unwrap();
        assert!(shape.contains(&("CORS001", Some(root))), "{shape:?}");
        assert!(
            shape.contains(&("CORS001", None)),
            "an origin it did not move: {shape:?}"
        );
        assert_eq!(findings[root].severity, Severity::Error);
    }

    #[test]
    fn an_unset_variable_explains_the_crash_that_names_it_and_the_refusal() {
        let mut env007 = finding(
            "ENV007",
            json!({"service": "backend", "port": 8000, "variable": "SHOP_TENANT", "field": "tenant",
                   "should_go": "backend/.env", "reads": [{"at": "backend/config.py:7"}]}),
        );
        env007.severity = Severity::Warning;
        let mut findings = vec![
            finding(
                "PORT001",
                json!({"port": 8000, "expected_by": [{"service": "backend"}]}),
            ),
            finding(
                "PY003",
                json!({"service": "backend", "port": 8000, "exception": {"type": "ValidationError", "message": "1 validation error for Settings\ntenant\n  Field required"}}),
            ),
            finding(
                "ENV002",
                json!({"env_file": "backend/.env", "missing": [{"key": "SHOP_TENANT"}]}),
            ),
            env007,
        ];
        correlate(&mut findings);
        let shape: Vec<(&str, Option<usize>)> =
            findings.iter().map(|f| (f.code, f.caused_by)).collect();
        assert_eq!(
            shape,
            [
                ("ENV007", None),
                ("PY003", Some(0)),
                ("PORT001", Some(1)),
                ("ENV002", Some(0)),
            ]
        );
        // An info ENV007 (the read may never run) explains no refusal.
        let mut info = finding(
            "ENV007",
            json!({"service": "backend", "port": 8000, "variable": "OTHER"}),
        );
        info.severity = Severity::Info;
        let mut findings = vec![
            finding(
                "PORT001",
                json!({"port": 8000, "expected_by": [{"service": "backend"}]}),
            ),
            info,
        ];
        correlate(&mut findings);
        assert!(findings.iter().all(|f| f.caused_by.is_none()));
    }

    #[test]
    fn a_stopped_worker_explains_its_reloader() {
        let mut findings = vec![
            finding("PROC007", json!({"port": 8000})),
            finding("PROC001", json!({"port": 8000})),
        ];
        correlate(&mut findings);
        assert_eq!(findings[0].code, "PROC001");
        assert_eq!(findings[1].caused_by, Some(0));
    }

    #[test]
    fn an_address_split_explains_probes_no_more_severe_than_itself() {
        let mut findings = vec![
            finding("HEALTH005", json!({"port": 5173})),
            finding("HEALTH001", json!({"port": 5173})),
            finding("PORT003", json!({"port": 5173})),
        ];
        correlate(&mut findings);
        let shape: Vec<(&str, Option<usize>)> =
            findings.iter().map(|f| (f.code, f.caused_by)).collect();
        // The split explains the refusal on the address it does not cover,
        // and takes the refusal's severity: the root is the error.
        assert_eq!(
            shape,
            [
                ("PORT003", None),
                ("HEALTH005", Some(0)),
                ("HEALTH001", Some(0))
            ]
        );
        assert_eq!(findings[0].severity, Severity::Error);
    }

    #[test]
    fn stopped_process_explains_its_probes_and_a_database_its_port() {
        let mut findings = vec![
            finding("HEALTH002", json!({"port": 8000})),
            finding("CORS001", json!({"port": 8000})),
            finding("PROC001", json!({"port": 8000})),
            finding("PORT001", json!({"port": 5432})),
            finding("DB001", json!({"port": 5432})),
            finding("HEALTH001", json!({"port": 9000})),
        ];
        correlate(&mut findings);
        let shape: Vec<(&str, Option<usize>)> =
            findings.iter().map(|f| (f.code, f.caused_by)).collect();
        assert_eq!(
            shape,
            [
                ("PROC001", None),
                ("HEALTH002", Some(0)),
                ("CORS001", Some(0)),
                ("DB001", None),
                ("PORT001", Some(3)),
                ("HEALTH001", None),
            ]
        );
    }

    #[test]
    fn a_server_error_explains_the_cors_error_the_browser_shows() {
        let mut findings = vec![
            finding("CORS005", json!({"port": 8000})),
            finding("HEALTH003", json!({"port": 8000})),
            finding("PORT015", json!({"port": 5000})),
            finding("HEALTH002", json!({"port": 5000})),
        ];
        correlate(&mut findings);
        let shape: Vec<(&str, Option<usize>)> =
            findings.iter().map(|f| (f.code, f.caused_by)).collect();
        assert!(
            shape.contains(&(
                "CORS005",
                Some(shape.iter().position(|s| s.0 == "HEALTH003").unwrap())
            )),
            "{shape:?}"
        );
        assert!(
            shape.contains(&(
                "HEALTH002",
                Some(shape.iter().position(|s| s.0 == "PORT015").unwrap())
            )),
            "{shape:?}"
        );
    }
}
