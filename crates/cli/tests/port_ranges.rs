//! `-p 8000-8010:80-90` and `--expose 7000-7002` (issue 18): one published port per
//! container port of the range, paired in order, through the CLI and the docker client.

mod harness;

use harness::service::{clients, with_busybox, Service};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// Two consecutive ports free on 127.0.0.1 now.
fn free_pair() -> u16 {
    for _ in 0..100 {
        let first = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if first < 65000 && std::net::TcpListener::bind(("127.0.0.1", first + 1)).is_ok() {
            return first;
        }
    }
    panic!("no two consecutive free ports");
}

fn get(port: u16) -> Option<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    Some(text)
}

fn eventually_serves(port: u16) {
    let start = Instant::now();
    while !get(port).unwrap_or_default().contains("hello") {
        assert!(start.elapsed() < Duration::from_secs(90), "nothing served on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

const TWO_SERVERS: &str = "httpd -p 80 -h /var/www; exec httpd -f -p 81 -h /var/www";

#[test]
fn a_port_range_publishes_each_port_and_expose_takes_ranges() {
    let t = with_busybox();
    let base = free_pair();
    let publish = format!("127.0.0.1:{base}-{}:80-81", base + 1);
    t.ok(&[
        "run",
        "-d",
        "--name",
        "ranged",
        "-p",
        &publish,
        "--expose",
        "7000-7002/udp",
        "busybox:test",
        "sh",
        "-c",
        TWO_SERVERS,
    ]);
    eventually_serves(base);
    eventually_serves(base + 1);
    let exposed = t.ok(&["inspect", "-f", "{{json .Config.ExposedPorts}}", "ranged"]);
    for port in ["7000/udp", "7001/udp", "7002/udp", "80/tcp", "81/tcp"] {
        assert!(exposed.contains(port), "{port}: {exposed}");
    }
    let e = t.fails(&["create", "-p", "8000-8001:80-82", "busybox:test", "true"]);
    assert!(e.contains("differ in length"), "{e}");
    t.ok(&["rm", "-f", "ranged"]);
}

#[test]
fn docker_run_port_ranges_work_over_the_engine_api() {
    let t = with_busybox();
    let mut service = Service::start(&t);
    for client in clients() {
        service.client = client;
        let base = free_pair();
        let publish = format!("127.0.0.1:{base}-{}:80-81", base + 1);
        service.docker_ok(&[
            "run",
            "-d",
            "--name",
            "api-ranged",
            "-p",
            &publish,
            "busybox:test",
            "sh",
            "-c",
            TWO_SERVERS,
        ]);
        eventually_serves(base);
        eventually_serves(base + 1);
        service.docker_ok(&["rm", "-f", "api-ranged"]);
    }
}

#[test]
fn a_host_range_for_one_container_port_binds_its_first_free_port() {
    let t = with_busybox();
    let base = free_pair();
    // The range's first port is taken, so the container gets the second.
    let taken = std::net::TcpListener::bind(("127.0.0.1", base)).unwrap();
    let publish = format!("127.0.0.1:{base}-{}:80", base + 1);
    t.ok(&[
        "run",
        "-d",
        "--name",
        "one-port-range",
        "-p",
        &publish,
        "busybox:test",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/var/www",
    ]);
    eventually_serves(base + 1);
    let port = t.ok(&["port", "one-port-range", "80"]);
    assert!(port.contains(&format!("127.0.0.1:{}", base + 1)), "{port}");
    let bindings = t.ok(&["inspect", "-f", "{{json .HostConfig.PortBindings}}", "one-port-range"]);
    assert!(bindings.contains(&format!("{base}-{}", base + 1)), "{bindings}");
    // With every port of the range taken (the first here, the second by the container
    // above), the start is refused, naming the range.
    let e = t.fails(&[
        "run",
        "-d",
        "--name",
        "one-port-range-full",
        "-p",
        &publish,
        "busybox:test",
        "true",
    ]);
    assert!(e.contains(&format!("{base}-{}", base + 1)), "{e}");
    drop(taken);
    t.ok(&["rm", "-f", "one-port-range"]);
    let _ = t.run(&["rm", "-f", "one-port-range-full"]);
}

#[test]
fn docker_run_binds_the_first_free_port_of_a_host_range_over_the_engine_api() {
    let t = with_busybox();
    let mut service = Service::start(&t);
    for client in clients() {
        service.client = client;
        let base = free_pair();
        let taken = std::net::TcpListener::bind(("127.0.0.1", base)).unwrap();
        let publish = format!("127.0.0.1:{base}-{}:80", base + 1);
        service.docker_ok(&[
            "run",
            "-d",
            "--name",
            "api-one-port-range",
            "-p",
            &publish,
            "busybox:test",
            "httpd",
            "-f",
            "-p",
            "80",
            "-h",
            "/var/www",
        ]);
        eventually_serves(base + 1);
        drop(taken);
        service.docker_ok(&["rm", "-f", "api-one-port-range"]);
    }
}
