//! The shell examples of README.md and docs/*.md, run against the demo they show and
//! compared with the output they show: documentation that cannot drift from the server.
//!
//! **Marking.** An HTML comment on the line before a fenced code block (blank lines
//! between allowed) says what the block is:
//!
//! - `<!-- example: serve NAME -->` on an `sh` block: its one command
//!   (`cargo run --release -- serve ...` or `headless-dns serve ...`) starts the server
//!   `NAME`. The harness starts it in-process with those very arguments, except the
//!   documented addresses: `--listen 127.0.0.1:5353`, `--external-listen 127.0.0.1:5354`
//!   and `--admin 127.0.0.1:8080` (implied when `--admin` is absent) become free ports.
//! - `<!-- example: NAME -->` on a `console` or `sh` block: run its commands against the
//!   server `NAME`. In a `console` block a command is a line starting with `$ ` (it goes on
//!   onto the next lines while a quote is open or the line ends in `\`), and the lines up
//!   to the next command are its output; blank and `# ` lines right before a command are
//!   comments. The output of an `sh` block is not compared, its commands must succeed.
//! - `<!-- example: not run: REASON -->`: shown, not run (e.g. it needs a real cluster).
//!
//! Every `console` block must carry one of these, and so must an `sh` block that mentions
//! the demo's addresses (`-p 5353`, `127.0.0.1:5353`, `127.0.0.1:8080`) or `config/demo`:
//! nothing that looks runnable is skipped silently. The other blocks (yaml, Corefile
//! snippets, kubectl, docker, the bench scripts) are not examples of the demo.
//!
//! **Running.** Each command runs under `sh -c` (pipes work) from the repository root, with
//! the built `headless-dns` first on `PATH`, `HOME` an empty directory (no `~/.digrc`) and
//! no `HEADLESS_DNS_*`, `POD_*`, `RUST_LOG` or `KUBECONFIG` from the test's environment.
//! `-p 5353`, `-port=5353`, `127.0.0.1:5353`, `-p 5354`, `127.0.0.1:5354` and
//! `127.0.0.1:8080` in a command become the server's ports, and back in its output. Its stdout is compared (stderr only shown when
//! it fails; a block that wants to show stderr says `2>&1`); it must exit 0.
//!
//! **Comparing.** Line by line, whitespace runs as one space; placeholders for what varies
//! from run to run: `[ID]` (dig's message id), `[SERIAL]` (an SOA serial), `[..]` (any
//! text within a line) and a line `...` (any lines); see `docs_examples/expect.rs`.
//!
//! **Not checked:** indentation and column alignment (dig's tabs), the order of lines a
//! `...` skips, stderr, and what the examples print about the machine (none of the marked
//! ones do). The needed programs: `dig` and `nslookup` (bind9-dnsutils), `node` (nodejs),
//! `curl`; scripts/test.sh installs them.

mod expect;
mod markdown;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use self::expect::Mismatch;
use self::markdown::{Block, Command, Marker};
use clap::Parser;
use headless_dns::app::{self, Running};
use headless_dns::config::{Cli, Command as Subcommand};

/// The binary that `headless-dns` in a command means.
const BIN: &str = env!("CARGO_BIN_EXE_headless-dns");

/// The DNS and admin addresses the docs use, as written in the docs.
const DOC_DNS: &str = "127.0.0.1:5353";
const DOC_ADMIN: &str = "127.0.0.1:8080";
/// The external listener's address in the docs.
const DOC_EXTERNAL: &str = "127.0.0.1:5354";

