//! The explorer's interactive view on a real pty (issue 21): the panes at 80×24, keys
//! (pane switch, whole-image view, help, a regex filter, collapse), a resize to 10×5 and
//! back, names with a newline or invalid UTF-8 shown escaped, and the terminal restored
//! at the end. The screen is read through a terminal emulator (vt100), as a user sees it.

mod harness;

use harness::images::{docker_archive, layer, E};
use harness::TestRoot;
use nix::pty::{openpty, Winsize};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Pty {
    master: std::fs::File,
    child: Child,
    screen: Arc<Mutex<vt100::Parser>>,
}

fn winsize(rows: u16, cols: u16) -> Winsize {
    Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

impl Pty {
    fn spawn(mut cmd: Command, rows: u16, cols: u16) -> Pty {
        let pty = openpty(Some(&winsize(rows, cols)), None).unwrap();
        let slave: OwnedFd = pty.slave;
        let fd = slave.as_raw_fd();
        cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
                // A session of its own with the pty as its terminal: it gets SIGWINCH.
                nix::unistd::setsid().map_err(std::io::Error::from)?;
                if nix::libc::ioctl(fd, nix::libc::TIOCSCTTY as _, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap();
        let master = std::fs::File::from(pty.master);
        let screen = Arc::new(Mutex::new(vt100::Parser::new(rows, cols, 0)));
        let mut reader = master.try_clone().unwrap();
        let feed = screen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                feed.lock().unwrap().process(&buf[..n]);
            }
        });
        Pty { master, child, screen }
    }

    fn contents(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    /// Waits for the screen to show `text` (a hang guard, not a speed check).
    fn wait_for(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let screen = self.contents();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "the screen never showed {text:?}:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait_until_gone(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let screen = self.contents();
            if !screen.contains(text) {
                return screen;
            }
            assert!(start.elapsed() < Duration::from_secs(120), "{text:?} stayed:\n{screen}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn keys(&mut self, keys: &[u8]) {
        self.master.write_all(keys).unwrap();
    }

    fn resize(&self, rows: u16, cols: u16) {
        self.screen.lock().unwrap().set_size(rows, cols);
        let ws = winsize(rows, cols);
        assert_eq!(
            unsafe { nix::libc::ioctl(self.master.as_raw_fd(), nix::libc::TIOCSWINSZ, &ws) },
            0
        );
    }
}

#[test]
fn the_interactive_view_works_on_a_pty_survives_a_resize_and_escapes_names() {
    let t = TestRoot::new();
    let mut odd = tar::Builder::new(Vec::new());
    for name in [&b"new\nline"[..], b"bad\xffname"] {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_size(1);
        h.as_mut_bytes()[..name.len()].copy_from_slice(name);
        h.set_cksum();
        odd.append(&h, &b"x"[..]).unwrap();
    }
    let layers = [
        layer(&[
            E::Dir("etc/"),
            E::File("etc/config", b"one"),
            E::Dir("app/"),
            E::File("app/big", &[7; 5000]),
        ]),
        layer(&[E::File("etc/config", b"two"), E::File("app/.wh.big", b"")]),
        odd.into_inner().unwrap(),
    ];
    let archive = t.path("view.tar");
    std::fs::write(&archive, docker_archive(&layers, "view:1", "2024-01-01T00:00:00Z")).unwrap();
    t.ok(&["load", "-q", "-i", archive.to_str().unwrap()]);

    let mut cmd = t.cmd();
    cmd.args(["explore", "view:1"]).env("TERM", "xterm-256color");
    let mut pty = Pty::spawn(cmd, 24, 80);
    let screen = pty.wait_for("Layers of view:1");
    assert!(screen.contains("layer 0") && screen.contains("layer 2"), "{screen}");
    assert!(screen.contains("This layer's changes"), "{screen}");
    assert!(
        screen.contains("A") && screen.contains("config"),
        "layer 0's files: {screen}"
    );

    // The second layer: etc/config modified, app/big removed.
    pty.keys(b"j");
    let screen = pty.wait_for("Removed 1");
    assert!(
        screen.lines().any(|l| l.contains("M ") && l.contains("config")),
        "{screen}"
    );
    assert!(
        screen.lines().any(|l| l.contains("D ") && l.contains("big")),
        "{screen}"
    );
    // The whole image as of that layer: etc/ and app/ with their contents, big removed
    // by this layer (still listed, marked), config changed by it.
    pty.keys(b"a");
    let screen = pty.wait_for("Image as of this layer");
    assert!(screen.lines().any(|l| l.contains("▾ etc")), "{screen}");
    assert!(
        screen.lines().any(|l| l.contains("M ") && l.contains("config")),
        "{screen}"
    );

    // The third layer's names: a newline and invalid UTF-8, escaped.
    pty.keys(b"ja");
    let screen = pty.wait_for("This layer's changes");
    assert!(screen.contains("new\\nline"), "the newline is shown escaped: {screen}");
    assert!(screen.contains("bad\\xffname"), "{screen}");

    // A regex filter, then none.
    pty.keys(b"/bad\r");
    let screen = pty.wait_for("[/bad]");
    assert!(!screen.contains("new\\nline"), "{screen}");
    pty.keys(b"/\r");
    pty.wait_for("new\\nline");

    // Help, closed by any key.
    pty.keys(b"?");
    pty.wait_for("Keys (any key closes)");
    pty.keys(b"x");
    pty.wait_until_gone("Keys (any key closes)");

    // Collapse a directory in the first layer's tree, and open it again.
    pty.keys(b"g\tg");
    let screen = pty.wait_for("Added 4");
    assert!(screen.contains("big"), "{screen}");
    pty.keys(b" ");
    let screen = pty.wait_until_gone("big");
    assert!(screen.contains("▸ app"), "{screen}");
    pty.keys(b" ");
    pty.wait_for("big");

    // A resize to 10×5, then back.
    pty.resize(5, 10);
    pty.wait_for("strata exp");
    pty.resize(24, 80);
    pty.wait_for("Layers of view:1");

    pty.keys(b"q");
    let status = pty.child.wait().unwrap();
    assert!(status.success(), "{status}");
    let screen = pty.contents();
    assert!(!screen.contains("Layers of"), "the alternate screen was left: {screen}");
}
