//! The `compact` task kind and the session's compactor: a session's history summarised by
//! one-shot child sessions and replaced in one step.
//!
//! [`CompactTask`] answers `Op::Compact`; the same logic, [`compact_session`], is what the
//! agent turn calls inline when the context fills up. The summary is written by a child
//! session (seeded with the history to compress, asked our [`HANDOFF_INSTRUCTIONS`], given no
//! tools); a history too large for one request is summarised in chunks, each by a child, and
//! the notes merged by another. The new history keeps the session's instructions, every ghost
//! snapshot (so undo still works), the newest user messages verbatim and the summary
//! ([`compacted_history`]); it replaces the old one only when the summary passes
//! [`check_summary`].
//!
//! The crate sits between session-core and the facade (feature `compact`) and depends on no
//! other task crate: the child runs whatever `regular` kind the session registered.
//!
//! ```
//! use turnkit_protocol::TaskKind;
//! use turnkit_tasks_compact::{CompactConfig, registration};
//!
//! assert_eq!(registration(CompactConfig::default()).kind(), &TaskKind::COMPACT);
//! ```

mod compact;
mod config;
mod error;
mod plan;
mod prompt;
mod service;
mod task;

pub use compact::{Compacted, compact_session};
pub use config::{
    CompactConfig, DEFAULT_CONTEXT_WINDOW, DEFAULT_INSTRUCTIONS_RESERVE, DEFAULT_SUMMARY_TOKENS,
    DEFAULT_USER_MESSAGE_TOKENS, DEFAULT_WARN_AFTER,
};
pub use error::Error;
pub use plan::{Budgets, check_summary, chunk_history, compacted_history, previous_compactions};
pub use prompt::{
    COMBINE_INSTRUCTIONS, HANDOFF_INSTRUCTIONS, SUMMARISER_INSTRUCTIONS, SUMMARY_HEADER,
};
pub use service::{ChildCompactor, compactor, install};
pub use task::{CompactTask, registration};
