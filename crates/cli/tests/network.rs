//! Container networking on real bridges, veth pairs, namespaces and nftables: published
//! ports (TCP and UDP) answered on loopback and the host's own addresses, user networks
//! with name resolution, the gateway and outbound NAT, and cleanup. All traffic stays
//! on this machine: loopback, and namespaces the tests make.

mod harness;

use harness::images::busybox_rootfs;
use harness::{bridge_of, TestRoot};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

/// Bounds for waiting on servers to come up: generous, so a slow machine never fails
/// a test (they only end a test that is broken anyway).
const PATIENCE: Duration = Duration::from_secs(60);

fn with_busybox(extra: &[&str]) -> TestRoot {
    let t = TestRoot::new();
    let tar = t.path("busybox.tar");
    busybox_rootfs(&tar);
    let mut args = vec!["import", "-c", "CMD [\"sh\"]"];
    args.extend_from_slice(extra);
    args.extend([tar.to_str().unwrap(), "busybox:test"]);
    t.ok(&args);
    t
}

/// Starts a detached busybox httpd serving `text`; returns its container name.
fn httpd(t: &TestRoot, name: &str, text: &str, flags: &[&str]) -> String {
    let script = format!("mkdir -p /www && echo {text} > /www/index.html && exec httpd -f -p 80 -h /www");
    let mut args = vec!["run", "-d", "--name", name];
    args.extend_from_slice(flags);
    args.extend(["busybox:test", "sh", "-c", &script]);
    t.ok(&args);
    name.to_string()
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

fn sh(command: &str) -> String {
    let out = Command::new("sh").args(["-c", command]).output().unwrap();
    assert!(
        out.status.success(),
        "{command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An IPv4 address of this host that is neither loopback nor a strata bridge's.
fn host_address() -> Option<String> {
    sh("ip -4 -o addr show")
        .lines()
        .filter_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let (dev, ip) = (words.get(1)?, words.get(3)?);
            (!dev.starts_with("lo") && !dev.starts_with("strata") && !dev.starts_with("st"))
                .then(|| ip.split('/').next().unwrap().to_string())
        })
        .next()
}

fn inspect(t: &TestRoot, what: &[&str]) -> serde_json::Value {
    let mut args = vec!["inspect"];
    args.extend_from_slice(what);
    let v: serde_json::Value = serde_json::from_str(&t.ok(&args)).unwrap();
    v[0].clone()
}

fn network_inspect(t: &TestRoot, name: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(&t.ok(&["network", "inspect", name])).unwrap();
    v[0].clone()
}

/// What this root holds outside its directory: host links (bridges and veth ends),
/// addresses on its bridges, nftables lines of its tables, proxy processes, pinned
/// namespaces. Counted before and after, scoped to the root so parallel tests don't
/// disturb the count.
fn footprint(t: &TestRoot) -> Footprint {
    let networks: Vec<serde_json::Value> =
        serde_json::from_str(&t.ok(&["network", "inspect", "bridge"])).unwrap_or_default();
    let mut bridges = Vec::new();
    let mut ids = Vec::new();
    for n in networks.iter().chain(user_networks(t).iter()) {
        bridges.push(bridge_of(n));
        ids.push(n["Id"].as_str().unwrap()[..6].to_string());
    }
    let links = sh("ip -o link show")
        .lines()
        .filter(|l| {
            let name = l.split(": ").nth(1).unwrap_or("").split('@').next().unwrap_or("");
            bridges.iter().any(|b| b == name)
                || (name.len() == 14 && name.starts_with("st") && ids.iter().any(|id| name.ends_with(id.as_str())))
        })
        .count();
    let addresses = sh("ip -4 -o addr show")
        .lines()
        .filter(|l| bridges.iter().any(|b| l.split_whitespace().nth(1) == Some(b.as_str())))
        .count();
    let rules: usize = bridges
        .iter()
        .map(|b| {
            let out = Command::new("nft").args(["list", "table", "ip", b]).output().unwrap();
            String::from_utf8_lossy(&out.stdout).lines().count()
        })
        .sum();
    let root = t.root().to_string_lossy().into_owned();
    let proxies = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd);
            cmd.contains("__proxy") && cmd.contains(&root)
        })
        .count();
    let pins = std::fs::read_dir(t.root().join("netns"))
        .map(|d| d.count())
        .unwrap_or(0);
    (links, addresses, rules, proxies, pins)
}

