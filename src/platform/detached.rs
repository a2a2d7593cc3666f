//! Starting a server so that it outlives doctor and its terminal (the
//! seeds' servers died with the terminal that started them): its own
//! session on Unix (no controlling terminal, no SIGHUP when the terminal
//! closes), a detached process group on Windows; stdin from nowhere and its
//! output to a log file, never to a pipe nobody reads.

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};

/// Run `command` through the platform's shell in `cwd`, detached, with
/// `path_first` put in front of PATH (a venv's `bin`), stdout and stderr
/// appended to `log`. Returns its pid.
pub fn spawn_detached(
    command: &str,
    cwd: &Path,
    path_first: Option<&Path>,
    log: &Path,
) -> std::io::Result<u32> {
    let out = File::options().create(true).append(true).open(log)?;
    let err = out.try_clone()?;
    let mut cmd = shell(command);
    cmd.current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err));
    if let Some(first) = path_first {
        let mut paths = vec![first.to_path_buf()];
        if let Some(old) = std::env::var_os("PATH") {
            paths.extend(std::env::split_paths(&old));
        }
        if let Ok(joined) = std::env::join_paths(paths) {
            cmd.env("PATH", joined);
        }
        if let Some(venv) = first.parent() {
            cmd.env("VIRTUAL_ENV", venv);
        }
    }
    detach(&mut cmd);
    let child = cmd.spawn()?;
    Ok(child.id())
}

/// Run `argv` itself (no shell) in `cwd`, detached, with exactly `env` when
/// given (the environment the process it replaces ran with), its output
/// appended to `log`. Returns its pid.
pub fn spawn_detached_argv(
    argv: &[String],
    cwd: &Path,
    env: Option<&[(std::ffi::OsString, std::ffi::OsString)]>,
    log: &Path,
) -> std::io::Result<u32> {
    let (program, args) = argv.split_first().ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty command line")
    })?;
    let out = File::options().create(true).append(true).open(log)?;
    let err = out.try_clone()?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err));
    if let Some(env) = env {
        cmd.env_clear();
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
    }
    detach(&mut cmd);
    Ok(cmd.spawn()?.id())
}

/// The environment a process runs with, when the OS lets doctor read it.
pub fn environment_of(pid: u32) -> Option<Vec<(std::ffi::OsString, std::ffi::OsString)>> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::ffi::OsStrExt;
        let bytes = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
        Some(
            bytes
                .split(|b| *b == 0)
                .filter_map(|kv| {
                    let i = kv.iter().position(|b| *b == b'=')?;
                    Some((
                        std::ffi::OsStr::from_bytes(&kv[..i]).to_os_string(),
                        std::ffi::OsStr::from_bytes(&kv[i + 1..]).to_os_string(),
                    ))
                })
                .collect(),
        )
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        None
    }
}

#[cfg(unix)]
fn shell(command: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(command);
    cmd
}

#[cfg(windows)]
fn shell(command: &str) -> Command {
    let mut cmd = Command::new("cmd");
    cmd.arg("/C").arg(command);
    cmd
}

#[cfg(unix)]
fn detach(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setsid(2) is async-signal-safe; it runs in the child between
    // fork and exec and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(windows)]
fn detach(cmd: &mut Command) {
    use std::os::windows::process::CommandExt;
    const DETACHED_PROCESS: u32 = 0x0000_0008;
    const CREATE_NEW_PROCESS_GROUP: u32 = 0x0000_0200;
    cmd.creation_flags(DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP);
}

#[cfg(not(any(unix, windows)))]
fn detach(_cmd: &mut Command) {}
