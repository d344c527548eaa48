//! Runs a parsed Dockerfile: stages, steps, cache. Filesystem steps make one layer each
//! (RUN through a container of strata's runtime, COPY/ADD/WORKDIR as a written tar);
//! metadata steps make a new config with an `empty_layer` history entry. Every step's
//! result is an image recorded in the store and in the build cache.

use crate::context::Context;
use crate::error::{BuildError, Result};
use crate::instruction::{Command, Instruction};
use crate::parser::{self, Dockerfile};
use crate::steps;
use crate::view::ImageView;
use crate::words::{self, Vars};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeSet;
use std::io::Write;
use std::time::Instant;
use strata_images::{ImageRecord, ImageRef, ImageStore};

/// What `strata build` was asked.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    pub dockerfile: String,
    /// The Dockerfile's name in errors (`Dockerfile`, `sub/Dockerfile.dev`).
    pub dockerfile_name: String,
    pub tags: Vec<String>,
    pub build_args: Vec<(String, String)>,
    pub target: Option<String>,
    pub no_cache: bool,
    pub labels: Vec<(String, String)>,
    /// `--network` for RUN steps: none, host, a network's name, or the default bridge.
    pub network: Option<String>,
    /// `SOURCE_DATE_EPOCH`: file times and `created` of everything this build makes.
    pub source_date_epoch: Option<i64>,
    pub quiet: bool,
    /// Merge the layers the build added into one.
    pub squash: bool,
    /// `--pull`: fetch every base image again, not only missing ones.
    pub pull: bool,
    /// What each `RUN` step's container gets from the build's flags.
    pub run: RunSettings,
    /// `--rm=false`: a RUN step's container is kept (stopped) once the step succeeded.
    /// By default (Docker's `--rm`) it is removed; a failed step's is kept either way.
    pub keep_intermediate: bool,
    /// `--force-rm`: every RUN step's container is removed, a failed step's too.
    pub force_remove: bool,
    /// `--cache-from`: refused by name (see [`BuildOptions::check`]).
    pub cache_from: Vec<String>,
    /// `--secret`: what `RUN --mount=type=secret` steps may read.
    pub secrets: Vec<crate::BuildSecret>,
    /// `--ssh`: the agents `RUN --mount=type=ssh` steps may use.
    pub ssh: Vec<crate::SshAgent>,
    /// `--allow`: entitlements ([`crate::ENTITLEMENTS`]).
    pub allow: Vec<String>,
    /// `--cache-to`: refused by name (see [`BuildOptions::check`]).
    pub cache_to: Vec<String>,
    // Added for COPY/ADD flags and platform ARGs (issue 20).
    /// `--platform` (the Engine API's `platform`): this machine's platform only, checked
    /// by [`crate::platform::check`]; None builds for this machine.
    pub platform: Option<String>,
    // Build outputs and named contexts (issue 20, BuildKit-era builds).
    /// `--output`: where the result goes (an image in the store by default).
    pub output: crate::output::Output,
    /// `--build-context NAME=…`: named contexts, which take the place of a stage or an
    /// image of their name in `FROM`, `COPY --from` and `RUN --mount=…,from=`.
    pub named_contexts: Vec<(String, crate::named::NamedContext)>,
}

impl BuildOptions {
    /// The build's own flags strata cannot honour, refused by name; then the RUN steps'.
    pub fn check(&self) -> Result<()> {
        if let Some(image) = self.cache_from.first() {
            return Err(BuildError::Unsupported {
                flag: "--cache-from",
                reason: format!(
                    "strata's build cache matches the images built in this store (by their parent \
                     chain), not the history of other images such as {image}; leave the flag out \
                     (images built here are reused already)"
                ),
            });
        }
        if let Some(export) = self.cache_to.first() {
            return Err(BuildError::Unsupported {
                flag: "--cache-to",
                reason: format!(
                    "strata's build cache is the images built in this store; it cannot export it \
                     ({export}); leave the flag out, and push or save the built image instead"
                ),
            });
        }
        if let Some(other) = self.allow.iter().find(|a| !crate::ENTITLEMENTS.contains(&a.as_str())) {
            return Err(BuildError::Unsupported {
                flag: "--allow",
                reason: format!(
                    "{other:?} is not an entitlement strata knows ({})",
                    crate::ENTITLEMENTS.join(", ")
                ),
            });
        }
        crate::platform::check(self.platform.as_deref()).map_err(BuildError::Platform)?;
        self.run.check()?;
        if !self.output.is_image() && !self.tags.is_empty() {
            return Err(BuildError::Unsupported {
                flag: "--tag",
                reason: format!(
                    "--output type={} stores no image to name (as BuildKit's exporters other than image); \
                     leave -t out, or build again without --output to get a tagged image",
                    self.output.kind()
                ),
            });
        }
        if !self.output.is_image() && !self.labels.is_empty() {
            return Err(BuildError::Unsupported {
                flag: "--label",
                reason: format!(
                    "--output type={} exports no image metadata, so the labels would go nowhere; leave \
                     --label out, or build without --output",
                    self.output.kind()
                ),
            });
        }
        Ok(())
    }
}

