//! A tiny reader for the parts of `Cargo.toml` xtask needs: a table's lines, the `[features]`
//! table, dependency renames, and which dependencies a feature enables.
//!
//! It reads the subset of TOML that manifests use for these tables (keys, strings, arrays of
//! strings over one or more lines, comments), not TOML in general.

use std::collections::{BTreeMap, BTreeSet};

/// The lines of table `[name]`, without its header and without comments.
pub(crate) fn section(manifest: &str, name: &str) -> String {
    let mut inside = false;
    let mut depth = 0usize;
    let mut lines = Vec::new();
    for raw in manifest.lines() {
        let line = strip_comment(raw);
        let trimmed = line.trim();
        if depth == 0 && trimmed.starts_with('[') {
            let header = trimmed.trim_start_matches('[').trim_end_matches(']').trim();
            inside = !trimmed.starts_with("[[") && header == name;
            continue;
        }
        depth = bracket_depth(depth, line);
        if inside {
            lines.push(line.to_owned());
        }
    }
    lines.join("\n")
}

/// The `[features]` table: each feature and the entries of its list, in manifest order.
pub(crate) fn parse_features(manifest: &str) -> BTreeMap<String, Vec<String>> {
    let text = section(manifest, "features");
    let mut features = BTreeMap::new();
    let mut rest = text.as_str();
    while let Some((key, after_key)) = next_key(rest) {
        let Some(after_eq) = after_key.trim_start().strip_prefix('=') else {
            break;
        };
        let Some(mut list) = after_eq.trim_start().strip_prefix('[') else {
            break;
        };
        let mut entries = Vec::new();
        loop {
            list = list.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
            if let Some(after) = list.strip_prefix(']') {
                list = after;
                break;
            }
            match quoted(list) {
                Some((entry, after)) => {
                    entries.push(entry);
                    list = after;
                }
                None => return features,
            }
        }
        features.insert(key, entries);
        rest = list;
    }
    features
}

/// The package each renamed dependency of `[table]` stands for, keyed by the dependency's name.
///
/// Only one-line inline tables with a `package = "..."` key are renames; every other
/// dependency is its own package.
pub(crate) fn renames(manifest: &str, table: &str) -> BTreeMap<String, String> {
    section(manifest, table)
        .lines()
        .filter_map(|line| {
            let (key, value) = line.split_once('=')?;
            let package = value.match_indices("package").find_map(|(index, _)| {
                let after = value[index + "package".len()..]
                    .trim_start()
                    .strip_prefix('=')?;
                quoted(after.trim_start()).map(|(package, _)| package)
            })?;
            Some((key.trim().trim_matches('"').to_owned(), package))
        })
        .collect()
}

/// The dependencies that enabling `feature` turns on, following the features it enables.
///
/// `dep:x`, `x/f` and a bare name that is not a feature (an optional dependency's implicit
/// feature) enable dependency `x`; `x?/f` enables nothing by itself.
pub(crate) fn enabled_dependencies(
    features: &BTreeMap<String, Vec<String>>,
    feature: &str,
) -> BTreeSet<String> {
    let mut dependencies = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut todo = vec![feature.to_owned()];
    while let Some(current) = todo.pop() {
        if !seen.insert(current.clone()) {
            continue;
        }
        let Some(entries) = features.get(&current) else {
            // A name that is not a feature is an optional dependency's implicit feature.
            dependencies.insert(current);
            continue;
        };
        for entry in entries {
            if let Some(dependency) = entry.strip_prefix("dep:") {
                dependencies.insert(dependency.to_owned());
            } else if entry.contains("?/") {
                // A weak feature only adds to a dependency something else enables.
            } else if let Some((dependency, _)) = entry.split_once('/') {
                dependencies.insert(dependency.to_owned());
                if features.contains_key(dependency) {
                    todo.push(dependency.to_owned());
                }
            } else {
                todo.push(entry.clone());
            }
        }
    }
    dependencies
}

fn strip_comment(line: &str) -> &str {
    let mut in_string = None;
    for (index, c) in line.char_indices() {
        match (in_string, c) {
            (None, '"' | '\'') => in_string = Some(c),
            (Some(quote), _) if c == quote => in_string = None,
            (None, '#') => return &line[..index],
            _ => {}
        }
    }
    line
}