type Footprint = (usize, usize, usize, usize, usize);

/// The footprint once the kernel has finished: veth pairs go with their namespace,
/// which the kernel destroys in the background after the container's last process.
fn settled_footprint(t: &TestRoot, expected: Footprint) -> Footprint {
    let start = Instant::now();
    loop {
        let now = footprint(t);
        if now == expected || start.elapsed() > PATIENCE {
            return now;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn user_networks(t: &TestRoot) -> Vec<serde_json::Value> {
    let names: Vec<String> = t
        .ok(&["network", "ls", "--format", "{{.Name}}"])
        .lines()
        .filter(|n| !["bridge", "host", "none"].contains(n))
        .map(str::to_string)
        .collect();
    names.iter().map(|n| network_inspect(t, n)).collect()
}

fn endpoints(t: &TestRoot, network: &str) -> usize {
    network_inspect(t, network)["Containers"].as_object().unwrap().len()
}

#[test]
fn published_ports_answer_on_loopback_and_the_hosts_addresses() {
    let t = with_busybox(&["-c", "EXPOSE 80"]);
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    httpd(&t, "web", "hello-p", &["-p", &format!("{port}:80")]);
    assert!(http_get(&format!("127.0.0.1:{port}")).contains("hello-p"));
    let gateway = inspect(&t, &["web"])["NetworkSettings"]["Gateway"]
        .as_str()
        .unwrap()
        .to_string();
    // The host's own addresses: its first interface's (where it has one) and the bridge's.
    for address in host_address().into_iter().chain([gateway.clone()]) {
        assert!(http_get(&format!("{address}:{port}")).contains("hello-p"), "{address}");
    }
    // The kernel forwards published ports (nftables DNAT); if the rules are flushed
    // (a firewall reload), the proxy that holds the port relays instead.
    let bridge = network_inspect(&t, "bridge")["Options"]["com.docker.network.bridge.name"]
        .as_str()
        .unwrap()
        .to_string();
    let map = sh(&format!("nft list map ip {bridge} published"));
    assert!(map.contains(&format!("tcp . {port} : ")), "{map}");
    sh(&format!("nft flush map ip {bridge} published"));
    assert!(
        http_get(&format!("127.0.0.1:{port}")).contains("hello-p"),
        "relayed by the proxy"
    );
    // Every IPv4 and every IPv6 address, as Docker binds them.
    assert_eq!(
        t.ok(&["port", "web"]),
        format!("80/tcp -> 0.0.0.0:{port}\n80/tcp -> [::]:{port}\n")
    );
    assert_eq!(t.ok(&["port", "web", "80"]), format!("0.0.0.0:{port}\n[::]:{port}\n"));
    assert!(
        http_get(&format!("[::1]:{port}")).contains("hello-p"),
        "IPv6 loopback, through the proxy"
    );
    // Another container on the bridge reaches it through the host's address too (the
    // DNAT sends it back into the bridge; masquerading lets the answer return).
    let hairpin = t.ok(&[
        "run",
        "--rm",
        "busybox:test",
        "wget",
        "-qO-",
        &format!("http://{gateway}:{port}/"),
    ]);
    assert_eq!(hairpin, "hello-p\n");
    let ps = t.ok(&["ps", "--format", "{{.Ports}}", "--filter", "name=web"]);
    assert_eq!(
        ps.trim(),
        format!("0.0.0.0:{port}->80/tcp, [::]:{port}->80/tcp"),
        "ps shows it as Docker does"
    );
    let missing = t.fails(&["port", "web", "81"]);
    assert!(
        missing.contains("No public port '81/tcp' published for web"),
        "{missing}"
    );
    let settings = &inspect(&t, &["web"])["NetworkSettings"];
    assert_eq!(settings["Ports"]["80/tcp"][0]["HostPort"], port.to_string());

    // -P: every exposed port (the image's EXPOSE 80, and --expose 8080) on a free port.
    httpd(&t, "all", "hello-P", &["-P", "--expose", "8080"]);
    let listed = t.ok(&["port", "all"]);
    assert_eq!(listed.lines().count(), 4, "two ports, IPv4 and IPv6 each: {listed}");
    let mapped = t.ok(&["port", "all", "80/tcp"]);
    let random: u16 = mapped
        .lines()
        .next()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(random, 0);
    assert!(http_get(&format!("127.0.0.1:{random}")).contains("hello-P"));

    // A host port in use: a clear error before the container starts, exit 125.
    let before = footprint(&t);
    let taken = t.run(&[
        "run",
        "--name",
        "clash",
        "-p",
        &format!("{port}:80"),
        "busybox:test",
        "true",
    ]);
    assert_eq!(taken.status.code(), Some(125));
    let stderr = String::from_utf8_lossy(&taken.stderr);
    assert!(
        stderr.contains(&format!("Bind for 0.0.0.0:{port} failed: port is already allocated")),
        "{stderr}"
    );
    assert_eq!(inspect(&t, &["clash"])["State"]["Running"], false);
    assert_eq!(
        settled_footprint(&t, before),
        before,
        "the failed start left nothing behind"
    );
    // On an IPv6 address of the host the proxy serves it (the kernel forwards IPv4 only).
    httpd(&t, "six", "hello-v6", &["-p", "[::1]::80"]);
    let mapped = t.ok(&["port", "six", "80"]);
    assert!(mapped.starts_with("[::1]:"), "{mapped}");
    let v6: u16 = mapped.trim().rsplit(':').next().unwrap().parse().unwrap();
    assert!(http_get(&format!("[::1]:{v6}")).contains("hello-v6"));
    let maps = sh(&format!("nft list table ip {bridge}"));
    assert!(!maps.contains(&format!(". {v6} :")), "no IPv4 forward for it: {maps}");
    t.ok(&["rm", "-f", "six"]);

    t.ok(&["rm", "-f", "web", "all", "clash"]);
    assert!(
        TcpListener::bind(("0.0.0.0", port)).is_ok(),
        "the host port is free again"
    );
}

/// busybox has no UDP server: a static one of ours, built into an image.
fn udp_image(t: &TestRoot) {
    let dir = t.path("udp");
    std::fs::create_dir_all(&dir).unwrap();
    let source = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/network/udp_echo.c");
    let built = Command::new("gcc")
        .args(["-static", "-O2", "-o"])
        .arg(dir.join("udp_echo"))
        .arg(source)
        .status()
        .expect("gcc (scripts/test.sh installs gcc and libc6-dev)");
    assert!(built.success());
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM busybox:test\nCOPY udp_echo /bin/udp_echo\nEXPOSE 5353/udp\nCMD [\"udp_echo\", \"5353\"]\n",
    )
    .unwrap();
    t.ok(&["build", "-q", "-t", "udp:1", dir.to_str().unwrap()]);
}

#[test]
fn udp_ports_are_published() {
    let t = with_busybox(&[]);
    udp_image(&t);
    t.ok(&["run", "-d", "--name", "echo", "-p", "127.0.0.1::5353/udp", "udp:1"]);
    let mapped = t.ok(&["port", "echo", "5353/udp"]);
    assert!(mapped.starts_with("127.0.0.1:"), "{mapped}");
    let port: u16 = mapped.trim().rsplit(':').next().unwrap().parse().unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 64];
    let answer = loop {
        client.send_to(b"ping", ("127.0.0.1", port)).unwrap();
        if let Ok(n) = client.recv(&mut buf) {
            break String::from_utf8_lossy(&buf[..n]).into_owned();
        }
        assert!(start.elapsed() < PATIENCE, "no UDP answer through the published port");
    };
    assert_eq!(answer, "echo:ping");
    t.ok(&["rm", "-f", "echo"]);
}

#[test]
fn containers_on_a_user_network_reach_each_other_by_name() {
    let t = with_busybox(&[]);
    let id = t.ok(&["network", "create", "--subnet", "10.231.7.0/24", "appnet"]);
    assert_eq!(id.trim().len(), 64);
    let listed = t.ok(&["network", "ls"]);
    assert!(listed.starts_with("NETWORK ID"), "{listed}");
    for name in ["appnet", "bridge", "host", "none"] {
        assert!(listed.contains(name), "{listed}");
    }
    httpd(
        &t,
        "alpha",
        "hello-from-alpha",
        &["--network", "appnet", "--network-alias", "www"],
    );
    let fetched = t.ok(&[
        "run",
        "--rm",
        "--network",
        "appnet",
        "busybox:test",
        "sh",
        "-c",
        "for i in $(seq 600); do wget -qO- http://alpha/ && exit 0; sleep 0.1; done; exit 1",
    ]);
    assert_eq!(fetched, "hello-from-alpha\n");
    let by_alias = t.ok(&[
        "run",
        "--rm",
        "--network",
        "appnet",
        "busybox:test",
        "wget",
        "-qO-",
        "http://www/",
    ]);
    assert_eq!(by_alias, "hello-from-alpha\n", "--network-alias names it too");
    let refused = t.fails(&["run", "--rm", "--network-alias", "x", "busybox:test", "true"]);
    assert!(
        refused.contains("only for containers in user defined networks"),
        "{refused}"
    );
    let alpha = inspect(&t, &["alpha"]);
    let ip = alpha["NetworkSettings"]["Networks"]["appnet"]["IPAddress"]
        .as_str()
        .unwrap();
    assert!(ip.starts_with("10.231.7."), "{ip}");
    // Aliases as Docker shows them: the --network-alias, then the short ID.
    let short = &alpha["Id"].as_str().unwrap()[..12];
    assert_eq!(
        alpha["NetworkSettings"]["Networks"]["appnet"]["Aliases"],
        serde_json::json!(["www", short])
    );
    assert_eq!(endpoints(&t, "appnet"), 1);

    // /etc/hosts is kept current: a container started later appears in alpha's.
    t.ok(&[
        "run",
        "-d",
        "--name",
        "beta",
        "--network",
        "appnet",
        "busybox:test",
        "sleep",
        "600",
    ]);
    let hosts = t.ok(&["exec", "alpha", "cat", "/etc/hosts"]);
    assert!(hosts.lines().any(|l| l.contains("\tbeta ")), "{hosts}");
    // The default bridge does not resolve names, as in Docker.
    let other = t.ok(&["run", "--rm", "busybox:test", "cat", "/etc/hosts"]);
    assert!(!other.contains("alpha"), "{other}");

    // connect / disconnect a running container.
    t.ok(&["run", "-d", "--name", "gamma", "busybox:test", "sleep", "600"]);
    t.ok(&["network", "connect", "--alias", "g", "appnet", "gamma"]);
    assert_eq!(
        t.ok(&["exec", "gamma", "wget", "-qO-", "http://alpha/"]),
        "hello-from-alpha\n"
    );
    let gamma = inspect(&t, &["gamma"]);
    let short = &gamma["Id"].as_str().unwrap()[..12];
    let networks = &gamma["NetworkSettings"]["Networks"];
    assert_eq!(networks["appnet"]["Aliases"], serde_json::json!(["g", short]));
    assert_eq!(
        networks["bridge"]["Aliases"],
        serde_json::Value::Null,
        "none on the default bridge"
    );
    let interfaces = t.ok(&["exec", "gamma", "ls", "/sys/class/net"]);
    assert_eq!(
        interfaces.split_whitespace().collect::<Vec<_>>(),
        ["eth0", "eth1", "lo"]
    );
    t.ok(&["network", "disconnect", "appnet", "gamma"]);
    let interfaces = t.ok(&["exec", "gamma", "ls", "/sys/class/net"]);
    assert_eq!(interfaces.split_whitespace().collect::<Vec<_>>(), ["eth0", "lo"]);

    // In use: not removed; stopped containers leave the others' hosts files.
    let refused = t.fails(&["network", "rm", "appnet"]);
    assert!(refused.contains("active endpoints"), "{refused}");
    t.ok(&["rm", "-f", "beta"]);
    let hosts = t.ok(&["exec", "alpha", "cat", "/etc/hosts"]);
    assert!(!hosts.contains("beta"), "{hosts}");
    t.ok(&["rm", "-f", "alpha", "gamma"]);
    assert_eq!(t.ok(&["network", "rm", "appnet"]), "appnet\n");
    t.ok(&["network", "create", "spare"]);
    assert_eq!(t.ok(&["network", "prune", "-f"]), "Deleted Networks:\nspare\n");
    assert!(!t.ok(&["network", "ls"]).contains("appnet"));
    let overlapping = t.fails(&["network", "create", "--subnet", "127.0.0.0/24", "bad"]);
    assert!(overlapping.contains("overlaps"), "{overlapping}");
    // Bad requests are refused by name, and leave no network behind.
    for (args, reason) in [
        (vec!["bridge"], "is reserved"),
        (vec!["bad/name"], "invalid network name"),
        (
            vec!["--subnet", "10.231.8.0/24", "--gateway", "10.231.9.1", "gw"],
            "not a host address of subnet",
        ),
        (
            vec!["-o", "com.docker.network.driver.mtu=10", "tiny"],
            "is not supported",
        ),
        (vec!["-o", "com.example.other=1", "other"], "is not supported"),
        (vec!["-d", "overlay", "multi"], "not supported"),
    ] {
        let mut all = vec!["network", "create"];
        all.extend(args);
        let err = t.fails(&all);
        assert!(err.contains(reason), "{all:?}: {err}");
    }
    let left: Vec<String> = t
        .ok(&["network", "ls", "--format", "{{.Name}}"])
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(left, ["bridge", "host", "none"]);
}

fn addresses_of(t: &TestRoot, name: &str) -> Vec<String> {
    t.ok(&["exec", name, "ip", "-4", "-o", "addr"])
        .lines()
        .filter_map(|l| l.split_whitespace().nth(3).map(str::to_string))
        .filter(|a| !a.starts_with("127."))
        .collect()
}

#[test]
fn static_addresses_on_user_networks() {
    let t = with_busybox(&[]);
    t.ok(&["network", "create", "--subnet", "10.231.20.0/24", "fixed"]);
    t.ok(&["network", "create", "--subnet", "10.231.21.0/24", "second"]);
    let run = |name: &str, ip: &str| {
        t.run(&[
            "run",
            "-d",
            "--name",
            name,
            "--network",
            "fixed",
            "--ip",
            ip,
            "busybox:test",
            "sleep",
            "600",
        ])
    };
    assert!(run("one", "10.231.20.50").status.success());
    assert_eq!(addresses_of(&t, "one"), ["10.231.20.50/24"]);
    assert_eq!(
        inspect(&t, &["one"])["NetworkSettings"]["Networks"]["fixed"]["IPAMConfig"]["IPv4Address"],
        "10.231.20.50"
    );
    // Taken, outside the subnet, the gateway, the default bridge, IPv6: refused with
    // exit 125 (a container that failed to start stays created, as Docker's `run -d`).
    let taken = run("two", "10.231.20.50");
    assert_eq!(taken.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&taken.stderr).contains("10.231.20.50 is already in use on network fixed"));
    t.ok(&["rm", "-f", "two"]);
    for (ip, why) in [
        ("10.231.22.5", "outside the network's subnet"),
        ("10.231.20.1", "the network's gateway"),
        ("fd00::5", "give it with --ip6"),
        ("10.231.20.300", "invalid IP address"),
    ] {
        let out = run("two", ip);
        assert_eq!(out.status.code(), Some(125), "{ip}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(why), "{ip}: {out:?}");
        t.run(&["rm", "-f", "two"]);
    }
    let bridge = t.fails(&["run", "--rm", "--ip", "172.17.0.9", "busybox:test", "true"]);
    assert!(bridge.contains("supported on user defined networks only"), "{bridge}");
    // connect --ip: a second interface with that address; a taken one leaves the other
    // container as it was.
    t.ok(&["network", "connect", "--ip", "10.231.21.77", "second", "one"]);
    assert_eq!(addresses_of(&t, "one"), ["10.231.20.50/24", "10.231.21.77/24"]);
    t.ok(&[
        "run",
        "-d",
        "--name",
        "three",
        "--network",
        "fixed",
        "busybox:test",
        "sleep",
        "600",
    ]);
    let refused = t.fails(&["network", "connect", "--ip", "10.231.21.77", "second", "three"]);
    assert!(refused.contains("already in use"), "{refused}");
    let networks = inspect(&t, &["three"])["NetworkSettings"]["Networks"].clone();
    assert_eq!(networks.as_object().unwrap().keys().collect::<Vec<_>>(), ["fixed"]);
    assert_eq!(endpoints(&t, "second"), 1);
    // The addresses are the container's: a restart gets them again.
    t.ok(&["restart", "-t", "0", "one"]);
    assert_eq!(addresses_of(&t, "one"), ["10.231.20.50/24", "10.231.21.77/24"]);
    t.ok(&["rm", "-f", "one", "three"]);
    assert_eq!(endpoints(&t, "fixed") + endpoints(&t, "second"), 0);
}

#[test]
fn add_host_and_dns_flags_shape_the_containers_files() {
    let t = with_busybox(&[]);
    let files = t.ok(&[
        "run",
        "-d",
        "--name",
        "named",
        "--add-host",
        "db:10.1.2.3",
        "--add-host",
        "gw:host-gateway",
        "--add-host",
        "six:[fd00::9]",
        "--dns",
        "10.9.9.9",
        "--dns-search",
        "example.test",
        "--dns-option",
        "ndots:2",
        "busybox:test",
        "sleep",
        "600",
    ]);
    assert_eq!(files.trim().len(), 64);
    let gateway = inspect(&t, &["named"])["NetworkSettings"]["Gateway"]
        .as_str()
        .unwrap()
        .to_string();
    let hosts = t.ok(&["exec", "named", "cat", "/etc/hosts"]);
    for line in ["10.1.2.3\tdb\n", &format!("{gateway}\tgw\n"), "fd00::9\tsix\n"] {
        assert!(hosts.contains(line), "{line:?} in {hosts}");
    }
    let resolv = t.ok(&["exec", "named", "cat", "/etc/resolv.conf"]);
    assert!(resolv.contains("nameserver 10.9.9.9\n"), "{resolv}");
    assert_eq!(
        resolv.matches("nameserver").count(),
        1,
        "--dns replaces the host's servers: {resolv}"
    );
    assert!(
        resolv.contains("search example.test\n") && resolv.contains("options ndots:2\n"),
        "{resolv}"
    );
    assert_eq!(
        inspect(&t, &["named"])["HostConfig"]["ExtraHosts"],
        serde_json::json!(["db:10.1.2.3", "gw:host-gateway", "six:fd00::9"])
    );
    // With the host's network, the host is its loopback.
    let host = t.ok(&[
        "run",
        "--rm",
        "--network",
        "host",
        "--add-host",
        "gw:host-gateway",
        "busybox:test",
        "cat",
        "/etc/hosts",
    ]);
    assert!(host.contains("127.0.0.1\tgw\n"), "{host}");
    for (flag, value, why) in [
        ("--add-host", "nocolon", "expected NAME:IP"),
        ("--add-host", "db:not-an-ip", "is not an IP address"),
        ("--dns", "dns.example", "not an IP address"),
    ] {
        let err = t.fails(&["run", "--rm", flag, value, "busybox:test", "true"]);
        assert!(err.contains(why), "{flag} {value}: {err}");
    }
    t.ok(&["rm", "-f", "named"]);
}

#[test]
fn network_container_mode_shares_another_containers_stack() {
    let t = with_busybox(&[]);
    httpd(&t, "web", "hello-shared", &[]);
    let web = inspect(&t, &["web"]);
    let (address, hostname) = (
        web["NetworkSettings"]["IPAddress"].as_str().unwrap().to_string(),
        web["Config"]["Hostname"].as_str().unwrap().to_string(),
    );
    let shared = t.ok(&[
        "run",
        "--rm",
        "--network",
        "container:web",
        "busybox:test",
        "sh",
        "-c",
        "hostname; ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1; \
         for i in $(seq 100); do wget -qO- http://127.0.0.1/ && exit 0; sleep 0.1; done; exit 1",
    ]);
    assert_eq!(shared, format!("{hostname}\n{address}\nhello-shared\n"));
    // A container without a network of its own (none) can be joined too: loopback only.
    t.ok(&[
        "run",
        "-d",
        "--name",
        "alone",
        "--network",
        "none",
        "busybox:test",
        "sleep",
        "600",
    ]);
    let links = t.ok(&[
        "run",
        "--rm",
        "--network",
        "container:alone",
        "busybox:test",
        "ls",
        "/sys/class/net",
    ]);
    assert_eq!(links.split_whitespace().collect::<Vec<_>>(), ["lo"]);
    for (flags, why) in [
        (vec!["-p", "80"], "conflicting options: port publishing"),
        (vec!["--hostname", "x"], "conflicting options: hostname"),
        (vec!["--dns", "10.0.0.1"], "conflicting options: dns"),
    ] {
        let mut args = vec!["run", "--rm", "--network", "container:web"];
        args.extend(flags);
        args.extend(["busybox:test", "true"]);
        assert!(t.fails(&args).contains(why), "{args:?}");
    }
    t.ok(&["stop", "-t", "0", "alone"]);
    let stopped = t.run(&["run", "--rm", "--network", "container:alone", "busybox:test", "true"]);
    assert_eq!(stopped.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&stopped.stderr).contains("cannot join network of a non running container: alone"));
    t.ok(&["rm", "-f", "web", "alone"]);
}

/// A namespace playing a machine outside the host, linked to it by a veth pair.
struct Outside {
    ns: String,
    link: String,
}

impl Drop for Outside {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
        let _ = Command::new("ip").args(["link", "del", &self.link]).status();
    }
}

