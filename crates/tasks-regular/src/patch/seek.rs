//! Finding a hunk's lines in a file, forgiving differences in whitespace and nothing else.
//!
//! Each search tries the strictest comparison first: exact, then ignoring trailing
//! whitespace, then ignoring leading and trailing whitespace, then treating every run of
//! whitespace as one space. Letters, digits and punctuation must always match exactly.

/// The comparisons tried, strictest first.
const LEVELS: [fn(&str, &str) -> bool; 4] = [
    |a, b| a == b,
    |a, b| a.trim_end() == b.trim_end(),
    |a, b| a.trim() == b.trim(),
    |a, b| a.split_whitespace().eq(b.split_whitespace()),
];

/// The index of the first line at or after `from` where `wanted` starts, at the strictest
/// comparison that finds one.
///
/// With `at_end`, a match that ends at the file's last line is preferred at every level.
pub(crate) fn find_lines(
    file: &[&str],
    wanted: &[&str],
    from: usize,
    at_end: bool,
) -> Option<usize> {
    if wanted.len() > file.len() {
        return None;
    }
    let last_start = file.len() - wanted.len();
    if from > last_start {
        return None;
    }
    let matches_at = |start: usize, same: fn(&str, &str) -> bool| {
        file[start..start + wanted.len()]
            .iter()
            .zip(wanted)
            .all(|(have, want)| same(have, want))
    };
    for same in LEVELS {
        if at_end && matches_at(last_start, same) {
            return Some(last_start);
        }
        if let Some(start) = (from..=last_start).find(|&start| matches_at(start, same)) {
            return Some(start);
        }
    }
    None
}

/// The index of the first line at or after `from` equal to `anchor`, whitespace aside.
pub(crate) fn find_anchor(file: &[&str], anchor: &str, from: usize) -> Option<usize> {
    LEVELS.iter().find_map(|same| {
        file.iter()
            .enumerate()
            .skip(from)
            .find(|(_, line)| same(line, anchor))
            .map(|(index, _)| index)
    })
}

#[cfg(test)]
mod tests {
    use super::{find_anchor, find_lines};

    #[test]
    fn the_strictest_match_wins_even_when_a_looser_one_comes_first() {
        let file = ["  a", "b", "a", "b"];
        assert_eq!(find_lines(&file, &["a", "b"], 0, false), Some(2));
        assert_eq!(find_lines(&file, &["a ", "b"], 0, false), Some(2));
        assert_eq!(find_lines(&file, &["  a", "b"], 1, false), Some(2));
    }

    #[test]
    fn whitespace_is_forgiven_and_content_is_not() {
        let file = ["fn  main( ) {", "\tlet x = 1;\r"];
        assert_eq!(
            find_lines(&file, &["fn main( ) {", "let x = 1;"], 0, false),
            Some(0)
        );
        assert_eq!(
            find_lines(&file, &["fn main() {", "let x = 1;"], 0, false),
            None
        );
        assert_eq!(
            find_lines(&file, &["fn  main( ) {", "let x = 2;"], 0, false),
            None
        );
    }

    #[test]
    fn end_of_file_prefers_the_last_match() {
        let file = ["x", "y", "x"];
        assert_eq!(find_lines(&file, &["x"], 0, true), Some(2));
        assert_eq!(find_lines(&file, &["x"], 0, false), Some(0));
        assert_eq!(find_lines(&file, &["x", "y", "x", "z"], 0, false), None);
    }

    #[test]
    fn anchors_are_found_from_the_cursor() {
        let file = ["impl A {", "fn f() {", "impl B {", "  fn f() {"];
        assert_eq!(find_anchor(&file, "fn f() {", 2), Some(3));
        assert_eq!(find_anchor(&file, "fn g() {", 0), None);
    }
}
