//! Container lifecycle on strata's runtime: mount the root, write the bundle, start the
//! process, wait, record the outcome, unmount.

use crate::error::{Result, RuntimeError};
use crate::linux;
use crate::rootfs::{is_mounted, mount_all, unmount};
use crate::spec::{build, resolve_user};
use nix::sys::signal::Signal;
use std::path::Path;
use strata_containers::busy::Claim;
use strata_containers::{ContainerRecord, ContainerState, Containers, CreateOptions};

/// `run -d`: creates the container and starts it under a new monitor; held against
/// removal (`prune`) until it runs. Returns the container, or why it did not start (the
/// container stays, as Docker's).
/// `created` hears of the container as soon as it exists (`--cidfile`), before the start.
pub fn run_detached(
    containers: &Containers<'_>,
    opts: &CreateOptions,
    launcher: &dyn crate::monitor::Launcher,
    created: &mut dyn FnMut(&ContainerRecord),
) -> Result<ContainerRecord> {
    let (record, _held) = containers.create_held(opts)?;
    created(&record);
    crate::monitor::spawn(containers, &record, launcher)?;
    Ok(record)
}

/// How an attached `run` or `start -a` goes: who launches the monitor, the caller's
/// input and output, the detach keys (on a terminal), and what to tell the caller once
/// the container runs (a front end forwards its signals to the container's process,
/// Docker's sig-proxy).
pub struct Attached<'a> {
    pub launcher: &'a dyn crate::monitor::Launcher,
    pub io: crate::attach::ClientIo<'a>,
    pub keys: &'a crate::detach_keys::DetachKeys,
    pub started: &'a mut dyn FnMut(i32),
    /// Hears of a container `run` made, before its start (`--cidfile`).
    pub created: &'a mut dyn FnMut(&ContainerRecord),
}

/// `run` in the foreground, with or without a terminal, as Docker's: the container
/// under its own monitor, which starts it once this process is attached (nothing it
/// prints is missed), keeps its log and records its exit; then the session, the
/// caller's input to it with `-i`. The detach keys (on a terminal) leave it running;
/// so does a caller that is killed, and its monitor records the exit code.
pub fn run_attached(
    containers: &Containers<'_>,
    opts: &CreateOptions,
    how: Attached<'_>,
) -> Result<(ContainerRecord, crate::attach::Ended)> {
    let (record, held) = containers.create_held(opts)?;
    (how.created)(&record);
    match attach_new_monitor(containers, &record, Some(held), how) {
        Ok(ended) => Ok((record, ended)),
        Err(e) => {
            if opts.auto_remove {
                let _ = containers.remove(&record, true);
            }
            Err(e)
        }
    }
}

/// `start -a`: as [`run_attached`], for a container that exists (or runs: then this
/// attaches to it). Any number of callers may do so at once; all see all its output.
pub fn start_attached_to_monitor(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    how: Attached<'_>,
) -> Result<crate::attach::Ended> {
    // Not pruned while its monitor comes up.
    let (held, record) = containers.hold(record)?;
    attach_new_monitor(containers, &record, Some(held), how)
}

fn attach_new_monitor(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    held: Option<strata_containers::busy::InUse>,
    mut how: Attached<'_>,
) -> Result<crate::attach::Ended> {
    let config = containers.config(record)?;
    let size = if config.tty { (how.io.window)() } else { None };
    let attached = crate::monitor::attach_and_start(containers, record, how.launcher, size);
    // Held until its monitor has started it (not pruned before), and no longer: the
    // monitor removes a `--rm` container, and must not wait for this process to do so.
    drop(held);
    let attachment = attached?;
    if let Some(pid) = attachment.pid() {
        (how.started)(pid);
    }
    if !config.interactive {
        how.io.input = None;
    }
    attachment.session(crate::attach::Mode::of(&config), how.io, how.keys)
}

/// Held by whoever looks after a container for as long as it does (its monitor, or the
/// command running it in the foreground): while held, the container's records and
/// resources are that process's to change, and a reconcile leaves them alone.
pub fn supervise(containers: &Containers<'_>, id: &str) -> Option<nix::fcntl::Flock<std::fs::File>> {
    lock_supervisor(containers, id, nix::fcntl::FlockArg::LockExclusive)
}

