//! The crate's error type: what can stop a snapshot a client asked for.

/// Why a snapshot could not be taken or kept.
///
/// Failures of the snapshot itself are [`turnkit_git_snapshot::Error`]s, whose messages
/// already say what to do; this type covers what this crate adds on top.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The snapshot was taken but its description cannot be written to the history (a path
    /// it left out is not valid UTF-8), so undo could not use it.
    #[error(
        "snapshot {commit} was taken but cannot be recorded in the session's history, so undo \
         cannot use it; rename the files with non-UTF-8 names or add them to .gitignore"
    )]
    Record {
        /// The snapshot's commit.
        commit: String,
        /// Why it does not serialise.
        #[source]
        source: serde_json::Error,
    },
}
