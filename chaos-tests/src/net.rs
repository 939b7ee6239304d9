//! [`Network`]: hosts in Linux network namespaces on one bridge, so a test can
//! cut real links between them.
//!
//! Processes on loopback can only be killed or frozen; a network partition
//! needs each node to have its own network stack. Every host therefore gets a
//! namespace with one interface, `eth0`, and an address of its own. A
//! partition is a pair of silent `iptables` DROP rules (one in each host's
//! `INPUT` chain), so connections time out exactly as across a broken link
//! instead of being refused.
//!
//! The bridge joining the hosts lives in a "hub" namespace of its own, not in
//! the root namespace: Docker sets `net.bridge.bridge-nf-call-iptables=1` and
//! a `FORWARD` policy of `DROP` there, which would silently drop bridged
//! traffic. The root namespace (the test process) is joined to the hub by an
//! uplink veth with address `.1`; no rule ever drops it, so the test can still
//! reach a node on the minority side of a partition.
//!
//! Names derive from the process id, so parallel test processes never
//! collide: namespaces `cx<pid>-hub` and `cx<pid>-<host>`, the root uplink
//! `cx<pid>up`, hub ports `cx<pid>h<k>`. The subnet is
//! `100.(64 + (pid >> 8 & 63)).(pid & 255).0/24`, inside the shared address
//! space 100.64.0.0/10; pids that agree on their low 14 bits would share a
//! subnet, which [`Network::create`] detects and refuses. For the same reason
//! a process may have only one `Network` at a time (a second `create` fails);
//! objects left with our names by a dead process that had our pid are deleted
//! first.
//!
//! Every `ip` and `iptables` call goes through one helper, `run`, whose errors
//! name the command and carry its stderr.

use std::fs::{self, File};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{bail, ensure, Context};
use nix::sched::{setns, CloneFlags};

/// Where `ip netns` keeps its named namespaces.
const NETNS_DIR: &str = "/run/netns";
/// Last octet of the first host's address; `.1` is the root uplink.
const FIRST_HOST: u8 = 10;
/// `CAP_NET_ADMIN` (links, addresses, iptables) in `CapEff`.
const CAP_NET_ADMIN: u32 = 12;
/// `CAP_SYS_ADMIN` (mounting namespaces, `setns`) in `CapEff`.
const CAP_SYS_ADMIN: u32 = 21;

/// Whether this process has a [`Network`]: a second one would share its
/// names, and cleaning up "leftovers" would delete the live one.
static EXISTS: AtomicBool = AtomicBool::new(false);

/// One host: a network namespace with `eth0` on the hub's bridge.
#[derive(Debug)]
struct Host {
    /// The name tests use (`k3s-master01`).
    name: String,
    /// The namespace's name under [`NETNS_DIR`].
    netns: String,
    /// The address of its `eth0`.
    addr: Ipv4Addr,
}

/// A bridged network of hosts in namespaces, deleted on drop.
///
/// Only one may exist per process at a time (names derive from the pid).
#[derive(Debug)]
pub struct Network {
    /// `cx<pid>`: the start of every name this network creates.
    prefix: String,
    /// First three octets of the /24 every address is in.
    subnet: [u8; 3],
    /// Every host added, in order.
    hosts: Vec<Host>,
}

impl Network {
    /// Whether this machine can create networks, or why not.
    pub fn available() -> Result<(), String> {
        let status = fs::read_to_string("/proc/self/status")
            .map_err(|error| format!("cannot read /proc/self/status: {error}"))?;
        let effective = status
            .lines()
            .find_map(|line| line.strip_prefix("CapEff:"))
            .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
            .ok_or("no CapEff line in /proc/self/status")?;
        for (bit, name) in [
            (CAP_NET_ADMIN, "CAP_NET_ADMIN"),
            (CAP_SYS_ADMIN, "CAP_SYS_ADMIN"),
        ] {
            if effective & (1 << bit) == 0 {
                return Err(format!(
                    "network namespaces need {name} (run the tests as root)"
                ));
            }
        }
        for (tool, flag) in [("ip", "-V"), ("iptables", "-V")] {
            run(tool, &[flag]).map_err(|error| format!("`{tool}` is not usable: {error:#}"))?;
        }
        Ok(())
    }

