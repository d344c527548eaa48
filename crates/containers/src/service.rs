//! The containers of one store root.

use crate::busy::{Claim, InUse, Removal};
use crate::changes::{self, Change, Exclusions};
use crate::config::{merge, ContainerConfig, CreateOptions};
use crate::error::{ContainerError, Result};
use crate::names::{drawn_name, valid_name};
use crate::volumes::Volumes;
use std::fs;
use std::path::PathBuf;
use strata_images::ImageStore;
use strata_metadata::{ContainerRecord, ContainerState};
use strata_snapshots::{ChainId, Mount};

/// Container operations over an image store. Every container has a record, a writable
/// layer (active snapshot keyed by its ID) and a directory `containers/<id>/` for its
/// bundle, its generated /etc files and the mount point of its root.
pub struct Containers<'a> {
    store: &'a ImageStore,
}

impl<'a> Containers<'a> {
    pub fn new(store: &'a ImageStore) -> Self {
        Containers { store }
    }

    pub fn store(&self) -> &'a ImageStore {
        self.store
    }

    /// `containers/<id>/`.
    pub fn dir(&self, id: &str) -> PathBuf {
        self.store.root().join("containers").join(id)
    }

    /// Where the container's root filesystem is mounted while it runs.
    pub fn rootfs(&self, id: &str) -> PathBuf {
        self.dir(id).join("rootfs")
    }

    /// Creates a container (record, writable layer, files) in state `created`.
    pub fn create(&self, opts: &CreateOptions) -> Result<ContainerRecord> {
        self.create_held(opts).map(|(record, _)| record)
    }

    /// `create`, the new container held against removal (`prune`) until the caller
    /// drops the hold: `run` keeps it until the container has started.
    pub fn create_held(&self, opts: &CreateOptions) -> Result<(ContainerRecord, InUse)> {
        // The image and its layers stay while the container is made (image prune waits).
        let _lease = self.store.lock_for_adding()?;
        let resolved = self.store.resolve(&opts.image)?;
        let config_bytes = self.store.config_bytes(&resolved.image)?;
        let image_config: serde_json::Value = serde_json::from_slice(&config_bytes)
            .map_err(|e| ContainerError::Invalid(format!("image config of {}: {e}", opts.image)))?;
        let id: String = (0..4).map(|_| format!("{:016x}", rand::random::<u64>())).collect();
        let mut config = merge(
            image_config.get("config").unwrap_or(&serde_json::Value::Null),
            opts,
            &id,
        )?;
        self.check_networks(&config)?;
        if let Some(other) = config.network_container() {
            // Docker's rule: it answers to the other container's hostname too.
            let other = self.resolve(other)?;
            config.hostname = self.config(&other)?.hostname;
            config.network = format!("container:{}", other.id);
        }
        self.resolve_joined(&mut config)?;
        self.volumes_from(&mut config, &opts.volumes_from)?;
        self.attach_volumes(&mut config)?;
        let name = match &opts.name {
            Some(n) if !valid_name(n) => {
                return Err(ContainerError::Invalid(format!(
                    "Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                )))
            }
            Some(n) => n.clone(),
            None => drawn_name(0, &id),
        };
        let mut record = ContainerRecord {
            id: id.clone(),
            name,
            image_id: resolved.image.id.clone(),
            image_name: opts.image.clone(),
            config: serde_json::to_string(&config).expect("configs serialize"),
            created: strata_images::config::timestamp_now(),
            state: ContainerState::Created,
            pid: None,
            exit_code: None,
            started_at: None,
            finished_at: None,
        };
        let chains = resolved
            .image
            .layers
            .iter()
            .map(|l| ChainId::parse(&l.chain_id).map_err(ContainerError::Invalid))
            .collect::<Result<Vec<_>>>()?;
        self.store.snapshots().prepare(&id, &chains)?;
        let mut held = None;
        let result = self.write_files(&id, &config).and_then(|()| {
            held = Some(self.hold_new(&id)?);
            let mut attempt = 0;
            loop {
                match self.store.db().insert_container(&record) {
                    // A drawn name that is taken is drawn again, as Docker does; the last
                    // draw is the container's own ID.
                    Err(strata_metadata::MetadataError::Conflict(_)) if opts.name.is_none() && record.name != id => {
                        attempt += 1;
                        record.name = drawn_name(attempt, &id);
                    }
                    other => return Ok(other?),
                }
            }
        });
        if let Err(e) = result {
            let _ = self.store.snapshots().remove_active(&id);
            let _ = fs::remove_dir_all(self.dir(&id));
            return Err(e);
        }
        self.emit(&record, "create", &[]);
        Ok((record, held.expect("held before the record was written")))
    }

    /// A named network must exist when the container is created, as in Docker.
    fn check_networks(&self, config: &ContainerConfig) -> Result<()> {
        if !config.networks().is_empty() {
            // A bridge's rules are made with nft: named now, before anything is created.
            strata_host_programs::NFT.find()?;
        }
        let known = self.store.db().networks()?;
        for name in config.networks() {
            if name != strata_network::DEFAULT_NETWORK && !known.iter().any(|n| n.name == name || n.id == name) {
                return Err(ContainerError::Invalid(format!(
                    "network {name} not found; create it with `network create {name}`"
                )));
            }
        }
        Ok(())
    }

    /// Stores a changed configuration (`network connect`/`disconnect`).
    pub fn set_config(&self, record: &ContainerRecord, config: &ContainerConfig) -> Result<()> {
        let text = serde_json::to_string(config).expect("configs serialize");
        Ok(self.store.db().set_container_config(&record.id, &text)?)
    }

    /// `--volumes-from CONTAINER[:ro|rw]`: the other container's volumes and binds, at
    /// the same places (read-only with `:ro`, else as they are there), unless this
    /// container binds something there itself.
    /// `--pid container:NAME`, `--ipc container:NAME` and `--link NAME`: each other
    /// container by ID, so that a rename does not lose it (Docker stores IDs too).
    fn resolve_joined(&self, config: &mut ContainerConfig) -> Result<()> {
        for mode in [&mut config.pid_mode, &mut config.ipc_mode] {
            if let Some(name) = mode.as_deref().and_then(crate::namespaces::joined) {
                *mode = Some(format!("container:{}", self.resolve(name)?.id));
            }
        }
        for link in &mut config.links {
            link.container = self.resolve(&link.container)?.id;
        }
        Ok(())
    }

    fn volumes_from(&self, config: &mut ContainerConfig, sources: &[String]) -> Result<()> {
        for source in sources {
            let (name, mode) = match source.rsplit_once(':') {
                Some((n, m @ ("ro" | "rw"))) => (n, Some(m)),
                _ => (source.as_str(), None),
            };
            let other = self.resolve(name)?;
            for bind in self.config(&other)?.binds {
                if config.binds.iter().any(|b| b.destination == bind.destination) {
                    continue;
                }
                config.binds.push(crate::config::Bind {
                    readonly: mode.map_or(bind.readonly, |m| m == "ro"),
                    ..bind
                });
            }
        }
        Ok(())
    }

    /// Gives every volume bind its directory, creating volumes as needed, and an
    /// anonymous volume for each image VOLUME no bind covers (Docker's rule).
    fn attach_volumes(&self, config: &mut ContainerConfig) -> Result<()> {
        let volumes = Volumes::new(self.store.root());
        for path in config.volumes.clone() {
            if !config.binds.iter().any(|b| b.destination == path) {
                config.binds.push(crate::config::Bind {
                    source: String::new(),
                    destination: path,
                    readonly: false,
                    volume: Some(String::new()),
                });
            }
        }
        for bind in &mut config.binds {
            if let Some(name) = &bind.volume {
                // An empty name: an anonymous volume.
                let meta = self.create_volume(Some(name.as_str()).filter(|n| !n.is_empty()))?;
                bind.source = volumes.data(&meta.name).display().to_string();
                bind.volume = Some(meta.name);
            }
        }
        Ok(())
    }

    /// Volumes the container uses: (name, destination).
    pub fn volumes_of(&self, record: &ContainerRecord) -> Result<Vec<(String, String)>> {
        Ok(self
            .config(record)?
            .binds
            .into_iter()
            .filter_map(|b| b.volume.map(|v| (v, b.destination)))
            .collect())
    }

    /// /etc/hostname, /etc/hosts and /etc/resolv.conf, bind-mounted into the container
    /// (and so never part of its writable layer or a commit).
    fn write_files(&self, id: &str, config: &ContainerConfig) -> Result<()> {
        let dir = self.dir(id);
        fs::create_dir_all(dir.join("rootfs"))
            .map_err(|e| ContainerError::io(format!("creating {}", dir.display()), e))?;
        let write = |name: &str, text: String| {
            fs::write(dir.join(name), text)
                .map_err(|e| ContainerError::io(format!("writing {name} of container {id}"), e))
        };
        write("hostname", format!("{}\n", config.hostname))?;
        let mut hosts = format!(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{}\n",
            config.hostname
        );
        // Without a network of its own (host, none), the host is its loopback.
        for (name, ip) in config.extra_host_entries("127.0.0.1") {
            hosts.push_str(&format!("{ip}\t{name}\n"));
        }
        write("hosts", hosts)?;
        write("resolv.conf", with_dns_options(&resolv_conf(), config))?;
        // issue 16 §3: what waiters sleep on (see `run_state`).
        crate::run_state::create(&dir)
            .map_err(|e| ContainerError::io(format!("writing run-state of container {id}"), e))
    }

    pub fn list(&self) -> Result<Vec<ContainerRecord>> {
        Ok(self.store.db().containers()?)
    }

    /// By exact name, exact ID, or unique ID prefix.
    pub fn resolve(&self, name: &str) -> Result<ContainerRecord> {
        let wanted = name.strip_prefix('/').unwrap_or(name);
        // An empty prefix would match every ID: only a valid name or hex ID prefix names one.
        let hex = !wanted.is_empty() && wanted.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex && !valid_name(wanted) {
            return Err(ContainerError::NotFound(name.to_string()));
        }
        let all = self.list()?;
        if let Some(c) = all.iter().find(|c| c.name == wanted || c.id == wanted) {
            return Ok(c.clone());
        }
        let matches: Vec<_> = all.iter().filter(|c| hex && c.id.starts_with(wanted)).collect();
        match matches.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(ContainerError::NotFound(name.to_string())),
            _ => Err(ContainerError::Invalid(format!(
                "multiple containers match the ID prefix {name:?}; give more characters"
            ))),
        }
    }

    pub fn config(&self, record: &ContainerRecord) -> Result<ContainerConfig> {
        serde_json::from_str(&record.config)
            .map_err(|e| ContainerError::Invalid(format!("stored config of container {}: {e}", record.id)))
    }

    /// The image layers under the container, bottom first.
    pub fn chains(&self, record: &ContainerRecord) -> Result<Vec<ChainId>> {
        let image = self.store.db().image(&record.image_id)?.ok_or_else(|| {
            ContainerError::Invalid(format!(
                "the image {} of container {} is gone",
                record.image_id, record.name
            ))
        })?;
        image
            .layers
            .iter()
            .map(|l| ChainId::parse(&l.chain_id).map_err(ContainerError::Invalid))
            .collect()
    }

    /// The overlay mount of the container's root: image layers plus its writable layer.
    pub fn mounts(&self, record: &ContainerRecord) -> Result<Vec<Mount>> {
        Ok(self
            .store
            .snapshots()
            .active_mounts(&record.id, &self.chains(record)?)?)
    }

    pub fn set_state(&self, id: &str, state: ContainerState, pid: Option<i64>, exit_code: Option<i64>) -> Result<()> {
        let at = strata_images::config::timestamp_now();
        self.store.db().set_container_state(id, state, pid, exit_code, &at)?;
        // issue 16 §3: wakes the container's waiters (see `run_state`; best effort).
        let _ = crate::run_state::record(&self.dir(id), state, pid, exit_code);
        Ok(())
    }

    /// `rename`.
    pub fn rename(&self, record: &ContainerRecord, name: &str) -> Result<()> {
        if !valid_name(name) {
            return Err(ContainerError::Invalid(format!(
                "Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        self.store.db().rename_container(&record.id, name)?;
        let renamed = ContainerRecord {
            name: name.to_string(),
            ..record.clone()
        };
        self.emit(&renamed, "rename", &[("oldName", &format!("/{}", record.name))]);
        Ok(())
    }

    /// Deletes a container that is not running, once nobody holds it (see [`busy`]);
    /// nothing to do when it is gone already.
    ///
    /// [`busy`]: crate::busy
    pub fn remove(&self, record: &ContainerRecord, anonymous_volumes: bool) -> Result<()> {
        self.remove_then(record, anonymous_volumes, &mut || {})
    }

    /// [`Containers::remove`], calling `forgotten` once no process can see the container
    /// any more, before its removal is on the disk and its files are deleted: a `--rm`
    /// container's monitor tells its `run` there (a crash meanwhile may bring back the
    /// record, never a record without its files).
    pub fn remove_then(
        &self,
        record: &ContainerRecord,
        anonymous_volumes: bool,
        forgotten: &mut dyn FnMut(),
    ) -> Result<()> {
        match self.claim(record, Claim::Wait)? {
            Some((claim, fresh)) => self.remove_claimed_then(&claim, &fresh, anonymous_volumes, forgotten),
            None => Ok(()),
        }
    }

    /// Deletes a claimed container: its record, writable layer and files; with
    /// `anonymous_volumes` also the anonymous volumes it used (`rm -v`, `--rm`).
    pub fn remove_claimed(&self, claim: &Removal, record: &ContainerRecord, anonymous_volumes: bool) -> Result<()> {
        self.remove_claimed_then(claim, record, anonymous_volumes, &mut || {})
    }

    fn remove_claimed_then(
        &self,
        _claim: &Removal,
        record: &ContainerRecord,
        anonymous_volumes: bool,
        forgotten: &mut dyn FnMut(),
    ) -> Result<()> {
        let volumes = self.volumes_of(record).unwrap_or_default();
        // Its labels are read from its files, which go below.
        let destroyed = crate::events::container_event(self, record, "destroy");
        self.store.db().remove_container(&record.id)?;
        // issue 16 §3: tells the container's waiters it is gone (see `run_state`).
        crate::run_state::removed(&self.dir(&record.id));
        forgotten();
        // Records go before files, on the disk too.
        self.store.db().sync()?;
        self.store.emit(destroyed);
        if anonymous_volumes {
            let store = Volumes::new(self.store.root());
            // Another container's too (`--volumes-from`): it stays, as Docker's.
            let users = crate::volume_use::volume_users(self)?;
            for (name, _) in volumes {
                let shared = users.iter().any(|(volume, _)| *volume == name);
                if !shared && store.get(&name)?.is_some_and(|m| m.anonymous) {
                    store.remove(&name)?;
                    self.store.emit(crate::events::volume_event(&name, "destroy"));
                }
            }
        }
        self.store.snapshots().remove_active(&record.id)?;
        let dir = self.dir(&record.id);
        // Its record is gone: a process that still wrote into the directory meanwhile
        // (a stop marker, a lock file) does not do so again; the second pass removes it.
        let mut removed = fs::remove_dir_all(&dir);
        if matches!(&removed, Err(e) if e.kind() == std::io::ErrorKind::DirectoryNotEmpty) {
            removed = fs::remove_dir_all(&dir);
        }
        match removed {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ContainerError::io(format!("removing {}", dir.display()), e)),
        }
    }
}

/// `commit` options (Docker's `-a`, `-m`, `-c`).
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    pub author: Option<String>,
    pub message: Option<String>,
    pub changes: Vec<String>,
    pub reference: Option<String>,
}

/// A container's sizes in bytes, as Docker's `ps --size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContainerSizes {
    /// The writable layer (`SizeRw`).
    pub rw: i64,
    /// The writable layer and the image (`SizeRootFs`, the "virtual" size).
    pub root_fs: i64,
}

impl Containers<'_> {
    /// The container's writable layer.
    pub fn upper(&self, id: &str) -> PathBuf {
        self.store.snapshots().active_path(id).join("upper")
    }

    /// Bytes in the container's writable layer (Docker's `SizeRw`); with vfs, whose
    /// layer is a whole copy, nothing is counted.
    pub fn size_rw(&self, id: &str) -> u64 {
        strata_snapshots::disk_usage(&self.upper(id)).unwrap_or(0)
    }

    /// Docker's `SizeRw` and `SizeRootFs` (`ps --size`, the API's `size=true`): the
    /// writable layer's bytes, and those plus the image's.
    pub fn sizes(&self, record: &ContainerRecord) -> ContainerSizes {
        let rw = self.size_rw(&record.id) as i64;
        let image = self.store.db().image(&record.image_id).ok().flatten();
        ContainerSizes {
            rw,
            root_fs: rw + image.map_or(0, |i| i.size),
        }
    }

    /// The image layer directories under the container, top first: for an image deeper
    /// than one overlay mount takes, its top layers over the flattened snapshot of the
    /// rest.
    fn lowers(&self, record: &ContainerRecord) -> Result<Vec<PathBuf>> {
        Ok(self.store.snapshots().lower_dirs(&self.chains(record)?)?)
    }

    /// What diff, commit and export leave out: the runtime's own bind-mounted files,
    /// volume and bind-mount contents, and the kernel filesystems' mount points.
    pub fn exclusions(&self, config: &ContainerConfig) -> Exclusions {
        let mut contents_of: Vec<String> = ["/proc", "/sys", "/dev"].map(String::from).to_vec();
        contents_of.extend(config.volumes.iter().cloned());
        contents_of.extend(config.binds.iter().map(|b| b.destination.clone()));
        contents_of.extend(
            config
                .tmpfs
                .iter()
                .map(|t| t.split(':').next().unwrap_or_default().to_string()),
        );
        let mut files: Vec<String> = ["/etc/hostname", "/etc/hosts", "/etc/resolv.conf"]
            .map(String::from)
            .to_vec();
        files.extend(
            config
                .binds
                .iter()
                .map(|b| b.destination.clone())
                .filter(|d| !d.ends_with('/')),
        );
        Exclusions { files, contents_of }
    }

    /// The container's changes as an overlay upper directory, given to `f`: overlay's
    /// own, or with vfs one made for the purpose (hard links) and removed after.
    fn with_changes<T>(&self, record: &ContainerRecord, f: impl FnOnce(&std::path::Path) -> Result<T>) -> Result<T> {
        if self.store.snapshots().driver() == strata_snapshots::Driver::Overlay {
            return f(&self.upper(&record.id));
        }
        let scratch = self.store.work_path("vfschanges", "");
        let made = self
            .store
            .snapshots()
            .changes(&record.id, &self.chains(record)?, &scratch);
        let out = made.map_err(ContainerError::from).and_then(|upper| f(&upper));
        let _ = fs::remove_dir_all(&scratch);
        out
    }

    /// Docker's `diff`.
    pub fn diff(&self, record: &ContainerRecord) -> Result<Vec<Change>> {
        let _held = self.hold(record)?;
        let config = self.config(record)?;
        let lowers = self.lowers(record)?;
        self.with_changes(record, |upper| changes::diff(upper, &lowers, &self.exclusions(&config)))
    }

    /// With vfs, the container's whole root (a copy of its image, changed in place).
    pub fn copied_root(&self, id: &str) -> Option<PathBuf> {
        (self.store.snapshots().driver() == strata_snapshots::Driver::Vfs)
            .then(|| self.store.snapshots().active_path(id).join("rootfs"))
    }

    /// The container's changes as the layer tar `commit` would add (OCI whiteouts),
    /// written to `out`; the container is held against removal meanwhile.
    pub fn write_changes<W: std::io::Write>(&self, record: &ContainerRecord, out: W) -> Result<W> {
        let _held = self.hold(record)?;
        let config = self.config(record)?;
        let skip = self.exclusions(&config);
        self.with_changes(record, |upper| changes::write_layer(upper, &skip, out))
    }

    /// Makes an image of the container: its image plus one layer of its changes, with
    /// the container's command, environment and working directory as the new config.
    pub fn commit(&self, record: &ContainerRecord, opts: &CommitOptions) -> Result<String> {
        let config = self.config(record)?;
        let parent = self
            .store
            .db()
            .image(&record.image_id)?
            .ok_or_else(|| ContainerError::Invalid(format!("the image of container {} is gone", record.name)))?;
        let mut image_config: serde_json::Value = serde_json::from_slice(&self.store.config_bytes(&parent)?)
            .map_err(|e| ContainerError::Invalid(format!("image config: {e}")))?;
        let now = strata_images::config::timestamp_now();
        image_config["config"] = committed_config(image_config.get("config"), &config, &opts.changes)?;
        image_config["created"] = now.clone().into();
        if let Some(a) = &opts.author {
            image_config["author"] = a.clone().into();
        }
        image_config["comment"] = opts.message.clone().unwrap_or_default().into();
        let mut entry = serde_json::json!({ "created": now, "created_by": config.args().join(" ") });
        if let Some(a) = &opts.author {
            entry["author"] = a.clone().into();
        }
        if let Some(m) = &opts.message {
            entry["comment"] = m.clone().into();
        }
        match image_config.get_mut("history").and_then(|h| h.as_array_mut()) {
            Some(h) => h.push(entry),
            None => image_config["history"] = serde_json::json!([entry]),
        }
        let id = self.commit_with_config(record, &parent, image_config, opts.reference.as_deref(), None)?;
        let reference = opts.reference.as_deref().unwrap_or_default();
        let comment = opts.message.as_deref().unwrap_or_default();
        self.emit(
            record,
            "commit",
            &[("imageID", &id), ("imageRef", reference), ("comment", comment)],
        );
        Ok(id)
    }

    /// Records the container's changes as one layer on `parent` (its image), with the
    /// image config `image_config` (a build step writes its own) and file times clamped
    /// to `clamp_mtime` when given. Returns the image ID.
    pub fn commit_with_config(
        &self,
        record: &ContainerRecord,
        parent: &strata_images::ImageRecord,
        image_config: serde_json::Value,
        reference: Option<&str>,
        clamp_mtime: Option<u64>,
    ) -> Result<String> {
        let _held = self.hold(record)?;
        let config = self.config(record)?;
        self.with_changes(record, |upper| {
            self.commit_upper(upper, parent, &config, image_config, reference, clamp_mtime)
        })
    }

    fn commit_upper(
        &self,
        upper: &std::path::Path,
        parent: &strata_images::ImageRecord,
        config: &ContainerConfig,
        image_config: serde_json::Value,
        reference: Option<&str>,
        clamp_mtime: Option<u64>,
    ) -> Result<String> {
        // The layer streams from a writer thread straight into the store: no temporary
        // copy of the changes is written.
        let (reader, writer) = std::io::pipe().map_err(|e| ContainerError::io("creating a pipe", e))?;
        // 1 MiB in flight instead of 64 KiB: the writer fills it a write at a time, and
        // each refill was a pair of context switches (best effort: a limit may refuse).
        let _ = nix::fcntl::fcntl(&writer, nix::fcntl::FcntlArg::F_SETPIPE_SZ(1 << 20));
        let skip = self.exclusions(config);
        std::thread::scope(|scope| {
            let producer = scope.spawn(move || -> Result<()> {
                let out = changes::write_layer_clamped(
                    upper,
                    &skip,
                    clamp_mtime,
                    std::io::BufWriter::with_capacity(1 << 20, writer),
                )?;
                out.into_inner()
                    .map_err(|e| ContainerError::io("writing the layer", e.into_error()))?;
                Ok(())
            });
            let layer = Produced {
                inner: reader,
                producer: Some(producer),
            };
            Ok(self.store.add_layer(parent, layer, image_config, reference)?)
        })
    }

    /// Mount options of a read-only view of the container (upper over the image).
    pub fn view_lowerdirs(&self, record: &ContainerRecord) -> Result<Vec<PathBuf>> {
        let mut dirs = vec![self.upper(&record.id)];
        dirs.extend(self.lowers(record)?);
        Ok(dirs)
    }
}

/// The image config's `config` for a commit: the image's, with the container's command,
/// environment, user and working directory, then the `-c` changes.
fn committed_config(
    base: Option<&serde_json::Value>,
    c: &ContainerConfig,
    changes: &[String],
) -> Result<serde_json::Value> {
    let mut cfg: oci_spec::image::Config = base
        .cloned()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| ContainerError::Invalid(format!("image config: {e}")))?
        .unwrap_or_default();
    cfg.set_cmd((!c.cmd.is_empty()).then(|| c.cmd.clone()));
    cfg.set_entrypoint((!c.entrypoint.is_empty()).then(|| c.entrypoint.clone()));
    cfg.set_env(Some(c.env.clone()));
    cfg.set_working_dir((c.working_dir != "/").then(|| c.working_dir.clone()));
    cfg.set_user((!c.user.is_empty()).then(|| c.user.clone()));
    cfg.set_labels((!c.labels.is_empty()).then(|| c.labels.clone().into_iter().collect()));
    for change in changes {
        strata_images::config::apply_change(&mut cfg, change)?;
    }
    Ok(serde_json::to_value(cfg).expect("configs serialize"))
}

