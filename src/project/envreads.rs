//! Where the app's own code reads an env variable, read with the real
//! parsers (oxc for JS/TS, rustpython for Python; nothing is run): the
//! name, the 1-based line, and how the read behaves when the variable is
//! unset. A read with a fallback (`process.env.X || "…"`, `?? `,
//! `os.getenv("X", "d")`, a settings field with a default), a test
//! (`if (process.env.X)`, `"X" in os.environ`) or a comparison
//! (`process.env.X === "1"`) needs no value and is not returned.
//!
//! Node: `process.env.NAME`, `process.env["NAME"]`, `const { NAME } =
//! process.env`; the frontends' `import.meta.env.NAME`. Python:
//! `os.environ["NAME"]` (KeyError when unset), `os.getenv("NAME")` and
//! `os.environ.get("NAME")` without a default, and the fields without a
//! default of a pydantic `BaseSettings` class (`database_url: str` is
//! `DATABASE_URL`, after the class's `env_prefix`).

use std::collections::HashMap;

use oxc_allocator::Allocator;
use oxc_ast::ast::*;
use oxc_parser::Parser;
use oxc_span::{SourceType, Span};
use rustpython_ast::{self as ast, Ranged, Visitor};

use super::jsconfig::{bracket_depth, MAX_DEPTH, PARSE_LIMIT};

/// One read of an env variable that needs a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvRead {
    pub name: String,
    pub line: usize,
    /// The read itself fails when the variable is unset: Python's
    /// `os.environ["X"]` (KeyError), a pydantic field without a default
    /// (ValidationError), `new URL(process.env.X)`, `JSON.parse(…)`,
    /// `process.env.X.split(…)`, `mongoose.connect(process.env.X)`, or a
    /// test of it whose branch throws / exits (`if (!process.env.X) throw …`).
    pub fatal: bool,
    /// It runs when the module is loaded (a top-level statement, a class
    /// body; a pydantic class instantiated at module level), not inside a
    /// function that may never be called.
    pub startup: bool,
    /// It is the start of a URL built with a path (`` `${X}/items` ``,
    /// `X + "/items"`): unset, the request goes to `undefined/items`.
    pub url_base: bool,
    /// How it is read, for the evidence (`process.env`, `os.environ[…]`,
    /// `os.getenv`, `pydantic field database_url of Settings`, `import.meta.env`).
    pub how: String,
    /// Matched case-insensitively (pydantic-settings' default).
    pub any_case: bool,
}

/// What a Python file says: its reads, and the env files its settings
/// classes name (`env_file=".env"`, as written: resolved against the
/// server's working folder).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PyReads {
    pub reads: Vec<EnvRead>,
    pub env_files: Vec<String>,
    /// The modules its top-level statements import, each with its level of
    /// relative import (0: absolute) and the names it takes from it
    /// (`from .core import config` is `(1, "core", ["config"])`).
    pub imports: Vec<(usize, String, Vec<String>)>,
}

fn line_starts(text: &str) -> Vec<usize> {
    let mut lines = vec![0];
    lines.extend(text.match_indices('\n').map(|(i, _)| i + 1));
    lines
}

fn line_of(lines: &[usize], at: usize) -> usize {
    lines.partition_point(|&start| start <= at).max(1)
}

// ---------------------------------------------------------------- JS / TS

/// Where a read sits in its parent expression.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Plain,
    /// A fallback, a test or a comparison holds it: no value needed.
    Guarded,
    /// Its parent fails on `undefined`.
    Fatal,
    /// The start of a URL with a path.
    UrlBase,
}

struct Js<'t> {
    text: &'t str,
    lines: Vec<usize>,
    out: Vec<EnvRead>,
    /// `const secret = process.env.SECRET`: the name and its read's index,
    /// so that `if (!secret) throw …` and `new URL(secret)` count as the read's.
    aliases: HashMap<String, usize>,
}

/// The reads of env variables in a JS/TS file; `None` when it is not parsed
/// (too large, too deep, a syntax error).
pub fn js_reads(text: &str, file: &str) -> Option<Vec<EnvRead>> {
    if text.len() > PARSE_LIMIT || bracket_depth(text, MAX_DEPTH) > MAX_DEPTH {
        return None;
    }
    if !text.contains("process.env") && !text.contains("import.meta.env") {
        return Some(Vec::new());
    }
    let source_type = SourceType::from_path(file).unwrap_or_else(|_| SourceType::mjs());
    let stack = (2 << 20) + (4 << 10) * text.len();
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("doctor-envreads".into())
            .stack_size(stack)
            .spawn_scoped(scope, move || {
                let allocator = Allocator::default();
                let parsed = Parser::new(&allocator, text, source_type).parse();
                if parsed.panicked || !parsed.errors.is_empty() {
                    return None;
                }
                let mut js = Js {
                    text,
                    lines: line_starts(text),
                    out: Vec::new(),
                    aliases: HashMap::new(),
                };
                for st in &parsed.program.body {
                    js.stmt(st, true, 0);
                }
                Some(js.out)
            })
            .ok()?
            .join()
            .ok()
            .flatten()
    })
}

/// `process.env` or `import.meta.env`: which one.
fn env_object(e: &Expression) -> Option<&'static str> {
    let Expression::StaticMemberExpression(m) = e.get_inner_expression() else {
        return None;
    };
    if m.property.name != "env" {
        return None;
    }
    match m.object.get_inner_expression() {
        Expression::Identifier(id) if id.name == "process" => Some("process.env"),
        Expression::MetaProperty(p) if p.meta.name == "import" && p.property.name == "meta" => {
            Some("import.meta.env")
        }
        _ => None,
    }
}

