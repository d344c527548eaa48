//! The monitor of a detached container (podman's conmon, in strata's own binary): it
//! owns the container's stdout and stderr, writes them to a log in Docker's json-file
//! format, waits for the exit, records it, unmounts, and removes `--rm` containers. It
//! runs in its own session, so it outlives the command that started it. `run -it` uses
//! one too, attached from the start, so that the detach keys can leave the container
//! running.

use crate::attach;
use crate::error::{Result, RuntimeError};
use crate::lifecycle::finish;
use crate::linux;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use strata_containers::{ContainerRecord, Containers};

/// The fd number on which a monitor reports "started" (or why not) to its launcher.
const READY_FD: i32 = 3;

/// Docker's json-file log of a container.
pub fn log_path(containers: &Containers<'_>, id: &str) -> PathBuf {
    containers.dir(id).join(format!("{id}-json.log"))
}

/// How a container's monitor process comes to be. The monitor runs [`run`] with its
/// report pipe on fd 3 and `/dev/null` on fds 0–2, in a session of its own, so that it
/// outlives whoever launched it; the launcher returns the report pipe's read end.
pub trait Launcher {
    fn launch(
        &self,
        containers: &Containers<'_>,
        record: &ContainerRecord,
        job: Job<'_>,
        attach_first: bool,
    ) -> Result<File>;

    /// Whether `launch` forks the calling process, which must then have one thread: no
    /// `cgroup_warmup::Warmup` thread is started around its starts (such a launcher's
    /// caller takes the wait its own way).
    fn forks_caller(&self) -> bool {
        false
    }
}

/// A container's start: its cgroup move waited out meanwhile, where the launcher allows
/// a thread. Not an exec's (a health check's run in the container's monitor, beside
/// its other threads, every interval).
fn warmup_for(job: Job<'_>, launcher: &dyn Launcher) -> Option<crate::cgroup_warmup::Warmup> {
    (job == Job::Container && !launcher.forks_caller())
        .then(crate::cgroup_warmup::Warmup::begin)
        .flatten()
}

/// What a monitor looks after: the container itself, or one of its execs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job<'a> {
    Container,
    Exec(&'a str),
}

impl Job<'_> {
    fn socket(&self, containers: &Containers<'_>, record: &ContainerRecord) -> PathBuf {
        match self {
            Job::Container => attach::socket_path(containers, &record.id),
            Job::Exec(exec) => crate::exec::socket_path(containers, &record.id, exec),
        }
    }
}

/// The launcher any caller may use, a multi-threaded one too: strata's binary run
/// again (`exe --root ROOT __monitor ID`).
pub struct Exec<'a>(pub &'a Path);

impl Launcher for Exec<'_> {
    fn launch(
        &self,
        containers: &Containers<'_>,
        record: &ContainerRecord,
        job: Job<'_>,
        attach_first: bool,
    ) -> Result<File> {
        launch(containers, record, self.0, job, attach_first)
    }
}

/// Starts the container under its monitor and returns once its program runs, or with
/// the reason it could not start: the monitor clients are attached to, waiting for the
/// start, or a new one.
pub fn spawn(containers: &Containers<'_>, record: &ContainerRecord, launcher: &dyn Launcher) -> Result<()> {
    spawn_job(containers, record, Job::Container, launcher)
}

/// [`spawn`] for a container or one of its execs.
pub(crate) fn spawn_job(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    job: Job<'_>,
    launcher: &dyn Launcher,
) -> Result<()> {
    let _warmup = warmup_for(job, launcher);
    if let Ok(mut stream) = attach::connect(&job.socket(containers, record)) {
        attach::send_hello(&mut stream, None);
        if attach::request_start(&mut stream)?.is_some() {
            return Ok(());
        }
    }
    let mut report = launcher.launch(containers, record, job, false)?;
    read_report(containers, record, &mut report)
}

/// Attaches to the container's monitor (launched, holding the start back, if none runs)
/// and has it start the container, its terminal (`-t`) of `size`; nothing the container
/// prints is missed.
pub fn attach_and_start(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    launcher: &dyn Launcher,
    size: Option<linux::tty::WindowSize>,
) -> Result<attach::Attachment> {
    attach_and_start_job(containers, record, Job::Container, launcher, size)
}