#[test]
fn the_host_answers_on_the_gateway_and_outbound_traffic_is_masqueraded() {
    let t = with_busybox(&[]);
    // A server on the host, reached from the container through the bridge's gateway.
    let server = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = server.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut c in server.incoming().flatten() {
            let mut buf = [0u8; 1024];
            let _ = c.read(&mut buf);
            let _ = c.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 9\r\n\r\nfrom-host");
        }
    });
    let script = format!("wget -qO- http://$(ip route | awk '/default/ {{print $3}}'):{port}/");
    assert_eq!(t.ok(&["run", "--rm", "busybox:test", "sh", "-c", &script]), "from-host");

    // Outbound NAT: a "remote" machine in its own namespace sees the host's address on
    // its link, not the container's (without masquerading it could not even answer).
    let n = std::process::id() % 200 + 20;
    let outside = Outside {
        ns: format!("strata-test-{n}"),
        link: format!("sto{n}"),
    };
    sh(&format!(
        "ip netns add {ns} && ip link add {l} type veth peer name eth0 netns {ns} && \
         ip addr add 198.18.{n}.1/30 dev {l} && ip link set {l} up && \
         ip -n {ns} addr add 198.18.{n}.2/30 dev eth0 && ip -n {ns} link set eth0 up && ip -n {ns} link set lo up",
        ns = outside.ns,
        l = outside.link
    ));
    let mut remote = Command::new("ip")
        .args(["netns", "exec", &outside.ns, "python3", "-c"])
        .arg(format!(
            "import socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
             s.bind(('198.18.{n}.2', 9000))\ns.listen()\nc,a=s.accept()\nc.sendall(('peer=%s' % a[0]).encode())\nc.close()\n"
        ))
        .spawn()
        .unwrap();
    let script = format!("for i in $(seq 600); do nc 198.18.{n}.2 9000 && exit 0; sleep 0.1; done; exit 1");
    let seen = t.ok(&["run", "--rm", "busybox:test", "sh", "-c", &script]);
    let _ = remote.kill();
    let _ = remote.wait();
    assert_eq!(
        seen,
        format!("peer=198.18.{n}.1"),
        "the source was rewritten to the host's address"
    );
}

