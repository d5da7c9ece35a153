//! `recommend` against real traffic: each scenario makes one traffic shape
//! with real sockets inside a private network namespace (see
//! `netns::in_netns_of`) and asks tcptune which built-in profile it looks
//! like. Nothing is applied: a `--root` given to it stays empty.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::OwnedFd;

use nix::sys::socket::{AddressFamily, SockFlag, SockType, SockaddrIn, bind, connect, socket};
use serde_json::Value;

use crate::netns::in_netns_of;
use crate::schema::assert_valid;
use crate::{json_output, tcptune};

fn recommend() -> Value {
    let root = tempfile::tempdir().expect("root");
    let document = json_output(
        tcptune()
            .arg("--root")
            .arg(root.path())
            .args(["recommend", "--format", "json"]),
        0,
    );
    assert_eq!(
        std::fs::read_dir(root.path()).expect("root").count(),
        0,
        "recommend wrote under its root"
    );
    assert_eq!(document["applied"], false);
    assert_valid("recommend", &document, "recommend on real traffic");
    document
}

/// A connection to `to` from the local address `from` (port chosen by the
/// kernel): several client addresses on one host, as loopback allows.
fn connect_from(from: [u8; 4], to: SocketAddr) -> TcpStream {
    let fd: OwnedFd = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .expect("socket");
    bind(
        std::os::fd::AsRawFd::as_raw_fd(&fd),
        &SockaddrIn::new(from[0], from[1], from[2], from[3], 0),
    )
    .expect("bind the client address");
    let SocketAddr::V4(to) = to else {
        panic!("IPv4 listener expected")
    };
    connect(std::os::fd::AsRawFd::as_raw_fd(&fd), &SockaddrIn::from(to)).expect("connect");
    TcpStream::from(fd)
}

fn listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").expect("listen")
}

/// The client closes first, so its side waits in TIME_WAIT.
fn time_wait_toward(listener: &TcpListener) {
    let client = TcpStream::connect(listener.local_addr().expect("address")).expect("connect");
    let (mut server, _) = listener.accept().expect("accept");
    drop(client);
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut server, &mut rest).expect("read the FIN");
}

#[test]
fn outgoing_churn_toward_two_backends_suggests_loadbalancer() {
    in_netns_of(
        "recommend",
        "outgoing_churn_toward_two_backends_suggests_loadbalancer",
        || {
            let backends = [listener(), listener()];
            for round in 0..40 {
                time_wait_toward(&backends[round % 2]);
            }
            let document = recommend();
            assert_eq!(document["profile"], "loadbalancer", "{document:#}");
            assert_eq!(document["evidence"]["outgoing_time_wait"], 40);
            assert_eq!(document["evidence"]["outgoing_destinations"], 2);
        },
    );
}

#[test]
fn many_inbound_clients_suggest_webserver() {
    in_netns_of(
        "recommend",
        "many_inbound_clients_suggest_webserver",
        || {
            let server = listener();
            let address = server.local_addr().expect("address");
            let mut held = Vec::new();
            for client in 0..40u8 {
                held.push(connect_from([127, 0, 0, 2 + client % 8], address));
                held.push(server.accept().expect("accept").0);
            }
            let document = recommend();
            assert_eq!(document["profile"], "webserver", "{document:#}");
            assert_eq!(document["evidence"]["inbound_established"], 40);
            assert_eq!(document["evidence"]["inbound_clients"], 8);
        },
    );
}

#[test]
fn a_pool_of_long_lived_connections_to_one_server_suggests_database() {
    in_netns_of(
        "recommend",
        "a_pool_of_long_lived_connections_to_one_server_suggests_database",
        || {
            let server = listener();
            let address = server.local_addr().expect("address");
            let mut held = Vec::new();
            for _ in 0..20 {
                held.push(TcpStream::connect(address).expect("connect"));
                held.push(server.accept().expect("accept").0);
            }
            let document = recommend();
            assert_eq!(document["profile"], "database", "{document:#}");
            assert_eq!(document["evidence"]["outgoing_established"], 20);
            assert_eq!(document["evidence"]["outgoing_time_wait"], 0);
        },
    );
}

#[test]
fn a_quiet_namespace_gets_the_default() {
    in_netns_of("recommend", "a_quiet_namespace_gets_the_default", || {
        let _idle = listener();
        let document = recommend();
        assert_eq!(document["profile"], "default", "{document:#}");
    });
}
