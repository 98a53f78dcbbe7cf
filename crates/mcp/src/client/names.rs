//! The names a model sees for MCP tools: `server__tool`, made to fit what model APIs accept
//! (`^[a-zA-Z0-9_-]{1,64}$`) and unique in a session.

use std::collections::HashSet;
use std::fmt::Write as _;

/// The longest tool name OpenAI's APIs accept.
const MAX_LEN: usize = 64;

/// The name a model sees for `tool` of `server`, before uniqueness is ensured:
/// `server__tool` with every character outside `[a-zA-Z0-9_-]` replaced by `_`, and, when
/// longer than 64 characters, cut to 55 and ended with `_` and 8 hex digits of a hash of the
/// whole name, so two long names that share a beginning stay apart.
///
/// ```
/// use turnkit_mcp::client::tool_name;
///
/// assert_eq!(tool_name("files", "read_file"), "files__read_file");
/// assert_eq!(tool_name("my files", "read.file"), "my_files__read_file");
/// assert_eq!(tool_name("s", &"x".repeat(100)).len(), 64);
/// ```
pub fn tool_name(server: &str, tool: &str) -> String {
    let whole = format!("{server}__{tool}");
    let mut name: String = whole
        .chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() || character == '_' || character == '-' {
                character
            } else {
                '_'
            }
        })
        .collect();
    if name.len() > MAX_LEN {
        // Every character is ASCII now, so byte lengths are character counts.
        name.truncate(MAX_LEN - 9);
        name.push('_');
        let _ = write!(name, "{:08x}", fnv1a(whole.as_bytes()));
    }
    name
}

/// Hands out tool names, each unique among those given before.
#[derive(Debug, Default)]
pub(crate) struct ToolNames {
    taken: HashSet<String>,
}

impl ToolNames {
    /// A unique name for `tool` of `server`: [`tool_name`], or, when that is taken, the same
    /// with `_2`, `_3`, … (cut to stay within 64 characters).
    pub(crate) fn assign(&mut self, server: &str, tool: &str) -> String {
        let base = tool_name(server, tool);
        let mut name = base.clone();
        let mut number = 2_u32;
        while self.taken.contains(&name) {
            let suffix = format!("_{number}");
            let mut stem = base.clone();
            stem.truncate(MAX_LEN - suffix.len());
            name = stem + &suffix;
            number += 1;
        }
        self.taken.insert(name.clone());
        name
    }
}

/// 32-bit FNV-1a: small, stable across releases and platforms (unlike `DefaultHasher`).
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(*byte)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(name: &str) -> bool {
        (1..=MAX_LEN).contains(&name.len())
            && name
                .chars()
                .all(|character| character.is_ascii_alphanumeric() || "_-".contains(character))
    }

    #[test]
    fn long_names_sharing_a_beginning_stay_apart_and_valid() {
        let first = tool_name("server", &format!("{}a", "x".repeat(80)));
        let second = tool_name("server", &format!("{}b", "x".repeat(80)));
        assert_ne!(first, second);
        assert!(valid(&first) && valid(&second), "{first} {second}");
    }

    #[test]
    fn names_that_sanitise_alike_get_numbered() {
        let mut names = ToolNames::default();
        assert_eq!(names.assign("a", "b.c"), "a__b_c");
        assert_eq!(names.assign("a", "b c"), "a__b_c_2");
        assert_eq!(names.assign("a", "b/c"), "a__b_c_3");
        let long = "y".repeat(100);
        let first = names.assign("a", &long);
        let second = names.assign("a", &long);
        assert_ne!(first, second);
        assert!(valid(&first) && valid(&second), "{first} {second}");
    }

    #[test]
    fn non_ascii_characters_become_underscores() {
        assert_eq!(tool_name("dé", "ünï"), "d____n_");
    }
}
