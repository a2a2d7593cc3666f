//! NODE005 (issue #18 class 6, #17): a real express backend that exits at
//! start, under plain node and under nodemon ("app crashed - waiting for
//! file changes before starting..."). The cause is named before node runs
//! (an import that does not resolve) or from one bounded start (a throw).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::stack::*;
use common::*;
use serde_json::Value;

fn node005(report: &Value) -> Value {
    let found = findings(report, "NODE005");
    assert_eq!(found.len(), 1, "{report:#}");
    found[0].clone()
}

/// The finding at `index` of the report.
fn at(report: &Value, index: &Value) -> Value {
    report["findings"][index.as_u64().expect("folded under a cause") as usize].clone()
}

/// PORT001 of the API's port is folded under NODE005.
fn port001_under_node005(report: &Value, api: u16) {
    let refused: Vec<_> = findings(report, "PORT001")
        .into_iter()
        .filter(|f| f["evidence"]["port"] == api)
        .collect();
    assert_eq!(refused.len(), 1, "{report:#}");
    assert_eq!(
        at(report, &refused[0]["caused_by"])["code"],
        "NODE005",
        "{report:#}"
    );
}

fn express_stack() -> Stack {
    let stack = Stack::new("express-start");
    install_node_tools(stack.path());
    stack
}

/// `nodemon server.js` as `npm run dev` starts it, its output in `log`.
fn start_nodemon(procs: &mut Procs, dir: &Path, log: &Path) -> u32 {
    let bin = dir.join("node_modules/.bin/nodemon");
    procs.spawn(
        Command::new("sh")
            .arg("-c")
            .arg(format!(
                "exec node {} server.js >{} 2>&1",
                bin.display(),
                log.display()
            ))
            .current_dir(dir)
            .stderr(Stdio::null()),
    )
}

/// (a) a package that is not installed, under plain node: node crashed
/// (MODULE_NOT_FOUND) and nothing is left; doctor names the specifier, the
/// line, that package.json does not declare it, before node runs.
#[test]
fn express_requiring_a_package_not_installed() {
    let stack = express_stack();
    let api = stack.port("API_PORT");
    let text = std::fs::read_to_string(stack.join("server.js")).unwrap();
    stack.write(
        "server.js",
        &text.replace(
            "const cors = require(\"cors\")\n",
            "const cors = require(\"cors\")\nconst leftPad = require(\"left-pad\")\n",
        ),
    );
    let crashed = Command::new("node")
        .arg("server.js")
        .current_dir(stack.path())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&crashed.stderr).contains("MODULE_NOT_FOUND"));

    for args in [&[][..], &["--no-exec"][..]] {
        let (code, report) = stack.doctor(args);
        assert_eq!(code, 1, "{report:#}");
        let f = node005(&report);
        assert_eq!(f["evidence"]["specifier"], "left-pad", "{f:#}");
        assert_eq!(f["evidence"]["location"], "server.js:3", "{f:#}");
        assert_eq!(f["evidence"]["declared"], false, "{f:#}");
        assert_eq!(f["evidence"]["error"]["code"], "MODULE_NOT_FOUND", "{f:#}");
        assert!(
            f["fix"]["commands"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c.as_str().unwrap().contains("npm install left-pad")),
            "{f:#}"
        );
        port001_under_node005(&report, api);
    }
}

