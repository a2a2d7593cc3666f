//! Python launchers (`start.py`, `run_dev.py`, `start_all.py`), parsed by a
//! real Python parser (`rustpython-parser`; the launcher is never run):
//! every `subprocess.Popen/run/call/check_call([...], cwd=...)`,
//! `asyncio.create_subprocess_exec(...)`, `os.system("...")` and
//! `uvicorn.run("module:app", port=…)` call, anywhere in the file, with the
//! values of its list, `cwd=` and `env=` folded from what the script
//! assigns before: string and number constants, f-strings, `__file__`,
//! `os.path.join/dirname/abspath`, `Path(...)`, `.parent`, `/`, `sys.executable`,
//! `os.environ.get(KEY, default)`, `A if COND else B` (the `else`, the
//! POSIX branch of the usual `"npm.cmd" if os.name == "nt" else "npm"`).
//! A value doctor cannot fold makes the call unread, never a guess.

use std::collections::HashMap;
use std::path::Path;

use rustpython_ast::{self as ast, Visitor};

use super::{normalize, Dialect, Launch, Script, State};

/// A folded value.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    /// A string or path; `true` when built from `__file__`.
    Str(String, bool),
    /// `sys.executable`: the Python running the launcher.
    Exe,
    List(Vec<Val>),
    /// A dict's string keys and values (`env={**os.environ, "PORT": "8001"}`).
    Dict(Vec<(String, Val)>),
    Unknown,
}

struct Reader<'a> {
    text: &'a str,
    state: State<'a>,
    vars: HashMap<String, Val>,
    /// Names imported from subprocess (`from subprocess import Popen`).
    from_subprocess: Vec<String>,
    /// `from app.main import app`: the module each imported name comes from.
    imported: HashMap<String, String>,
    launches: Vec<Launch>,
    /// Every launch runs in a folder built from `__file__`.
    all_anchored: bool,
}

pub(super) fn read(path: &Path, text: &str, root: &Path) -> Script {
    let mut reader = Reader {
        text,
        state: State::new(path, root, Dialect::Python),
        vars: HashMap::new(),
        from_subprocess: Vec::new(),
        imported: HashMap::new(),
        launches: Vec::new(),
        all_anchored: true,
    };
    // A file Python cannot parse is no launcher doctor can read.
    if let Ok(ast::Mod::Module(module)) =
        rustpython_parser::parse(text, rustpython_parser::Mode::Module, "<launcher>")
    {
        for stmt in module.body {
            reader.visit_stmt(stmt);
        }
    }
    let anchored = reader.all_anchored && !reader.launches.is_empty();
    let state = reader.state;
    Script {
        path: path.to_path_buf(),
        dialect: Dialect::Python,
        launches: reader.launches,
        anchored,
        runs_from: state.runs_from,
    }
}

/// `os.path.join` → `Some("os.path.join")`.
fn dotted(expr: &ast::Expr) -> Option<String> {
    match expr {
        ast::Expr::Name(n) => Some(n.id.to_string()),
        ast::Expr::Attribute(a) => Some(format!("{}.{}", dotted(&a.value)?, a.attr)),
        _ => None,
    }
}

fn join(base: &Val, part: &Val) -> Val {
    match (base, part) {
        (Val::Str(a, x), Val::Str(b, y)) => {
            let joined = Path::new(a).join(b);
            Val::Str(joined.to_string_lossy().into_owned(), *x || *y)
        }
        _ => Val::Unknown,
    }
}

fn parent(v: &Val) -> Val {
    match v {
        Val::Str(s, a) => {
            let p = normalize(Path::new(s));
            match p.parent() {
                Some(parent) => Val::Str(parent.to_string_lossy().into_owned(), *a),
                None => Val::Unknown,
            }
        }
        _ => Val::Unknown,
    }
}

