//! Real namespaces, real TCP: a listener in one host's namespace reached from
//! another host and from the test's own (root) namespace, before, during and
//! after a partition. They need root; without it they fail with the reason.

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::*;

/// How long a connection attempt may take. Across a partition the SYN is
/// dropped, so the attempt must run into this.
const CONNECT: Duration = Duration::from_secs(1);

/// Tests of this file share one process under `cargo test`, and a process
/// may have one [`Network`] at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A fresh network with `hosts`, failing (not skipping) when this machine
/// cannot make one.
fn network(hosts: &[&str]) -> (MutexGuard<'static, ()>, Network) {
    let guard = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    if let Err(reason) = Network::available() {
        panic!("network namespaces are not available here: {reason}");
    }
    let mut network = Network::create().expect("create the network");
    for host in hosts {
        network.add_host(host).expect("add a host");
    }
    (guard, network)
}

/// A listener on port 0 of `host`'s address, bound inside its namespace.
/// Nobody accepts: the kernel completes handshakes into the backlog, which
/// is all a connect needs.
fn listen(network: &Network, host: &str) -> (TcpListener, SocketAddr) {
    let addr = network.addr(host).expect("address");
    let path = network.netns_path(host).expect("namespace");
    let listener = in_namespace(&path, || TcpListener::bind((addr, 0)))
        .expect("enter the namespace")
        .expect("bind");
    let local = listener.local_addr().expect("local address");
    (listener, local)
}

/// Connects to `to` from inside `host`'s namespace.
fn connect_from(network: &Network, host: &str, to: SocketAddr) -> std::io::Result<TcpStream> {
    let path = network.netns_path(host).expect("namespace");
    in_namespace(&path, || TcpStream::connect_timeout(&to, CONNECT)).expect("enter the namespace")
}

fn assert_cut(result: std::io::Result<TcpStream>, what: &str) {
    match result {
        Ok(_) => panic!("{what}: connected across the partition"),
        // A silent drop, not a refusal: like a broken link.
        Err(error) => assert_eq!(error.kind(), ErrorKind::TimedOut, "{what}: {error}"),
    }
}

#[test]
fn a_partition_cuts_hosts_apart_but_never_the_test() {
    let (_guard, network) = network(&["host-a", "host-b", "host-c"]);
    assert_eq!(network.hosts(), ["host-a", "host-b", "host-c"]);
    let [a, b, c] = [0, 1, 2].map(|i| network.addr(network.hosts()[i]).expect("address"));
    assert_eq!((a.octets()[3], b.octets()[3], c.octets()[3]), (10, 11, 12));
    let (_listener_a, at_a) = listen(&network, "host-a");
    let (_listener_b, at_b) = listen(&network, "host-b");

    connect_from(&network, "host-a", at_b).expect("a reaches b");
    connect_from(&network, "host-b", at_a).expect("b reaches a");
    TcpStream::connect_timeout(&at_b, CONNECT).expect("the test reaches b");
    let (_listener_root, at_root) = {
        let listener = TcpListener::bind((Network::gateway(), 0)).expect("bind the gateway");
        let local = listener.local_addr().expect("local address");
        (listener, local)
    };
    connect_from(&network, "host-c", at_root).expect("c reaches the test");

    network
        .partition(&["host-a"], &["host-b"])
        .expect("partition");
    assert_cut(connect_from(&network, "host-a", at_b), "a to b");
    assert_cut(connect_from(&network, "host-b", at_a), "b to a");
    TcpStream::connect_timeout(&at_b, CONNECT).expect("the test still reaches b");
    TcpStream::connect_timeout(&at_a, CONNECT).expect("the test still reaches a");
    connect_from(&network, "host-a", at_root).expect("a still reaches the test");
    connect_from(&network, "host-c", at_b).expect("c is on neither side");

    // Cumulative: isolating c keeps a and b apart.
    network.isolate("host-c").expect("isolate");
    assert_cut(connect_from(&network, "host-c", at_a), "c to a");
    assert_cut(connect_from(&network, "host-a", at_b), "a to b, still");

    network.heal().expect("heal");
    connect_from(&network, "host-a", at_b).expect("a reaches b again");
    connect_from(&network, "host-b", at_a).expect("b reaches a again");
    connect_from(&network, "host-c", at_a).expect("c reaches a again");
}

#[test]
fn dropping_the_network_deletes_its_namespaces_and_uplink() {
    let (_guard, network) = network(&["k3s-master01", "k3s-worker01"]);
    let prefix = format!("cx{}-", std::process::id());
    let ours = || -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(NETNS_DIR)
            .expect("list namespaces")
            .map(|entry| entry.expect("entry").file_name().to_string_lossy().into())
            .filter(|name: &String| name.starts_with(&prefix))
            .collect();
        names.sort();
        names
    };
    let expected = ["hub", "k3s-master01", "k3s-worker01"].map(|n| format!("{prefix}{n}"));
    assert_eq!(ours(), expected);
    assert_eq!(
        network.netns_path("k3s-master01").expect("path"),
        Path::new(NETNS_DIR).join(&expected[1])
    );
    let uplink = network.uplink();
    run("ip", &["link", "show", "dev", &uplink]).expect("the uplink exists");

    drop(network);
    assert_eq!(ours(), Vec::<String>::new());
    assert!(run("ip", &["link", "show", "dev", &uplink]).is_err());
    // The process may make a network again.
    Network::create().expect("create after drop");
}

#[test]
fn bad_requests_and_failed_commands_say_what_went_wrong() {
    let (_guard, mut network) = network(&["k3s-master01"]);
    let error = network.add_host("k3s-master01").expect_err("a duplicate");
    assert!(format!("{error:#}").contains("exists already"), "{error:#}");
    assert!(network.add_host("bad name").is_err());
    let error = network.isolate("k3s-master09").expect_err("no such host");
    assert!(
        format!("{error:#}").contains("no host k3s-master09"),
        "{error:#}"
    );
    let error = Network::create().expect_err("one per process");
    assert!(format!("{error:#}").contains("only one"), "{error:#}");

    let error = run("ip", &["link", "del", "cx-no-such"]).expect_err("no such link");
    let message = format!("{error:#}");
    assert!(
        message.contains("`ip link del cx-no-such` failed"),
        "{message}"
    );
    assert!(message.contains("Cannot find device"), "{message}");
}
