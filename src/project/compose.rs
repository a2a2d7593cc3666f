//! The compose files' services as compose runs them: what each publishes,
//! the environment it is given, the command it runs, and its network. The
//! ports alone also become the project's services (sources.rs); this model
//! keeps the rest for the checks that ask what happens *inside* the
//! containers (a sibling called as `localhost`, an app bound to loopback)
//! and which compose project would run them.

use std::path::{Path, PathBuf};

use yaml_rust2::Yaml;

/// One service of one compose file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ComposeService {
    pub name: String,
    /// The compose file, relative to the project root.
    pub file: String,
    /// The compose project it runs as: the file's top-level `name:`, else
    /// its folder's name, as compose derives it (lowercase, `[a-z0-9_-]`).
    pub project: String,
    /// The line of the service's key in the file.
    pub line: usize,
    pub image: Option<String>,
    /// The build context folder, when the service is built from the project.
    pub build: Option<PathBuf>,
    /// Its command (`command:`) as one line, with the line it is on.
    pub command: Option<(String, usize)>,
    pub ports: Vec<ComposePort>,
    /// Container ports it exposes to siblings only (`expose:`).
    pub expose: Vec<u16>,
    /// `environment:` entries: key, value (never printed) and line.
    pub environment: Vec<(String, String, usize)>,
    /// `env_file:` paths, relative to the compose file's folder.
    pub env_files: Vec<String>,
    /// `network_mode:` (`host`, `service:db`): localhost is then not its own.
    pub network_mode: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ComposePort {
    /// The host port, when the mapping fixes one.
    pub host: Option<u16>,
    pub container: u16,
    pub line: usize,
}

impl ComposeService {
    /// The ports a sibling reaches it on: its container ports, `expose:`d
    /// ones, and the port its image's database listens on by default.
    pub fn container_ports(&self) -> Vec<u16> {
        let mut ports: Vec<u16> = self.ports.iter().map(|p| p.container).collect();
        ports.extend(&self.expose);
        if let Some(p) = self.image.as_deref().and_then(image_default_port) {
            ports.push(p);
        }
        ports.sort_unstable();
        ports.dedup();
        ports
    }

    /// The host ports it publishes.
    pub fn host_ports(&self) -> Vec<u16> {
        self.ports.iter().filter_map(|p| p.host).collect()
    }
}

/// The port a database image listens on in its container.
pub fn image_default_port(image: &str) -> Option<u16> {
    let name = image
        .rsplit('/')
        .next()
        .unwrap_or(image)
        .to_ascii_lowercase();
    let name = name
        .split([':', '@'])
        .next()
        .unwrap_or_default()
        .to_string();
    [
        ("postgres", 5432),
        ("postgis", 5432),
        ("redis", 6379),
        ("valkey", 6379),
        ("mysql", 3306),
        ("mariadb", 3306),
        ("mongo", 27017),
        ("rabbitmq", 5672),
    ]
    .iter()
    .find(|(k, _)| name.starts_with(k))
    .map(|(_, p)| *p)
}

/// The compose project name compose gives a file in `dir`: its folder's
/// name, lowercased, with what compose drops removed.
pub fn project_name(dir: &Path) -> String {
    normalise(dir.file_name().and_then(|n| n.to_str()).unwrap_or_default())
}

fn normalise(name: &str) -> String {
    name.to_ascii_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect()
}

/// The services of one compose file's text. `rel` is its path for reports,
/// `dir` its folder (build contexts resolve from there).
pub fn parse(doc: &Yaml, text: &str, rel: &str, dir: &Path) -> Vec<ComposeService> {
    let Some(services) = doc["services"].as_hash() else {
        return Vec::new();
    };
    let project = doc["name"]
        .as_str()
        .map(normalise)
        .unwrap_or_else(|| project_name(dir));
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (key, def) in services {
        let Some(name) = key.as_str() else { continue };
        // The service's block: from its key to the next key as indented.
        let start = lines
            .iter()
            .position(|l| {
                let t = l.trim_start();
                l.len() > t.len()
                    && (t.starts_with(&format!("{name}:"))
                        || t.starts_with(&format!("\"{name}\":"))
                        || t.starts_with(&format!("'{name}':")))
            })
            .unwrap_or(0);
        let indent = lines
            .get(start)
            .map_or(0, |l| l.len() - l.trim_start().len());
        let end = lines
            .iter()
            .enumerate()
            .skip(start + 1)
            .find(|(_, l)| {
                let t = l.trim_start();
                !t.is_empty() && !t.starts_with('#') && l.len() - t.len() <= indent
            })
            .map_or(lines.len(), |(i, _)| i);
        let line_of = |needle: &str| -> usize {
            (start..end)
                .find(|&i| lines[i].contains(needle))
                .map_or(start + 1, |i| i + 1)
        };
        let mut s = ComposeService {
            name: name.to_string(),
            file: rel.to_string(),
            project: project.clone(),
            line: start + 1,
            image: def["image"].as_str().map(String::from),
            network_mode: def["network_mode"].as_str().map(String::from),
            ..Default::default()
        };
        s.build = match &def["build"] {
            Yaml::String(ctx) => Some(dir.join(ctx)),
            b @ Yaml::Hash(_) => b["context"].as_str().map(|c| dir.join(c)),
            _ => None,
        };
        s.command = match &def["command"] {
            Yaml::String(c) => Some((c.clone(), line_of("command"))),
            Yaml::Array(words) => Some((
                words
                    .iter()
                    .filter_map(scalar)
                    .collect::<Vec<_>>()
                    .join(" "),
                line_of("command"),
            )),
            _ => None,
        };
        for entry in def["ports"].as_vec().into_iter().flatten() {
            let port = match entry {
                Yaml::String(spec) => port_mapping(spec).map(|(host, container)| ComposePort {
                    host,
                    container,
                    line: line_of(spec),
                }),
                Yaml::Integer(p) => u16::try_from(*p).ok().map(|container| ComposePort {
                    host: None,
                    container,
                    line: line_of(&p.to_string()),
                }),
                long => {
                    let num = |k: &str| {
                        long[k]
                            .as_i64()
                            .and_then(|p| u16::try_from(p).ok())
                            .or_else(|| long[k].as_str()?.parse().ok())
                    };
                    num("target").map(|container| ComposePort {
                        host: num("published"),
                        container,
                        line: line_of("target"),
                    })
                }
            };
            s.ports.extend(port);
        }
        s.expose = def["expose"]
            .as_vec()
            .into_iter()
            .flatten()
            .filter_map(|e| scalar(e)?.split('/').next()?.parse::<u16>().ok())
            .collect();
        s.env_files = match &def["env_file"] {
            Yaml::String(f) => vec![f.clone()],
            Yaml::Array(list) => list
                .iter()
                .filter_map(|e| e.as_str().or_else(|| e["path"].as_str()))
                .map(String::from)
                .collect(),
            _ => Vec::new(),
        };
        match &def["environment"] {
            Yaml::Hash(map) => {
                for (k, v) in map {
                    if let (Some(k), Some(v)) = (k.as_str(), scalar(v)) {
                        s.environment.push((k.to_string(), v, line_of(k)));
                    }
                }
            }
            Yaml::Array(list) => {
                for item in list.iter().filter_map(Yaml::as_str) {
                    if let Some((k, v)) = item.split_once('=') {
                        s.environment
                            .push((k.trim().to_string(), v.to_string(), line_of(item)));
                    }
                }
            }
            _ => {}
        }
        out.push(s);
    }
    out
}