#[test]
fn the_default_bridge_subnet_can_be_chosen() {
    let t = with_busybox(&[]);
    let out = t
        .cmd()
        .env("STRATA_BRIDGE_SUBNET", "10.233.9.0/24")
        .args(["run", "--rm", "busybox:test", "ip", "-4", "-o", "addr", "show", "eth0"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("inet 10.233.9.2/24"),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn network_none_has_only_loopback_and_host_uses_the_hosts_interfaces() {
    let t = with_busybox(&[]);
    let none = t.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox:test",
        "ls",
        "/sys/class/net",
    ]);
    assert_eq!(none.split_whitespace().collect::<Vec<_>>(), ["lo"]);
    let bridged = t.ok(&["run", "--rm", "busybox:test", "ls", "/sys/class/net"]);
    assert_eq!(bridged.split_whitespace().collect::<Vec<_>>(), ["eth0", "lo"]);
    let host = t.ok(&[
        "run",
        "--rm",
        "--network",
        "host",
        "busybox:test",
        "ls",
        "/sys/class/net",
    ]);
    assert!(host.split_whitespace().count() > 1, "{host}");
    let refused = t.fails(&["run", "--rm", "--network", "nosuch", "busybox:test", "true"]);
    assert!(refused.contains("network nosuch not found"), "{refused}");
    // RUN steps of a build use the default bridge too.
    let dir = t.path("ctx");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM busybox:test\nRUN ls /sys/class/net > /interfaces && ip route | grep -q default\n",
    )
    .unwrap();
    t.ok(&["build", "-q", "-t", "netbuild:1", dir.to_str().unwrap()]);
    let seen = t.ok(&["run", "--rm", "--network", "none", "netbuild:1", "cat", "/interfaces"]);
    assert_eq!(seen.split_whitespace().collect::<Vec<_>>(), ["eth0", "lo"]);
    let resolv = t.ok(&["run", "--rm", "busybox:test", "cat", "/etc/resolv.conf"]);
    assert!(resolv.contains("nameserver"), "{resolv}");
    assert!(
        !resolv.contains("nameserver 127."),
        "loopback resolvers are replaced: {resolv}"
    );
}