/// (a) under nodemon, the package declared: nodemon stays alive after "app
/// crashed", nothing listens. NODE005 names nodemon waiting, the cause,
/// and is itself folded under NODE003 (declared, not installed).
#[test]
fn nodemon_waiting_after_its_app_crashed() {
    let mut procs = Procs::new();
    let stack = express_stack();
    let api = stack.port("API_PORT");
    let text = std::fs::read_to_string(stack.join("server.js")).unwrap();
    stack.write(
        "server.js",
        &text.replace(
            "const cors = require(\"cors\")\n",
            "const cors = require(\"cors\")\nconst leftPad = require(\"left-pad\")\n",
        ),
    );
    let manifest = std::fs::read_to_string(stack.join("package.json")).unwrap();
    stack.write(
        "package.json",
        &manifest.replace(
            "\"cors\": \"^2.8.5\",",
            "\"cors\": \"^2.8.5\",\n    \"left-pad\": \"^1.3.0\",",
        ),
    );
    let log = stack.join("nodemon.log");
    let nodemon = start_nodemon(&mut procs, stack.path(), &log);
    eventually("nodemon says the app crashed", || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("app crashed"))
    });
    assert!(is_alive(nodemon));

    let (code, report) = stack.doctor(&[]);
    assert_eq!(code, 1, "{report:#}");
    let f = node005(&report);
    assert_eq!(f["evidence"]["specifier"], "left-pad", "{f:#}");
    assert_eq!(f["evidence"]["declared"], true, "{f:#}");
    assert_eq!(f["evidence"]["supervisor"]["pid"], nodemon, "{f:#}");
    let title = f["title"].as_str().unwrap();
    assert!(
        title.contains("nodemon") && title.contains("waits for a file change"),
        "{title}"
    );
    let commands = f["fix"]["commands"].to_string();
    assert!(
        commands.contains("npm install") && commands.contains("`rs`"),
        "{f:#}"
    );
    assert_eq!(
        at(&report, &f["caused_by"])["code"],
        "NODE003",
        "{report:#}"
    );
    port001_under_node005(&report, api);
    assert!(is_alive(nodemon));
}

/// (b) an ESM app importing a relative file that is missing
/// (ERR_MODULE_NOT_FOUND): the line and the path tried.
#[test]
fn esm_app_importing_a_missing_relative_file() {
    let stack = express_stack();
    let api = stack.port("API_PORT");
    let manifest = std::fs::read_to_string(stack.join("package.json")).unwrap();
    stack.write(
        "package.json",
        &manifest.replace(
            "\"private\": true,",
            "\"private\": true,\n  \"type\": \"module\",",
        ),
    );
    stack.write(
        "server.js",
        &format!(
            "import express from \"express\"\nimport {{ readFile }} from \"node:fs/promises\"\nimport {{ items }} from \"./routes/items.js\"\n\nconst app = express()\nconst PORT = process.env.PORT || {api}\napp.get(\"/api/items\", (req, res) => res.json(items))\napp.listen(PORT)\n"
        ),
    );
    let crashed = Command::new("node")
        .arg("server.js")
        .current_dir(stack.path())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&crashed.stderr).contains("ERR_MODULE_NOT_FOUND"));

    let (code, report) = stack.doctor(&[]);
    assert_eq!(code, 1, "{report:#}");
    let f = node005(&report);
    assert_eq!(f["evidence"]["specifier"], "./routes/items.js", "{f:#}");
    assert_eq!(f["evidence"]["location"], "server.js:3", "{f:#}");
    assert_eq!(
        f["evidence"]["error"]["code"], "ERR_MODULE_NOT_FOUND",
        "{f:#}"
    );
    assert_eq!(f["evidence"]["tried"][0], "routes/items.js", "{f:#}");
    port001_under_node005(&report, api);

    // The file exists, imported without its extension: a loader would find
    // it, node's ESM does not. Only starting it says so.
    stack.write("routes/items.js", "export const items = [{ id: 1 }]\n");
    let text = std::fs::read_to_string(stack.join("server.js")).unwrap();
    stack.write(
        "server.js",
        &text.replace("./routes/items.js", "./routes/items"),
    );
    let (code, report) = stack.doctor(&[]);
    assert_eq!(code, 1, "{report:#}");
    let f = node005(&report);
    assert_eq!(
        f["evidence"]["error"]["code"], "ERR_MODULE_NOT_FOUND",
        "{f:#}"
    );
    assert_eq!(f["evidence"]["location"], "server.js:3", "{f:#}");
    assert!(
        f["title"]
            .as_str()
            .unwrap()
            .contains("imported from server.js"),
        "{f:#}"
    );
    port001_under_node005(&report, api);
}

