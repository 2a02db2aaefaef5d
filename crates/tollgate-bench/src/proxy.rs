//! The processes under test, nginx and Tollgate, run as children pinned to the proxy core. Each
//! lives in a [`Proxy`] that kills it when dropped, so an error or Ctrl-C never leaves one running.
//! Also where their CPU time, memory and logs are read. Knows nothing about load phases.

use std::ffi::OsString;
use std::fs::{self, File};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use http::StatusCode;
use tempfile::TempDir;

use crate::load;
use crate::procfs::{self, Memory};

/// How long a proxy may take to start answering.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a proxy may take to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// Environment passed through to Tollgate; everything else is cleared so a developer's own
/// `TOLLGATE_*`, provider keys or `HTTPS_PROXY` cannot change what is measured or where it goes.
const PASSED_ENV: &[&str] = &["PATH", "HOME", "TMPDIR", "RUST_BACKTRACE"];

/// A proxy under test, running as a child process.
pub struct Proxy {
    pub name: &'static str,
    pub addr: SocketAddr,
    child: Child,
    /// Every process whose CPU and memory count: the child and, for nginx, its worker.
    pids: Vec<u32>,
    logs: Vec<PathBuf>,
    dir: TempDir,
}

impl Proxy {
    /// CPU time used so far by all of the proxy's processes.
    pub fn cpu_time(&self) -> anyhow::Result<Duration> {
        self.pids.iter().map(|&pid| procfs::cpu_time(pid)).sum()
    }

    /// Resident memory of all of the proxy's processes, summed.
    pub fn memory(&self) -> anyhow::Result<Memory> {
        self.pids.iter().try_fold(Memory::default(), |sum, &pid| Ok(sum + procfs::memory(pid)?))
    }

    /// Sends SIGTERM and waits for the exit; how long it took, or `None` if it had to be killed.
    pub async fn stop(&mut self) -> Option<Duration> {
        let started = Instant::now();
        signal(self.child.id(), "TERM");
        while started.elapsed() < STOP_TIMEOUT {
            if let Ok(Some(_)) = self.child.try_wait() {
                // nginx's master waits for its worker, so nothing of ours is left.
                self.pids.clear();
                return Some(started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        None
    }

    /// Every line the proxy wrote to its logs.
    pub fn log_lines(&self) -> Vec<String> {
        self.logs
            .iter()
            .filter_map(|path| fs::read_to_string(path).ok())
            .flat_map(|text| text.lines().map(str::to_owned).collect::<Vec<_>>())
            .filter(|line| !line.trim().is_empty())
            .collect()
    }

    /// Bytes under the proxy's data directory (Tollgate's history database and its WAL).
    pub fn data_bytes(&self) -> u64 {
        dir_bytes(&self.dir.path().join("data"))
    }

    fn log_tail(&self) -> String {
        let lines = self.log_lines();
        let tail = lines.get(lines.len().saturating_sub(20)..).unwrap_or_default();
        if tail.is_empty() { "(empty)".to_owned() } else { tail.join("\n") }
    }

    /// Waits until the proxy answers `GET /health`: with 200 if `need_ok`, with anything if not.
    async fn wait_ready(&mut self, need_ok: bool) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited ({status}) while starting; its log ends:\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            match load::get_status(self.addr, "/health").await {
                Ok(status) if !need_ok || status == StatusCode::OK => return Ok(()),
                Ok(_) | Err(_) if started.elapsed() < START_TIMEOUT => {}
                Ok(status) => bail!(
                    "{} answered GET /health with {status} for {START_TIMEOUT:?}; its log ends:\n{}",
                    self.name,
                    self.log_tail()
                ),
                Err(error) => bail!(
                    "{} did not answer on {} within {START_TIMEOUT:?} ({error:#}); its log ends:\n{}",
                    self.name,
                    self.addr,
                    self.log_tail()
                ),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        for &pid in &self.pids {
            signal(pid, "KILL");
        }
        // Already gone after a clean `stop`; then these fail harmlessly.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends a signal through `kill(1)`: the workspace forbids `unsafe`, so no `libc::kill`.
pub fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn dir_bytes(path: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(path) else { return 0 };
    entries
        .filter_map(Result::ok)
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => dir_bytes(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

/// A port nobody listens on right now. Another process could take it before the proxy binds it;
/// on a benchmark machine that is unlikely, and the proxy would then fail to start, loudly.
fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port())
}

/// `program`, run under `taskset -c <cpu>` when pinning.
fn pinned(program: &Path, cpu: Option<usize>) -> Command {
    match cpu {
        Some(cpu) => {
            let mut command = Command::new("taskset");
            command.arg("-c").arg(cpu.to_string()).arg(program);
            command
        }
        None => Command::new(program),
    }
}

/// The nginx binary: `explicit` if given, else `nginx` on `PATH` or in the usual sbin folders
/// (Debian installs it to `/usr/sbin`, which is not on a normal user's `PATH`).
pub fn find_nginx(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return path.is_file().then(|| path.to_owned());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/usr/local/nginx/sbin"].map(PathBuf::from))
        .map(|dir| dir.join("nginx"))
        .find(|candidate| candidate.is_file())
}

/// `nginx/1.22.1`, from `nginx -v` (which prints to stderr).
pub fn nginx_version(nginx: &Path) -> String {
    Command::new(nginx)
        .arg("-v")
        .output()
        .ok()
        .and_then(|out| {
            let text = String::from_utf8_lossy(&out.stderr).into_owned();
            text.trim().strip_prefix("nginx version: ").map(str::to_owned)
        })
        .unwrap_or_else(|| "nginx (unknown version)".to_owned())
}

/// A plain reverse proxy as a careful operator would set it up for this traffic: one worker,
/// HTTP/1.1 keep-alive on both sides, no access log, no response buffering (so streams flow).
fn nginx_conf(dir: &Path, port: u16, upstream: SocketAddr) -> String {
    let dir = dir.display();
    format!(
        r#"worker_processes 1;
worker_rlimit_nofile 16384;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;

events {{
    worker_connections 8192;
}}

http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 75s;

    upstream mock {{
        server {upstream};
        keepalive 256;
        keepalive_requests 1000000;
        keepalive_timeout 60s;
    }}

    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_read_timeout 300s;
        }}
    }}
}}
"#
    )
}

