//! The knowledge base's data: every key tcptune sets or reads, with its
//! history from 3.10 to 6.18.
//!
//! Each event cites a commit id or a tagged source line
//! (`vX.Y[.Z]:path:line-or-symbol`, read in the release's source tree; a
//! stable tree such as v4.14.177 stands for its release line). Baseline
//! events describe upstream v3.10.99. Where two trees read are not
//! consecutive releases, the event is `between` them and says so.

use super::KeyInfo;
use super::history::{Change, Default, Event, Scope, When, v};
use super::value::Handler;

const BASE: When = When::Baseline;

const fn at(major: u32, minor: u32) -> When {
    When::In(v(major, minor))
}

const fn between(major: u32, minor: u32, by_major: u32, by_minor: u32) -> When {
    When::Between(v(major, minor), v(by_major, by_minor))
}

const fn ev(when: When, change: Change, cite: &'static [&'static str]) -> Event {
    Event { when, change, cite }
}

const fn default(text: &'static str, value: Option<&'static str>) -> Change {
    Change::Default(Default { text, value })
}

const fn constant(value: &'static str) -> Change {
    Change::Default(Default {
        text: value,
        value: Some(value),
    })
}

const INT: Change = Change::Handler(Handler::Int {
    min: None,
    max: None,
});
const JIFFIES: Change = Change::Handler(Handler::Jiffies);
const U8: Change = Change::Handler(Handler::U8 { min: 0, max: 255 });
const PER_NETNS: Change = Change::Scope(Scope::PerNetns);
const GLOBAL: Change = Change::Scope(Scope::Global);

/// The 5.13-5.15 conversion of many TCP knobs to `proc_dou8vec_minmax`:
/// v5.12.9 has `proc_dointvec`, v5.15.100 `proc_dou8vec_minmax`.
const U8_CONVERSION: When = between(5, 12, 5, 15);

