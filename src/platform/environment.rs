//! What the machine around the project is: WSL, Windows' reserved port
//! ranges, how Windows writes a path. The readers here are pure text
//! functions (tested on every OS with recorded inputs); only the small
//! callers at the bottom ask the OS.

use std::path::{Path, PathBuf};

/// A range of ports Windows will not let a program bind (Hyper-V, WinNAT,
/// Docker Desktop reserve them, and they move between reboots).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReservedRange {
    pub start: u16,
    pub end: u16,
    /// `*` in netsh's output: an administered exclusion (set on purpose).
    pub administered: bool,
}

/// `netsh int ipv4 show excludedportrange protocol=tcp`: its headers are
/// localized, so only the numeric rows are read (`  49709  49808`, an
/// administered one with a trailing `*`).
pub fn parse_excluded_port_ranges(text: &str) -> Vec<ReservedRange> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let start = words.next()?.parse().ok()?;
            let end = words.next()?.parse().ok()?;
            let administered = words.next() == Some("*");
            (start <= end).then_some(ReservedRange {
                start,
                end,
                administered,
            })
        })
        .collect()
}

pub fn reserved_range_of(ranges: &[ReservedRange], port: u16) -> Option<ReservedRange> {
    ranges
        .iter()
        .copied()
        .find(|r| (r.start..=r.end).contains(&port))
}

/// WSL, when doctor runs inside it: the distribution and the networking
/// mode (NAT forwards only IPv4 binds on 127.0.0.1/0.0.0.0 to Windows;
/// mirrored shares the host's interfaces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wsl {
    pub distro: Option<String>,
    /// `nat`, `mirrored`, … from `wslinfo --networking-mode`, when known.
    pub networking: Option<String>,
}

impl Wsl {
    /// NAT is WSL 2's default: an unknown mode is taken as NAT, and the
    /// evidence says it was assumed.
    pub fn is_nat(&self) -> bool {
        self.networking.as_deref().is_none_or(|m| m == "nat")
    }
}

/// From `WSL_DISTRO_NAME` (set in every WSL shell), or from a kernel that
/// says `microsoft`/`WSL` together with WSL's interop (`sudo` drops the
/// variable; a Docker Desktop container has the kernel but not the interop).
pub fn detect_wsl(proc_version: &str, distro_env: Option<&str>, interop: bool) -> Option<Wsl> {
    let lower = proc_version.to_ascii_lowercase();
    let kernel = lower.contains("microsoft") || lower.contains("wsl");
    (distro_env.is_some() || (kernel && interop)).then(|| Wsl {
        distro: distro_env.map(String::from),
        networking: None,
    })
}

/// The WSL doctor runs in, with its networking mode, or `None` elsewhere.
pub fn current_wsl(limit: std::time::Duration) -> Option<Wsl> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let version = std::fs::read_to_string("/proc/version").unwrap_or_default();
    let distro = std::env::var("WSL_DISTRO_NAME")
        .ok()
        .filter(|d| !d.is_empty());
    let interop = Path::new("/proc/sys/fs/binfmt_misc/WSLInterop").exists()
        || Path::new("/proc/sys/fs/binfmt_misc/WSLInterop-late").exists();
    let mut wsl = detect_wsl(&version, distro.as_deref(), interop)?;
    wsl.networking = crate::run::which("wslinfo")
        .and_then(|exe| {
            crate::run::bounded(
                std::process::Command::new(exe).arg("--networking-mode"),
                limit,
            )
            .ok()
        })
        .filter(|ran| ran.status == Some(0))
        .map(|ran| ran.stdout.trim().to_ascii_lowercase())
        .filter(|mode| !mode.is_empty());
    Some(wsl)
}

/// A Windows program reachable from WSL through interop: on PATH (WSL
/// appends Windows' PATH), else in System32 on the C: drive.
fn windows_program(name: &str) -> Option<PathBuf> {
    crate::run::which(name).or_else(|| {
        let system = Path::new("/mnt/c/Windows/System32").join(name);
        crate::run::is_executable(&system).then_some(system)
    })
}

