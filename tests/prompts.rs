//! `doctor --fix` at a real terminal (issue #10): tmux runs it, the test
//! types `n`, `y` and Ctrl-C and reads the screen and the cursor state.
//! tmux comes from Debian's packages (scripts/test.sh installs it).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

/// A tmux server of this test's own (its own socket), ended when dropped.
struct Tmux {
    socket: String,
    /// Each pane's shell with its start time (a pid is reused once it exits).
    pane_pids: Vec<(u32, Option<u64>)>,
}

impl Tmux {
    fn new(name: &str) -> Tmux {
        Tmux {
            socket: format!("doctor-test-{}-{name}", std::process::id()),
            pane_pids: Vec::new(),
        }
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Start `command` in a new 100×40 session; returns the pane's pid.
    fn start(&mut self, command: &str) {
        self.run(&[
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            "100",
            "-y",
            "40",
            command,
        ]);
        let pid: u32 = self
            .run(&["display", "-p", "-t", "t", "#{pane_pid}"])
            .trim()
            .parse()
            .expect("a pane pid");
        self.pane_pids.push((pid, start_ticks(pid)));
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-J", "-t", "t", "-S", "-200"])
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// Readiness: poll the screen until `what` shows (10 s at most).
    fn until(&self, what: &str) -> String {
        self.until_count(what, 1)
    }

    /// Readiness: poll until `what` shows `n` times.
    fn until_count(&self, what: &str, n: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let screen = self.screen();
            if screen.matches(what).count() >= n {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "never showed {what:?}:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        for &(pid, started) in &self.pane_pids {
            if started.is_none() || start_ticks(pid) != started {
                continue;
            }
            // SAFETY: kill(2) on the shell this test started in its pane, still that one.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
        self.run(&["kill-server"]);
    }
}

fn stale_pid_files(dir: &Path) {
    // Pids that are gone: a child that has exited and been reaped.
    for name in ["api", "worker"] {
        let mut child = Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        std::fs::create_dir_all(dir.join(".pids")).unwrap();
        std::fs::write(dir.join(format!(".pids/{name}.pid")), pid.to_string()).unwrap();
    }
}

fn tmux_available() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn fix_prompts_answer_n_then_y() {
    if !tmux_available() {
        panic!("tmux is needed (scripts/test.sh installs it)");
    }
    let dir = tempfile::tempdir().unwrap();
    stale_pid_files(dir.path());
    let mut tmux = Tmux::new("ny");
    tmux.start(&format!(
        "{DOCTOR} --dir {} --fix; echo EXITED-$?; sleep 60",
        dir.path().display()
    ));
    let first = tmux.until("[y/N/a/q]");
    assert!(first.contains("[1/2] PROC006"), "{first}");
    tmux.keys(&["n", "Enter"]);
    tmux.until("[2/2] PROC006");
    tmux.until_count("[y/N/a/q]", 2);
    tmux.keys(&["y", "Enter"]);
    let end = tmux.until("EXITED-");
    assert!(end.contains("re-check: PROC006 is gone"), "{end}");
    let renamed = ["api", "worker"]
        .iter()
        .filter(|n| {
            dir.path()
                .join(format!(".doctor/backups/.pids/{n}.pid"))
                .exists()
        })
        .count();
    assert_eq!(renamed, 1, "one fix declined, one applied:\n{end}");
}

#[test]
fn ctrl_c_at_the_prompt_leaves_the_terminal_as_it_was() {
    if !tmux_available() {
        panic!("tmux is needed (scripts/test.sh installs it)");
    }
    let dir = tempfile::tempdir().unwrap();
    stale_pid_files(dir.path());
    let mut tmux = Tmux::new("cc");
    // An interactive shell, as a user has: Ctrl-C ends doctor, not the shell.
    // A prompt of its own, to tell when the shell is back and reading.
    tmux.start("env PS1='PROMPT> ' bash --norc --noprofile -i");
    tmux.keys(&[
        &format!("{DOCTOR} --dir {} --fix", dir.path().display()),
        "Enter",
    ]);
    tmux.until("[y/N/a/q]");
    tmux.keys(&["C-c"]);
    // Back at the shell: ask it how doctor ended (quoted so that the typed
    // line itself does not read "EXITED-").
    // ^C shows when the terminal echoes it, before doctor has exited; keys
    // typed then are flushed with the interrupted input. Wait for the
    // shell's second prompt.
    tmux.until("^C");
    tmux.until_count("PROMPT> ", 2);
    tmux.keys(&["echo EXIT\"ED-\"$?", "Enter"]);
    let end = tmux.until("EXITED-1");
    assert!(end.contains("EXITED-130"), "{end}");
    // The cursor is visible: nothing hid it and left it hidden.
    assert_eq!(
        tmux.run(&["display", "-p", "-t", "t", "#{cursor_flag}"])
            .trim(),
        "1"
    );
    assert!(
        dir.path().join(".pids/api.pid").exists() && dir.path().join(".pids/worker.pid").exists()
    );
}

/// Ctrl-C while doctor waits out the grace period after SIGTERM: it says
/// what state it left (SIGTERM sent, the process still running, no SIGKILL)
/// and stops offering fixes.
#[test]
fn ctrl_c_during_the_grace_period_says_what_it_left() {
    if !tmux_available() {
        panic!("tmux is needed (scripts/test.sh installs it)");
    }
    let port = free_port();
    let dir = project(&[(".env", &format!("API_URL=http://127.0.0.1:{port}\n"))]);
    let elsewhere = tempfile::tempdir().unwrap();
    let marker = elsewhere.path().join("got-sigterm");
    // A stranger on the port that notes SIGTERM and keeps running.
    let script = format!(
        "import signal, socket, time\n\
         signal.signal(signal.SIGTERM, lambda *a: open({marker:?}, 'w').close())\n\
         s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         s.bind(('127.0.0.1', {port})); s.listen(8)\n\
         print('ready', flush=True)\n\
         while True: time.sleep(1)\n"
    );
    let mut procs = Procs::new();
    let (holder, _) = procs.python(elsewhere.path(), &script, &[]);
    let mut tmux = Tmux::new("grace");
    // A prompt of its own, to tell when the shell is back and reading.
    tmux.start("env PS1='PROMPT> ' bash --norc --noprofile -i");
    tmux.keys(&[
        &format!(
            "{DOCTOR} --dir {} --fix --grace 30s --only ports",
            dir.path().display()
        ),
        "Enter",
    ]);
    tmux.until("[y/N/a/q]");
    tmux.keys(&["y", "Enter"]);
    eventually("the holder got SIGTERM", || marker.exists());
    tmux.keys(&["C-c"]);
    let screen = tmux.until("no SIGKILL was sent");
    assert!(
        screen.contains(&format!("still running: pid {holder}")),
        "{screen}"
    );
    assert!(is_alive(holder), "the holder was not killed");
}
