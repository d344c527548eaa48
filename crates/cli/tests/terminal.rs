//! `run -it IMAGE sh` as a person uses it: a real pseudo-terminal drives strata, types
//! into the container's shell and reads its screen.

mod harness;

use harness::images::busybox_rootfs;
use harness::TestRoot;

/// Drives `strata ARGS` on a pty of size 30x100: types `input`, returns (output, status).
const DRIVER: &str = r#"
import fcntl, os, pty, select, struct, sys, termios, time
argv, typed = sys.argv[1:-1], sys.argv[-1].encode().decode('unicode_escape').encode()
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack('HHHH', 30, 100, 0, 0))
    os.execv(argv[0], argv)
out, sent, deadline = b'', False, time.time() + 60
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.2)
    if r:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    elif not sent:
        os.write(fd, typed); sent = True
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors='replace'))
sys.stdout.write('\nSTATUS %d\n' % os.waitstatus_to_exitcode(status))
"#;

/// Runs `strata --root ROOT ARGS` on a pty through DRIVER, typing `typed`; the screen.
fn drive(t: &TestRoot, args: &[&str], typed: &str) -> String {
    let root = t.root();
    let mut all = vec![
        "-c",
        DRIVER,
        env!("CARGO_BIN_EXE_strata"),
        "--root",
        root.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    all.push(typed);
    let out = std::process::Command::new("python3")
        .args(&all)
        .output()
        .expect("python3");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn run_it_gives_an_interactive_shell_on_a_terminal() {
    let t = TestRoot::new();
    let tar = t.path("busybox.tar");
    busybox_rootfs(&tar);
    t.ok(&["import", "-c", "CMD [\"sh\"]", tar.to_str().unwrap(), "busybox:tty"]);
    // The session ID shows the container has its own terminal: `-t` makes PID 1 a session
    // leader on a new pty (without -t it would inherit the caller's, and show 0).
    let typed =
        "test -t 0 && echo INTERACTIVE; echo SID=$(cut -d' ' -f6 /proc/self/stat); stty size; echo $((6*7)); exit 5\\n";
    let screen = drive(&t, &["run", "-it", "--rm", "busybox:tty", "sh"], typed);
    assert!(screen.contains("INTERACTIVE"), "stdin is a terminal inside: {screen}");
    assert!(
        screen.contains("SID=1"),
        "the container's shell leads its own terminal session: {screen}"
    );
    assert!(
        screen.contains("30 100"),
        "the window size reaches the container: {screen}"
    );
    assert!(screen.contains("42"), "{screen}");
    assert!(
        screen.trim_end().ends_with("STATUS 5"),
        "the shell's exit status is run's: {screen}"
    );
    assert!(t.ok(&["ps", "-aq"]).is_empty());
}

/// `tty` inside names the container's terminal, and that device is in the container's
/// own /dev/pts: the terminal is made in the container's devpts, not the host's.
#[test]
fn the_terminal_is_the_containers_own_device_in_its_dev_pts() {
    let t = TestRoot::new();
    let tar = t.path("busybox.tar");
    busybox_rootfs(&tar);
    t.ok(&["import", tar.to_str().unwrap(), "busybox:tty"]);
    let check = "t=$(tty) && test -c \"$t\" && echo OWN=$t; exit 0\\n";
    let screen = drive(
        &t,
        &["run", "-it", "--rm", "busybox:tty", "sh", "-c", "read x; eval \"$x\""],
        check,
    );
    assert!(screen.contains("OWN=/dev/pts/0"), "run -it: {screen}");
    t.ok(&["run", "-d", "--name", "box", "busybox:tty", "sleep", "1000"]);
    let screen = drive(&t, &["exec", "-it", "box", "sh", "-c", "read x; eval \"$x\""], check);
    assert!(screen.contains("OWN=/dev/pts/"), "exec -it: {screen}");
    t.ok(&["rm", "-f", "box"]);
}

#[test]
fn exec_it_gives_a_shell_in_a_running_container() {
    let t = TestRoot::new();
    let tar = t.path("busybox.tar");
    busybox_rootfs(&tar);
    t.ok(&["import", tar.to_str().unwrap(), "busybox:tty"]);
    t.ok(&["run", "-d", "--name", "box", "busybox:tty", "sleep", "1000"]);
    let typed = "test -t 0 && echo INTERACTIVE; echo SID=$(cut -d' ' -f6 /proc/self/stat); echo PID1=$(cat /proc/1/comm); exit 3\\n";
    let screen = drive(&t, &["exec", "-it", "box", "sh"], typed);
    assert!(screen.contains("INTERACTIVE"), "{screen}");
    assert!(
        screen.contains("PID1=sleep"),
        "the shell runs inside the container: {screen}"
    );
    assert!(
        !screen.contains("SID=0"),
        "the exec'd shell leads its own terminal session: {screen}"
    );
    assert!(screen.trim_end().ends_with("STATUS 3"), "{screen}");
    t.ok(&["rm", "-f", "box"]);
}

#[test]
fn pull_on_a_terminal_draws_a_progress_bar_per_layer() {
    let t = TestRoot::new();
    let registry = harness::registry::Registry::start(&t.path("registry"), harness::registry::Setup::Plain);
    let tar = t.path("busybox.tar");
    busybox_rootfs(&tar);
    let name = format!("{}/bb:1", registry.addr);
    t.ok(&["import", tar.to_str().unwrap(), &name]);
    t.ok(&["push", &name]);
    t.ok(&["rmi", &name]);
    let screen = drive(&t, &["pull", &name], "");
    assert!(screen.contains(": Pulling fs layer"), "{screen}");
    assert!(
        screen.contains(": Pull complete [=====") && screen.contains(" MB/"),
        "{screen}"
    );
    assert!(screen.contains("Status: Downloaded newer image"), "{screen}");
    assert!(screen.contains("STATUS 0"), "{screen}");
}

#[test]
fn attach_to_a_detached_terminal_container() {
    let t = TestRoot::new();
    let tar = t.path("busybox.tar");
    busybox_rootfs(&tar);
    t.ok(&["import", "-c", "CMD [\"sh\"]", tar.to_str().unwrap(), "busybox:tty"]);
    // `run -dit`: the shell waits on its terminal, held by the container's monitor.
    t.ok(&["run", "-dit", "--name", "shell", "busybox:tty"]);
    let typed = "test -t 0 && echo INTERACTIVE; stty size; echo $((6*7)); exit 4\\n";
    let screen = drive(&t, &["attach", "shell"], typed);
    assert!(screen.contains("INTERACTIVE"), "{screen}");
    assert!(screen.contains("30 100"), "attach passes its window size on: {screen}");
    assert!(screen.contains("42"), "{screen}");
    assert!(
        screen.trim_end().ends_with("STATUS 4"),
        "attach ends with the container's status: {screen}"
    );
    let logs = t.ok(&["logs", "shell"]);
    assert!(
        logs.contains("42"),
        "what passed through the terminal is logged: {logs}"
    );
}

/// Waits (bounded) until `strata exec NAME cat FILE` shows `want`.
fn wait_for_file(t: &TestRoot, name: &str, file: &str, want: &str) {
    for _ in 0..100 {
        if t.run(&["exec", name, "cat", file]).stdout == want.as_bytes() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("{file} in {name} never became {want:?}");
}

#[test]
fn detach_keys_leave_the_container_running() {
    let t = TestRoot::new();
    let tar = t.path("busybox.tar");
    busybox_rootfs(&tar);
    t.ok(&["import", "-c", "CMD [\"sh\"]", tar.to_str().unwrap(), "busybox:tty"]);
    t.ok(&["run", "-dit", "--name", "shell", "busybox:tty"]);
    // ctrl-p ctrl-q, Docker's default: what was typed before reaches the shell, then
    // attach ends with Docker's message and status 1.
    let screen = drive(&t, &["attach", "shell"], "echo $((6*7)) >/tmp/one\\n\\x10\\x11");
    assert!(screen.contains("read escape sequence"), "{screen}");
    assert!(screen.trim_end().ends_with("STATUS 1"), "{screen}");
    wait_for_file(&t, "shell", "/tmp/one", "42\n");
    assert_eq!(t.ok(&["inspect", "-f", "{{.State.Running}}", "shell"]).trim(), "true");
    // Other keys: the shell still reads its terminal after the first detach.
    let screen = drive(
        &t,
        &["attach", "--detach-keys", "ctrl-a", "shell"],
        "echo $((7*8)) >/tmp/two\\n\\x01",
    );
    assert!(screen.trim_end().ends_with("STATUS 1"), "{screen}");
    wait_for_file(&t, "shell", "/tmp/two", "56\n");
    assert!(t
        .fails(&["attach", "--detach-keys", "ctrl-1", "shell"])
        .contains("invalid detach keys"));
    t.ok(&["rm", "-f", "shell"]);
    // `run -it` detaches the same way, silently and with status 0 (Docker's run); the
    // container goes on, its terminal output is logged, and attach takes it up again.
    let screen = drive(
        &t,
        &["run", "-it", "--rm", "--name", "foreground", "busybox:tty", "sh"],
        "echo $((6*7)) >/tmp/one; echo $((5*5))\\n\\x10\\x11",
    );
    assert!(screen.trim_end().ends_with("STATUS 0"), "{screen}");
    assert!(!screen.contains("read escape sequence"), "{screen}");
    wait_for_file(&t, "foreground", "/tmp/one", "42\n");
    assert_eq!(
        t.ok(&["inspect", "-f", "{{.State.Running}}", "foreground"]).trim(),
        "true"
    );
    let logged = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        t.ok(&["logs", "foreground"]).contains("25")
    });
    assert!(
        logged,
        "the terminal's output is logged: {}",
        t.ok(&["logs", "foreground"])
    );
    let screen = drive(&t, &["attach", "foreground"], "exit 3\\n");
    assert!(screen.trim_end().ends_with("STATUS 3"), "{screen}");
    // --rm: gone by the time attach returned the status.
    assert_eq!(t.ok(&["ps", "-aq"]), "");
    // `start -ai` of a created terminal container: the same session.
    t.ok(&["create", "-it", "--name", "later", "busybox:tty", "sh"]);
    let screen = drive(&t, &["start", "-ai", "later"], "stty size; echo $((3*3))x; exit 2\\n");
    assert!(screen.contains("30 100") && screen.contains("9x"), "{screen}");
    assert!(screen.trim_end().ends_with("STATUS 2"), "{screen}");
    t.ok(&["rm", "later"]);
}

#[test]
fn runc_gives_the_same_terminal_and_detached_containers() {
    let t = TestRoot::new();
    let tar = t.path("busybox.tar");
    busybox_rootfs(&tar);
    t.ok(&["import", "-c", "CMD [\"sh\"]", tar.to_str().unwrap(), "busybox:tty"]);
    // -it: runc makes the terminal and hands it over its console socket.
    let typed = "test -t 0 && echo INTERACTIVE; echo SID=$(cut -d' ' -f6 /proc/self/stat); echo $((6*7)); exit 6\\n";
    let screen = drive(
        &t,
        &["run", "-it", "--rm", "--runtime", "runc", "busybox:tty", "sh"],
        typed,
    );
    assert!(screen.contains("INTERACTIVE"), "{screen}");
    assert!(screen.contains("SID=1"), "{screen}");
    assert!(screen.contains("42"), "{screen}");
    assert!(screen.trim_end().ends_with("STATUS 6"), "{screen}");
    // -d: the container's own init is strata's to wait for, and exec joins it.
    t.ok(&[
        "run",
        "-d",
        "--name",
        "bg",
        "--runtime",
        "runc",
        "busybox:tty",
        "sleep",
        "600",
    ]);
    assert_eq!(t.ok(&["exec", "bg", "cat", "/proc/1/comm"]), "sleep\n");
    let pid = t.ok(&["inspect", "-f", "{{.State.Pid}}", "bg"]);
    let comm = std::fs::read_to_string(format!("/proc/{}/comm", pid.trim())).unwrap();
    assert_eq!(comm, "sleep\n", "the recorded PID is the container's, not runc's");
    t.ok(&["stop", "-t", "1", "bg"]);
    let status = t.ok(&["ps", "-a", "--format", "{{.Status}}", "--filter", "name=bg"]);
    // PID 1 without a handler ignores SIGTERM (as under Docker): SIGKILL after -t.
    assert!(status.starts_with("Exited (137)"), "{status}");
    let runc = std::process::Command::new("runc")
        .args(["list", "-q"])
        .output()
        .unwrap();
    let id = t.ok(&["inspect", "-f", "{{.Id}}", "bg"]);
    assert!(
        !String::from_utf8_lossy(&runc.stdout).contains(&format!("strata-{}", &id[..12])),
        "runc's state of the container is deleted after it exits"
    );
}