/// `process.env.NAME` / `process.env["NAME"]` / `import.meta.env.NAME`.
fn env_read<'a>(e: &'a Expression) -> Option<(&'static str, &'a str, Span)> {
    match e.get_inner_expression() {
        Expression::StaticMemberExpression(m) => {
            Some((env_object(&m.object)?, m.property.name.as_str(), m.span))
        }
        Expression::ComputedMemberExpression(m) => match &m.expression {
            Expression::StringLiteral(s) => {
                Some((env_object(&m.object)?, s.value.as_str(), m.span))
            }
            _ => None,
        },
        _ => None,
    }
}

fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

/// The callee's last name: `connect` of `mongoose.connect`, `URL` of `new URL`.
fn callee_name<'a>(e: &'a Expression) -> Option<&'a str> {
    match e.get_inner_expression() {
        Expression::Identifier(id) => Some(id.name.as_str()),
        Expression::StaticMemberExpression(m) => Some(m.property.name.as_str()),
        _ => None,
    }
}

fn callee_full(e: &Expression) -> String {
    match e.get_inner_expression() {
        Expression::Identifier(id) => id.name.to_string(),
        Expression::StaticMemberExpression(m) => {
            format!("{}.{}", callee_full(&m.object), m.property.name)
        }
        _ => String::new(),
    }
}

/// Calls that throw (or reject) when handed `undefined` for their first argument.
fn fails_on_undefined(callee: &Expression, is_new: bool) -> bool {
    let full = callee_full(callee);
    let last = callee_name(callee).unwrap_or_default();
    (is_new
        && matches!(
            last,
            "URL" | "Pool" | "Client" | "Sequelize" | "PrismaClient"
        ))
        || matches!(full.as_str(), "JSON.parse" | "Buffer.from")
        || matches!(
            last,
            "connect" | "createConnection" | "createPool" | "createClient" | "openUri"
        )
}

/// A statement that ends the start-up: `throw …`, `process.exit(…)`, or a
/// block that begins with one.
fn ends_startup(st: &Statement) -> bool {
    match st {
        Statement::ThrowStatement(_) => true,
        Statement::ExpressionStatement(e) => match e.expression.get_inner_expression() {
            Expression::CallExpression(c) => callee_full(&c.callee) == "process.exit",
            _ => false,
        },
        Statement::BlockStatement(b) => b.body.iter().any(ends_startup),
        _ => false,
    }
}

