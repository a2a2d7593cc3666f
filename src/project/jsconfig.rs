//! JS/TS config files (vite, next, webpack, CRA's `src/setupProxy.js`)
//! read with a real parser, oxc's, never executed: the exported config is
//! found (`export default {…}`, `defineConfig(…)`, `defineConfig(({ mode })
//! => { return {…} })`, `module.exports = …`), constants are folded
//! (`const PORT = 4000`, template literals, `Number("4000")`,
//! `process.env.PORT || 5174`, `env.X` after `const env = loadEnv(…)`, a
//! spread constant object) and the settings doctor needs come back with
//! 1-based lines.
//!
//! Bounded: only files up to [`PARSE_LIMIT`] are parsed; a file nested
//! deeper than [`MAX_DEPTH`] brackets is refused before the parser sees it;
//! the parser runs on its own thread whose stack grows with the file (oxc's
//! descent is recursive), and every walk here counts its depth. `None` from
//! a reader means "not parsed" (too large, too deep, a syntax error): the
//! caller falls back to its text scan.

use oxc_allocator::Allocator;
use oxc_ast::ast::*;
use oxc_parser::Parser;
use oxc_span::{GetSpan, SourceType, Span};

/// Larger files are read by the text scan: a hand-written config is a few KiB.
pub const PARSE_LIMIT: usize = 128 * 1024;
/// The deepest bracket nesting parsed, and the deepest any walk here goes.
pub const MAX_DEPTH: usize = 64;
/// Stack for the parser's thread: a base plus this much per byte of source
/// (oxc measured at about 1.3–2.6 KiB a nesting level, one byte at least).
const STACK_BASE: usize = 2 << 20;
const STACK_PER_BYTE: usize = 4 << 10;
/// In dev, as doctor sees a stack: `process.env.NODE_ENV`, vite's `mode`
/// and `command`, next's phase.
const DEV_NODE_ENV: &str = "development";

/// A port setting: the port doctor expects (written, folded, or the value of
/// its env key in the env files), the env key that overrides it, the line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Port {
    pub port: Option<u16>,
    pub env: Option<String>,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    pub value: T,
    pub line: usize,
}

/// A dev-server proxy rule: the path it forwards and where to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    pub context: String,
    pub target: String,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Vite {
    pub port: Option<Port>,
    pub host: Option<Located<String>>,
    pub strict_port: Option<Located<bool>>,
    pub proxies: Vec<Proxy>,
    pub env_dir: Option<Located<String>>,
    pub root: Option<Located<String>>,
    pub preview_port: Option<Port>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Next {
    /// `rewrites()` destinations, in order.
    pub rewrites: Vec<Located<String>>,
    /// Keys of the `env` block.
    pub env_keys: Vec<Located<String>>,
}

/// webpack's `devServer` or CRA's `src/setupProxy.js`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DevServer {
    pub port: Option<Port>,
    pub proxies: Vec<Proxy>,
}

/// Looks an env key up in the env files a config's `loadEnv` reads.
pub type EnvLookup<'l> = &'l (dyn Fn(&str) -> Option<String> + Sync);

fn no_env(_: &str) -> Option<String> {
    None
}

/// A vite config (`vite.config.{js,ts,mjs,mts,cjs}`).
pub fn vite(text: &str, file: &str, env: EnvLookup) -> Option<Vite> {
    with_program(text, file, env, |cx, program| {
        let config = cx.config(program)?;
        let mut out = Vite::default();
        if let Some(server) = cx.get_object(config, "server", 0) {
            out.port = cx.port(server, "port");
            if let Some((e, v)) = cx.get_val(server, "host") {
                let host = match v {
                    Val::Bool(true) => Some("0.0.0.0".to_string()),
                    v => v.string(),
                };
                out.host = host.map(|value| Located {
                    value,
                    line: cx.line(e.span()),
                });
            }
            if let Some((e, Val::Bool(b))) = cx.get_val(server, "strictPort") {
                out.strict_port = Some(Located {
                    value: b,
                    line: cx.line(e.span()),
                });
            }
            if let Some((_, proxy)) = cx.get(server, "proxy", 0) {
                cx.proxies(proxy, &mut out.proxies);
            }
        }
        if let Some(preview) = cx.get_object(config, "preview", 0) {
            out.preview_port = cx.port(preview, "port");
        }
        out.env_dir = cx.get_string(config, "envDir");
        out.root = cx.get_string(config, "root");
        Some(out)
    })
}

/// A next config (`next.config.{js,mjs,ts,cjs}`).
pub fn next(text: &str, file: &str) -> Option<Next> {
    with_program(text, file, &no_env, |cx, program| {
        let config = cx.config(program)?;
        let mut out = Next::default();
        if let Some((_, rewrites)) = cx.get(config, "rewrites", 0) {
            let mut routes = Vec::new();
            cx.results(rewrites, 0, &mut routes);
            for list in routes {
                cx.rewrites(list, 0, &mut out.rewrites);
            }
        }
        if let Some(env) = cx.get_object(config, "env", 0) {
            cx.keys(env, 0, &mut out.env_keys);
        }
        Some(out)
    })
}

/// A webpack config's `devServer` (`webpack.config.js`).
pub fn webpack(text: &str, file: &str) -> Option<DevServer> {
    with_program(text, file, &no_env, |cx, program| {
        let mut out = DevServer::default();
        let root = cx.config(program)?;
        // An array of configs: the first with a devServer.
        let configs: Vec<&Expression> = match cx.eval(root, 0) {
            Val::Arr(a) => a
                .elements
                .iter()
                .filter_map(|e| e.as_expression())
                .collect(),
            _ => vec![root],
        };
        for config in configs {
            let Some(dev) = cx.get_object(config, "devServer", 0) else {
                continue;
            };
            out.port = cx.port(dev, "port");
            if let Some((_, proxy)) = cx.get(dev, "proxy", 0) {
                cx.proxies(proxy, &mut out.proxies);
            }
            break;
        }
        Some(out)
    })
}

/// CRA's `src/setupProxy.js`: every `createProxyMiddleware(…)` (or the old
/// `proxy(…)`) call, with the path `app.use(PATH, …)` mounts it on.
pub fn setup_proxy(text: &str, file: &str) -> Option<DevServer> {
    with_program(text, file, &no_env, |cx, program| {
        let mut out = DevServer::default();
        for s in &program.body {
            cx.find_proxy_calls_stmt(s, None, 0, &mut out.proxies);
        }
        Some(out)
    })
}