/// (c) a throw at top level in project code: found by starting the entry
/// once (bounded); the file:line is the throw's. Not with --no-exec.
#[test]
fn top_level_throw_names_its_line() {
    let stack = express_stack();
    let api = stack.port("API_PORT");
    stack.write("config.js", "const secret = process.env.SESSION_SECRET\nif (!secret) {\n  throw new Error(\"SESSION_SECRET is not set\")\n}\nmodule.exports = { secret }\n");
    let text = std::fs::read_to_string(stack.join("server.js")).unwrap();
    stack.write(
        "server.js",
        &text.replace(
            "const cors = require(\"cors\")\n",
            "const cors = require(\"cors\")\nconst config = require(\"./config\")\n",
        ),
    );
    let (code, report) = stack.doctor(&[]);
    assert_eq!(code, 1, "{report:#}");
    let f = node005(&report);
    assert_eq!(f["evidence"]["location"], "config.js:3", "{f:#}");
    assert!(
        f["title"]
            .as_str()
            .unwrap()
            .contains("Error: SESSION_SECRET is not set"),
        "{f:#}"
    );
    port001_under_node005(&report, api);

    let (_, report) = stack.doctor(&["--no-exec"]);
    assert!(findings(&report, "NODE005").is_empty(), "{report:#}");
}

/// A healthy express app: running, silent; down, the bounded start listens
/// and is ended at once (no NODE005, nothing left on a port).
#[test]
fn healthy_express_stays_silent() {
    let stack = express_stack();
    let api = stack.port("API_PORT");
    let (_, report) = stack.doctor(&[]);
    assert!(findings(&report, "NODE005").is_empty(), "{report:#}");
    let started: Vec<&Value> = report["probes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["check"] == "nodestart")
        .collect();
    assert_eq!(started.len(), 1, "{report:#}");
    assert_eq!(started[0]["start"], "server.js", "{report:#}");
    assert_eq!(
        started[0]["ended"], "it listened: ended at once",
        "{report:#}"
    );
    assert_ne!(started[0]["port"], api, "{report:#}");
    assert!(listener_pids(&[api]).is_empty());
    assert!(listener_pids(&[started[0]["port"].as_u64().unwrap() as u16]).is_empty());

    let mut procs = Procs::new();
    start_node(&mut procs, stack.path(), &["server.js"], &[], api);
    stack.assert_silent();
}

/// Express + Vite: the API under `node --watch` crashes at start on a
/// package not installed; the watcher stays alive, nothing listens, and the
/// frontend's proxy to it fails (HEALTH006). NODE005 names the watcher and
/// the cause; PORT001 and the proxy's failure fold under it.
#[test]
fn vite_proxy_failure_folds_under_the_crashed_api() {
    let mut procs = Procs::new();
    let stack = Stack::new("express-vite");
    install_node_tools(&stack.join("server"));
    install_framework(&stack.join("client"), "vite");
    let (web, api) = (stack.port("WEB_PORT"), stack.port("API_PORT"));
    let text = std::fs::read_to_string(stack.join("server/index.js")).unwrap();
    stack.write(
        "server/index.js",
        &text.replace(
            "const express = require(\"express\")\n",
            "const express = require(\"express\")\nconst morgan = require(\"morgan\")\n",
        ),
    );
    let log = stack.join("server/watch.log");
    let watcher = procs.spawn(
        Command::new("sh")
            .arg("-c")
            .arg(format!(
                "exec node --watch index.js >{} 2>&1",
                log.display()
            ))
            .env("PORT", api.to_string())
            .current_dir(stack.join("server"))
            .stderr(Stdio::null()),
    );
    eventually("node --watch says its app failed", || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("Failed running"))
    });
    start_tool(&mut procs, &stack.join("client"), "vite", &[], web);

    let (code, report) = stack.doctor(&[]);
    assert_eq!(code, 1, "{report:#}");
    let f = node005(&report);
    assert_eq!(f["evidence"]["specifier"], "morgan", "{f:#}");
    assert_eq!(f["evidence"]["location"], "server/index.js:2", "{f:#}");
    assert_eq!(f["evidence"]["supervisor"]["pid"], watcher, "{f:#}");
    assert_eq!(f["evidence"]["supervisor"]["name"], "node --watch", "{f:#}");
    port001_under_node005(&report, api);
    let proxied = findings(&report, "HEALTH006");
    assert_eq!(proxied.len(), 1, "{report:#}");
    assert_eq!(
        at(&report, &proxied[0]["caused_by"])["code"],
        "NODE005",
        "{report:#}"
    );
}