    /// Creates the hub namespace with its bridge and the root uplink,
    /// deleting first whatever a dead process with our pid left behind.
    pub fn create() -> anyhow::Result<Network> {
        Self::available().map_err(anyhow::Error::msg)?;
        let first = EXISTS.compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst);
        ensure!(
            first.is_ok(),
            "this process has a Network already; only one may exist at a time"
        );
        let pid = std::process::id();
        let network = Network {
            prefix: format!("cx{pid}"),
            subnet: subnet_of(pid),
            hosts: Vec::new(),
        };
        // From here on, dropping `network` on error deletes what was made
        // (deleting what was not made fails quietly) and clears `EXISTS`.
        remove_leftovers(&network.prefix)?;
        let subnet = format!("{}/24", network.octet(0));
        let taken = run("ip", &["-4", "-o", "addr", "show", "to", &subnet])?;
        ensure!(
            taken.trim().is_empty(),
            "subnet {subnet} is already used in the root namespace: {}",
            taken.trim()
        );
        let hub = network.hub();
        let uplink = network.uplink();
        run("ip", &["netns", "add", &hub])?;
        run("ip", &["-n", &hub, "link", "set", "lo", "up"])?;
        run("ip", &["-n", &hub, "link", "add", "br0", "type", "bridge"])?;
        run("ip", &["-n", &hub, "link", "set", "br0", "up"])?;
        run(
            "ip",
            &[
                "link", "add", &uplink, "type", "veth", "peer", "name", "uplink", "netns", &hub,
            ],
        )?;
        run(
            "ip",
            &["-n", &hub, "link", "set", "uplink", "master", "br0", "up"],
        )?;
        let root_addr = format!("{}/24", network.octet(1));
        run("ip", &["addr", "add", &root_addr, "dev", &uplink])?;
        run("ip", &["link", "set", &uplink, "up"])?;
        Ok(network)
    }

    /// The test process's own address (`.1`, on the root uplink) in the
    /// network this process creates: hosts reach servers of the test, such as
    /// Redis, there. Known before [`Network::create`], as it derives from the
    /// pid; reachable only while the network exists.
    pub fn gateway() -> Ipv4Addr {
        let [a, b, c] = subnet_of(std::process::id());
        Ipv4Addr::new(a, b, c, 1)
    }

    /// Adds host `name` (letters, digits and `-`) with the next free address
    /// (`.10`, `.11`, ...) and returns that address.
    pub fn add_host(&mut self, name: &str) -> anyhow::Result<Ipv4Addr> {
        ensure!(
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
            "host name {name:?} must be letters, digits and '-'"
        );
        ensure!(name != "hub", "host name \"hub\" is reserved");
        ensure!(self.host(name).is_err(), "host {name} exists already");
        let index = self.hosts.len();
        let Some(last) = u8::try_from(index)
            .ok()
            .and_then(|k| FIRST_HOST.checked_add(k))
        else {
            bail!("no address left for host {name}");
        };
        ensure!(last < 255, "no address left for host {name}");
        let addr = self.octet(last);
        let netns = format!("{}-{name}", self.prefix);
        run("ip", &["netns", "add", &netns])?;
        if let Err(error) = self.wire(&netns, index, addr) {
            let _ = run("ip", &["netns", "del", &netns]);
            return Err(error.context(format!("wiring host {name}")));
        }
        self.hosts.push(Host {
            name: name.to_owned(),
            netns,
            addr,
        });
        Ok(addr)
    }

    /// The address of host `name`.
    pub fn addr(&self, name: &str) -> anyhow::Result<Ipv4Addr> {
        Ok(self.host(name)?.addr)
    }

    /// The namespace file of host `name` (`/run/netns/<ns>`), to enter with
    /// `setns` (see [`in_namespace`]).
    pub fn netns_path(&self, name: &str) -> anyhow::Result<PathBuf> {
        Ok(Path::new(NETNS_DIR).join(&self.host(name)?.netns))
    }

    /// The names of every host, in the order they were added.
    pub fn hosts(&self) -> Vec<&str> {
        self.hosts.iter().map(|host| host.name.as_str()).collect()
    }

    /// Drops all traffic between every host of `side_a` and every host of
    /// `side_b`, both ways. Adds to earlier partitions until [`Network::heal`].
    pub fn partition(&self, side_a: &[&str], side_b: &[&str]) -> anyhow::Result<()> {
        for a in side_a {
            ensure!(!side_b.contains(a), "host {a} is on both sides");
        }
        // Every name is checked before the first rule is added.
        let side_a = side_a
            .iter()
            .map(|name| self.host(name))
            .collect::<Result<Vec<_>, _>>()?;
        let side_b = side_b
            .iter()
            .map(|name| self.host(name))
            .collect::<Result<Vec<_>, _>>()?;
        for a in &side_a {
            for b in &side_b {
                drop_from(a, b)?;
                drop_from(b, a)?;
            }
        }
        Ok(())
    }

    /// Cuts host `name` off from every other host (not from the test).
    pub fn isolate(&self, name: &str) -> anyhow::Result<()> {
        self.host(name)?;
        let others: Vec<&str> = self.hosts().into_iter().filter(|h| *h != name).collect();
        self.partition(&[name], &others)
    }

    /// Removes every drop rule: all hosts reach each other again.
    pub fn heal(&self) -> anyhow::Result<()> {
        for host in &self.hosts {
            run(
                "ip",
                &[
                    "netns",
                    "exec",
                    &host.netns,
                    "iptables",
                    "-w",
                    "-F",
                    "INPUT",
                ],
            )?;
        }
        Ok(())
    }

    /// Puts a veth between the hub's bridge and `eth0` in `netns`.
    fn wire(&self, netns: &str, index: usize, addr: Ipv4Addr) -> anyhow::Result<()> {
        let hub = self.hub();
        let port = format!("{}h{index}", self.prefix);
        run(
            "ip",
            &[
                "-n", &hub, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns",
                netns,
            ],
        )?;
        run(
            "ip",
            &["-n", &hub, "link", "set", &port, "master", "br0", "up"],
        )?;
        run(
            "ip",
            &[
                "-n",
                netns,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                "eth0",
            ],
        )?;
        run("ip", &["-n", netns, "link", "set", "eth0", "up"])?;
        run("ip", &["-n", netns, "link", "set", "lo", "up"])?;
        Ok(())
    }

    fn host(&self, name: &str) -> anyhow::Result<&Host> {
        match self.hosts.iter().find(|host| host.name == name) {
            Some(host) => Ok(host),
            None => bail!("no host {name} in the network (hosts: {:?})", self.hosts()),
        }
    }

    fn hub(&self) -> String {
        format!("{}-hub", self.prefix)
    }

    fn uplink(&self) -> String {
        format!("{}up", self.prefix)
    }

    fn octet(&self, last: u8) -> Ipv4Addr {
        let [a, b, c] = self.subnet;
        Ipv4Addr::new(a, b, c, last)
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        // Deleting a namespace deletes its veth ends and their peers; the
        // uplink is the one end that lives in the root namespace.
        let _ = run("ip", &["link", "del", &self.uplink()]);
        for host in &self.hosts {
            let _ = run("ip", &["netns", "del", &host.netns]);
        }
        let _ = run("ip", &["netns", "del", &self.hub()]);
        EXISTS.store(false, Ordering::SeqCst);
    }
}