/// The Windows side's TCP sockets, from WSL: `netstat.exe -ano`, bounded.
pub fn windows_side_sockets(limit: std::time::Duration) -> Result<Vec<super::Socket>, String> {
    let exe = windows_program("netstat.exe")
        .ok_or("netstat.exe is not reachable (WSL interop off, or C: not mounted)")?;
    let ran = crate::run::bounded(std::process::Command::new(exe).arg("-ano"), limit)
        .map_err(|e| format!("netstat.exe -ano {e}"))?;
    Ok(super::windows_text::parse_netstat(&ran.stdout))
}

/// Windows' process names by pid, from WSL: `tasklist.exe /FO CSV /NH`.
pub fn windows_process_names(limit: std::time::Duration) -> std::collections::HashMap<u32, String> {
    windows_program("tasklist.exe")
        .and_then(|exe| {
            crate::run::bounded(
                std::process::Command::new(exe).args(["/FO", "CSV", "/NH"]),
                limit,
            )
            .ok()
        })
        .map(|ran| super::windows_text::parse_tasklist(&ran.stdout))
        .unwrap_or_default()
}

/// `\\?\C:\code\shop` → `C:\code\shop`, `\\?\UNC\host\share` → `\\host\share`:
/// a path as users write it (canonicalize on Windows gives the verbatim form).
pub fn as_users_write_it(path: &Path) -> PathBuf {
    let text = path.to_string_lossy();
    if let Some(rest) = text.strip_prefix(r"\\?\UNC\") {
        return PathBuf::from(format!(r"\\{rest}"));
    }
    if let Some(rest) = text.strip_prefix(r"\\?\") {
        if rest.as_bytes().get(1) == Some(&b':') {
            return PathBuf::from(rest);
        }
    }
    path.to_path_buf()
}

/// Windows' reserved TCP port ranges (IPv4 and IPv6), asked of netsh with a
/// time bound; empty elsewhere or when netsh does not answer.
pub fn reserved_port_ranges(limit: std::time::Duration) -> Vec<ReservedRange> {
    if !cfg!(windows) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for family in ["ipv4", "ipv6"] {
        let ran = crate::run::bounded(
            std::process::Command::new("netsh").args([
                "int",
                family,
                "show",
                "excludedportrange",
                "protocol=tcp",
            ]),
            limit,
        );
        if let Ok(r) = ran {
            out.extend(parse_excluded_port_ranges(&r.stdout));
        }
    }
    out
}

/// A hosted or remote runtime: the browser that opens the project's pages
/// runs on another machine, so its `localhost` is not this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hosted {
    Colab,
    Codespaces {
        name: String,
        domain: String,
    },
    Gitpod,
    Devcontainer,
    /// `SSH_CONNECTION`: `CLIENT_IP CLIENT_PORT SERVER_IP SERVER_PORT`.
    Ssh {
        server: String,
        user: Option<String>,
    },
}

impl Hosted {
    pub fn name(&self) -> &'static str {
        match self {
            Hosted::Colab => "Google Colab",
            Hosted::Codespaces { .. } => "GitHub Codespaces",
            Hosted::Gitpod => "Gitpod",
            Hosted::Devcontainer => "a dev container",
            Hosted::Ssh { .. } => "an SSH session",
        }
    }

    /// How the browser reaches `port` of this machine.
    pub fn reach(&self, port: u16) -> String {
        match self {
            Hosted::Colab => format!(
                "in a notebook cell: from google.colab import output; output.serve_kernel_port_as_window({port})"
            ),
            Hosted::Codespaces { name, domain } => format!(
                "https://{name}-{port}.{domain} (forwarded ports: gh codespace ports)"
            ),
            Hosted::Gitpod => format!("gp url {port} (prints the URL of the port)"),
            Hosted::Devcontainer => format!(
                "forward port {port} in the editor (VS Code: Ports view, or forwardPorts in devcontainer.json)"
            ),
            Hosted::Ssh { server, user } => format!(
                "ssh -L {port}:localhost:{port} {}{server}, then http://localhost:{port} on your machine",
                user.as_deref().map(|u| format!("{u}@")).unwrap_or_default()
            ),
        }
    }
}