/// A pipe's read end that, at its end, fails unless the writer thread succeeded: a
/// layer cut short by a write error is never taken for a complete one.
struct Produced<'scope> {
    inner: std::io::PipeReader,
    producer: Option<std::thread::ScopedJoinHandle<'scope, Result<()>>>,
}

impl std::io::Read for Produced<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            if let Some(producer) = self.producer.take() {
                match producer.join() {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return Err(std::io::Error::other(e.to_string())),
                    Err(_) => return Err(std::io::Error::other("the layer writer panicked")),
                }
            }
        }
        Ok(n)
    }
}

/// The host's resolv.conf, with loopback resolvers (unreachable from the container's
/// own network namespace) dropped.
fn resolv_conf() -> String {
    resolv_conf_from(
        &fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
        // systemd-resolved's list of upstream servers, behind its 127.0.0.53 stub.
        &fs::read_to_string("/run/systemd/resolve/resolv.conf").unwrap_or_default(),
    )
}

/// `--dns`, `--dns-search`, `--dns-option` replace the host's lines of each kind.
fn with_dns_options(base: &str, config: &ContainerConfig) -> String {
    let replaced = [
        ("nameserver", &config.dns),
        ("search", &config.dns_search),
        ("options", &config.dns_options),
    ];
    let kept = base.lines().filter(|l| {
        let first = l.split_whitespace().next().unwrap_or("");
        !replaced.iter().any(|(kind, given)| first == *kind && !given.is_empty())
    });
    let mut out: String = kept.map(|l| format!("{l}\n")).collect();
    for ip in &config.dns {
        out.push_str(&format!("nameserver {ip}\n"));
    }
    if !config.dns_search.is_empty() {
        out.push_str(&format!("search {}\n", config.dns_search.join(" ")));
    }
    if !config.dns_options.is_empty() {
        out.push_str(&format!("options {}\n", config.dns_options.join(" ")));
    }
    out
}

