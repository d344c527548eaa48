//! IPv6 on bridge networks (issue 18): `network create --ipv6 --subnet PREFIX/64`, the
//! containers' IPv6 addresses, routes and inspect fields, `--ip6`, prefixes that clash
//! with the host's routes or another network, outbound NAT66 toward a namespace the test
//! makes, and published ports over IPv6. All traffic stays on this machine: loopback,
//! and namespaces the tests make. Every prefix is a unique local one (fd00::/8) made
//! per test and process, so parallel tests never share one.

mod harness;

use harness::images::busybox_rootfs;
use harness::service::{clients, Service};
use harness::{bridge_of, free_port, TestRoot};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

/// Bounds for waiting on servers: generous, so a slow machine never fails a test.
const PATIENCE: Duration = Duration::from_secs(60);

fn with_busybox() -> TestRoot {
    let t = TestRoot::new();
    let tar = t.path("busybox.tar");
    busybox_rootfs(&tar);
    t.ok(&["import", "-c", "CMD [\"sh\"]", tar.to_str().unwrap(), "busybox:test"]);
    t
}

/// A /64 unique local prefix of its own for test number `test` (without the `::/64`):
/// `fdXX:XXXX:XXXX:TEST`, from this process and the time, which `ip -6 route` does not
/// show.
fn prefix(test: u16) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let pid = std::process::id();
    format!(
        "fd{:02x}:{:x}:{:x}:{test:x}",
        (nanos >> 8) & 0xff,
        pid & 0xffff,
        (nanos >> 16) & 0xffff
    )
}