/// [`supervise`], unless another process looks after the container: `None` then.
pub fn try_supervise(containers: &Containers<'_>, id: &str) -> Option<nix::fcntl::Flock<std::fs::File>> {
    lock_supervisor(containers, id, nix::fcntl::FlockArg::LockExclusiveNonblock)
}

fn lock_supervisor(
    containers: &Containers<'_>,
    id: &str,
    how: nix::fcntl::FlockArg,
) -> Option<nix::fcntl::Flock<std::fs::File>> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(containers.dir(id).join("supervisor.lock"))
        .ok()?;
    nix::fcntl::Flock::lock(file, how).ok()
}

/// Whether a live process looks after the container. The lock file is opened, never
/// created: a removal may be emptying the container's directory at this moment, and a
/// file made there would stop it ("Directory not empty").
fn supervised(containers: &Containers<'_>, id: &str) -> bool {
    let Ok(file) = std::fs::OpenOptions::new()
        .write(true)
        .open(containers.dir(id).join("supervisor.lock"))
    else {
        return false;
    };
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock).is_err()
}

/// Mounts the container's root and starts its process with the caller's stdio (the
/// monitor of a detached container points that stdio at its log pipes first). On a
/// start failure the container is recorded as exited with Docker's code and unmounted.
pub fn start(containers: &Containers<'_>, record: &ContainerRecord) -> Result<linux::Started> {
    start_with_stdio(containers, record, linux::Stdio::Inherit).map(|(started, _)| started)
}

/// Starts the container with `stdio` as its standard descriptors (this process's own
/// are left alone); returns its process.
pub fn start_with_fds(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    stdio: [std::os::fd::BorrowedFd<'_>; 3],
) -> Result<linux::Started> {
    start_with_stdio(containers, record, linux::Stdio::Fds(stdio)).map(|(started, _)| started)
}

/// Runs a created container to its end under its monitor (from `launcher`), with no
/// input, its output (stdout and stderr, as they come) written to `out` (a build's RUN
/// step); returns its exit code.
pub fn run_to_end(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    launcher: &dyn crate::monitor::Launcher,
    out: &mut dyn std::io::Write,
) -> Result<i32> {
    let attachment = crate::monitor::attach_and_start(containers, record, launcher, None)?;
    // Both streams into one writer, in the order they come.
    let both = Merged(std::cell::RefCell::new(out));
    let (mut stdout, mut stderr) = (&both, &both);
    let mut window = || None;
    let io = crate::attach::ClientIo {
        input: None,
        stdout: &mut stdout,
        stderr: &mut stderr,
        window: &mut window,
        hangup: None,
    };
    let keys = crate::detach_keys::DetachKeys::parse(crate::detach_keys::DEFAULT)?;
    match attachment.session(crate::attach::Mode::default(), io, &keys)? {
        crate::attach::Ended::Exited(code) => Ok(code),
        crate::attach::Ended::Detached => unreachable!("no input, no detach keys"),
    }
}

/// One writer behind two handles.
struct Merged<'a>(std::cell::RefCell<&'a mut dyn std::io::Write>);

impl std::io::Write for &Merged<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.borrow_mut().flush()
    }
}

/// `start` with the container's stdio on a new terminal of `size` (rows, columns; by
/// default the user's terminal's); returns the terminal's master end (strata's own, or
/// the one runc made).
pub fn start_on_terminal(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    size: Option<crate::linux::tty::WindowSize>,
) -> Result<(linux::Started, std::os::fd::OwnedFd)> {
    let console = linux::tty::Console::new()?;
    let (started, theirs) = start_with_stdio(containers, record, linux::Stdio::Terminal(console.theirs()))?;
    let master = match theirs {
        Some(master) => {
            if let Some(size) = size {
                linux::tty::set_window_size(&master, size);
            }
            master
        }
        None => console.receive(size)?,
    };
    Ok((started, master))
}