fn is_nameserver(line: &str) -> bool {
    line.split_whitespace().next() == Some("nameserver")
}

fn is_loopback_nameserver(line: &str) -> bool {
    let mut words = line.split_whitespace();
    words.next() == Some("nameserver") && words.next().is_some_and(|a| a.starts_with("127.") || a == "::1")
}

/// Docker's rule: loopback resolvers are unreachable from the container's namespace,
/// so they are dropped; the upstream servers behind a local stub are used instead, and
/// with no server left, Google's public ones.
fn resolv_conf_from(host: &str, upstream: &str) -> String {
    let mut lines: Vec<&str> = host.lines().filter(|l| !is_loopback_nameserver(l)).collect();
    if !lines.iter().any(|l| is_nameserver(l)) {
        lines.extend(
            upstream
                .lines()
                .filter(|l| is_nameserver(l) && !is_loopback_nameserver(l)),
        );
    }
    let mut out: String = lines.iter().map(|l| format!("{l}\n")).collect();
    if !lines.iter().any(|l| is_nameserver(l)) {
        out.push_str("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
    out
}

#[cfg(test)]
mod resolv_tests {
    use super::resolv_conf_from;

    #[test]
    fn loopback_resolvers_are_replaced_by_the_upstream_ones() {
        let host = "nameserver 127.0.0.53\noptions edns0\nsearch lan\n";
        let upstream = "nameserver 192.168.1.1\nnameserver 127.0.0.1\n";
        assert_eq!(
            resolv_conf_from(host, upstream),
            "options edns0\nsearch lan\nnameserver 192.168.1.1\n"
        );
        assert_eq!(
            resolv_conf_from("nameserver 127.0.0.1\n", ""),
            "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
        assert_eq!(
            resolv_conf_from("nameserver 10.0.0.2\n", "nameserver 1.1.1.1\n"),
            "nameserver 10.0.0.2\n"
        );
    }
}