fn sh(command: &str) -> String {
    let out = Command::new("sh").args(["-c", command]).output().unwrap();
    assert!(
        out.status.success(),
        "{command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(text: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
    v[0].clone()
}

/// GET / from `address`, retried until the server answers.
fn http_get(address: &str) -> String {
    let start = Instant::now();
    loop {
        let attempt = (|| -> std::io::Result<String> {
            let mut s = TcpStream::connect(address)?;
            s.set_read_timeout(Some(Duration::from_secs(10)))?;
            s.write_all(b"GET / HTTP/1.0\r\nHost: test\r\n\r\n")?;
            let mut body = String::new();
            s.read_to_string(&mut body)?;
            Ok(body)
        })();
        match attempt {
            Ok(body) if body.contains("200 OK") => return body,
            other if start.elapsed() > PATIENCE => panic!("GET {address}: {other:?}"),
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

#[test]
fn an_ipv6_network_gives_containers_addresses_routes_and_inspect_fields() {
    let t = with_busybox();
    let p = prefix(1);
    let subnet = format!("{p}::/64");
    // Only an IPv6 subnet: the IPv4 one comes from the pool, as Docker does.
    t.ok(&["network", "create", "--ipv6", "--subnet", &subnet, "six-basic"]);
    let net = json(&t.ok(&["network", "inspect", "six-basic"]));
    assert_eq!(net["EnableIPv6"], true, "{net}");
    let configs = net["IPAM"]["Config"].as_array().unwrap().clone();
    assert_eq!(configs.len(), 2, "{net}");
    assert!(configs[0]["Subnet"].as_str().unwrap().contains('.'), "{net}");
    assert_eq!(configs[1]["Subnet"], subnet.as_str());
    assert_eq!(configs[1]["Gateway"], format!("{p}::1"));
    // The bridge carries the IPv6 gateway.
    let bridge = bridge_of(&net);
    assert!(sh(&format!("ip -6 addr show dev {bridge}")).contains(&format!("{p}::1/64")));

    let fixed = format!("{p}::10");
    let script = "cat /proc/sys/net/ipv6/conf/all/disable_ipv6; ip -6 addr show dev eth0; ip -6 route; \
                  sleep 1000";
    t.ok(&[
        "run",
        "-d",
        "--name",
        "six-a",
        "--network",
        "six-basic",
        "--ip6",
        &fixed,
        "busybox:test",
        "sh",
        "-c",
        script,
    ]);
    t.ok(&[
        "run",
        "-d",
        "--name",
        "six-b",
        "--network",
        "six-basic",
        "busybox:test",
        "sleep",
        "1000",
    ]);
    let start = Instant::now();
    let logs = loop {
        let logs = t.ok(&["logs", "six-a"]);
        if logs.contains("default") || start.elapsed() > PATIENCE {
            break logs;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(logs.starts_with("0\n"), "IPv6 is on inside the container: {logs}");
    assert!(logs.contains(&format!("inet6 {fixed}/64")), "{logs}");
    assert!(logs.contains(&format!("default via {p}::1 dev eth0")), "{logs}");

    let a = json(&t.ok(&["inspect", "six-a"]));
    let settings = &a["NetworkSettings"];
    assert_eq!(settings["GlobalIPv6Address"], fixed.as_str(), "{settings}");
    assert_eq!(settings["GlobalIPv6PrefixLen"], 64);
    assert_eq!(settings["IPv6Gateway"], format!("{p}::1"));
    let on_net = &settings["Networks"]["six-basic"];
    assert_eq!(on_net["GlobalIPv6Address"], fixed.as_str(), "{settings}");
    assert_eq!(on_net["IPv6Gateway"], format!("{p}::1"));
    assert_eq!(on_net["IPAMConfig"]["IPv6Address"], fixed.as_str());
    // Without --ip6, the lowest free address after the gateway.
    let b = json(&t.ok(&["inspect", "six-b"]));
    assert_eq!(b["NetworkSettings"]["GlobalIPv6Address"], format!("{p}::2"), "{b}");
    // The two reach each other over IPv6, and the gateway; and know each other's
    // IPv6 address by name.
    for target in [fixed.as_str(), &format!("{p}::1")] {
        t.ok(&["exec", "six-b", "ping", "-c", "1", "-W", "30", target]);
    }
    let hosts = t.ok(&["exec", "six-b", "cat", "/etc/hosts"]);
    assert!(
        hosts
            .lines()
            .any(|l| l.starts_with(&format!("{fixed}\t")) && l.contains("six-a")),
        "{hosts}"
    );
    assert!(
        hosts.lines().any(|l| l.starts_with(&format!("{p}::2\t"))),
        "its own: {hosts}"
    );
    let net = json(&t.ok(&["network", "inspect", "six-basic"]));
    let shown: Vec<String> = net["Containers"]
        .as_object()
        .unwrap()
        .values()
        .map(|c| c["IPv6Address"].as_str().unwrap().to_string())
        .collect();
    assert!(shown.contains(&format!("{fixed}/64")), "{net}");

    // A taken address is refused; once its container is gone, it is free again.
    let e = t.fails(&[
        "run",
        "--rm",
        "--network",
        "six-basic",
        "--ip6",
        &fixed,
        "busybox:test",
        "true",
    ]);
    assert!(e.contains("already in use"), "{e}");
    t.ok(&["rm", "-f", "six-a"]);
    let again = t.ok(&[
        "run",
        "--rm",
        "--network",
        "six-basic",
        "--ip6",
        &fixed,
        "busybox:test",
        "ip",
        "-6",
        "addr",
        "show",
        "dev",
        "eth0",
    ]);
    assert!(again.contains(&format!("inet6 {fixed}/64")), "{again}");

    // network connect --ip6, then disconnect releases the address.
    let q = prefix(11);
    t.ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "10.250.7.0/24",
        "--subnet",
        &format!("{q}::/80"),
        "six-second",
    ]);
    let second = format!("{q}::20");
    t.ok(&["network", "connect", "--ip6", &second, "six-second", "six-b"]);
    let addrs = t.ok(&["exec", "six-b", "ip", "-6", "addr", "show", "dev", "eth1"]);
    assert!(addrs.contains(&format!("inet6 {second}/80")), "{addrs}");
    // The first network with IPv6 keeps the default route.
    let routes = t.ok(&["exec", "six-b", "ip", "-6", "route"]);
    assert!(routes.contains(&format!("default via {p}::1 dev eth0")), "{routes}");
    t.ok(&["network", "disconnect", "six-second", "six-b"]);
    let net = json(&t.ok(&["network", "inspect", "six-second"]));
    assert_eq!(net["Containers"].as_object().map_or(0, |c| c.len()), 0, "{net}");
    t.ok(&["rm", "-f", "six-b"]);
    assert!(
        sh("nft list tables").contains(&format!("table ip6 {bridge}")),
        "the NAT66 table"
    );
    t.ok(&["network", "rm", "six-basic", "six-second"]);
    let gone = Command::new("ip").args(["link", "show", &bridge]).output().unwrap();
    assert!(!gone.status.success(), "the bridge {bridge} went with its network");
    assert!(
        !sh("nft list tables").contains(&format!("ip6 {bridge}")),
        "its ip6 table went too"
    );
}

/// A global IPv6 route of this host, not strata's (this VM's eth0 has fd00::/64).
fn host_ipv6_route() -> Option<String> {
    sh("ip -6 route show")
        .lines()
        .filter(|l| !l.contains("strata") && !l.starts_with("fe80") && !l.starts_with("default"))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .find(|dest| dest.contains('/') && dest.contains(':'))
}

#[test]
fn ipv6_prefixes_that_clash_and_ipv6_flags_without_ipv6_are_refused() {
    let t = with_busybox();
    let p = prefix(2);
    if let Some(route) = host_ipv6_route() {
        let e = t.fails(&["network", "create", "--ipv6", "--subnet", &route, "six-host-clash"]);
        assert!(e.contains("overlaps") && e.contains("already routed"), "{route}: {e}");
    }
    t.ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        &format!("{p}::/64"),
        "six-taken",
    ]);
    // A /56 around another network's /64 overlaps it, and so does the same /64.
    let around = format!("{}::/56", &p[..p.rfind(':').unwrap()]);
    for subnet in [format!("{p}::/64"), around] {
        let e = t.fails(&["network", "create", "--ipv6", "--subnet", &subnet, "six-net-clash"]);
        assert!(e.contains("overlaps"), "{subnet}: {e}");
    }
    for (args, expected) in [
        (vec!["--ipv6"], "needs an IPv6 --subnet"),
        (vec!["--ipv6", "--subnet", "10.250.8.0/24"], "needs an IPv6 --subnet"),
        (vec!["--subnet", "fd5e:77::/64"], "add --ipv6"),
        (
            vec!["--ipv6", "--subnet", "fd5e:77::/64", "--subnet", "fd5e:78::/64"],
            "one IPv4 and one IPv6",
        ),
        (
            vec!["--ipv6", "--subnet", "fd5e:77::/64", "--gateway", "fd5e:99::1"],
            "not a host address",
        ),
        (vec!["--ipv6", "--subnet", "fd5e:77::/127"], "too small"),
    ] {
        let mut all = vec!["network", "create"];
        all.extend(&args);
        all.push("six-refused");
        let e = t.fails(&all);
        assert!(e.contains(expected), "{args:?}: {e}");
    }
    // --ip6 where there is no IPv6, or a wrong address.
    t.ok(&["network", "create", "six-v4-only"]);
    let e = t.fails(&[
        "run",
        "--rm",
        "--network",
        "six-v4-only",
        "--ip6",
        "fd5e:77::5",
        "busybox:test",
        "true",
    ]);
    assert!(e.contains("has no IPv6") && e.contains("--ipv6"), "{e}");
    let e = t.fails(&[
        "run",
        "--rm",
        "--network",
        "six-taken",
        "--ip6",
        "fd5e:77::5",
        "busybox:test",
        "true",
    ]);
    assert!(e.contains("outside the network's IPv6 subnet"), "{e}");
    let e = t.fails(&[
        "run",
        "--rm",
        "--network",
        "six-taken",
        "--ip6",
        &format!("{p}::1"),
        "busybox:test",
        "true",
    ]);
    assert!(e.contains("gateway"), "{e}");
    let e = t.fails(&[
        "run",
        "--rm",
        "--network",
        "six-taken",
        "--ip6",
        "10.0.0.5",
        "busybox:test",
        "true",
    ]);
    assert!(e.contains("invalid IPv6 address"), "{e}");
    let e = t.fails(&[
        "run",
        "--rm",
        "--network",
        "six-taken",
        "--ip",
        "fd5e:77::5",
        "busybox:test",
        "true",
    ]);
    assert!(e.contains("--ip6"), "{e}");
    let e = t.fails(&["run", "--rm", "--ip6", "fd5e:77::5", "busybox:test", "true"]);
    assert!(e.contains("user defined networks"), "{e}");
    t.ok(&[
        "run",
        "-d",
        "--name",
        "six-v4",
        "--network",
        "six-v4-only",
        "busybox:test",
        "sleep",
        "1000",
    ]);
    t.ok(&["network", "create", "six-v4-other"]);
    let e = t.fails(&["network", "connect", "--ip6", "fd5e:77::5", "six-v4-other", "six-v4"]);
    assert!(e.contains("has no IPv6"), "{e}");
    t.ok(&["rm", "-f", "six-v4"]);
    t.ok(&["network", "rm", "six-taken", "six-v4-only", "six-v4-other"]);
}

/// A namespace and veth pair the test made, removed even when the test fails.
struct Outside {
    ns: String,
    link: String,
}

impl Drop for Outside {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
        // Usually gone with the namespace already, which took its peer.
        let _ = Command::new("ip")
            .args(["link", "del", &self.link])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

#[test]
fn outbound_ipv6_is_masqueraded_toward_a_namespace_the_test_makes() {
    let t = with_busybox();
    let p = prefix(3);
    t.ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        &format!("{p}::/64"),
        "six-out",
    ]);
    // A "remote" machine on another prefix, reached through the host. It has no route
    // back to the containers' prefix: only masquerading (NAT66) lets it answer.
    let remote = prefix(4);
    let n = std::process::id() % 200 + 20;
    let outside = Outside {
        ns: format!("strata-six-{n}"),
        link: format!("st6o{n}"),
    };
    sh(&format!(
        "ip netns add {ns} && ip link add {l} type veth peer name eth0 netns {ns} && \
         ip addr add {remote}::1/64 dev {l} nodad && ip link set {l} up && \
         ip -n {ns} addr add {remote}::2/64 dev eth0 nodad && ip -n {ns} link set eth0 up && \
         ip -n {ns} link set lo up",
        ns = outside.ns,
        l = outside.link
    ));
    let mut server = Command::new("ip")
        .args(["netns", "exec", &outside.ns, "python3", "-c"])
        .arg(format!(
            "import socket\ns=socket.socket(socket.AF_INET6)\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
             s.bind(('{remote}::2', 9000))\ns.listen()\nwhile True:\n  c,a=s.accept()\n  c.sendall(('peer=%s' % a[0]).encode())\n  c.close()\n"
        ))
        .spawn()
        .unwrap();
    // Retried while the server starts; each try bounded, so a broken NAT fails the test
    // in minutes rather than hanging it.
    let script = format!("for i in $(seq 60); do nc -w 3 {remote}::2 9000 && exit 0; sleep 0.5; done; exit 1");
    let seen = t.run(&[
        "run",
        "--rm",
        "--network",
        "six-out",
        "busybox:test",
        "sh",
        "-c",
        &script,
    ]);
    let seen = String::from_utf8_lossy(&seen.stdout).into_owned();
    // An internal network forwards nothing out, IPv6 included (the server is up now).
    let internal_subnet = format!("{}::/64", prefix(12));
    t.ok(&[
        "network",
        "create",
        "--internal",
        "--ipv6",
        "--subnet",
        &internal_subnet,
        "six-internal",
    ]);
    let from_internal = t.run(&[
        "run",
        "--rm",
        "--network",
        "six-internal",
        "busybox:test",
        "nc",
        "-w",
        "3",
        &format!("{remote}::2"),
        "9000",
    ]);
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(
        seen,
        format!("peer={remote}::1"),
        "the source was rewritten to the host's address on that link"
    );
    assert!(
        !String::from_utf8_lossy(&from_internal.stdout).contains("peer="),
        "{from_internal:?}"
    );
    t.ok(&["network", "rm", "six-out", "six-internal"]);
}

#[test]
fn published_ports_answer_over_ipv6() {
    let t = with_busybox();
    let p = prefix(5);
    t.ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        &format!("{p}::/64"),
        "six-ports",
    ]);
    // The server listens on the container's IPv6 address alone: what reaches it over
    // [::1] was relayed to that address.
    let ip6 = format!("{p}::10");
    let serve = format!("mkdir -p /www && echo six > /www/index.html && exec httpd -f -p [{ip6}]:80 -h /www");
    let (any, loopback6) = (free_port(), free_port());
    t.ok(&[
        "run",
        "-d",
        "--name",
        "six-web",
        "--network",
        "six-ports",
        "--ip6",
        &ip6,
        "-p",
        &format!("{any}:80"),
        "-p",
        &format!("[::1]:{loopback6}:80"),
        "busybox:test",
        "sh",
        "-c",
        &serve,
    ]);
    assert!(http_get(&format!("[::1]:{any}")).contains("six"));
    assert!(http_get(&format!("[::1]:{loopback6}")).contains("six"));
    // `-p [::1]:PORT:80` binds that address alone.
    assert!(
        TcpStream::connect(("127.0.0.1", loopback6)).is_err(),
        "127.0.0.1:{loopback6} is not published"
    );
    let ports = t.ok(&["port", "six-web", "80"]);
    assert!(ports.contains(&format!("[::1]:{loopback6}")), "{ports}");
    t.ok(&["rm", "-f", "six-web"]);

    // On a network without IPv6, [::1] is relayed to the container's IPv4 address.
    let port = free_port();
    t.ok(&[
        "run",
        "-d",
        "--name",
        "six-web4",
        "-p",
        &format!("{port}:80"),
        "busybox:test",
        "sh",
        "-c",
        "mkdir -p /www && echo four > /www/index.html && exec httpd -f -p 80 -h /www",
    ]);
    assert!(http_get(&format!("[::1]:{port}")).contains("four"));
    t.ok(&["rm", "-f", "six-web4"]);
    t.ok(&["network", "rm", "six-ports"]);
}