/// The deepest bracket nesting of JS text outside strings and comments
/// (template literals' `${…}` count as a level), stopping early past
/// `limit`. Regular expressions are not told from division: a bracket in
/// one counts, which only over-counts.
pub fn bracket_depth(text: &str, limit: usize) -> usize {
    #[derive(PartialEq)]
    enum Mode {
        Code,
        Template,
    }
    let b = text.as_bytes();
    let (mut i, mut depth, mut deepest) = (0, 0usize, 0usize);
    // For each open bracket: whether it is a template's `${`.
    let mut opens: Vec<bool> = Vec::new();
    let mut mode = Mode::Code;
    while i < b.len() {
        let c = b[i];
        if mode == Mode::Template {
            match c {
                b'\\' => i += 1,
                b'`' => mode = Mode::Code,
                b'$' if b.get(i + 1) == Some(&b'{') => {
                    i += 1;
                    opens.push(true);
                    depth += 1;
                    deepest = deepest.max(depth);
                    mode = Mode::Code;
                }
                _ => {}
            }
            i += 1;
            if deepest > limit {
                return deepest;
            }
            continue;
        }
        match c {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            b'\'' | b'"' => {
                i += 1;
                while i < b.len() && b[i] != c && b[i] != b'\n' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'`' => mode = Mode::Template,
            b'(' | b'[' | b'{' => {
                opens.push(false);
                depth += 1;
                deepest = deepest.max(depth);
                if deepest > limit {
                    return deepest;
                }
            }
            b')' | b']' | b'}' => {
                depth = depth.saturating_sub(1);
                if opens.pop() == Some(true) {
                    mode = Mode::Template;
                }
            }
            _ => {}
        }
        i += 1;
    }
    deepest
}

/// A module a file loads when it is evaluated: an `import … from`, an
/// `export … from`, or a `require("…")` in a top-level statement (not one
/// inside a function or a `try`: those run later, or may fail on purpose).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub spec: String,
    pub line: usize,
    /// An ESM `import`/`export … from` (else a CommonJS `require`).
    pub esm: bool,
}

/// The modules `text` (named `file`) loads at start, in source order;
/// `None` when it is not parsed (too large, too deep, a syntax error).
pub fn module_requests(text: &str, file: &str) -> Option<Vec<Request>> {
    with_program(text, file, &|_| None, |cx, program| {
        let mut out = Vec::new();
        let push = |spec: &str, span: Span, esm: bool, out: &mut Vec<Request>| {
            out.push(Request {
                spec: spec.to_string(),
                line: cx.line(span),
                esm,
            })
        };
        for st in &program.body {
            match st {
                Statement::ImportDeclaration(d) if !d.import_kind.is_type() => {
                    push(&d.source.value, d.span, true, &mut out)
                }
                Statement::ExportAllDeclaration(d) if !d.export_kind.is_type() => {
                    push(&d.source.value, d.span, true, &mut out)
                }
                Statement::ExportNamedDeclaration(d) if !d.export_kind.is_type() => {
                    if let Some(s) = &d.source {
                        push(&s.value, d.span, true, &mut out)
                    }
                }
                Statement::VariableDeclaration(d) => {
                    for v in &d.declarations {
                        if let Some(e) = &v.init {
                            requires(cx, e, 0, &mut out);
                        }
                    }
                }
                Statement::ExpressionStatement(e) => requires(cx, &e.expression, 0, &mut out),
                _ => {}
            }
        }
        Some(out)
    })
}

/// The `require("…")` calls evaluated with `e`: its callee chain and
/// arguments, never a function's body.
fn requires(cx: &Cx, e: &Expression, depth: usize, out: &mut Vec<Request>) {
    if depth > MAX_DEPTH {
        return;
    }
    match e.get_inner_expression() {
        Expression::CallExpression(c) => {
            if let Expression::Identifier(id) = c.callee.get_inner_expression() {
                if id.name == "require" {
                    if let Some(Argument::StringLiteral(s)) = c.arguments.first() {
                        out.push(Request {
                            spec: s.value.to_string(),
                            line: cx.line(c.span),
                            esm: false,
                        });
                    }
                    return;
                }
            }
            requires(cx, &c.callee, depth + 1, out);
            for a in &c.arguments {
                if let Some(a) = a.as_expression() {
                    requires(cx, a, depth + 1, out);
                }
            }
        }
        Expression::StaticMemberExpression(m) => requires(cx, &m.object, depth + 1, out),
        Expression::ComputedMemberExpression(m) => requires(cx, &m.object, depth + 1, out),
        Expression::AssignmentExpression(a) => requires(cx, &a.right, depth + 1, out),
        Expression::AwaitExpression(a) => requires(cx, &a.argument, depth + 1, out),
        Expression::SequenceExpression(s) => {
            for e in &s.expressions {
                requires(cx, e, depth + 1, out);
            }
        }
        _ => {}
    }
}

/// Parse `text` (named `file`, whose extension says JS or TS) on a thread
/// with room for the parser's descent and run `read` on the program; `None`
/// when the file is not parsed.
fn with_program<T: Send>(
    text: &str,
    file: &str,
    env: EnvLookup,
    read: impl for<'a> FnOnce(&Cx<'a, '_>, &'a Program<'a>) -> Option<T> + Send,
) -> Option<T> {
    if text.len() > PARSE_LIMIT || bracket_depth(text, MAX_DEPTH) > MAX_DEPTH {
        return None;
    }
    let source_type = SourceType::from_path(file).unwrap_or_else(|_| SourceType::mjs());
    let stack = STACK_BASE + STACK_PER_BYTE * text.len();
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("doctor-jsconfig".into())
            .stack_size(stack)
            .spawn_scoped(scope, move || {
                let allocator = Allocator::default();
                let parsed = Parser::new(&allocator, text, source_type).parse();
                if parsed.panicked || !parsed.errors.is_empty() {
                    return None;
                }
                let cx = Cx::new(text, env, &parsed.program);
                read(&cx, &parsed.program)
            })
            .ok()?;
        worker.join().ok().flatten()
    })
}

/// What an expression folds to, as far as doctor can tell without running it.
#[derive(Debug, Clone)]
enum Val<'a> {
    Str(String),
    Num(f64),
    Bool(bool),
    Obj(&'a ObjectExpression<'a>),
    Arr(&'a ArrayExpression<'a>),
    /// A function's body: `Expr` for `() => expr`.
    Func(&'a FunctionBody<'a>, bool),
    /// The object `loadEnv(…)` returns.
    EnvObject,
    /// An env variable: its key and the value it has in dev, when known
    /// (from the env files, or the fallback after `||` / `??`).
    Env(String, Option<Box<Val<'a>>>),
    Unknown,
}

impl<'a> Val<'a> {
    /// The value in dev, env variables looked through.
    fn settled(&self) -> &Val<'a> {
        let mut v = self;
        while let Val::Env(_, Some(inner)) = v {
            v = inner;
        }
        v
    }

    fn string(&self) -> Option<String> {
        match self.settled() {
            Val::Str(s) => Some(s.clone()),
            Val::Num(n) if n.fract() == 0.0 => Some(format!("{n}")),
            _ => None,
        }
    }

    fn number(&self) -> Option<f64> {
        match self.settled() {
            Val::Num(n) => Some(*n),
            Val::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    fn truthy(&self) -> Option<bool> {
        Some(match self.settled() {
            Val::Str(s) => !s.is_empty(),
            Val::Num(n) => *n != 0.0 && !n.is_nan(),
            Val::Bool(b) => *b,
            Val::Obj(_) | Val::Arr(_) | Val::Func(..) | Val::EnvObject => true,
            Val::Env(..) | Val::Unknown => return None,
        })
    }

    fn env_key(&self) -> Option<&str> {
        match self {
            Val::Env(k, _) => Some(k),
            _ => None,
        }
    }
}

/// A name bound in the config's scope.
enum Binding<'a> {
    Expr(&'a Expression<'a>),
    /// `const { VITE_PORT } = loadEnv(…)`.
    EnvKey(String),
}

struct Cx<'a, 'l> {
    text: &'a str,
    /// Byte offsets where each line starts.
    lines: Vec<usize>,
    env: EnvLookup<'l>,
    /// Top-level bindings, then those of the config function's body; the
    /// last of a name wins.
    scope: std::cell::RefCell<Vec<(&'a str, Binding<'a>)>>,
}