impl Reader<'_> {
    fn line(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())]
            .matches('\n')
            .count()
            + 1
    }

    fn eval(&self, expr: &ast::Expr) -> Val {
        match expr {
            ast::Expr::Constant(c) => match &c.value {
                ast::Constant::Str(s) => Val::Str(s.clone(), false),
                ast::Constant::Int(i) => Val::Str(i.to_string(), false),
                _ => Val::Unknown,
            },
            ast::Expr::Name(n) => match n.id.as_str() {
                "__file__" => Val::Str(self.state.script.to_string_lossy().into_owned(), true),
                id => self.vars.get(id).cloned().unwrap_or(Val::Unknown),
            },
            ast::Expr::Attribute(a) => {
                if dotted(expr).as_deref() == Some("sys.executable") {
                    return Val::Exe;
                }
                match a.attr.as_str() {
                    "parent" => parent(&self.eval(&a.value)),
                    _ => Val::Unknown,
                }
            }
            ast::Expr::Call(call) => self.eval_call(call),
            ast::Expr::BinOp(b) => {
                let (l, r) = (self.eval(&b.left), self.eval(&b.right));
                match (b.op, &l, &r) {
                    (ast::Operator::Div, Val::Str(..), Val::Str(..)) => join(&l, &r),
                    (ast::Operator::Add, Val::Str(x, a), Val::Str(y, b)) => {
                        Val::Str(format!("{x}{y}"), *a || *b)
                    }
                    (ast::Operator::Add, Val::List(x), Val::List(y)) => {
                        Val::List(x.iter().chain(y).cloned().collect())
                    }
                    _ => Val::Unknown,
                }
            }
            ast::Expr::List(l) => self.eval_list(&l.elts),
            ast::Expr::Tuple(t) => self.eval_list(&t.elts),
            ast::Expr::JoinedStr(j) => {
                let mut out = String::new();
                let mut anchored = false;
                for part in &j.values {
                    let v = match part {
                        ast::Expr::FormattedValue(f) => self.eval(&f.value),
                        other => self.eval(other),
                    };
                    match v {
                        Val::Str(s, a) => {
                            out.push_str(&s);
                            anchored |= a;
                        }
                        _ => return Val::Unknown,
                    }
                }
                Val::Str(out, anchored)
            }
            ast::Expr::IfExp(i) => match self.eval(&i.orelse) {
                Val::Unknown => self.eval(&i.body),
                v => v,
            },
            ast::Expr::BoolOp(b) => b
                .values
                .iter()
                .map(|v| self.eval(v))
                .find(|v| *v != Val::Unknown)
                .unwrap_or(Val::Unknown),
            ast::Expr::Dict(d) => {
                let mut items = Vec::new();
                for (k, v) in d.keys.iter().zip(&d.values) {
                    match k.as_ref().map(|k| self.eval(k)) {
                        Some(Val::Str(key, _)) => items.push((key, self.eval(v))),
                        // `**os.environ`, `**extra`: what they hold is not the script's.
                        _ => {
                            if let Val::Dict(more) = self.eval(v) {
                                items.extend(more);
                            }
                        }
                    }
                }
                Val::Dict(items)
            }
            _ => Val::Unknown,
        }
    }

    fn eval_list(&self, elts: &[ast::Expr]) -> Val {
        let mut out = Vec::new();
        for e in elts {
            match e {
                ast::Expr::Starred(s) => match self.eval(&s.value) {
                    Val::List(items) => out.extend(items),
                    _ => return Val::Unknown,
                },
                e => out.push(self.eval(e)),
            }
        }
        Val::List(out)
    }

    fn eval_call(&self, call: &ast::ExprCall) -> Val {
        let arg = |i: usize| call.args.get(i).map_or(Val::Unknown, |a| self.eval(a));
        let name = dotted(&call.func).unwrap_or_default();
        match name.as_str() {
            "os.path.join" => {
                let mut v = arg(0);
                for a in call.args.iter().skip(1) {
                    v = join(&v, &self.eval(a));
                }
                return v;
            }
            "os.path.dirname" => return parent(&arg(0)),
            "os.path.abspath" | "os.path.realpath" | "os.path.normpath" | "os.fspath" | "str"
            | "int" | "Path" | "pathlib.Path" | "PurePath" | "shutil.which" => {
                return match arg(0) {
                    // `Path()` is the folder the launcher runs in.
                    Val::Unknown if call.args.is_empty() && name.ends_with("Path") => {
                        Val::Str(".".into(), false)
                    }
                    v => v,
                };
            }
            "os.getcwd" | "Path.cwd" | "pathlib.Path.cwd" => return Val::Str(".".into(), false),
            "os.environ.get" | "os.getenv" => return arg(1),
            "dict" => {
                let mut items = Vec::new();
                for k in &call.keywords {
                    if let Some(key) = &k.arg {
                        items.push((key.to_string(), self.eval(&k.value)));
                    }
                }
                return Val::Dict(items);
            }
            _ => {}
        }
        // Methods of a folded value: `.resolve()`, `.joinpath(x)`, `"a b".split()`.
        if let ast::Expr::Attribute(a) = call.func.as_ref() {
            let base = self.eval(&a.value);
            return match (a.attr.as_str(), &base) {
                ("resolve" | "absolute" | "expanduser", Val::Str(..)) => base,
                ("joinpath", Val::Str(..)) => join(&base, &arg(0)),
                ("split", Val::Str(s, _)) if call.args.is_empty() => Val::List(
                    s.split_whitespace()
                        .map(|w| Val::Str(w.to_string(), false))
                        .collect(),
                ),
                _ => Val::Unknown,
            };
        }
        Val::Unknown
    }

    fn keyword(&self, call: &ast::ExprCall, name: &str) -> Option<Val> {
        call.keywords
            .iter()
            .find(|k| k.arg.as_ref().is_some_and(|a| a.as_str() == name))
            .map(|k| self.eval(&k.value))
    }

    /// A call that starts a process, with the folder and env it gets.
    fn call(&mut self, call: &ast::ExprCall) {
        let Some(name) = dotted(&call.func) else {
            return;
        };
        let line = self.line(call.range.start().to_usize());
        let last = name.rsplit('.').next().unwrap_or(&name);
        let subprocess = (name.starts_with("subprocess.") || self.from_subprocess.contains(&name))
            && matches!(
                last,
                "Popen" | "run" | "call" | "check_call" | "check_output"
            );
        let command: Val = if subprocess {
            match call.args.first() {
                Some(a) => self.eval(a),
                None => self.keyword(call, "args").unwrap_or(Val::Unknown),
            }
        } else if name == "asyncio.create_subprocess_exec" {
            self.eval_list(&call.args)
        } else if matches!(
            name.as_str(),
            "os.system" | "asyncio.create_subprocess_shell"
        ) {
            call.args.first().map_or(Val::Unknown, |a| self.eval(a))
        } else if name == "uvicorn.run" {
            self.uvicorn_run(call, line);
            return;
        } else {
            return;
        };
        // The folder: `cwd=`, else where the launcher runs.
        let mut st = self.state.clone();
        match self.keyword(call, "cwd") {
            Some(Val::Str(dir, anchored)) => {
                st.anchor_seen = anchored;
                st.cd(&dir);
                self.all_anchored &= anchored;
                if st.runs_from != self.state.runs_from {
                    self.state.runs_from = st.runs_from.clone();
                }
            }
            Some(_) => return, // a folder doctor cannot fold
            None => self.all_anchored = false,
        }
        if let Some(Val::Dict(env)) = self.keyword(call, "env") {
            if let Some((_, Val::Str(p, _))) = env.iter().find(|(k, _)| k == "PORT") {
                st.set("PORT", p, line);
            }
        }
        match command {
            Val::List(items) => {
                let mut words = Vec::new();
                let mut own_python = false;
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Val::Str(s, _) => words.push(s.clone()),
                        Val::Exe if i == 0 => {
                            own_python = true;
                            words.push("python".into());
                        }
                        _ => return,
                    }
                }
                let before = self.launches.len();
                st.launch(line, words, &mut self.launches);
                if let Some(l) = self.launches.get_mut(before) {
                    l.own_python = own_python;
                }
            }
            // A command line for a shell (`shell=True`, `os.system`).
            Val::Str(cmd, _) => super::shell_line(&mut st, &cmd, line, &mut self.launches),
            _ => {}
        }
    }

    /// `uvicorn.run("app.main:app", port=8001, reload=True)` (or an app
    /// imported by name): the launcher serves the app itself, imported from
    /// its own folder (Python puts the script's folder first on sys.path).
    fn uvicorn_run(&mut self, call: &ast::ExprCall, line: usize) {
        let app = match call.args.first() {
            Some(ast::Expr::Name(n)) => match self.imported.get(n.id.as_str()) {
                Some(module) => format!("{module}:{}", n.id),
                None => return, // the app is this file: read as an app elsewhere
            },
            Some(a) => match self.eval(a) {
                Val::Str(s, _) => s,
                _ => return,
            },
            None => return,
        };
        let mut words: Vec<String> = ["python", "-m", "uvicorn", &app]
            .iter()
            .map(|s| s.to_string())
            .collect();
        if let Some(Val::Str(port, _)) = self.keyword(call, "port") {
            words.extend(["--port".to_string(), port]);
        }
        let reload = call.keywords.iter().any(|k| {
            k.arg.as_ref().is_some_and(|a| a.as_str() == "reload")
                && matches!(&k.value, ast::Expr::Constant(c) if c.value == ast::Constant::Bool(true))
        });
        if reload {
            words.push("--reload".into());
        }
        let mut st = self.state.clone();
        st.dir = Some(self.state.script_dir());
        let before = self.launches.len();
        st.launch(line, words, &mut self.launches);
        if let Some(l) = self.launches.get_mut(before) {
            l.own_python = true;
        }
    }

    fn assign(&mut self, target: &ast::Expr, value: Val) {
        if let ast::Expr::Name(n) = target {
            self.vars.insert(n.id.to_string(), value);
        }
    }
}

