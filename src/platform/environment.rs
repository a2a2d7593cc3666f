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

#[cfg(test)]
mod tests {
    use super::*;

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
