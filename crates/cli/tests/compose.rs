//! Compose projects on strata's Engine API socket (issue 19), with both tools the test
//! command installs: Debian's docker-compose 1.29 and docker compose v5 (built from the Go
//! module proxy by scripts/compose.sh, a docker CLI plugin). One project: a web server
//! built from a Dockerfile, publishing a port, and a client that fetches its page by
//! service name over a user network; the two share a named volume. `up -d --build`, `ps`,
//! `logs`, `exec`, `restart`, `stop`/`start`, a recreation on a changed config (the name
//! must still resolve) and `down -v`.

mod harness;

use harness::free_port;
use harness::service::{http_get, with_busybox, Service};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Generous: a slow machine never fails a test.
const BOUND: Duration = Duration::from_secs(180);

/// Polls `probe` until it gives something, or fails naming `what`.
fn eventually<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + BOUND;
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(Instant::now() < deadline, "{what}: not within {BOUND:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn project(dir: &Path, port: u16, changed: &str) {
    std::fs::create_dir_all(dir.join("web")).unwrap();
    std::fs::write(
        dir.join("web/Dockerfile"),
        "FROM busybox:test\n\
         RUN mkdir -p /www && echo 'hello from web' > /www/index.html\n\
         CMD [\"httpd\", \"-f\", \"-v\", \"-p\", \"80\", \"-h\", \"/www\"]\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("compose.yaml"),
        format!(
            "services:\n\
             \x20 web:\n\
             \x20   build: ./web\n\
             \x20   environment:\n\
             \x20     CHANGED: \"{changed}\"\n\
             \x20   ports:\n\
             \x20     - \"127.0.0.1:{port}:80\"\n\
             \x20   volumes:\n\
             \x20     - shared:/data\n\
             \x20   networks: [appnet]\n\
             \x20 client:\n\
             \x20   image: busybox:test\n\
             \x20   command: [\"sh\", \"-c\", \"while true; do wget -q -O /data/page http://web/ && cp /data/page /data/seen && echo fetched; sleep 1; done\"]\n\
             \x20   volumes:\n\
             \x20     - shared:/data\n\
             \x20   networks: [appnet]\n\
             \x20   depends_on: [web]\n\
             volumes:\n\
             \x20 shared: {{}}\n\
             networks:\n\
             \x20 appnet: {{}}\n"
        ),
    )
    .unwrap();
}

/// One compose tool, pointed at the service.
struct Tool<'a> {
    name: &'static str,
    service: &'a Service,
    dir: PathBuf,
    project: &'static str,
}

impl Tool<'_> {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = match self.name {
            "docker-compose" => Command::new("/usr/bin/docker-compose"),
            _ => self.service.docker_cmd(&["compose"]),
        };
        cmd.args(["-p", self.project])
            .args(args)
            .current_dir(&self.dir)
            .env("DOCKER_HOST", format!("unix://{}", self.service.socket.display()))
            .env("DOCKER_CONFIG", &self.service.docker_config)
            .stdin(std::process::Stdio::null());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args)
            .output()
            .unwrap_or_else(|e| panic!("{} {args:?}: {e} (scripts/test.sh installs it)", self.name))
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{} {args:?} failed ({}):\nstdout: {}\nstderr: {}\nservice log: {}",
            self.name,
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.service.log_text()
        );
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    /// What the client last fetched from the web server, by its service name.
    fn fetched(&self) -> String {
        // docker-compose 1.29 allocates a terminal unless told not to.
        let exec = ["exec", "-T", "client", "cat", "/data/seen"];
        eventually(&format!("{}: the client reaching web by name", self.name), || {
            let out = self.run(&exec);
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            (out.status.success() && !text.is_empty()).then_some(text)
        })
    }

    fn forget_fetched(&self) {
        self.ok(&["exec", "-T", "client", "rm", "-f", "/data/seen"]);
    }
}

/// The compose v5 plugin where the docker CLI of `service` finds it.
fn install_plugin(service: &Service) {
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.tools/cli-plugins/docker-compose");
    assert!(
        built.exists(),
        "{} is missing: scripts/compose.sh builds it",
        built.display()
    );
    let plugins = service.docker_config.join("cli-plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    let _ = std::fs::remove_file(plugins.join("docker-compose"));
    std::os::unix::fs::symlink(built.canonicalize().unwrap(), plugins.join("docker-compose")).unwrap();
}

fn a_project_runs_from_up_to_down(name: &'static str, project_name: &'static str) {
    let t = with_busybox();
    let service = Service::start(&t);
    install_plugin(&service);
    let dir = t.path(project_name);
    let port = free_port();
    project(&dir, port, "1");
    let tool = Tool {
        name,
        service: &service,
        dir: dir.clone(),
        project: project_name,
    };
    tool.ok(&["up", "-d", "--build"]);
    // The page from the host, through the published port.
    let page = eventually(&format!("{name}: the published port"), || {
        http_get(port).filter(|p| p.contains("hello from web"))
    });
    assert!(page.starts_with("HTTP/1."), "{page}");
    assert_eq!(tool.fetched(), "hello from web\n");
    let ps = tool.ok(&["ps"]);
    assert!(ps.contains("web") && ps.contains("client"), "{name}: {ps}");
    let logs = eventually(&format!("{name}: the client's logs"), || {
        let logs = tool.ok(&["logs", "client"]);
        logs.contains("fetched").then_some(logs)
    });
    assert!(logs.contains("client"), "{name}: {logs}");
    assert_eq!(
        tool.ok(&["exec", "-T", "web", "cat", "/www/index.html"]).trim(),
        "hello from web"
    );
    tool.ok(&["restart"]);
    tool.forget_fetched();
    assert_eq!(tool.fetched(), "hello from web\n", "{name}: after restart");
    tool.ok(&["stop"]);
    let stopped = t.ok(&["ps", "-q", "--filter", &format!("name={project_name}")]);
    assert_eq!(stopped.trim(), "", "{name}: nothing runs after stop");
    tool.ok(&["start"]);
    tool.forget_fetched();
    assert_eq!(tool.fetched(), "hello from web\n", "{name}: after start");
    // A changed service config recreates its container; the client still finds it by name.
    let before = t.ok(&["ps", "-q", "--no-trunc", "--filter", &format!("name={project_name}")]);
    project(&dir, port, "2");
    tool.ok(&["up", "-d"]);
    let after = t.ok(&["ps", "-q", "--no-trunc", "--filter", &format!("name={project_name}")]);
    assert_ne!(before, after, "{name}: web was recreated");
    tool.forget_fetched();
    assert_eq!(tool.fetched(), "hello from web\n", "{name}: after recreation");
    assert!(http_get(port).is_some_and(|p| p.contains("hello from web")));
    tool.ok(&["down", "-v"]);
    assert_eq!(
        t.ok(&["ps", "-aq", "--filter", &format!("name={project_name}")]).trim(),
        ""
    );
    assert!(
        !t.ok(&["network", "ls"]).contains(project_name),
        "{name}: its network is gone"
    );
    assert!(
        !t.ok(&["volume", "ls"]).contains(project_name),
        "{name}: its volume is gone"
    );
}

#[test]
fn docker_compose_1_29_runs_a_project_from_up_to_down() {
    a_project_runs_from_up_to_down("docker-compose", "legacy");
}

#[test]
fn compose_v5_runs_a_project_from_up_to_down() {
    a_project_runs_from_up_to_down("compose v5", "modern");
}