/// The settings of `RUN` steps' containers, from `build`'s flags (Docker's
/// `--add-host`, `--memory`, `--memory-swap`, `--cpu-shares`, `--cpu-period`,
/// `--cpu-quota`, `--cpuset-cpus`, `--cpuset-mems`, `--cgroup-parent`, `--shm-size`,
/// `--ulimit`, `--security-opt`): checked once before the first step, applied to each
/// step as `run`'s are.
#[derive(Debug, Clone, Default)]
pub struct RunSettings {
    /// `--add-host HOST:IP`.
    pub extra_hosts: Vec<String>,
    /// `--memory`, in bytes.
    pub memory: Option<i64>,
    /// `--security-opt`.
    pub security_opt: Vec<String>,
    /// `--memory-swap`, `--cpu-*`, `--cpuset-*`, `--cgroup-parent`, `--shm-size`, `--ulimit`.
    pub resources: strata_containers::resources::Resources,
    /// `--isolation`: `default` only (the others are Windows').
    pub isolation: Option<String>,
}

impl RunSettings {
    /// Docker's checks of the settings, as `run`'s.
    pub fn check(&self) -> Result<()> {
        strata_containers::RefusedOptions {
            isolation: self.isolation.clone(),
            ..Default::default()
        }
        .check()?;
        self.resources.check(self.memory, None)?;
        Ok(())
    }
}

/// Fetches a base image into the store (a registry pull), given its name and whether
/// to fetch it even when it is stored. The CLI passes one; without it a missing base is
/// an error.
pub type Fetch<'a> = &'a dyn Fn(&str, bool) -> std::result::Result<(), String>;

/// What the caller lends a build: how to fetch a missing base image (a registry pull;
/// without it a missing base is an error), and how to launch the monitor each `RUN`
/// step's container runs under (a command line forks itself; a multi-threaded caller
/// re-executes strata's binary: `strata_runtime::monitor::Exec`).
pub struct Callbacks<'a> {
    pub fetch: Option<Fetch<'a>>,
    pub launcher: &'a dyn strata_runtime::monitor::Launcher,
    /// Where `--output type=tar,dest=-` writes (the CLI's stdout); without it such an
    /// output is refused.
    pub output: Option<&'a mut dyn Write>,
}

/// The result: the image ID and the tags now pointing at it.
#[derive(Debug)]
pub struct Built {
    pub id: String,
    pub tags: Vec<String>,
    /// buildx's `--metadata-file` JSON for this result (`containerimage.digest`,
    /// `containerimage.config.digest`, `containerimage.descriptor`, `image.name` for an
    /// image; `{}` for the outputs that export none).
    pub metadata: Value,
}

/// One stage being built.
pub(crate) struct Stage {
    /// None while the stage is `FROM scratch` with no step yet.
    pub image: Option<ImageRecord>,
    /// The whole image config (`config`, `history`, `rootfs`, …).
    pub config: Value,
    /// ARGs declared in this stage, with their values.
    pub args: Vars,
}

impl Stage {
    /// What a step sees: declared ARGs, then ENV (which wins).
    pub fn vars(&self) -> Vars {
        let mut vars = self.args.clone();
        for kv in self.env() {
            if let Some((k, v)) = kv.split_once('=') {
                vars.insert(k.to_string(), v.to_string());
            }
        }
        vars
    }

    pub fn env(&self) -> Vec<String> {
        self.config["config"]["Env"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    }

    pub fn shell(&self) -> Vec<String> {
        self.config["config"]["Shell"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            .filter(|v: &Vec<String>| !v.is_empty())
            .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()])
    }