/// [`attach_and_start`] for a container or one of its execs.
pub(crate) fn attach_and_start_job(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    job: Job<'_>,
    launcher: &dyn Launcher,
    size: Option<linux::tty::WindowSize>,
) -> Result<attach::Attachment> {
    let _warmup = warmup_for(job, launcher);
    for _ in 0..3 {
        let mut stream = connect_or_launch(containers, record, job, launcher)?;
        attach::send_hello(&mut stream, size);
        if let Some((pending, pid)) = attach::request_start(&mut stream)? {
            return Ok(attach::Attachment {
                stream,
                pending,
                pid: Some(pid),
            });
        }
    }
    Err(ended_early(containers, record))
}

/// Attaches to the container's monitor without starting it (Docker's attach before
/// start): a running container's, or a new monitor that holds the start back until a
/// client asks ([`spawn`], [`attach_and_start`]) and gives every client attached by
/// then all of the output. Its terminal (`-t`) starts at the last `size` a client sent.
pub fn attach_waiting(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    launcher: &dyn Launcher,
    size: Option<linux::tty::WindowSize>,
) -> Result<attach::Attachment> {
    let mut stream = connect_or_launch(containers, record, Job::Container, launcher)?;
    attach::send_hello(&mut stream, size);
    Ok(attach::Attachment {
        stream,
        pending: Vec::new(),
        pid: None,
    })
}

/// A connection to the container's monitor; a new monitor that waits for a start if
/// none listens. Two callers may race to launch one: the loser's monitor finds the
/// container looked after ("busy") and the caller connects to the winner's.
fn connect_or_launch(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    job: Job<'_>,
    launcher: &dyn Launcher,
) -> Result<std::os::unix::net::UnixStream> {
    let path = job.socket(containers, record);
    let connecting = |e| RuntimeError::io(format!("attaching to {}", path.display()), e);
    for _ in 0..5 {
        if let Ok(stream) = attach::connect(&path) {
            return Ok(stream);
        }
        let mut report = launcher.launch(containers, record, job, true)?;
        // The monitor closes the pipe once it listens (or has said why it cannot).
        let mut text = String::new();
        let _ = report.read_to_string(&mut text);
        match text.as_bytes() {
            t if t == LISTENING => return attach::connect(&path).map_err(connecting),
            t if t == BUSY => std::thread::sleep(std::time::Duration::from_millis(50)),
            _ => {
                parse_report(containers, record, &text)?;
                return Err(ended_early(containers, record));
            }
        }
    }
    Err(RuntimeError::Unsupported(format!(
        "container {} is being looked after by another process that does not answer at {}",
        record.name,
        path.display()
    )))
}

/// What a monitor started with `attach_first` says once its socket listens.
const LISTENING: &[u8; 10] = b"listening\n";
/// What a monitor says when another already looks after the container.
const BUSY: &[u8; 5] = b"busy\n";