/// The hosted runtime the variables say (`var` reads one; empty is unset).
pub fn detect_hosted(var: impl Fn(&str) -> Option<String>) -> Option<Hosted> {
    let var = |k: &str| var(k).filter(|v| !v.is_empty());
    if var("COLAB_RELEASE_TAG").is_some() {
        return Some(Hosted::Colab);
    }
    if var("CODESPACES").is_some() {
        if let Some(name) = var("CODESPACE_NAME") {
            return Some(Hosted::Codespaces {
                name,
                domain: var("GITHUB_CODESPACES_PORT_FORWARDING_DOMAIN")
                    .unwrap_or_else(|| "app.github.dev".into()),
            });
        }
    }
    if var("GITPOD_WORKSPACE_ID").is_some() {
        return Some(Hosted::Gitpod);
    }
    if var("REMOTE_CONTAINERS").is_some() {
        return Some(Hosted::Devcontainer);
    }
    let ssh = var("SSH_CONNECTION")?;
    let server = ssh.split_whitespace().nth(2)?.to_string();
    Some(Hosted::Ssh {
        server,
        user: var("USER").or_else(|| var("LOGNAME")),
    })
}

/// The hosted runtime doctor runs in, from its own environment.
pub fn current_hosted() -> Option<Hosted> {
    detect_hosted(|k| std::env::var(k).ok())
}

/// What the hosts file says of `localhost`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostsLocalhost {
    /// Mapped to loopback addresses only (the usual `127.0.0.1 localhost`).
    Loopback,
    /// Mapped to an address that is not loopback, on that line (1-based).
    Elsewhere { ip: String, line: usize },
    /// Only on lines that are commented out (the first one).
    Commented { line: usize },
    /// Not named at all.
    Missing,
}

/// Read a hosts file's text (`/etc/hosts`, Windows' `drivers\etc\hosts`):
/// `ADDRESS NAME [ALIAS…]`, `#` to the end of the line is a comment. Any
/// non-loopback mapping of `localhost` wins over loopback ones: the
/// resolver may hand it out first.
pub fn localhost_in_hosts(text: &str) -> HostsLocalhost {
    let mut loopback = false;
    let mut commented = None;
    for (i, raw) in text.lines().enumerate() {
        let (live, comment) = raw.split_once('#').unwrap_or((raw, ""));
        let mut words = live.split_whitespace();
        if let Some(ip) = words.next() {
            if words.any(|w| w.eq_ignore_ascii_case("localhost")) {
                match ip.parse::<std::net::IpAddr>() {
                    Ok(a) if a.is_loopback() => loopback = true,
                    _ => {
                        return HostsLocalhost::Elsewhere {
                            ip: ip.to_string(),
                            line: i + 1,
                        }
                    }
                }
            }
        }
        let mut words = comment.split_whitespace();
        let looks_like_entry = words
            .next()
            .is_some_and(|ip| ip.parse::<std::net::IpAddr>().is_ok());
        if looks_like_entry && words.any(|w| w.eq_ignore_ascii_case("localhost")) {
            commented.get_or_insert(i + 1);
        }
    }
    match (loopback, commented) {
        (true, _) => HostsLocalhost::Loopback,
        (false, Some(line)) => HostsLocalhost::Commented { line },
        (false, None) => HostsLocalhost::Missing,
    }
}