    pub fn workdir(&self) -> String {
        self.config["config"]["WorkingDir"]
            .as_str()
            .filter(|w| !w.is_empty())
            .unwrap_or("/")
            .to_string()
    }

    /// The parent for the next image: the current one, or an empty one for scratch.
    pub fn parent(&self) -> ImageRecord {
        self.image.clone().unwrap_or_else(empty_image)
    }
}

/// The image `FROM scratch` starts from: no layers.
fn empty_image() -> ImageRecord {
    ImageRecord {
        id: String::new(),
        manifest_digest: String::new(),
        manifest_media_type: String::new(),
        created: None,
        size: 0,
        added_at: String::new(),
        tags: Vec::new(),
        layers: Vec::new(),
    }
}

pub(crate) struct Builder<'a> {
    pub store: &'a ImageStore,
    pub context: &'a Context,
    pub opts: &'a BuildOptions,
    pub out: &'a mut dyn Write,
    pub file: String,
    pub escape: char,
    pub fetch: Option<Fetch<'a>>,
    pub launcher: &'a dyn strata_runtime::monitor::Launcher,
    /// Values of the ARGs declared before the first FROM (a stage's bare `ARG NAME`
    /// takes its value from here).
    pub globals: Vars,
    /// Build args given on the command line.
    pub given_args: Vars,
    /// Build args some ARG declared (the others are reported unused).
    pub used_args: BTreeSet<String>,
    /// Finished stages, by position; their names are in `stage_names`.
    pub done: Vec<Option<ImageRecord>>,
    pub stage_names: Vec<Option<String>>,
    pub step: usize,
    pub steps: usize,
    /// `--build-context`s, opened.
    pub named: &'a [crate::named::Named],
    /// The images of `docker-image://` contexts, once resolved.
    pub named_images: std::collections::HashMap<String, ImageRecord>,
    /// Named contexts some step used (the others are reported unused).
    pub used_named: BTreeSet<String>,
}

