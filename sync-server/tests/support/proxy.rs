//! A fault-injecting TCP proxy for partition tests: it forwards connections to an upstream
//! address that can change (a restarted relay), and on command cuts every connection, stalls
//! them (bytes stop moving both ways, sockets stay open), or heals.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does with traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Forward.
    Pass,
    /// Hold every byte; accept new connections but forward nothing.
    Stall,
    /// Drop new connections at once (existing ones were cut).
    Refuse,
}

#[derive(Clone, Copy, Debug)]
struct Control {
    mode: Mode,
    /// Incremented by every cut: connections of an older generation end.
    generation: u64,
}

/// A running proxy.
pub struct Proxy {
    addr: SocketAddr,
    upstream: Arc<Mutex<SocketAddr>>,
    control: watch::Sender<Control>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Listens on 127.0.0.1 port 0 and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let upstream = Arc::new(Mutex::new(upstream));
        let (control, control_rx) = watch::channel(Control {
            mode: Mode::Pass,
            generation: 0,
        });
        let target = Arc::clone(&upstream);
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let now = *control_rx.borrow();
                if now.mode == Mode::Refuse {
                    drop(client);
                    continue;
                }
                let upstream = *target.lock().unwrap();
                tokio::spawn(pipe(client, upstream, control_rx.clone(), now.generation));
            }
        });
        Proxy {
            addr,
            upstream,
            control,
            task,
        }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// New connections go to `upstream`.
    pub fn set_upstream(&self, upstream: SocketAddr) {
        *self.upstream.lock().unwrap() = upstream;
    }

    /// Closes every connection and refuses new ones until [`heal`](Self::heal).
    pub fn cut(&self) {
        self.control.send_modify(|c| {
            c.mode = Mode::Refuse;
            c.generation += 1;
        });
    }

    /// Stops moving bytes on every connection (they stay open) until [`heal`](Self::heal).
    pub fn stall(&self) {
        self.control.send_modify(|c| c.mode = Mode::Stall);
    }

    /// Forwards again.
    pub fn heal(&self) {
        self.control.send_modify(|c| c.mode = Mode::Pass);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        self.cut();
    }
}

async fn pipe(
    mut client: TcpStream,
    upstream: SocketAddr,
    mut control: watch::Receiver<Control>,
    generation: u64,
) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut client_read, mut client_write) = client.split();
    let (mut server_read, mut server_write) = server.split();
    let mut up = vec![0u8; 16 << 10];
    let mut down = vec![0u8; 16 << 10];
    loop {
        let now = *control.borrow_and_update();
        if now.generation != generation {
            return;
        }
        if now.mode != Mode::Pass {
            if control.changed().await.is_err() {
                return;
            }
            continue;
        }
        tokio::select! {
            n = client_read.read(&mut up) => {
                let Ok(n @ 1..) = n else { return };
                if server_write.write_all(&up[..n]).await.is_err() { return; }
            }
            n = server_read.read(&mut down) => {
                let Ok(n @ 1..) = n else { return };
                if client_write.write_all(&down[..n]).await.is_err() { return; }
            }
            changed = control.changed() => if changed.is_err() { return },
        }
    }
}
