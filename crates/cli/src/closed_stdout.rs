//! A standard output whose reader is gone (`strata images | head`) ends the command as it
//! ends docker's and every C tool's: killed by SIGPIPE, nothing on stderr. Rust ignores
//! SIGPIPE (the monitors this process forks, and the service, must outlive a client that
//! hangs up), so the write fails instead: `println!` panics, a `write` returns EPIPE.
//! Both end here, and only when standard output really is a pipe without a reader: an
//! EPIPE from a registry's connection is an error like any other.

/// Whether standard output is a pipe (or socket) whose reading end is closed.
pub fn is_closed() -> bool {
    let mut fds = [libc::pollfd {
        fd: 1,
        events: libc::POLLOUT,
        revents: 0,
    }];
    // SAFETY: one pollfd of ours, a zero timeout.
    let ready = unsafe { libc::poll(fds.as_mut_ptr(), 1, 0) };
    ready == 1 && fds[0].revents & libc::POLLERR != 0
}

/// Ends the process as SIGPIPE's default action does (a shell shows status 141).
pub fn die_of_sigpipe() -> ! {
    // SAFETY: the disposition of SIGPIPE is set back to the default, then the signal is
    // sent to this thread: the process ends here, as it would have at the write.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::raise(libc::SIGPIPE);
    }
    std::process::exit(141)
}

/// A panic of a print to a closed standard output ends the process quietly; any other
/// panic is reported as before.
pub fn quiet_print_panics() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to stdout") && is_closed() {
            die_of_sigpipe();
        }
        report(info)
    }));
}

/// Whether `error` is (or was caused by) an EPIPE, for a command that failed writing.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<std::io::Error>())
        .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}
