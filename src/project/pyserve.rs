//! A Python file that serves itself: `uvicorn.run(app, port=8001)`,
//! `app.run(host="0.0.0.0", port=5001, debug=True)`, read with a real
//! Python parser (`rustpython-parser`; the file is never run). The call may
//! span lines, sit under `if __name__ == "__main__":`, and take its port
//! from a constant or the environment with a default
//! (`int(os.environ.get("PORT", 8001))`). A file Python cannot parse is
//! read by the old line scan, and the caller says which reader it was.

use rustpython_ast::{self as ast, Visitor};

/// The `.run(...)` call that starts the server.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunCall {
    pub port: Option<u16>,
    pub host: Option<String>,
    /// `reload=True`, `debug=True`, `use_reloader=True`.
    pub reloads: bool,
    /// 1-based line of the call.
    pub line: usize,
}

/// Which reader found it: `parser`, or `text scan` when the file does not parse.
pub const PARSER: &str = "parser";
pub const TEXT_SCAN: &str = "text scan";

/// Files larger than this are not parsed (the read limit is 1 MiB; a
/// server's entry file is far smaller).
const MAX_PARSED: usize = 256 * 1024;

pub fn run_call(text: &str) -> Option<(RunCall, &'static str)> {
    if text.len() <= MAX_PARSED && !too_deep(text) {
        if let Ok(ast::Mod::Module(module)) =
            rustpython_parser::parse(text, rustpython_parser::Mode::Module, "<server>")
        {
            let mut reader = Reader {
                text,
                constants: Vec::new(),
                found: None,
            };
            for stmt in module.body {
                reader.visit_stmt(stmt);
            }
            return reader.found.map(|c| (c, PARSER));
        }
    }
    text_scan(text).map(|c| (c, TEXT_SCAN))
}

/// Brackets nested deeper than any real server file: not parsed, so a
/// pathological file cannot exhaust the parser's stack.
fn too_deep(text: &str) -> bool {
    let mut depth = 0i32;
    for c in text.chars() {
        match c {
            '(' | '[' | '{' => {
                depth += 1;
                if depth > 100 {
                    return true;
                }
            }
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
    }
    false
}

/// The line scan of a file Python cannot parse: the first line with
/// `.run(`, and `port=N` on it.
fn text_scan(text: &str) -> Option<RunCall> {
    let (i, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains(".run("))?;
    let port = line.find("port").and_then(|at| {
        let after = line[at + 4..].trim_start().strip_prefix('=')?.trim_start();
        let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    });
    let squeezed = line.replace(' ', "");
    Some(RunCall {
        port,
        host: None,
        reloads: ["reload=True", "debug=True", "use_reloader=True"]
            .iter()
            .any(|k| squeezed.contains(k)),
        line: i + 1,
    })
}

struct Reader<'a> {
    text: &'a str,
    /// Module-level `NAME = value` assignments, in order.
    constants: Vec<(String, ast::Expr)>,
    found: Option<RunCall>,
}

impl Reader<'_> {
    fn line(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())]
            .matches('\n')
            .count()
            + 1
    }

    /// A number the expression comes to: a literal, a constant, `int(…)`,
    /// or the default of `os.environ.get("PORT", 8001)` / `os.getenv`.
    fn number(&self, e: &ast::Expr, depth: usize) -> Option<u16> {
        if depth > 8 {
            return None;
        }
        match e {
            ast::Expr::Constant(c) => match &c.value {
                ast::Constant::Int(i) => i.to_string().parse().ok(),
                ast::Constant::Str(s) => s.trim().parse().ok(),
                _ => None,
            },
            ast::Expr::Name(n) => {
                let value = self
                    .constants
                    .iter()
                    .rev()
                    .find(|(k, _)| k == n.id.as_str())?
                    .1
                    .clone();
                self.number(&value, depth + 1)
            }
            ast::Expr::Call(call) => {
                let name = dotted(&call.func)?;
                match name.as_str() {
                    "int" | "str" => self.number(call.args.first()?, depth + 1),
                    "os.environ.get" | "os.getenv" | "environ.get" | "getenv" => {
                        self.number(call.args.get(1)?, depth + 1)
                    }
                    _ => None,
                }
            }
            // `os.environ.get("PORT") or 8001`
            ast::Expr::BoolOp(b) => b.values.iter().find_map(|v| self.number(v, depth + 1)),
            _ => None,
        }
    }

    fn text_of(&self, e: &ast::Expr) -> Option<String> {
        match e {
            ast::Expr::Constant(c) => match &c.value {
                ast::Constant::Str(s) => Some(s.clone()),
                _ => None,
            },
            ast::Expr::Name(n) => {
                let value = self
                    .constants
                    .iter()
                    .rev()
                    .find(|(k, _)| k == n.id.as_str())?
                    .1
                    .clone();
                self.text_of(&value)
            }
            _ => None,
        }
    }

    fn is_true(e: &ast::Expr) -> bool {
        matches!(e, ast::Expr::Constant(c) if matches!(c.value, ast::Constant::Bool(true)))
    }
}

