//! The port proxy (Docker's docker-proxy): a process per container with published
//! ports that holds their host sockets and relays to the container's address. TCP is
//! relayed with splice(2), so bytes move between the sockets inside the kernel. It ends
//! by itself when the container's process does.

use crate::error::{NetworkError, Result};
use crate::ports::Protocol;
use nix::fcntl::{splice, SpliceFFlags};
use std::collections::HashMap;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One relay: a bound host socket and the container address it leads to.
pub struct Relay {
    pub protocol: Protocol,
    pub socket: OwnedFd,
    pub target: SocketAddr,
}

/// Runs every relay until the process `container_pid` exits.
pub fn run(container_pid: i32, relays: Vec<Relay>) -> Result<()> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, container_pid, 0) };
    if raw < 0 {
        return Err(NetworkError::io(
            format!("watching container process {container_pid}"),
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: a fresh descriptor owned by nothing else.
    let pidfd: OwnedFd = unsafe { std::os::fd::FromRawFd::from_raw_fd(raw as i32) };
    for relay in relays {
        match relay.protocol {
            Protocol::Tcp => {
                let listener = TcpListener::from(relay.socket);
                std::thread::spawn(move || serve_tcp(listener, relay.target));
            }
            Protocol::Udp => {
                let socket = UdpSocket::from(relay.socket);
                std::thread::spawn(move || serve_udp(socket, relay.target, UDP_FLOW_IDLE, Flows::default()));
            }
        }
    }
    let mut fds = [nix::poll::PollFd::new(pidfd.as_fd(), nix::poll::PollFlags::POLLIN)];
    loop {
        match nix::poll::poll(&mut fds, nix::poll::PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            _ => return Ok(()),
        }
    }
}

fn serve_tcp(listener: TcpListener, target: SocketAddr) {
    for client in listener.incoming() {
        let Ok(client) = client else { continue };
        std::thread::spawn(move || {
            let Ok(upstream) = TcpStream::connect(target) else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = upstream.set_nodelay(true);
            let (c2, u2) = match (client.try_clone(), upstream.try_clone()) {
                (Ok(c), Ok(u)) => (c, u),
                _ => return,
            };
            let back = std::thread::spawn(move || pump(&u2, &c2));
            pump(&client, &upstream);
            let _ = back.join();
        });
    }
}

/// Moves bytes from `from` to `to` through a pipe until `from` ends, then passes the
/// end on (half-close), as a direct connection would.
fn pump(from: &TcpStream, to: &TcpStream) {
    let Ok((pipe_r, pipe_w)) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) else {
        return;
    };
    // A bigger pipe moves more per call; the default of 64 KiB is the fallback.
    let _ = nix::fcntl::fcntl(&pipe_w, nix::fcntl::FcntlArg::F_SETPIPE_SZ(1 << 20));
    let flags = SpliceFFlags::SPLICE_F_MOVE | SpliceFFlags::SPLICE_F_MORE;
    loop {
        let n = match splice(from, None, &pipe_w, None, 1 << 20, flags) {
            Ok(0) => break,
            Ok(n) => n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => break,
        };
        let mut left = n;
        while left > 0 {
            match splice(&pipe_r, None, to, None, left, flags) {
                Ok(0) => return,
                Ok(m) => left -= m,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => {
                    let _ = from.shutdown(Shutdown::Read);
                    return;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// How long a UDP flow may stay silent both ways before its socket and thread go (the
/// figure Docker's proxy uses): UDP has no close, and a server published for months would
/// otherwise keep one of each for every client it ever heard from.
const UDP_FLOW_IDLE: Duration = Duration::from_secs(90);

/// A client's socket towards the container, and when anything last went through it.
struct Flow {
    upstream: UdpSocket,
    last: Mutex<Instant>,
}

impl Flow {
    fn touch(&self) {
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }

    fn idle_for(&self) -> Duration {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).elapsed()
    }
}

type Flows = Arc<Mutex<HashMap<SocketAddr, Arc<Flow>>>>;

/// UDP: each client address gets its own socket towards the container, so replies
/// find their way back to the client they answer; a flow idle for `idle` is dropped.
fn serve_udp(socket: UdpSocket, target: SocketAddr, idle: Duration, flows: Flows) {
    let socket = Arc::new(socket);
    let mut buf = vec![0u8; 65536];
    loop {
        let Ok((n, client)) = socket.recv_from(&mut buf) else {
            continue;
        };
        let flow = {
            // Touched under the table's lock, so an expiring flow is either still
            // in the table and fresh, or gone and replaced.
            let mut table = flows.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(flow) = table.get(&client) {
                flow.touch();
                flow.clone()
            } else {
                let any = if target.is_ipv6() { "[::]:0" } else { "0.0.0.0:0" };
                let Ok(upstream) = UdpSocket::bind(any).and_then(|u| u.connect(target).map(|()| u)) else {
                    continue;
                };
                let flow = Arc::new(Flow {
                    upstream,
                    last: Mutex::new(Instant::now()),
                });
                table.insert(client, flow.clone());
                let (replies, reply_to, flows) = (flow.clone(), socket.clone(), flows.clone());
                std::thread::spawn(move || relay_replies(&replies, client, &reply_to, &flows, idle));
                flow
            }
        };
        let _ = flow.upstream.send(&buf[..n]);
    }
}

/// The container's answers back to `client`, until the flow has been idle too long.
fn relay_replies(flow: &Arc<Flow>, client: SocketAddr, reply_to: &UdpSocket, flows: &Flows, idle: Duration) {
    let _ = flow.upstream.set_read_timeout(Some(idle / 4));
    let mut buf = vec![0u8; 65536];
    loop {
        match flow.upstream.recv(&mut buf) {
            Ok(n) => {
                flow.touch();
                let _ = reply_to.send_to(&buf[..n], client);
            }
            // The container's port refused (ICMP): its server may come back.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
            Err(_) => {
                let mut table = flows.lock().unwrap_or_else(|p| p.into_inner());
                if flow.idle_for() >= idle {
                    if table.get(&client).is_some_and(|f| Arc::ptr_eq(f, flow)) {
                        table.remove(&client);
                    }
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo_server() -> SocketAddr {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let address = server.local_addr().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while let Ok((n, from)) = server.recv_from(&mut buf) {
                let _ = server.send_to(&buf[..n], from);
            }
        });
        address
    }

    fn ask(client: &UdpSocket, proxy: SocketAddr, text: &str) {
        client.send_to(text.as_bytes(), proxy).unwrap();
        let mut buf = [0u8; 64];
        let n = client.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], text.as_bytes());
    }

    fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
        for _ in 0..500 {
            if done() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("timed out waiting until {what}");
    }

    #[test]
    fn idle_udp_flows_are_dropped_and_busy_ones_kept() {
        let target = echo_server();
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let proxy = socket.local_addr().unwrap();
        let flows = Flows::default();
        let table = flows.clone();
        let idle = Duration::from_millis(300);
        std::thread::spawn(move || serve_udp(socket, target, idle, table));
        let client = |_| {
            let c = UdpSocket::bind("127.0.0.1:0").unwrap();
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            c
        };
        let (quiet, busy) = (client(0), client(1));
        ask(&quiet, proxy, "hello");
        ask(&busy, proxy, "hello");
        let count = || flows.lock().unwrap().len();
        assert_eq!(count(), 2);
        // The busy client keeps talking; only the quiet one's flow goes.
        wait_until("the quiet flow expires", || {
            ask(&busy, proxy, "still here");
            count() == 1
        });
        assert!(flows.lock().unwrap().contains_key(&busy.local_addr().unwrap()));
        // A client heard from again gets a new flow that works.
        ask(&quiet, proxy, "back");
        assert_eq!(count(), 2);
        wait_until("both flows expire", || count() == 0);
    }
}
