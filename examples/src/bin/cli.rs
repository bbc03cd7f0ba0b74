//! `cli --url ws://127.0.0.1:8080 --doc notes [--name NAME]`: a terminal peer of the shared
//! note. It joins the document through the relay with [`SyncClient`], prints the whole note on
//! stdout each time it changes (framed by a `── doc ──` header line), and appends every line
//! typed on stdin to the note (see [`examples::notes`]). Connection changes and the names of the
//! other peers go to stderr.
//!
//! When stdin ends (ctrl-D, or the end of a pipe) it waits until the relay has stored everything
//! typed (at most `--flush-secs`), then exits: 0 when the relay holds it all, 1 when not (the
//! relay was unreachable; nothing is kept locally). Open the browser editor on the same `--doc`
//! to see both sides edit together.
//!
//! With `--p2p` it also joins the peers' direct mesh (the editor's `?p2p`): WebRTC data channels
//! to the other peers ([`MeshPeer`], host candidates on `--p2p-bind`), so lines typed here still
//! reach them, and theirs reach here, while the relay is down. The peers linked directly go to
//! stderr as `[direct: ...]`.

use std::net::IpAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use crdt_core::sync::DocId;
use crdt_core::Doc;
use examples::notes::{self, Presence};
use sync_server::client::{ClientOptions, SyncClient};
use sync_server::mesh::{MeshOptions, MeshPeer};
use tokio::sync::mpsc;

/// Command line of the `cli` binary.
#[derive(Parser, Debug)]
#[command(
    about = "Join a shared note through the relay, print it as it changes, append stdin lines"
)]
struct Args {
    /// The relay's WebSocket address.
    #[arg(long, default_value = "ws://127.0.0.1:8080/sync")]
    url: String,
    /// The document to join (the editor page's `?doc=`).
    #[arg(long, default_value = "notes")]
    doc: String,
    /// The name the other peers see.
    #[arg(long, default_value = "terminal")]
    name: String,
    /// After stdin ends, how long to wait for the relay to store what was typed.
    #[arg(long, default_value_t = 10)]
    flush_secs: u64,
    /// Also sync directly with the other peers over WebRTC (the editor page's `?p2p`).
    #[arg(long)]
    p2p: bool,
    /// With `--p2p`: the address offered to direct peers (loopback: this machine only; a LAN
    /// address: that network).
    #[arg(long, default_value = "127.0.0.1")]
    p2p_bind: IpAddr,
    /// With `--p2p`: most direct links; further peers sync through the relay.
    #[arg(long, default_value_t = 8)]
    max_direct_peers: usize,
}

/// What the terminal last showed, to print only what changed.
#[derive(Default, PartialEq)]
struct Shown {
    text: Option<String>,
    connected: Option<bool>,
    peers: Option<Vec<String>>,
    direct: Option<Vec<String>>,
}

fn snapshot(client: &SyncClient, id: &DocId, mesh: Option<&MeshPeer>) -> Shown {
    Shown {
        text: client.read(id, notes::body),
        connected: Some(client.is_connected()),
        peers: Some(notes::peer_names(&client.presence(id))),
        direct: mesh.map(direct_names),
    }
}

/// The names of the peers linked directly.
fn direct_names(mesh: &MeshPeer) -> Vec<String> {
    let mut names: Vec<String> = mesh
        .direct_peers()
        .into_iter()
        .map(|(id, presence)| {
            presence
                .as_deref()
                .and_then(Presence::decode)
                .map_or(format!("peer {id}"), |p| p.name)
        })
        .collect();
    names.sort();
    names
}

fn show(shown: &mut Shown, now: Shown, doc: &str) {
    if now.connected != shown.connected {
        let state = if now.connected == Some(true) {
            "connected"
        } else {
            "offline (reconnecting; edits are kept and sent later)"
        };
        eprintln!("[{state}]");
    }
    if now.peers != shown.peers {
        match now.peers.as_deref() {
            Some([]) | None => eprintln!("[no one else here]"),
            Some(names) => eprintln!("[here: {}]", names.join(", ")),
        }
    }
    if now.direct != shown.direct {
        if let Some(names) = &now.direct {
            eprintln!("[direct: {}]", names.join(", "));
        }
    }
    if now.text != shown.text {
        let text = now.text.as_deref().unwrap_or("");
        println!("── {doc} ({} lines) ──", text.lines().count());
        print!("{text}");
        if !text.is_empty() && !text.ends_with('\n') {
            println!();
        }
    }
    *shown = now;
}

/// Lines of stdin, read on a thread of their own (a blocking read, as tokio's own stdin does);
/// the channel closes at the end of input or on a read error.
fn stdin_lines() -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            match line {
                Ok(line) => {
                    if tx.send(line).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    eprintln!("cli: stdin: {e}");
                    return;
                }
            }
        }
    });
    rx
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let id = match DocId::new(args.doc.clone()) {
        Ok(id) => id,
        Err(e) => {
            eprintln!("cli: --doc {:?}: {e}", args.doc);
            return ExitCode::from(2);
        }
    };
    let client = Arc::new(SyncClient::connect(&args.url, ClientOptions::default()));
    client.join(id.clone(), Doc::new());
    let presence = Presence {
        name: args.name.clone(),
        color: "#6b7280".into(),
        cursor: serde_json::Value::Null,
    };
    client.set_presence(&id, Some(presence.encode()));
    let mesh = if args.p2p {
        let options = MeshOptions {
            bind: args.p2p_bind,
            max_direct_peers: args.max_direct_peers,
            presence: Some(presence.encode()),
        };
        match MeshPeer::start(Arc::clone(&client), id.clone(), options).await {
            Ok(mesh) => Some(mesh),
            Err(e) => {
                eprintln!("cli: --p2p: cannot bind {}: {e}", args.p2p_bind);
                return ExitCode::from(2);
            }
        }
    } else {
        None
    };
    eprintln!(
        "cli: joining {:?} at {}; type lines to append them",
        args.doc, args.url
    );

    let mut lines = stdin_lines();
    let mut shown = Shown::default();
    loop {
        // (The session re-announces our presence after every reconnect by itself.)
        show(&mut shown, snapshot(&client, &id, mesh.as_ref()), &args.doc);
        tokio::select! {
            line = lines.recv() => match line {
                Some(line) => {
                    if let Some(Err(e)) = client.edit(&id, |doc| notes::append_line(doc, &line)) {
                        eprintln!("cli: cannot append: {e}");
                    }
                }
                None => break,
            },
            _ = client.wait_until(Duration::from_secs(3600), |c| snapshot(c, &id, mesh.as_ref()) != shown) => {}
            // Direct links open and close without the relay client noticing.
            () = tokio::time::sleep(Duration::from_millis(250)), if mesh.is_some() => {}
        }
    }
    let flushed = client
        .wait_until(Duration::from_secs(args.flush_secs), |c| c.is_synced(&id))
        .await;
    show(&mut shown, snapshot(&client, &id, mesh.as_ref()), &args.doc);
    if let Some(mesh) = mesh {
        mesh.close().await;
    }
    if let Ok(client) = Arc::try_unwrap(client) {
        client.close().await;
    }
    if flushed {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "cli: the relay did not confirm every line within {}s",
            args.flush_secs
        );
        ExitCode::FAILURE
    }
}