#[test]
fn fifty_run_rm_cycles_and_concurrent_runs_leave_nothing_behind() {
    let t = with_busybox(&[]);
    t.ok(&["network", "create", "cycles"]);
    // The networks exist (bridges, rules) before counting: those stay, like docker0.
    t.ok(&["run", "--rm", "busybox:test", "true"]);
    let before = footprint(&t);
    for i in 0..50 {
        let network = if i % 2 == 0 { "bridge" } else { "cycles" };
        t.ok(&["run", "--rm", "--network", network, "-p", "80", "busybox:test", "true"]);
    }
    for i in 0..5 {
        let name = format!("d{i}");
        t.ok(&["run", "-d", "--name", &name, "-p", "80", "busybox:test", "sleep", "600"]);
        t.ok(&["rm", "-f", &name]);
    }
    assert_eq!(
        settled_footprint(&t, before),
        before,
        "(links, addresses, nft lines, proxies, namespaces)"
    );
    assert_eq!(endpoints(&t, "bridge"), 0);
    assert_eq!(endpoints(&t, "cycles"), 0);

    // Concurrent runs never share an address.
    let children: Vec<_> = (0..6)
        .map(|i| {
            t.cmd()
                .args([
                    "run",
                    "-d",
                    "--name",
                    &format!("c{i}"),
                    "--network",
                    "cycles",
                    "busybox:test",
                    "sleep",
                    "600",
                ])
                .output()
        })
        .collect();
    for c in children {
        assert!(c.unwrap().status.success());
    }
    let mut ips: Vec<String> = (0..6)
        .map(|i| {
            inspect(&t, &[&format!("c{i}")])["NetworkSettings"]["Networks"]["cycles"]["IPAddress"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 6, "{ips:?}");
    for i in 0..6 {
        t.ok(&["rm", "-f", &format!("c{i}")]);
    }
    assert_eq!(settled_footprint(&t, before), before);
}

#[test]
fn a_killed_engine_leaves_nothing_after_the_next_command() {
    let t = with_busybox(&[]);
    t.ok(&["run", "--rm", "busybox:test", "true"]);
    let before = footprint(&t);
    t.ok(&[
        "run",
        "-d",
        "--name",
        "victim",
        "-p",
        "80",
        "busybox:test",
        "sleep",
        "600",
    ]);
    assert_ne!(footprint(&t), before);
    // The engine dies with the machine, so to speak: monitor and container killed hard.
    let pid = inspect(&t, &["victim"])["State"]["Pid"].as_i64().unwrap();
    let monitor = harness::parent_of(pid);
    let _ = Command::new("kill").args(["-9", &monitor.to_string()]).status();
    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    let start = Instant::now();
    while std::path::Path::new(&format!("/proc/{pid}")).exists() && start.elapsed() < PATIENCE {
        std::thread::sleep(Duration::from_millis(20));
    }
    let ps = t.ok(&["ps", "-a"]);
    assert!(ps.contains("Exited"), "{ps}");
    // The proxy notices its container is gone by itself; the rest went with `ps`.
    assert_eq!(settled_footprint(&t, before), before);
    assert_eq!(endpoints(&t, "bridge"), 0);
}

/// Starts on a fresh root race to make its bridge: the one that finds it missing makes
/// it under the host's network lock, and the others find it made (the second creation
/// once failed with "creating bridge …: File exists").
#[test]
fn concurrent_first_starts_on_a_fresh_root_share_one_bridge() {
    let t = with_busybox(&[]);
    let runs: Vec<_> = (0..6)
        .map(|_| {
            t.cmd()
                .args(["run", "--rm", "busybox:test", "true"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for run in runs {
        let out = run.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let bridges = network_inspect(&t, "bridge");
    assert!(!bridge_of(&bridges).is_empty(), "{bridges}");
}
