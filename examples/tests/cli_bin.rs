//! The `cli` binary against the real relay binary: both spawned as a user runs them (relay on a
//! free port with a temporary SQLite database). Lines written to the CLI's stdin reach another
//! peer (a [`SyncClient`]); that peer's edits and presence show up on the CLI's output; closing
//! stdin makes the CLI wait for the relay's acknowledgement and exit 0. Waits are for conditions
//! with deadlines, never fixed sleeps.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crdt_core::sync::DocId;
use crdt_core::Doc;
use examples::notes::{self, Presence};
use sync_server::client::{ClientOptions, SyncClient};

const DEADLINE: Duration = Duration::from_secs(20);

/// The relay binary: `$CRDT_RELAY_BIN` when set (scripts that have just built the workspace set
/// it), otherwise built here by cargo (it belongs to another package, so cargo does not build it
/// for this test by itself).
fn relay_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("CRDT_RELAY_BIN") {
        return PathBuf::from(bin);
    }
    let bin = Path::new(env!("CARGO_BIN_EXE_cli")).with_file_name("sync-server");
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("examples/ sits in the workspace");
    let mut build = Command::new(env!("CARGO"));
    build
        .current_dir(workspace)
        .args(["build", "-p", "sync-server", "--bin", "sync-server"]);
    if !cfg!(debug_assertions) {
        build.arg("--release");
    }
    let status = build.status().expect("cargo runs");
    assert!(status.success(), "cargo build -p sync-server failed");
    assert!(bin.exists(), "no relay binary at {}", bin.display());
    bin
}

/// A child process killed when dropped (so a failing assertion leaves nothing running).
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The relay on a free port with a database in the temporary folder, removed afterwards.
struct Relay {
    _process: Process,
    addr: SocketAddr,
    database: PathBuf,
}

impl Relay {
    fn start() -> Relay {
        let database =
            std::env::temp_dir().join(format!("crdt-cli-test-{}.db", std::process::id()));
        let mut child = Command::new(relay_binary())
            .args(["--bind", "127.0.0.1:0", "--database"])
            .arg(&database)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the relay binary starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the relay prints its address");
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        Relay {
            _process: Process(child),
            addr,
            database,
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut path = self.database.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The CLI, with its stdout collected line by line on a thread.
struct Cli {
    process: Process,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Cli {
    fn start(relay: SocketAddr, doc: &str) -> Cli {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cli"))
            .args(["--url", &format!("ws://{relay}/sync"), "--doc", doc])
            .args(["--name", "tester"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the cli binary starts");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Cli {
            process: Process(child),
            stdin,
            lines,
            seen: Vec::new(),
        }
    }

    fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        writeln!(stdin, "{line}").expect("the cli reads stdin");
        stdin.flush().expect("the cli reads stdin");
    }

    /// Waits until the CLI has printed a line equal to `wanted`.
    fn wait_for_line(&mut self, wanted: &str) {
        let deadline = Instant::now() + DEADLINE;
        while !self.seen.iter().any(|l| l == wanted) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!(
                    "the cli never printed {wanted:?}; it printed {:#?}",
                    self.seen
                ),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_appends_stdin_lines_and_prints_remote_edits() {
    let relay = Relay::start();
    let doc = DocId::new("cli/test").unwrap();
    let mut cli = Cli::start(relay.addr, "cli/test");
    let peer = SyncClient::connect(
        &format!("ws://{}/sync", relay.addr),
        ClientOptions::default(),
    );
    peer.join(doc.clone(), Doc::new());

    // A line typed in the terminal reaches the other peer.
    cli.type_line("hello from the terminal");
    assert!(
        peer.wait_until(DEADLINE, |c| c.read(&doc, notes::body).as_deref()
            == Some("hello from the terminal\n"))
            .await,
        "the other peer never saw the typed line"
    );
    // The CLI says who it is.
    assert!(
        peer.wait_until(DEADLINE, |c| notes::peer_names(&c.presence(&doc))
            == ["tester"])
            .await,
        "the CLI's presence never arrived"
    );

    // The other peer's edit (a line, and a word inserted at the start) shows up on the CLI.
    peer.set_presence(
        &doc,
        Some(
            Presence {
                name: "rust peer".into(),
                color: "#000".into(),
                cursor: serde_json::Value::Null,
            }
            .encode(),
        ),
    );
    peer.edit(&doc, |d| {
        notes::append_line(d, "hello from rust")?;
        d.text(notes::BODY).insert(0, "> ")
    })
    .unwrap()
    .unwrap();
    cli.wait_for_line("> hello from the terminal");
    cli.wait_for_line("hello from rust");

    // More typing after the remote edit lands after it.
    cli.type_line("bye");
    let want = "> hello from the terminal\nhello from rust\nbye\n";
    assert!(
        peer.wait_until(DEADLINE, |c| c.read(&doc, notes::body).as_deref()
            == Some(want))
            .await,
        "got {:?}",
        peer.read(&doc, notes::body)
    );

    // End of input: the CLI waits for the relay's ack and exits 0.
    drop(cli.stdin.take());
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = cli.process.0.try_wait().expect("wait on the cli") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the cli did not exit after stdin closed"
        );
        // Polling a child process's exit has no condition to wait on; yield briefly.
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "cli exited with {status}");
    peer.close().await;
}

#[test]
fn cli_refuses_an_invalid_document_id() {
    let output = Command::new(env!("CARGO_BIN_EXE_cli"))
        .args([
            "--url",
            "ws://127.0.0.1:9/sync",
            "--doc",
            "no spaces allowed",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("the cli binary runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--doc"));
}