/// Builds the Dockerfile in `opts` with `context`; progress goes to `out`.
pub fn build(
    store: &ImageStore,
    context: &Context,
    opts: &BuildOptions,
    callbacks: Callbacks<'_>,
    out: &mut dyn Write,
) -> Result<Built> {
    // The lease: garbage collection (which takes the lock exclusively) waits until this
    // build ends, so it never removes the intermediate images and layers it builds on.
    opts.check()?;
    let named = crate::named::open(&opts.named_contexts)?;
    let stream = callbacks.output;
    let _lease = store.lock_for_adding()?;
    let dockerfile = parser::parse(&opts.dockerfile, &opts.dockerfile_name)?;
    let instructions = dockerfile
        .instructions
        .iter()
        .map(|raw| Instruction::from_raw(raw, &dockerfile.file))
        .collect::<Result<Vec<_>>>()?;
    let (globals, stages) = split_stages(&dockerfile, &instructions)?;
    let names: Vec<Option<String>> = stages.iter().map(|s| stage_name(s[0])).collect();
    let target = match &opts.target {
        Some(t) => names
            .iter()
            .position(|n| n.as_deref() == Some(t.as_str()))
            .ok_or_else(|| BuildError::Syntax {
                file: dockerfile.file.clone(),
                line: 1,
                message: format!("target stage {t:?} could not be found"),
            })?,
        None => stages.len() - 1,
    };
    let is_named = |word: &str| named.iter().any(|n| n.name == word.to_ascii_lowercase());
    let needed = needed_stages(&stages, &names, target, &is_named);
    let mut builder = Builder {
        store,
        context,
        opts,
        out,
        file: dockerfile.file.clone(),
        escape: dockerfile.escape,
        fetch: callbacks.fetch,
        launcher: callbacks.launcher,
        globals: Vars::new(),
        given_args: opts.build_args.iter().cloned().collect(),
        used_args: BTreeSet::new(),
        done: vec![None; stages.len()],
        stage_names: names,
        step: 0,
        steps: needed.iter().map(|&i| stages[i].len()).sum::<usize>() + globals.len(),
        named: &named,
        named_images: Default::default(),
        used_named: BTreeSet::new(),
    };
    let global_vars = builder.global_args(&globals)?;
    builder.globals = global_vars.clone();
    let started = Instant::now();
    let mut target_base = None;
    for &i in &needed {
        let (image, base) = builder.run_stage(&stages[i], &global_vars)?;
        builder.done[i] = Some(image);
        if i == target {
            target_base = Some(base);
        }
    }
    let mut image = builder.done[target].clone().expect("target stage was built");
    if opts.squash {
        image = builder.squash(target_base.flatten().as_ref(), &image)?;
    }
    if !opts.labels.is_empty() {
        image = builder.add_labels(&image)?;
    }
    let unused: Vec<&String> = builder
        .given_args
        .keys()
        .filter(|k| !builder.used_args.contains(*k) && !steps::PREDEFINED_ARGS.contains(&k.as_str()))
        .collect();
    if !unused.is_empty() && !opts.quiet {
        let list: Vec<&str> = unused.iter().map(|s| s.as_str()).collect();
        writeln!(
            builder.out,
            "[Warning] One or more build-args [{}] were not consumed",
            list.join(" ")
        )
        .ok();
    }
    let unused: Vec<&str> = named
        .iter()
        .map(|n| n.name.as_str())
        .filter(|n| !builder.used_named.contains(*n))
        .collect();
    if !unused.is_empty() && !opts.quiet {
        writeln!(
            builder.out,
            "[Warning] One or more build contexts [{}] were not used",
            unused.join(" ")
        )
        .ok();
    }
    if !opts.output.is_image() {
        // As buildx with an exporter other than image: nothing is loaded or tagged; the
        // result stays build cache (hidden from `images`, removed by `builder prune`).
        crate::output::export(store, &image, &opts.output, stream)?;
        if !opts.quiet {
            say_built(&mut builder, &image.id, started);
            match &opts.output {
                crate::output::Output::Local(dir) => {
                    writeln!(builder.out, "Successfully exported to {}", dir.display())
                }
                crate::output::Output::Tar(crate::output::TarDest::File(f)) => {
                    writeln!(builder.out, "Successfully exported to {}", f.display())
                }
                _ => Ok(()),
            }
            .ok();
        }
        let metadata = crate::output::metadata(store, &image, &opts.output, &[]);
        return Ok(Built {
            id: image.id,
            tags: Vec::new(),
            metadata,
        });
    }
    store.db().cache_mark_final(&image.id)?;
    let mut tags = Vec::new();
    let mut full_names = Vec::new();
    for tag in opts.tags.iter().chain(opts.output.names()) {
        let reference = ImageRef::parse(tag).map_err(strata_images::ImageError::from)?;
        store.tag(&image.id, &reference.to_string())?;
        full_names.push(reference.to_string());
        tags.push(reference.familiar());
    }
    if !opts.quiet {
        say_built(&mut builder, &image.id, started);
        for t in &tags {
            writeln!(builder.out, "Successfully tagged {t}").ok();
        }
    }
    store.emit_image("build", &image.id, tags.first().map_or("", String::as_str));
    let metadata = crate::output::metadata(store, &image, &opts.output, &full_names);
    Ok(Built {
        id: image.id,
        tags,
        metadata,
    })
}

/// Instructions before the first FROM (only ARG is allowed there) and the stages.
fn split_stages<'i>(
    dockerfile: &Dockerfile,
    instructions: &'i [Instruction],
) -> Result<(Vec<&'i Instruction>, Vec<Vec<&'i Instruction>>)> {
    let mut globals = Vec::new();
    let mut stages: Vec<Vec<&Instruction>> = Vec::new();
    for i in instructions {
        if i.keyword == "FROM" {
            stages.push(vec![i]);
        } else if let Some(stage) = stages.last_mut() {
            stage.push(i);
        } else if i.keyword == "ARG" {
            globals.push(i);
        } else {
            return Err(BuildError::Syntax {
                file: dockerfile.file.clone(),
                line: i.line,
                message: format!("{} before the first FROM: only ARG may come first", i.keyword),
            });
        }
    }
    if stages.is_empty() {
        return Err(BuildError::Syntax {
            file: dockerfile.file.clone(),
            line: 1,
            message: "the Dockerfile has no FROM instruction".into(),
        });
    }
    Ok((globals, stages))
}

/// `FROM image AS name` → `name` (lower case, as Docker compares them).
fn stage_name(from: &Instruction) -> Option<String> {
    let words: Vec<&str> = from.args.split_whitespace().collect();
    match words.as_slice() {
        [_, as_, name] if as_.eq_ignore_ascii_case("as") => Some(name.to_ascii_lowercase()),
        _ => None,
    }
}