fn start_with_stdio(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    stdio: linux::Stdio<'_>,
) -> Result<(linux::Started, Option<std::os::fd::OwnedFd>)> {
    // Not removed while it starts; and decided on its record as it is now.
    let (_held, record) = containers.hold(record)?;
    let record = &record;
    if record.state == ContainerState::Running && pid_alive(record.pid) {
        return Err(RuntimeError::Containers(strata_containers::ContainerError::Conflict(
            format!("container {} is already running", record.name),
        )));
    }
    let rootfs = containers.rootfs(&record.id);
    let config = containers.config(record)?;
    // Host programs before anything changes (the bridge's `nft` is checked by networking).
    if config.runtime.as_deref() == Some("runc") {
        strata_host_programs::RUNC.find()?;
    }
    // Ports and addresses first: a port in use fails before anything is mounted.
    let network = crate::networking::prepare(containers, record, &config)?;
    let outcome = mount_all(&containers.mounts(record)?, &rootfs)
        .and_then(|()| start_process(containers, record, &rootfs, stdio, network.netns.as_deref()));
    match outcome {
        Ok((started, master)) => {
            containers.set_state(&record.id, ContainerState::Running, Some(started.pid as i64), None)?;
            if let Err(e) = crate::networking::started(containers, record, network, started.pid) {
                let _ = linux::kill(started.pid, Signal::SIGKILL);
                return Err(e);
            }
            volume_events(containers, record, &config, "mount");
            containers.emit(record, "start", &[]);
            Ok((started, master))
        }
        Err(e) => {
            crate::networking::release(containers, &record.id);
            crate::shared_namespaces::release(containers, &record.id);
            let _ = unmount(&rootfs);
            containers.set_state(&record.id, ContainerState::Exited, None, Some(e.exit_code() as i64))?;
            Err(e)
        }
    }
}

/// Records the exit and unmounts the root.
pub fn finish(containers: &Containers<'_>, record: &ContainerRecord, code: Option<i32>) -> Result<()> {
    crate::cgroups::Cgroup::of(record).remove();
    let config = containers.config(record)?;
    if config.runtime.as_deref() == Some("runc") {
        crate::runc::delete(&record.id);
    }
    crate::networking::release(containers, &record.id);
    crate::shared_namespaces::release(containers, &record.id);
    let code = code.unwrap_or(255);
    containers.set_state(&record.id, ContainerState::Exited, None, Some(code as i64))?;
    containers.emit(record, "die", &[("exitCode", &code.to_string())]);
    let unmounted = unmount(&containers.rootfs(&record.id));
    volume_events(containers, record, &config, "unmount");
    unmounted
}

/// A `mount` or `unmount` event for each volume of the container, as Docker's.
fn volume_events(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    config: &strata_containers::ContainerConfig,
    action: &str,
) {
    for bind in &config.binds {
        let Some(name) = &bind.volume else { continue };
        let mut event = strata_containers::events::volume_event(name, action).with("container", &record.id);
        if action == "mount" {
            event = event
                .with("destination", &bind.destination)
                .with("read/write", (!bind.readonly).to_string())
                .with("propagation", "");
        }
        containers.store().emit(event);
    }
}

