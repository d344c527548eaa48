//! Many API clients at once on one root: 20 clients mixing create, start, exec, ps,
//! wait and rm for 30 seconds (bench/api-soak.sh runs 100 for 60, through
//! STRATA_SOAK_CLIENTS and STRATA_SOAK_SECONDS). Every request is answered as it should
//! be, and afterwards the store is consistent (`system check`) and nothing is left behind.

mod harness;

use harness::service::{request, with_busybox, HttpReply, Service};
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How many clients, and for how long: 20 for 30 s in the suite.
fn load() -> (usize, Duration) {
    let number = |key: &str, default: u64| std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    (
        number("STRATA_SOAK_CLIENTS", 20) as usize,
        Duration::from_secs(number("STRATA_SOAK_SECONDS", 30)),
    )
}

fn post(service: &Service, path: &str, body: &str) -> HttpReply {
    let headers: &[(&str, &str)] = match body.is_empty() {
        true => &[],
        false => &[("Content-Type", "application/json")],
    };
    service.send(&request("POST", path, headers, body.as_bytes()))
}

fn id_of(reply: &HttpReply) -> String {
    let doc: Value = serde_json::from_slice(&reply.body).unwrap();
    doc["Id"].as_str().unwrap().to_string()
}

/// One client's round: a container made, started, exec'd in, listed, waited for and
/// removed. Panics, naming the step, on any answer but the right one.
fn round(service: &Service, client: usize, n: usize) {
    let name = format!("soak-{client}-{n}");
    let body =
        r#"{"Image":"busybox:test","Cmd":["sh","-c","sleep 0.2; echo done"],"HostConfig":{"NetworkMode":"none"}}"#;
    let created = post(service, &format!("/containers/create?name={name}"), body);
    assert_eq!(
        created.status,
        201,
        "create {name}: {}",
        String::from_utf8_lossy(&created.body)
    );
    let id = id_of(&created);
    let started = post(service, &format!("/containers/{id}/start"), "");
    assert_eq!(
        started.status,
        204,
        "start {name}: {}",
        String::from_utf8_lossy(&started.body)
    );
    let exec = post(service, &format!("/containers/{id}/exec"), r#"{"Cmd":["true"]}"#);
    // The container may end before the exec is made: a 409 then, never anything else.
    if exec.status == 201 {
        let ran = post(service, &format!("/exec/{}/start", id_of(&exec)), r#"{"Detach":true}"#);
        assert!(
            matches!(ran.status, 200 | 409),
            "exec start in {name}: {} {}",
            ran.status,
            String::from_utf8_lossy(&ran.body)
        );
    } else {
        assert_eq!(
            exec.status,
            409,
            "exec in {name}: {}",
            String::from_utf8_lossy(&exec.body)
        );
    }
    let listed = service.http("GET", "/containers/json?all=1");
    assert_eq!(listed.status, 200, "ps");
    let rows: Value = serde_json::from_slice(&listed.body).unwrap();
    assert!(
        rows.as_array().unwrap().iter().any(|r| r["Id"] == id.as_str()),
        "ps lists {name}"
    );
    let waited = post(service, &format!("/containers/{id}/wait"), "");
    assert_eq!(waited.status, 200, "wait {name}");
    let code: Value = serde_json::from_slice(&waited.body).unwrap();
    assert_eq!(code["StatusCode"], 0, "{name}'s exit code");
    let removed = service.send(&request("DELETE", &format!("/containers/{id}"), &[], b""));
    assert_eq!(
        removed.status,
        204,
        "rm {name}: {}",
        String::from_utf8_lossy(&removed.body)
    );
}

#[test]
fn twenty_clients_for_thirty_seconds_leave_a_consistent_store() {
    let (clients, duration) = load();
    let t = with_busybox();
    let service = Service::start(&t);
    let rounds = AtomicUsize::new(0);
    let until = Instant::now() + duration;
    std::thread::scope(|s| {
        for client in 0..clients {
            let (service, rounds) = (&service, &rounds);
            s.spawn(move || {
                let mut n = 0;
                // Every client does at least one round, however slow the machine.
                while n == 0 || Instant::now() < until {
                    round(service, client, n);
                    n += 1;
                    rounds.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    assert!(rounds.load(Ordering::Relaxed) >= clients);
    assert_eq!(t.ok(&["ps", "-aq"]).trim(), "", "every container was removed");
    t.ok(&["system", "check"]);
    eprintln!(
        "{} rounds by {clients} clients in {duration:?}",
        rounds.load(Ordering::Relaxed)
    );
}