/// The stages `target` needs (through `FROM stage`, `COPY --from=stage` and
/// `RUN --mount=from=stage`), in order.
/// A word a named context takes (`is_named`) names no stage.
fn needed_stages(
    stages: &[Vec<&Instruction>],
    names: &[Option<String>],
    target: usize,
    is_named: &dyn Fn(&str) -> bool,
) -> Vec<usize> {
    let refers = |word: &str| -> Option<usize> {
        if is_named(word) {
            return None;
        }
        let word = word.to_ascii_lowercase();
        names
            .iter()
            .position(|n| n.as_deref() == Some(word.as_str()))
            .or_else(|| word.parse::<usize>().ok().filter(|i| *i < stages.len()))
    };
    let mut needed = BTreeSet::new();
    let mut queue = vec![target];
    while let Some(i) = queue.pop() {
        if !needed.insert(i) {
            continue;
        }
        for ins in &stages[i] {
            let words: Vec<String> = match ins.keyword.as_str() {
                "FROM" => ins
                    .args
                    .split_whitespace()
                    .next()
                    .map(str::to_string)
                    .into_iter()
                    .collect(),
                "COPY" => ins.flag("from").map(str::to_string).into_iter().collect(),
                "RUN" => ins
                    .flags_named("mount")
                    .filter_map(|spec| crate::run_mount::RunMount::parse(spec).ok()?.from().map(str::to_string))
                    .collect(),
                _ => Vec::new(),
            };
            queue.extend(words.iter().filter_map(|w| refers(w).filter(|d| *d < i)));
        }
    }
    needed.into_iter().collect()
}

/// Docker's closing line of a build, with the time it took.
fn say_built(builder: &mut Builder<'_>, id: &str, started: std::time::Instant) {
    writeln!(
        builder.out,
        "Successfully built {} in {:.2}s",
        short(id),
        started.elapsed().as_secs_f64()
    )
    .ok();
}

pub(crate) fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