fn start_process(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    rootfs: &Path,
    stdio: linux::Stdio<'_>,
    netns: Option<&Path>,
) -> Result<(linux::Started, Option<std::os::fd::OwnedFd>)> {
    let config = containers.config(record)?;
    let mut user = resolve_user(rootfs, &config.user)?;
    for gid in crate::spec::resolve_groups(rootfs, &config.group_add)? {
        if gid != user.gid && !user.additional_gids.contains(&gid) {
            user.additional_gids.push(gid);
        }
    }
    let root = strata_inroot::Root::open(rootfs)
        .map_err(|e| RuntimeError::io("opening the container's root", std::io::Error::other(e)))?;
    // Docker creates a missing working directory (inside the root, whatever its links).
    root.mkdir_all(Path::new(&config.working_dir), 0o755).map_err(|e| {
        RuntimeError::io(
            format!("creating working directory {}", config.working_dir),
            std::io::Error::other(e),
        )
    })?;
    // A new, empty volume gets the image's content at its path. The container has not
    // started: its root is the image's, which nothing changes now, so the resolved
    // directory's own path (read back from its descriptor) is what is copied.
    let volumes = strata_containers::volumes::Volumes::new(containers.store().root());
    for bind in &config.binds {
        if let Some(name) = &bind.volume {
            let resolving = |e| RuntimeError::io(format!("resolving volume path {}", bind.destination), e);
            let source = match root.find(Path::new(&bind.destination)) {
                Ok(Some(handle)) => Some(std::fs::read_link(handle.proc_path()).map_err(resolving)?),
                Ok(None) => None,
                Err(e) => return Err(resolving(std::io::Error::other(e))),
            };
            volumes.populate(name, source.as_deref())?;
        }
    }
    drop(root);
    let bundle = containers.dir(&record.id);
    let mut spec = build(&config, &bundle, &user, netns)?;
    if config.init {
        crate::spec::with_init(&mut spec, &init_binary(containers)?);
    }
    if config.ipc_mode.as_deref() == Some("host") {
        crate::spec::host_ipc(&mut spec);
    }
    let shared = crate::shared_namespaces::prepare(containers, &config, &record.id)?;
    crate::shared_namespaces::apply(&mut spec, &shared);
    let link_env = crate::links::environment(containers, record, &config)?;
    if let Some(process) = spec.process_mut().as_mut().filter(|_| !link_env.is_empty()) {
        let own = process.env().clone().unwrap_or_default();
        let name = |v: &String| v.split('=').next().unwrap_or_default().to_string();
        let own_names: Vec<String> = own.iter().map(name).collect();
        // The container's own variables win over a link's (Docker's rule).
        let mut env: Vec<String> = link_env.into_iter().filter(|v| !own_names.contains(&name(v))).collect();
        env.extend(own);
        process.set_env(Some(env));
    }
    let json = serde_json::to_vec_pretty(&spec).expect("specs serialize");
    std::fs::write(bundle.join("config.json"), json).map_err(|e| RuntimeError::io("writing config.json", e))?;
    if config.runtime.as_deref() == Some("runc") {
        return crate::runc::start(&bundle, &record.id, stdio);
    }
    let cgroup = crate::cgroups::Cgroup::of(record);
    let limits = limits(&config);
    // The groups are made while the process makes its root: making one waits while any
    // move into a group waits out its grace period (the kernel's cgroup mutex).
    let started = linux::start(&spec, rootfs, stdio, &|pid| {
        cgroup.create(&limits).and_then(|()| cgroup.add(pid))
    });
    if started.is_err() {
        cgroup.remove();
    }
    started.map(|s| (s, None))
}

/// strata's container init (`--init`), written once into the store (atomically: a
/// concurrent start may be writing it too), read-only, named by its digest.
fn init_binary(containers: &Containers<'_>) -> Result<std::path::PathBuf> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let digest = strata_content::sha256(strata_init::BINARY);
    let dir = containers.store().root().join("init");
    let path = dir.join(format!("docker-init-{}", &digest.digest()[..16]));
    if path.exists() {
        return Ok(path);
    }
    std::fs::create_dir_all(&dir).map_err(|e| RuntimeError::io(format!("creating {}", dir.display()), e))?;
    let tmp = dir.join(format!(".docker-init-{:016x}", rand::random::<u64>()));
    let written = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(strata_init::BINARY).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o555)))
        .and_then(|()| std::fs::rename(&tmp, &path));
    written.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        RuntimeError::io(format!("writing the container init {}", path.display()), e)
    })?;
    Ok(path)
}