fn bracket_depth(mut depth: usize, line: &str) -> usize {
    let mut in_string = None;
    for c in line.chars() {
        match (in_string, c) {
            (None, '"' | '\'') => in_string = Some(c),
            (Some(quote), _) if c == quote => in_string = None,
            (None, '[' | '{') => depth += 1,
            (None, ']' | '}') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    depth
}

/// The next key (bare or quoted) and the text after it.
fn next_key(text: &str) -> Option<(String, &str)> {
    let text = text.trim_start();
    if text.starts_with('"') || text.starts_with('\'') {
        return quoted(text);
    }
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .unwrap_or(text.len());
    (end > 0).then(|| (text[..end].to_owned(), &text[end..]))
}

/// A string in double or single quotes at the start of `text`, and the text after it.
fn quoted(text: &str) -> Option<(String, &str)> {
    let quote = text.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let body = &text[1..];
    let end = body.find(quote)?;
    Some((body[..end].to_owned(), &body[end + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FACADE: &str = r#"
[package]
name = "turnkit" # the facade
version.workspace = true

[features]
# Everything, for a new user.
default = ["full"]
full = [
    "regular",
    "review", # a sub-session
    "openai",
]
regular = ["dep:turnkit-tasks-regular", "turnkit-tasks-compact?/model"]
review = ["regular", "dep:turnkit-tasks-review"]
"openai" = ['dep:turnkit-model-openai', "turnkit-tasks-regular/openai"]
compact = ["turnkit-tasks-compact"]

[dependencies]
turnkit-tasks-regular = { workspace = true, optional = true }
tasks-review = { path = "../package-review", package = "turnkit-tasks-review", optional = true }

[[bench]]
name = "x"
"#;

    #[test]
    fn features_table_reads_multiline_lists_quotes_and_comments() {
        let features = parse_features(FACADE);
        assert_eq!(
            features.keys().collect::<Vec<_>>(),
            ["compact", "default", "full", "openai", "regular", "review"]
        );
        assert_eq!(features["full"], ["regular", "review", "openai"]);
        assert_eq!(
            features["openai"],
            ["dep:turnkit-model-openai", "turnkit-tasks-regular/openai"]
        );
        assert_eq!(features["default"], ["full"]);
    }

    #[test]
    fn manifest_without_features_has_none() {
        assert!(parse_features("[package]\nname = \"x\"\n").is_empty());
    }

    #[test]
    fn enabled_dependencies_follow_features_and_skip_weak_ones() {
        let features = parse_features(FACADE);
        let enabled = |feature| {
            enabled_dependencies(&features, feature)
                .into_iter()
                .collect::<Vec<_>>()
        };
        assert_eq!(enabled("regular"), ["turnkit-tasks-regular"]);
        assert_eq!(
            enabled("review"),
            ["turnkit-tasks-regular", "turnkit-tasks-review"]
        );
        assert_eq!(
            enabled("openai"),
            ["turnkit-model-openai", "turnkit-tasks-regular"]
        );
        assert_eq!(enabled("compact"), ["turnkit-tasks-compact"]);
        assert_eq!(
            enabled("full"),
            [
                "turnkit-model-openai",
                "turnkit-tasks-regular",
                "turnkit-tasks-review"
            ]
        );
    }

    #[test]
    fn section_stops_at_the_next_header_and_ignores_array_tables() {
        let dependencies = section(FACADE, "dependencies");
        assert!(dependencies.contains("turnkit-tasks-regular"));
        assert!(!dependencies.contains("name = \"x\""));
        assert_eq!(section(FACADE, "bench"), "");
    }

    #[test]
    fn renames_map_dependency_keys_to_packages() {
        let renames = renames(FACADE, "dependencies");
        assert_eq!(renames.len(), 1);
        assert_eq!(renames["tasks-review"], "turnkit-tasks-review");
    }

    #[test]
    fn package_name_is_read_from_the_package_table() {
        assert_eq!(
            crate::workspace::package_name(FACADE).as_deref(),
            Some("turnkit")
        );
        assert_eq!(
            crate::workspace::package_name("[dependencies]\nname = \"x\"\n"),
            None
        );
    }
}
