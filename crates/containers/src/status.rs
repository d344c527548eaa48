//! A container's status in Docker's words: "Created", "Up 3 minutes", "Up 3 minutes
//! (Paused)", "Exited (0) 2 hours ago". The caller passes "now" and whether the
//! container is frozen (the runtime knows), so the text is a function of its inputs.

use chrono::{DateTime, Utc};
use strata_images::age::human_age;
use strata_metadata::{ContainerRecord, ContainerState};

fn age(time: Option<&str>, now: DateTime<Utc>) -> String {
    time.and_then(|t| human_age(t, now)).unwrap_or_else(|| "?".into())
}

/// Docker's STATUS column.
pub fn status_text(record: &ContainerRecord, paused: bool, now: DateTime<Utc>) -> String {
    match record.state {
        ContainerState::Created => "Created".into(),
        ContainerState::Running if paused => format!("Up {} (Paused)", age(record.started_at.as_deref(), now)),
        ContainerState::Running => format!("Up {}", age(record.started_at.as_deref(), now)),
        ContainerState::Exited => format!(
            "Exited ({}) {} ago",
            record.exit_code.unwrap_or(0),
            age(record.finished_at.as_deref(), now)
        ),
    }
}

/// Docker's state word: `paused` for a frozen running container.
pub fn state_text(record: &ContainerRecord, paused: bool) -> &'static str {
    match record.state {
        ContainerState::Running if paused => "paused",
        state => state.as_str(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn record(state: ContainerState) -> ContainerRecord {
        ContainerRecord {
            id: "0123456789abcdef".into(),
            name: "web".into(),
            image_id: "sha256:feed".into(),
            image_name: "busybox".into(),
            config: "{}".into(),
            created: "2024-01-02T10:00:00Z".into(),
            state,
            pid: None,
            exit_code: None,
            started_at: Some("2024-01-02T11:57:00Z".into()),
            finished_at: Some("2024-01-02T10:00:00.25Z".into()),
        }
    }

    fn now() -> DateTime<Utc> {
        strata_images::age::parse_time("2024-01-02T12:00:00Z").unwrap()
    }

    #[test]
    fn statuses_read_like_dockers() {
        assert_eq!(status_text(&record(ContainerState::Created), false, now()), "Created");
        assert_eq!(
            status_text(&record(ContainerState::Running), false, now()),
            "Up 3 minutes"
        );
        assert_eq!(
            status_text(&record(ContainerState::Running), true, now()),
            "Up 3 minutes (Paused)"
        );
        let mut exited = record(ContainerState::Exited);
        exited.exit_code = Some(137);
        assert_eq!(status_text(&exited, false, now()), "Exited (137) 2 hours ago");
    }

    #[test]
    fn unknown_times_show_a_question_mark() {
        let mut running = record(ContainerState::Running);
        running.started_at = None;
        assert_eq!(status_text(&running, false, now()), "Up ?");
    }

    #[test]
    fn frozen_containers_are_paused() {
        assert_eq!(state_text(&record(ContainerState::Running), true), "paused");
        assert_eq!(state_text(&record(ContainerState::Running), false), "running");
        assert_eq!(state_text(&record(ContainerState::Exited), true), "exited");
    }
}