impl<'a, 'l> Cx<'a, 'l> {
    fn new(text: &'a str, env: EnvLookup<'l>, program: &'a Program<'a>) -> Self {
        let mut lines = vec![0];
        lines.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        let cx = Cx {
            text,
            lines,
            env,
            scope: Default::default(),
        };
        for s in &program.body {
            match s {
                Statement::VariableDeclaration(d) => cx.bind(d),
                Statement::ExportNamedDeclaration(e) => {
                    if let Some(Declaration::VariableDeclaration(d)) = &e.declaration {
                        cx.bind(d);
                    }
                }
                _ => {}
            }
        }
        cx
    }

    fn line(&self, span: Span) -> usize {
        let at = (span.start as usize).min(self.text.len());
        self.lines.partition_point(|&start| start <= at).max(1)
    }

    fn bind(&self, d: &'a VariableDeclaration<'a>) {
        let mut scope = self.scope.borrow_mut();
        for v in &d.declarations {
            let Some(init) = &v.init else { continue };
            match &v.id.kind {
                BindingPatternKind::BindingIdentifier(id) => {
                    scope.push((id.name.as_str(), Binding::Expr(init)))
                }
                // `const { VITE_PORT: port } = loadEnv(…)`
                BindingPatternKind::ObjectPattern(p) if is_load_env(init) => {
                    for prop in &p.properties {
                        let (Some(key), BindingPatternKind::BindingIdentifier(id)) =
                            (prop.key.static_name(), &prop.value.kind)
                        else {
                            continue;
                        };
                        scope.push((id.name.as_str(), Binding::EnvKey(key.to_string())));
                    }
                }
                _ => {}
            }
        }
    }

    /// The exported config: `export default …` or `module.exports = …`,
    /// through `defineConfig(…)` and a config function's returned object.
    fn config(&self, program: &'a Program<'a>) -> Option<&'a Expression<'a>> {
        let mut exported = None;
        for s in &program.body {
            match s {
                Statement::ExportDefaultDeclaration(e) => match &e.declaration {
                    ExportDefaultDeclarationKind::FunctionDeclaration(f) => {
                        if let Some(body) = &f.body {
                            return self.returned(body, false, 0).into_iter().next();
                        }
                    }
                    kind => exported = kind.as_expression(),
                },
                Statement::ExpressionStatement(e) => {
                    if let Expression::AssignmentExpression(a) = &e.expression {
                        if is_module_exports(&a.left) {
                            exported = Some(&a.right);
                        }
                    }
                }
                _ => {}
            }
        }
        let mut expr = exported?;
        for depth in 0..MAX_DEPTH {
            match self.eval(expr, depth) {
                Val::Func(body, is_expr) => {
                    expr = self.returned(body, is_expr, depth).into_iter().next()?;
                }
                Val::Obj(_) | Val::Arr(_) => return Some(self.resolve(expr, depth)),
                _ => return None,
            }
        }
        None
    }

    /// Through identifiers, `defineConfig(…)` and the like, to the
    /// expression that holds the value.
    fn resolve(&self, expr: &'a Expression<'a>, depth: usize) -> &'a Expression<'a> {
        let mut e = expr.get_inner_expression();
        for _ in depth..MAX_DEPTH {
            e = match e {
                Expression::Identifier(id) => match self.lookup(id.name.as_str()) {
                    Some(init) => init.get_inner_expression(),
                    None => return e,
                },
                Expression::CallExpression(c) if is_identity_call(&c.callee) => {
                    match c.arguments.first().and_then(|a| a.as_expression()) {
                        Some(a) => a.get_inner_expression(),
                        None => return e,
                    }
                }
                Expression::AwaitExpression(a) => a.argument.get_inner_expression(),
                _ => return e,
            };
        }
        e
    }

    fn lookup(&self, name: &str) -> Option<&'a Expression<'a>> {
        self.scope
            .borrow()
            .iter()
            .rev()
            .find(|(n, _)| *n == name)
            .and_then(|(_, b)| match b {
                Binding::Expr(e) => Some(*e),
                Binding::EnvKey(_) => None,
            })
    }

    /// The expressions a function returns: its body's top-level `return`s
    /// (and those of top-level `if` blocks), its declarations bound first.
    fn returned(
        &self,
        body: &'a FunctionBody<'a>,
        is_expr: bool,
        depth: usize,
    ) -> Vec<&'a Expression<'a>> {
        let mut out = Vec::new();
        if is_expr {
            if let Some(Statement::ExpressionStatement(e)) = body.statements.first() {
                out.push(&e.expression);
            }
            return out;
        }
        self.returns_in(&body.statements, depth, &mut out);
        out
    }