/// Starts nginx in front of `upstream`, with its config, pid file and logs in a temp dir.
pub async fn start_nginx(
    nginx: &Path,
    upstream: SocketAddr,
    cpu: Option<usize>,
) -> anyhow::Result<Proxy> {
    let dir = tempfile::Builder::new().prefix("tollgate-bench-nginx-").tempdir()?;
    let port = free_port()?;
    let conf = dir.path().join("nginx.conf");
    fs::write(&conf, nginx_conf(dir.path(), port, upstream))?;
    let output = dir.path().join("output.log");
    let log = File::create(&output)?;
    let child = pinned(nginx, cpu)
        .arg("-p")
        .arg(dir.path())
        .arg("-e")
        .arg(dir.path().join("error.log"))
        .arg("-c")
        .arg(&conf)
        .arg("-g")
        .arg("daemon off;")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {}", nginx.display()))?;
    let master = child.id();
    let mut proxy = Proxy {
        name: "nginx",
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        child,
        pids: vec![master],
        logs: vec![output, dir.path().join("error.log")],
        dir,
    };
    proxy.wait_ready(false).await?;
    let workers = procfs::children(master);
    if workers.is_empty() {
        bail!("nginx is up but has no worker process; its log ends:\n{}", proxy.log_tail());
    }
    proxy.pids.extend(workers);
    Ok(proxy)
}

/// Starts `tollgate serve` in front of `upstream` with recording on, as users run it, and waits
/// for `GET /health` to return 200.
pub async fn start_tollgate(
    tollgate: &Path,
    upstream: SocketAddr,
    cpu: Option<usize>,
    extra_env: &[(String, String)],
) -> anyhow::Result<Proxy> {
    let dir = tempfile::Builder::new().prefix("tollgate-bench-gateway-").tempdir()?;
    let data = dir.path().join("data");
    fs::create_dir(&data)?;
    let port = free_port()?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let output = dir.path().join("tollgate.log");
    let log = File::create(&output)?;
    let mut command = pinned(tollgate, cpu);
    command
        .arg("serve")
        // No project config file from wherever the bench was started.
        .current_dir(dir.path())
        .env_clear()
        .envs(PASSED_ENV.iter().filter_map(|&key| Some((key, std::env::var_os(key)?))))
        .env("TOLLGATE_LISTEN", addr.to_string())
        .env("TOLLGATE_DATA_DIR", &data)
        .env("TOLLGATE_MASTER_KEY", load::API_KEY)
        .env("ANTHROPIC_API_KEY", "dummy")
        .env("TOLLGATE_ANTHROPIC_BASE_URL", format!("http://{upstream}"))
        .env("TOLLGATE_LOG", "warn")
        .envs(extra_env.iter().map(|(k, v)| (OsString::from(k), OsString::from(v))))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    let child = command.spawn().with_context(|| format!("starting {}", tollgate.display()))?;
    let pid = child.id();
    let mut proxy =
        Proxy { name: "tollgate", addr, child, pids: vec![pid], logs: vec![output], dir };
    proxy.wait_ready(true).await?;
    Ok(proxy)
}

/// The release binary next to this one (`target/release/tollgate` when the bench was built with
/// `--release` in the same target dir), or an error saying how to build it.
pub fn tollgate_binary(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    let path = match explicit {
        Some(path) => path.to_owned(),
        None => {
            let exe = std::env::current_exe()?;
            // target/<profile>/tollgate-bench -> target/release/tollgate
            let target = exe
                .parent()
                .and_then(Path::parent)
                .ok_or_else(|| anyhow!("cannot find the target dir from {}", exe.display()))?;
            target.join("release").join("tollgate")
        }
    };
    if !path.is_file() {
        bail!(
            "the Tollgate binary is missing: {}\n\
             Build it first with `cargo build --release -p tollgate`, pass another one with \
             `--tollgate-bin PATH`, or leave Tollgate out with `--scenarios direct,nginx`.",
            path.display()
        );
    }
    Ok(path)
}
