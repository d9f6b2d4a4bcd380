//! Issue 19: errors a person can act on. Each row is a real failure against
//! the real `tooldelta` binary (servers on 127.0.0.1, a real tmpfs, a real
//! lock, a `.invalid` host name): the one-line error names the root cause,
//! the next line gives the hint, no line repeats a cause, `--json` carries
//! the same message with the chain as a list, and the exit code is the one
//! documented for the error's class (docs/troubleshooting.md).

// Every row has one signature; some rows cannot be staged on every machine.
#![allow(clippy::unnecessary_wraps)]

mod fault_support;

use std::ffi::OsString;
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use fault_support::{CMD_TIMEOUT, NEW, OLD, TOOL, Tmpfs, World};
use serde_json::Value;
use tooldelta_core::publish::PublishOptions;
use tooldelta_testkit::{CmdOutput, Fault, FaultServer, Rule, StaticMirror, TestKeys, bin_path};

/// Exit codes of the documented classes.
const USAGE: i32 = 2;
const NETWORK: i32 = 3;
const TRUST: i32 = 4;
const INTEGRITY: i32 = 5;
const LOCAL_IO: i32 = 6;
const LOCKED: i32 = 7;

const MODEL: &str = "models/model.gguf";

/// What a row expects: fragments of the first line and of the hint (case
/// does not matter), and the exit code.
struct Expect {
    line: Vec<String>,
    hint: Vec<String>,
    code: i32,
}

fn expect(line: &[&str], hint: &[&str], code: i32) -> Expect {
    let own = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
    Expect {
        line: own(line),
        hint: own(hint),
        code,
    }
}

/// A prepared failure: the command, what keeps its world alive while it runs
/// (servers, mounts, locks), and what to expect.
struct Prepared {
    args: Vec<OsString>,
    env: Vec<(&'static str, String)>,
    _keep: Vec<Box<dyn std::any::Any>>,
    expect: Expect,
}

/// `update TOOL --root ROOT --mirror URL --trust KEY --json --retries 0` plus `extra`.
fn update_args(world: &World, root: &Path, mirror: &str, extra: &[&str]) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["update".into(), TOOL.into(), "--root".into()];
    args.push(root.into());
    args.extend(["--mirror".into(), mirror.into(), "--trust".into()]);
    args.push(world.keys.public_pem().into());
    args.extend(["--json", "--retries", "0"].map(OsString::from));
    args.extend(extra.iter().map(OsString::from));
    args
}

fn prepared(args: Vec<OsString>, keep: Vec<Box<dyn std::any::Any>>, expect: Expect) -> Prepared {
    Prepared {
        args,
        env: Vec::new(),
        _keep: keep,
        expect,
    }
}

/// A port nothing listens on (it was free a moment ago).
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A mirror of its own holding `TOOL` 1.0.0 published with `opts` and `key`.
fn own_mirror(world: &World, name: &str, key: &TestKeys, expires_at: Option<&str>) -> FaultServer {
    let mut mirror = StaticMirror::new(world.tmp.path().join(name));
    let opts = PublishOptions {
        tool_dir: world.tree(OLD).root().to_owned(),
        tool_id: TOOL.into(),
        version: OLD.into(),
        base_url: None,
        created_at: None,
        expires_at: expires_at.map(str::to_owned),
        chunks: None,
        release_notes: None,
    };
    mirror.publish_with(&opts, key.signing_key());
    FaultServer::serve_dir(mirror.root())
}

fn mirror_down(world: &World) -> Option<Prepared> {
    let server = world.server();
    let url = server.url();
    server.shutdown();
    let args = update_args(world, &world.root("down"), &url, &[]);
    let curl = format!("curl {url}/healthz");
    let e = expect(
        &["cannot fetch manifest", &url, "connection refused"],
        &["check that the mirror is running", &curl],
        NETWORK,
    );
    Some(prepared(args, vec![], e))
}

fn unknown_host(world: &World) -> Option<Prepared> {
    let url = "http://mirror.invalid:8080";
    let args = update_args(world, &world.root("dns"), url, &[]);
    let e = expect(
        &["mirror.invalid", "name resolution"],
        &["mirror.invalid does not resolve"],
        NETWORK,
    );
    Some(prepared(args, vec![], e))
}