/// The names a hosts file maps to loopback addresses only (`127.0.0.1 db
/// backend`, as people map compose service names to run natively).
pub fn loopback_names(text: &str) -> Vec<String> {
    let mut loopback: Vec<String> = Vec::new();
    let mut elsewhere: Vec<String> = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default();
        let mut words = line.split_whitespace();
        let Some(ip) = words
            .next()
            .and_then(|w| w.parse::<std::net::IpAddr>().ok())
        else {
            continue;
        };
        let into = if ip.is_loopback() {
            &mut loopback
        } else {
            &mut elsewhere
        };
        into.extend(words.map(str::to_ascii_lowercase));
    }
    loopback.retain(|n| !elsewhere.contains(n));
    loopback.sort();
    loopback.dedup();
    loopback
}

/// This machine's hosts file's loopback-only names, read once.
pub fn hosts_loopback_names() -> &'static [String] {
    static NAMES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        std::fs::read_to_string(hosts_file_path())
            .map(|t| loopback_names(&t))
            .unwrap_or_default()
    })
}

/// Where this OS keeps its hosts file.
pub fn hosts_file_path() -> PathBuf {
    if cfg!(windows) {
        let root = std::env::var_os("SystemRoot").unwrap_or_else(|| r"C:\Windows".into());
        Path::new(&root).join(r"System32\drivers\etc\hosts")
    } else {
        PathBuf::from("/etc/hosts")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_a_hosts_file_maps_to_loopback() {
        let text = "127.0.0.1 localhost\n::1 localhost ip6-localhost\n127.0.0.1 db backend # compose\n10.0.0.5 backend\n# 127.0.0.1 old\n";
        assert_eq!(loopback_names(text), ["db", "ip6-localhost", "localhost"]);
    }

    #[test]
    fn hosted_runtimes_from_their_variables() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(detect_hosted(env(&[])), None);
        assert_eq!(detect_hosted(env(&[("SSH_CONNECTION", "")])), None);
        let cs = detect_hosted(env(&[
            ("CODESPACES", "true"),
            ("CODESPACE_NAME", "shop-x7"),
            ("GITHUB_CODESPACES_PORT_FORWARDING_DOMAIN", "app.github.dev"),
        ]))
        .unwrap();
        assert!(cs
            .reach(5173)
            .starts_with("https://shop-x7-5173.app.github.dev"));
        assert_eq!(
            detect_hosted(env(&[("COLAB_RELEASE_TAG", "release-colab_2024")])),
            Some(Hosted::Colab)
        );
        assert!(Hosted::Colab
            .reach(8000)
            .contains("serve_kernel_port_as_window(8000)"));
        let ssh = detect_hosted(env(&[
            ("SSH_CONNECTION", "10.0.0.2 50122 10.0.0.9 22"),
            ("USER", "ana"),
        ]))
        .unwrap();
        assert!(ssh
            .reach(3000)
            .starts_with("ssh -L 3000:localhost:3000 ana@10.0.0.9"));
        assert_eq!(
            detect_hosted(env(&[("GITPOD_WORKSPACE_ID", "w")])),
            Some(Hosted::Gitpod)
        );
        assert_eq!(
            detect_hosted(env(&[("REMOTE_CONTAINERS", "true")])),
            Some(Hosted::Devcontainer)
        );
    }

    #[test]
    fn localhost_as_hosts_files_write_it() {
        let usual =
            "127.0.0.1\tlocalhost\n::1 localhost ip6-localhost ip6-loopback\n127.0.1.1 box\n";
        assert_eq!(localhost_in_hosts(usual), HostsLocalhost::Loopback);
        // Windows' default: every line commented (its resolver answers localhost itself).
        let windows = "# Copyright (c) 1993-2009 Microsoft Corp.\n#\n# localhost name resolution is handled within DNS itself.\n#\t127.0.0.1       localhost\n#\t::1             localhost\n";
        assert_eq!(
            localhost_in_hosts(windows),
            HostsLocalhost::Commented { line: 4 }
        );
        let elsewhere = "127.0.0.1 box\n192.168.1.20 localhost # the old VM\n::1 localhost\n";
        assert_eq!(
            localhost_in_hosts(elsewhere),
            HostsLocalhost::Elsewhere {
                ip: "192.168.1.20".into(),
                line: 2
            }
        );
        // Loopback first does not hide a later mapping elsewhere.
        assert_eq!(
            localhost_in_hosts("127.0.0.1 localhost\n10.0.0.5 LOCALHOST\n"),
            HostsLocalhost::Elsewhere {
                ip: "10.0.0.5".into(),
                line: 2
            }
        );
        assert_eq!(
            localhost_in_hosts("127.0.0.1 box\n"),
            HostsLocalhost::Missing
        );
        assert_eq!(localhost_in_hosts(""), HostsLocalhost::Missing);
        // A name that only contains the word is not localhost; a comment
        // that is prose is not a commented-out entry.
        assert_eq!(
            localhost_in_hosts("127.0.0.1 localhost.localdomain\n# localhost lives above\n"),
            HostsLocalhost::Missing
        );
        assert_eq!(
            localhost_in_hosts("127.0.0.2 localhost\n"),
            HostsLocalhost::Loopback
        );
    }

    /// Recorded from an English and a German Windows: only the rows count.
    const NETSH_EN: &str = "
Protocol tcp Port Exclusion Ranges

Start Port    End Port
----------    --------
      5357        5357
     49709       49808
     50000       50059     *

* - Administered port exclusions.
";
    const NETSH_DE: &str = "
Portausschlussbereiche für das Protokoll \"tcp\"

Startport    Endport
----------    --------
      1052        1151
      8000        8099

* - Verwaltete Portausschlüsse.
";

    #[test]
    fn reserved_ranges_from_any_language() {
        let en = parse_excluded_port_ranges(NETSH_EN);
        assert_eq!(en.len(), 3);
        assert!(en[2].administered && !en[1].administered);
        assert_eq!(reserved_range_of(&en, 49750).map(|r| r.start), Some(49709));
        assert_eq!(reserved_range_of(&en, 8000), None);
        let de = parse_excluded_port_ranges(NETSH_DE);
        assert_eq!(
            reserved_range_of(&de, 8000).map(|r| (r.start, r.end)),
            Some((8000, 8099))
        );
    }

    #[test]
    fn wsl_from_proc_version() {
        let wsl2 = "Linux version 5.15.153.1-microsoft-standard-WSL2 (root@941d701f84f1) (gcc (GCC) 11.2.0) #1 SMP";
        assert_eq!(
            detect_wsl(wsl2, Some("Ubuntu"), true),
            Some(Wsl {
                distro: Some("Ubuntu".into()),
                networking: None
            })
        );
        // `sudo doctor`: no WSL_DISTRO_NAME, but the kernel and the interop say WSL.
        assert!(detect_wsl(wsl2, None, true).is_some());
        // A Docker Desktop container runs on WSL's kernel without its interop.
        assert_eq!(detect_wsl(wsl2, None, false), None);
        let native = "Linux version 6.1.0-18-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0)";
        assert_eq!(detect_wsl(native, None, false), None);
        let nat = Wsl {
            distro: None,
            networking: None,
        };
        assert!(nat.is_nat(), "NAT is the default when the mode is unknown");
        let mirrored = Wsl {
            distro: None,
            networking: Some("mirrored".into()),
        };
        assert!(!mirrored.is_nat());
    }

    #[test]
    fn windows_paths_as_users_write_them() {
        assert_eq!(
            as_users_write_it(Path::new(r"\\?\Z:\tmp\shop")),
            PathBuf::from(r"Z:\tmp\shop")
        );
        assert_eq!(
            as_users_write_it(Path::new(r"\\?\UNC\srv\share\x")),
            PathBuf::from(r"\\srv\share\x")
        );
        assert_eq!(
            as_users_write_it(Path::new("/home/me/shop")),
            PathBuf::from("/home/me/shop")
        );
    }
}