impl Visitor for Reader<'_> {
    fn visit_stmt_assign(&mut self, node: ast::StmtAssign) {
        let v = self.eval(&node.value);
        for t in &node.targets {
            self.assign(t, v.clone());
        }
        self.generic_visit_stmt_assign(node);
    }

    fn visit_stmt_ann_assign(&mut self, node: ast::StmtAnnAssign) {
        if let Some(value) = &node.value {
            let v = self.eval(value);
            self.assign(&node.target, v);
        }
        self.generic_visit_stmt_ann_assign(node);
    }

    fn visit_stmt_import_from(&mut self, node: ast::StmtImportFrom) {
        let module = node
            .module
            .as_ref()
            .map(|m| m.to_string())
            .unwrap_or_default();
        for alias in &node.names {
            let local = alias.asname.as_ref().unwrap_or(&alias.name).to_string();
            if module == "subprocess" {
                self.from_subprocess.push(local);
            } else if !module.is_empty() && node.level.is_none_or(|l| l.to_u32() == 0) {
                self.imported.insert(local, module.clone());
            }
        }
    }

    fn visit_expr_call(&mut self, node: ast::ExprCall) {
        self.call(&node);
        self.generic_visit_expr_call(node);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_at(name: &str, text: &str) -> Script {
        read(&Path::new("/p").join(name), text, Path::new("/p"))
    }

    fn summary(s: &Script) -> Vec<(usize, String, String, bool)> {
        s.launches
            .iter()
            .map(|l| {
                (
                    l.line,
                    l.dir.to_string_lossy().into_owned(),
                    l.words.join(" "),
                    l.own_python,
                )
            })
            .collect()
    }

    #[test]
    fn popen_with_folded_folders() {
        let s = read_at(
            "start.py",
            r#"#!/usr/bin/env python3
"""Start the backend and the frontend."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = os.path.dirname(os.path.abspath(__file__))
BACKEND_DIR = os.path.join(ROOT, "backend")
FRONTEND_DIR = Path(__file__).resolve().parent / "frontend"
NPM = "npm.cmd" if os.name == "nt" else "npm"
API_PORT = 8001


def main():
    procs = []
    procs.append(subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "main:app",
         "--port", str(API_PORT), "--reload"],
        cwd=BACKEND_DIR,
    ))
    # subprocess.Popen(["python", "old.py"])
    procs.append(subprocess.Popen([NPM, "run", "dev"], cwd=FRONTEND_DIR))
    for p in procs:
        p.wait()


if __name__ == "__main__":
    main()
"#,
        );
        assert_eq!(
            summary(&s),
            [
                (
                    17,
                    "/p/backend".into(),
                    "python -m uvicorn main:app --port 8001 --reload".into(),
                    true
                ),
                (23, "/p/frontend".into(), "npm run dev".into(), false)
            ]
        );
        assert!(s.anchored);
    }

    #[test]
    fn run_lists_shell_strings_and_env() {
        let s = read_at(
            "scripts/run_dev.py",
            r#"from subprocess import Popen, run
import os
cmd = ["uvicorn", "app.main:app", "--host", "127.0.0.1", f"--port={os.environ.get('API_PORT', '8002')}"]
Popen(cmd, cwd="backend")
run("cd frontend && npm start", shell=True, env={**os.environ, "PORT": "3001"})
"#,
        );
        let got = summary(&s);
        // `backend` exists only from the root (where the user runs it): the
        // fake root has neither, so it is read from the script's folder.
        assert_eq!(
            got[0],
            (
                4,
                "/p/scripts/backend".into(),
                "uvicorn app.main:app --host 127.0.0.1 --port=8002".into(),
                false
            )
        );
        assert_eq!(got[1].1, "/p/scripts/frontend");
        assert_eq!(s.launches[1].env_port, Some((3001, 5)));
        assert!(!s.anchored);
    }

    #[test]
    fn uvicorn_run_and_unreadable_values() {
        let s = read_at(
            "run.py",
            r#"import uvicorn
from backend.app.main import app

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=8003, reload=True)
"#,
        );
        assert_eq!(
            summary(&s),
            [(
                5,
                "/p".into(),
                "python -m uvicorn backend.app.main:app --port 8003 --reload".into(),
                true
            )]
        );
        // A folder from a config doctor does not read: no launch, no guess.
        let s = read_at(
            "start.py",
            "import subprocess, json\ncfg = json.load(open('c.json'))\nsubprocess.Popen(['uvicorn', 'main:app'], cwd=cfg['dir'])\n",
        );
        assert!(s.launches.is_empty());
        // Not Python at all.
        assert!(read_at("start.py", "@echo off\nnpm run dev\n")
            .launches
            .is_empty());
    }

    #[test]
    fn launcher_in_scripts_run_from_the_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("backend")).unwrap();
        std::fs::create_dir_all(dir.path().join("scripts")).unwrap();
        let path = dir.path().join("scripts/start.py");
        let s = read(
            &path,
            "import subprocess\nsubprocess.run(['python', 'main.py'], cwd='backend')\n",
            dir.path(),
        );
        assert_eq!(s.launches[0].dir, dir.path().join("backend"));
        assert_eq!(s.runs_from, dir.path());
    }
}
