//! Commands as the user will type them, on their platform. POSIX shells
//! chain steps with `&&`; on Windows, PowerShell 5.1 (the shell Windows
//! Terminal and VS Code open by default) rejects `&&` and cmd.exe does not
//! take `;`, so there each step is a line of its own, which every Windows
//! shell runs. Fix plans print every entry whole, on its own line.

/// `cd FOLDER && COMMAND` (one entry), or on Windows `cd FOLDER` and
/// `COMMAND` (two); just the command when the folder is the root (`.`).
pub fn in_folder(folder: &str, command: &str) -> Vec<String> {
    let mut parts: Vec<String> = cd(folder).into_iter().collect();
    parts.push(command.to_string());
    steps(&parts)
}

/// `cd FOLDER`, or nothing for the root.
pub fn cd(folder: &str) -> Option<String> {
    (!folder.is_empty() && folder != ".").then(|| format!("cd {}", native(folder)))
}

/// Steps that must run one after the other, as entries of a plan.
pub fn steps(parts: &[String]) -> Vec<String> {
    if cfg!(windows) {
        parts.to_vec()
    } else {
        vec![parts.join(" && ")]
    }
}

/// The same steps inside a sentence: `cd backend && uvicorn …`, or on
/// Windows `cd backend, then uvicorn …`.
pub fn inline(lines: &[String]) -> String {
    lines.join(if cfg!(windows) { ", then " } else { " && " })
}

/// A relative path as this platform's shell writes it.
pub fn native(path: &str) -> String {
    if cfg!(windows) {
        path.replace('/', "\\")
    } else {
        path.to_string()
    }
}

/// The interpreter inside a project's `.venv`, relative to its folder.
pub fn venv_python() -> &'static str {
    if cfg!(windows) {
        ".venv\\Scripts\\python"
    } else {
        ".venv/bin/python"
    }
}

/// The command that makes a `.venv` with the Python on PATH (`python3` is
/// not what Windows' installers put there).
pub fn new_venv() -> &'static str {
    if cfg!(windows) {
        "python -m venv .venv"
    } else {
        "python3 -m venv .venv"
    }
}

/// The names a Python on PATH goes by, most likely first: Windows'
/// installers put `python` and the `py` launcher there, not `python3`.
pub fn python_names() -> &'static [&'static str] {
    if cfg!(windows) {
        &["python", "py", "python3"]
    } else {
        &["python3", "python"]
    }
}

/// A given Python version, as typed: `python3.12`, or `py -3.12` on Windows.
pub fn python_version(version: &str) -> String {
    if cfg!(windows) {
        format!("py -{version}")
    } else {
        format!("python{version}")
    }
}

/// One argument as a shell takes it: quoted when it holds a character the
/// shell would read (`fastapi>=0.115` is a redirection unquoted). Double
/// quotes, which POSIX shells, PowerShell and cmd all read.
pub fn quote_arg(arg: &str) -> String {
    let plain = arg
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.=/:@+,".contains(c));
    if plain && !arg.is_empty() {
        arg.to_string()
    } else {
        format!("\"{}\"", arg.replace('"', "\\\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_as_this_platforms_shell_takes_them() {
        let lines = in_folder("backend/api", "npm install");
        if cfg!(windows) {
            assert_eq!(lines, ["cd backend\\api", "npm install"]);
        } else {
            assert_eq!(lines, ["cd backend/api && npm install"]);
            assert_eq!(inline(&lines), "cd backend/api && npm install");
        }
        assert_eq!(in_folder(".", "npm run dev"), ["npm run dev"]);
    }
}
