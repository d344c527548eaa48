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

/// Starts the container under a new monitor process (`exe __monitor ID`) and returns
/// once the container's program runs, or with the reason it could not start.
pub fn spawn(containers: &Containers<'_>, record: &ContainerRecord, exe: &Path) -> Result<()> {
    let mut report = launch(containers, record, exe, false)?;
    read_report(containers, record, &mut report)
}

/// `run -it`: a monitor that starts the container once this process is attached to it
/// (the terminal sized as the user's); returns the attached stream.
pub fn spawn_attached(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    exe: &Path,
) -> Result<std::os::unix::net::UnixStream> {
    let mut report = launch(containers, record, exe, true)?;
    // One write of fewer than PIPE_BUF bytes: it arrives whole.
    let mut head = [0u8; LISTENING.len()];
    let n = report.read(&mut head).unwrap_or(0);
    if head[..n] != LISTENING[..] {
        // Not "listening": the reason it could not start, already begun.
        let mut text = String::from_utf8_lossy(&head[..n]).into_owned();
        let _ = report.read_to_string(&mut text);
        parse_report(containers, record, &text)?;
        return Err(ended_early(containers, record));
    }
    let path = attach::socket_path(containers, &record.id);
    let mut stream =
        attach::connect(&path).map_err(|e| RuntimeError::io(format!("attaching to {}", path.display()), e))?;
    attach::send_window_size(&mut stream);
    read_report(containers, record, &mut report)?;
    Ok(stream)
}

/// What a monitor started with `attach_first` says once its socket listens.
const LISTENING: &[u8; 10] = b"listening\n";

/// Spawns `exe __monitor ID`; returns the read end of its report pipe.
fn launch(containers: &Containers<'_>, record: &ContainerRecord, exe: &Path, attach_first: bool) -> Result<File> {
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
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    let raw = std::os::fd::AsRawFd::as_raw_fd(&ready_w);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::setsid();
            if libc::dup2(raw, READY_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn()
        .map_err(|e| RuntimeError::io(format!("starting the monitor {}", exe.display()), e))?;
    drop(ready_w);
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

/// The monitor's body (`strata __monitor ID [--attach-first]`).
pub fn run(containers: &Containers<'_>, id: &str, attach_first: bool) -> Result<()> {
    // SAFETY: fd 3 was set up by `spawn` for this process alone.
    let mut ready = Some(unsafe { File::from(OwnedFd::from_raw_fd(READY_FD)) });
    let record = containers.resolve(id)?;
    let _supervisor = crate::lifecycle::supervise(containers, id);
    let config = containers.config(&record)?;
    let policy = RestartPolicy::parse(config.restart.as_deref().unwrap_or("no"))?;
    let _ = std::fs::remove_file(stop_marker(containers, id));
    let socket = attach::socket_path(containers, id);
    let listener = attach::listen(&socket)?;
    let mut log = JsonLog::open(&log_path(containers, &record.id))?;
    let (mut first, size) = match (attach_first, ready.as_mut()) {
        (true, Some(report)) => {
            let (client, size) = wait_for_client(&listener, report)?;
            (vec![client], size)
        }
        _ => (Vec::new(), None),
    };
    let mut restarts = 0u32;
    record_restarts(containers, id, restarts);
    loop {
        let (started, io) = start_io(containers, &record, &config, size)?;
        let started = match (started, ready.take()) {
            (Ok(s), Some(mut r)) => {
                let _ = r.write_all(b"ok\n");
                s
            }
            (Ok(s), None) => s,
            (Err(e), Some(mut r)) => {
                let _ = write!(r, "{}\n{e}", e.exit_code());
                return Err(e);
            }
            (Err(e), None) => return Err(e),
        };
        let served = attach::serve(io, &listener, &mut log, std::mem::take(&mut first));
        let code = linux::wait(started.pid);
        finish(containers, &record, code.as_ref().ok().copied())?;
        let stopped_by_user = stop_marker(containers, id).exists();
        let again = !stopped_by_user && policy.restarts(code.as_ref().copied().unwrap_or(255), restarts);
        let mut removed = Ok(());
        if !again {
            // No one may attach to what has ended.
            let _ = std::fs::remove_file(&socket);
            // `--rm`: gone before an attached `run` hears the exit and returns.
            if config.auto_remove {
                removed = containers.remove(&record, true);
            }
        }
        attach::send_exit(served?, code.as_ref().copied().unwrap_or(255));
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

/// Says "listening" to the launcher and waits for it to attach; its client and the
/// terminal size it sent. A launcher that never comes is reported on the way out.
fn wait_for_client(
    listener: &std::os::unix::net::UnixListener,
    ready: &mut File,
) -> Result<(attach::Client, Option<linux::tty::WindowSize>)> {
    let _ = ready.write_all(LISTENING);
    attach::accept_first(listener, std::time::Duration::from_secs(30)).inspect_err(|e| {
        let _ = write!(ready, "125\n{e}");
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
            Err(e) => {
                let io = attach::ContainerIo {
                    outputs: Vec::new(),
                    input: None,
                    tty: true,
                };
                return Ok((Err(e), io));
            }
        };
        let master = File::from(master);
        let reader = master.try_clone().map_err(|e| RuntimeError::io("dup", e))?;
        let io = attach::ContainerIo {
            outputs: vec![(1, reader)],
            input: Some(master),
            tty: true,
        };
        return Ok((started, io));
    }
    let pipe = || nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| RuntimeError::Sys("pipe", e));
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    // Without `-i` the container reads /dev/null.
    let (in_r, input) = if config.interactive {
        let (in_r, in_w) = pipe()?;
        (in_r, Some(File::from(in_w)))
    } else {
        let null = File::open("/dev/null").map_err(|e| RuntimeError::io("/dev/null", e))?;
        (OwnedFd::from(null), None)
    };
    let started = crate::lifecycle::start_with_fds(containers, &fresh, [in_r.as_fd(), out_w.as_fd(), err_w.as_fd()]);
    // From here only the container holds the write ends: EOF means it is done.
    drop((in_r, out_w, err_w));
    let io = attach::ContainerIo {
        outputs: vec![(1, File::from(out_r)), (2, File::from(err_r))],
        input,
        tty: false,
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
struct JsonLog {
    file: File,
    partial: [Vec<u8>; 3],
}

impl JsonLog {
    fn open(path: &Path) -> Result<JsonLog> {
        let file = File::options()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| RuntimeError::io(format!("opening {}", path.display()), e))?;
        Ok(JsonLog {
            file,
            partial: Default::default(),
        })
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
        let partial = &mut self.partial[stream as usize % 3];
        partial.extend_from_slice(bytes);
        while let Some(pos) = partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = partial.drain(..=pos).collect();
            write_record(&mut self.file, stream_name(stream), &line)?;
        }
        Ok(())
    }

    fn ended(&mut self, stream: u8) -> Result<()> {
        let rest = std::mem::take(&mut self.partial[stream as usize % 3]);
        if rest.is_empty() {
            return Ok(());
        }
        write_record(&mut self.file, stream_name(stream), &rest)
    }
}

fn write_record(log: &mut File, stream: &str, line: &[u8]) -> Result<()> {
    let record = serde_json::json!({
        "log": String::from_utf8_lossy(line),
        "stream": stream,
        "time": strata_images::config::timestamp_now(),
    });
    writeln!(log, "{record}").map_err(|e| RuntimeError::io("writing the container log", e))
}
