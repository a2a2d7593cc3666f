//! Where a process's output goes, and whether anything is still at the other
//! end: a server whose stdout/stderr is a pipe no process reads dies of
//! SIGPIPE (or EPIPE) at its next log line; one on a terminal that hung up
//! gets EIO or SIGHUP. Linux reads `/proc/PID/fd/{1,2}` and the fd tables
//! of every process it may look into; elsewhere nothing is known.

/// An output of a process with nothing left at its other end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeadOutput {
    /// `fd` (1 or 2) is the write end of pipe `inode`, and no process doctor
    /// can read holds its read end. `unreadable`: processes doctor could not
    /// look into (another user's), one of which could be the reader.
    Pipe {
        fd: u8,
        inode: u64,
        unreadable: usize,
    },
    /// `fd` is a terminal that is gone (its node deleted or removed) or whose
    /// session leader has exited.
    Terminal { fd: u8, path: String, why: String },
}

impl DeadOutput {
    pub fn fd_name(&self) -> &'static str {
        match self {
            DeadOutput::Pipe { fd: 1, .. } | DeadOutput::Terminal { fd: 1, .. } => "stdout",
            _ => "stderr",
        }
    }
}

/// What one `readlink /proc/PID/fd/N` names, as far as output goes.
/// (The parsers are Linux's: elsewhere only their unit tests use them.)
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputLink {
    Pipe(u64),
    Terminal { path: String, deleted: bool },
    Other,
}

/// `pipe:[12345]` → a pipe; `/dev/pts/3` (or `/dev/pts/3 (deleted)`) → a
/// terminal; anything else (a file, a socket, /dev/null) is no concern.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub fn parse_output_link(link: &str) -> OutputLink {
    if let Some(n) = link
        .strip_prefix("pipe:[")
        .and_then(|r| r.strip_suffix(']'))
    {
        return n.parse().map_or(OutputLink::Other, OutputLink::Pipe);
    }
    let (path, deleted) = match link.strip_suffix(" (deleted)") {
        Some(p) => (p, true),
        None => (link, false),
    };
    if path.starts_with("/dev/pts/") || (path.starts_with("/dev/tty") && path.len() > 8) {
        return OutputLink::Terminal {
            path: path.to_string(),
            deleted,
        };
    }
    OutputLink::Other
}

/// `flags:\t0100001` from `/proc/PID/fdinfo/N`: whether the fd can read
/// (O_RDONLY or O_RDWR; a pipe's write end is O_WRONLY).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub fn fdinfo_reads(fdinfo: &str) -> bool {
    fdinfo
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
        .is_some_and(|flags| flags & 0o3 != 0o1)
}

/// The first of `pid`'s stdout/stderr that leads nowhere.
pub fn dead_output(pid: u32) -> Option<DeadOutput> {
    #[cfg(target_os = "linux")]
    {
        linux::dead_output(pid)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        None
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use super::*;

    fn link(pid: u32, fd: &str) -> Option<String> {
        std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
            .ok()
            .map(|l| l.to_string_lossy().into_owned())
    }

    /// Whether a process other than `writer` holds pipe `inode` open for
    /// reading; and how many processes could not be looked into.
    fn pipe_readers(writer: u32, inode: u64) -> (bool, usize) {
        let want = format!("pipe:[{inode}]");
        let mut unreadable = 0;
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return (true, 0); // nothing can be said: assume a reader
        };
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
                unreadable += 1;
                continue;
            };
            for fd in fds.flatten() {
                let Ok(target) = std::fs::read_link(fd.path()) else {
                    continue;
                };
                if target.as_os_str() != want.as_str() {
                    continue;
                }
                let name = fd.file_name();
                let info = std::fs::read_to_string(format!(
                    "/proc/{pid}/fdinfo/{}",
                    name.to_string_lossy()
                ))
                .unwrap_or_default();
                // The writer's own read end (a pipe it made itself) counts:
                // it may read its own pipe.
                if fdinfo_reads(&info) || (info.is_empty() && pid != writer) {
                    return (true, unreadable);
                }
            }
        }
        (false, unreadable)
    }

    fn session_of(pid: u32) -> Option<u32> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let rest = &stat[stat.rfind(')')? + 2..];
        // state ppid pgrp session
        rest.split_whitespace().nth(3)?.parse().ok()
    }

    pub fn dead_output(pid: u32) -> Option<DeadOutput> {
        for fd in [1u8, 2] {
            let Some(target) = link(pid, &fd.to_string()) else {
                continue;
            };
            match parse_output_link(&target) {
                OutputLink::Pipe(inode) => {
                    let (read, unreadable) = pipe_readers(pid, inode);
                    if !read {
                        return Some(DeadOutput::Pipe {
                            fd,
                            inode,
                            unreadable,
                        });
                    }
                }
                OutputLink::Terminal { path, deleted } => {
                    let why = if deleted || !std::path::Path::new(&path).exists() {
                        Some(format!("{path} is gone (its terminal closed)"))
                    } else {
                        session_of(pid).filter(|s| *s != 0).and_then(|sid| {
                            (!std::path::Path::new(&format!("/proc/{sid}")).exists()).then(|| {
                                format!("its session leader (pid {sid}, the terminal's shell) has exited")
                            })
                        })
                    };
                    if let Some(why) = why {
                        return Some(DeadOutput::Terminal { fd, path, why });
                    }
                }
                OutputLink::Other => {}
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_links_as_proc_shows_them() {
        assert_eq!(parse_output_link("pipe:[482113]"), OutputLink::Pipe(482113));
        assert_eq!(
            parse_output_link("/dev/pts/3"),
            OutputLink::Terminal {
                path: "/dev/pts/3".into(),
                deleted: false
            }
        );
        assert_eq!(
            parse_output_link("/dev/pts/7 (deleted)"),
            OutputLink::Terminal {
                path: "/dev/pts/7".into(),
                deleted: true
            }
        );
        assert_eq!(parse_output_link("/dev/null"), OutputLink::Other);
        assert_eq!(parse_output_link("/dev/tty"), OutputLink::Other);
        assert_eq!(parse_output_link("socket:[99]"), OutputLink::Other);
        assert_eq!(parse_output_link("/home/me/app.log"), OutputLink::Other);
        assert_eq!(parse_output_link("pipe:[x]"), OutputLink::Other);
    }

    #[test]
    fn which_end_of_a_pipe_reads() {
        // Recorded /proc/PID/fdinfo of a pipe's read end and its write end.
        let read_end = "pos:\t0\nflags:\t02000000\nmnt_id:\t15\nino:\t482113\n";
        let write_end = "pos:\t0\nflags:\t01\nmnt_id:\t15\nino:\t482113\n";
        let rdwr = "pos:\t0\nflags:\t0100002\n";
        assert!(fdinfo_reads(read_end));
        assert!(!fdinfo_reads(write_end));
        assert!(fdinfo_reads(rdwr));
        assert!(!fdinfo_reads(""));
    }
}
