//! In-process benchmarks of the parts `check` spends its time in: streaming
//! a large socket table, loading and validating a profile with its
//! `extends` chain, and evaluating every rule.

use std::fmt::Write;
use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tcptune::census::Census;
use tcptune::profile;
use tcptune::rules;
use tcptune::system::{System, count_socket_table};

/// A /proc/net/tcp with `rows` TIME_WAIT rows toward 64 destinations.
fn socket_table(rows: usize) -> String {
    let mut text = String::from(
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n",
    );
    for row in 0..rows {
        let _ = writeln!(
            text,
            "{row:4}: 0100007F:{:04X} {:02X}00007F:1388 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000",
            1024 + row % 60000,
            row % 64 + 1
        );
    }
    text
}

fn parse_socket_table(c: &mut Criterion) {
    let table = socket_table(100_000);
    let mut group = c.benchmark_group("socket_table");
    group.throughput(Throughput::Elements(100_000));
    group.bench_function("count 100k TIME_WAIT rows", |b| {
        b.iter(|| {
            let mut census = Census::default();
            count_socket_table(black_box(table.as_bytes()), Path::new("tcp"), &mut census)
                .expect("parse");
            census
        })
    });
    group.finish();
}

fn load_profile(c: &mut Criterion) {
    let system = System::new("/nonexistent-root", "/nonexistent-proc");
    c.bench_function("resolve loadbalancer (3-profile chain)", |b| {
        b.iter(|| profile::resolve(&system, black_box("loadbalancer")).expect("profile"))
    });
}

fn evaluate_rules(c: &mut Criterion) {
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/close-wait-storm"
    );
    let system = System::new(format!("{fixture}/root"), format!("{fixture}/proc"));
    let profile = profile::resolve(&system, "webserver").expect("profile");
    let keys = profile
        .settings
        .iter()
        .map(|setting| setting.key.clone())
        .collect();
    let facts = system
        .gather(&tcptune::system::Request {
            keys,
            sockets: true,
            time_wait: tcptune::system::TimeWaitDetail::PerDestination,
            close_wait_owners: tcptune::system::Owners::IfCloseWait,
            boot: true,
            sysctl_dir: None,
            counter_state: None,
            tcp_info: false,
            idle_after_seconds: None,
        })
        .expect("facts");
    c.bench_function("evaluate all rules (3,000 CLOSE_WAIT fixture)", |b| {
        b.iter(|| rules::evaluate(black_box(&facts), black_box(&profile)))
    });
}

criterion_group!(benches, parse_socket_table, load_profile, evaluate_rules);
criterion_main!(benches);