/// Spawns `exe __monitor ID`; returns the read end of its report pipe.
fn launch(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    exe: &Path,
    job: Job<'_>,
    attach_first: bool,
) -> Result<File> {
    let (ready_r, ready_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| RuntimeError::Sys("pipe", e))?;
    let mut cmd = Command::new(exe);
    cmd.arg("--root")
        .arg(containers.store().root())
        .arg("__monitor")
        .arg(&record.id);
    if attach_first {
        cmd.arg("--attach-first");
    }
    if let Job::Exec(exec) = job {
        cmd.arg("--exec").arg(exec);
    }
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    let raw = std::os::fd::AsRawFd::as_raw_fd(&ready_w);
    // SAFETY: only async-signal-safe calls between fork and exec (fork and _exit too).
    unsafe {
        cmd.pre_exec(move || {
            libc::setsid();
            if libc::dup2(raw, READY_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The monitor outlives the caller's interest in it: it is not the caller's
            // child (a long-lived caller would gather zombies), but its child's, which
            // ends here at once; the monitor goes on to exec.
            match libc::fork() {
                0 => Ok(()),
                -1 => Err(std::io::Error::last_os_error()),
                _ => libc::_exit(0),
            }
        });
    }
    let mut intermediate = cmd
        .spawn()
        .map_err(|e| RuntimeError::io(format!("starting the monitor {}", exe.display()), e))?;
    drop(ready_w);
    let _ = intermediate.wait();
    Ok(File::from(ready_r))
}

/// The monitor's "ok", or the code and reason its container could not start.
fn read_report(containers: &Containers<'_>, record: &ContainerRecord, pipe: &mut File) -> Result<()> {
    let mut report = String::new();
    let _ = pipe.read_to_string(&mut report);
    parse_report(containers, record, &report)
}

fn ended_early(containers: &Containers<'_>, record: &ContainerRecord) -> RuntimeError {
    RuntimeError::Unsupported(format!(
        "the monitor of container {} ended before starting it; see {}",
        record.name,
        log_path(containers, &record.id).display()
    ))
}

fn parse_report(containers: &Containers<'_>, record: &ContainerRecord, report: &str) -> Result<()> {
    match report.split_once('\n') {
        Some(("ok", _)) => Ok(()),
        Some((code, message)) => Err(RuntimeError::Start {
            code: code.parse().unwrap_or(125),
            message: message.to_string(),
        }),
        None => Err(ended_early(containers, record)),
    }
}

/// Listens on `socket`; with `wait_for_start`, says "listening" to the launcher and
/// serves clients until one asks for the start. `None`: none came, or all left first
/// (the socket is gone, and the monitor ends).
fn listen_for_clients(
    socket: &Path,
    wait_for_start: bool,
    ready: &mut Option<File>,
) -> Result<Option<(std::os::unix::net::UnixListener, Option<attach::Gathered>)>> {
    let listener = attach::listen(socket)?;
    if !wait_for_start {
        return Ok(Some((listener, None)));
    }
    let _ = ready.take().map(|mut r| r.write_all(LISTENING));
    match attach::gather(&listener, std::time::Duration::from_secs(30))? {
        Some(gathered) => Ok(Some((listener, Some(gathered)))),
        None => {
            let _ = std::fs::remove_file(socket);
            Ok(None)
        }
    }
}

/// Tells whoever asked for the start how it went: the clients that asked, and the
/// launcher's report pipe while it is open.
fn announce(started: &Result<linux::Started>, gathered: Option<&mut attach::Gathered>, ready: Option<File>) {
    let outcome = started
        .as_ref()
        .map(|s| s.pid)
        .map_err(|e| (e.exit_code(), e.to_string()));
    if let Some(g) = gathered {
        g.answer_start(&outcome);
    }
    if let Some(mut report) = ready {
        let _ = match &outcome {
            Ok(_) => report.write_all(b"ok\n"),
            Err((code, message)) => write!(report, "{code}\n{message}"),
        };
    }
}

/// A monitor's body, for its job (`strata __monitor ID [--exec EXEC]
/// [--attach-first]`), its report pipe on fd 3: why it could not begin goes there.
/// `checks` launches the monitors of a container's health checks (execs).
pub fn run_job(
    containers: &Containers<'_>,
    id: &str,
    job: Job<'_>,
    wait_for_start: bool,
    checks: &(dyn Launcher + Sync),
) -> Result<()> {
    // SAFETY: fd 3 was set up by the launcher for this process alone.
    let mut ready = Some(unsafe { File::from(OwnedFd::from_raw_fd(READY_FD)) });
    let outcome = match job {
        Job::Container => run(containers, id, wait_for_start, &mut ready, checks),
        Job::Exec(exec) => run_exec(containers, id, exec, wait_for_start, &mut ready),
    };
    if let (Err(e), Some(mut report)) = (&outcome, ready) {
        let _ = write!(report, "{}\n{e}", e.exit_code());
    }
    outcome
}

/// The monitor's body (`strata __monitor ID [--attach-first]`). With `wait_for_start`
/// it says "listening" and serves clients (any number) until one asks for the start;
/// it ends, leaving the container as it is, if none comes within 30 s or all leave.
fn run(
    containers: &Containers<'_>,
    id: &str,
    wait_for_start: bool,
    ready: &mut Option<File>,
    checks: &(dyn Launcher + Sync),
) -> Result<()> {
    let record = containers.resolve(id)?;
    let _supervisor = if wait_for_start {
        let Some(lock) = crate::lifecycle::try_supervise(containers, id) else {
            let _ = ready.take().map(|mut r| r.write_all(BUSY));
            return Ok(());
        };
        Some(lock)
    } else {
        crate::lifecycle::supervise(containers, id)
    };
    let config = containers.config(&record)?;
    // Checked now; read again at each exit (`update --restart` changes it meanwhile).
    RestartPolicy::parse(config.restart.as_deref().unwrap_or("no"))?;
    let _ = std::fs::remove_file(stop_marker(containers, id));
    let socket = attach::socket_path(containers, id);
    let Some((listener, mut gathered)) = listen_for_clients(&socket, wait_for_start, ready)? else {
        return Ok(());
    };
    let size = gathered.as_ref().and_then(|g| g.size);
    let mut log = JsonLog::open(&log_path(containers, &record.id), &config.log)?;
    let mut restarts = 0u32;
    // A count left by an earlier run of the container; none means 0.
    let _ = std::fs::remove_file(containers.dir(id).join("restart-count"));
    loop {
        // Whatever keeps it from starting (the container removed meanwhile) is the
        // start's answer.
        let (started, io) = start_io(containers, &record, &config, size).unwrap_or_else(|e| (Err(e), no_io()));
        announce(&started, gathered.as_mut(), ready.take());
        let started = match started {
            Ok(s) => s,
            Err(e) => {
                let _ = std::fs::remove_file(&socket);
                return Err(e);
            }
        };
        let clients = gathered.take().map(|g| g.clients).unwrap_or_default();
        // Its health checks run beside it, and end with it; nothing forks in here
        // meanwhile (the next start comes after they have).
        let stop = crate::health::Stop::default();
        let (served, code) = std::thread::scope(|s| {
            if let Some(check) = &config.healthcheck {
                s.spawn(|| crate::health::run_checks(containers, &record, check, checks, &stop));
            }
            let served = attach::serve(io, started.pid, &listener, &mut log, clients);
            let code = linux::wait(started.pid);
            stop.stop();
            (served, code)
        });
        finish(containers, &record, code.as_ref().ok().copied())?;
        let stopped_by_user = stop_marker(containers, id).exists();
        let restart = containers
            .resolve(id)
            .and_then(|fresh| containers.config(&fresh))
            .ok()
            .and_then(|c| c.restart)
            .unwrap_or_default();
        let policy = RestartPolicy::parse(if restart.is_empty() { "no" } else { &restart })?;
        let code = code.as_ref().copied().unwrap_or(255);
        let again = !stopped_by_user && policy.restarts(code, restarts);
        let mut removed = Ok(());
        let mut served = Some(served?);
        let mut tell = || {
            if let Some(clients) = served.take() {
                attach::send_exit(clients, code);
            }
        };
        if !again {
            // No one may attach to what has ended.
            let _ = std::fs::remove_file(&socket);
            // `--rm`: gone before an attached `run` hears the exit and returns.
            if config.auto_remove {
                removed = containers.remove_then(&record, true, &mut tell);
            }
        }
        tell();
        if !again {
            removed?;
            break;
        }
        restarts += 1;
        record_restarts(containers, id, restarts);
        // Docker's back-off: 100 ms, doubling, at most 1 s here.
        std::thread::sleep(std::time::Duration::from_millis((100u64 << restarts.min(4)).min(1000)));
    }
    Ok(())
}

/// The body of an exec's monitor (`strata __monitor ID --exec EXEC`): as a container's
/// ([`run`]), for one exec: it starts the command when asked, serves its clients,
/// records it running, then its exit code. Nothing is logged (as Docker's execs).
fn run_exec(
    containers: &Containers<'_>,
    id: &str,
    exec_id: &str,
    wait_for_start: bool,
    ready: &mut Option<File>,
) -> Result<()> {
    let record = containers.resolve(id)?;
    let mut exec = crate::exec::load(containers, id, exec_id)?;
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(crate::exec::lock_path(containers, id, exec_id))
        .map_err(|e| RuntimeError::io("creating the exec's lock", e))?;
    let Ok(_lock) = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusiveNonblock) else {
        let _ = ready.take().map(|mut r| r.write_all(BUSY));
        return Ok(());
    };
    if exec.running || exec.exit_code.is_some() {
        return Err(RuntimeError::Invalid(format!(
            "exec {exec_id} has already been started"
        )));
    }
    let socket = crate::exec::socket_path(containers, id, exec_id);
    let Some((listener, mut gathered)) = listen_for_clients(&socket, wait_for_start, ready)? else {
        return Ok(());
    };
    let size = gathered.as_ref().and_then(|g| g.size);
    // Whatever keeps the command from starting (its user unknown, the container gone)
    // is the start's answer.
    let (started, io) = exec_io(containers, &record, &exec, size).unwrap_or_else(|e| (Err(e), no_io()));
    announce(&started, gathered.as_mut(), ready.take());
    let command = exec.options.command.join(" ");
    let events = [("execID", exec_id)];
    let started = match started {
        Ok(s) => s,
        Err(e) => {
            let _ = std::fs::remove_file(&socket);
            exec.exit_code = Some(e.exit_code());
            crate::exec::save(containers, &exec)?;
            return Err(e);
        }
    };
    exec.running = true;
    exec.pid = Some(started.pid);
    crate::exec::save(containers, &exec)?;
    containers.emit(&record, &format!("exec_start: {command}"), &events);
    let clients = gathered.take().map(|g| g.clients).unwrap_or_default();
    let served = attach::serve(io, started.pid, &listener, &mut NoLog, clients);
    let code = linux::wait(started.pid).unwrap_or(255);
    exec.running = false;
    exec.exit_code = Some(code);
    exec.pid = None;
    let saved = crate::exec::save(containers, &exec);
    containers.emit(&record, "exec_die", &[events[0], ("exitCode", &code.to_string())]);
    let _ = std::fs::remove_file(&socket);
    attach::send_exit(served?, code);
    saved
}