/// The cgroup limits of a container's configuration.
fn limits(config: &strata_containers::ContainerConfig) -> crate::cgroups::Limits {
    crate::cgroups::Limits {
        memory_bytes: config.memory,
        cpus: config.nano_cpus.map(|n| n as f64 / 1e9),
        pids: config.pids_limit,
        all_devices: config.privileged,
        more: config.resources.clone(),
        // A device that cannot be read here fails the start in the spec, with its reason.
        device_rules: crate::spec::mapped_devices(config)
            .map(|mapped| mapped.into_iter().map(|(_, rule)| rule).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .chain(config.resources.device_cgroup_rules.iter().cloned())
            .collect(),
    }
}

pub fn pid_alive(pid: Option<i64>) -> bool {
    pid.is_some_and(|p| p > 0 && Path::new(&format!("/proc/{p}")).exists())
}

/// Brings records up to date with the system: a "running" container whose process is
/// gone (its engine was killed, the machine rebooted) is exited, its root unmounted.
pub fn reconcile(containers: &Containers<'_>) -> Result<Vec<ContainerRecord>> {
    let mut out = Vec::new();
    let records = containers.list()?;
    let running = |id: &str| {
        supervised(containers, id)
            || records
                .iter()
                .any(|r| r.id == id && r.state == ContainerState::Running && pid_alive(r.pid))
    };
    crate::networking::reconcile(containers, &running);
    for record in records {
        if record.state == ContainerState::Running && !pid_alive(record.pid) {
            if let Some(fresh) = mark_lost(containers, &record)? {
                out.push(fresh);
            }
            continue;
        }
        out.push(record);
    }
    Ok(out)
}

/// Records a "running" container whose process is gone, and which nobody looks after,
/// as exited (255), unmounted. Decided under the supervisor lock on the record read
/// again: a monitor may have recorded the real exit and ended since `record` was read
/// (or be between an exit and a restart). `None`: the container is gone.
fn mark_lost(containers: &Containers<'_>, record: &ContainerRecord) -> Result<Option<ContainerRecord>> {
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .open(containers.dir(&record.id).join("supervisor.lock"))
        .ok()
        .map(|file| nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock));
    if matches!(lock, Some(Err(_))) {
        // Held: in good hands.
        return Ok(Some(record.clone()));
    }
    let Ok(mut fresh) = containers.resolve(&record.id) else {
        return Ok(None);
    };
    if fresh.state == ContainerState::Running && !pid_alive(fresh.pid) {
        let _ = unmount(&containers.rootfs(&fresh.id));
        crate::cgroups::Cgroup::of(&fresh).remove();
        containers.set_state(&fresh.id, ContainerState::Exited, None, Some(255))?;
        fresh.state = ContainerState::Exited;
        fresh.exit_code = Some(255);
        fresh.pid = None;
    }
    drop(lock);
    Ok(Some(fresh))
}

/// Removes a container; a running one only with `force` (it is killed first).
pub fn remove(containers: &Containers<'_>, record: &ContainerRecord, force: bool, volumes: bool) -> Result<()> {
    match remove_with(containers, record, force, volumes, Claim::Wait)? {
        true => Ok(()),
        false => Err(RuntimeError::Containers(strata_containers::ContainerError::NotFound(
            record.name.clone(),
        ))),
    }
}

/// `container prune`'s removal: a container someone holds (starting, committed,
/// copied) or that runs is passed by. Whether it was removed.
pub fn remove_if_idle(containers: &Containers<'_>, record: &ContainerRecord, volumes: bool) -> Result<bool> {
    match remove_with(containers, record, false, volumes, Claim::Skip) {
        Err(RuntimeError::Containers(strata_containers::ContainerError::Conflict(_))) => Ok(false),
        other => other,
    }
}

/// What `container prune` removed: the containers' IDs and the bytes their writable
/// layers held.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pruned {
    pub removed: Vec<String>,
    pub bytes: u64,
}

/// `container prune`: every container that is not running and that nobody holds
/// (one being created, started, committed or copied is passed by).
pub fn prune(containers: &Containers<'_>) -> Result<Pruned> {
    prune_matching(containers, &strata_images::PruneFilter::default())
}

/// [`prune`] of the containers `filter` lets go (their creation time and labels).
pub fn prune_matching(containers: &Containers<'_>, filter: &strata_images::PruneFilter) -> Result<Pruned> {
    let mut pruned = Pruned::default();
    for c in reconcile(containers)? {
        if c.state == ContainerState::Running {
            continue;
        }
        let labels = containers.config(&c).map(|config| config.labels).unwrap_or_default();
        if !filter.matches(Some(&c.created), |k| labels.get(k).map(String::as_str)) {
            continue;
        }
        let bytes = strata_snapshots::disk_usage(&containers.upper(&c.id)).unwrap_or(0);
        if remove_if_idle(containers, &c, false)? {
            pruned.bytes += bytes;
            pruned.removed.push(c.id);
        }
    }
    Ok(pruned)
}

