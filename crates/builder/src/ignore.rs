//! `.dockerignore`: Docker's pattern rules. Patterns are cleaned paths relative to the
//! context (`/` and `./` prefixes dropped); `*` and `?` match within one path element,
//! `**` any number of elements; a `!` line re-includes what earlier lines excluded; the
//! last matching line wins; excluding a directory excludes everything under it.

#[derive(Debug, Clone, Default)]
pub struct Ignore {
    /// (pattern split into elements, is an exception)
    rules: Vec<(Vec<String>, bool)>,
}

impl Ignore {
    pub fn parse(text: &str) -> Self {
        let rules = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| match l.strip_prefix('!') {
                Some(rest) => (elements(rest.trim()), true),
                None => (elements(l), false),
            })
            .filter(|(p, _)| !p.is_empty())
            .collect();
        Ignore { rules }
    }

    /// Whether `path` (relative to the context, `/`-separated) is left out.
    pub fn excludes(&self, path: &str) -> bool {
        let parts = elements(path);
        let mut excluded = false;
        for (pattern, exception) in &self.rules {
            // A rule matches the path or one of its parent directories.
            let hit = (1..=parts.len()).any(|n| glob_elements(pattern, &parts[..n]));
            if hit {
                excluded = !exception;
            }
        }
        excluded
    }

    /// Whether an exception (`!` line) may re-include something below the directory
    /// `dir`: Docker walks into an excluded directory then (`docs` then `!docs/keep.md`
    /// copies docs/keep.md), and skips it otherwise.
    pub fn may_reinclude_under(&self, dir: &str) -> bool {
        let parts = elements(dir);
        self.rules.iter().any(|(pattern, exception)| {
            *exception
                && (pattern.iter().any(|p| p == "**")
                    || (pattern.len() > parts.len() && glob_elements(&pattern[..parts.len()], &parts)))
        })
    }
}

/// A cleaned relative path as elements: no empty, `.` or leading `/` parts; `..` pops.
pub fn elements(path: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            p => out.push(p.to_string()),
        }
    }
    out
}

/// Matches path elements against pattern elements (`**` spans any number).
pub fn glob_elements(pattern: &[String], path: &[String]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first == "**" => (0..=path.len()).any(|skip| glob_elements(rest, &path[skip..])),
        Some((first, rest)) => match path.split_first() {
            Some((p, path_rest)) => glob(first, p) && glob_elements(rest, path_rest),
            None => false,
        },
    }
}

/// `filepath.Match` within one element: `*`, `?`, `[abc]`, `[a-z]`, `[^x]`, `\` escapes.
pub fn glob(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    glob_at(&p, &n)
}

fn glob_at(p: &[char], n: &[char]) -> bool {
    match p.first() {
        None => n.is_empty(),
        Some('*') => (0..=n.len()).any(|i| glob_at(&p[1..], &n[i..])),
        Some('?') => !n.is_empty() && glob_at(&p[1..], &n[1..]),
        Some('[') => {
            let Some(close) = p.iter().skip(1).position(|c| *c == ']').map(|i| i + 1) else {
                return n.first() == Some(&'[') && glob_at(&p[1..], &n[1..]);
            };
            let Some(&c) = n.first() else { return false };
            let class = &p[1..close];
            let (negated, class) = match class.first() {
                Some('^') | Some('!') => (true, &class[1..]),
                _ => (false, class),
            };
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == '-' {
                    hit |= class[i] <= c && c <= class[i + 2];
                    i += 3;
                } else {
                    hit |= class[i] == c;
                    i += 1;
                }
            }
            hit != negated && glob_at(&p[close + 1..], &n[1..])
        }
        Some('\\') if p.len() > 1 => n.first() == Some(&p[1]) && glob_at(&p[2..], &n[1..]),
        Some(c) => n.first() == Some(c) && glob_at(&p[1..], &n[1..]),
    }
}

/// Whether a pattern has glob characters.
pub fn has_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerignore_rules() {
        let ignore = Ignore::parse("# comment\n*.log\n!keep.log\n/tmp\nbuild/**/*.o\n**/secret\n./docs\n");
        let cases = [
            ("a.log", true),
            ("keep.log", false),
            ("sub/a.log", false),
            ("tmp/x/y", true),
            ("build/a/b/c.o", true),
            ("build/c.o", true),
            ("build/c.c", false),
            ("deep/er/secret", true),
            ("secret", true),
            ("docs/index.md", true),
            ("src/main.c", false),
        ];
        for (path, want) in cases {
            assert_eq!(ignore.excludes(path), want, "{path}");
        }
    }

    #[test]
    fn exceptions_reinclude_inside_excluded_directories() {
        let ignore = Ignore::parse("vendor\n!vendor/keep\n");
        assert!(ignore.excludes("vendor/x"));
        assert!(!ignore.excludes("vendor/keep"));
    }

    #[test]
    fn an_excluded_directory_is_walked_only_when_an_exception_reaches_below_it() {
        let ignore = Ignore::parse("docs\n!docs/keep.md\nbuild\n!src/*/keep\n");
        assert!(ignore.may_reinclude_under("docs"));
        assert!(!ignore.may_reinclude_under("build"));
        assert!(ignore.may_reinclude_under("src/a"));
        assert!(!ignore.may_reinclude_under("src/a/keep"));
        assert!(Ignore::parse("x\n!**/keep\n").may_reinclude_under("x"));
    }

    #[test]
    fn element_globs() {
        assert!(glob("*.txt", "a.txt"));
        assert!(!glob("*.txt", "a.txt.bak"));
        assert!(glob("f?le[0-9]", "file7"));
        assert!(!glob("f[^i]le", "file"));
        assert!(glob("\\*", "*"));
    }
}