/// An exec's output goes to its clients only.
struct NoLog;

impl attach::OutputSink for NoLog {
    fn output(&mut self, _: u8, _: &[u8]) -> Result<()> {
        Ok(())
    }

    fn ended(&mut self, _: u8) -> Result<()> {
        Ok(())
    }
}

/// Starts the exec's command with its output on fresh pipes (or a terminal with `-t`),
/// and with `-i` its input on a pipe.
fn exec_io(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    exec: &crate::exec::ExecRecord,
    size: Option<linux::tty::WindowSize>,
) -> Result<(Result<linux::Started>, attach::ContainerIo)> {
    let pid = crate::lifecycle::running_pid(containers, record)?;
    let spec = crate::exec::spec_for(containers, record, &exec.options, pid)?;
    let config = containers.config(record)?;
    let cgroup = crate::cgroups::Cgroup::of(record);
    let join = |p: i32| {
        if config.runtime.as_deref() == Some("runc") {
            crate::cgroups::join_groups_of(pid, p)
        } else {
            cgroup.add(p)
        }
    };
    if exec.options.tty {
        let console = linux::tty::Console::new()?;
        let started = match linux::exec(pid, &spec, linux::Stdio::Terminal(console.theirs()), &join) {
            Ok(started) => started,
            Err(e) => return Ok((Err(e), no_io())),
        };
        return on_terminal(Ok(started), console.receive(size)?);
    }
    on_pipes(exec.options.interactive, false, |fds| {
        linux::exec(pid, &spec, linux::Stdio::Fds(fds), &join)
    })
}