fn scalar(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `"8000:8000"` → (8000, 8000); `"127.0.0.1:5433:5432/tcp"` → (5433, 5432);
/// `"3000"` → (none, 3000); `${PORT:-8000}:8000` with compose's default.
pub fn port_mapping(spec: &str) -> Option<(Option<u16>, u16)> {
    let spec = super::sources::interpolate_defaults(spec);
    let spec = spec.split('/').next()?;
    let parts: Vec<&str> = spec.rsplitn(3, ':').collect();
    let first = |p: &str| p.split('-').next()?.trim().parse::<u16>().ok();
    match parts.as_slice() {
        [container] => Some((None, first(container)?)),
        [container, host, ..] => Some((first(host), first(container)?)),
        [] => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Vec<ComposeService> {
        let docs = super::super::yaml::load(text).unwrap();
        parse(
            &docs[0],
            text,
            "docker-compose.yml",
            Path::new("/work/Shop App"),
        )
    }

    #[test]
    fn services_with_ports_environment_and_command() {
        let text = "services:\n  db:\n    image: postgres:16\n    ports:\n      - \"5433:5432\"\n  api:\n    build: ./backend\n    command: [\"uvicorn\", \"main:app\", \"--port\", \"8000\"]\n    ports:\n      - target: 8000\n        published: 8000\n    environment:\n      DATABASE_URL: postgresql://app@localhost:5432/app\n      DEBUG: 1\n  web:\n    image: node:20\n    expose: [\"5173\"]\n    environment:\n      - VITE_API=http://localhost:8000\n";
        let s = load(text);
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].project, "shopapp");
        assert_eq!(
            s[0].ports,
            vec![ComposePort {
                host: Some(5433),
                container: 5432,
                line: 5
            }]
        );
        assert_eq!(s[0].container_ports(), vec![5432]);
        let api = &s[1];
        assert_eq!(api.line, 6);
        assert_eq!(api.build, Some(PathBuf::from("/work/Shop App/./backend")));
        assert_eq!(
            api.command,
            Some(("uvicorn main:app --port 8000".into(), 8))
        );
        assert_eq!(api.host_ports(), vec![8000]);
        assert_eq!(
            api.environment[0],
            (
                "DATABASE_URL".into(),
                "postgresql://app@localhost:5432/app".into(),
                13
            )
        );
        assert_eq!(api.environment[1].1, "1");
        assert_eq!(s[2].expose, vec![5173]);
        assert_eq!(s[2].environment[0].0, "VITE_API");
        assert_eq!(s[2].environment[0].2, 19);
    }

    #[test]
    fn mappings() {
        assert_eq!(port_mapping("8000:8000"), Some((Some(8000), 8000)));
        assert_eq!(
            port_mapping("127.0.0.1:5433:5432/tcp"),
            Some((Some(5433), 5432))
        );
        assert_eq!(port_mapping("3000"), Some((None, 3000)));
        assert_eq!(
            port_mapping("${API_PORT:-8001}:8000"),
            Some((Some(8001), 8000))
        );
        assert_eq!(
            image_default_port("docker.io/library/postgres:16"),
            Some(5432)
        );
        assert_eq!(image_default_port("bitnami/redis"), Some(6379));
        assert_eq!(image_default_port("node:20"), None);
    }

    #[test]
    fn a_named_project() {
        let s = load("name: Shop\nservices:\n  db:\n    image: redis\n");
        assert_eq!(s[0].project, "shop");
    }
}