#[test]
fn docker_clients_create_ipv6_networks_and_containers_over_the_engine_api() {
    let t = with_busybox();
    let mut service = Service::start(&t);
    for (i, client) in clients().into_iter().enumerate() {
        service.client = client;
        let p = prefix(6 + i as u16);
        let name = format!("six-api-{i}");
        service.docker_ok(&["network", "create", "--ipv6", "--subnet", &format!("{p}::/64"), &name]);
        let net = service.docker_json(&["network", "inspect", &name]);
        assert_eq!(net[0]["EnableIPv6"], true, "{client}: {net}");
        let ip6 = format!("{p}::30");
        let container = format!("six-api-c{i}");
        service.docker_ok(&[
            "run",
            "-d",
            "--name",
            &container,
            "--network",
            &name,
            "--ip6",
            &ip6,
            "busybox:test",
            "sleep",
            "1000",
        ]);
        let c = service.docker_json(&["inspect", &container]);
        let on_net = &c[0]["NetworkSettings"]["Networks"][name.as_str()];
        assert_eq!(on_net["GlobalIPv6Address"], ip6.as_str(), "{client}: {c}");
        assert_eq!(on_net["IPv6Gateway"], format!("{p}::1"), "{client}: {c}");
        // network connect with an IPv6 address (EndpointConfig.IPAMConfig.IPv6Address).
        let q = prefix(20 + i as u16);
        let second = format!("{name}-2");
        service.docker_ok(&["network", "create", "--ipv6", "--subnet", &format!("{q}::/64"), &second]);
        let ip6 = format!("{q}::40");
        service.docker_ok(&["network", "connect", "--ip6", &ip6, &second, &container]);
        let c = service.docker_json(&["inspect", &container]);
        let on_second = &c[0]["NetworkSettings"]["Networks"][second.as_str()];
        assert_eq!(on_second["GlobalIPv6Address"], ip6.as_str(), "{client}: {c}");
        service.docker_ok(&["rm", "-f", &container]);
        service.docker_ok(&["network", "rm", &name, &second]);
    }
    // Docker 28's IPv6-only networks are refused by name (strata's networks have IPv4).
    service.client = harness::service::DOCKER;
    if std::path::Path::new(service.client).exists() {
        let subnet = format!("{}::/64", prefix(30));
        let refused = service.docker(&[
            "network",
            "create",
            "--ipv4=false",
            "--ipv6",
            "--subnet",
            &subnet,
            "six-only",
        ]);
        assert!(!refused.status.success());
        let e = String::from_utf8_lossy(&refused.stderr);
        assert!(e.contains("EnableIPv4"), "{e}");
    }
}
