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
                std::thread::spawn(move || serve_udp(socket, relay.target));
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

/// UDP: each client address gets its own socket towards the container, so replies
/// find their way back to the client they answer.
fn serve_udp(socket: UdpSocket, target: SocketAddr) {
    let socket = Arc::new(socket);
    let flows: Arc<Mutex<HashMap<SocketAddr, Arc<UdpSocket>>>> = Arc::default();
    let mut buf = vec![0u8; 65536];
    loop {
        let Ok((n, client)) = socket.recv_from(&mut buf) else {
            continue;
        };
        let upstream = {
            let mut flows = flows.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(u) = flows.get(&client) {
                u.clone()
            } else {
                let Ok(u) = UdpSocket::bind("0.0.0.0:0").and_then(|u| u.connect(target).map(|()| u)) else {
                    continue;
                };
                let u = Arc::new(u);
                flows.insert(client, u.clone());
                let (back, reply_to) = (u.clone(), socket.clone());
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 65536];
                    while let Ok(n) = back.recv(&mut buf) {
                        let _ = reply_to.send_to(&buf[..n], client);
                    }
                });
                u
            }
        };
        let _ = upstream.send(&buf[..n]);
    }
}
