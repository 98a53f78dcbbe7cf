//! The `apply_patch` tool's engine: parse a patch, check every hunk against the files, then
//! write them.

mod apply;
mod parse;
mod paths;
mod seek;

pub use apply::{PatchPlan, apply_patch};
pub use parse::{FileOperation, Hunk, HunkLine, Patch, parse_patch};