    fn returns_in(
        &self,
        statements: &'a [Statement<'a>],
        depth: usize,
        out: &mut Vec<&'a Expression<'a>>,
    ) {
        if depth > MAX_DEPTH {
            return;
        }
        for s in statements {
            match s {
                Statement::VariableDeclaration(d) => self.bind(d),
                Statement::ReturnStatement(r) => {
                    if let Some(a) = &r.argument {
                        out.push(a);
                    }
                    return;
                }
                Statement::BlockStatement(b) => self.returns_in(&b.body, depth + 1, out),
                Statement::IfStatement(i) => {
                    let branches: Vec<&'a Statement<'a>> =
                        match self.eval(&i.test, depth + 1).truthy() {
                            Some(true) => vec![&i.consequent],
                            Some(false) => i.alternate.iter().collect(),
                            None => std::iter::once(&i.consequent)
                                .chain(i.alternate.as_ref())
                                .collect(),
                        };
                    for b in branches {
                        self.returns_in(std::slice::from_ref(b), depth + 1, out);
                    }
                }
                _ => {}
            }
        }
    }

    /// Fold an expression.
    fn eval(&self, expr: &'a Expression<'a>, depth: usize) -> Val<'a> {
        if depth > MAX_DEPTH {
            return Val::Unknown;
        }
        let d = depth + 1;
        match expr.get_inner_expression() {
            Expression::StringLiteral(s) => Val::Str(s.value.to_string()),
            Expression::NumericLiteral(n) => Val::Num(n.value),
            Expression::BooleanLiteral(b) => Val::Bool(b.value),
            Expression::TemplateLiteral(t) => {
                let mut out = String::new();
                for (i, q) in t.quasis.iter().enumerate() {
                    out.push_str(q.value.cooked.as_ref().map_or("", |c| c.as_str()));
                    if let Some(e) = t.expressions.get(i) {
                        match self.eval(e, d).string() {
                            Some(s) => out.push_str(&s),
                            None => return Val::Unknown,
                        }
                    }
                }
                Val::Str(out)
            }
            Expression::Identifier(id) => {
                let name = id.name.as_str();
                let bound = self
                    .scope
                    .borrow()
                    .iter()
                    .rev()
                    .find(|(n, _)| *n == name)
                    .map(|(_, b)| match b {
                        Binding::Expr(e) => Ok(*e),
                        Binding::EnvKey(k) => Err(k.clone()),
                    });
                match bound {
                    Some(Ok(e)) => self.eval(e, d),
                    Some(Err(key)) => self.env_value(key),
                    // vite's config function's `mode`/`command`, next's phase.
                    None => match name {
                        "mode" => Val::Str(DEV_NODE_ENV.into()),
                        "command" => Val::Str("serve".into()),
                        "phase" | "PHASE_DEVELOPMENT_SERVER" => {
                            Val::Str("phase-development-server".into())
                        }
                        _ => Val::Unknown,
                    },
                }
            }
            Expression::ObjectExpression(o) => Val::Obj(o),
            Expression::ArrayExpression(a) => Val::Arr(a),
            Expression::ArrowFunctionExpression(f) => Val::Func(&f.body, f.expression),
            Expression::FunctionExpression(f) => match &f.body {
                Some(b) => Val::Func(b, false),
                None => Val::Unknown,
            },
            Expression::AwaitExpression(a) => self.eval(&a.argument, d),
            Expression::CallExpression(c) => self.eval_call(c, d),
            Expression::StaticMemberExpression(m) => {
                self.member(&m.object, m.property.name.as_str(), d)
            }
            Expression::ComputedMemberExpression(m) => match self.eval(&m.expression, d).string() {
                Some(key) => self.member(&m.object, &key, d),
                None => Val::Unknown,
            },
            Expression::LogicalExpression(l) => {
                let left = self.eval(&l.left, d);
                match (l.operator, &left) {
                    // `process.env.PORT || 5174`: 5174 unless PORT is set.
                    (LogicalOperator::Or | LogicalOperator::Coalesce, Val::Env(k, None)) => {
                        Val::Env(k.clone(), Some(Box::new(self.eval(&l.right, d))))
                    }
                    (LogicalOperator::Or, _) => match left.truthy() {
                        Some(true) => left,
                        Some(false) => self.eval(&l.right, d),
                        None => Val::Unknown,
                    },
                    (LogicalOperator::Coalesce, Val::Unknown) => Val::Unknown,
                    (LogicalOperator::Coalesce, _) => left,
                    (LogicalOperator::And, _) => match left.truthy() {
                        Some(true) => self.eval(&l.right, d),
                        Some(false) => left,
                        None => Val::Unknown,
                    },
                }
            }
            Expression::ConditionalExpression(c) => match self.eval(&c.test, d).truthy() {
                Some(true) => self.eval(&c.consequent, d),
                Some(false) => self.eval(&c.alternate, d),
                None => Val::Unknown,
            },
            Expression::UnaryExpression(u) if u.operator == UnaryOperator::UnaryPlus => {
                to_number(self.eval(&u.argument, d), false)
            }
            Expression::UnaryExpression(u) if u.operator == UnaryOperator::LogicalNot => {
                match self.eval(&u.argument, d).truthy() {
                    Some(b) => Val::Bool(!b),
                    None => Val::Unknown,
                }
            }
            Expression::BinaryExpression(b) => {
                let (l, r) = (self.eval(&b.left, d), self.eval(&b.right, d));
                let same = || -> Option<bool> {
                    Some(match (l.settled(), r.settled()) {
                        (Val::Str(a), Val::Str(b)) => a == b,
                        (Val::Num(a), Val::Num(b)) => a == b,
                        (Val::Bool(a), Val::Bool(b)) => a == b,
                        _ => return None,
                    })
                };
                match b.operator {
                    BinaryOperator::StrictEquality | BinaryOperator::Equality => {
                        same().map_or(Val::Unknown, Val::Bool)
                    }
                    BinaryOperator::StrictInequality | BinaryOperator::Inequality => {
                        same().map_or(Val::Unknown, |s| Val::Bool(!s))
                    }
                    BinaryOperator::Addition => match (l.settled(), r.settled()) {
                        (Val::Num(a), Val::Num(b)) => Val::Num(a + b),
                        (Val::Str(_), _) | (_, Val::Str(_)) => match (l.string(), r.string()) {
                            (Some(a), Some(b)) => Val::Str(a + &b),
                            _ => Val::Unknown,
                        },
                        _ => Val::Unknown,
                    },
                    _ => Val::Unknown,
                }
            }
            _ => Val::Unknown,
        }
    }

    fn eval_call(&self, c: &'a CallExpression<'a>, d: usize) -> Val<'a> {
        let first = c.arguments.first().and_then(|a| a.as_expression());
        if is_identity_call(&c.callee) {
            return first.map_or(Val::Unknown, |a| self.eval(a, d));
        }
        if is_load_env_callee(&c.callee) {
            return Val::EnvObject;
        }
        let Expression::Identifier(id) = c.callee.get_inner_expression() else {
            return Val::Unknown;
        };
        let Some(arg) = first else {
            return Val::Unknown;
        };
        match id.name.as_str() {
            "Number" | "parseInt" | "parseFloat" => {
                let v = self.eval(arg, d);
                to_number(v, id.name.as_str() == "parseInt")
            }
            "String" => match self.eval(arg, d).string() {
                Some(s) => Val::Str(s),
                None => Val::Unknown,
            },
            _ => Val::Unknown,
        }
    }

    /// `OBJECT.key`: env variables of `process.env`, `import.meta.env` and
    /// `loadEnv`'s object; a property of a folded object.
    fn member(&self, object: &'a Expression<'a>, key: &str, d: usize) -> Val<'a> {
        let object = object.get_inner_expression();
        if object.is_specific_member_access("process", "env") || is_import_meta_env(object) {
            if key == "NODE_ENV" {
                return Val::Env(key.into(), Some(Box::new(Val::Str(DEV_NODE_ENV.into()))));
            }
            return Val::Env(key.into(), None);
        }
        match self.eval(object, d) {
            Val::EnvObject => self.env_value(key.to_string()),
            Val::Obj(o) => match self.get_in(o, key, d) {
                Some(e) => self.eval(e, d),
                None => Val::Unknown,
            },
            _ => Val::Unknown,
        }
    }

    fn env_value(&self, key: String) -> Val<'a> {
        let known = if key == "NODE_ENV" {
            Some(DEV_NODE_ENV.to_string())
        } else {
            (self.env)(&key)
        };
        Val::Env(key, known.map(|v| Box::new(Val::Str(v))))
    }

    /// The value expression of `key` in an object literal (the last one
    /// written wins; a spread constant object is looked into).
    fn get_in(
        &self,
        o: &'a ObjectExpression<'a>,
        key: &str,
        depth: usize,
    ) -> Option<&'a Expression<'a>> {
        if depth > MAX_DEPTH {
            return None;
        }
        for p in o.properties.iter().rev() {
            match p {
                ObjectPropertyKind::ObjectProperty(p) => {
                    if p.key.static_name().is_some_and(|n| n == key) {
                        return Some(&p.value);
                    }
                }
                ObjectPropertyKind::SpreadProperty(s) => {
                    if let Val::Obj(inner) = self.eval(&s.argument, depth + 1) {
                        if let Some(e) = self.get_in(inner, key, depth + 1) {
                            return Some(e);
                        }
                    }
                }
            }
        }
        None
    }

    /// `key` of the object `expr` folds to, with its folded value.
    fn get(
        &self,
        expr: &'a Expression<'a>,
        key: &str,
        depth: usize,
    ) -> Option<(&'a Expression<'a>, Val<'a>)> {
        let Val::Obj(o) = self.eval(expr, depth) else {
            return None;
        };
        let e = self.get_in(o, key, depth)?;
        Some((e, self.eval(e, depth + 1)))
    }

    fn get_val(
        &self,
        expr: &'a Expression<'a>,
        key: &str,
    ) -> Option<(&'a Expression<'a>, Val<'a>)> {
        self.get(expr, key, 0)
    }

    fn get_object(
        &self,
        expr: &'a Expression<'a>,
        key: &str,
        depth: usize,
    ) -> Option<&'a Expression<'a>> {
        let (e, v) = self.get(expr, key, depth)?;
        matches!(v, Val::Obj(_)).then(|| self.resolve(e, depth))
    }

    fn get_string(&self, expr: &'a Expression<'a>, key: &str) -> Option<Located<String>> {
        let (e, v) = self.get(expr, key, 0)?;
        let value = v.string().or_else(|| self.path_call(e))?;
        Some(Located {
            value,
            line: self.line(e.span()),
        })
    }

    /// `path.resolve(__dirname, "web")`, `fileURLToPath(new URL("./web",
    /// import.meta.url))` stay unknown; the relative parts of a
    /// `path.resolve`/`path.join` from `__dirname` or `process.cwd()` are kept.
    fn path_call(&self, e: &'a Expression<'a>) -> Option<String> {
        let Expression::CallExpression(c) = e.get_inner_expression() else {
            return None;
        };
        let callee = c.callee.get_inner_expression();
        if !(callee.is_specific_member_access("path", "resolve")
            || callee.is_specific_member_access("path", "join")
            || callee.is_specific_id("resolve")
            || callee.is_specific_id("join"))
        {
            return None;
        }
        let mut parts = Vec::new();
        for (i, a) in c.arguments.iter().enumerate() {
            let a = a.as_expression()?;
            let here = a.is_specific_id("__dirname")
                || matches!(a.get_inner_expression(), Expression::CallExpression(p)
                    if p.callee.is_specific_member_access("process", "cwd"));
            if i == 0 && here {
                continue;
            }
            parts.push(self.eval(a, 1).string()?);
        }
        Some(if parts.is_empty() {
            ".".into()
        } else {
            parts.join("/")
        })
    }

    fn port(&self, obj: &'a Expression<'a>, key: &str) -> Option<Port> {
        let (e, v) = self.get(obj, key, 0)?;
        let port = v
            .number()
            .filter(|n| n.fract() == 0.0 && (1.0..=65535.0).contains(n))
            .map(|n| n as u16);
        let env = v.env_key().map(String::from);
        (port.is_some() || env.is_some()).then(|| Port {
            port,
            env,
            line: self.line(e.span()),
        })
    }

    /// A proxy setting: `{ '/api': 'http://…' | { target } }` (vite,
    /// webpack) or `[{ context: [...], target }]` (webpack-dev-server 4+).
    fn proxies(&self, proxy: Val<'a>, out: &mut Vec<Proxy>) {
        match proxy {
            Val::Obj(o) => {
                for p in &o.properties {
                    let ObjectPropertyKind::ObjectProperty(p) = p else {
                        continue;
                    };
                    let Some(context) = p.key.static_name() else {
                        continue;
                    };
                    if let Some((target, line)) = self.target(&p.value) {
                        out.push(Proxy {
                            context: context.to_string(),
                            target,
                            line,
                        });
                    }
                }
            }
            Val::Arr(a) => {
                for e in a.elements.iter().filter_map(|e| e.as_expression()) {
                    let Some((target, line)) = self.target(e) else {
                        continue;
                    };
                    let context = match self.get(e, "context", 0).map(|(_, v)| v) {
                        Some(Val::Arr(list)) => list
                            .elements
                            .iter()
                            .filter_map(|c| self.eval(c.as_expression()?, 1).string())
                            .collect::<Vec<_>>()
                            .join(","),
                        Some(v) => v.string().unwrap_or_default(),
                        None => String::new(),
                    };
                    out.push(Proxy {
                        context,
                        target,
                        line,
                    });
                }
            }
            _ => {}
        }
    }

    /// The target URL of a proxy entry: a string, or an object's `target`.
    fn target(&self, e: &'a Expression<'a>) -> Option<(String, usize)> {
        match self.eval(e, 0) {
            Val::Obj(_) => {
                let (t, v) = self.get(e, "target", 0)?;
                Some((v.string()?, self.line(t.span())))
            }
            v => Some((v.string()?, self.line(e.span()))),
        }
    }

    /// What a setting that may be a function (`async rewrites() {…}`)
    /// yields: the value itself, or each expression the function returns.
    fn results(&self, v: Val<'a>, depth: usize, out: &mut Vec<&'a Expression<'a>>) {
        if let Val::Func(body, is_expr) = v {
            out.extend(self.returned(body, is_expr, depth));
        }
    }

    /// Rewrite destinations of a list of rewrites, of `{ beforeFiles,
    /// afterFiles, fallback }`, and of both sides of an undecided ternary.
    fn rewrites(&self, e: &'a Expression<'a>, depth: usize, out: &mut Vec<Located<String>>) {
        if depth > MAX_DEPTH {
            return;
        }
        let e = self.resolve(e, depth);
        if let Expression::ConditionalExpression(c) = e {
            if self.eval(&c.test, depth + 1).truthy().is_none() {
                self.rewrites(&c.consequent, depth + 1, out);
                self.rewrites(&c.alternate, depth + 1, out);
                return;
            }
        }
        match self.eval(e, depth + 1) {
            Val::Arr(a) => {
                for item in &a.elements {
                    match item {
                        ArrayExpressionElement::SpreadElement(s) => {
                            self.rewrites(&s.argument, depth + 1, out)
                        }
                        item => {
                            let Some(item) = item.as_expression() else {
                                continue;
                            };
                            if let Some(dest) = self.destination(item, depth + 1) {
                                out.push(dest);
                            }
                        }
                    }
                }
            }
            Val::Obj(o) => {
                for key in ["beforeFiles", "afterFiles", "fallback"] {
                    if let Some(list) = self.get_in(o, key, depth + 1) {
                        self.rewrites(list, depth + 1, out);
                    }
                }
            }
            _ => {}
        }
    }

    fn destination(&self, item: &'a Expression<'a>, depth: usize) -> Option<Located<String>> {
        let Val::Obj(o) = self.eval(item, depth) else {
            return None;
        };
        let e = self.get_in(o, "destination", depth)?;
        let value = self.eval(e, depth + 1).string()?;
        // A ternary's chosen side is where the URL is written.
        let at = match e.get_inner_expression() {
            Expression::ConditionalExpression(c) => match self.eval(&c.test, depth + 1).truthy() {
                Some(true) => c.consequent.span(),
                _ => c.alternate.span(),
            },
            other => other.span(),
        };
        Some(Located {
            value,
            line: self.line(at),
        })
    }

    fn keys(&self, e: &'a Expression<'a>, depth: usize, out: &mut Vec<Located<String>>) {
        if depth > MAX_DEPTH {
            return;
        }
        let Val::Obj(o) = self.eval(e, depth) else {
            return;
        };
        for p in &o.properties {
            match p {
                ObjectPropertyKind::ObjectProperty(p) => {
                    if let Some(k) = p.key.static_name() {
                        out.push(Located {
                            value: k.to_string(),
                            line: self.line(p.key.span()),
                        });
                    }
                }
                ObjectPropertyKind::SpreadProperty(s) => self.keys(&s.argument, depth + 1, out),
            }
        }
    }

    /// setupProxy.js: proxy calls anywhere in the statements (inside
    /// `module.exports = function (app) {…}`), `mount` the path of the
    /// `app.use(PATH, …)` around them.
    fn find_proxy_calls_stmt(
        &self,
        s: &'a Statement<'a>,
        mount: Option<&str>,
        depth: usize,
        out: &mut Vec<Proxy>,
    ) {
        if depth > MAX_DEPTH {
            return;
        }
        let d = depth + 1;
        match s {
            Statement::ExpressionStatement(e) => {
                self.find_proxy_calls(&e.expression, mount, d, out)
            }
            Statement::BlockStatement(b) => {
                for s in &b.body {
                    self.find_proxy_calls_stmt(s, mount, d, out);
                }
            }
            Statement::IfStatement(i) => {
                self.find_proxy_calls_stmt(&i.consequent, mount, d, out);
                if let Some(a) = &i.alternate {
                    self.find_proxy_calls_stmt(a, mount, d, out);
                }
            }
            Statement::ReturnStatement(r) => {
                if let Some(a) = &r.argument {
                    self.find_proxy_calls(a, mount, d, out);
                }
            }
            Statement::VariableDeclaration(v) => {
                self.bind(v);
                for init in v.declarations.iter().filter_map(|v| v.init.as_ref()) {
                    self.find_proxy_calls(init, mount, d, out);
                }
            }
            Statement::FunctionDeclaration(f) => {
                for s in f.body.iter().flat_map(|b| &b.statements) {
                    self.find_proxy_calls_stmt(s, mount, d, out);
                }
            }
            Statement::ExportDefaultDeclaration(e) => match &e.declaration {
                ExportDefaultDeclarationKind::FunctionDeclaration(f) => {
                    for s in f.body.iter().flat_map(|b| &b.statements) {
                        self.find_proxy_calls_stmt(s, mount, d, out);
                    }
                }
                kind => {
                    if let Some(e) = kind.as_expression() {
                        self.find_proxy_calls(e, mount, d, out);
                    }
                }
            },
            _ => {}
        }
    }

    fn find_proxy_calls(
        &self,
        e: &'a Expression<'a>,
        mount: Option<&str>,
        depth: usize,
        out: &mut Vec<Proxy>,
    ) {
        if depth > MAX_DEPTH {
            return;
        }
        let d = depth + 1;
        match e.get_inner_expression() {
            Expression::CallExpression(c) => {
                let args: Vec<&'a Expression<'a>> = c
                    .arguments
                    .iter()
                    .filter_map(|a| a.as_expression())
                    .collect();
                if is_proxy_callee(&c.callee) {
                    // (context?, options) or (options with pathFilter/context).
                    let options = args
                        .iter()
                        .rev()
                        .find(|a| matches!(self.eval(a, d), Val::Obj(_)));
                    let Some(options) = options else { return };
                    let Some((target, line)) = self.target(options) else {
                        return;
                    };
                    let written = args
                        .first()
                        .filter(|a| !std::ptr::eq(**a, *options))
                        .and_then(|a| self.context(a, d))
                        .or_else(|| {
                            ["pathFilter", "context"].iter().find_map(|k| {
                                self.get(options, k, d)
                                    .and_then(|(e, _)| self.context(e, d))
                            })
                        });
                    out.push(Proxy {
                        context: written
                            .or(mount.map(String::from))
                            .unwrap_or_else(|| "/".into()),
                        target,
                        line,
                    });
                    return;
                }
                // `app.use('/api', proxy(…))`: the path it is mounted on.
                let here = match (&c.callee, args.first()) {
                    (Expression::StaticMemberExpression(m), Some(first))
                        if m.property.name == "use" =>
                    {
                        self.context(first, d)
                    }
                    _ => None,
                };
                let mount = here.as_deref().or(mount);
                self.find_proxy_calls(&c.callee, mount, d, out);
                for a in args {
                    self.find_proxy_calls(a, mount, d, out);
                }
            }
            Expression::ArrowFunctionExpression(f) => {
                for s in &f.body.statements {
                    self.find_proxy_calls_stmt(s, mount, d, out);
                }
            }
            Expression::FunctionExpression(f) => {
                for s in f.body.iter().flat_map(|b| &b.statements) {
                    self.find_proxy_calls_stmt(s, mount, d, out);
                }
            }
            Expression::AssignmentExpression(a) => self.find_proxy_calls(&a.right, mount, d, out),
            Expression::SequenceExpression(s) => {
                for e in &s.expressions {
                    self.find_proxy_calls(e, mount, d, out);
                }
            }
            Expression::StaticMemberExpression(m) => {
                self.find_proxy_calls(&m.object, mount, d, out)
            }
            _ => {}
        }
    }

    /// A proxy's path: a string, or a list of them joined by commas.
    fn context(&self, e: &'a Expression<'a>, d: usize) -> Option<String> {
        match self.eval(e, d) {
            Val::Arr(a) => {
                let parts: Vec<String> = a
                    .elements
                    .iter()
                    .filter_map(|c| self.eval(c.as_expression()?, d + 1).string())
                    .collect();
                (!parts.is_empty()).then(|| parts.join(","))
            }
            v => v.string().filter(|s| s.starts_with('/')),
        }
    }
}

