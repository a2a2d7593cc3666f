//! Causes and consequences. Checks report what each of them sees; one
//! failure is often seen by several (a missing package: PY002, PY003, then
//! PORT001 for the service that never started). This step links each
//! finding to the one that explains it (`caused_by`), orders the report so
//! every cause comes first with its consequences right after it, and never
//! drops one: the evidence stays complete.

use crate::finding::Finding;

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
];

/// Most specific first: the first rule and the first cause that match win.
const RULES: &[Rule] = &[
    // A stopped, stuck or foreign process on the port explains every probe of it.
    Rule {
        consequence: HEALTH_AND_CORS,
        causes: &["PROC001", "PROC002", "PORT002", "PORT011"],
        related: same_port,
    },
    // A listener on an address the URL does not use explains what its
    // probes see, when it is judged at least as severe (an address split
    // that refuses some clients does not hide a probe that fails for all).
    Rule {
        consequence: HEALTH_AND_CORS,
        causes: &["PORT003"],
        related: same_port_and_as_severe,
    },
    // A stopped owner explains a full accept queue: PROC001, never PROC002.
    Rule {
        consequence: &["PROC002"],
        causes: &["PROC001"],
        related: same_port,
    },
    // A hung server makes the CORS probe time out too.
    Rule {
        consequence: &["CORS001", "CORS002", "CORS003", "CORS004"],
        causes: &["HEALTH002"],
        related: same_port,
    },
    // The service never started because its module does not import.
    Rule {
        consequence: &["PORT001", "PROC007"],
        causes: &["PY003"],
        related: same_service,
    },
    // A bind on ::1 only is refused from Windows too (WSL's NAT forwarding).
    Rule {
        consequence: &["WSL001"],
        causes: &["PORT003"],
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

fn same_port_and_as_severe(consequence: &Finding, cause: &Finding) -> bool {
    same_port(consequence, cause) && cause.severity <= consequence.severity
}

fn same_service(a: &Finding, b: &Finding) -> bool {
    let theirs = b.services();
    a.services().iter().any(|s| theirs.contains(s)) || same_port(a, b)
}

fn env_url_port(port001: &Finding, env004: &Finding) -> bool {
    let url_port = env004.evidence.get("url_port").and_then(|v| v.as_u64());
    url_port.is_some() && url_port == port001.port().map(u64::from)
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
    for root in (0..n).filter(|&i| parent[i].is_none()) {
        visit(root, &parent, &mut order);
    }
    let mut new_index = vec![0; n];
    for (new, &old) in order.iter().enumerate() {
        new_index[old] = new;
    }
    let mut taken: Vec<Option<Finding>> = std::mem::take(findings).into_iter().map(Some).collect();
    for &old in &order {
        if let Some(mut f) = taken[old].take() {
            f.caused_by = parent[old].map(|p| new_index[p]);
            findings.push(f);
        }
    }
}

fn cause_of(findings: &[Finding], i: usize) -> Option<usize> {
    let f = &findings[i];
    for rule in RULES {
        if !rule.consequence.contains(&f.code) {
            continue;
        }
        for cause_code in rule.causes {
            let found = findings
                .iter()
                .enumerate()
                .find(|(j, c)| *j != i && c.code == *cause_code && (rule.related)(f, c));
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
    fn an_address_split_explains_probes_no_more_severe_than_itself() {
        let mut findings = vec![
            finding("HEALTH005", json!({"port": 5173})),
            finding("HEALTH001", json!({"port": 5173})),
            finding("PORT003", json!({"port": 5173})),
        ];
        correlate(&mut findings);
        let shape: Vec<(&str, Option<usize>)> =
            findings.iter().map(|f| (f.code, f.caused_by)).collect();
        // HEALTH001 is an error: a warning does not hide it.
        assert_eq!(
            shape,
            [
                ("HEALTH001", None),
                ("PORT003", None),
                ("HEALTH005", Some(1))
            ]
        );
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
}
