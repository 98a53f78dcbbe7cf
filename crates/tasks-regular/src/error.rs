//! Why a patch was not applied.

use std::path::PathBuf;

/// Why a patch was refused or failed.
///
/// Every variant but [`Error::Write`] is found while checking the patch, before any file is
/// written: the files are exactly as they were. Messages are written for the model that sent
/// the patch, saying what to change.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The patch does not follow the format.
    #[error("the patch is malformed at line {line}: {message}")]
    Parse {
        /// The 1-based line of the patch.
        line: usize,
        /// What was wrong there.
        message: String,
    },
    /// A path the patch names may not be touched.
    #[error("refused to touch `{}`: {reason}", .path.display())]
    PathRefused {
        /// The path as the patch wrote it.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A hunk's lines were not found in the file.
    #[error("hunk {hunk} of {hunks} for `{}` (patch line {patch_line}) does not apply: {reason}", .path.display())]
    HunkFailed {
        /// The file, relative to the session's directory.
        path: PathBuf,
        /// The 1-based number of the hunk within its file.
        hunk: usize,
        /// How many hunks the file has.
        hunks: usize,
        /// The line of the patch where the hunk starts.
        patch_line: usize,
        /// What was not found.
        reason: String,
    },
    /// A file to update or delete does not exist.
    #[error("`{}` does not exist, so it cannot be {action}; check the path, or use `*** Add File:` to create it", .path.display())]
    FileMissing {
        /// The file, relative to the session's directory.
        path: PathBuf,
        /// `updated` or `deleted`.
        action: &'static str,
    },
    /// A file to add (or a move's target) exists already.
    #[error("`{}` already exists; change it with `*** Update File:`, or delete it earlier in the same patch", .path.display())]
    AlreadyExists {
        /// The file, relative to the session's directory.
        path: PathBuf,
    },
    /// The path is a directory or a special file.
    #[error("`{}` is not a regular file", .path.display())]
    NotAFile {
        /// The path, relative to the session's directory.
        path: PathBuf,
    },
    /// The file is not UTF-8 text.
    #[error("`{}` is not UTF-8 text; apply_patch changes text files only", .path.display())]
    NotText {
        /// The file, relative to the session's directory.
        path: PathBuf,
    },
    /// The session's directory cannot be used.
    #[error("the session's directory {} cannot be used", .root.display())]
    Root {
        /// The directory.
        root: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be read.
    #[error("could not read `{}`", .path.display())]
    Read {
        /// The file, relative to the session's directory.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// Writing failed after the patch was checked; the files named in `changed` were already
    /// written.
    #[error("could not write `{}`{}", .path.display(), changed_list(.changed))]
    Write {
        /// The file that failed, relative to the session's directory.
        path: PathBuf,
        /// The files already changed before the failure.
        changed: Vec<PathBuf>,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Whether the files are exactly as they were before the patch (true for every failure
    /// found while checking it).
    pub fn changed_nothing(&self) -> bool {
        match self {
            Error::Write { changed, .. } => changed.is_empty(),
            _ => true,
        }
    }
}

fn changed_list(changed: &[PathBuf]) -> String {
    if changed.is_empty() {
        return "; no file was changed".to_owned();
    }
    let names: Vec<String> = changed
        .iter()
        .map(|path| format!("`{}`", path.display()))
        .collect();
    format!("; these files were already changed: {}", names.join(", "))
}

/// Why a regular turn ended with an error (the session reports it as an `error` event, then
/// `task_complete`; the history stays valid for the next turn).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TurnError {
    /// The session offers no model client.
    #[error(
        "no model client is registered for this session: register one as a service of type `Arc<dyn ModelClient>` (`SessionBuilder::service(Arc::new(client) as Arc<dyn ModelClient>)`), for example turnkit-model-openai's client or a `ScriptedModel`"
    )]
    NoModelClient,
    /// The model failed and retrying did not help.
    #[error(transparent)]
    Model(#[from] turnkit_model::Error),
}
