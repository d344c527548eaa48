//! `images`: the stored images as rows (one per name, or one `<none>` row), filtered
//! as Docker filters them. Front ends format the rows.

use crate::age::parse_time;
use crate::error::Result;
use crate::filter_args::{FilterArgs, LabelFilter};
use crate::reference::ImageRef;
use crate::store::ImageStore;
use chrono::{DateTime, Utc};
use strata_metadata::ListedImage;

/// The filters `images` knows.
pub const IMAGE_FILTERS: [&str; 5] = ["dangling", "reference", "before", "since", "label"];

/// An image under one of its names, or under `<none>` when it has none.
#[derive(Debug, Clone)]
pub struct ImageRow {
    pub image: ListedImage,
    pub repository: String,
    pub tag: String,
}

#[derive(Debug, Clone, Default)]
pub struct ImageListOptions {
    /// Intermediate images of builds too.
    pub all: bool,
    /// Only this repository (and tag, when it names one).
    pub repository: Option<ImageRef>,
    pub filters: FilterArgs,
}

/// The filters of one listing, with `before`/`since` resolved to times.
#[derive(Debug, Clone, Default)]
pub struct ImageFilter {
    pub dangling: Option<bool>,
    /// Go `path.Match` patterns against `repository:tag` or `repository`.
    pub references: Vec<String>,
    pub before: Option<DateTime<Utc>>,
    pub since: Option<DateTime<Utc>>,
    pub labels: Vec<LabelFilter>,
}

impl ImageFilter {
    /// Checks the keys and resolves `before=`/`since=` images in `store`.
    pub fn new(store: &ImageStore, args: &FilterArgs) -> Result<Self> {
        args.check_keys("images", &IMAGE_FILTERS)?;
        let created = |key| -> Result<Option<DateTime<Utc>>> {
            match args.last(key) {
                Some(name) => Ok(store.resolve(name)?.image.created.as_deref().and_then(parse_time)),
                None => Ok(None),
            }
        };
        Ok(ImageFilter {
            dangling: args.boolean("dangling")?,
            references: args.values("reference").map(str::to_string).collect(),
            before: created("before")?,
            since: created("since")?,
            labels: args.labels(),
        })
    }

    /// Whether the row passes; `labels` are the image's config labels (asked for
    /// only when a label filter needs them).
    pub fn matches(&self, row: &ImageRow, labels: impl FnOnce() -> serde_json::Value) -> bool {
        // Names and times are made only for the filters that compare them: a listing
        // without filters goes through ten thousand rows.
        let created = || row.image.created.as_deref().and_then(parse_time);
        let references = || {
            let name = format!("{}:{}", row.repository, row.tag);
            self.references
                .iter()
                .any(|p| glob(p, &name) || glob(p, &row.repository))
        };
        self.dangling.is_none_or(|d| d == row.image.tags.is_empty())
            && (self.references.is_empty() || references())
            // An image of unknown age is older than any other.
            && self.before.is_none_or(|b| created().is_none_or(|c| c < b))
            && self.since.is_none_or(|s| created().is_some_and(|c| c > s))
            && (self.labels.is_empty() || {
                let labels = labels();
                self.labels.iter().all(|l| l.matches(|k| labels.get(k).and_then(|v| v.as_str())))
            })
    }
}

/// Whether the row is of the wanted repository (and tag).
fn is_wanted(row: &ImageRow, wanted: &ImageRef) -> bool {
    let repository = row.repository == wanted.familiar_repository() || row.repository == wanted.repository();
    repository && wanted.tag().is_none_or(|t| t == row.tag)
}

/// Go's `path.Match` for the `*` and `?` wildcards that reference filters use.
pub fn glob(pattern: &str, text: &str) -> bool {
    fn m(p: &[char], t: &[char]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some('*'), _) => (0..=t.len())
                .take_while(|&i| i == 0 || t[i - 1] != '/')
                .any(|i| m(&p[1..], &t[i..])),
            (Some('?'), Some(c)) if *c != '/' => m(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => m(&p[1..], &t[1..]),
            _ => false,
        }
    }
    m(&pattern.chars().collect::<Vec<_>>(), &text.chars().collect::<Vec<_>>())
}

/// One row per name of each image, one `<none>` row for an image without names.
pub fn rows(images: Vec<ListedImage>) -> Vec<ImageRow> {
    let mut out = Vec::with_capacity(images.len());
    for mut image in images {
        if image.tags.is_empty() {
            out.push(ImageRow {
                image,
                repository: "<none>".into(),
                tag: "<none>".into(),
            });
            continue;
        }
        let names: Vec<(String, String)> = image.tags.iter().map(|t| split_name(t)).collect();
        let last = names.len() - 1;
        for (i, (repository, tag)) in names.into_iter().enumerate() {
            // The image itself goes with its last name: one copy fewer per row.
            let image = if i == last {
                std::mem::take(&mut image)
            } else {
                image.clone()
            };
            out.push(ImageRow { image, repository, tag });
        }
    }
    out
}

