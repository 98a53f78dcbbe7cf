//! The `review` task kind: a code review run by a one-shot child session, with structured
//! findings.
//!
//! [`ReviewTask`] answers `Op::Review { request }`: it collects the diff of the request's
//! [`ReviewTarget`](turnkit_protocol::ReviewTarget) with the user's git ([`collect_diff`]),
//! cuts it to fit ([`cut_diff`]), and runs the session's `regular` kind in a child session
//! with our [`REVIEW_RUBRIC`] as its instructions and [`review_output_schema`] as the shape of
//! its answer (through session-core's `TurnOverrides`), and the parent's `shell` tool under the
//! `untrusted` policy. The answer is read by [`parse_review_output`], leniently when it must.
//!
//! The crate sits between session-core and the facade (feature `review`) and depends on no
//! other task crate.
//!
//! ```
//! use turnkit_protocol::TaskKind;
//!
//! assert_eq!(turnkit_tasks_review::registration().kind(), &TaskKind::REVIEW);
//! ```

mod diff;
mod error;
mod output;
mod rubric;
mod task;

pub use diff::{FileDiff, ReviewDiff, collect_diff, cut_diff};
pub use error::Error;
pub use output::parse_review_output;
pub use rubric::{REVIEW_RUBRIC, describe_target, review_output_schema};
pub use task::{DEFAULT_DIFF_BUDGET_BYTES, REVIEW_TOOL, ReviewTask, registration, render};