fn to_number(v: Val<'_>, integer: bool) -> Val<'_> {
    match v {
        Val::Env(k, inner) => Val::Env(k, inner.map(|i| Box::new(to_number(*i, integer)))),
        v => match v.number() {
            Some(n) if integer => Val::Num(n.trunc()),
            Some(n) => Val::Num(n),
            // `Number(undefined)` is NaN: falsy, so `|| 5174` takes over.
            None => Val::Num(f64::NAN),
        },
    }
}

/// `defineConfig(…)` and its kin return their argument.
fn is_identity_call(callee: &Expression) -> bool {
    let name = match callee.get_inner_expression() {
        Expression::Identifier(id) => id.name.as_str(),
        Expression::StaticMemberExpression(m) => m.property.name.as_str(),
        _ => return false,
    };
    matches!(name, "defineConfig" | "defineNextConfig")
}

fn is_load_env_callee(callee: &Expression) -> bool {
    match callee.get_inner_expression() {
        Expression::Identifier(id) => id.name == "loadEnv",
        Expression::StaticMemberExpression(m) => m.property.name == "loadEnv",
        _ => false,
    }
}

fn is_load_env(init: &Expression) -> bool {
    matches!(init.get_inner_expression(), Expression::CallExpression(c) if is_load_env_callee(&c.callee))
}

fn is_proxy_callee(callee: &Expression) -> bool {
    match callee.get_inner_expression() {
        Expression::Identifier(id) => matches!(
            id.name.as_str(),
            "createProxyMiddleware" | "legacyCreateProxyMiddleware" | "proxy"
        ),
        Expression::StaticMemberExpression(m) => m.property.name == "createProxyMiddleware",
        _ => false,
    }
}

fn is_import_meta_env(e: &Expression) -> bool {
    matches!(e, Expression::StaticMemberExpression(m)
        if m.property.name == "env" && matches!(&m.object, Expression::MetaProperty(_)))
}

fn is_module_exports(target: &AssignmentTarget) -> bool {
    match target {
        AssignmentTarget::StaticMemberExpression(m) => {
            (m.property.name == "exports" && m.object.is_specific_id("module"))
                || (m.property.name == "default"
                    && m.object.is_specific_member_access("module", "exports"))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vite_js(text: &str) -> Vite {
        vite(text, "vite.config.js", &no_env).expect("parsed")
    }

    fn port(port: u16, env: Option<&str>, line: usize) -> Option<Port> {
        Some(Port {
            port: Some(port),
            env: env.map(String::from),
            line,
        })
    }

    fn proxy(context: &str, target: &str, line: usize) -> Proxy {
        Proxy {
            context: context.into(),
            target: target.into(),
            line,
        }
    }

    #[test]
    fn one_line_server_block() {
        let c = vite_js(
            "import { defineConfig } from 'vite'\nexport default defineConfig({\n  server: { host: '127.0.0.1', port: 4000, strictPort: true, proxy: { '/api': { target: 'http://127.0.0.1:8000', changeOrigin: true } } },\n})\n",
        );
        assert_eq!(c.port, port(4000, None, 3));
        assert_eq!(c.host.unwrap().value, "127.0.0.1");
        assert_eq!(c.strict_port.map(|s| s.value), Some(true));
        assert_eq!(c.proxies, [proxy("/api", "http://127.0.0.1:8000", 3)]);
    }

    #[test]
    fn constants_templates_and_conversions() {
        let c = vite_js(
            "const PORT = 4000\nconst API = 8001\nconst HOST = `localhost`\nexport default {\n  server: {\n    port: PORT,\n    host: HOST,\n    proxy: {\n      '/api': `http://localhost:${API}`,\n      '/ws': { target: 'ws://localhost:' + API, ws: true },\n    },\n  },\n  preview: { port: Number(\"4173\") },\n}\n",
        );
        assert_eq!(c.port, port(4000, None, 6));
        assert_eq!(c.host.unwrap().value, "localhost");
        assert_eq!(
            c.proxies,
            [
                proxy("/api", "http://localhost:8001", 9),
                proxy("/ws", "ws://localhost:8001", 10)
            ]
        );
        assert_eq!(c.preview_port, port(4173, None, 13));
        let c = vite_js("export default { server: { port: parseInt('5180', 10) } }");
        assert_eq!(c.port, port(5180, None, 1));
    }

    #[test]
    fn env_fallbacks_record_their_key() {
        let c = vite_js(
            "export default {\n  server: {\n    port: Number(process.env.PORT) || 5174,\n  },\n  preview: { port: process.env.PREVIEW_PORT ?? 4173 },\n}\n",
        );
        assert_eq!(c.port, port(5174, Some("PORT"), 3));
        assert_eq!(c.preview_port, port(4173, Some("PREVIEW_PORT"), 5));
        // No fallback: the port is the env's, unknown here.
        let c = vite_js(
            "export default { server: { port: +process.env.PORT, host: process.env.HOST } }",
        );
        assert_eq!(
            c.port,
            Some(Port {
                port: None,
                env: Some("PORT".into()),
                line: 1
            })
        );
        assert_eq!(c.host, None);
        let c = vite_js("export default { server: { port: Number(process.env.PORT) } }");
        assert_eq!(
            c.port,
            Some(Port {
                port: None,
                env: Some("PORT".into()),
                line: 1
            })
        );
    }

    #[test]
    fn load_env_reads_the_env_files() {
        let text = "import { defineConfig, loadEnv } from 'vite'\n\nexport default defineConfig(({ mode }) => {\n  const env = loadEnv(mode, process.cwd(), '')\n  return {\n    server: {\n      port: Number(env.VITE_PORT) || 5173,\n      proxy: { '/api': env.VITE_API_URL },\n    },\n  }\n})\n";
        let files = |k: &str| match k {
            "VITE_PORT" => Some("5174".to_string()),
            "VITE_API_URL" => Some("http://localhost:8002".to_string()),
            _ => None,
        };
        let c = vite(text, "vite.config.ts", &files).unwrap();
        assert_eq!(c.port, port(5174, Some("VITE_PORT"), 7));
        assert_eq!(c.proxies, [proxy("/api", "http://localhost:8002", 8)]);
        // Not in the env files: the fallback.
        let c = vite(text, "vite.config.ts", &no_env).unwrap();
        assert_eq!(c.port, port(5173, Some("VITE_PORT"), 7));
        assert!(c.proxies.is_empty());
        // Destructured.
        let c = vite(
            "const { VITE_PORT } = loadEnv('development', __dirname)\nexport default { server: { port: +VITE_PORT || 3000 } }",
            "vite.config.mjs",
            &files,
        );
        assert_eq!(c.unwrap().port, port(5174, Some("VITE_PORT"), 2));
    }

    #[test]
    fn define_config_forms() {
        for (text, line) in [
            ("export default defineConfig({ server: { port: 4001 } })", 1),
            ("export default defineConfig(() => ({\n  server: { port: 4001 },\n}))", 2),
            (
                "export default defineConfig(({ mode, command }) => {\n  const port = mode === 'development' ? 4001 : 80\n  if (command === 'build') {\n    return { build: {} }\n  }\n  return {\n    server: { port },\n  }\n})",
                7,
            ),
            (
                "export default defineConfig(async function ({ mode }) {\n  return { server: { port: 4001 } }\n})",
                2,
            ),
            ("const config = { server: { port: 4001 } }\nexport default config", 1),
            (
                "import type { UserConfig } from 'vite'\nexport default {\n  server: { port: 4001 as number },\n} satisfies UserConfig",
                3,
            ),
            ("module.exports = { server: { port: 4001 } }", 1),
            ("export default function () { return { server: { port: 4001 } } }", 1),
        ] {
            let c = vite(text, "vite.config.ts", &no_env).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(c.port, port(4001, None, line), "{text}");
        }
    }

    #[test]
    fn spread_constant_object_env_dir_and_root() {
        let c = vite_js(
            "import path from 'node:path'\nconst shared = { port: 4100, host: true }\nexport default {\n  root: 'web',\n  envDir: path.resolve(__dirname, 'env'),\n  server: { ...shared, strictPort: false },\n}\n",
        );
        assert_eq!(c.port, port(4100, None, 2));
        assert_eq!(c.host.unwrap().value, "0.0.0.0");
        assert!(!c.strict_port.unwrap().value);
        assert_eq!(
            c.root.unwrap(),
            Located {
                value: "web".into(),
                line: 4
            }
        );
        assert_eq!(
            c.env_dir.unwrap(),
            Located {
                value: "env".into(),
                line: 5
            }
        );
        // A later key wins over the spread.
        let c = vite_js("const s = { port: 1 }\nexport default { server: { ...s, port: 4200 } }");
        assert_eq!(c.port, port(4200, None, 2));
    }

    #[test]
    fn syntax_errors_and_nonsense_are_not_parsed() {
        assert!(vite(
            "export default { server: { port: 4000 ",
            "vite.config.js",
            &no_env
        )
        .is_none());
        assert!(vite(
            "export default { server: { port: process.env.PORT ?? 'abc', proxy: `${x}` } }",
            "vite.config.ts",
            &no_env
        )
        .is_some_and(|c| c.port.is_some_and(|p| p.port.is_none()) && c.proxies.is_empty()));
        // Parsed, but no config found: the text scan has its say.
        assert!(vite("console.log(1)", "vite.config.js", &no_env).is_none());
    }

    #[test]
    fn next_rewrites_and_env() {
        let n = next(
            "/** @type {import('next').NextConfig} */\nconst API = process.env.API_URL || 'http://127.0.0.1:8000'\nmodule.exports = {\n  env: { NEXT_PUBLIC_API: API, ...{ OTHER: '1' } },\n  async rewrites() {\n    return [\n      { source: '/api/:path*', destination: `${API}/api/:path*` },\n      { source: '/img/:p', destination: 'https://cdn.example.com/:p' },\n    ]\n  },\n}\n",
            "next.config.js",
        )
        .unwrap();
        assert_eq!(
            n.rewrites,
            [
                Located {
                    value: "http://127.0.0.1:8000/api/:path*".into(),
                    line: 7
                },
                Located {
                    value: "https://cdn.example.com/:p".into(),
                    line: 8
                },
            ]
        );
        let keys: Vec<&str> = n.env_keys.iter().map(|k| k.value.as_str()).collect();
        assert_eq!(keys, ["NEXT_PUBLIC_API", "OTHER"]);
    }

    #[test]
    fn next_rewrites_in_ternaries() {
        // On NODE_ENV: doctor looks at a dev stack.
        let text = "const isDev = process.env.NODE_ENV !== 'production'\nexport default {\n  rewrites: async () =>\n    isDev\n      ? [{ source: '/api/:p*', destination: 'http://localhost:8000/api/:p*' }]\n      : [],\n}\n";
        let n = next(text, "next.config.mjs").unwrap();
        assert_eq!(n.rewrites.len(), 1);
        assert_eq!(n.rewrites[0].line, 5);
        // The fixture's form: a ternary as the destination.
        let text = "module.exports = {\n  rewrites: async () => [\n    {\n      source: \"/api/:path*\",\n      destination:\n        process.env.NODE_ENV === \"development\"\n          ? \"http://127.0.0.1:8001/api/:path*\"\n          : \"/api/\",\n    },\n  ],\n}\n";
        let n = next(text, "next.config.js").unwrap();
        assert_eq!(
            n.rewrites,
            [Located {
                value: "http://127.0.0.1:8001/api/:path*".into(),
                line: 7
            }]
        );
        // Undecided: both sides, and the object form.
        let text = "const nextConfig = {\n  async rewrites() {\n    return {\n      beforeFiles: flag ? [{ source: '/a', destination: 'http://localhost:1' }] : [{ source: '/a', destination: 'http://localhost:2' }],\n      fallback: [{ source: '/b', destination: 'http://localhost:3' }],\n    }\n  },\n}\nexport default nextConfig\n";
        let n = next(text, "next.config.ts").unwrap();
        let got: Vec<&str> = n.rewrites.iter().map(|r| r.value.as_str()).collect();
        assert_eq!(
            got,
            [
                "http://localhost:1",
                "http://localhost:2",
                "http://localhost:3"
            ]
        );
    }

    #[test]
    fn webpack_dev_server_object_and_array_proxies() {
        let w = webpack(
            "const path = require('path')\nmodule.exports = {\n  entry: './src/index.js',\n  devServer: {\n    port: 8081,\n    proxy: { '/api': 'http://localhost:3000', '/auth': { target: 'http://localhost:3001' } },\n  },\n}\n",
            "webpack.config.js",
        )
        .unwrap();
        assert_eq!(w.port, port(8081, None, 5));
        assert_eq!(
            w.proxies,
            [
                proxy("/api", "http://localhost:3000", 6),
                proxy("/auth", "http://localhost:3001", 6)
            ]
        );
        let w = webpack(
            "module.exports = (env, argv) => ({\n  devServer: {\n    port: process.env.PORT || 8080,\n    proxy: [\n      { context: ['/api', '/auth'], target: 'http://localhost:3000' },\n    ],\n  },\n})\n",
            "webpack.config.js",
        )
        .unwrap();
        assert_eq!(w.port, port(8080, Some("PORT"), 3));
        assert_eq!(w.proxies, [proxy("/api,/auth", "http://localhost:3000", 5)]);
    }

    #[test]
    fn setup_proxy_calls() {
        let p = setup_proxy(
            "const { createProxyMiddleware } = require('http-proxy-middleware');\nconst API = 'http://localhost:5000';\n\nmodule.exports = function (app) {\n  app.use(\n    '/api',\n    createProxyMiddleware({\n      target: API,\n      changeOrigin: true,\n    })\n  );\n  app.use(createProxyMiddleware('/auth', { target: 'http://127.0.0.1:5001' }));\n  app.use(createProxyMiddleware({ pathFilter: '/ws', target: 'ws://localhost:5002', ws: true }));\n};\n",
            "setupProxy.js",
        )
        .unwrap();
        assert_eq!(
            p.proxies,
            [
                proxy("/api", "http://localhost:5000", 8),
                proxy("/auth", "http://127.0.0.1:5001", 12),
                proxy("/ws", "ws://localhost:5002", 13),
            ]
        );
        let p = setup_proxy(
            "const proxy = require('http-proxy-middleware')\nmodule.exports = app => {\n  app.use(proxy('/api', { target: process.env.API || 'http://localhost:5000' }))\n}\n",
            "setupProxy.js",
        )
        .unwrap();
        assert_eq!(p.proxies, [proxy("/api", "http://localhost:5000", 3)]);
    }

    /// 10,000 levels of `[` and `{`: refused before the parser, fast, and
    /// the walk never recurses past its bound on what is parsed.
    #[test]
    fn pathological_nesting_is_bounded() {
        let started = std::time::Instant::now();
        for open in ["[", "{a:", "(", "${`"] {
            let deep = format!(
                "export default {{ server: {{ port: 1, x: `{}` }} }}",
                open.repeat(10_000)
            );
            let deep = deep.replace('`', if open == "${`" { "`" } else { "" });
            assert!(vite(&deep, "vite.config.js", &no_env).is_none(), "{open}");
        }
        let deep = format!(
            "export default {}1{}",
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        assert!(vite(&deep, "vite.config.js", &no_env).is_none());
        assert!(bracket_depth(&deep, MAX_DEPTH) > MAX_DEPTH);
        // Deep without brackets (not counted): the parser's own thread has
        // the stack for it and the walk stops at its bound.
        let chain = format!(
            "export default {{ server: {{ port: {}4000 }} }}",
            "!".repeat(20_000)
        );
        let _ = vite(&chain, "vite.config.js", &no_env);
        let ternary = format!(
            "export default {{ server: {{ port: {}4000 }} }}",
            "a ? 1 : ".repeat(10_000)
        );
        assert_eq!(
            vite(&ternary, "vite.config.js", &no_env).unwrap().port,
            None
        );
        let generics = format!(
            "let x: {}B{} = 1\nexport default {{ server: {{ port: 4000 }} }}",
            "A<".repeat(20_000),
            ">".repeat(20_000)
        );
        assert_eq!(
            vite(&generics, "vite.config.ts", &no_env).unwrap().port,
            port(4000, None, 2)
        );
        let consts: String = (0..5_000)
            .map(|i| format!("const a{i} = a{};\n", i + 1))
            .collect();
        let chain =
            format!("{consts}const a5000 = 4000\nexport default {{ server: {{ port: a0 }} }}");
        assert_eq!(vite(&chain, "vite.config.js", &no_env).unwrap().port, None);
        // Strings and comments do not count; a nesting within bounds parses.
        let fine = format!(
            "// {}\nexport default {{ server: {{ port: 4000, x: '{}' }} }}",
            "[".repeat(500),
            "{".repeat(500)
        );
        assert_eq!(vite_js(&fine).port, port(4000, None, 2));
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn files_over_the_parse_limit_are_left_to_the_text_scan() {
        let big = format!(
            "export default {{ server: {{ port: 4000 }} }}\n//{}\n",
            "x".repeat(PARSE_LIMIT)
        );
        assert!(vite(&big, "vite.config.js", &no_env).is_none());
    }

    #[test]
    fn bracket_depth_skips_strings_comments_and_templates() {
        assert_eq!(bracket_depth("a({ b: [1] })", 64), 3);
        assert_eq!(bracket_depth("'((((' \"[[[\" /* {{{ */ // (((\n x", 64), 0);
        assert_eq!(bracket_depth("`a ${ {b: `${ [c] }`} } d` + (e)", 64), 4);
        assert_eq!(bracket_depth(&"(".repeat(1000), 64), 65);
    }
}
