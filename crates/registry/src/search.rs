//! `search`: the Docker Hub search API where a registry offers it (`/v1/search`),
//! otherwise the registry's catalog filtered by the term.

use crate::client::{read_json, Client, Payload, Scope};
use crate::error::{RegistryError, Result};
use serde::Deserialize;

/// One row of `strata search` (Docker's columns).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct SearchResult {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default, rename = "star_count")]
    pub stars: u64,
    #[serde(default, rename = "is_official")]
    pub official: bool,
    #[serde(default, rename = "is_automated")]
    pub automated: bool,
}

#[derive(Deserialize)]
struct SearchPage {
    results: Vec<SearchResult>,
}

#[derive(Deserialize)]
struct Catalog {
    repositories: Vec<String>,
}

/// Catalog pages read at most (each of up to 1000 names).
const MAX_CATALOG_PAGES: usize = 100;

impl Client {
    /// Repositories matching `term`, at most `limit`.
    pub fn search(&self, term: &str, limit: usize) -> Result<Vec<SearchResult>> {
        if let Some(found) = self.search_api(term, limit)? {
            return Ok(found);
        }
        let term_lower = term.to_ascii_lowercase();
        Ok(self
            .catalog()?
            .into_iter()
            .filter(|name| name.to_ascii_lowercase().contains(&term_lower))
            .take(limit)
            .map(|name| SearchResult {
                name: format!("{}/{name}", self.registry()),
                description: String::new(),
                stars: 0,
                official: false,
                automated: false,
            })
            .collect())
    }

    /// Docker Hub's search API; None when the registry does not offer it.
    fn search_api(&self, term: &str, limit: usize) -> Result<Option<Vec<SearchResult>>> {
        let query = format!("/v1/search?q={}&n={limit}", encode(term));
        let response = self.send("GET", &self.url(&query), &Scope(Vec::new()), &[], Payload::Empty);
        let response = match response {
            Ok(r) if r.status().is_success() => r,
            Ok(_) | Err(RegistryError::Unauthorized { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let page: SearchPage = read_json(
            response.into_body(),
            4 << 20,
            &format!("search answer of {}", self.registry()),
        )?;
        Ok(Some(page.results.into_iter().take(limit).collect()))
    }

    /// The tags of a repository.
    pub fn tags(&self, repository: &str) -> Result<Vec<String>> {
        #[derive(Deserialize)]
        struct Tags {
            tags: Option<Vec<String>>,
        }
        let what = format!("tags of {}/{repository}", self.registry());
        let url = self.url(&format!("/v2/{repository}/tags/list"));
        let response = self.send("GET", &url, &Scope::pull(repository), &[], Payload::Empty)?;
        if !response.status().is_success() {
            return Err(self.status_error(&what, response));
        }
        let list: Tags = read_json(response.into_body(), 4 << 20, &what)?;
        Ok(list.tags.unwrap_or_default())
    }

    /// Every repository name in the registry's catalog, following `Link` pages.
    pub fn catalog(&self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        let mut next = Some("/v2/_catalog?n=1000".to_string());
        let what = format!("catalog of {}", self.registry());
        for _ in 0..MAX_CATALOG_PAGES {
            let Some(path) = next.take() else { break };
            let response = self.send("GET", &self.url(&path), &Scope::catalog(), &[], Payload::Empty)?;
            if !response.status().is_success() {
                return Err(self.status_error(&what, response));
            }
            next = response
                .headers()
                .get("link")
                .and_then(|l| l.to_str().ok())
                .and_then(next_link);
            let page: Catalog = read_json(response.into_body(), 4 << 20, &what)?;
            names.extend(page.repositories);
        }
        Ok(names)
    }
}

/// The path of a `Link: </v2/_catalog?last=x&n=1000>; rel="next"` header.
fn next_link(header: &str) -> Option<String> {
    let (target, params) = header.split_once(';')?;
    params.contains("rel=\"next\"").then_some(())?;
    let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
    target.starts_with('/').then(|| target.to_string())
}

fn encode(term: &str) -> String {
    term.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Keeps the results Docker's search filters ask for: `stars=N` (at least N),
/// `is-official=BOOL`, `is-automated=BOOL`; any other key is refused by name.
pub fn apply_filters(results: &mut Vec<SearchResult>, filters: &strata_images::FilterArgs) -> Result<()> {
    for term in filters.terms() {
        let (key, value) = term.split_once('=').unwrap_or((&term, ""));
        let bad = || {
            RegistryError::invalid(
                format!("invalid filter '{term}'"),
                "expected stars=N, is-official=BOOL or is-automated=BOOL",
            )
        };
        match key {
            "stars" => {
                let min: u64 = value.parse().map_err(|_| bad())?;
                results.retain(|r| r.stars >= min);
            }
            "is-official" => {
                let want: bool = value.parse().map_err(|_| bad())?;
                results.retain(|r| r.official == want);
            }
            "is-automated" => {
                let want: bool = value.parse().map_err(|_| bad())?;
                results.retain(|r| r.automated == want);
            }
            _ => return Err(bad()),
        }
    }
    Ok(())
}

/// Splits `host[:port]/term` into registry and term; a bare term searches Docker Hub.
pub fn split_term(input: &str) -> (String, String) {
    match input.split_once('/') {
        Some((host, rest)) if host.contains('.') || host.contains(':') || host == "localhost" => {
            (host.to_string(), rest.to_string())
        }
        _ => ("docker.io".to_string(), input.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers_and_terms() {
        assert_eq!(
            next_link(r#"</v2/_catalog?last=b&n=1000>; rel="next""#).as_deref(),
            Some("/v2/_catalog?last=b&n=1000")
        );
        assert_eq!(next_link(r#"<http://elsewhere/x>; rel="next""#), None);
        assert_eq!(
            split_term("127.0.0.1:5000/busy"),
            ("127.0.0.1:5000".into(), "busy".into())
        );
        assert_eq!(split_term("busybox"), ("docker.io".into(), "busybox".into()));
        assert_eq!(encode("a b/c"), "a%20b%2Fc");
    }
}
