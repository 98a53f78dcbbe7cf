//! What the user is told about a snapshot: what was left out, how long it took.

use std::fmt::Write as _;
use std::time::Duration;

use turnkit_git_snapshot::{SkipReason, Skipped};

/// How many paths of one kind a summary names before it counts the rest.
const NAMED_PER_GROUP: usize = 5;

/// One line that sums up what a snapshot left out, grouped by reason; `None` when nothing was.
///
/// A folder of dependencies or a crowded directory is one entry however many files it holds,
/// and each group names at most a few paths, so the line stays short for any tree.
pub(crate) fn left_out<'a>(skipped: impl IntoIterator<Item = &'a Skipped>) -> Option<String> {
    let mut groups: Vec<(Group, Vec<String>)> = Vec::new();
    for entry in skipped {
        let (group, detail) = describe(entry);
        match groups.iter_mut().find(|(existing, _)| *existing == group) {
            Some((_, paths)) => paths.push(detail),
            None => groups.push((group, vec![detail])),
        }
    }
    if groups.is_empty() {
        return None;
    }
    groups.sort_by_key(|(group, _)| *group);
    let parts: Vec<String> = groups
        .iter()
        .map(|(group, paths)| {
            let mut part = format!("{}: ", group.label());
            part.push_str(&paths[..paths.len().min(NAMED_PER_GROUP)].join(", "));
            if paths.len() > NAMED_PER_GROUP {
                let _ = write!(part, " and {} more", paths.len() - NAMED_PER_GROUP);
            }
            part
        })
        .collect();
    Some(parts.join("; "))
}

/// Seconds with one decimal, for a person.
pub(crate) fn seconds(duration: Duration) -> String {
    format!("{:.1} s", duration.as_secs_f64())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Group {
    LargeFiles,
    CrowdedFolders,
    DependencyFolders,
    NestedRepositories,
    SpecialFiles,
    Unreadable,
    Other,
}

impl Group {
    fn label(self) -> &'static str {
        match self {
            Group::LargeFiles => "large untracked files",
            Group::CrowdedFolders => "untracked folders with too many files",
            Group::DependencyFolders => "dependency or build folders",
            Group::NestedRepositories => "nested repositories",
            Group::SpecialFiles => "special files",
            Group::Unreadable => "unreadable files",
            Group::Other => "other paths",
        }
    }
}

fn describe(entry: &Skipped) -> (Group, String) {
    let path = entry.path.display();
    match &entry.reason {
        SkipReason::LargeFile { size } => (Group::LargeFiles, format!("{path} ({})", bytes(*size))),
        SkipReason::TooManyFiles { at_least } => (
            Group::CrowdedFolders,
            format!("{path} (at least {at_least} files)"),
        ),
        SkipReason::DependencyFolder => (Group::DependencyFolders, path.to_string()),
        SkipReason::NestedRepository => (Group::NestedRepositories, path.to_string()),
        SkipReason::SpecialFile => (Group::SpecialFiles, path.to_string()),
        SkipReason::Unreadable => (Group::Unreadable, path.to_string()),
        _ => (Group::Other, path.to_string()),
    }
}

fn bytes(size: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if size < 1024 {
        return format!("{size} B");
    }
    let mut value = size as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn skipped(path: &str, reason: SkipReason) -> Skipped {
        Skipped {
            path: PathBuf::from(path),
            reason,
        }
    }

    #[test]
    fn nothing_left_out_has_no_summary() {
        assert_eq!(left_out(&[]), None);
    }

    #[test]
    fn summary_groups_by_reason_and_counts_what_it_does_not_name() {
        let mut entries = vec![
            skipped("node_modules", SkipReason::DependencyFolder),
            skipped(
                "big.bin",
                SkipReason::LargeFile {
                    size: 12 * 1024 * 1024,
                },
            ),
        ];
        for index in 0..7 {
            entries.push(skipped(
                &format!("pkg{index}/target"),
                SkipReason::DependencyFolder,
            ));
        }
        let summary = left_out(&entries).expect("something was left out");
        assert_eq!(
            summary,
            "large untracked files: big.bin (12.0 MiB); dependency or build folders: \
             node_modules, pkg0/target, pkg1/target, pkg2/target, pkg3/target and 3 more"
        );
    }

    #[test]
    fn sizes_read_in_binary_units() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(4096), "4.0 KiB");
        assert_eq!(bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
    }
}