/// How long one command may take (dig gives up on a silent server after 15 s).
const COMMAND_TIMEOUT_SECONDS: u32 = 60;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and docs/*.md, relative to the repository root, sorted.
fn pages() -> Vec<String> {
    let mut pages = vec!["README.md".to_owned()];
    let mut docs: Vec<String> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".md"))
        .map(|name| format!("docs/{name}"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

fn all_blocks() -> Vec<Block> {
    let mut blocks = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(root().join(&page)).unwrap();
        blocks.extend(markdown::blocks(&page, &text).unwrap_or_else(|e| panic!("{e}")));
    }
    blocks
}

/// What marks a block as one that runs against the demo, marked or not.
fn mentions_the_demo(block: &Block) -> bool {
    block.lines.iter().any(|(_, l)| {
        l.contains("-p 5353")
            || l.contains("-p 5354")
            || l.contains(DOC_DNS)
            || l.contains(DOC_EXTERNAL)
            || l.contains(DOC_ADMIN)
            || l.contains("config/demo")
            || l.contains("config/external")
    })
}

/// The markers' rules, every error at once.
fn check_markers(blocks: &[Block]) -> Vec<String> {
    let servers: Vec<&str> = blocks
        .iter()
        .filter_map(|b| match &b.marker {
            Some(Marker::Serve(name)) => Some(name.as_str()),
            _ => None,
        })
        .collect();
    let mut errors = Vec::new();
    for (i, name) in servers.iter().enumerate() {
        if servers[..i].contains(name) {
            errors.push(format!("the server `{name}` is defined twice (`<!-- example: serve {name} -->`)"));
        }
    }
    for block in blocks {
        let at = block.at();
        match (&block.marker, block.lang.as_str()) {
            (None, "console") => errors.push(format!(
                "{at}: a console block without a marker: put `<!-- example: NAME -->` (the server it runs \
                 against: {servers:?}) or `<!-- example: not run: REASON -->` before it"
            )),
            (None, "sh") if mentions_the_demo(block) => errors.push(format!(
                "{at}: this sh block talks to the demo's addresses or config/demo: mark it \
                 `<!-- example: serve NAME -->`, `<!-- example: NAME -->` or `<!-- example: not run: REASON -->`"
            )),
            (None, _) => {}
            (Some(Marker::Serve(_)), "sh") => {}
            (Some(Marker::Serve(_)), lang) => {
                errors.push(format!("{at}: `example: serve` goes on an sh block, not `{lang}`"))
            }
            (Some(Marker::Run(name)), "console" | "sh") => {
                if !servers.contains(&name.as_str()) {
                    errors.push(format!(
                        "{at}: no server `{name}`: servers are defined by `<!-- example: serve NAME -->` \
                         (there are {servers:?})"
                    ));
                }
            }
            (Some(Marker::NotRun(_)), "console" | "sh") => {}
            (Some(_), lang) => errors.push(format!("{at}: an example marker on a `{lang}` block")),
        }
    }
    errors
}

/// The `serve` arguments of a serve block's command (after `cargo run [--release] --` or
/// `headless-dns`), split on whitespace: serve commands in the docs need no quoting.
fn serve_words(block: &Block) -> Result<Vec<String>, String> {
    let commands = markdown::sh_commands(block)?;
    let [command] = commands.as_slice() else {
        return Err(format!("{}: a serve block holds exactly one command", block.at()));
    };
    if command.text.contains(['\'', '"', '$', '|', ';', '&']) {
        return Err(format!(
            "{}: a serve command is plain words, without quotes or shell syntax",
            command.at
        ));
    }
    let text = command.text.replace("\\\n", " ");
    let words: Vec<&str> = text.split_whitespace().collect();
    let args = match words.as_slice() {
        ["cargo", "run", "--release", "--", args @ ..] | ["cargo", "run", "--", args @ ..] => args,
        ["headless-dns", args @ ..] => args,
        _ => {
            return Err(format!(
                "{}: not `cargo run --release -- serve ...` nor `headless-dns serve ...`",
                command.at
            ));
        }
    };
    if args.first() != Some(&"serve") {
        return Err(format!("{}: not a `serve` command", command.at));
    }
    Ok(args.iter().map(|s| (*s).to_owned()).collect())
}

/// The documented serve arguments with the documented addresses on free ports and the
/// manifests' paths from the repository root.
fn test_serve_args(at: &str, words: &[String]) -> Result<Vec<String>, String> {
    let mut args = vec!["headless-dns".to_owned()];
    let mut admin = false;
    let mut words = words.iter();
    while let Some(word) = words.next() {
        args.push(word.clone());
        let mut value = |expected: Option<&str>| -> Result<String, String> {
            let value = words.next().ok_or_else(|| format!("{at}: {word} without a value"))?;
            match expected {
                Some(documented) if value != documented => Err(format!(
                    "{at}: `{word} {value}`: the harness knows how to move only `{word} {documented}` to a free port"
                )),
                _ => Ok(value.clone()),
            }
        };
        match word.as_str() {
            "--listen" => {
                value(Some(DOC_DNS))?;
                args.push("127.0.0.1:0".to_owned());
            }
            "--external-listen" => {
                value(Some(DOC_EXTERNAL))?;
                args.push("127.0.0.1:0".to_owned());
            }
            "--admin" => {
                value(Some(DOC_ADMIN))?;
                args.push("127.0.0.1:0".to_owned());
                admin = true;
            }
            "--manifests" => args.push(root().join(value(None)?).to_str().unwrap().to_owned()),
            _ => {}
        }
    }
    if !args.iter().any(|a| a == "--listen") {
        return Err(format!("{at}: the serve command has no `--listen {DOC_DNS}`"));
    }
    if !admin {
        // The default admin address's port, which the examples reach as 127.0.0.1:8080.
        args.extend(["--admin".to_owned(), "127.0.0.1:0".to_owned()]);
    }
    Ok(args)
}

/// Where a server of the docs really is.
#[derive(Debug, Clone, Copy)]
struct Target {
    dns: SocketAddr,
    admin: SocketAddr,
    /// The first `--external-listen` address, if any.
    external: Option<SocketAddr>,
}

/// A server started in-process for the examples.
struct Server {
    runtime: tokio::runtime::Runtime,
    running: Running,
    target: Target,
}

fn start_server(block: &Block) -> Result<Server, String> {
    let at = block.at();
    let args = test_serve_args(&at, &serve_words(block)?)?;
    let serve = match Cli::try_parse_from(&args) {
        Ok(Cli { command: Subcommand::Serve(serve), .. }) => serve,
        Ok(_) => return Err(format!("{at}: not a serve command")),
        Err(e) => return Err(format!("{at}: the documented serve command does not parse:\n{e}")),
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let running = runtime
        .block_on(app::start(&serve))
        .map_err(|e| format!("{at}: the documented server does not start: {e}"))?;
    let target = Target {
        dns: running.dns_addrs[0],
        admin: running.admin_addr.ok_or_else(|| format!("{at}: the server has no admin endpoint"))?,
        external: running.external_addrs.first().copied(),
    };
    wait_ready(target.admin).map_err(|e| format!("{at}: {e}"))?;
    Ok(Server { runtime, running, target })
}

/// Waits until /readyz answers 200 (the manifests are loaded and served).
fn wait_ready(admin: SocketAddr) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(mut stream) = TcpStream::connect(admin) {
            let _ = stream.write_all(b"GET /readyz HTTP/1.0\r\nHost: localhost\r\n\r\n");
            let mut reply = String::new();
            let _ = stream.read_to_string(&mut reply);
            if reply.starts_with("HTTP/1.1 200") || reply.starts_with("HTTP/1.0 200") {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err(format!("the server at {admin} never became ready"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The command with the documented addresses moved to the target's, and how to move them
/// back in its output.
fn rewrite(command: &Command, target: Target) -> Result<(String, Vec<(String, String)>), String> {
    let (dns, admin) = (target.dns.port(), target.admin.port());
    // Without an external listener, its port stays as written (and finds nothing).
    let external = target.external.map_or(5354, |e| e.port());
    let forward = [
        (DOC_DNS.to_owned(), format!("127.0.0.1:{dns}")),
        ("-p 5353".to_owned(), format!("-p {dns}")),
        ("-port=5353".to_owned(), format!("-port={dns}")),
        (DOC_EXTERNAL.to_owned(), format!("127.0.0.1:{external}")),
        ("-p 5354".to_owned(), format!("-p {external}")),
        (DOC_ADMIN.to_owned(), format!("127.0.0.1:{admin}")),
    ];
    let mut text = command.text.clone();
    for (from, to) in &forward {
        text = text.replace(from, to);
    }
    let left = command
        .text
        .replace(DOC_DNS, "")
        .replace("-p 5353", "")
        .replace("-port=5353", "")
        .replace(DOC_EXTERNAL, "")
        .replace("-p 5354", "")
        .replace(DOC_ADMIN, "");
    if left.contains("5353") || left.contains("8080") {
        return Err(format!(
            "{}: the command names port 5353 or 8080 in a form the harness does not move to the test's \
             ports (it knows `-p 5353`, `-port=5353`, `{DOC_DNS}`, `{DOC_ADMIN}`):\n  {}",
            command.at, command.text
        ));
    }
    let back = vec![
        (format!("127.0.0.1#{dns}"), "127.0.0.1#5353".to_owned()),
        (format!("127.0.0.1:{dns}"), DOC_DNS.to_owned()),
        (format!("127.0.0.1:{admin}"), DOC_ADMIN.to_owned()),
        (format!("127.0.0.1#{external}"), "127.0.0.1#5354".to_owned()),
        (format!("127.0.0.1:{external}"), DOC_EXTERNAL.to_owned()),
    ];
    Ok((text, back))
}

/// What a command printed.
struct Ran {
    status: Option<i32>,
    stdout: String,
    stderr: String,
}

fn sh(text: &str) -> Ran {
    let home = tempfile::tempdir().unwrap();
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = std::env::join_paths(
        std::iter::once(bin_dir.to_path_buf())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap();
    let mut command = std::process::Command::new("timeout");
    command
        .arg(COMMAND_TIMEOUT_SECONDS.to_string())
        .args(["sh", "-c", text])
        .current_dir(root())
        .env("PATH", path)
        .env("HOME", home.path())
        .stdin(Stdio::null());
    for (key, _) in std::env::vars_os() {
        let key_text = key.to_string_lossy();
        if key_text.starts_with("HEADLESS_DNS_")
            || key_text.starts_with("POD_")
            || key_text == "RUST_LOG"
            || key_text == "KUBECONFIG"
        {
            command.env_remove(&key);
        }
    }
    let output = command.output().unwrap_or_else(|e| panic!("cannot run `timeout` (coreutils): {e}"));
    Ran {
        status: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn indented(text: &str) -> String {
    if text.trim().is_empty() {
        return "    (nothing)\n".to_owned();
    }
    text.lines().map(|l| format!("    {l}\n")).collect()
}

/// Runs one command and checks it as its block says: the shown output (a `console` block,
/// `check_output`) or only success (an `sh` block). The error names the file, the line and
/// the difference.
fn check_command(command: &Command, target: Target, check_output: bool) -> Result<(), String> {
    let (text, back) = rewrite(command, target)?;
    let ran = sh(&text);
    let mut stdout = ran.stdout.clone();
    for (from, to) in &back {
        stdout = stdout.replace(from, to);
    }
    let shown = format!("{}: `{}`", command.at, command.text.replace('\n', "\n    "));
    let stderr = if ran.stderr.trim().is_empty() {
        String::new()
    } else {
        format!("stderr:\n{}", indented(&ran.stderr))
    };
    match ran.status {
        Some(0) => {}
        Some(124) => {
            return Err(format!(
                "{shown}\ntimed out after {COMMAND_TIMEOUT_SECONDS} s (run as `{text}`)\n{stderr}"
            ));
        }
        Some(127) => {
            return Err(format!(
                "{shown}\nexited with status 127: a program is missing? (scripts/test.sh installs dig and \
                 nslookup from bind9-dnsutils, node from nodejs, curl)\n{stderr}"
            ));
        }
        status => {
            return Err(format!(
                "{shown}\nexited with status {status:?} (run as `{text}`); a failing example shows its \
                 status, e.g. `...; echo \"exit $?\"`\nstdout:\n{}{stderr}",
                indented(&stdout)
            ));
        }
    }
    if !check_output {
        return Ok(());
    }
    let expected: Vec<String> = command.expected.iter().map(|(_, l)| l.clone()).collect();
    let Err(Mismatch { expected_line, actual_line }) = expect::compare(&expected, &stdout) else {
        return Ok(());
    };
    let actual = actual_line.and_then(|i| stdout.lines().nth(i)).map(str::trim_end);
    let difference = match command.expected.get(expected_line) {
        Some((line, documented)) => format!(
            "first difference at {}:{line}\n  documented: {}\n  actual:     {}",
            command.at.split(':').next().unwrap_or_default(),
            documented.trim_end(),
            actual.unwrap_or("(no more output)")
        ),
        None => format!(
            "the actual output goes on after the documented one ends:\n  actual:     {}",
            actual.unwrap_or_default()
        ),
    };
    Err(format!(
        "{shown}\nthe output differs from the documented one; {difference}\ndocumented output:\n{}actual output \
         (ports moved back to the documented ones):\n{}{stderr}placeholders: [ID] [SERIAL] digits, [..] any text \
         in a line, a line `...` any lines (tests/it/docs_examples/expect.rs)",
        indented(&expected.join("\n")),
        indented(&stdout),
    ))
}

/// Runs every command of a marked block; the errors of all of them.
fn check_block(block: &Block, target: Target) -> Vec<String> {
    let (commands, check_output) = match block.lang.as_str() {
        "console" => (markdown::console_commands(block), true),
        _ => (markdown::sh_commands(block), false),
    };
    match commands {
        Ok(commands) => {
            commands.iter().filter_map(|c| check_command(c, target, check_output).err()).collect()
        }
        Err(e) => vec![e],
    }
}

#[test]
fn every_shell_example_of_the_docs_runs_as_shown() {
    let blocks = all_blocks();
    let errors = check_markers(&blocks);
    assert!(errors.is_empty(), "example markers:\n\n{}", errors.join("\n\n"));

    let mut by_server: BTreeMap<&str, Vec<&Block>> = BTreeMap::new();
    for block in &blocks {
        if let Some(Marker::Run(name)) = &block.marker {
            by_server.entry(name).or_default().push(block);
        }
    }
    let mut failures = Vec::new();
    let mut ran = 0;
    // Every documented server starts, whether or not an example uses it.
    for serve in &blocks {
        let Some(Marker::Serve(name)) = &serve.marker else { continue };
        let examples = by_server.get(name.as_str()).map_or(&[][..], Vec::as_slice);
        let server = match start_server(serve) {
            Ok(server) => server,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        eprintln!(
            "server `{name}` ({}): DNS {}, admin {}",
            serve.at(),
            server.target.dns,
            server.target.admin
        );
        for block in examples {
            eprintln!("  {} ({})", block.at(), block.lang);
            ran += 1;
            failures.extend(check_block(block, server.target));
        }
        let Server { runtime, running, .. } = server;
        runtime.block_on(running.stop()).unwrap();
    }
    for block in &blocks {
        if let Some(Marker::NotRun(reason)) = &block.marker {
            eprintln!("not run: {} ({}): {reason}", block.at(), block.lang);
        }
    }
    assert!(ran > 0, "no example ran");
    assert!(
        failures.is_empty(),
        "{} of the docs' examples do not do what they show:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

// The harness itself: it must fail on what is wrong, and say where.

fn page(text: &str) -> Vec<Block> {
    markdown::blocks("page.md", text).unwrap()
}

/// A target no command of these tests talks to.
fn nowhere() -> Target {
    Target { dns: "127.0.0.1:9".parse().unwrap(), admin: "127.0.0.1:9".parse().unwrap(), external: None }
}

#[test]
fn a_wrong_expectation_fails_naming_the_file_the_line_and_the_difference() {
    let blocks = page(
        "Some words.\n\n<!-- example: demo -->\n```console\n$ printf 'one\\ntwo\\n'\none\n2\n\n# next\n$ echo right\nright\n```\n",
    );
    let errors = check_block(&blocks[0], nowhere());
    assert_eq!(errors.len(), 1, "{errors:?}");
    let error = &errors[0];
    assert!(error.starts_with("page.md:5: `printf 'one\\ntwo\\n'`"), "{error}");
    assert!(error.contains("first difference at page.md:7"), "{error}");
    assert!(error.contains("documented: 2\n  actual:     two"), "{error}");
}

#[test]
fn extra_or_missing_output_and_failures_are_errors() {
    let blocks = page(
        "<!-- example: demo -->\n```console\n$ echo a; echo b\na\n$ echo a\na\nb\n$ false\n$ echo 'left open\n  closed'\nleft open\nclosed\n```\n",
    );
    let errors = check_block(&blocks[0], nowhere());
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert!(
        errors[0].contains("goes on after the documented one ends") && errors[0].contains("actual:     b"),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].contains("first difference at page.md:7") && errors[1].contains("(no more output)"),
        "{}",
        errors[1]
    );
    assert!(
        errors[2].starts_with("page.md:8: `false`") && errors[2].contains("status Some(1)"),
        "{}",
        errors[2]
    );
}

#[test]
fn the_documented_addresses_become_the_test_ports_and_others_are_refused() {
    let target = Target {
        dns: "127.0.0.1:40001".parse().unwrap(),
        admin: "127.0.0.1:40002".parse().unwrap(),
        external: None,
    };
    let command =
        |text: &str| Command { at: "page.md:1".to_owned(), text: text.to_owned(), expected: vec![] };
    let (text, _) =
        rewrite(&command("dig @127.0.0.1 -p 5353 x; curl http://127.0.0.1:8080/healthz"), target).unwrap();
    assert_eq!(text, "dig @127.0.0.1 -p 40001 x; curl http://127.0.0.1:40002/healthz");
    let (text, _) =
        rewrite(&command("nslookup -port=5353 x 127.0.0.1; node -e \"['127.0.0.1:5353']\""), target).unwrap();
    assert_eq!(text, "nslookup -port=40001 x 127.0.0.1; node -e \"['127.0.0.1:40001']\"");
    let error = rewrite(&command("curl http://localhost:8080/healthz"), target).unwrap_err();
    assert!(error.contains("page.md:1"), "{error}");
    let args = test_serve_args(
        "page.md:1",
        &["serve".into(), "--manifests".into(), "config/demo".into(), "--listen".into(), DOC_DNS.into()],
    )
    .unwrap();
    assert_eq!(args[args.len() - 4..], ["--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"]);
    assert!(args[3].ends_with("/config/demo") && Path::new(&args[3]).is_absolute(), "{args:?}");
    assert!(test_serve_args("page.md:1", &["serve".into(), "--listen".into(), "0.0.0.0:53".into()]).is_err());
}

#[test]
fn unmarked_runnable_blocks_and_bad_markers_are_errors() {
    let blocks = page(
        "```console\n$ echo\n```\n\n```sh\ndig @127.0.0.1 -p 5353 x\n```\n\n```sh\nkubectl get pods\n```\n\n\
         <!-- example: not run: needs a cluster -->\n```console\n$ kubectl get pods\n```\n\n<!-- example: nowhere -->\n```console\n$ echo\n```\n",
    );
    let errors = check_markers(&blocks);
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert!(errors[0].starts_with("page.md:1: a console block without a marker"), "{}", errors[0]);
    assert!(errors[1].starts_with("page.md:5: this sh block talks to the demo"), "{}", errors[1]);
    assert!(errors[2].starts_with("page.md:19: no server `nowhere`"), "{}", errors[2]);
    assert!(markdown::blocks("page.md", "<!-- example: not run: -->\n```console\n```\n").is_err());
    assert!(markdown::blocks("page.md", "<!-- example: demo -->\nwords\n```console\n```\n").is_err());
    assert!(markdown::blocks("page.md", "<!-- example: what is this -->\n```console\n```\n").is_err());
}

#[test]
fn sh_examples_must_succeed_and_serve_blocks_give_the_serve_arguments() {
    let blocks = page(
        "<!-- example: demo -->\n```sh\n# fine\ntrue\nfalse | true\nexit 3\n```\n\n<!-- example: serve demo -->\n```sh\n\
         cargo run --release -- serve --manifests config/demo \\\n    --listen 127.0.0.1:5353\n```\n",
    );
    let errors = check_block(&blocks[0], nowhere());
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].starts_with("page.md:6: `exit 3`") && errors[0].contains("status Some(3)"),
        "{}",
        errors[0]
    );
    assert_eq!(
        serve_words(&blocks[1]).unwrap(),
        ["serve", "--manifests", "config/demo", "--listen", "127.0.0.1:5353"]
    );
    let two = page("<!-- example: serve x -->\n```sh\nheadless-dns serve\nheadless-dns serve\n```\n");
    assert!(serve_words(&two[0]).unwrap_err().contains("exactly one command"));
    let kubectl = page("<!-- example: serve x -->\n```sh\nkubectl apply -k deploy\n```\n");
    assert!(serve_words(&kubectl[0]).is_err());
}

#[test]
fn commands_go_on_while_a_quote_is_open_or_a_line_ends_in_a_backslash() {
    let blocks = page(
        "```console\n# a comment\n$ node -e \"one;\n    two\"\n[\n  'x'\n]\n\n# about the next\n$ a \\\n  b\nout\n```\n",
    );
    let commands = markdown::console_commands(&blocks[0]).unwrap();
    assert_eq!(commands.len(), 2);
    assert_eq!(commands[0].text, "node -e \"one;\n    two\"");
    assert_eq!(commands[0].expected.iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>(), ["[", "  'x'", "]"]);
    assert_eq!((commands[1].at.as_str(), commands[1].text.as_str()), ("page.md:10", "a \\\n  b"));
    assert_eq!(commands[1].expected, [(12, "out".to_owned())]);
    assert!(!markdown::continues("echo \"it's\" # don't"));
    assert!(markdown::continues("echo 'it"));
}