/// A stored (fully qualified) name as `images` shows it: familiar repository and tag.
pub fn split_name(name: &str) -> (String, String) {
    match ImageRef::parse(name) {
        Ok(r) => (r.familiar_repository(), r.tag().unwrap_or("<none>").to_string()),
        Err(_) => (name.to_string(), "<none>".into()),
    }
}

/// The labels of an image's config (`null` when it has none or cannot be read):
/// `stored`, the database's copy, when there is one, else read from the config.
pub fn config_labels(store: &ImageStore, id: &str, stored: Option<&str>) -> serde_json::Value {
    let from_config = || store.config_bytes_of(id).ok().map(|b| crate::config::labels_json(&b));
    stored
        .map(str::to_string)
        .or_else(from_config)
        .and_then(|json| serde_json::from_str(&json).ok())
        .unwrap_or_default()
}

/// The labels of a listed image.
pub fn labels(store: &ImageStore, image: &ListedImage) -> serde_json::Value {
    config_labels(store, &image.id, image.labels.as_deref())
}

/// The rows `images` shows.
pub fn list_images(store: &ImageStore, options: &ImageListOptions) -> Result<Vec<ImageRow>> {
    let filter = ImageFilter::new(store, &options.filters)?;
    let mut images = store.db().image_list()?;
    if !options.all {
        let intermediate = store.db().intermediate_images()?;
        images.retain(|i| !i.tags.is_empty() || !intermediate.contains(&i.id));
    }
    let wanted = |row: &ImageRow| options.repository.as_ref().is_none_or(|w| is_wanted(row, w));
    let mut rows = rows(images);
    rows.retain(|row| wanted(row) && filter.matches(row, || labels(store, &row.image)));
    Ok(rows)
}

/// Every stored tag of `repository`, ordered by tag (what `push --all-tags` and the
/// Engine API's push without a tag send).
pub fn repository_tags(store: &ImageStore, repository: &ImageRef) -> Result<Vec<ImageRef>> {
    let wanted = repository.repository();
    let mut references: Vec<ImageRef> = store
        .list()?
        .iter()
        .flat_map(|image| image.tags.clone())
        .filter_map(|t| ImageRef::parse(&t).ok())
        .filter(|r| r.repository() == wanted)
        .collect();
    references.sort_by(|a, b| a.tag().cmp(&b.tag()));
    Ok(references)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(id: &str, tags: &[&str], created: &str) -> ListedImage {
        ListedImage {
            id: id.into(),
            created: Some(created.into()),
            size: 0,
            added_at: String::new(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            labels: None,
        }
    }

    fn names(filter: &ImageFilter, images: Vec<ListedImage>) -> Vec<String> {
        rows(images)
            .into_iter()
            .filter(|r| filter.matches(r, || serde_json::json!({"team": "web"})))
            .map(|r| format!("{}:{}", r.repository, r.tag))
            .collect()
    }

    fn sample() -> Vec<ListedImage> {
        vec![
            image(
                "sha256:a",
                &["docker.io/library/busybox:1", "docker.io/library/busybox:2"],
                "2024-01-01T00:00:00Z",
            ),
            image("sha256:b", &[], "2024-01-02T00:00:00Z"),
            image("sha256:c", &["example.com:5000/tools:1"], "2024-01-03T00:00:00.5Z"),
        ]
    }

    #[test]
    fn glob_matches_like_go_path_match() {
        assert!(glob("busy*", "busybox"));
        assert!(glob("busybox:*", "busybox:latest"));
        assert!(!glob("busy*", "library/busybox"));
        assert!(glob("b?sybox", "busybox"));
    }

    #[test]
    fn rows_name_each_tag_and_untagged_images_none() {
        let all = names(&ImageFilter::default(), sample());
        assert_eq!(
            all,
            ["busybox:1", "busybox:2", "<none>:<none>", "example.com:5000/tools:1"]
        );
    }

    #[test]
    fn dangling_and_reference_filters() {
        let dangling = ImageFilter {
            dangling: Some(true),
            ..Default::default()
        };
        assert_eq!(names(&dangling, sample()), ["<none>:<none>"]);
        let reference = ImageFilter {
            references: vec!["busybox:2".into(), "example.com:5000/*".into()],
            ..Default::default()
        };
        assert_eq!(names(&reference, sample()), ["busybox:2", "example.com:5000/tools:1"]);
    }

    #[test]
    fn before_and_since_compare_times_not_text() {
        let t = |s| parse_time(s);
        let window = ImageFilter {
            since: t("2024-01-01T00:00:00Z"),
            before: t("2024-01-03T00:00:00.6Z"),
            ..Default::default()
        };
        assert_eq!(names(&window, sample()), ["<none>:<none>", "example.com:5000/tools:1"]);
    }

    #[test]
    fn label_filters_read_the_config_labels() {
        let wanted = ImageFilter {
            labels: vec![LabelFilter::parse("team=web")],
            ..Default::default()
        };
        assert_eq!(names(&wanted, sample()).len(), 4);
        let other = ImageFilter {
            labels: vec![LabelFilter::parse("team=db")],
            ..Default::default()
        };
        assert!(names(&other, sample()).is_empty());
    }
}