impl Visitor for Reader<'_> {
    fn visit_stmt_assign(&mut self, node: ast::StmtAssign) {
        if let [ast::Expr::Name(n)] = node.targets.as_slice() {
            self.constants
                .push((n.id.to_string(), (*node.value).clone()));
        }
        self.generic_visit_stmt_assign(node);
    }

    fn visit_expr_call(&mut self, node: ast::ExprCall) {
        let is_run = matches!(&*node.func, ast::Expr::Attribute(a) if a.attr.as_str() == "run");
        if is_run && self.found.is_none() {
            let keyword = |name: &str| {
                node.keywords
                    .iter()
                    .find(|k| k.arg.as_ref().is_some_and(|a| a.as_str() == name))
                    .map(|k| &k.value)
            };
            let port = keyword("port").and_then(|e| self.number(e, 0));
            let host = keyword("host").and_then(|e| self.text_of(e));
            let reloads = ["reload", "debug", "use_reloader"]
                .iter()
                .any(|k| keyword(k).is_some_and(Self::is_true));
            // A `.run(` with none of a server's arguments (`asyncio.run(main())`)
            // is not the server's start unless it is all there is.
            let offset = usize::from(node.range.start());
            self.found = Some(RunCall {
                port,
                host,
                reloads,
                line: self.line(offset),
            });
        }
        self.generic_visit_expr_call(node);
    }
}

/// `uvicorn.run` → `Some("uvicorn.run")`.
fn dotted(expr: &ast::Expr) -> Option<String> {
    match expr {
        ast::Expr::Name(n) => Some(n.id.to_string()),
        ast::Expr::Attribute(a) => Some(format!("{}.{}", dotted(&a.value)?, a.attr)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_across_lines_with_its_port_from_the_environment() {
        let text = "import os\nimport uvicorn\nfrom fastapi import FastAPI\n\napp = FastAPI()\nPORT = 8011\n\nif __name__ == \"__main__\":\n    uvicorn.run(\n        \"main:app\",\n        host=\"127.0.0.1\",\n        port=int(os.environ.get(\"API_PORT\", PORT)),\n        reload=True,\n    )\n";
        let (call, reader) = run_call(text).unwrap();
        assert_eq!(reader, PARSER);
        assert_eq!(
            call,
            RunCall {
                port: Some(8011),
                host: Some("127.0.0.1".into()),
                reloads: true,
                line: 9
            }
        );
    }

    #[test]
    fn flask_and_getenv_and_the_text_fallback() {
        let (call, _) = run_call(
            "app = Flask(__name__)\napp.run(port=os.getenv('PORT', '5001'), debug=True)\n",
        )
        .unwrap();
        assert_eq!((call.port, call.reloads, call.line), (Some(5001), true, 2));
        let (call, reader) = run_call("app.run(port=5002\n  def broken(:\n").unwrap();
        assert_eq!((call.port, reader), (Some(5002), TEXT_SCAN));
        assert!(run_call("print('no server')\n").is_none());
        let deep = format!(
            "x = {}1{}\napp.run(port=5003)\n",
            "(".repeat(5000),
            ")".repeat(5000)
        );
        assert_eq!(
            run_call(&deep).unwrap(),
            (
                RunCall {
                    port: Some(5003),
                    host: None,
                    reloads: false,
                    line: 2
                },
                TEXT_SCAN
            )
        );
    }
}
