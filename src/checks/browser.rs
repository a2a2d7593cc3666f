//! PORT013: a port the browser refuses. Chromium and Firefox never connect
//! to a list of "unsafe" ports (the Fetch standard's bad ports): a frontend
//! served there, or an API the browser calls there, fails with
//! `ERR_UNSAFE_PORT` while curl, the proxy and doctor's probes all work. A
//! rule over the service model: it needs no listener.

use serde_json::json;

use crate::engine::{Check, CheckError, Context};
use crate::finding::{Finding, Fix};
use crate::project::{Project, Service};

pub struct Browser;

const ID: &str = "browser";

/// Ports Chromium refuses: `kRestrictedPorts` in Chromium's
/// `net/base/port_util.cc` (the Fetch standard's "bad port" list, which
/// Firefox's `gBadPortList` in `netwerk/base/nsIOService.cpp` matches).
/// Data, not code: a port the browsers add is a new entry.
pub const BLOCKED_PORTS: &[u16] = &[
    1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102,
    103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465,
    512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993,
    995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668,
    6669, 6679, 6697, 10080,
];

pub fn is_blocked(port: u16) -> bool {
    BLOCKED_PORTS.binary_search(&port).is_ok()
}

/// The next port above `port` that the browsers allow.
pub fn next_allowed(port: u16) -> u16 {
    (port.saturating_add(1)..=u16::MAX)
        .find(|p| !is_blocked(*p))
        .unwrap_or(port)
}

/// Env keys a frontend's bundler hands to the browser.
const PUBLIC_PREFIXES: &[&str] = &[
    "VITE_",
    "NEXT_PUBLIC_",
    "REACT_APP_",
    "NUXT_PUBLIC_",
    "PUBLIC_",
    "EXPO_PUBLIC_",
];

impl Check for Browser {
    fn id(&self) -> &'static str {
        ID
    }
    fn description(&self) -> &'static str {
        "frontends and the APIs their browser calls on ports browsers refuse"
    }
    fn codes(&self) -> &'static [&'static str] {
        &["PORT013"]
    }
    fn run(&self, ctx: &Context) -> Result<Vec<Finding>, CheckError> {
        let project = &ctx.project;
        Ok(project
            .services
            .iter()
            .filter(|s| s.expected && is_blocked(s.port))
            .filter_map(|s| browser_reaches(project, s).map(|why| blocked(project, s, why)))
            .collect())
    }
}

/// Why the browser connects to this service, when it does: it is a
/// frontend (or has an origin), or a frontend's env file names it, or an
/// env key the bundler hands to the browser does. A proxy target (vite's
/// `server.proxy`, next's rewrites) is reached by the dev server, not the
/// browser, and is not one.
fn browser_reaches(project: &Project, s: &Service) -> Option<String> {
    if s.is_frontend() {
        return Some(format!("{} is a frontend the browser loads", s.name));
    }
    if let Some(origin) = &s.origin {
        return Some(format!("the browser loads it as {origin}"));
    }
    let frontends: Vec<&str> = project
        .services
        .iter()
        .filter(|f| f.is_frontend())
        .filter_map(|f| f.folder_shown.as_deref())
        .collect();
    let places = std::iter::once(&s.source)
        .chain(&s.references)
        .chain(s.sources.iter().map(|f| &f.source));
    for src in places {
        let file = src.rsplit_once(':').map_or(src.as_str(), |(f, _)| f);
        let name = file.rsplit('/').next().unwrap_or(file);
        if !name.starts_with(".env") {
            continue;
        }
        let key = super::source_line(project, src)
            .and_then(|l| crate::project::parse_env_line(&l).map(|(k, _)| k.to_string()));
        if let Some(k) = key
            .as_deref()
            .filter(|k| PUBLIC_PREFIXES.iter().any(|p| k.starts_with(p)))
        {
            return Some(format!("{src} hands it to the browser ({k})"));
        }
        if frontends
            .iter()
            .any(|f| *f != "." && file.starts_with(&format!("{f}/")))
        {
            return Some(format!("the frontend's env file {src} names it"));
        }
    }
    None
}

fn blocked(project: &Project, s: &Service, why: String) -> Finding {
    let port = s.port;
    let text = port.to_string();
    let mut places: Vec<String> = std::iter::once(&s.source)
        .chain(&s.references)
        .chain(s.sources.iter().map(|f| &f.source))
        .filter(|src| super::source_line(project, src).is_some_and(|l| l.contains(&text)))
        .cloned()
        .collect();
    places.sort();
    places.dedup();
    let other = next_allowed(port);
    let mut steps: Vec<String> = places
        .iter()
        .map(|p| format!("change {port} to {other} at {p}"))
        .collect();
    if steps.is_empty() {
        steps.push(format!(
            "start {} on port {other} and point its URLs there",
            s.name
        ));
    }
    steps.push("then restart what reads them (dev servers read env files at start)".into());
    Finding::new(
        "PORT013",
        ID,
        format!(
            "{} is on port {port}, which Chromium and Firefox refuse (ERR_UNSAFE_PORT): {why}; curl works, the browser never connects",
            s.name
        ),
    )
    .evidence("port", port)
    .evidence("service", s.name.clone())
    .evidence("browser_reaches_it", why)
    .evidence(
        "blocked_by",
        "Chromium's kRestrictedPorts (net/base/port_util.cc) and Firefox's bad-port list (the Fetch standard's bad ports)",
    )
    .evidence("set_at", json!(places))
    .with_fix(Fix::manual(
        format!("move {} to a port the browsers allow ({other})", s.name),
        steps,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_sorted_so_the_search_holds() {
        assert!(BLOCKED_PORTS.windows(2).all(|w| w[0] < w[1]));
        for p in [6000, 6666, 10080, 5060, 4190, 1, 587] {
            assert!(is_blocked(p), "{p}");
        }
        for p in [80, 443, 3000, 5173, 6001, 6670, 8000, 8080, 10081] {
            assert!(!is_blocked(p), "{p}");
        }
        assert_eq!(next_allowed(6665), 6670);
        assert_eq!(next_allowed(10080), 10081);
    }

    #[test]
    fn who_the_browser_reaches() {
        let mut project = Project::default();
        let mut web = Service::at("frontend", 6000, "frontend/package.json:6".into());
        web.kind = Some("vite".into());
        web.folder_shown = Some("frontend".into());
        project.services.push(web.clone());
        assert!(browser_reaches(&project, &web).is_some());
        // A backend named only by a proxy target: the dev server calls it.
        let api = Service::at("api", 6666, "frontend/vite.config.js:4".into());
        assert!(browser_reaches(&project, &api).is_none());
        // A backend named by the frontend's env file (no file to read the key from).
        let api = Service::at("api", 6666, "frontend/.env:1".into());
        assert!(browser_reaches(&project, &api).is_some());
        // A backend named by a root .env, no frontend key: not the browser's.
        let api = Service::at("api", 6666, ".env:1".into());
        assert!(browser_reaches(&project, &api).is_none());
    }
}