/// Removes the container once it is claimed (see `strata_containers::busy`): with
/// `force` a running one is killed first. False when there was nothing to remove.
fn remove_with(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    force: bool,
    volumes: bool,
    how: Claim,
) -> Result<bool> {
    // `rm -f` kills a running container, `rm` refuses it: before the claim, and again
    // after it, since it may have started while the claim waited.
    let settle = |record: &ContainerRecord| {
        if force {
            stop_for_removal(containers, record);
            Ok(())
        } else {
            refuse_running(record)
        }
    };
    settle(record)?;
    let Some((claim, record)) = containers.claim(record, how)? else {
        return Ok(false);
    };
    settle(&record)?;
    let rootfs = containers.rootfs(&record.id);
    if is_mounted(&rootfs) {
        unmount(&rootfs)?;
    }
    crate::cgroups::Cgroup::of(&record).remove();
    crate::networking::release(containers, &record.id);
    crate::shared_namespaces::release(containers, &record.id);
    containers.remove_claimed(&claim, &record, volumes)?;
    Ok(true)
}

fn refuse_running(record: &ContainerRecord) -> Result<()> {
    if record.state == ContainerState::Running && pid_alive(record.pid) {
        return Err(RuntimeError::Containers(strata_containers::ContainerError::Conflict(
            format!(
            "You cannot remove a running container {}. Stop the container before attempting removal or force remove",
            record.id
        ),
        )));
    }
    Ok(())
}

/// `rm -f`: kills a running container and waits (bounded) for its process to go.
fn stop_for_removal(containers: &Containers<'_>, record: &ContainerRecord) {
    if !(record.state == ContainerState::Running && pid_alive(record.pid)) {
        return;
    }
    let pid = record.pid.unwrap_or(0) as i32;
    mark_stopped(containers, record);
    let _ = linux::kill(pid, Signal::SIGKILL);
    // Until whoever looks after it has recorded the exit (waiters then read Docker's
    // 137, not an unknown code), within reason.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let _ = crate::wait::wait_until(
        containers,
        record,
        crate::wait::WaitCondition::NotRunning,
        Some(deadline),
    );
}

/// `system reset`: every container (killed if running) and every network, the default
/// one too, with their bridges and rules.
pub fn reset(containers: &Containers<'_>) -> Result<()> {
    for record in reconcile(containers)? {
        remove(containers, &record, true, true)?;
    }
    let networks = crate::networking::networks(containers.store());
    networks.remove_all(&mut containers.store().db())?;
    Ok(())
}

/// `export`: the container's whole filesystem, flattened, as a tar. A running
/// container is read through its mounted root; a stopped one through a read-only
/// overlay of its layer over the image, mounted for the purpose.
pub fn export<W: std::io::Write>(containers: &Containers<'_>, record: &ContainerRecord, out: W) -> Result<W> {
    let held = containers.hold(record)?;
    let written = export_tar(containers, record, out)?;
    drop(held);
    containers.emit(record, "export", &[]);
    Ok(written)
}

fn export_tar<W: std::io::Write>(containers: &Containers<'_>, record: &ContainerRecord, out: W) -> Result<W> {
    let rootfs = containers.rootfs(&record.id);
    if is_mounted(&rootfs) {
        return Ok(strata_containers::write_layer(&rootfs, &Default::default(), out)?);
    }
    // vfs: the container's root is a plain directory already.
    if let Some(copy) = containers.copied_root(&record.id) {
        return Ok(strata_containers::write_layer(&copy, &Default::default(), out)?);
    }
    // Its name tells GC whether the export is still running (see `work_path`).
    let view = containers.store().work_path("export", &format!("-{}", record.id));
    std::fs::create_dir_all(&view).map_err(|e| RuntimeError::io(format!("creating {}", view.display()), e))?;
    let lowers: Vec<String> = containers
        .view_lowerdirs(record)?
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let mount = strata_snapshots::Mount {
        kind: "overlay".into(),
        source: "overlay".into(),
        options: vec![format!("lowerdir={}", lowers.join(":"))],
    };
    mount_all(&[mount], &view)?;
    let written = strata_containers::write_layer(&view, &Default::default(), out);
    let unmounted = unmount(&view);
    let _ = std::fs::remove_dir(&view);
    unmounted?;
    Ok(written?)
}

