//! The `sync-server` binary: reads its flags into a [`sync_server::Config`] (`cli.rs`), starts
//! the relay, and stops it gracefully on SIGTERM or ctrl-c. All logic is in the library.

mod cli;

use clap::Parser;
use sync_server::Relay;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let config = cli::Cli::parse().into_config();
    let relay = match Relay::start(config).await {
        Ok(relay) => relay,
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            eprintln!("sync-server: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // Tests and scripts read the bound address (port 0 picks one) from this line.
    println!("listening on {}", relay.local_addr());
    shutdown_signal().await;
    tracing::info!("shutting down");
    relay.shutdown().await;
    std::process::ExitCode::SUCCESS
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