/// Starts the container with its output on fresh pipes (or a terminal with `-t`), and
/// with `-i` its input on a pipe the monitor keeps open for `attach`.
fn start_io(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    config: &strata_containers::ContainerConfig,
    size: Option<crate::linux::tty::WindowSize>,
) -> Result<(Result<linux::Started>, attach::ContainerIo)> {
    let fresh = containers.resolve(&record.id)?;
    if config.tty {
        let (started, master) = match crate::lifecycle::start_on_terminal(containers, &fresh, size) {
            Ok((s, m)) => (Ok(s), m),
            // Nothing to serve: the monitor reports the error and ends.
            Err(e) => return Ok((Err(e), no_io())),
        };
        return on_terminal(started, master);
    }
    on_pipes(config.interactive, config.merged_output, |fds| {
        crate::lifecycle::start_with_fds(containers, &fresh, fds)
    })
}

/// Starts a process (`start`, given its standard descriptors) with its output on fresh
/// pipes (stdout and stderr on one when `merged`) and, when `interactive`, its input on
/// a pipe the monitor keeps; otherwise it reads /dev/null.
fn on_pipes(
    interactive: bool,
    merged: bool,
    start: impl FnOnce([std::os::fd::BorrowedFd<'_>; 3]) -> Result<linux::Started>,
) -> Result<(Result<linux::Started>, attach::ContainerIo)> {
    let pipe = || nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| RuntimeError::Sys("pipe", e));
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = if merged {
        (None, out_w.try_clone().map_err(|e| RuntimeError::io("dup", e))?)
    } else {
        let (r, w) = pipe()?;
        (Some(r), w)
    };
    let (in_r, input) = if interactive {
        let (in_r, in_w) = pipe()?;
        (in_r, Some(File::from(in_w)))
    } else {
        let null = File::open("/dev/null").map_err(|e| RuntimeError::io("/dev/null", e))?;
        (OwnedFd::from(null), None)
    };
    let started = start([in_r.as_fd(), out_w.as_fd(), err_w.as_fd()]);
    // From here only the process holds the write ends: EOF means it is done.
    drop((in_r, out_w, err_w));
    let io = attach::ContainerIo {
        outputs: std::iter::once((1, File::from(out_r)))
            .chain(err_r.map(|r| (2, File::from(r))))
            .collect(),
        input,
        tty: false,
    };
    Ok((started, io))
}

/// Nothing to serve: a process that did not start.
fn no_io() -> attach::ContainerIo {
    attach::ContainerIo {
        outputs: Vec::new(),
        input: None,
        tty: false,
    }
}

/// A process on a terminal: its output and input are the terminal's master end.
fn on_terminal(
    started: Result<linux::Started>,
    master: OwnedFd,
) -> Result<(Result<linux::Started>, attach::ContainerIo)> {
    let master = File::from(master);
    let reader = master.try_clone().map_err(|e| RuntimeError::io("dup", e))?;
    let io = attach::ContainerIo {
        outputs: vec![(1, reader)],
        input: Some(master),
        tty: true,
    };
    Ok((started, io))
}

/// How many times the monitor restarted the container since it was started (inspect's
/// `RestartCount`); written by the monitor, atomically.
pub fn restart_count(containers: &Containers<'_>, id: &str) -> u32 {
    std::fs::read_to_string(containers.dir(id).join("restart-count"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

fn record_restarts(containers: &Containers<'_>, id: &str, n: u32) {
    let dir = containers.dir(id);
    let tmp = dir.join(".restart-count.tmp");
    if std::fs::write(&tmp, n.to_string()).is_ok() {
        let _ = std::fs::rename(&tmp, dir.join("restart-count"));
    }
}

/// Written by `stop`, `kill` and `rm -f`: the monitor must not restart the container.
pub fn stop_marker(containers: &Containers<'_>, id: &str) -> PathBuf {
    containers.dir(id).join("stopped-by-user")
}

/// `--restart no|always|unless-stopped|on-failure[:N]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartPolicy {
    No,
    Always,
    OnFailure(Option<u32>),
}

impl RestartPolicy {
    pub fn parse(s: &str) -> Result<Self> {
        let bad = || RuntimeError::Start {
            code: 125,
            message: format!("invalid restart policy {s:?}: use no, always, unless-stopped or on-failure[:N]"),
        };
        Ok(match s.split_once(':') {
            None if s == "no" || s.is_empty() => RestartPolicy::No,
            None if s == "always" || s == "unless-stopped" => RestartPolicy::Always,
            None if s == "on-failure" => RestartPolicy::OnFailure(None),
            Some(("on-failure", n)) => RestartPolicy::OnFailure(Some(n.parse().map_err(|_| bad())?)),
            _ => return Err(bad()),
        })
    }

    fn restarts(self, code: i32, done: u32) -> bool {
        match self {
            RestartPolicy::No => false,
            RestartPolicy::Always => true,
            RestartPolicy::OnFailure(limit) => code != 0 && limit.is_none_or(|n| done < n),
        }
    }
}

/// Docker's json-file log: one record per line of output, per stream.
/// The container's log in Docker's json-file format, rotated at `max-size` into
/// `LOG.1` … `LOG.(max-file - 1)` (the oldest dropped); no file with the `none` driver.
struct JsonLog {
    /// `None`: the `none` driver.
    file: Option<File>,
    path: PathBuf,
    written: u64,
    config: strata_containers::log_config::LogConfig,
    partial: [Vec<u8>; 3],
}

impl JsonLog {
    fn open(path: &Path, config: &strata_containers::log_config::LogConfig) -> Result<JsonLog> {
        let file = match config.keeps_logs() {
            true => Some(Self::open_file(path)?),
            false => None,
        };
        let written = file.as_ref().and_then(|f| f.metadata().ok()).map_or(0, |m| m.len());
        Ok(JsonLog {
            file,
            path: path.to_path_buf(),
            written,
            config: config.clone(),
            partial: Default::default(),
        })
    }

    fn open_file(path: &Path) -> Result<File> {
        File::options()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| RuntimeError::io(format!("opening {}", path.display()), e))
    }

    fn write(&mut self, stream: u8, line: &[u8]) -> Result<()> {
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        self.written += write_record(file, stream_name(stream), line)?;
        if self.config.max_size.is_some_and(|max| self.written >= max) {
            self.rotate()?;
        }
        Ok(())
    }

    /// The full log becomes `.1` (the others move up, the oldest goes); a new one
    /// begins. With one file kept, the log starts over.
    fn rotate(&mut self) -> Result<()> {
        let keep = self.config.files();
        let numbered = |n: u32| PathBuf::from(format!("{}.{n}", self.path.display()));
        if keep > 1 {
            let _ = std::fs::remove_file(numbered(keep - 1));
            for n in (1..keep - 1).rev() {
                let _ = std::fs::rename(numbered(n), numbered(n + 1));
            }
            std::fs::rename(&self.path, numbered(1))
                .map_err(|e| RuntimeError::io(format!("rotating {}", self.path.display()), e))?;
        } else {
            std::fs::remove_file(&self.path)
                .map_err(|e| RuntimeError::io(format!("rotating {}", self.path.display()), e))?;
        }
        self.file = Some(Self::open_file(&self.path)?);
        self.written = 0;
        Ok(())
    }
}

fn stream_name(stream: u8) -> &'static str {
    if stream == 2 {
        "stderr"
    } else {
        "stdout"
    }
}

impl attach::OutputSink for JsonLog {
    fn output(&mut self, stream: u8, bytes: &[u8]) -> Result<()> {
        let slot = stream as usize % 3;
        self.partial[slot].extend_from_slice(bytes);
        while let Some(pos) = self.partial[slot].iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial[slot].drain(..=pos).collect();
            self.write(stream, &line)?;
        }
        Ok(())
    }

    fn ended(&mut self, stream: u8) -> Result<()> {
        let rest = std::mem::take(&mut self.partial[stream as usize % 3]);
        if rest.is_empty() {
            return Ok(());
        }
        self.write(stream, &rest)
    }
}

/// Appends one record; its size in bytes.
fn write_record(log: &mut File, stream: &str, line: &[u8]) -> Result<u64> {
    let record = serde_json::json!({
        "log": String::from_utf8_lossy(line),
        "stream": stream,
        "time": strata_images::config::timestamp_now(),
    });
    let mut text = record.to_string();
    text.push('\n');
    log.write_all(text.as_bytes())
        .map_err(|e| RuntimeError::io("writing the container log", e))?;
    Ok(text.len() as u64)
}