/// Whether the container runs now (its record read afresh, its process alive).
pub fn is_running(containers: &Containers<'_>, record: &ContainerRecord) -> bool {
    containers
        .resolve(&record.id)
        .is_ok_and(|r| r.state == ContainerState::Running && pid_alive(r.pid))
}

/// The running container's process ID, or Docker's conflict error.
pub(crate) fn running_pid(containers: &Containers<'_>, record: &ContainerRecord) -> Result<i32> {
    let fresh = containers.resolve(&record.id)?;
    match fresh.pid {
        Some(pid) if fresh.state == ContainerState::Running && pid_alive(Some(pid)) => Ok(pid as i32),
        _ => Err(RuntimeError::Containers(strata_containers::ContainerError::Conflict(
            format!("Container {} is not running", record.id),
        ))),
    }
}

/// Parses `SIGTERM`, `TERM` or `15`.
pub fn parse_signal(s: &str) -> Result<Signal> {
    strata_containers::signal::parse(s).ok_or_else(|| RuntimeError::Start {
        code: 125,
        message: format!("invalid signal: {s}"),
    })
}

/// `kill`: sends a signal to the container's main process.
pub fn kill(containers: &Containers<'_>, record: &ContainerRecord, signal: Signal) -> Result<()> {
    let pid = running_pid(containers, record)?;
    mark_stopped(containers, record);
    linux::kill(pid, signal)?;
    containers.emit(record, "kill", &[("signal", &(signal as i32).to_string())]);
    Ok(())
}

/// Waits until the container is recorded as exited (by whoever started it) or its
/// process is gone; returns the exit code. `limit` bounds the wait.
pub fn wait_exit(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    limit: Option<std::time::Duration>,
) -> Result<Option<i64>> {
    // issue 16 §3: `wait` sleeps until a change, without polling.
    let deadline = limit.map(|l| std::time::Instant::now() + l);
    crate::wait::wait_until(containers, record, crate::wait::WaitCondition::NotRunning, deadline)
}

/// How long `stop` and `restart` wait for the stop signal before SIGKILL, unless told.
pub const DEFAULT_STOP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// How long `stop` waits: what the caller asks (seconds; negative: for ever), else the
/// container's `--stop-timeout`, else Docker's 10 s.
pub fn stop_timeout(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    requested: Option<i64>,
) -> std::time::Duration {
    let seconds = requested.or_else(|| containers.config(record).ok()?.stop_timeout);
    match seconds {
        Some(s) if s >= 0 => std::time::Duration::from_secs(s as u64),
        // -1: wait for ever, as Docker's.
        Some(_) => std::time::Duration::from_secs(u64::from(u32::MAX)),
        None => DEFAULT_STOP_TIMEOUT,
    }
}

/// `stop`: the stop signal (image STOPSIGNAL or SIGTERM), then SIGKILL after `timeout`.
pub fn stop(containers: &Containers<'_>, record: &ContainerRecord, timeout: std::time::Duration) -> Result<()> {
    // Marked first: a container between restarts must not come back either.
    mark_stopped(containers, record);
    let Ok(pid) = running_pid(containers, record) else {
        return Ok(());
    };
    let config = containers.config(record)?;
    // A container made before stop signals were checked may hold one that names no
    // signal: it still stops, by SIGTERM and then SIGKILL.
    let signal = config
        .stop_signal
        .as_deref()
        .and_then(strata_containers::signal::parse)
        .unwrap_or(Signal::SIGTERM);
    let _ = linux::kill(pid, signal);
    containers.emit(record, "kill", &[("signal", &(signal as i32).to_string())]);
    if wait_exit(containers, record, Some(timeout))?.is_none() {
        let _ = linux::kill(pid, Signal::SIGKILL);
        containers.emit(record, "kill", &[("signal", &(Signal::SIGKILL as i32).to_string())]);
        wait_exit(containers, record, Some(std::time::Duration::from_secs(10)))?;
    }
    containers.emit(record, "stop", &[]);
    Ok(())
}

