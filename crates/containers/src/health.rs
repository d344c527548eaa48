//! Health checks, Docker's `HEALTHCHECK`: the check a container runs (from its image,
//! overridden by `--health-*`), and the state its monitor keeps in
//! `containers/<id>/health.json` for `inspect` (`State.Health`), `ps` ("(healthy)") and
//! `ps --filter health=`.

use crate::error::{ContainerError, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A check, as Docker's JSON has it (durations in nanoseconds; 0: the default).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Healthcheck {
    /// `["CMD", args…]`, `["CMD-SHELL", command]`, `["NONE"]`, or empty: the image's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub test: Vec<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub interval: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub timeout: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_period: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_interval: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// Docker's defaults.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);
const DEFAULT_RETRIES: u32 = 3;

fn or(nanos: i64, default: Duration) -> Duration {
    if nanos > 0 {
        Duration::from_nanos(nanos as u64)
    } else {
        default
    }
}

impl Healthcheck {
    /// The command a check runs, `None` when checks are off (`NONE`, or no test).
    pub fn command(&self) -> Option<Vec<String>> {
        match self.test.split_first() {
            Some((kind, args)) if kind == "CMD" && !args.is_empty() => Some(args.to_vec()),
            Some((kind, args)) if kind == "CMD-SHELL" && !args.is_empty() => {
                Some(vec!["/bin/sh".into(), "-c".into(), args.join(" ")])
            }
            _ => None,
        }
    }

    pub fn interval(&self) -> Duration {
        or(self.interval, DEFAULT_INTERVAL)
    }

    pub fn timeout(&self) -> Duration {
        or(self.timeout, DEFAULT_TIMEOUT)
    }

    pub fn start_period(&self) -> Duration {
        or(self.start_period, Duration::ZERO)
    }

    pub fn start_interval(&self) -> Duration {
        or(self.start_interval, DEFAULT_START_INTERVAL)
    }

    pub fn retries(&self) -> u32 {
        if self.retries > 0 {
            self.retries as u32
        } else {
            DEFAULT_RETRIES
        }
    }

    /// The check a container runs: the user's over the image's, field by field where
    /// the user's is unset (Docker's merge).
    pub fn merge(image: Option<&Healthcheck>, user: Option<&Healthcheck>) -> Option<Healthcheck> {
        let (image, user) = match (image, user) {
            (None, None) => return None,
            (Some(i), None) => return Some(i.clone()),
            (None, Some(u)) => return Some(u.clone()),
            (Some(i), Some(u)) => (i, u),
        };
        let pick = |u: i64, i: i64| if u != 0 { u } else { i };
        Some(Healthcheck {
            test: if user.test.is_empty() {
                image.test.clone()
            } else {
                user.test.clone()
            },
            interval: pick(user.interval, image.interval),
            timeout: pick(user.timeout, image.timeout),
            start_period: pick(user.start_period, image.start_period),
            start_interval: pick(user.start_interval, image.start_interval),
            retries: pick(user.retries, image.retries),
        })
    }
}

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthResult {
    pub start: String,
    pub end: String,
    pub exit_code: i64,
    pub output: String,
}

/// A container's health, as `inspect` shows it in `State.Health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    pub status: String,
    pub failing_streak: i64,
    pub log: Vec<HealthResult>,
}

pub const STARTING: &str = "starting";
pub const HEALTHY: &str = "healthy";
pub const UNHEALTHY: &str = "unhealthy";

/// How many results the log keeps, and how much of a check's output.
const KEPT_RESULTS: usize = 5;
pub const MAX_OUTPUT: usize = 4096;

impl Health {
    pub fn starting() -> Health {
        Health {
            status: STARTING.into(),
            failing_streak: 0,
            log: Vec::new(),
        }
    }

    /// Takes a result in; the new status when it changed. Failures inside the start
    /// period do not count (Docker's rule), a success ends it.
    pub fn record(&mut self, result: HealthResult, retries: u32, in_start_period: bool) -> Option<&'static str> {
        let passed = result.exit_code == 0;
        self.log.push(result);
        if self.log.len() > KEPT_RESULTS {
            self.log.remove(0);
        }
        let before = self.status.clone();
        if passed {
            self.failing_streak = 0;
            self.status = HEALTHY.into();
        } else if !(in_start_period && self.status == STARTING) {
            self.failing_streak += 1;
            if self.failing_streak >= i64::from(retries) {
                self.status = UNHEALTHY.into();
            }
        }
        let now = match self.status.as_str() {
            HEALTHY => HEALTHY,
            _ => UNHEALTHY,
        };
        (self.status != before).then_some(now)
    }

    /// What `ps` adds to "Up 3 minutes".
    pub fn status_suffix(&self) -> String {
        status_suffix(&self.status)
    }
}