impl Js<'_> {
    fn push(&mut self, how: &str, name: &str, span: Span, startup: bool, role: Role) {
        if role == Role::Guarded || !is_name(name) {
            return;
        }
        let at = (span.start as usize).min(self.text.len());
        self.out.push(EnvRead {
            name: name.to_string(),
            line: line_of(&self.lines, at),
            fatal: role == Role::Fatal,
            startup,
            url_base: role == Role::UrlBase,
            how: how.to_string(),
            any_case: false,
        });
    }

    /// A name bound to a read, used where the read would fail.
    fn alias_use(&mut self, e: &Expression, role: Role) -> bool {
        let Expression::Identifier(id) = e.get_inner_expression() else {
            return false;
        };
        if let Some(&i) = self.aliases.get(id.name.as_str()) {
            match role {
                Role::Fatal => self.out[i].fatal = true,
                Role::UrlBase => self.out[i].url_base = true,
                _ => {}
            }
        }
        true
    }

    fn stmts(&mut self, body: &[Statement], startup: bool, depth: usize) {
        for st in body {
            self.stmt(st, startup, depth + 1);
        }
    }

    fn function(&mut self, f: &Function, depth: usize) {
        if let Some(body) = &f.body {
            self.stmts(&body.statements, false, depth);
        }
        self.params(&f.params, depth);
    }

    fn params(&mut self, p: &FormalParameters, depth: usize) {
        for item in &p.items {
            self.pattern(&item.pattern, false, depth);
        }
    }

    fn pattern(&mut self, p: &BindingPattern, startup: bool, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        match &p.kind {
            // A default is a fallback: a read there runs only when the value is missing.
            BindingPatternKind::AssignmentPattern(a) => {
                self.expr(&a.right, startup, Role::Guarded, depth + 1);
                self.pattern(&a.left, startup, depth + 1);
            }
            BindingPatternKind::ObjectPattern(o) => {
                for prop in &o.properties {
                    self.pattern(&prop.value, startup, depth + 1);
                }
            }
            BindingPatternKind::ArrayPattern(a) => {
                for el in a.elements.iter().flatten() {
                    self.pattern(el, startup, depth + 1);
                }
            }
            BindingPatternKind::BindingIdentifier(_) => {}
        }
    }

    fn declaration(&mut self, d: &VariableDeclaration, startup: bool, depth: usize) {
        for v in &d.declarations {
            let Some(init) = &v.init else {
                continue;
            };
            // `const { A, B = "x", C: c } = process.env`
            if let (Some(how), BindingPatternKind::ObjectPattern(o)) =
                (env_object(init), &v.id.kind)
            {
                for prop in &o.properties {
                    let name = match &prop.key {
                        PropertyKey::StaticIdentifier(id) => id.name.as_str(),
                        PropertyKey::StringLiteral(s) => s.value.as_str(),
                        _ => continue,
                    };
                    let role =
                        if matches!(prop.value.kind, BindingPatternKind::AssignmentPattern(_)) {
                            Role::Guarded
                        } else {
                            Role::Plain
                        };
                    self.push(how, name, prop.span, startup, role);
                }
                continue;
            }
            self.pattern(&v.id, startup, depth + 1);
            let before = self.out.len();
            self.expr(init, startup, Role::Plain, depth + 1);
            if let (BindingPatternKind::BindingIdentifier(id), Some(_)) =
                (&v.id.kind, env_read(init))
            {
                if self.out.len() == before + 1 {
                    self.aliases.insert(id.name.to_string(), before);
                }
            }
        }
    }

    fn class(&mut self, c: &Class, depth: usize) {
        for el in &c.body.body {
            match el {
                ClassElement::MethodDefinition(m) => self.function(&m.value, depth + 1),
                ClassElement::PropertyDefinition(p) => {
                    if let Some(v) = &p.value {
                        self.expr(v, false, Role::Plain, depth + 1);
                    }
                }
                ClassElement::StaticBlock(b) => self.stmts(&b.body, true, depth + 1),
                _ => {}
            }
        }
    }

    fn stmt(&mut self, st: &Statement, startup: bool, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        let d = depth + 1;
        match st {
            Statement::ExpressionStatement(e) => self.expr(&e.expression, startup, Role::Plain, d),
            Statement::VariableDeclaration(v) => self.declaration(v, startup, d),
            Statement::FunctionDeclaration(f) => self.function(f, d),
            Statement::ClassDeclaration(c) => self.class(c, d),
            Statement::IfStatement(i) => {
                // `if (!process.env.X) throw …`: the test is the read that ends the start.
                let role = if ends_startup(&i.consequent) {
                    Role::Fatal
                } else {
                    Role::Guarded
                };
                self.test(&i.test, startup, role, d);
                self.stmt(&i.consequent, startup, d);
                if let Some(alt) = &i.alternate {
                    self.stmt(alt, startup, d);
                }
            }
            Statement::BlockStatement(b) => self.stmts(&b.body, startup, d),
            Statement::ReturnStatement(r) => {
                if let Some(a) = &r.argument {
                    self.expr(a, startup, Role::Plain, d);
                }
            }
            Statement::ThrowStatement(t) => self.expr(&t.argument, startup, Role::Guarded, d),
            Statement::TryStatement(t) => {
                // Caught: whatever fails inside does not end the start.
                let before = self.out.len();
                self.stmts(&t.block.body, startup, d);
                for r in &mut self.out[before..] {
                    r.fatal = false;
                }
                if let Some(h) = &t.handler {
                    self.stmts(&h.body.body, startup, d);
                }
                if let Some(f) = &t.finalizer {
                    self.stmts(&f.body, startup, d);
                }
            }
            Statement::ForStatement(f) => {
                if let Some(init) = &f.init {
                    match init {
                        ForStatementInit::VariableDeclaration(v) => self.declaration(v, startup, d),
                        other => {
                            if let Some(e) = other.as_expression() {
                                self.expr(e, startup, Role::Plain, d)
                            }
                        }
                    }
                }
                if let Some(t) = &f.test {
                    self.expr(t, startup, Role::Guarded, d);
                }
                self.stmt(&f.body, startup, d);
            }
            Statement::ForInStatement(f) => {
                self.expr(&f.right, startup, Role::Plain, d);
                self.stmt(&f.body, startup, d);
            }
            Statement::ForOfStatement(f) => {
                self.expr(&f.right, startup, Role::Plain, d);
                self.stmt(&f.body, startup, d);
            }
            Statement::WhileStatement(w) => {
                self.expr(&w.test, startup, Role::Guarded, d);
                self.stmt(&w.body, startup, d);
            }
            Statement::DoWhileStatement(w) => {
                self.expr(&w.test, startup, Role::Guarded, d);
                self.stmt(&w.body, startup, d);
            }
            Statement::SwitchStatement(s) => {
                self.expr(&s.discriminant, startup, Role::Guarded, d);
                for case in &s.cases {
                    self.stmts(&case.consequent, startup, d);
                }
            }
            Statement::LabeledStatement(l) => self.stmt(&l.body, startup, d),
            Statement::ExportNamedDeclaration(e) => match &e.declaration {
                Some(Declaration::VariableDeclaration(v)) => self.declaration(v, startup, d),
                Some(Declaration::FunctionDeclaration(f)) => self.function(f, d),
                Some(Declaration::ClassDeclaration(c)) => self.class(c, d),
                _ => {}
            },
            Statement::ExportDefaultDeclaration(e) => match &e.declaration {
                ExportDefaultDeclarationKind::FunctionDeclaration(f) => self.function(f, d),
                ExportDefaultDeclarationKind::ClassDeclaration(c) => self.class(c, d),
                other => {
                    if let Some(x) = other.as_expression() {
                        self.expr(x, startup, Role::Plain, d)
                    }
                }
            },
            _ => {}
        }
    }

    /// An `if`'s test: a read negated or compared to nothing takes `role`
    /// (`Fatal` when the branch ends the start); any other read in it is a check.
    fn test(&mut self, e: &Expression, startup: bool, role: Role, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        match e.get_inner_expression() {
            Expression::UnaryExpression(u) if u.operator == UnaryOperator::LogicalNot => {
                if let Some((how, name, span)) = env_read(&u.argument) {
                    self.push(how, name, span, startup, role);
                } else if !self.alias_use(&u.argument, role) {
                    self.expr(&u.argument, startup, Role::Guarded, depth + 1);
                }
            }
            Expression::LogicalExpression(l) if l.operator == LogicalOperator::Or => {
                self.test(&l.left, startup, role, depth + 1);
                self.test(&l.right, startup, role, depth + 1);
            }
            other => self.expr(other, startup, Role::Guarded, depth + 1),
        }
    }

    fn args(&mut self, args: &[Argument], startup: bool, first: Role, depth: usize) {
        for (i, a) in args.iter().enumerate() {
            if let Some(e) = a.as_expression() {
                let role = if i == 0 { first } else { Role::Plain };
                self.expr(e, startup, role, depth + 1);
            }
        }
    }

    fn expr(&mut self, e: &Expression, startup: bool, role: Role, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        if let Some((how, name, span)) = env_read(e) {
            self.push(how, name, span, startup, role);
            return;
        }
        if self.alias_use(e, role) {
            return;
        }
        // Inside a guarded place everything stays guarded (`A || B || "x"`).
        let inherit = |r: Role| {
            if role == Role::Guarded {
                Role::Guarded
            } else {
                r
            }
        };
        let d = depth + 1;
        match e.get_inner_expression() {
            Expression::StaticMemberExpression(m) => {
                // `process.env.X.split(",")`: a property of undefined.
                self.expr(&m.object, startup, inherit(Role::Fatal), d)
            }
            Expression::ComputedMemberExpression(m) => {
                self.expr(&m.object, startup, inherit(Role::Fatal), d);
                self.expr(&m.expression, startup, inherit(Role::Plain), d);
            }
            Expression::CallExpression(c) => {
                let first = if fails_on_undefined(&c.callee, false) {
                    Role::Fatal
                } else {
                    Role::Plain
                };
                self.expr(&c.callee, startup, inherit(Role::Plain), d);
                self.args(&c.arguments, startup, inherit(first), d);
            }
            Expression::NewExpression(n) => {
                let first = if fails_on_undefined(&n.callee, true) {
                    Role::Fatal
                } else {
                    Role::Plain
                };
                self.expr(&n.callee, startup, inherit(Role::Plain), d);
                self.args(&n.arguments, startup, inherit(first), d);
            }
            Expression::ChainExpression(c) => {
                // `process.env.X?.split(",")`: optional, no failure.
                match &c.expression {
                    ChainElement::CallExpression(call) => {
                        self.expr(&call.callee, startup, Role::Guarded, d);
                        self.args(&call.arguments, startup, inherit(Role::Plain), d);
                    }
                    other => {
                        if let Some(m) = other.as_member_expression() {
                            self.expr(m.object(), startup, Role::Guarded, d);
                        }
                    }
                }
            }
            Expression::LogicalExpression(l) => {
                let left = if matches!(l.operator, LogicalOperator::Or | LogicalOperator::Coalesce)
                {
                    Role::Guarded
                } else {
                    inherit(Role::Guarded)
                };
                self.expr(&l.left, startup, left, d);
                self.expr(&l.right, startup, inherit(Role::Plain), d);
            }
            Expression::ConditionalExpression(c) => {
                self.expr(&c.test, startup, Role::Guarded, d);
                self.expr(&c.consequent, startup, inherit(Role::Plain), d);
                self.expr(&c.alternate, startup, inherit(Role::Plain), d);
            }
            Expression::BinaryExpression(b) => {
                let url = b.operator == BinaryOperator::Addition
                    && matches!(b.right.get_inner_expression(), Expression::StringLiteral(s) if s.value.starts_with('/'))
                    || matches!(b.right.get_inner_expression(), Expression::TemplateLiteral(t) if t.quasis.first().is_some_and(|q| q.value.raw.starts_with('/')));
                let left = if b.operator.is_equality() || b.operator.is_compare() {
                    Role::Guarded
                } else if url {
                    Role::UrlBase
                } else {
                    Role::Plain
                };
                let right = if b.operator.is_equality() || b.operator.is_compare() {
                    Role::Guarded
                } else {
                    Role::Plain
                };
                self.expr(&b.left, startup, inherit(left), d);
                self.expr(&b.right, startup, inherit(right), d);
            }
            Expression::UnaryExpression(u) => self.expr(&u.argument, startup, Role::Guarded, d),
            Expression::TemplateLiteral(t) => {
                for (i, x) in t.expressions.iter().enumerate() {
                    let url = i == 0
                        && t.quasis.first().is_some_and(|q| q.value.raw.is_empty())
                        && t.quasis
                            .get(1)
                            .is_some_and(|q| q.value.raw.starts_with('/'));
                    let r = if url { Role::UrlBase } else { Role::Plain };
                    self.expr(x, startup, inherit(r), d);
                }
            }
            Expression::TaggedTemplateExpression(t) => {
                for x in &t.quasi.expressions {
                    self.expr(x, startup, inherit(Role::Plain), d);
                }
            }
            Expression::AssignmentExpression(a) => {
                self.expr(&a.right, startup, inherit(Role::Plain), d)
            }
            Expression::SequenceExpression(s) => {
                for x in &s.expressions {
                    self.expr(x, startup, inherit(Role::Plain), d);
                }
            }
            Expression::AwaitExpression(a) => self.expr(&a.argument, startup, inherit(role), d),
            Expression::ArrayExpression(a) => {
                for el in &a.elements {
                    if let Some(x) = el.as_expression() {
                        self.expr(x, startup, inherit(Role::Plain), d);
                    }
                }
            }
            Expression::ObjectExpression(o) => {
                for p in &o.properties {
                    match p {
                        ObjectPropertyKind::ObjectProperty(p) => {
                            self.expr(&p.value, startup, inherit(Role::Plain), d)
                        }
                        ObjectPropertyKind::SpreadProperty(s) => {
                            self.expr(&s.argument, startup, inherit(Role::Plain), d)
                        }
                    }
                }
            }
            Expression::ArrowFunctionExpression(a) => {
                self.stmts(&a.body.statements, false, d);
                self.params(&a.params, d);
            }
            Expression::FunctionExpression(f) => self.function(f, d),
            Expression::ClassExpression(c) => self.class(c, d),
            _ => {}
        }
    }
}