pub static KEYS: &[KeyInfo] = &[
    KeyInfo {
        key: "net.ipv4.tcp_tw_recycle",
        summary: "Cached the last TCP timestamp per peer address and dropped SYNs carrying an older one. Hosts behind one NAT share an address but not a timestamp clock, so their connections were silently dropped (counter PAWSPassive). Since 4.10 a client's kernel adds a random per-connection offset to its timestamps, so a server with recycle on drops modern clients even when it runs an older kernel itself.",
        myth: Some(
            "\"Set tcp_tw_recycle=1 to get rid of TIME_WAIT\": it dropped SYNs from clients behind NAT (and from any client whose kernel is 4.10 or newer) and was removed in Linux 4.12. On newer kernels a sysctl file that still sets it does nothing: `sysctl --system` skips the missing key silently, `sysctl -p FILE` reports it and exits 1.",
        ),
        meaningful: Some(&[0, 1]),
        history: &[
            ev(
                BASE,
                Change::Added,
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:441"],
            ),
            ev(BASE, INT, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:441"]),
            ev(
                BASE,
                constant("0"),
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:441"],
            ),
            ev(BASE, GLOBAL, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:441"]),
            ev(
                at(4, 11),
                PER_NETNS,
                &[
                    "v4.11:net/ipv4/sysctl_net_ipv4.c:983",
                    "v4.10.17:net/ipv4/sysctl_net_ipv4.c:312",
                ],
            ),
            ev(
                at(4, 12),
                Change::Removed,
                &["4396e46187ca5070219b81773c4e65088dac50cc"],
            ),
        ],
    },
    KeyInfo {
        key: "net.ipv4.tcp_tw_reuse",
        summary: "Lets an outgoing connect() take over the address/port pair of a TIME_WAIT socket when TCP timestamps make it safe. It never affects connections a server accepts.",
        myth: Some(
            "\"tcp_tw_reuse fixes TIME_WAIT pile-up on servers\": it only helps this host's own outgoing connections (to upstreams, databases, backends) and needs tcp_timestamps.",
        ),
        meaningful: None,
        history: &[
            ev(
                BASE,
                Change::Added,
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:585"],
            ),
            ev(BASE, INT, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:585"]),
            ev(
                BASE,
                constant("0"),
                &["v4.17:net/ipv4/tcp_ipv4.c:tcp_sk_init"],
            ),
            ev(BASE, GLOBAL, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:585"]),
            ev(
                BASE,
                Change::Meaning(
                    "0 off; any other value on for all outgoing connections. Reuse needs the last timestamp from the peer to be more than 1 s old.",
                ),
                &["v4.17:net/ipv4/tcp_ipv4.c:tcp_twsk_unique"],
            ),
            ev(
                at(4, 10),
                PER_NETNS,
                &[
                    "v4.10.17:net/ipv4/sysctl_net_ipv4.c:956",
                    "v4.9:net/ipv4/sysctl_net_ipv4.c:435",
                ],
            ),
            ev(
                at(4, 18),
                Change::Handler(Handler::Int {
                    min: Some(0),
                    max: Some(2),
                }),
                &[
                    "v4.18:net/ipv4/sysctl_net_ipv4.c:853",
                    "v4.17:net/ipv4/sysctl_net_ipv4.c:842",
                ],
            ),
            ev(
                at(4, 18),
                default("2 (loopback only)", Some("2")),
                &[
                    "79e9fed460385a3d8ba0b5782e9e74405cb199b1",
                    "v4.18:net/ipv4/tcp_ipv4.c:tcp_sk_init",
                ],
            ),
            ev(
                at(4, 18),
                Change::Meaning(
                    "0 off, 1 on for all outgoing connections, 2 on for loopback only. Reuse needs the last timestamp from the peer to be more than 1 s old.",
                ),
                &[
                    "79e9fed460385a3d8ba0b5782e9e74405cb199b1",
                    "v4.18:net/ipv4/tcp_ipv4.c:tcp_twsk_unique",
                ],
            ),
            ev(
                U8_CONVERSION,
                Change::Handler(Handler::U8 { min: 0, max: 2 }),
                &[
                    "v5.15.100:net/ipv4/sysctl_net_ipv4.c:968",
                    "v5.12.9:net/ipv4/sysctl_net_ipv4.c:979",
                ],
            ),
            ev(
                at(6, 14),
                Change::Meaning(
                    "0 off, 1 on for all outgoing connections, 2 on for loopback only. Reuse needs a timestamp from the peer and tcp_tw_reuse_delay (1 s by default) since the socket entered TIME_WAIT.",
                ),
                &["v6.14:net/ipv4/tcp_ipv4.c:166"],
            ),
        ],
    },
    KeyInfo {
        key: "net.ipv4.tcp_tw_reuse_delay",
        summary: "Milliseconds a TIME_WAIT socket must have existed (counted from when it entered TIME_WAIT) before tcp_tw_reuse may take it over; the socket must also hold a timestamp from the peer.",
        myth: None,
        meaningful: None,
        history: &[
            ev(
                BASE,
                Change::Absent,
                &["v6.13.7:net/ipv4/sysctl_net_ipv4.c:ipv4_net_table"],
            ),
            ev(
                at(6, 14),
                Change::Added,
                &[
                    "v6.14:net/ipv4/sysctl_net_ipv4.c:1070",
                    "v6.13.7:net/ipv4/sysctl_net_ipv4.c:ipv4_net_table",
                ],
            ),
            ev(
                at(6, 14),
                Change::Handler(Handler::UInt {
                    min: Some(1),
                    max: Some(60000),
                }),
                &["v6.14:net/ipv4/sysctl_net_ipv4.c:1070"],
            ),
            ev(
                at(6, 14),
                constant("1000"),
                &["v6.14:net/ipv4/tcp_ipv4.c:sysctl_tcp_tw_reuse_delay"],
            ),
            ev(
                at(6, 14),
                PER_NETNS,
                &["v6.14:net/ipv4/sysctl_net_ipv4.c:1070"],
            ),
        ],
    },
    KeyInfo {
        key: "net.ipv4.tcp_fin_timeout",
        summary: "How long an orphaned socket (the application already closed it) waits in FIN_WAIT2 for the peer's FIN before the kernel drops it. It does not change how long TIME_WAIT lasts: that is fixed at 60 s.",
        myth: Some(
            "\"tcp_fin_timeout=30 halves TIME_WAIT\": it limits orphaned FIN_WAIT2 only. TIME_WAIT is TCP_TIMEWAIT_LEN, 60 s, hard-coded; no mainline sysctl changes it.",
        ),
        meaningful: None,
        history: &[
            ev(
                BASE,
                Change::Added,
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:412"],
            ),
            ev(BASE, JIFFIES, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:412"]),
            ev(
                BASE,
                constant("60"),
                &["v3.10.99:include/net/tcp.h:TCP_FIN_TIMEOUT"],
            ),
            ev(BASE, GLOBAL, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:412"]),
            ev(
                between(4, 4, 4, 6),
                PER_NETNS,
                &[
                    "v4.6.2:net/ipv4/sysctl_net_ipv4.c:949",
                    "v4.4:net/ipv4/sysctl_net_ipv4.c:390",
                ],
            ),
        ],
    },
    KeyInfo {
        key: "net.ipv4.tcp_max_tw_buckets",
        summary: "Upper limit on TIME_WAIT sockets. Past it, a closing socket skips TIME_WAIT entirely and TcpExt TCPTimeWaitOverflow rises; no kernel from 3.10 to 6.18 logs a message about it.",
        myth: Some(
            "\"Lower tcp_max_tw_buckets to get rid of TIME_WAIT\": sockets past the cap skip TIME_WAIT, which removes its protection against old duplicate segments being accepted by a new connection on the same ports.",
        ),
        meaningful: None,
        history: &[
            ev(
                BASE,
                Change::Added,
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:355"],
            ),
            ev(BASE, INT, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:355"]),
            ev(
                BASE,
                default(
                    "half the TCP established hash, which the kernel sizes from RAM (about one bucket per 128 KiB, a power of two): 4096 with 1 GiB, 32768 with 8 GiB, 131072 with 24 GiB",
                    None,
                ),
                &[
                    "v3.10.99:net/ipv4/tcp.c:3444",
                    "v6.18.2:net/ipv4/tcp_ipv4.c:3569",
                ],
            ),
            ev(BASE, GLOBAL, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:355"]),
            ev(
                at(4, 11),
                PER_NETNS,
                &[
                    "v4.11:net/ipv4/sysctl_net_ipv4.c:976",
                    "v4.10.17:net/ipv4/sysctl_net_ipv4.c:292",
                ],
            ),
        ],
    },
    KeyInfo {
        key: "net.ipv4.tcp_ehash_entries",
        summary: "Read-only: the size of the TCP established hash table this namespace uses; negative when a child namespace shares the host's table. tcp_max_tw_buckets defaults to half of it, and so does tcp_max_orphans (half the host's table).",
        myth: None,
        meaningful: None,
        history: &[
            ev(
                BASE,
                Change::Absent,
                &["v6.0.1:net/ipv4/sysctl_net_ipv4.c:ipv4_net_table"],
            ),
            ev(
                at(6, 1),
                Change::Added,
                &[
                    "v6.1.20:net/ipv4/sysctl_net_ipv4.c:1348",
                    "v6.0.1:net/ipv4/sysctl_net_ipv4.c:ipv4_net_table",
                ],
            ),
            ev(
                at(6, 1),
                Change::Handler(Handler::ReadOnly),
                &["v6.1.20:net/ipv4/sysctl_net_ipv4.c:1348"],
            ),
            ev(
                at(6, 1),
                default("depends on memory (see tcp_max_tw_buckets)", None),
                &["v6.1.20:net/ipv4/sysctl_net_ipv4.c:proc_tcp_ehash_entries"],
            ),
            ev(
                at(6, 1),
                PER_NETNS,
                &["v6.1.20:net/ipv4/sysctl_net_ipv4.c:1348"],
            ),
        ],
    },
    KeyInfo {
        key: "net.ipv4.tcp_child_ehash_entries",
        summary: "Size of the established hash table a child network namespace created from now on gets of its own; 0 means new namespaces share the host's table.",
        myth: None,
        meaningful: None,
        history: &[
            ev(
                BASE,
                Change::Absent,
                &["v6.0.1:net/ipv4/sysctl_net_ipv4.c:ipv4_net_table"],
            ),
            ev(
                at(6, 1),
                Change::Added,
                &[
                    "v6.1.20:net/ipv4/sysctl_net_ipv4.c:1354",
                    "v6.0.1:net/ipv4/sysctl_net_ipv4.c:ipv4_net_table",
                ],
            ),
            ev(
                at(6, 1),
                Change::Handler(Handler::UInt {
                    min: Some(0),
                    max: Some(16 * 1024 * 1024),
                }),
                &["v6.1.20:net/ipv4/sysctl_net_ipv4.c:1354"],
            ),
            ev(
                at(6, 1),
                constant("0"),
                &["v6.1.20:net/ipv4/sysctl_net_ipv4.c:1354"],
            ),
            ev(
                at(6, 1),
                PER_NETNS,
                &["v6.1.20:net/ipv4/sysctl_net_ipv4.c:1354"],
            ),
        ],
    },
    KeyInfo {
        key: "net.ipv4.tcp_syncookies",
        summary: "SYN cookies: 1 answers with a cookie instead of queueing when a listener's SYN queue overflows (SYN floods), 2 always sends cookies, 0 never. The kernel stores other numbers too; they have no documented meaning.",
        myth: None,
        meaningful: Some(&[0, 1, 2]),
        history: &[
            ev(
                BASE,
                Change::Added,
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:420"],
            ),
            ev(BASE, INT, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:420"]),
            ev(
                BASE,
                constant("1"),
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:420"],
            ),
            ev(BASE, GLOBAL, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:420"]),
            ev(
                between(4, 4, 4, 6),
                PER_NETNS,
                &[
                    "v4.6.2:net/ipv4/sysctl_net_ipv4.c:912",
                    "v4.4:net/ipv4/sysctl_net_ipv4.c:398",
                ],
            ),
            ev(
                U8_CONVERSION,
                U8,
                &[
                    "v5.15.100:net/ipv4/sysctl_net_ipv4.c:908",
                    "v5.12.9:net/ipv4/sysctl_net_ipv4.c:928",
                ],
            ),
        ],
    },
    KeyInfo {
        key: "net.ipv4.tcp_max_syn_backlog",
        summary: "Limit on half-open connections (SYN_RECV) per listener. A listener's SYN queue is also bounded by its listen() backlog; with tcp_syncookies=1 the kernel answers with cookies once that queue is full, and this limit mainly matters when cookies are off.",
        myth: None,
        meaningful: None,
        history: &[
            ev(
                BASE,
                Change::Added,
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:469"],
            ),
            ev(BASE, INT, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:469"]),
            ev(
                BASE,
                default(
                    "max(128, established hash / 256): 256 with 8 GiB of RAM",
                    None,
                ),
                &[
                    "v3.10.99:net/ipv4/tcp.c:3446",
                    "v5.3.1:net/ipv4/tcp_ipv4.c:2660",
                ],
            ),
            ev(BASE, GLOBAL, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:469"]),
            ev(
                at(4, 11),
                PER_NETNS,
                &[
                    "v4.11:net/ipv4/sysctl_net_ipv4.c:990",
                    "v4.10.17:net/ipv4/sysctl_net_ipv4.c:340",
                ],
            ),
            ev(
                at(5, 4),
                default(
                    "max(128, established hash / 128): 512 with 8 GiB of RAM",
                    None,
                ),
                &[
                    "v5.4.214:net/ipv4/tcp_ipv4.c:2707",
                    "v5.3.1:net/ipv4/tcp_ipv4.c:2660",
                ],
            ),
        ],
    },
    KeyInfo {
        key: "net.core.somaxconn",
        summary: "Caps the backlog an application passes to listen(): the length of the accept queue of completed connections. It is applied when listen() is called, so a running server only profits after it listens again (usually a restart).",
        myth: Some(
            "\"Raise somaxconn and the running server is fixed\": the cap is read at listen(); restart or re-listen the server, and make sure it asks for a large backlog itself.",
        ),
        meaningful: None,
        history: &[
            ev(
                BASE,
                Change::Added,
                &["v3.10.99:net/core/sysctl_net_core.c:206"],
            ),
            ev(
                BASE,
                Change::Handler(Handler::Int {
                    min: Some(0),
                    max: Some(65535),
                }),
                &["v3.10.99:net/core/sysctl_net_core.c:206"],
            ),
            ev(
                BASE,
                constant("128"),
                &["v5.3.1:include/linux/socket.h:266"],
            ),
            ev(
                BASE,
                PER_NETNS,
                &["v3.10.99:net/core/sysctl_net_core.c:206"],
            ),
            ev(
                between(3, 19, 4, 1),
                Change::Handler(Handler::Int {
                    min: Some(0),
                    max: None,
                }),
                &[
                    "v4.1.3:net/core/sysctl_net_core.c:399",
                    "v3.19:net/core/sysctl_net_core.c:389",
                ],
            ),
            ev(
                at(5, 4),
                constant("4096"),
                &[
                    "19f92a030ca6d772ab44b22ee6a01378a8cb32d4",
                    "v5.4.214:include/linux/socket.h:266",
                ],
            ),
        ],
    },
    KeyInfo {
        key: "net.ipv4.tcp_abort_on_overflow",
        summary: "When a listener's accept queue is full, reset new connections (1) instead of dropping the client's final ACK (0), in which case the server resends its SYN-ACK and accepts the connection once there is room. Resets hide a slow application from its clients; the default is usually right.",
        myth: None,
        meaningful: Some(&[0, 1]),
        history: &[
            ev(
                BASE,
                Change::Added,
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:448"],
            ),
            ev(BASE, INT, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:448"]),
            ev(
                BASE,
                constant("0"),
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:448"],
            ),
            ev(BASE, GLOBAL, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:448"]),
            ev(
                at(4, 15),
                PER_NETNS,
                &[
                    "v4.15.18:net/ipv4/sysctl_net_ipv4.c:1011",
                    "v4.14.177:net/ipv4/sysctl_net_ipv4.c:437",
                ],
            ),
            ev(
                U8_CONVERSION,
                U8,
                &[
                    "v5.15.100:net/ipv4/sysctl_net_ipv4.c:1137",
                    "v5.12.9:net/ipv4/sysctl_net_ipv4.c:1139",
                ],
            ),
        ],
    },
    KeyInfo {
        key: "net.ipv4.ip_local_port_range",
        summary: "The ephemeral ports connect() and bind(0) choose from. From one source address, at most (high - low + 1) minus reserved ports connections can exist to one destination address and port at once.",
        myth: None,
        meaningful: None,
        history: &[
            ev(
                BASE,
                Change::Added,
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:476"],
            ),
            ev(
                BASE,
                Change::Handler(Handler::PortRange { floor: false }),
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:476"],
            ),
            ev(
                BASE,
                default("32768 61000", Some("32768 61000")),
                &["v4.1.3:net/ipv4/af_inet.c:1602"],
            ),
            ev(BASE, GLOBAL, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:476"]),
            ev(
                at(3, 13),
                PER_NETNS,
                &[
                    "v3.13:net/ipv4/sysctl_net_ipv4.c:818",
                    "v3.12:net/ipv4/sysctl_net_ipv4.c:477",
                ],
            ),
            ev(
                at(4, 2),
                default(
                    "32768 60999 (distribution kernels may carry it earlier: RHEL 7's 3.10 has it)",
                    Some("32768 60999"),
                ),
                &[
                    "v4.2.8:net/ipv4/af_inet.c:1601",
                    "v4.1.3:net/ipv4/af_inet.c:1602",
                    "rhel7-3.10.0-1160:net/ipv4/sysctl_net_ipv4.c:999",
                ],
            ),
            ev(
                at(4, 2),
                Change::Meaning(
                    "connect() tries ports with the parity of the low bound first, leaving the other half to bind(0), so keep the two bounds of different parity.",
                ),
                &[
                    "v4.2.8:net/ipv4/inet_hashtables.c:510",
                    "v4.6.2:net/ipv4/inet_connection_sock.c:143",
                ],
            ),
            ev(
                at(4, 11),
                Change::Handler(Handler::PortRange { floor: true }),
                &[
                    "v4.11:net/ipv4/sysctl_net_ipv4.c:89",
                    "v4.10.17:net/ipv4/sysctl_net_ipv4.c:ipv4_local_port_range",
                ],
            ),
        ],
    },
    KeyInfo {
        key: "net.ipv4.ip_local_reserved_ports",
        summary: "Ports excluded from automatic assignment by connect() and bind(0); explicit binds may still use them. Written as comma-separated ports and ranges without blanks; the kernel prints them sorted and merged (`8081,8080` reads back as `8080-8081`).",
        myth: None,
        meaningful: None,
        history: &[
            ev(
                BASE,
                Change::Added,
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:483"],
            ),
            ev(
                BASE,
                Change::Handler(Handler::PortBitmap),
                &[
                    "v3.10.99:net/ipv4/sysctl_net_ipv4.c:483",
                    "v3.10.99:kernel/sysctl.c:proc_do_large_bitmap",
                ],
            ),
            ev(
                BASE,
                default("empty", Some("")),
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:483"],
            ),
            ev(BASE, GLOBAL, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:483"]),
            ev(
                between(3, 13, 3, 19),
                PER_NETNS,
                &[
                    "v3.19:net/ipv4/sysctl_net_ipv4.c:837",
                    "v3.13:net/ipv4/sysctl_net_ipv4.c:446",
                ],
            ),
        ],
    },
    KeyInfo {
        key: "net.ipv4.ip_unprivileged_port_start",
        summary: "The first port an unprivileged process may bind. ip_local_port_range's low end may not be below it.",
        myth: None,
        meaningful: None,
        history: &[
            ev(
                BASE,
                Change::Absent,
                &["v4.10.17:net/ipv4/sysctl_net_ipv4.c:ipv4_net_table"],
            ),
            ev(
                at(4, 11),
                Change::Added,
                &[
                    "v4.11:net/ipv4/sysctl_net_ipv4.c:1008",
                    "v4.10.17:net/ipv4/sysctl_net_ipv4.c:ipv4_net_table",
                ],
            ),
            ev(
                at(4, 11),
                Change::Handler(Handler::PrivilegedPorts),
                &["v4.11:net/ipv4/sysctl_net_ipv4.c:115"],
            ),
            ev(
                at(4, 11),
                constant("1024"),
                &["v4.11:net/ipv4/af_inet.c:1727"],
            ),
            ev(
                at(4, 11),
                PER_NETNS,
                &["v4.11:net/ipv4/sysctl_net_ipv4.c:1008"],
            ),
        ],
    },
    KeyInfo {
        key: "net.ipv4.tcp_keepalive_time",
        summary: "Seconds a connection may be idle before the first keepalive probe, for sockets that enabled SO_KEEPALIVE. Per-socket options (TCP_KEEPIDLE) override it. Keepalive also resets a CLOSE_WAIT socket whose peer has gone, if the application enabled it.",
        myth: None,
        meaningful: None,
        history: &[
            ev(
                BASE,
                Change::Added,
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:376"],
            ),
            ev(BASE, JIFFIES, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:376"]),
            ev(
                BASE,
                constant("7200"),
                &["v3.10.99:include/net/tcp.h:TCP_KEEPALIVE_TIME"],
            ),
            ev(BASE, GLOBAL, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:376"]),
            ev(
                between(4, 4, 4, 6),
                PER_NETNS,
                &[
                    "v4.6.2:net/ipv4/sysctl_net_ipv4.c:874",
                    "v4.4:net/ipv4/sysctl_net_ipv4.c:354",
                ],
            ),
        ],
    },
    KeyInfo {
        key: "net.ipv4.tcp_keepalive_intvl",
        summary: "Seconds between keepalive probes once probing has started.",
        myth: None,
        meaningful: None,
        history: &[
            ev(
                BASE,
                Change::Added,
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:390"],
            ),
            ev(BASE, JIFFIES, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:390"]),
            ev(
                BASE,
                constant("75"),
                &["v3.10.99:include/net/tcp.h:TCP_KEEPALIVE_INTVL"],
            ),
            ev(BASE, GLOBAL, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:390"]),
            ev(
                between(4, 4, 4, 6),
                PER_NETNS,
                &[
                    "v4.6.2:net/ipv4/sysctl_net_ipv4.c:888",
                    "v4.4:net/ipv4/sysctl_net_ipv4.c:368",
                ],
            ),
        ],
    },
    KeyInfo {
        key: "net.ipv4.tcp_keepalive_probes",
        summary: "Unanswered keepalive probes before the connection is declared dead and reset.",
        myth: None,
        meaningful: None,
        history: &[
            ev(
                BASE,
                Change::Added,
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:383"],
            ),
            ev(BASE, INT, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:383"]),
            ev(
                BASE,
                constant("9"),
                &["v3.10.99:include/net/tcp.h:TCP_KEEPALIVE_PROBES"],
            ),
            ev(BASE, GLOBAL, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:383"]),
            ev(
                between(4, 4, 4, 6),
                PER_NETNS,
                &[
                    "v4.6.2:net/ipv4/sysctl_net_ipv4.c:881",
                    "v4.4:net/ipv4/sysctl_net_ipv4.c:361",
                ],
            ),
            ev(
                U8_CONVERSION,
                U8,
                &[
                    "v5.15.100:net/ipv4/sysctl_net_ipv4.c:877",
                    "v5.12.9:net/ipv4/sysctl_net_ipv4.c:897",
                ],
            ),
        ],
    },
    KeyInfo {
        key: "net.ipv4.tcp_retries2",
        summary: "Retransmissions of data before an established connection is given up (15, about 15 minutes with the usual timeouts).",
        myth: None,
        meaningful: None,
        history: &[
            ev(
                BASE,
                Change::Added,
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:405"],
            ),
            ev(BASE, INT, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:405"]),
            ev(
                BASE,
                constant("15"),
                &["v3.10.99:include/net/tcp.h:TCP_RETR2"],
            ),
            ev(BASE, GLOBAL, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:405"]),
            ev(
                between(4, 4, 4, 6),
                PER_NETNS,
                &[
                    "v4.6.2:net/ipv4/sysctl_net_ipv4.c:935",
                    "v4.4:net/ipv4/sysctl_net_ipv4.c:383",
                ],
            ),
            ev(
                U8_CONVERSION,
                U8,
                &[
                    "v5.15.100:net/ipv4/sysctl_net_ipv4.c:940",
                    "v5.12.9:net/ipv4/sysctl_net_ipv4.c:951",
                ],
            ),
        ],
    },
    KeyInfo {
        key: "net.ipv4.tcp_syn_retries",
        summary: "SYN retransmissions before connect() gives up (6: about 127 s). With 1, a single lost SYN or SYN-ACK makes the connection fail after about 3 s.",
        myth: None,
        meaningful: None,
        history: &[
            ev(
                BASE,
                Change::Added,
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:332"],
            ),
            ev(
                BASE,
                Change::Handler(Handler::Int {
                    min: Some(1),
                    max: Some(127),
                }),
                &[
                    "v3.10.99:net/ipv4/sysctl_net_ipv4.c:332",
                    "v3.10.99:include/net/tcp.h:155",
                ],
            ),
            ev(
                BASE,
                constant("6"),
                &["v3.10.99:include/net/tcp.h:TCP_SYN_RETRIES"],
            ),
            ev(BASE, GLOBAL, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:332"]),
            ev(
                between(4, 4, 4, 6),
                PER_NETNS,
                &[
                    "v4.6.2:net/ipv4/sysctl_net_ipv4.c:895",
                    "v4.4:net/ipv4/sysctl_net_ipv4.c:310",
                ],
            ),
            ev(
                U8_CONVERSION,
                Change::Handler(Handler::U8 { min: 1, max: 127 }),
                &[
                    "v5.15.100:net/ipv4/sysctl_net_ipv4.c:891",
                    "v5.12.9:net/ipv4/sysctl_net_ipv4.c:911",
                    "v6.18.2:include/net/tcp.h:186",
                ],
            ),
        ],
    },
    KeyInfo {
        key: "net.ipv4.tcp_synack_retries",
        summary: "SYN-ACK retransmissions for a half-open connection before the server gives up on it (5: about 63 s). With 1, one lost SYN-ACK or ACK loses the connection.",
        myth: None,
        meaningful: None,
        history: &[
            ev(
                BASE,
                Change::Added,
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:341"],
            ),
            ev(BASE, INT, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:341"]),
            ev(
                BASE,
                constant("5"),
                &["v3.10.99:include/net/tcp.h:TCP_SYNACK_RETRIES"],
            ),
            ev(BASE, GLOBAL, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:341"]),
            ev(
                between(4, 4, 4, 6),
                PER_NETNS,
                &[
                    "v4.6.2:net/ipv4/sysctl_net_ipv4.c:904",
                    "v4.4:net/ipv4/sysctl_net_ipv4.c:319",
                ],
            ),
            ev(
                U8_CONVERSION,
                U8,
                &[
                    "v5.15.100:net/ipv4/sysctl_net_ipv4.c:900",
                    "v5.12.9:net/ipv4/sysctl_net_ipv4.c:920",
                ],
            ),
        ],
    },
    KeyInfo {
        key: "net.ipv4.tcp_orphan_retries",
        summary: "Retransmissions before an orphaned connection (closed by the application) is given up; 0 lets the kernel use 8 while the peer still answers.",
        myth: None,
        meaningful: None,
        history: &[
            ev(
                BASE,
                Change::Added,
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:525"],
            ),
            ev(BASE, INT, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:525"]),
            ev(
                BASE,
                constant("0"),
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:525"],
            ),
            ev(BASE, GLOBAL, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:525"]),
            ev(
                between(4, 4, 4, 6),
                PER_NETNS,
                &[
                    "v4.6.2:net/ipv4/sysctl_net_ipv4.c:942",
                    "v4.4:net/ipv4/sysctl_net_ipv4.c:499",
                ],
            ),
            ev(
                U8_CONVERSION,
                U8,
                &[
                    "v5.15.100:net/ipv4/sysctl_net_ipv4.c:947",
                    "v5.12.9:net/ipv4/sysctl_net_ipv4.c:958",
                ],
            ),
        ],
    },
    KeyInfo {
        key: "net.ipv4.tcp_max_orphans",
        summary: "Upper limit on orphaned sockets (closed by the application, still finishing their shutdown). Past it they are reset at once and the kernel logs \"too many orphaned sockets\". Global: one limit for the whole machine.",
        myth: None,
        meaningful: None,
        history: &[
            ev(
                BASE,
                Change::Added,
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:348"],
            ),
            ev(BASE, INT, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:348"]),
            ev(
                BASE,
                default(
                    "half the host's TCP established hash, sized from RAM: 4096 with 1 GiB, 32768 with 8 GiB, 131072 with 24 GiB",
                    None,
                ),
                &[
                    "v3.10.99:net/ipv4/tcp.c:3445",
                    "v6.18.2:net/ipv4/tcp.c:5265",
                ],
            ),
            ev(BASE, GLOBAL, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:348"]),
        ],
    },
    KeyInfo {
        key: "net.ipv4.tcp_mem",
        summary: "Pages all TCP sockets together may use: below the first number no pressure, above the second the kernel moderates buffers, the third is a hard limit. Derived from RAM at boot.",
        myth: None,
        meaningful: None,
        history: &[
            ev(
                BASE,
                Change::Added,
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:848"],
            ),
            ev(
                BASE,
                Change::Handler(Handler::ULongVec { count: 3 }),
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:848"],
            ),
            ev(
                BASE,
                default(
                    "from RAM: limit = free buffer pages / 8; limit*3/4, limit, limit*3/2",
                    None,
                ),
                &["v4.1.3:net/ipv4/tcp.c:tcp_init_mem"],
            ),
            ev(
                BASE,
                PER_NETNS,
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:848"],
            ),
            ev(
                at(3, 13),
                GLOBAL,
                &[
                    "v3.13:net/ipv4/sysctl_net_ipv4.c:516",
                    "v3.12:net/ipv4/sysctl_net_ipv4.c:856",
                ],
            ),
            ev(
                at(4, 2),
                default(
                    "from RAM: limit = free buffer pages / 16; limit*3/4, limit, limit*3/2",
                    None,
                ),
                &[
                    "v4.2.8:net/ipv4/tcp.c:3120",
                    "v4.1.3:net/ipv4/tcp.c:tcp_init_mem",
                ],
            ),
        ],
    },
    KeyInfo {
        key: "net.ipv4.tcp_fastopen",
        summary: "TCP Fast Open, a bitmask: 0x1 client, 0x2 server for listeners that set TCP_FASTOPEN, 0x4 client without cookie, 0x200 server without cookie, 0x400 Fast Open on every listener, without the TCP_FASTOPEN socket option (3.10 also had 0x800, the same with another queue length). Other bits are stored too.",
        myth: None,
        meaningful: None,
        history: &[
            ev(
                BASE,
                Change::Added,
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:428"],
            ),
            ev(
                BASE,
                INT,
                &[
                    "v3.10.99:net/ipv4/sysctl_net_ipv4.c:428",
                    "v3.10.99:include/net/tcp.h:237",
                ],
            ),
            ev(
                BASE,
                constant("0"),
                &["v3.12:net/ipv4/tcp_fastopen.c:sysctl_tcp_fastopen"],
            ),
            ev(BASE, GLOBAL, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:428"]),
            ev(
                at(3, 13),
                default("1 (client)", Some("1")),
                &[
                    "v3.13:net/ipv4/tcp_fastopen.c:11",
                    "v3.12:net/ipv4/tcp_fastopen.c:sysctl_tcp_fastopen",
                ],
            ),
            ev(
                at(4, 15),
                PER_NETNS,
                &[
                    "v4.15.18:net/ipv4/sysctl_net_ipv4.c:879",
                    "v4.14.177:net/ipv4/sysctl_net_ipv4.c:416",
                ],
            ),
        ],
    },
    KeyInfo {
        key: "net.ipv4.tcp_slow_start_after_idle",
        summary: "1: a connection idle for more than one retransmission timeout starts again from a small congestion window. 0 keeps the window, which helps keep-alive and pooled connections that send in bursts.",
        myth: None,
        meaningful: Some(&[0, 1]),
        history: &[
            ev(
                BASE,
                Change::Added,
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:677"],
            ),
            ev(BASE, INT, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:677"]),
            ev(
                BASE,
                constant("1"),
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:677"],
            ),
            ev(BASE, GLOBAL, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:677"]),
            ev(
                at(4, 15),
                PER_NETNS,
                &[
                    "v4.15.18:net/ipv4/sysctl_net_ipv4.c:983",
                    "v4.14.177:net/ipv4/sysctl_net_ipv4.c:617",
                ],
            ),
            ev(
                U8_CONVERSION,
                U8,
                &[
                    "v5.15.100:net/ipv4/sysctl_net_ipv4.c:1109",
                    "v5.12.9:net/ipv4/sysctl_net_ipv4.c:1111",
                ],
            ),
        ],
    },
    KeyInfo {
        key: "net.ipv4.tcp_mtu_probing",
        summary: "Packetization-layer path MTU discovery: 0 off, 1 after an ICMP black hole is detected, 2 always.",
        myth: None,
        meaningful: Some(&[0, 1, 2]),
        history: &[
            ev(
                BASE,
                Change::Added,
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:633"],
            ),
            ev(BASE, INT, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:633"]),
            ev(
                BASE,
                constant("0"),
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:633"],
            ),
            ev(BASE, GLOBAL, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:633"]),
            ev(
                between(3, 19, 4, 1),
                PER_NETNS,
                &[
                    "v4.1.3:net/ipv4/sysctl_net_ipv4.c:872",
                    "v3.19:net/ipv4/sysctl_net_ipv4.c:606",
                ],
            ),
            ev(
                U8_CONVERSION,
                U8,
                &[
                    "v5.15.100:net/ipv4/sysctl_net_ipv4.c:773",
                    "v5.12.9:net/ipv4/sysctl_net_ipv4.c:793",
                ],
            ),
        ],
    },
    KeyInfo {
        key: "net.ipv4.tcp_congestion_control",
        summary: "The congestion control algorithm new connections use. Writing a name the kernel has not loaded fails (ENOENT) unless root may load the module tcp_<name>.",
        myth: Some(
            "\"Set tcp_congestion_control=bbr in a container\": a child namespace may only choose an algorithm the host loaded and lists in tcp_allowed_congestion_control (EPERM otherwise), and only on 4.15 and later.",
        ),
        meaningful: None,
        history: &[
            ev(
                BASE,
                Change::Added,
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:627"],
            ),
            ev(
                BASE,
                Change::Handler(Handler::CongestionControl),
                &[
                    "v3.10.99:net/ipv4/sysctl_net_ipv4.c:627",
                    "v3.10.99:net/ipv4/tcp_cong.c:tcp_set_default_congestion_control",
                ],
            ),
            ev(
                BASE,
                default(
                    "the build's CONFIG_DEFAULT_TCP_CONG (cubic in mainline defconfig)",
                    None,
                ),
                &["v3.10.99:net/ipv4/tcp_cong.c:tcp_set_default_congestion_control"],
            ),
            ev(BASE, GLOBAL, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:627"]),
            ev(
                at(4, 15),
                PER_NETNS,
                &[
                    "v4.15.18:net/ipv4/sysctl_net_ipv4.c:762",
                    "v4.14.177:net/ipv4/sysctl_net_ipv4.c:590",
                ],
            ),
        ],
    },
    KeyInfo {
        key: "net.ipv4.tcp_available_congestion_control",
        summary: "Read-only list of congestion control algorithms the running kernel has loaded.",
        myth: None,
        meaningful: None,
        history: &[
            ev(
                BASE,
                Change::Added,
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:714"],
            ),
            ev(
                BASE,
                Change::Handler(Handler::ReadOnly),
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:714"],
            ),
            ev(
                BASE,
                default("depends on the kernel build and loaded modules", None),
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:714"],
            ),
            ev(BASE, GLOBAL, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:714"]),
            ev(
                at(5, 7),
                Change::Scope(Scope::GlobalReadOnlyInChild),
                &[
                    "v5.7.14:net/ipv4/sysctl_net_ipv4.c:885",
                    "v5.6.4:net/ipv4/sysctl_net_ipv4.c:557",
                ],
            ),
        ],
    },
    KeyInfo {
        key: "net.ipv4.tcp_allowed_congestion_control",
        summary: "Algorithms unprivileged sockets and child namespaces may choose. One list for the whole machine.",
        myth: None,
        meaningful: None,
        history: &[
            ev(
                BASE,
                Change::Added,
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:720"],
            ),
            ev(
                BASE,
                Change::Handler(Handler::CongestionList),
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:720"],
            ),
            ev(
                BASE,
                default("depends on the kernel build", None),
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:720"],
            ),
            ev(BASE, GLOBAL, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:720"]),
            ev(
                at(5, 7),
                Change::Scope(Scope::GlobalWritableInChild),
                &[
                    "v5.7.14:net/ipv4/sysctl_net_ipv4.c:891",
                    "v5.6.4:net/ipv4/sysctl_net_ipv4.c:563",
                ],
            ),
            ev(
                at(5, 12),
                Change::Scope(Scope::GlobalReadOnlyInChild),
                &[
                    "v5.12.9:net/ipv4/sysctl_net_ipv4.c:1391",
                    "v5.11:net/ipv4/sysctl_net_ipv4.c:ipv4_sysctl_init_net",
                ],
            ),
        ],
    },
    KeyInfo {
        key: "net.ipv4.tcp_rmem",
        summary: "Receive buffer per TCP socket in bytes: min, default, max. Autotuning grows a socket's receive buffer up to the third number; net.core.rmem_max does not cap autotuning.",
        myth: Some(
            "\"Raise net.core.rmem_max so autotuning grows\": autotuning is capped by tcp_rmem's third number; rmem_max caps only buffers set explicitly with SO_RCVBUF.",
        ),
        meaningful: None,
        history: &[
            ev(
                BASE,
                Change::Added,
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:561"],
            ),
            ev(
                BASE,
                Change::Handler(Handler::IntVec {
                    count: 3,
                    min: Some(1),
                }),
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:561"],
            ),
            ev(
                BASE,
                default(
                    "4096 87380 6291456 (the maximum is lower with little RAM)",
                    None,
                ),
                &["v4.18:net/ipv4/tcp.c:3864"],
            ),
            ev(BASE, GLOBAL, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:561"]),
            ev(
                at(4, 15),
                PER_NETNS,
                &[
                    "v4.15.18:net/ipv4/sysctl_net_ipv4.c:1162",
                    "v4.14.177:net/ipv4/sysctl_net_ipv4.c:522",
                ],
            ),
            ev(
                at(4, 19),
                default(
                    "4096 131072 6291456 (the maximum is lower with little RAM)",
                    None,
                ),
                &["v4.19:net/ipv4/tcp.c:3973", "v4.18:net/ipv4/tcp.c:3864"],
            ),
            ev(
                between(6, 14, 6, 18),
                default(
                    "4096 131072 33554432 (the maximum is lower with little RAM)",
                    None,
                ),
                &["v6.18.2:net/ipv4/tcp.c:5271", "v6.14:net/ipv4/tcp.c:5149"],
            ),
        ],
    },
    KeyInfo {
        key: "net.ipv4.tcp_wmem",
        summary: "Send buffer per TCP socket in bytes: min, default, max. Autotuning grows the send buffer up to the third number.",
        myth: None,
        meaningful: None,
        history: &[
            ev(
                BASE,
                Change::Added,
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:553"],
            ),
            ev(
                BASE,
                Change::Handler(Handler::IntVec {
                    count: 3,
                    min: Some(1),
                }),
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:553"],
            ),
            ev(
                BASE,
                default(
                    "4096 16384 4194304 (the maximum is lower with little RAM)",
                    None,
                ),
                &["v6.18.2:net/ipv4/tcp.c:5270"],
            ),
            ev(BASE, GLOBAL, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:553"]),
            ev(
                at(4, 15),
                PER_NETNS,
                &[
                    "v4.15.18:net/ipv4/sysctl_net_ipv4.c:1154",
                    "v4.14.177:net/ipv4/sysctl_net_ipv4.c:514",
                ],
            ),
        ],
    },
    KeyInfo {
        key: "net.core.rmem_max",
        summary: "Largest receive buffer an application may request with SO_RCVBUF. It does not limit TCP autotuning (tcp_rmem does).",
        myth: None,
        meaningful: None,
        history: &[
            ev(
                BASE,
                Change::Added,
                &["v3.10.99:net/core/sysctl_net_core.c:104"],
            ),
            ev(
                BASE,
                Change::Handler(Handler::SockBuf {
                    symbol: "SOCK_MIN_RCVBUF",
                    floor: 2049,
                }),
                &["v3.10.99:net/core/sysctl_net_core.c:104"],
            ),
            ev(BASE, constant("212992"), &["v6.14:net/core/sock.c:284"]),
            ev(BASE, GLOBAL, &["v3.10.99:net/core/sysctl_net_core.c:104"]),
            ev(
                between(6, 9, 6, 11),
                Change::Scope(Scope::GlobalReadOnlyInChild),
                &[
                    "v6.11.11:net/core/sysctl_net_core.c:679",
                    "v6.9:net/core/sysctl_net_core.c:392",
                ],
            ),
            ev(
                between(6, 14, 6, 18),
                constant("4194304"),
                &["v6.18.2:net/core/sock.c:286", "v6.14:net/core/sock.c:284"],
            ),
        ],
    },
    KeyInfo {
        key: "net.core.wmem_max",
        summary: "Largest send buffer an application may request with SO_SNDBUF. It does not limit TCP autotuning (tcp_wmem does).",
        myth: None,
        meaningful: None,
        history: &[
            ev(
                BASE,
                Change::Added,
                &["v3.10.99:net/core/sysctl_net_core.c:96"],
            ),
            ev(
                BASE,
                Change::Handler(Handler::SockBuf {
                    symbol: "SOCK_MIN_SNDBUF",
                    floor: 4097,
                }),
                &["v3.10.99:net/core/sysctl_net_core.c:96"],
            ),
            ev(BASE, constant("212992"), &["v6.14:net/core/sock.c:282"]),
            ev(BASE, GLOBAL, &["v3.10.99:net/core/sysctl_net_core.c:96"]),
            ev(
                between(6, 9, 6, 11),
                Change::Scope(Scope::GlobalReadOnlyInChild),
                &[
                    "v6.11.11:net/core/sysctl_net_core.c:671",
                    "v6.9:net/core/sysctl_net_core.c:384",
                ],
            ),
            ev(
                between(6, 14, 6, 18),
                constant("4194304"),
                &["v6.18.2:net/core/sock.c:284", "v6.14:net/core/sock.c:282"],
            ),
        ],
    },
    KeyInfo {
        key: "net.core.rmem_default",
        summary: "Receive buffer every new non-TCP socket starts with (UDP, raw, netlink, ...); TCP sockets start from tcp_rmem's middle number instead. A large value costs memory on every such socket.",
        myth: None,
        meaningful: None,
        history: &[
            ev(
                BASE,
                Change::Added,
                &["v3.10.99:net/core/sysctl_net_core.c:120"],
            ),
            ev(
                BASE,
                Change::Handler(Handler::SockBuf {
                    symbol: "SOCK_MIN_RCVBUF",
                    floor: 2049,
                }),
                &["v3.10.99:net/core/sysctl_net_core.c:120"],
            ),
            ev(
                BASE,
                constant("212992"),
                &["v6.18.2:net/core/sock.c:sysctl_rmem_default"],
            ),
            ev(BASE, GLOBAL, &["v3.10.99:net/core/sysctl_net_core.c:120"]),
            ev(
                between(6, 9, 6, 11),
                Change::Scope(Scope::GlobalReadOnlyInChild),
                &[
                    "v6.11.11:net/core/sysctl_net_core.c:695",
                    "v6.9:net/core/sysctl_net_core.c:408",
                ],
            ),
        ],
    },
    KeyInfo {
        key: "net.core.wmem_default",
        summary: "Send buffer every new non-TCP socket starts with; TCP sockets start from tcp_wmem's middle number instead. A large value costs memory on every such socket.",
        myth: None,
        meaningful: None,
        history: &[
            ev(
                BASE,
                Change::Added,
                &["v3.10.99:net/core/sysctl_net_core.c:112"],
            ),
            ev(
                BASE,
                Change::Handler(Handler::SockBuf {
                    symbol: "SOCK_MIN_SNDBUF",
                    floor: 4097,
                }),
                &["v3.10.99:net/core/sysctl_net_core.c:112"],
            ),
            ev(
                BASE,
                constant("212992"),
                &["v6.18.2:net/core/sock.c:sysctl_wmem_default"],
            ),
            ev(BASE, GLOBAL, &["v3.10.99:net/core/sysctl_net_core.c:112"]),
            ev(
                between(6, 9, 6, 11),
                Change::Scope(Scope::GlobalReadOnlyInChild),
                &[
                    "v6.11.11:net/core/sysctl_net_core.c:687",
                    "v6.9:net/core/sysctl_net_core.c:400",
                ],
            ),
        ],
    },
    KeyInfo {
        key: "net.core.netdev_max_backlog",
        summary: "Packets a CPU may queue from network devices before the kernel processes them; past it packets are dropped (softnet_stat's second column).",
        myth: None,
        meaningful: None,
        history: &[
            ev(
                BASE,
                Change::Added,
                &["v3.10.99:net/core/sysctl_net_core.c:135"],
            ),
            ev(BASE, INT, &["v3.10.99:net/core/sysctl_net_core.c:135"]),
            ev(
                BASE,
                constant("1000"),
                &["v6.6.9:net/core/dev.c:netdev_max_backlog"],
            ),
            ev(BASE, GLOBAL, &["v3.10.99:net/core/sysctl_net_core.c:135"]),
        ],
    },
    KeyInfo {
        key: "net.core.default_qdisc",
        summary: "The queueing discipline new network devices get. Distributions often set fq_codel from a sysctl.d file; fq suits hosts that pace traffic (bbr).",
        myth: Some(
            "\"BBR needs default_qdisc=fq\": it did while TCP left pacing to the fq qdisc. Commit 218af599fa63 (\"tcp: internal implementation for pacing\") lets TCP pace a socket itself when fq is not on its path; that it shipped in 4.13 is from the 4.13 release notes, not pinned to a tagged source here. Since then bbr paces on any qdisc; fq still does it more cheaply, since TCP's own pacing needs a high-resolution timer per socket (as the later fq fix bb3d0b8bf5be says).",
        ),
        meaningful: None,
        history: &[
            ev(
                BASE,
                Change::Absent,
                &["v3.11:net/core/sysctl_net_core.c:net_core_table"],
            ),
            ev(
                at(3, 12),
                Change::Added,
                &[
                    "v3.12:net/core/sysctl_net_core.c:342",
                    "v3.11:net/core/sysctl_net_core.c:net_core_table",
                ],
            ),
            ev(
                at(3, 12),
                Change::Handler(Handler::Qdisc),
                &["v3.12:net/core/sysctl_net_core.c:342"],
            ),
            ev(
                at(3, 12),
                default(
                    "pfifo_fast (the build's CONFIG_DEFAULT_NET_SCH when set)",
                    None,
                ),
                &["v3.12:net/core/sysctl_net_core.c:342"],
            ),
            ev(at(3, 12), GLOBAL, &["v3.12:net/core/sysctl_net_core.c:342"]),
        ],
    },
    KeyInfo {
        key: "net.ipv4.tcp_timestamps",
        summary: "TCP timestamps (RFC 7323): 1 on with a random per-connection offset (4.10 and later; plain clock before), 2 on without the offset, 0 off. PAWS protection against old duplicate segments and tcp_tw_reuse both need them.",
        myth: Some(
            "\"tcp_timestamps=0 fixes NAT drops\": that was only ever about tcp_tw_recycle, removed in 4.12. Turning timestamps off breaks PAWS and makes tcp_tw_reuse do nothing.",
        ),
        meaningful: Some(&[0, 1, 2]),
        history: &[
            ev(
                BASE,
                Change::Added,
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:281"],
            ),
            ev(BASE, INT, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:281"]),
            ev(
                BASE,
                constant("1"),
                &["v3.10.99:net/ipv4/tcp_input.c:sysctl_tcp_timestamps"],
            ),
            ev(BASE, GLOBAL, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:281"]),
            ev(
                at(4, 13),
                PER_NETNS,
                &[
                    "v4.13.4:net/ipv4/sysctl_net_ipv4.c:1137",
                    "v4.12:net/ipv4/sysctl_net_ipv4.c:367",
                ],
            ),
            ev(
                U8_CONVERSION,
                U8,
                &[
                    "v5.15.100:net/ipv4/sysctl_net_ipv4.c:1079",
                    "v5.12.9:net/ipv4/sysctl_net_ipv4.c:1081",
                ],
            ),
        ],
    },
    KeyInfo {
        key: "net.ipv4.tcp_sack",
        summary: "Selective acknowledgements: the receiver tells the sender exactly which segments arrived, so a loss costs one retransmission instead of a window.",
        myth: None,
        meaningful: Some(&[0, 1]),
        history: &[
            ev(
                BASE,
                Change::Added,
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:295"],
            ),
            ev(BASE, INT, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:295"]),
            ev(
                BASE,
                constant("1"),
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:295"],
            ),
            ev(BASE, GLOBAL, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:295"]),
            ev(
                at(4, 13),
                PER_NETNS,
                &[
                    "v4.13.4:net/ipv4/sysctl_net_ipv4.c:1123",
                    "v4.12:net/ipv4/sysctl_net_ipv4.c:381",
                ],
            ),
            ev(
                U8_CONVERSION,
                U8,
                &[
                    "v5.15.100:net/ipv4/sysctl_net_ipv4.c:1065",
                    "v5.12.9:net/ipv4/sysctl_net_ipv4.c:1067",
                ],
            ),
        ],
    },
    KeyInfo {
        key: "net.ipv4.tcp_window_scaling",
        summary: "Window scaling (RFC 7323): receive windows larger than 64 KiB. Without it throughput is capped at 64 KiB per round trip.",
        myth: None,
        meaningful: Some(&[0, 1]),
        history: &[
            ev(
                BASE,
                Change::Added,
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:288"],
            ),
            ev(BASE, INT, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:288"]),
            ev(
                BASE,
                constant("1"),
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:288"],
            ),
            ev(BASE, GLOBAL, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:288"]),
            ev(
                at(4, 13),
                PER_NETNS,
                &[
                    "v4.13.4:net/ipv4/sysctl_net_ipv4.c:1130",
                    "v4.12:net/ipv4/sysctl_net_ipv4.c:374",
                ],
            ),
            ev(
                U8_CONVERSION,
                U8,
                &[
                    "v5.15.100:net/ipv4/sysctl_net_ipv4.c:1072",
                    "v5.12.9:net/ipv4/sysctl_net_ipv4.c:1074",
                ],
            ),
        ],
    },
    KeyInfo {
        key: "net.ipv4.tcp_notsent_lowat",
        summary: "Bytes of not-yet-sent data a socket may queue before poll() stops reporting it writable. Lowering it (e.g. 131072) keeps less stale data queued for latency-sensitive senders such as HTTP/2 servers.",
        myth: None,
        meaningful: None,
        history: &[
            ev(
                BASE,
                Change::Absent,
                &["v3.11:net/ipv4/sysctl_net_ipv4.c:ipv4_table"],
            ),
            ev(
                at(3, 12),
                Change::Added,
                &[
                    "v3.12:net/ipv4/sysctl_net_ipv4.c:563",
                    "v3.11:net/ipv4/sysctl_net_ipv4.c:ipv4_table",
                ],
            ),
            ev(at(3, 12), INT, &["v3.12:net/ipv4/sysctl_net_ipv4.c:563"]),
            ev(
                at(3, 12),
                default(
                    "no limit (UINT_MAX), which this handler prints as -1",
                    Some("-1"),
                ),
                &[
                    "v3.12:net/ipv4/tcp.c:sysctl_tcp_notsent_lowat",
                    "v4.9:net/ipv4/sysctl_net_ipv4.c:957",
                ],
            ),
            ev(at(3, 12), GLOBAL, &["v3.12:net/ipv4/sysctl_net_ipv4.c:563"]),
            ev(
                between(4, 4, 4, 6),
                PER_NETNS,
                &[
                    "v4.6.2:net/ipv4/sysctl_net_ipv4.c:956",
                    "v4.4:net/ipv4/sysctl_net_ipv4.c:556",
                ],
            ),
            ev(
                at(4, 10),
                Change::Handler(Handler::UInt {
                    min: None,
                    max: None,
                }),
                &[
                    "v4.10.17:net/ipv4/sysctl_net_ipv4.c:950",
                    "v4.9:net/ipv4/sysctl_net_ipv4.c:957",
                ],
            ),
            ev(
                at(4, 10),
                default("4294967295 (no limit)", Some("4294967295")),
                &["v4.10.17:net/ipv4/sysctl_net_ipv4.c:950"],
            ),
        ],
    },
    KeyInfo {
        key: "net.ipv4.tcp_low_latency",
        summary: "Chose between the prequeue and direct processing of received segments.",
        myth: None,
        meaningful: None,
        history: &[
            ev(
                BASE,
                Change::Added,
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:599"],
            ),
            ev(BASE, INT, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:599"]),
            ev(
                BASE,
                constant("0"),
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:599"],
            ),
            ev(BASE, GLOBAL, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:599"]),
            ev(
                at(4, 14),
                Change::NoOp("the prequeue was removed; the sysctl stays and nothing reads it"),
                &[
                    "v4.14.177:net/ipv4/sysctl_net_ipv4.c:53",
                    "v4.13.4:net/ipv4/tcp_ipv4.c:1555",
                ],
            ),
        ],
    },
    KeyInfo {
        key: "net.ipv4.tcp_fack",
        summary: "Forward acknowledgement loss recovery.",
        myth: None,
        meaningful: None,
        history: &[
            ev(
                BASE,
                Change::Added,
                &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:532"],
            ),
            ev(BASE, INT, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:532"]),
            ev(BASE, constant("1"), &["v4.10.17:net/ipv4/tcp_input.c:82"]),
            ev(BASE, GLOBAL, &["v3.10.99:net/ipv4/sysctl_net_ipv4.c:532"]),
            ev(
                at(4, 11),
                constant("0"),
                &[
                    "v4.11:net/ipv4/tcp_input.c:82",
                    "v4.10.17:net/ipv4/tcp_input.c:82",
                ],
            ),
            ev(
                at(4, 15),
                PER_NETNS,
                &[
                    "v4.15.18:net/ipv4/sysctl_net_ipv4.c:1018",
                    "v4.14.177:net/ipv4/sysctl_net_ipv4.c:479",
                ],
            ),
            ev(
                at(4, 15),
                Change::NoOp(
                    "FACK loss recovery was removed; the sysctl stays and nothing reads it",
                ),
                &[
                    "v4.15.18:net/ipv4/sysctl_net_ipv4.c:1018",
                    "v4.14.177:net/ipv4/tcp_input.c:sysctl_tcp_fack",
                ],
            ),
            ev(
                U8_CONVERSION,
                U8,
                &[
                    "v5.15.100:net/ipv4/sysctl_net_ipv4.c:1144",
                    "v5.12.9:net/ipv4/sysctl_net_ipv4.c:1146",
                ],
            ),
        ],
    },
];