/// Field round 7 (gc fc P3 c2, missed since round 3): `PORT=3001 npm run
/// dev` runs the API under nodemon on another port than the one its code
/// defaults to and its callers use. nodemon's server (a grandchild, under
/// `sh -c`) listens there: not "listens nowhere", and no fix that starts a
/// second copy or touches a file. PORT001 says where it runs and why (the
/// PORT in its environment), and `--fix --yes` ends and starts nothing.
#[test]
fn nodemon_serving_on_the_port_its_environment_gives() {
    // nodemon alone, and under the `sh -c` npm runs a script with (field
    // gb c6, gc P3 c2, round 9: the shell and nodemon above the server
    // were each "started for the port", and nodemon was touched).
    for shape in ["exec node {bin} server.js", "node {bin} server.js; exit $?"] {
        let stack = express_stack();
        let api = stack.port("API_PORT");
        let other = free_port();
        let mut procs = Procs::new();
        let bin = stack.join("node_modules/.bin/nodemon");
        let nodemon = procs.spawn(
            Command::new("sh")
                .arg("-c")
                .arg(shape.replace("{bin}", &bin.display().to_string()))
                .current_dir(stack.path())
                .env("PORT", other.to_string())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        wait_listening(&format!("127.0.0.1:{other}"));
        let server = listener_pids(&[other]);
        assert_eq!(server.len(), 1);
        let (code, report) = stack.doctor(&[]);
        assert_eq!(code, 1, "{report:#}");
        let down = findings(&report, "PORT001");
        assert_eq!(down.len(), 1, "{report:#}");
        let title = down[0]["title"].as_str().unwrap();
        assert!(
            title.contains(&format!("listens on :{other} instead, PORT={other}")),
            "{shape}: {title}"
        );
        assert!(!title.contains("listens nowhere"), "{shape}: {title}");
        assert_eq!(down[0]["fix"]["safety"], "manual", "{report:#}");
        doctor_in(stack.path(), &["--fix", "--yes"]);
        assert!(is_alive(nodemon));
        assert_eq!(
            listener_pids(&[other]),
            server,
            "{shape}: the server was replaced"
        );
        assert!(
            listener_pids(&[api]).is_empty(),
            "a second copy was started"
        );
    }
}

/// Field round 7 (gd fd P2 E, partial): the server loads its `.env` with
/// dotenv and listens on `process.env.PORT || N`; `.env` says `PORT=M`.
/// It listens on M: that is its port (from `.env:1`), the server is ✔
/// there, and nothing is said of N.
#[test]
fn a_port_from_the_servers_dotenv_file() {
    let stack = express_stack();
    let code = std::fs::read_to_string(stack.join("server.js")).unwrap();
    stack.write(
        "server.js",
        &format!("require(\"dotenv\").config()\n{code}"),
    );
    let port = free_port();
    stack.write(".env", &format!("PORT={port}\n"));
    let mut procs = Procs::new();
    start_node(&mut procs, stack.path(), &["server.js"], &[], port);
    let (code, report) = stack.doctor(&[]);
    let api = report["project"]["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "express")
        .unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(api["port"], port, "{api:#}");
    assert_eq!(api["source"], ".env:1", "{api:#}");
    assert_eq!(code, 0, "{report:#}");
    assert!(findings(&report, "PORT001").is_empty(), "{report:#}");
}

/// Field round 10 (gc fc P3 c2, gb fb P3 c6; close to harmful): the
/// server started with `PORT=N` in the shell (`PORT=3001 npm run dev`),
/// its code's default (`process.env.PORT || 3000`) the port the frontend's
/// proxy calls. ENV004 said the proxy line pointed at the wrong port and
/// `--fix --yes` rewrote the tracked line, which broke the next normal
/// start. The port is a one-off of that shell: no ENV004, no edit;
/// PORT001 names the variable (real express under nodemon).
#[test]
fn a_port_from_the_shell_is_no_reason_to_rewrite_the_callers() {
    let stack = express_stack();
    let api = stack.port("API_PORT");
    let other = free_port();
    stack.write(
        "client/package.json",
        r#"{"name": "client", "private": true, "scripts": {"dev": "vite"}, "devDependencies": {"vite": "^5.4.0"}}"#,
    );
    let config = format!(
        "export default {{\n  server: {{\n    proxy: {{\n      \"/api\": \"http://localhost:{api}\",\n    }},\n  }},\n}}\n"
    );
    stack.write("client/vite.config.js", &config);
    let mut procs = Procs::new();
    let bin = stack.join("node_modules/.bin/nodemon");
    let nodemon = procs.spawn(
        Command::new("node")
            .arg(&bin)
            .arg("server.js")
            .current_dir(stack.path())
            .env("PORT", other.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_listening(&format!("127.0.0.1:{other}"));
    let (_, report) = stack.doctor(&[]);
    assert!(findings(&report, "ENV004").is_empty(), "{report:#}");
    let down: Vec<&Value> = findings(&report, "PORT001")
        .into_iter()
        .filter(|f| f["evidence"]["port"] == api)
        .collect();
    assert_eq!(down.len(), 1, "{report:#}");
    assert!(
        down[0]["title"]
            .as_str()
            .is_some_and(|t| t.contains(&format!("PORT={other}"))),
        "{report:#}"
    );
    doctor_in(stack.path(), &["--fix", "--yes"]);
    assert_eq!(
        std::fs::read_to_string(stack.join("client/vite.config.js")).unwrap(),
        config,
        "the proxy line was rewritten"
    );
    assert!(is_alive(nodemon));
}

/// Field round 9/10 (gd fd P2 D, missed): `"start": "node populateDBscript.js
/// && node server.js"`, and `server.js` requires `./apii`, a file that is
/// not there: node exits with `Cannot find module './apii'`. The setup
/// script was taken for the entry, so its imports were read and nothing
/// was found. The server, the last command of the chain, is the entry:
/// NODE005 names the specifier and its line before node runs (real node).
#[test]
fn the_server_after_a_setup_script_is_the_entry() {
    let stack = express_stack();
    let api = stack.port("API_PORT");
    stack.write("populate.js", "console.log(\"seeded\")\n");
    let pkg = std::fs::read_to_string(stack.join("package.json")).unwrap();
    stack.write(
        "package.json",
        // As the field's: a start script only, no dev script.
        &pkg.replace(
            "\"start\": \"node server.js\",\n    \"dev\": \"nodemon server.js\"",
            "\"start\": \"node populate.js && node server.js\"",
        ),
    );
    let text = std::fs::read_to_string(stack.join("server.js")).unwrap();
    stack.write(
        "server.js",
        &text.replace(
            "const cors = require(\"cors\")\n",
            "const cors = require(\"cors\")\nconst api = require(\"./apii\")\n",
        ),
    );
    let crashed = Command::new("node")
        .arg("server.js")
        .current_dir(stack.path())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&crashed.stderr).contains("Cannot find module './apii'"));
    let (_, report) = stack.doctor(&["--no-exec"]);
    let f = node005(&report);
    assert_eq!(f["evidence"]["specifier"], "./apii", "{f:#}");
    assert_eq!(f["evidence"]["location"], "server.js:3", "{f:#}");
    port001_under_node005(&report, api);
}

/// Field round 7/10 (gb fb P3 c7, missed): `PORT=4001 npm run dev`, whose
/// `concurrently` starts the frontend and the API under nodemon. Both read
/// PORT: the frontend took 4001, the API died with EADDRINUSE, nodemon
/// waits. doctor said "nodemon listens nowhere, touch server.js" (which
/// only runs it into the taken port again). One PORT read by two servers
/// is the cause, said with both pids; the fix is the variable, manual
/// (real nodemon + express, a second node server as the frontend).
#[test]
fn one_port_variable_read_by_two_servers() {
    let stack = express_stack();
    let api = stack.port("API_PORT");
    let shared = free_port();
    stack.write(
        "client/server.js",
        "require(\"http\").createServer((q, r) => r.end(\"page\")).listen(process.env.PORT || 3000)\n",
    );
    let mut procs = Procs::new();
    let frontend = procs.spawn(
        Command::new("node")
            .arg("server.js")
            .current_dir(stack.join("client"))
            .env("PORT", shared.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_listening(&format!("127.0.0.1:{shared}"));
    let log = stack.join("nodemon.log");
    let bin = stack.join("node_modules/.bin/nodemon");
    let nodemon = procs.spawn(
        Command::new("sh")
            .arg("-c")
            .arg(format!(
                "exec node {} server.js >{} 2>&1",
                bin.display(),
                log.display()
            ))
            .current_dir(stack.path())
            .env("PORT", shared.to_string())
            .stderr(Stdio::null()),
    );
    eventually("the API dies on the taken port", || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("EADDRINUSE"))
    });
    let (_, report) = stack.doctor(&[]);
    let down: Vec<&Value> = findings(&report, "PORT001")
        .into_iter()
        .filter(|f| f["evidence"]["port"] == api)
        .collect();
    assert_eq!(down.len(), 1, "{report:#}");
    let title = down[0]["title"].as_str().unwrap();
    assert!(
        title.contains(&format!("PORT={shared}"))
            && title.contains(&format!("pid {frontend}"))
            && title.contains("read by two servers"),
        "{title}"
    );
    assert_eq!(down[0]["fix"]["safety"], "manual", "{report:#}");
    assert!(is_alive(nodemon));
}

/// Field round 11 (gb fb P3 c7, the other race): `PORT=4001 npm run dev`,
/// `concurrently` (no `-k`) starting two servers that both read PORT; one
/// took 4001, the other died with EADDRINUSE and is gone. doctor said
/// "nothing listens, start it", and `--fix --yes` started a second copy
/// beside the launcher, which later took the port the user's own restart
/// needed. The cause is the launcher's PORT, with the sibling that holds
/// it; nothing is started (real concurrently and express).
#[test]
fn a_sibling_that_took_the_launchers_port_is_named() {
    let stack = Stack::new("express-start");
    let (api, shared) = (stack.port("API_PORT"), free_port());
    let server = std::fs::read_to_string(stack.join("server.js")).unwrap();
    let web = free_port();
    for (dir, port) in [("api", api), ("web", web)] {
        stack.write(
            &format!("{dir}/server.js"),
            &server.replace(&api.to_string(), &port.to_string()),
        );
        stack.write(
            &format!("{dir}/package.json"),
            &format!("{{\"name\": \"{dir}\", \"private\": true, \"scripts\": {{\"dev\": \"node server.js\"}}, \"dependencies\": {{\"cors\": \"^2.8.5\", \"express\": \"^4.21.2\"}}}}"),
        );
        install_node_tools(&stack.join(dir));
    }
    std::fs::remove_file(stack.join("server.js")).unwrap();
    stack.write(
        "package.json",
        r#"{"name": "root", "private": true, "scripts": {"dev": "concurrently \"npm run dev --prefix api\" \"npm run dev --prefix web\""}}"#,
    );
    install_node_tools(stack.path());
    let mut procs = Procs::new();
    procs.spawn(
        Command::new("npm")
            .args(["run", "dev"])
            .current_dir(stack.path())
            .env("PORT", shared.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_listening(&format!("127.0.0.1:{shared}"));
    let holder = listener_pids(&[shared]);
    assert_eq!(holder.len(), 1, "{holder:?}");
    let (_, report) = stack.doctor(&[]);
    let down: Vec<&Value> = findings(&report, "PORT001")
        .into_iter()
        .filter(|f| f["evidence"]["port"] == api || f["evidence"]["port"] == web)
        .collect();
    // Both: the one that moved to :shared and the one that lost it.
    assert_eq!(down.len(), 2, "{report:#}");
    for f in &down {
        let title = f["title"].as_str().unwrap();
        assert!(
            title.contains(&format!("PORT={shared}"))
                && title.contains(&format!("pid {}", holder[0])),
            "{title}"
        );
        assert_eq!(f["fix"]["safety"], "manual", "{report:#}");
    }
    doctor_in(stack.path(), &["--fix", "--yes"]);
    assert!(
        listener_pids(&[api]).is_empty() && listener_pids(&[web]).is_empty(),
        "a copy was started beside the launcher"
    );
}
