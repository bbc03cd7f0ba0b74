//! Helpers of the cluster tests: a real `redis-server` on a random loopback port (append-only
//! file on, `appendfsync always`, unless a test asks otherwise), real relay processes in cluster mode, and a TCP proxy the
//! test can cut and re-route (a load balancer in front of relays, or a network between a relay
//! and Redis).

#![allow(dead_code)]

use crate::common::listening_address;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A `redis-server` process.
pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
    /// `appendonly` and `appendfsync`.
    persistence: (&'static str, &'static str),
}

impl RedisServer {
    /// Starts one on a free port. Fails the test, saying why, without `redis-server` on PATH.
    pub fn start() -> RedisServer {
        RedisServer::with_persistence("yes", "always")
    }

    /// Starts one with these `appendonly` and `appendfsync` settings.
    pub fn with_persistence(appendonly: &'static str, appendfsync: &'static str) -> RedisServer {
        let port = StdListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = RedisServer {
            child: None,
            port,
            dir: tempfile::tempdir().unwrap(),
            persistence: (appendonly, appendfsync),
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                self.persistence.0,
                "--appendfsync",
                self.persistence.1,
            ])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start redis-server ({e}): the cluster tests need it on PATH \
                     (apt-get install redis-server, as scripts/setup.sh does)"
                )
            });
        self.child = Some(child);
        let client = redis::Client::open(self.url()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let pong = client
                .get_connection_with_timeout(Duration::from_millis(200))
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
            if pong.is_ok() {
                return;
            }
            assert!(Instant::now() < deadline, "redis-server did not come up");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// `redis://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The address to connect to.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// SIGKILL: no chance to flush anything beyond what `appendfsync always` already did.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Starts again on the same port and directory (so from the same append-only file).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A relay process in cluster mode.
pub struct RelayProcess {
    child: Child,
    pub addr: SocketAddr,
}

impl RelayProcess {
    /// Starts `sync-server --redis {redis_url}` on a free loopback port.
    pub fn start(redis_url: &str) -> RelayProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sync-server"))
            .args(["--bind", "127.0.0.1:0", "--redis", redis_url])
            .env(
                "RUST_LOG",
                std::env::var("CLUSTER_TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(if std::env::var_os("CLUSTER_TEST_LOG").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .expect("relay binary starts");
        let addr = listening_address(&mut child);
        RelayProcess { child, addr }
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A TCP proxy: forwards each accepted connection to the current target; `cut` drops every
/// forwarded connection and refuses new ones until `route_to` sets a target again.
pub struct TcpProxy {
    pub addr: SocketAddr,
    target: watch::Sender<Option<SocketAddr>>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl TcpProxy {
    /// Starts forwarding to `target`.
    pub async fn start(target: SocketAddr) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = watch::channel(Some(target));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let links_in = Arc::clone(&links);
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let Some(target) = *rx.borrow() else {
                    continue; // cut: the socket is dropped at once
                };
                let link = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                links_in.lock().unwrap().push(link);
            }
        });
        TcpProxy {
            addr,
            target: tx,
            links,
            accept,
        }
    }

    /// Drops every forwarded connection and refuses new ones.
    pub fn cut(&self) {
        self.target.send_replace(None);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    /// Forwards new connections to `target` (existing ones stay where they are).
    pub fn route_to(&self, target: SocketAddr) {
        self.target.send_replace(Some(target));
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}