fn tls_to_plain_http(world: &World) -> Option<Prepared> {
    let server = world.server();
    let url = server.url().replace("http://", "https://");
    let args = update_args(world, &world.root("tls"), &url, &[]);
    let e = expect(
        &["TLS", "corrupt message"],
        &["answered in plain HTTP, not TLS", "use http://"],
        NETWORK,
    );
    Some(prepared(args, vec![Box::new(server)], e))
}

fn proxy_refusing(world: &World) -> Option<Prepared> {
    let server = world.server();
    let url = server.url().replace("http://", "https://");
    let proxy = format!("http://127.0.0.1:{}", closed_port());
    let args = update_args(world, &world.root("proxy"), &url, &[]);
    let hint = format!("the proxy {proxy}");
    let e = expect(&["refused"], &[&hint, "NO_PROXY"], NETWORK);
    let mut p = prepared(args, vec![Box::new(server)], e);
    p.env.push(("HTTPS_PROXY", proxy));
    Some(p)
}

fn server_error(world: &World) -> Option<Prepared> {
    let server = world.server();
    server
        .faults()
        .set(Rule::new(Fault::ErrorStatus(503)).path_prefix("/api/v1/tools/"));
    let args = update_args(world, &world.root("503"), &server.url(), &[]);
    let e = expect(&["HTTP 503"], &["answered 503"], NETWORK);
    Some(prepared(args, vec![Box::new(server)], e))
}

fn stalled_server(world: &World) -> Option<Prepared> {
    let server = world.server();
    let stall = Fault::StallAfter {
        bytes: 1000,
        duration: std::time::Duration::from_secs(120),
    };
    server
        .faults()
        .set(Rule::new(stall.clone()).path_prefix("/api/v1/blobs/"));
    server
        .faults()
        .add(Rule::new(stall).path(StaticMirror::file_route(TOOL, NEW, MODEL)));
    let args = update_args(
        world,
        &world.root("stall"),
        &server.url(),
        &["--stall-timeout", "1"],
    );
    let e = expect(
        &[MODEL, "stalled", "no byte for 1 s"],
        &["stopped sending for 1 s", "resumes"],
        NETWORK,
    );
    Some(prepared(args, vec![Box::new(server)], e))
}

fn corrupted_content(world: &World) -> Option<Prepared> {
    let server = world.server();
    let sha = world
        .mirror
        .manifest(TOOL, NEW)
        .file(MODEL)
        .unwrap()
        .sha256
        .clone();
    for route in [
        StaticMirror::blob_route(&sha),
        StaticMirror::file_route(TOOL, NEW, MODEL),
    ] {
        server
            .faults()
            .add(Rule::new(Fault::CorruptByte(10)).path(route));
    }
    let args = update_args(world, &world.root("corrupt"), &server.url(), &[]);
    let e = expect(
        &[
            "integrity failure",
            MODEL,
            &format!("expected sha256 {sha}"),
        ],
        &["do not match the signed manifest", "another --mirror"],
        INTEGRITY,
    );
    Some(prepared(args, vec![Box::new(server)], e))
}

fn wrong_key(world: &World) -> Option<Prepared> {
    let server = own_mirror(world, "other-key", &TestKeys::other(), None);
    let args = update_args(world, &world.root("key"), &server.url(), &[]);
    let trusted = world.keys.key_id().to_string();
    let other = TestKeys::other().key_id().to_string();
    let e = expect(&[TOOL, "not trusted", &other], &["trusts", &trusted], TRUST);
    Some(prepared(args, vec![Box::new(server)], e))
}

fn expired_manifest(world: &World) -> Option<Prepared> {
    let server = own_mirror(world, "expired", &world.keys, Some("2020-01-01T00:00:00Z"));
    let args = update_args(world, &world.root("expired"), &server.url(), &[]);
    let e = expect(
        &[TOOL, "expired at 2020-01-01"],
        &["publish it again"],
        TRUST,
    );
    Some(prepared(args, vec![Box::new(server)], e))
}