/// `restart`: stops the container if it runs (as `stop`), then starts it under a new
/// monitor, detached, as Docker's; its writable layer, name, address requests and
/// published ports are kept.
pub fn restart(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    timeout: std::time::Duration,
    launcher: &dyn crate::monitor::Launcher,
) -> Result<()> {
    stop(containers, record, timeout)?;
    // The old monitor (or foreground run) still holds the container until it has
    // recorded the exit and unmounted; the new monitor waits for it.
    let fresh = containers.resolve(&record.id)?;
    crate::monitor::spawn(containers, &fresh, launcher)
}

/// `pause` / `unpause`: freezes or thaws every process of a running container.
pub fn pause(containers: &Containers<'_>, record: &ContainerRecord, frozen: bool) -> Result<()> {
    running_pid(containers, record)?;
    crate::cgroups::Cgroup::of(record).freeze(frozen)?;
    containers.emit(record, if frozen { "pause" } else { "unpause" }, &[]);
    Ok(())
}

/// `commit`: an image of the container's changes, the container frozen while its
/// layer is read when `pause` is set and it runs (Docker's default), and thawed after
/// unless it was paused before. Returns the image ID.
pub fn commit(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    options: &strata_containers::CommitOptions,
    pause: bool,
) -> Result<String> {
    let frozen_before = crate::cgroups::Cgroup::of(record).is_frozen();
    let paused = pause && !frozen_before && self::pause(containers, record, true).is_ok();
    let committed = containers.commit(record, options);
    if paused {
        self::pause(containers, record, false)?;
    }
    Ok(committed?)
}

/// What `update` changes; `None` leaves a setting as it is.
#[derive(Debug, Clone, Default)]
pub struct UpdateOptions {
    pub memory: Option<i64>,
    pub nano_cpus: Option<i64>,
    pub pids_limit: Option<i64>,
    pub memory_swap: Option<i64>,
    pub memory_reservation: Option<i64>,
    pub cpu_shares: Option<i64>,
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<i64>,
    pub cpuset_cpus: Option<String>,
    /// `no`, `always`, `unless-stopped`, `on-failure[:N]`.
    pub restart: Option<String>,
}

/// `update`: changes the resources and the restart policy of a container, running or
/// not. The new settings are checked as at create, stored, and for a running container
/// written to its cgroups at once; its monitor reads the restart policy at each exit.
pub fn update(containers: &Containers<'_>, record: &ContainerRecord, changes: &UpdateOptions) -> Result<()> {
    let mut config = containers.config(record)?;
    let set = |value: Option<i64>, into: &mut Option<i64>| {
        if value.is_some() {
            *into = value.filter(|v| *v != 0);
        }
    };
    set(changes.memory, &mut config.memory);
    set(changes.nano_cpus, &mut config.nano_cpus);
    set(changes.pids_limit, &mut config.pids_limit);
    let more = &mut config.resources;
    set(changes.memory_swap, &mut more.memory_swap);
    set(changes.memory_reservation, &mut more.memory_reservation);
    set(changes.cpu_shares, &mut more.cpu_shares);
    set(changes.cpu_quota, &mut more.cpu_quota);
    set(changes.cpu_period, &mut more.cpu_period);
    if let Some(cpus) = &changes.cpuset_cpus {
        more.cpuset_cpus = Some(cpus.clone()).filter(|c| !c.is_empty());
    }
    more.check(config.memory, config.nano_cpus)?;
    if let Some(policy) = &changes.restart {
        crate::monitor::RestartPolicy::parse(policy)?;
        config.restart = Some(policy.clone()).filter(|p| !p.is_empty() && p != "no");
    }
    containers.set_config(record, &config)?;
    if is_running(containers, record) {
        crate::cgroups::Cgroup::of(record).apply(&limits(&config))?;
    }
    containers.emit(record, "update", &[]);
    Ok(())
}

/// Tells the container's monitor that the user stopped it: no restart policy applies.
fn mark_stopped(containers: &Containers<'_>, record: &ContainerRecord) {
    let _ = std::fs::write(crate::monitor::stop_marker(containers, &record.id), b"");
}
