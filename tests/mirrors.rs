//! The README's table of the paths each kind requests (for people pointing `[sources]` at
//! mirrors) against the source code, both ways: every path the kinds build is in the
//! table, and every path in the table is built somewhere.

use std::collections::BTreeSet;
use std::path::Path;

/// `{id}`, `{}`, `{Spoken,Written}` all read as one placeholder.
fn normalise(path: &str) -> String {
    regex::Regex::new(r"\{[^}]*\}")
        .unwrap()
        .replace_all(path, "{}")
        .into_owned()
}

/// String literals in `src/source` that are request paths below a base URL.
fn paths_in_code() -> BTreeSet<String> {
    let literal =
        regex::Regex::new(r#""((?:api/|search/contributions/|changes/affected/)[^"\s]*)""#)
            .unwrap();
    let mut out = BTreeSet::new();
    let mut stack = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src/source")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            // Unit tests build URLs of their own, with queries.
            if p.file_name().is_some_and(|n| n == "tests.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
                for c in literal.captures_iter(line) {
                    out.insert(normalise(&c[1]));
                }
            }
        }
    }
    out
}

/// Backticked paths in the README's table between the `api-paths` markers.
fn paths_in_readme() -> BTreeSet<String> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let table = readme
        .split("<!-- api-paths -->")
        .nth(1)
        .and_then(|rest| rest.split("<!-- /api-paths -->").next())
        .expect("README has the api-paths table");
    let quoted =
        regex::Regex::new(r"`((?:api/|search/contributions/|changes/affected/)[^`?\s]*)`").unwrap();
    quoted
        .captures_iter(table)
        .map(|c| normalise(&c[1]))
        // `api/content{path}` is written with an example path after it.
        .filter(|p| !p.ends_with('…') && !p.contains("/government/"))
        .collect()
}

#[test]
fn the_readme_names_every_path_the_kinds_request_and_no_other() {
    let code = paths_in_code();
    let readme = paths_in_readme();
    assert!(code.len() >= 15, "paths found in the code: {code:?}");
    // A base the code joins paths onto (`api/content`) is documented by those paths.
    let undocumented: Vec<&String> = code
        .iter()
        .filter(|p| !readme.iter().any(|r| r.starts_with(p.as_str())))
        .collect();
    let gone: Vec<&String> = readme.difference(&code).collect();
    assert!(
        undocumented.is_empty() && gone.is_empty(),
        "requested but not in the README's table: {undocumented:?}\n\
         in the table but requested nowhere: {gone:?}"
    );
}