/// Runs `f` on a fresh thread that entered the network namespace at `path`:
/// sockets it opens and processes it spawns live in that namespace (a
/// thread's network namespace is its own, and children inherit it), while a
/// spawned process keeps its own pid for signals.
pub fn in_namespace<T: Send>(path: &Path, f: impl FnOnce() -> T + Send) -> anyhow::Result<T> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    std::thread::scope(|scope| {
        let thread = scope.spawn(move || -> anyhow::Result<T> {
            setns(&file, CloneFlags::CLONE_NEWNET)
                .with_context(|| format!("entering network namespace {}", path.display()))?;
            Ok(f())
        });
        thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// The first three octets of the /24 of the process with id `pid`.
fn subnet_of(pid: u32) -> [u8; 3] {
    [100, 64 + ((pid >> 8) & 63) as u8, (pid & 255) as u8]
}

/// Runs `program` with `args`; its stdout on success, else an error naming
/// the command, how it ended and its stderr.
fn run(program: &str, args: &[&str]) -> anyhow::Result<String> {
    let shown = format!("`{program} {}`", args.join(" "));
    let output = Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("running {shown}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        bail!("{shown} failed ({}): {}", output.status, stderr.trim());
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// In `host`'s namespace, drops every packet coming from `from`.
fn drop_from(host: &Host, from: &Host) -> anyhow::Result<()> {
    let source = from.addr.to_string();
    let rule = ["-w", "-A", "INPUT", "-s", &source, "-j", "DROP"];
    let mut args = vec!["netns", "exec", &host.netns, "iptables"];
    args.extend(rule);
    run("ip", &args).map(drop)
}

/// Deletes the namespaces and uplink named with `prefix`: they belonged to a
/// dead process that had our pid, since we have created none yet.
fn remove_leftovers(prefix: &str) -> anyhow::Result<()> {
    let uplink = format!("{prefix}up");
    if run("ip", &["link", "show", "dev", &uplink]).is_ok() {
        run("ip", &["link", "del", &uplink])?;
    }
    let entries = match fs::read_dir(NETNS_DIR) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error).context(format!("listing {NETNS_DIR}")),
    };
    let ours = format!("{prefix}-");
    for entry in entries {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.starts_with(&ours) {
            run("ip", &["netns", "del", &name])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