impl Builder<'_> {
    pub fn syntax(&self, ins: &Instruction, message: impl Into<String>) -> BuildError {
        BuildError::Step {
            file: self.file.clone(),
            line: ins.line,
            instruction: ins.keyword.clone(),
            message: message.into(),
        }
    }

    pub fn expand(&self, ins: &Instruction, text: &str, vars: &Vars) -> Result<String> {
        words::expand(text, self.escape, vars).map_err(|e| self.syntax(ins, e.0))
    }

    pub fn split(&self, ins: &Instruction, text: &str, vars: &Vars) -> Result<Vec<String>> {
        words::split(text, self.escape, vars).map_err(|e| self.syntax(ins, e.0))
    }

    pub fn say(&mut self, line: impl AsRef<str>) {
        if !self.opts.quiet {
            writeln!(self.out, "{}", line.as_ref()).ok();
        }
    }

    fn announce(&mut self, ins: &Instruction) {
        self.step += 1;
        let text = format!("Step {}/{} : {}", self.step, self.steps, ins.text);
        self.say(text);
    }

    /// Global ARGs: BuildKit's automatic platform ARGs, then the declared ones'
    /// defaults, overridden by `--build-arg`.
    fn global_args(&mut self, globals: &[&Instruction]) -> Result<Vars> {
        let mut vars = Vars::new();
        let target = crate::platform::check(self.opts.platform.as_deref()).map_err(BuildError::Platform)?;
        for (name, value) in crate::platform::automatic_args(&target, &crate::platform::Platform::host()) {
            vars.insert(name, value);
        }
        for ins in globals {
            self.announce(ins);
            for (name, default) in self.parse_args(ins, &vars)? {
                self.used_args.insert(name.clone());
                if let Some(v) = self.given_args.get(&name).cloned().or(default) {
                    vars.insert(name, v);
                }
            }
        }
        Ok(vars)
    }

    /// `ARG a b=c` as (name, default).
    pub fn parse_args(&self, ins: &Instruction, vars: &Vars) -> Result<Vec<(String, Option<String>)>> {
        self.split(ins, &ins.args, vars)?
            .into_iter()
            .map(|w| match w.split_once('=') {
                Some((k, v)) => Ok((k.to_string(), Some(v.to_string()))),
                None if !w.is_empty() => Ok((w, None)),
                None => Err(self.syntax(ins, "ARG requires a name")),
            })
            .collect()
    }

    /// Builds a stage; returns its image and the image it started from (None: scratch).
    fn run_stage(&mut self, stage: &[&Instruction], globals: &Vars) -> Result<(ImageRecord, Option<ImageRecord>)> {
        let from = stage[0];
        self.announce(from);
        let mut state = self.from(from, globals)?;
        if let Some(name) = self.directory_context_of(from, globals)? {
            // `FROM NAME` of a directory context, as BuildKit: the directory's files (its
            // .dockerignore applied) are the stage's root filesystem, one layer on scratch.
            let copy = Instruction {
                line: from.line,
                keyword: "COPY".into(),
                flags: vec![("from".into(), name.clone())],
                args: ". /".into(),
                json: None,
                heredocs: Vec::new(),
                text: format!("COPY --from={name} . /"),
            };
            self.execute(&mut state, &copy)?;
        }
        let base = state.image.clone();
        let triggers = state.config["config"]["OnBuild"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if !triggers.is_empty() {
            state.config["config"]["OnBuild"] = Value::Null;
            let text: Vec<String> = triggers.iter().filter_map(|t| t.as_str().map(str::to_string)).collect();
            let file = format!("{} (ONBUILD of {})", self.file, from.args);
            let parsed = parser::parse(&text.join("\n"), &file)?;
            self.say(format!("# Executing {} build trigger(s)", parsed.instructions.len()));
            for raw in &parsed.instructions {
                let ins = Instruction::from_raw(raw, &file)?;
                self.execute(&mut state, &ins)?;
            }
        }
        for ins in &stage[1..] {
            self.announce(ins);
            self.execute(&mut state, ins)?;
        }
        let image = match state.image.clone() {
            Some(image) => image,
            // A stage that is only `FROM scratch`: an image with no layers.
            None => self.commit_config(&mut state, "", None)?,
        };
        Ok((image, base))
    }

    /// `--squash`: the layers `image` has beyond `base`, merged into one layer on `base`.
    fn squash(&mut self, base: Option<&ImageRecord>, image: &ImageRecord) -> Result<ImageRecord> {
        let base = base.cloned().unwrap_or_else(empty_image);
        let added = &image.layers[base.layers.len().min(image.layers.len())..];
        if added.is_empty() {
            return Ok(image.clone());
        }
        let dirs = added
            .iter()
            .map(|l| {
                strata_snapshots::ChainId::parse(&l.chain_id)
                    .map(|c| self.store.snapshots().path(&c))
                    .map_err(|e| BuildError::io("reading layer records", std::io::Error::other(e)))
            })
            .collect::<Result<Vec<_>>>()?;
        let work = self.store.work_path("squash", "");
        let merged = work.join("merged");
        let tar_path = work.join("layer.tar");
        let result = (|| -> Result<String> {
            std::fs::create_dir_all(&merged).map_err(|e| BuildError::io("creating the squash directory", e))?;
            crate::squash::merge(&dirs, &merged).map_err(|e| BuildError::io("merging the layers to squash", e))?;
            let file = std::fs::File::create(&tar_path).map_err(|e| BuildError::io("writing the squashed layer", e))?;
            let out = strata_containers::write_layer(&merged, &Default::default(), std::io::BufWriter::new(file))?;
            out.into_inner()
                .map_err(|e| BuildError::io("writing the squashed layer", e.into_error()))?;
            let mut config: Value = serde_json::from_slice(&self.store.config_bytes(image)?)
                .map_err(|e| BuildError::io("reading the config to squash", std::io::Error::other(e)))?;
            let base_history = if base.id.is_empty() {
                0
            } else {
                serde_json::from_slice::<Value>(&self.store.config_bytes(&base)?)
                    .ok()
                    .and_then(|c| c["history"].as_array().map(|h| h.len()))
                    .unwrap_or(0)
            };
            if let Some(history) = config["history"].as_array_mut() {
                for entry in history.iter_mut().skip(base_history) {
                    entry["empty_layer"] = true.into();
                }
            }
            let created_by = format!(
                "merge {} to {}",
                image.id,
                if base.id.is_empty() { "scratch" } else { &base.id }
            );
            push_history(&mut config, &self.created(), &created_by, false);
            let file = std::fs::File::open(&tar_path).map_err(|e| BuildError::io("reading the squashed layer", e))?;
            Ok(self
                .store
                .add_layer(&base, std::io::BufReader::new(file), config, None)?)
        })();
        let _ = std::fs::remove_dir_all(&work);
        let id = result?;
        self.say(format!(" ---> squashed {} layers into {}", added.len(), short(&id)));
        self.image(&id)
    }

    fn from(&mut self, ins: &Instruction, globals: &Vars) -> Result<Stage> {
        let words: Vec<&str> = ins.args.split_whitespace().collect();
        if !(words.len() == 1 || (words.len() == 3 && words[1].eq_ignore_ascii_case("as"))) {
            return Err(self.syntax(ins, "FROM requires either one or three arguments: FROM image [AS name]"));
        }
        let name = self.expand(ins, words[0], globals)?;
        if name.is_empty() {
            return Err(self.syntax(ins, format!("base name ({}) should not be blank", words[0])));
        }
        if let Some(platform) = ins.flag("platform") {
            let platform = self.expand(ins, platform, globals)?;
            crate::platform::check(Some(&platform)).map_err(|e| self.syntax(ins, format!("FROM {e}")))?;
        }
        let directory = self
            .named_index(&name)
            .is_some_and(|i| matches!(self.named[i].source, crate::named::NamedSource::Dir(_)));
        if name == "scratch" || directory {
            self.say(" ---> scratch");
            let host = crate::platform::Platform::host();
            let config = json!({
                "architecture": host.arch,
                "os": "linux",
                "config": {},
                "rootfs": {"type": "layers", "diff_ids": []},
                "history": [],
            });
            return Ok(Stage {
                image: None,
                config,
                args: Vars::new(),
            });
        }
        let lower = name.to_ascii_lowercase();
        if let Some(index) = self.named_index(&name) {
            // A named context takes the place of a stage or image of its name.
            let image = self.named_image(ins, index)?;
            self.say(format!(" ---> {}", short(&image.id)));
            let config: Value = serde_json::from_slice(&self.store.config_bytes(&image)?)
                .map_err(|e| self.syntax(ins, format!("the config of {name} is not valid JSON: {e}")))?;
            return Ok(Stage {
                image: Some(image),
                config,
                args: Vars::new(),
            });
        }
        let built = self
            .stage_names
            .iter()
            .position(|n| n.as_deref() == Some(lower.as_str()))
            .and_then(|i| self.done[i].clone());
        let image = match built {
            Some(image) => image,
            None => self.base_image(ins, &name)?,
        };
        self.say(format!(" ---> {}", short(&image.id)));
        let config: Value = serde_json::from_slice(&self.store.config_bytes(&image)?)
            .map_err(|e| self.syntax(ins, format!("the config of {name} is not valid JSON: {e}")))?;
        Ok(Stage {
            image: Some(image),
            config,
            args: Vars::new(),
        })
    }

    /// The name of the directory context `FROM` names, if it names one.
    fn directory_context_of(&self, from: &Instruction, globals: &Vars) -> Result<Option<String>> {
        let Some(word) = from.args.split_whitespace().next() else {
            return Ok(None);
        };
        let name = self.expand(from, word, globals)?;
        Ok(self
            .named_index(&name)
            .filter(|&i| matches!(self.named[i].source, crate::named::NamedSource::Dir(_)))
            .map(|_| name))
    }

    pub(crate) fn base_image(&mut self, ins: &Instruction, name: &str) -> Result<ImageRecord> {
        let stored = match self.store.resolve(name) {
            Ok(resolved) => Some(resolved.image),
            Err(strata_images::ImageError::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        if let (Some(image), false) = (&stored, self.opts.pull) {
            return Ok(image.clone());
        }
        let Some(fetch) = self.fetch else {
            return stored.ok_or_else(|| {
                self.syntax(
                    ins,
                    format!("no local image {name:?}: strata pull, load or import it first"),
                )
            });
        };
        self.out.flush().ok();
        fetch(name, self.opts.pull).map_err(|e| self.syntax(ins, format!("pulling {name}: {e}")))?;
        Ok(self.store.resolve(name)?.image)
    }

    /// One instruction of a stage, through the cache.
    fn execute(&mut self, state: &mut Stage, ins: &Instruction) -> Result<()> {
        let started = Instant::now();
        let plan = steps::plan(self, state, ins)?;
        let Some(plan) = plan else {
            return Ok(()); // ARG and the like change only the builder's own state
        };
        let parent = state.image.as_ref().map_or("scratch", |i| i.id.as_str()).to_string();
        let key = cache_key(&parent, &plan.key_text);
        if !self.opts.no_cache {
            let cached = self.store.db().cache_get(&key)?;
            if let Some(id) = cached {
                let image = self.store.db().image(&id)?;
                if let Some(image) = image {
                    state.config = serde_json::from_slice(&self.store.config_bytes(&image)?)
                        .map_err(|e| self.syntax(ins, format!("cached config: {e}")))?;
                    state.image = Some(image);
                    self.say(" ---> Using cache");
                    self.say(format!(" ---> {}", short(&id)));
                    return Ok(());
                }
            }
        }
        let image = steps::apply(self, state, ins, plan)?;
        strata_images::failpoint::hit("build:step-recorded");
        self.store
            .db()
            .cache_put(&key, &image.id, &strata_images::config::timestamp_now())?;
        strata_images::failpoint::hit("build:step-cached");
        self.say(format!(
            " ---> {} ({:.2}s)",
            short(&image.id),
            started.elapsed().as_secs_f64()
        ));
        state.image = Some(image);
        Ok(())
    }

    /// The `created` time of what this build makes.
    pub fn created(&self) -> String {
        match self.opts.source_date_epoch {
            Some(epoch) => chrono::DateTime::from_timestamp(epoch, 0)
                .map(strata_images::config::go_rfc3339_nano)
                .unwrap_or_else(strata_images::config::timestamp_now),
            None => strata_images::config::timestamp_now(),
        }
    }

    /// Records the stage's config as a new image on the same layers (a metadata step).
    pub fn commit_config(&mut self, state: &mut Stage, created_by: &str, _: Option<()>) -> Result<ImageRecord> {
        if !created_by.is_empty() {
            push_history(&mut state.config, &self.created(), created_by, true);
        }
        state.config["created"] = self.created().into();
        let parent = state.parent();
        let id = self.store.add_config(&parent, state.config.clone())?;
        self.image(&id)
    }

    pub fn image(&self, id: &str) -> Result<ImageRecord> {
        self.store.db().image(id)?.ok_or_else(|| {
            BuildError::Image(strata_images::ImageError::Conflict(format!(
                "image {id} vanished while the build used it"
            )))
        })
    }

    /// A read-only view of the stage's files (for COPY --chown names and WORKDIR).
    pub fn view(&self, image: Option<&ImageRecord>) -> Result<ImageView> {
        ImageView::mount(self.store, image)
    }

    fn add_labels(&mut self, image: &ImageRecord) -> Result<ImageRecord> {
        let mut config: Value = serde_json::from_slice(&self.store.config_bytes(image)?)
            .map_err(|e| BuildError::io("reading the final config", std::io::Error::other(e)))?;
        for (k, v) in &self.opts.labels {
            config["config"]["Labels"][k] = v.clone().into();
        }
        let id = self.store.add_config(image, config)?;
        self.image(&id)
    }

    /// The command a RUN, CMD or ENTRYPOINT runs: exec form as is, shell form through
    /// the stage's SHELL.
    pub fn argv(&self, state: &Stage, command: &Command) -> Vec<String> {
        match command {
            Command::Exec(argv) => argv.clone(),
            Command::Shell(text) => {
                let mut argv = state.shell();
                argv.push(text.clone());
                argv
            }
        }
    }
}

/// Appends a history entry to an image config.
pub(crate) fn push_history(config: &mut Value, created: &str, created_by: &str, empty: bool) {
    let mut entry = json!({ "created": created, "created_by": created_by });
    if empty {
        entry["empty_layer"] = true.into();
    }
    match config.get_mut("history").and_then(|h| h.as_array_mut()) {
        Some(h) => h.push(entry),
        None => config["history"] = json!([entry]),
    }
}

/// The cache key of a step: its parent image and everything it depends on.
fn cache_key(parent: &str, key_text: &str) -> String {
    let mut h = Sha256::new();
    h.update(parent.as_bytes());
    h.update(b"\n");
    h.update(key_text.as_bytes());
    format!("sha256:{}", hex::encode(h.finalize()))
}