fn unknown_tool(world: &World) -> Option<Prepared> {
    let server = world.server();
    let mut args = update_args(world, &world.root("tool"), &server.url(), &[]);
    args[1] = "z-image-turbo".into();
    let e = expect(
        &[r#"no tool "z-image-turbo"; the mirror has demo"#],
        &["check the tool id"],
        USAGE,
    );
    Some(prepared(args, vec![Box::new(server)], e))
}

fn unknown_version(world: &World) -> Option<Prepared> {
    let server = world.server();
    let args = update_args(
        world,
        &world.root("version"),
        &server.url(),
        &["--version", "9.9.9"],
    );
    let e = expect(
        &["no version 9.9.9 of demo; the mirror has 1.0.0, 2.0.0"],
        &["leave out --version"],
        USAGE,
    );
    Some(prepared(args, vec![Box::new(server)], e))
}

fn unreadable_key(world: &World) -> Option<Prepared> {
    // A folder where the key file should be: unreadable even for root.
    let dir = world.tmp.path().join("key-is-a-folder.pem");
    std::fs::create_dir_all(&dir).unwrap();
    let mut args = update_args(world, &world.root("unreadable"), "http://127.0.0.1:9", &[]);
    let at = args.iter().position(|a| a == "--trust").unwrap();
    args[at + 1] = dir.clone().into();
    let path = dir.display().to_string();
    let e = expect(
        &["key file", &path, "is a directory"],
        &[&path, "is a folder"],
        LOCAL_IO,
    );
    Some(prepared(args, vec![], e))
}

fn unwritable_root(world: &World) -> Option<Prepared> {
    // A root below a regular file: no user, root included, can create it.
    let file = world.tmp.path().join("a-regular-file");
    std::fs::write(&file, "not a folder\n").unwrap();
    let server = world.server();
    let root = file.join("root");
    let args = update_args(world, &root, &server.url(), &[]);
    let e = expect(
        &["not a directory"],
        &["a-regular-file", "is a regular file"],
        LOCAL_IO,
    );
    Some(prepared(args, vec![Box::new(server)], e))
}

fn disk_full(world: &World) -> Option<Prepared> {
    let server = world.server();
    let root = world.root("full");
    let tmpfs = Tmpfs::mount(&root, 1024 * 1024)?;
    world.install(&root, &server.url(), OLD);
    let args = update_args(world, &root, &server.url(), &[]);
    let e = expect(
        &["not enough disk space", "bytes needed", "bytes free"],
        &["free space in"],
        LOCAL_IO,
    );
    Some(prepared(args, vec![Box::new(server), Box::new(tmpfs)], e))
}

fn locked_tool(world: &World) -> Option<Prepared> {
    let server = world.server();
    let root = world.root("locked");
    world.install(&root, &server.url(), OLD);
    let lock = std::fs::File::options()
        .read(true)
        .write(true)
        .open(root.join("tools").join(TOOL).join(".lock"))
        .unwrap();
    lock.try_lock().unwrap();
    let args = update_args(world, &root, &server.url(), &[]);
    let e = expect(
        &["another tooldelta process"],
        &["wait for the other"],
        LOCKED,
    );
    Some(prepared(args, vec![Box::new(server), Box::new(lock)], e))
}

fn file_mirror_missing(world: &World) -> Option<Prepared> {
    let url = "file:///nonexistent/tooldelta-export";
    let args = update_args(world, &world.root("file"), url, &[]);
    // A `file://` mirror is an export tree (a USB disk): one that is not
    // there answers as an HTTP mirror lacking the release would.
    let e = expect(&[url, "404"], &["does not have this"], NETWORK);
    Some(prepared(args, vec![], e))
}

fn no_trusted_key(world: &World) -> Option<Prepared> {
    let mut args = update_args(world, &world.root("nokey"), "http://127.0.0.1:9", &[]);
    let at = args.iter().position(|a| a == "--trust").unwrap();
    args.drain(at..at + 2);
    let e = expect(&["no trusted key", "--trust PUB.pem"], &[], USAGE);
    Some(prepared(args, vec![], e))
}

type Row = (&'static str, fn(&World) -> Option<Prepared>);

const ROWS: &[Row] = &[
    ("mirror down", mirror_down),
    ("unknown host", unknown_host),
    ("https to a plain-HTTP port", tls_to_plain_http),
    ("proxy refusing", proxy_refusing),
    ("server error", server_error),
    ("stalled server", stalled_server),
    ("corrupted content", corrupted_content),
    ("wrong key", wrong_key),
    ("expired manifest", expired_manifest),
    ("unknown tool", unknown_tool),
    ("unknown version", unknown_version),
    ("unreadable key", unreadable_key),
    ("unwritable root", unwritable_root),
    ("disk full", disk_full),
    ("locked tool", locked_tool),
    ("file:// mirror missing", file_mirror_missing),
    ("no trusted key", no_trusted_key),
];

#[test]
fn every_usual_failure_names_its_root_cause_gives_a_hint_and_its_class_exit_code() {
    let world = World::new();
    let mut failures = Vec::new();
    for (name, prepare) in ROWS {
        let Some(p) = prepare(&world) else {
            eprintln!("SKIPPED {name}: this machine cannot stage it (see above)");
            continue;
        };
        let out = run(&p);
        eprintln!("--- {name} (exit {:?})\n{}", out.code, out.stderr);
        if let Err(why) = check(&out, &p.expect) {
            failures.push(format!(
                "--- {name}: {why}\nexit {:?}\nstderr:\n{}stdout:\n{}",
                out.code, out.stderr, out.stdout
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

fn run(p: &Prepared) -> CmdOutput {
    let mut cmd = Command::new(bin_path("tooldelta"));
    cmd.args(&p.args);
    for var in [
        "TOOLDELTA_ROOT",
        "TOOLDELTA_MIRROR",
        "TOOLDELTA_TRUST",
        "TOOLDELTA_CONFIG",
    ] {
        cmd.env_remove(var);
    }
    for var in ["HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY"] {
        cmd.env_remove(var).env_remove(var.to_lowercase());
    }
    for (k, v) in &p.env {
        cmd.env(k, v);
    }
    tooldelta_testkit::run_with_timeout(&mut cmd, CMD_TIMEOUT)
}

/// The checks every row shares.
fn check(out: &CmdOutput, e: &Expect) -> Result<(), String> {
    if out.code != Some(e.code) {
        return Err(format!("exit code {:?}, expected {}", out.code, e.code));
    }
    let line = prefixed(&out.stderr, "tooldelta: error: ").ok_or("no error line")?;
    let hint = prefixed(&out.stderr, "  hint: ");
    contains_all("the error line", &line, &e.line)?;
    match (&hint, e.hint.is_empty()) {
        (Some(h), false) => contains_all("the hint", h, &e.hint)?,
        (None, true) => {}
        (h, _) => return Err(format!("hint {h:?}, expected one with {:?}", e.hint)),
    }
    let causes: Vec<&str> = out
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("  caused by: "))
        .collect();
    no_echo(&line, &causes)?;
    // `--json`: the same message, the chain as a list, the hint, the code.
    let json: Value = serde_json::from_str(&out.stdout).map_err(|err| format!("stdout: {err}"))?;
    let error = &json["error"];
    let chain: Vec<&str> = error["chain"]
        .as_array()
        .ok_or("no chain list")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    if error["message"] != line.as_str()
        || error["hint"].as_str() != hint.as_deref()
        || error["exit_code"] != e.code
    {
        return Err(format!("the JSON error differs from stderr: {error}"));
    }
    if causes.iter().any(|c| !chain.contains(c)) {
        return Err(format!(
            "a printed cause is missing from the chain {chain:?}"
        ));
    }
    Ok(())
}

fn prefixed(stderr: &str, prefix: &str) -> Option<String> {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .map(str::to_owned)
}

fn contains_all(what: &str, text: &str, fragments: &[String]) -> Result<(), String> {
    let lower = text.to_lowercase();
    match fragments
        .iter()
        .find(|f| !lower.contains(&f.to_lowercase()))
    {
        Some(f) => Err(format!("{what} does not say {f:?}: {text}")),
        None => Ok(()),
    }
}

/// No cause is said twice: not within the line (no `: `-separated part
/// repeats), and no "caused by" line repeats the line or another cause.
fn no_echo(line: &str, causes: &[&str]) -> Result<(), String> {
    let parts: Vec<&str> = line.split(": ").filter(|p| p.len() >= 8).collect();
    for (i, p) in parts.iter().enumerate() {
        if parts[i + 1..].contains(p) {
            return Err(format!("the line repeats {p:?}"));
        }
    }
    for (i, c) in causes.iter().enumerate() {
        if line.contains(c) || causes[i + 1..].contains(c) {
            return Err(format!("the cause {c:?} is said twice"));
        }
    }
    Ok(())
}
