//! `tollgate-mock [--listen 127.0.0.1:PORT]`: the mock upstreams of `tollgate_testkit::mock`
//! as a standalone server, for scripts, benchmarks and trying an agent against a fake provider.
//! Prints `listening on http://ADDR` once bound and serves until SIGINT or SIGTERM.

use std::error::Error;
use std::io::Write as _;
use std::net::SocketAddr;

use tollgate_testkit::mock::MockUpstream;

const USAGE: &str = "usage: tollgate-mock [--listen 127.0.0.1:PORT]";

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let listen = parse_args(std::env::args().skip(1))?;
    let mock = MockUpstream::bind(listen).await?;
    announce(&mock)?;
    shutdown_signal().await?;
    drop(mock);
    Ok(())
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<SocketAddr, Box<dyn Error>> {
    let mut listen = SocketAddr::from(([127, 0, 0, 1], 0));
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => {
                let value = args.next().ok_or(USAGE)?;
                listen = value.parse().map_err(|e| format!("--listen {value}: {e}"))?;
            }
            other if other.starts_with("--listen=") => {
                let value = &other["--listen=".len()..];
                listen = value.parse().map_err(|e| format!("--listen {value}: {e}"))?;
            }
            _ => return Err(USAGE.into()),
        }
    }
    Ok(listen)
}

#[expect(clippy::print_stdout, reason = "the bound address on stdout is this binary's interface")]
fn announce(mock: &MockUpstream) -> std::io::Result<()> {
    println!("listening on {}", mock.url());
    std::io::stdout().flush()
}

async fn shutdown_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            interrupted = tokio::signal::ctrl_c() => interrupted,
            _ = terminate.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
