//! `exec`: commands run in a running container as Docker's exec instances: each has an
//! ID and a stored state (`containers/<id>/execs/<exec>.json`: its options, whether it
//! runs, its exit code), is created, then started under a monitor of its own (the
//! container's monitor's code, serving the same attach protocol), which records the exit
//! whoever started it and whether that caller is still there.

use crate::attach::{ClientIo, Ended};
use crate::error::{Result, RuntimeError};
use crate::monitor::{Job, Launcher};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use strata_containers::{ContainerRecord, Containers};

/// Options of `exec` (Docker's exec create).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExecOptions {
    pub command: Vec<String>,
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    /// `-t`: the command gets its own pseudo-terminal.
    pub tty: bool,
    /// `-i`: the caller's input goes to the command (otherwise it reads nothing).
    pub interactive: bool,
    /// `--privileged`: the command gets every capability, as Docker's (which changes
    /// only the capabilities: the container's seccomp filter still applies, as runc
    /// applies it to every process it starts in the container, and its masked paths are
    /// in the mount namespace the command joins).
    #[serde(default)]
    pub privileged: bool,
}

/// An exec instance as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExecRecord {
    pub id: String,
    pub container_id: String,
    pub options: ExecOptions,
    pub running: bool,
    /// Set once it ended.
    pub exit_code: Option<i32>,
    /// The process the monitor waits for while it runs.
    pub pid: Option<i32>,
}

fn dir(containers: &Containers<'_>, container_id: &str) -> PathBuf {
    containers.dir(container_id).join("execs")
}

fn record_path(containers: &Containers<'_>, container_id: &str, exec_id: &str) -> PathBuf {
    dir(containers, container_id).join(format!("{exec_id}.json"))
}

/// Where an exec's monitor listens.
pub fn socket_path(containers: &Containers<'_>, container_id: &str, exec_id: &str) -> PathBuf {
    dir(containers, container_id).join(format!("{exec_id}.sock"))
}

/// Held by an exec's monitor for the exec's life.
pub(crate) fn lock_path(containers: &Containers<'_>, container_id: &str, exec_id: &str) -> PathBuf {
    dir(containers, container_id).join(format!("{exec_id}.lock"))
}

/// Docker's exec create: checks the container runs and the command, stores the exec.
pub fn create(containers: &Containers<'_>, record: &ContainerRecord, options: &ExecOptions) -> Result<ExecRecord> {
    crate::lifecycle::running_pid(containers, record)?;
    if options.command.is_empty() {
        return Err(RuntimeError::Start {
            code: 125,
            message: "exec needs a command to run".into(),
        });
    }
    let exec = ExecRecord {
        id: (0..4).map(|_| format!("{:016x}", rand::random::<u64>())).collect(),
        container_id: record.id.clone(),
        options: options.clone(),
        running: false,
        exit_code: None,
        pid: None,
    };
    let execs = dir(containers, &record.id);
    std::fs::create_dir_all(&execs).map_err(|e| RuntimeError::io(format!("creating {}", execs.display()), e))?;
    save(containers, &exec)?;
    let command = options.command.join(" ");
    containers.emit(
        record,
        &format!("exec_create: {command}"),
        &[("execID", exec.id.as_str())],
    );
    Ok(exec)
}

/// Writes the exec's record whole (a reader never sees half of one).
pub(crate) fn save(containers: &Containers<'_>, exec: &ExecRecord) -> Result<()> {
    let path = record_path(containers, &exec.container_id, &exec.id);
    let tmp = path.with_extension(format!("{:016x}.tmp", rand::random::<u64>()));
    let text = serde_json::to_vec(exec).expect("exec records serialize");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| RuntimeError::io(format!("writing {}", path.display()), e))
}

/// Kills a running exec's command (a health check past its timeout): the process its
/// waiter, outside the container's PID namespace, waits for.
pub(crate) fn kill(containers: &Containers<'_>, exec: &ExecRecord) {
    let Ok(current) = load(containers, &exec.container_id, &exec.id) else {
        return;
    };
    let Some(waiter) = current.pid else { return };
    let children = std::fs::read_to_string(format!("/proc/{waiter}/task/{waiter}/children")).unwrap_or_default();
    for pid in children.split_whitespace().filter_map(|p| p.parse::<i32>().ok()) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
    }
}

/// Forgets an exec that has ended (a health check's: Docker keeps none of them).
pub(crate) fn remove(containers: &Containers<'_>, exec: &ExecRecord) {
    for path in [
        record_path(containers, &exec.container_id, &exec.id),
        lock_path(containers, &exec.container_id, &exec.id),
        socket_path(containers, &exec.container_id, &exec.id),
    ] {
        let _ = std::fs::remove_file(path);
    }
}

