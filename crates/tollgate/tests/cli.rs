//! The binary as a user runs it: `init`, `check-config`, and `serve` with no config at all.

#![expect(clippy::unwrap_used, reason = "test helpers fail the test on unexpected shapes")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_tollgate");

fn tollgate(dir: &std::path::Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .env_clear()
        .env("HOME", dir)
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    c
}

#[test]
fn init_writes_a_valid_commented_config_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let out = tollgate(dir.path()).arg("init").output().unwrap();
    assert!(out.status.success());
    let text = std::fs::read_to_string(dir.path().join("tollgate.toml")).unwrap();
    assert!(text.contains("# listen = \"127.0.0.1:4747\""));
    let out = tollgate(dir.path()).arg("init").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    let out = tollgate(dir.path()).args(["check-config", "tollgate.toml"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("configuration is valid"));
}

#[test]
fn check_config_explains_every_error_with_its_origin_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "[server]\nlisten = \"localhost\"\n[timeouts]\nidle = \"soon\"\n",
    )
    .unwrap();
    let out = tollgate(dir.path())
        .args(["check-config", "bad.toml"])
        .env("TOLLGATE_LISTN", "x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("3 configuration errors"), "{err}");
    assert!(err.contains("bad.toml: server.listen: `localhost` is not an address:port"), "{err}");
    assert!(err.contains("bad.toml: timeouts.idle:"), "{err}");
    assert!(err.contains("environment variable TOLLGATE_LISTN: unknown Tollgate variable (did you mean TOLLGATE_LISTEN?)"), "{err}");

    std::fs::write(dir.path().join("typo.toml"), "[server]\nlisten_addr = \"127.0.0.1:1\"\n")
        .unwrap();
    let out = tollgate(dir.path()).args(["check-config", "typo.toml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("typo.toml: line 2: unknown field `listen_addr`")
    );
}

#[test]
fn check_config_lists_providers_enabled_by_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let out =
        tollgate(dir.path()).arg("check-config").env("ANTHROPIC_API_KEY", "sk-x").output().unwrap();
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(
        s.contains("provider anthropic")
            && s.contains("enabled by environment variable ANTHROPIC_API_KEY"),
        "{s}"
    );
    assert!(!s.contains("sk-x"), "keys are never printed");
}

fn get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn serve_with_no_config_writes_one_generates_a_key_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut child = tollgate(dir.path())
        .arg("serve")
        .env("TOLLGATE_DATA_DIR", &data)
        .env("TOLLGATE_LISTEN", "127.0.0.1:0")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let addr = loop {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "exited early: {seen}");
        seen.push_str(&line);
        if let Some(rest) = line.split("tollgate listening on http://").nth(1) {
            break rest.split('"').next().unwrap().to_owned();
        }
    };
    let key = std::fs::read_to_string(data.join("master.key")).unwrap();
    assert!(seen.contains(key.trim()), "the generated key is shown once");
    assert_eq!(seen.matches(key.trim()).count(), 2, "once in the banner, once in the example line");
    assert!(data.join("tollgate.toml").exists());
    assert!(data.join("tollgate.db").exists());
    assert!(get(&addr, "/health").contains("{\"status\":\"ok\"}"));
    // Logs are JSON lines and never contain the key.
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(child.wait().unwrap().success());
    assert!(rest.contains("\"message\":\"stopped\""), "{rest}");
    for line in rest.lines().filter(|l| !l.is_empty()) {
        assert!(line.starts_with('{'), "not JSON: {line}");
        assert!(!line.contains(key.trim()));
    }
}