/// A container's health in one word, as `ps --filter health=` takes it: `none` without
/// a check; `starting` until its monitor recorded a result. `dir`: its directory.
pub fn state_word(dir: &Path, check: Option<&Healthcheck>) -> String {
    match check {
        None => "none".into(),
        Some(_) => load(dir).map_or_else(|| STARTING.into(), |h| h.status),
    }
}

/// What `ps` adds to a running container's "Up 3 minutes" for its health `word`.
pub fn status_suffix(word: &str) -> String {
    match word {
        STARTING => " (health: starting)".into(),
        other => format!(" ({other})"),
    }
}

fn path(dir: &Path) -> PathBuf {
    dir.join("health.json")
}

/// The health its monitor last recorded, in the container's directory `dir`.
pub fn load(dir: &Path) -> Option<Health> {
    serde_json::from_slice(&std::fs::read(path(dir)).ok()?).ok()
}

/// Records the health whole (a reader never sees half of it).
pub fn save(dir: &Path, health: &Health) -> Result<()> {
    let target = path(dir);
    let tmp = dir.join(format!("health.{:016x}.tmp", rand::random::<u64>()));
    std::fs::write(&tmp, serde_json::to_vec(health).expect("health serializes"))
        .and_then(|()| std::fs::rename(&tmp, &target))
        .map_err(|e| ContainerError::io(format!("writing {}", target.display()), e))
}

/// A Go duration (`30s`, `1m30s`, `1.5h`, `500ms`), as Docker's `--health-*` flags
/// take them.
pub fn parse_duration(text: &str) -> Result<Duration> {
    let invalid = || {
        ContainerError::Invalid(format!(
            "invalid duration {text:?}: use a number and a unit, as 30s, 1m30s or 500ms"
        ))
    };
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = text;
    let mut total = 0f64;
    if rest.is_empty() {
        return Err(invalid());
    }
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let number: f64 = rest[..number_len].parse().map_err(|_| invalid())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(invalid()),
        };
        total += number * seconds;
        rest = &rest[unit_len..];
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(code: i64) -> HealthResult {
        HealthResult {
            start: String::new(),
            end: String::new(),
            exit_code: code,
            output: String::new(),
        }
    }

    #[test]
    fn the_users_check_overrides_the_images_field_by_field() {
        let image = Healthcheck {
            test: vec!["CMD-SHELL".into(), "wget -q localhost".into()],
            interval: 10,
            retries: 5,
            ..Default::default()
        };
        let user = Healthcheck {
            interval: 20,
            ..Default::default()
        };
        let merged = Healthcheck::merge(Some(&image), Some(&user)).unwrap();
        assert_eq!(
            (merged.test.clone(), merged.interval, merged.retries),
            (image.test.clone(), 20, 5)
        );
        assert_eq!(merged.command().unwrap(), ["/bin/sh", "-c", "wget -q localhost"]);
        let off = Healthcheck {
            test: vec!["NONE".into()],
            ..Default::default()
        };
        assert_eq!(Healthcheck::merge(Some(&image), Some(&off)).unwrap().command(), None);
    }

    #[test]
    fn retries_failures_in_a_row_make_it_unhealthy_and_one_success_healthy() {
        let mut h = Health::starting();
        assert_eq!(h.record(result(1), 2, true), None, "the start period forgives");
        assert_eq!(h.failing_streak, 0);
        assert_eq!(h.record(result(1), 2, false), None);
        assert_eq!(h.record(result(1), 2, false), Some(UNHEALTHY));
        assert_eq!(h.status_suffix(), " (unhealthy)");
        assert_eq!(h.record(result(0), 2, false), Some(HEALTHY));
        assert_eq!(h.failing_streak, 0);
        for _ in 0..10 {
            h.record(result(0), 2, false);
        }
        assert_eq!(h.log.len(), 5, "the last five results are kept");
    }

    #[test]
    fn go_durations_parse_as_dockers_flags_take_them() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("5 parsecs").is_err());
    }
}