/// An exec of a container, as stored.
pub fn load(containers: &Containers<'_>, container_id: &str, exec_id: &str) -> Result<ExecRecord> {
    let path = record_path(containers, container_id, exec_id);
    let text = std::fs::read(&path).map_err(|_| no_such_exec(exec_id))?;
    serde_json::from_slice(&text).map_err(|e| RuntimeError::Bundle {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

fn no_such_exec(exec_id: &str) -> RuntimeError {
    RuntimeError::Containers(strata_containers::ContainerError::NotFound(format!(
        "No such exec instance: {exec_id}"
    )))
}

/// Docker's exec inspect: the exec of that ID, in whichever container it is.
pub fn inspect(containers: &Containers<'_>, exec_id: &str) -> Result<ExecRecord> {
    if exec_id.is_empty() || !exec_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(no_such_exec(exec_id));
    }
    for record in containers.list()? {
        if record_path(containers, &record.id, exec_id).exists() {
            return load(containers, &record.id, exec_id);
        }
    }
    Err(no_such_exec(exec_id))
}

/// Starts the exec and streams it to `io` until it ends (its exit code) or the detach
/// keys are typed.
pub fn start_attached(
    containers: &Containers<'_>,
    exec: &ExecRecord,
    launcher: &dyn Launcher,
    mut io: ClientIo<'_>,
    keys: &crate::detach_keys::DetachKeys,
) -> Result<Ended> {
    let record = containers.resolve(&exec.container_id)?;
    let size = if exec.options.tty { (io.window)() } else { None };
    let attachment = crate::monitor::attach_and_start_job(containers, &record, Job::Exec(&exec.id), launcher, size)
        .map_err(|e| unless_ended(containers, &record, e))?;
    if !exec.options.interactive {
        io.input = None;
    }
    // An exec's input is handed over once (moby closes it at the client's end).
    let mode = crate::attach::Mode {
        tty: exec.options.tty,
        stdin_once: true,
    };
    attachment.session(mode, io, keys)
}

/// `exec -d`: starts the exec and returns once it runs.
pub fn start_detached(containers: &Containers<'_>, exec: &ExecRecord, launcher: &dyn Launcher) -> Result<()> {
    let record = containers.resolve(&exec.container_id)?;
    crate::monitor::spawn_job(containers, &record, Job::Exec(&exec.id), launcher)
        .map_err(|e| unless_ended(containers, &record, e))
}

/// An exec that failed to start because its container ended meanwhile (its namespaces
/// and cgroups went with it) failed for that reason: Docker's conflict, not an error
/// of strata's. A process on its way out has lost its namespaces before its monitor
/// records the exit: such a failure waits a moment for that record.
fn unless_ended(containers: &Containers<'_>, record: &ContainerRecord, e: RuntimeError) -> RuntimeError {
    if matches!(e, RuntimeError::Start { code: 126 | 127, .. }) {
        // The command's own failure (not executable, not found).
        return e;
    }
    let deadline = std::time::Instant::now() + ENDING;
    match crate::wait::wait_until(
        containers,
        record,
        crate::wait::WaitCondition::NotRunning,
        Some(deadline),
    ) {
        Ok(Some(_)) => RuntimeError::Containers(strata_containers::ContainerError::Conflict(format!(
            "Container {} is not running",
            record.id
        ))),
        _ => e,
    }
}

/// How long an exec's failed start waits for its container's exit to be recorded.
const ENDING: std::time::Duration = std::time::Duration::from_secs(5);

/// The exec's process spec: the container's, with the exec's command, environment
/// (`-e` over the container's), working directory and user, and with `--privileged`
/// every capability.
pub(crate) fn spec_for(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    options: &ExecOptions,
    pid: i32,
) -> Result<oci_spec::runtime::Spec> {
    let bundle = containers.dir(&record.id).join("config.json");
    let text =
        std::fs::read_to_string(&bundle).map_err(|e| RuntimeError::io(format!("reading {}", bundle.display()), e))?;
    let mut spec: oci_spec::runtime::Spec = serde_json::from_str(&text).map_err(|e| RuntimeError::Bundle {
        path: bundle.display().to_string(),
        reason: e.to_string(),
    })?;
    let mut process = spec.process().clone().unwrap_or_default();
    process.set_args(Some(options.command.clone()));
    let mut env = process.env().clone().unwrap_or_default();
    for e in &options.env {
        let key = e.split_once('=').map_or(e.as_str(), |(k, _)| k);
        env.retain(|x| x.split_once('=').map_or(x.as_str(), |(k, _)| k) != key);
        // A bare `NAME` unsets it (the front end fills in the caller's values).
        if e.contains('=') {
            env.push(e.clone());
        }
    }
    process.set_env(Some(env));
    process.set_terminal(Some(options.tty));
    if options.privileged {
        let all = crate::spec::all_capabilities();
        let mut capabilities = process.capabilities().clone().unwrap_or_default();
        capabilities.set_bounding(Some(all.clone()));
        capabilities.set_permitted(Some(all.clone()));
        capabilities.set_effective(Some(all.clone()));
        capabilities.set_inheritable(Some(all));
        capabilities.set_ambient(None);
        process.set_capabilities(Some(capabilities));
    }
    if let Some(w) = &options.workdir {
        process.set_cwd(w.into());
    }
    if let Some(u) = &options.user {
        // The container's own /etc/passwd, seen through its root.
        let user = crate::spec::resolve_user(Path::new(&format!("/proc/{pid}/root")), u)?;
        let mut spec_user = process.user().clone();
        spec_user.set_uid(user.uid);
        spec_user.set_gid(user.gid);
        spec_user.set_additional_gids(Some(user.additional_gids));
        process.set_user(spec_user);
    }
    spec.set_process(Some(process));
    Ok(spec)
}
