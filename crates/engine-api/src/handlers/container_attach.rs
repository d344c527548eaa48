//! `POST /containers/{id}/attach` and the session part of `POST /exec/{id}/start`:
//! the library's attach sessions on a hijacked connection. The monitor is reached (or
//! launched, holding the start back) before the upgrade is answered, so that what can
//! fail fails with a status code, and an attach before start sees all the output.

use super::Context;
use crate::error::ApiError;
use crate::hijack::{Connection, Framed, Hijacked, MULTIPLEXED_STREAM, RAW_STREAM};
use crate::reply::Reply;
use crate::request::Call;
use std::io::Write;
use std::ops::ControlFlow;
use std::os::fd::AsFd;
use std::sync::Arc;
use strata_containers::{ContainerRecord, Containers};
use strata_runtime::attach::{self, Attachment, ClientIo, Mode, ReadFd};
use strata_runtime::detach_keys::{self, DetachKeys};
use strata_runtime::linux::tty::WindowSize;
use strata_runtime::logs::{self, LogOptions, LogStream};
use strata_runtime::{lifecycle, monitor};

/// Which of the session's streams the client asked for.
#[derive(Clone, Copy)]
struct Streams {
    stdin: bool,
    stdout: bool,
    stderr: bool,
}

pub fn attach(
    ctx: &Arc<Context>,
    containers: &Containers<'_>,
    record: ContainerRecord,
    call: &Call,
) -> Result<Reply, ApiError> {
    let config = containers.config(&record)?;
    let streams = Streams {
        stdin: call.flag("stdin") && config.interactive,
        stdout: call.flag("stdout"),
        stderr: call.flag("stderr"),
    };
    let keys = detach_keys(call)?;
    let media = if config.tty { RAW_STREAM } else { MULTIPLEXED_STREAM };
    let with_logs = call.flag("logs");
    let attachment = match call.flag("stream") {
        false => None,
        true if lifecycle::is_running(containers, &record) => Some(attach::attach_running(containers, &record)?),
        true => Some(monitor::attach_waiting(containers, &record, &ctx.launcher(), None)?),
    };
    let (ctx, mode) = (Arc::clone(ctx), Mode::of(&config));
    Ok(Reply::hijacked(
        media,
        Box::new(move |hijacked| {
            let (input, mut stdout, mut stderr, _busy) = hijacked.outputs(mode.tty);
            if with_logs {
                replay_logs(&ctx, &record, streams, &mut stdout, &mut stderr);
            }
            if let Some(attachment) = attachment {
                session(attachment, mode, input, (stdout, stderr), streams, &keys, None);
            }
        }),
    ))
}

/// `detachKeys=`, or Docker's default.
pub fn detach_keys(call: &Call) -> Result<DetachKeys, ApiError> {
    let spec = call.query("detachKeys").filter(|k| !k.is_empty());
    Ok(DetachKeys::parse(spec.unwrap_or(detach_keys::DEFAULT))?)
}

/// The log so far, as an attach with `logs=1` gives it first.
fn replay_logs(ctx: &Context, record: &ContainerRecord, streams: Streams, stdout: &mut Framed, stderr: &mut Framed) {
    let options = LogOptions::default();
    let _ = logs::read_logs(&ctx.containers(), record, &options, &mut |entry| {
        let written = match entry.stream {
            LogStream::Stdout if streams.stdout => stdout.write_all(&entry.bytes),
            LogStream::Stderr if streams.stderr => stderr.write_all(&entry.bytes),
            _ => Ok(()),
        };
        match written {
            Ok(()) => ControlFlow::Continue(()),
            Err(_) => ControlFlow::Break(()),
        }
    });
}

/// Runs a session on the hijacked connection until the container (or exec) ends, the
/// detach keys are typed, or the client goes away; then the connection closes.
fn session(
    attachment: Attachment,
    mode: Mode,
    connection: Option<Connection>,
    (stdout, stderr): (Framed, Framed),
    streams: Streams,
    keys: &DetachKeys,
    size: Option<WindowSize>,
) {
    let (mut stdout, mut stderr) = outputs(stdout, stderr, streams);
    let mut input = connection
        .as_ref()
        .filter(|_| streams.stdin)
        .and_then(|c| c.try_clone().ok());
    let mut first_size = size;
    let mut window = move || first_size.take();
    let io = ClientIo {
        input: input.as_mut().map(|i| i as &mut dyn ReadFd),
        stdout: &mut *stdout,
        stderr: &mut *stderr,
        window: &mut window,
        hangup: connection.as_ref().map(|c| c.as_fd()),
    };
    if let Err(e) = attachment.session(mode, io, keys) {
        log::warn!("an attach session ended with an error: {e}");
    }
}

/// The client's outputs, the streams it did not ask for dropped.
fn outputs(stdout: Framed, stderr: Framed, streams: Streams) -> (Box<dyn Write>, Box<dyn Write>) {
    let keep = |wanted: bool, framed: Framed| -> Box<dyn Write> {
        match wanted {
            true => Box::new(framed),
            false => Box::new(std::io::sink()),
        }
    };
    (keep(streams.stdout, stdout), keep(streams.stderr, stderr))
}

/// An exec's session on the hijacked connection: started by the library once the
/// connection is the session's; a failure to start is written to the client, as
/// Docker does once it has answered the upgrade.
pub fn exec_session(
    ctx: Arc<Context>,
    exec: strata_runtime::exec::ExecRecord,
    size: Option<WindowSize>,
) -> crate::hijack::Session {
    Box::new(move |hijacked: Hijacked| {
        let tty = exec.options.tty;
        let (input, stdout, stderr, _busy) = hijacked.outputs(tty);
        let streams = Streams {
            stdin: exec.options.interactive,
            stdout: true,
            stderr: true,
        };
        let (mut stdout, mut stderr) = outputs(stdout, stderr, streams);
        let mut stdin = input
            .as_ref()
            .filter(|_| streams.stdin)
            .and_then(|c| c.try_clone().ok());
        let mut first_size = size;
        let mut window = move || first_size.take();
        let io = ClientIo {
            input: stdin.as_mut().map(|i| i as &mut dyn ReadFd),
            stdout: &mut *stdout,
            stderr: &mut *stderr,
            window: &mut window,
            hangup: input.as_ref().map(|c| c.as_fd()),
        };
        let keys = DetachKeys::parse(detach_keys::DEFAULT).expect("the default keys parse");
        let containers = ctx.containers();
        if let Err(e) = strata_runtime::exec::start_attached(&containers, &exec, &ctx.launcher(), io, &keys) {
            let _ = writeln!(stderr, "strata: exec failed: {e}");
        }
    })
}
