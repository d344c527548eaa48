//! How long ago something happened, in Docker's words (`units.HumanDuration`): the
//! "Up 3 minutes" of a container's status and the "2 hours ago" of an image. The caller
//! passes "now", so the words are the same for the same instants.

use chrono::{DateTime, Utc};

/// Docker's `units.HumanDuration`.
pub fn human_duration(secs: i64) -> String {
    let hours = (secs as f64 / 3600.0).round() as i64;
    match secs {
        s if s < 1 => "Less than a second".into(),
        1 => "1 second".into(),
        s if s < 60 => format!("{s} seconds"),
        s if s / 60 == 1 => "About a minute".into(),
        s if s / 60 < 60 => format!("{} minutes", s / 60),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        s => format!("{} years", s / 3600 / 24 / 365),
    }
}

/// An RFC 3339 time as stored in records; `None` when it is not one.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}

/// [`human_duration`] from an RFC 3339 time to `now`; `None` when the time is not one.
pub fn human_age(time: &str, now: DateTime<Utc>) -> Option<String> {
    parse_time(time).map(|t| human_duration((now - t).num_seconds()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations_match_docker() {
        for (secs, want) in [
            (0, "Less than a second"),
            (1, "1 second"),
            (59, "59 seconds"),
            (60, "About a minute"),
            (600, "10 minutes"),
            (3600, "About an hour"),
            (7200, "2 hours"),
            (3 * 86400, "3 days"),
            (21 * 86400, "3 weeks"),
            (90 * 86400, "3 months"),
            (800 * 86400, "2 years"),
        ] {
            assert_eq!(human_duration(secs), want, "{secs}");
        }
    }

    #[test]
    fn ages_count_from_the_given_now() {
        let now = parse_time("2024-01-02T12:00:00Z").unwrap();
        assert_eq!(human_age("2024-01-02T11:57:00.5Z", now).as_deref(), Some("2 minutes"));
        assert_eq!(human_age("yesterday", now), None);
    }
}
