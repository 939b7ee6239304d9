//! A real `redis-server` for tests of the Redis fan-out: on a free loopback
//! port, in a temporary directory, without persistence (`--save ''
//! --appendonly no`), so a restart comes back empty like a real outage.
//!
//! The server can be SIGKILLed and started again on the same port; dropping
//! it kills and reaps the process. `scripts/test.sh` installs `redis-server`;
//! `CORTEX_REDIS_SERVER` names another binary.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tempfile::TempDir;

use crate::ports::free_port;

/// Environment variable naming the `redis-server` binary.
const BINARY_ENV: &str = "CORTEX_REDIS_SERVER";
/// How long a starting server may take to answer PING.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// A `redis-server` process owned by a test.
#[derive(Debug)]
pub struct RedisServer {
    binary: PathBuf,
    port: u16,
    /// The address clients reach it at.
    host: Ipv4Addr,
    /// The address it listens on.
    bind: Ipv4Addr,
    /// Working directory and log; removed on drop.
    dir: TempDir,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server on a free loopback port and waits until it answers.
    pub fn start() -> anyhow::Result<RedisServer> {
        let mut server = RedisServer::new(Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST)?;
        server.restart()?;
        Ok(server)
    }

    /// Starts a server on every address and a free port, for clients that
    /// reach it at `host` (the address the hosts of a [`crate::net::Network`]
    /// reach the test's namespace at, which may not exist yet), and waits
    /// until it answers on loopback.
    pub fn start_for_network(host: Ipv4Addr) -> anyhow::Result<RedisServer> {
        let mut server = RedisServer::new(host, Ipv4Addr::UNSPECIFIED)?;
        server.restart()?;
        Ok(server)
    }

    fn new(host: Ipv4Addr, bind: Ipv4Addr) -> anyhow::Result<RedisServer> {
        let binary = std::env::var_os(BINARY_ENV)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("redis-server"));
        let dir = tempfile::Builder::new()
            .prefix("cortex-redis-")
            .tempdir()
            .context("creating the Redis directory")?;
        Ok(RedisServer {
            binary,
            port: free_port().context("allocating a Redis port")?,
            host,
            bind,
            dir,
            child: None,
        })
    }

    /// `redis://HOST:PORT`, the same across restarts.
    pub fn url(&self) -> String {
        format!("redis://{}:{}", self.host, self.port)
    }

    /// SIGKILLs the server and reaps it: clients see their connections reset.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            bail!("redis-server is not running");
        };
        child.kill().context("killing redis-server")?;
        child.wait().context("reaping redis-server")?;
        Ok(())
    }

    /// Starts the server (again) on the same port and waits until it answers.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        if self.child.is_some() {
            bail!("redis-server is already running");
        }
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.dir.path().join("redis.log"))?;
        let child = Command::new(&self.binary)
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                &self.bind.to_string(),
            ])
            .args(["--save", "", "--appendonly", "no"])
            // Test hosts in namespaces reach it from outside loopback; the
            // server exists only for this test.
            .args(["--protected-mode", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| {
                format!(
                    "starting {} (install redis-server: scripts/test.sh does, \
                     or set {BINARY_ENV})",
                    self.binary.display()
                )
            })?;
        self.child = Some(child);
        self.wait_ready()
    }

    /// The tail of the server's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    fn wait_ready(&mut self) -> anyhow::Result<()> {
        let start = Instant::now();
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        loop {
            if ping(address).is_ok() {
                return Ok(());
            }
            if let Some(child) = &mut self.child {
                if let Some(status) = child.try_wait()? {
                    self.child = None;
                    bail!("redis-server exited ({status}):\n{}", self.log_tail());
                }
            }
            if start.elapsed() > READY_TIMEOUT {
                bail!(
                    "redis-server did not answer within {READY_TIMEOUT:?}:\n{}",
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One PING in the inline protocol.
fn ping(address: SocketAddr) -> std::io::Result<()> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_millis(200))?;
    stream.set_read_timeout(Some(Duration::from_millis(500)))?;
    stream.write_all(b"PING\r\n")?;
    let mut answer = [0u8; 7];
    stream.read_exact(&mut answer)?;
    if &answer == b"+PONG\r\n" {
        Ok(())
    } else {
        Err(std::io::Error::other("unexpected answer to PING"))
    }
}