// ---------------------------------------------------------------- Python

/// The reads of env variables in a Python file; `None` when Python could
/// not parse it.
pub fn python_reads(text: &str) -> Option<PyReads> {
    if text.len() > 512 * 1024 {
        return None;
    }
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("doctor-envreads-py".into())
            .stack_size(64 << 20)
            .spawn_scoped(scope, move || python_reads_here(text))
            .ok()?
            .join()
            .ok()
            .flatten()
    })
}

fn python_reads_here(text: &str) -> Option<PyReads> {
    let ast::Mod::Module(module) =
        rustpython_parser::parse(text, rustpython_parser::Mode::Module, "<module>").ok()?
    else {
        return None;
    };
    let lines = line_starts(text);
    let mut out = PyReads::default();
    for st in &module.body {
        let nested: Vec<&ast::Stmt> = match st {
            ast::Stmt::Try(t) => t.body.iter().collect(),
            ast::Stmt::If(i) => i.body.iter().chain(&i.orelse).collect(),
            other => vec![other],
        };
        for st in nested {
            match st {
                ast::Stmt::Import(i) => out
                    .imports
                    .extend(i.names.iter().map(|a| (0, a.name.to_string(), Vec::new()))),
                ast::Stmt::ImportFrom(i) => out.imports.push((
                    i.level.map_or(0, |l| l.to_usize()),
                    i.module.as_ref().map(|m| m.to_string()).unwrap_or_default(),
                    i.names.iter().map(|a| a.name.to_string()).collect(),
                )),
                _ => {}
            }
        }
    }
    // Settings classes, then whether the module makes one at top level.
    let mut settings: HashMap<String, SettingsClass> = HashMap::new();
    for st in &module.body {
        if let ast::Stmt::ClassDef(c) = st {
            if let Some(s) = settings_class(c, &settings, &lines) {
                out.env_files.extend(s.env_files.iter().cloned());
                settings.insert(c.name.to_string(), s);
            }
        }
    }
    let made_at_top: Vec<String> = module
        .body
        .iter()
        .filter_map(|st| match st {
            ast::Stmt::Assign(a) => Some(&*a.value),
            ast::Stmt::AnnAssign(a) => a.value.as_deref(),
            ast::Stmt::Expr(e) => Some(&*e.value),
            _ => None,
        })
        .filter_map(|v| match v {
            ast::Expr::Call(c) => match &*c.func {
                ast::Expr::Name(n) => Some(n.id.to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    for (name, class) in &settings {
        let startup = made_at_top.contains(name);
        for (field, env, line) in &class.required {
            out.reads.push(EnvRead {
                name: env.clone(),
                line: *line,
                fatal: true,
                startup,
                url_base: false,
                how: format!("pydantic field {field} of {name} (no default)"),
                any_case: !class.case_sensitive,
            });
        }
    }
    let mut py = Py {
        lines: &lines,
        out: Vec::new(),
        functions: 0,
        guarded: Vec::new(),
        fatal_tests: Vec::new(),
        caught: Vec::new(),
        depth: 0,
    };
    for st in module.body {
        py.visit_stmt(st);
    }
    out.reads.extend(py.out);
    out.reads.sort_by_key(|r| r.line);
    Some(out)
}

struct SettingsClass {
    /// (field, env name, line)
    required: Vec<(String, String, usize)>,
    env_files: Vec<String>,
    case_sensitive: bool,
}

fn const_str(e: &ast::Expr) -> Option<String> {
    match e {
        ast::Expr::Constant(c) => match &c.value {
            ast::Constant::Str(s) => Some(s.clone()),
            _ => None,
        },
        _ => None,
    }
}

fn strings(e: &ast::Expr) -> Vec<String> {
    match e {
        ast::Expr::Tuple(t) => t.elts.iter().filter_map(const_str).collect(),
        ast::Expr::List(l) => l.elts.iter().filter_map(const_str).collect(),
        other => const_str(other).into_iter().collect(),
    }
}

fn base_name(e: &ast::Expr) -> Option<String> {
    match e {
        ast::Expr::Name(n) => Some(n.id.to_string()),
        ast::Expr::Attribute(a) => Some(a.attr.to_string()),
        _ => None,
    }
}

/// A `BaseSettings` subclass (directly or through a settings class of the
/// same file): its fields without a default, its `env_prefix` and `env_file`.
fn settings_class(
    c: &ast::StmtClassDef,
    known: &HashMap<String, SettingsClass>,
    lines: &[usize],
) -> Option<SettingsClass> {
    let parent = c
        .bases
        .iter()
        .filter_map(base_name)
        .find(|b| b == "BaseSettings" || known.contains_key(b))?;
    let inherited = known.get(&parent);
    let mut prefix = String::new();
    let mut env_files = Vec::new();
    let mut case_sensitive = false;
    let mut config = |key: &str, value: &ast::Expr| match key {
        "env_prefix" => prefix = const_str(value).unwrap_or_default(),
        "env_file" => env_files = strings(value),
        "case_sensitive" => {
            case_sensitive =
                matches!(value, ast::Expr::Constant(c) if c.value == ast::Constant::Bool(true))
        }
        _ => {}
    };
    for st in &c.body {
        match st {
            // model_config = SettingsConfigDict(env_prefix="APP_", env_file=".env")
            ast::Stmt::Assign(a)
                if a.targets.iter().any(
                    |t| matches!(t, ast::Expr::Name(n) if n.id.as_str() == "model_config"),
                ) =>
            {
                if let ast::Expr::Call(call) = &*a.value {
                    for k in &call.keywords {
                        if let Some(arg) = &k.arg {
                            config(arg.as_str(), &k.value);
                        }
                    }
                }
                if let ast::Expr::Dict(d) = &*a.value {
                    for (k, v) in d.keys.iter().zip(&d.values) {
                        if let Some(k) = k.as_ref().and_then(const_str) {
                            config(&k, v);
                        }
                    }
                }
            }
            ast::Stmt::AnnAssign(a) if matches!(&*a.target, ast::Expr::Name(n) if n.id.as_str() == "model_config") => {
                if let Some(ast::Expr::Call(call)) = a.value.as_deref() {
                    for k in &call.keywords {
                        if let Some(arg) = &k.arg {
                            config(arg.as_str(), &k.value);
                        }
                    }
                }
            }
            // class Config: env_prefix = "APP_"
            ast::Stmt::ClassDef(inner) if inner.name.as_str() == "Config" => {
                for s in &inner.body {
                    if let ast::Stmt::Assign(a) = s {
                        for t in &a.targets {
                            if let ast::Expr::Name(n) = t {
                                config(n.id.as_str(), &a.value);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let mut required = Vec::new();
    if let Some(p) = inherited {
        // The parent's fields, under this class's prefix.
        required.extend(p.required.iter().cloned());
    }
    for st in &c.body {
        let ast::Stmt::AnnAssign(a) = st else {
            continue;
        };
        let ast::Expr::Name(n) = &*a.target else {
            continue;
        };
        let field = n.id.to_string();
        if field.starts_with('_') || field == "model_config" {
            continue;
        }
        if matches!(&*a.annotation, ast::Expr::Subscript(s) if base_name(&s.value).as_deref() == Some("ClassVar"))
        {
            continue;
        }
        let mut env = None;
        let has_default = match a.value.as_deref() {
            None => false,
            // Field(...), Field(alias="X"): required; Field("x"), Field(default=…): not.
            Some(ast::Expr::Call(call)) if base_name(&call.func).as_deref() == Some("Field") => {
                for k in &call.keywords {
                    if matches!(k.arg.as_deref(), Some("alias" | "validation_alias")) {
                        env = const_str(&k.value);
                    }
                }
                let first_default = call.args.first().is_some_and(
                    |e| !matches!(e, ast::Expr::Constant(c) if c.value == ast::Constant::Ellipsis),
                );
                first_default
                    || call
                        .keywords
                        .iter()
                        .any(|k| matches!(k.arg.as_deref(), Some("default" | "default_factory")))
            }
            Some(_) => true,
        };
        if has_default {
            required.retain(|(f, _, _)| *f != field);
            continue;
        }
        let line = line_of(lines, a.range.start().to_usize());
        required.retain(|(f, _, _)| *f != field);
        required.push((field.clone(), env.unwrap_or_else(|| field.clone()), line));
    }
    // The env name: the alias as written, else prefix + field.
    let required = required
        .into_iter()
        .map(|(field, env, line)| {
            let name = if env != field {
                env
            } else {
                format!("{prefix}{field}")
            };
            let name = if case_sensitive {
                name
            } else {
                name.to_ascii_uppercase()
            };
            (field, name, line)
        })
        .collect();
    if env_files.is_empty() {
        if let Some(p) = inherited {
            env_files = p.env_files.clone();
        }
    }
    Some(SettingsClass {
        required,
        env_files,
        case_sensitive,
    })
}

struct Py<'l> {
    lines: &'l [usize],
    out: Vec<EnvRead>,
    /// Inside a function or lambda: not run at import.
    functions: usize,
    /// Byte ranges of fallbacks, tests and comparisons.
    guarded: Vec<(usize, usize)>,
    /// Tests of an `if` whose branch raises or exits.
    fatal_tests: Vec<(usize, usize)>,
    /// Bodies of a `try` (a failure there is caught).
    caught: Vec<(usize, usize)>,
    depth: usize,
}

fn range(e: &impl Ranged) -> (usize, usize) {
    (e.range().start().to_usize(), e.range().end().to_usize())
}

fn within(list: &[(usize, usize)], at: (usize, usize)) -> bool {
    list.iter().any(|(s, e)| *s <= at.0 && at.1 <= *e)
}

/// `os.environ` or a bare `environ` (from `from os import environ`).
fn is_environ(e: &ast::Expr) -> bool {
    match e {
        ast::Expr::Attribute(a) => {
            a.attr.as_str() == "environ"
                && matches!(&*a.value, ast::Expr::Name(n) if n.id.as_str() == "os")
        }
        ast::Expr::Name(n) => n.id.as_str() == "environ",
        _ => false,
    }
}

fn raises(body: &[ast::Stmt]) -> bool {
    body.iter().any(|s| match s {
        ast::Stmt::Raise(_) => true,
        ast::Stmt::Expr(e) => matches!(&*e.value, ast::Expr::Call(c) if matches!(base_name(&c.func).as_deref(), Some("exit" | "_exit"))),
        _ => false,
    })
}

impl Py<'_> {
    fn push(&mut self, name: String, at: (usize, usize), fatal: bool, how: &str) {
        if within(&self.guarded, at) && !within(&self.fatal_tests, at) {
            return;
        }
        if !is_name(&name) {
            return;
        }
        let fatal = (fatal || within(&self.fatal_tests, at)) && !within(&self.caught, at);
        self.out.push(EnvRead {
            name,
            line: line_of(self.lines, at.0),
            fatal,
            startup: self.functions == 0,
            url_base: false,
            how: how.to_string(),
            any_case: false,
        });
    }
}

impl Visitor for Py<'_> {
    fn visit_expr(&mut self, node: ast::Expr) {
        if self.depth > 200 {
            return;
        }
        self.depth += 1;
        self.generic_visit_expr(node);
        self.depth -= 1;
    }

    fn visit_stmt_function_def(&mut self, node: ast::StmtFunctionDef) {
        self.functions += 1;
        self.generic_visit_stmt_function_def(node);
        self.functions -= 1;
    }

    fn visit_stmt_async_function_def(&mut self, node: ast::StmtAsyncFunctionDef) {
        self.functions += 1;
        self.generic_visit_stmt_async_function_def(node);
        self.functions -= 1;
    }

    fn visit_expr_lambda(&mut self, node: ast::ExprLambda) {
        self.functions += 1;
        self.generic_visit_expr_lambda(node);
        self.functions -= 1;
    }

    fn visit_stmt_if(&mut self, node: ast::StmtIf) {
        // `if __name__ == "__main__":` runs only as a script: not at import.
        let main = matches!(&*node.test, ast::Expr::Compare(c) if matches!(&*c.left, ast::Expr::Name(n) if n.id.as_str() == "__name__"));
        let test = range(&*node.test);
        if raises(&node.body) {
            self.fatal_tests.push(test);
        }
        self.guarded.push(test);
        self.visit_expr(*node.test);
        if main {
            self.functions += 1;
        }
        for s in node.body {
            self.visit_stmt(s);
        }
        if main {
            self.functions -= 1;
        }
        for s in node.orelse {
            self.visit_stmt(s);
        }
    }

    fn visit_stmt_try(&mut self, node: ast::StmtTry) {
        if let (Some(first), Some(last)) = (node.body.first(), node.body.last()) {
            self.caught.push((range(first).0, range(last).1));
        }
        self.generic_visit_stmt_try(node);
    }

    fn visit_expr_bool_op(&mut self, node: ast::ExprBoolOp) {
        // `os.getenv("X") or "d"`: every value but the last has a fallback.
        if node.op == ast::BoolOp::Or {
            for v in node.values.iter().take(node.values.len().saturating_sub(1)) {
                self.guarded.push(range(v));
            }
        }
        self.generic_visit_expr_bool_op(node);
    }

    fn visit_expr_compare(&mut self, node: ast::ExprCompare) {
        self.guarded.push(range(&node));
        self.generic_visit_expr_compare(node);
    }

    fn visit_expr_if_exp(&mut self, node: ast::ExprIfExp) {
        self.guarded.push(range(&*node.test));
        self.generic_visit_expr_if_exp(node);
    }

    fn visit_expr_subscript(&mut self, node: ast::ExprSubscript) {
        if is_environ(&node.value) && node.ctx == ast::ExprContext::Load {
            if let Some(name) = const_str(&node.slice) {
                self.push(name, range(&node), true, "os.environ[…]");
                return;
            }
        }
        self.generic_visit_expr_subscript(node);
    }

    fn visit_expr_call(&mut self, node: ast::ExprCall) {
        let getter = match &*node.func {
            // os.getenv("X"), os.environ.get("X"), environ.get("X")
            ast::Expr::Attribute(a) if a.attr.as_str() == "getenv" => {
                matches!(&*a.value, ast::Expr::Name(n) if n.id.as_str() == "os")
                    .then_some("os.getenv")
            }
            ast::Expr::Attribute(a) if a.attr.as_str() == "get" && is_environ(&a.value) => {
                Some("os.environ.get")
            }
            ast::Expr::Name(n) if n.id.as_str() == "getenv" => Some("os.getenv"),
            _ => None,
        };
        if let Some(how) = getter {
            let defaulted = node.args.len() > 1
                || node
                    .keywords
                    .iter()
                    .any(|k| k.arg.as_deref() == Some("default"));
            if let Some(name) = node.args.first().and_then(const_str) {
                if !defaulted {
                    self.push(name, range(&node), false, how);
                }
                return;
            }
        }
        self.generic_visit_expr_call(node);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn js(text: &str) -> Vec<(String, usize, bool, bool, bool)> {
        js_reads(text, "x.js")
            .unwrap()
            .into_iter()
            .map(|r| (r.name, r.line, r.fatal, r.startup, r.url_base))
            .collect()
    }

    fn row(
        name: &str,
        line: usize,
        fatal: bool,
        startup: bool,
        url: bool,
    ) -> (String, usize, bool, bool, bool) {
        (name.to_string(), line, fatal, startup, url)
    }

    #[test]
    fn node_reads_with_and_without_fallbacks() {
        let text = r#"const a = process.env.A
const b = process.env.B || "x"
const c = process.env["C"] ?? 3
const { D, E = "e", F: f } = process.env
const url = new URL(process.env.API_UPSTREAM)
if (!process.env.DATABASE_URL) throw new Error("DATABASE_URL is required")
if (process.env.DEBUG) console.log("debug")
const flag = process.env.FLAG === "1"
mongoose.connect(process.env.MONGO_URI)
const hosts = process.env.HOSTS.split(",")
function later() { return process.env.LATER }
app.get("/", (req, res) => res.send(process.env.IN_HANDLER))
const opt = process.env.OPT?.split(",")
try { JSON.parse(process.env.CAUGHT) } catch {}
const t = process.env.T ? 1 : 2
const secret = process.env.SESSION_SECRET
if (!secret) {
  throw new Error("SESSION_SECRET is not set")
}
const upstream = process.env.UPSTREAM
const u = new URL(upstream)
"#;
        assert_eq!(
            js(text),
            [
                row("A", 1, false, true, false),
                row("D", 4, false, true, false),
                row("F", 4, false, true, false),
                row("API_UPSTREAM", 5, true, true, false),
                row("DATABASE_URL", 6, true, true, false),
                row("MONGO_URI", 9, true, true, false),
                row("HOSTS", 10, true, true, false),
                row("LATER", 11, false, false, false),
                row("IN_HANDLER", 12, false, false, false),
                row("CAUGHT", 14, false, true, false),
                row("SESSION_SECRET", 16, true, true, false),
                row("UPSTREAM", 20, true, true, false),
            ]
        );
    }

    #[test]
    fn frontend_reads_that_build_a_url() {
        let text = "const base = import.meta.env.VITE_API_URL\nfetch(`${import.meta.env.VITE_API_URL}/items`)\nfetch(import.meta.env.VITE_OTHER + \"/x\")\nfetch(`${import.meta.env.VITE_FALLBACK ?? \"\"}/y`)\nconst t = `hi ${import.meta.env.VITE_NAME}`\n";
        let reads = js_reads(text, "main.ts").unwrap();
        let shape: Vec<(&str, usize, bool)> = reads
            .iter()
            .map(|r| (r.name.as_str(), r.line, r.url_base))
            .collect();
        assert_eq!(
            shape,
            [
                ("VITE_API_URL", 1, false),
                ("VITE_API_URL", 2, true),
                ("VITE_OTHER", 3, true),
                ("VITE_NAME", 5, false),
            ]
        );
        assert!(reads.iter().all(|r| r.how == "import.meta.env"));
    }

    #[test]
    fn typescript_and_unparsable_files() {
        let ts =
            "const u: string = process.env.TS_VAR as string\nconst v = process.env.TS_OTHER!\n";
        let names: Vec<String> = js_reads(ts, "x.ts")
            .unwrap()
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(names, ["TS_VAR", "TS_OTHER"]);
        assert!(js_reads("const = process.env.X", "x.js").is_none());
    }

    fn py(text: &str) -> Vec<(String, usize, bool, bool)> {
        python_reads(text)
            .unwrap()
            .reads
            .into_iter()
            .map(|r| (r.name, r.line, r.fatal, r.startup))
            .collect()
    }

    #[test]
    fn python_reads_hard_soft_and_defaulted() {
        let text = r#"import os
from os import environ, getenv
A = os.environ["A"]
B = os.getenv("B")
C = os.getenv("C", "c")
D = os.environ.get("D")
E = os.environ.get("E", None)
F = os.getenv("F") or "f"
G = environ["G"]
if "H" in os.environ:
    pass
def later():
    return os.environ["LATER"]
if not os.getenv("REQUIRED"):
    raise RuntimeError("REQUIRED is not set")
try:
    T = os.environ["TRIED"]
except KeyError:
    T = None
if __name__ == "__main__":
    M = os.environ["MAIN_ONLY"]
os.environ["SET_HERE"] = "1"
"#;
        assert_eq!(
            py(text),
            [
                ("A".to_string(), 3, true, true),
                ("B".to_string(), 4, false, true),
                ("D".to_string(), 6, false, true),
                ("G".to_string(), 9, true, true),
                ("LATER".to_string(), 13, true, false),
                ("REQUIRED".to_string(), 14, true, true),
                ("TRIED".to_string(), 17, false, true),
                ("MAIN_ONLY".to_string(), 21, true, false),
            ]
        );
    }

    #[test]
    fn pydantic_settings_fields() {
        let text = r#"from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file="../.env", env_prefix="app_")
    database_url: str
    secret_key: str = "changethis"
    api_key: str = Field(...)
    name: str = Field("x")
    token: str = Field(alias="GITHUB_TOKEN")

class Other(BaseSettings):
    class Config:
        env_file = (".env", ".env.local")
    redis_url: str

settings = Settings()
"#;
        let got = python_reads(text).unwrap();
        let shape: Vec<(&str, usize, bool, bool)> = got
            .reads
            .iter()
            .map(|r| (r.name.as_str(), r.line, r.fatal, r.startup))
            .collect();
        assert_eq!(
            shape,
            [
                ("APP_DATABASE_URL", 6, true, true),
                ("APP_API_KEY", 8, true, true),
                ("GITHUB_TOKEN", 10, true, true),
                ("REDIS_URL", 15, true, false),
            ]
        );
        assert!(got.reads.iter().all(|r| r.any_case));
        assert_eq!(got.env_files, ["../.env", ".env", ".env.local"]);
        assert!(python_reads("x = os.environ[\"X\"]\ndef (:").is_none());
    }
}
