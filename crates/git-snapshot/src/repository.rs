//! Finding the repository around a session's directory: work tree, git dirs, index, scope.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::git::{Git, GitCommand, split_lines};
use crate::object::ObjectFormat;
use crate::platform::path_from_git;
use crate::store::Store;

/// How to run git: which program, and extra environment for every git child.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    /// The git program, looked up on `PATH` when it has no directory part. Default: `git`.
    pub git_program: PathBuf,
    /// Extra environment variables for every git child, after the inherited ones.
    ///
    /// The user's own configuration is honoured by default; tests set `GIT_CONFIG_GLOBAL` or
    /// `HOME` here to keep a developer's configuration out.
    pub env: Vec<(OsString, OsString)>,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            git_program: PathBuf::from("git"),
            env: Vec::new(),
        }
    }
}

impl OpenOptions {
    /// Adds one environment variable for every git child.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }
}

/// A git working tree and the part of it a session works in.
///
/// Cheap to clone. Holds no lock and no open file: every operation runs git afresh.
#[derive(Clone, Debug)]
pub struct Repository {
    pub(crate) git: Git,
    pub(crate) session_dir: PathBuf,
    pub(crate) work_tree: PathBuf,
    pub(crate) git_dir: PathBuf,
    pub(crate) common_dir: PathBuf,
    pub(crate) index_file: PathBuf,
    pub(crate) objects_dir: PathBuf,
    pub(crate) scope: PathBuf,
    pub(crate) object_format: ObjectFormat,
}

impl Repository {
    /// Opens the repository that contains `dir` with default [`OpenOptions`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future kills the git child; nothing is written.
    pub async fn open(dir: impl AsRef<Path>) -> Result<Self, Error> {
        Self::open_with(dir, OpenOptions::default(), &CancellationToken::new()).await
    }

    /// Opens the repository that contains `dir`, the session's directory.
    ///
    /// Works in linked worktrees (where `.git` is a file) and in a subdirectory of the work
    /// tree, which then becomes the scope of every snapshot and undo. Fails with
    /// [`Error::NotARepository`], [`Error::BareRepository`], [`Error::InsideGitDir`] or
    /// [`Error::GitNotFound`] and changes nothing.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future kills the git child; nothing is written.
    pub async fn open_with(
        dir: impl AsRef<Path>,
        options: OpenOptions,
        cancel: &CancellationToken,
    ) -> Result<Self, Error> {
        let dir = dir.as_ref();
        let session_dir = std::fs::canonicalize(dir).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                Error::NotADirectory {
                    path: dir.to_path_buf(),
                }
            } else {
                Error::io(dir, source)
            }
        })?;
        if !session_dir.is_dir() {
            return Err(Error::NotADirectory {
                path: dir.to_path_buf(),
            });
        }
        let git = Git::new(options.git_program, options.env);
        let query = git.command(&session_dir).args([
            "rev-parse",
            "--path-format=absolute",
            "--show-toplevel",
            "--show-prefix",
            "--absolute-git-dir",
            "--git-common-dir",
            "--git-path",
            "index",
            "--git-path",
            "objects",
            "--show-object-format",
        ]);
        let described = query.describe();
        let output = match query.run(cancel).await {
            Ok(output) => output,
            Err(Error::Git { stderr, .. }) => {
                return Err(diagnose(&git, &session_dir, stderr, cancel).await);
            }
            Err(error) => return Err(error),
        };
        let lines: Vec<&[u8]> = output.stdout.split(|byte| *byte == b'\n').collect();
        let unexpected = |detail: &str| Error::UnexpectedOutput {
            command: described.clone(),
            detail: detail.to_owned(),
        };
        if lines.len() < 7 {
            return Err(unexpected("fewer lines than asked for"));
        }
        let absolute = |line: &[u8]| {
            let path = path_from_git(line);
            if path.is_absolute() {
                Ok(path)
            } else {
                Err(unexpected("a path is not absolute"))
            }
        };
        let work_tree = absolute(lines[0])?;
        let scope = path_from_git(lines[1].strip_suffix(b"/").unwrap_or(lines[1]));
        let object_format = match lines[6] {
            b"sha1" => ObjectFormat::Sha1,
            b"sha256" => ObjectFormat::Sha256,
            _ => return Err(unexpected("unknown object format")),
        };
        Ok(Self {
            git,
            session_dir,
            work_tree,
            git_dir: absolute(lines[2])?,
            common_dir: absolute(lines[3])?,
            index_file: absolute(lines[4])?,
            objects_dir: absolute(lines[5])?,
            scope,
            object_format,
        })
    }

    /// The top of the working tree.
    pub fn work_tree(&self) -> &Path {
        &self.work_tree
    }

    /// The session's directory, as opened (canonical).
    pub fn session_dir(&self) -> &Path {
        &self.session_dir
    }

    /// The session's directory relative to the top of the working tree; empty for the top.
    ///
    /// Snapshots record changes below it only, and undo touches nothing outside it.
    pub fn scope(&self) -> &Path {
        &self.scope
    }

    /// The git directory of this working tree (for a linked worktree, its own one).
    pub fn git_dir(&self) -> &Path {
        &self.git_dir
    }

    /// The git directory shared by all worktrees of the repository.
    pub fn common_dir(&self) -> &Path {
        &self.common_dir
    }

    /// Where turnkit keeps snapshot objects: `<common dir>/turnkit/objects`.
    pub fn snapshot_store(&self) -> PathBuf {
        self.store().objects_root()
    }

    pub(crate) fn store(&self) -> Store {
        Store::new(self.common_dir.join("turnkit"))
    }

    /// An index file that never exists, for git commands that load an index they do not need.
    pub(crate) fn no_index(&self) -> PathBuf {
        self.common_dir.join("turnkit").join("no-index")
    }

    /// A git command run at the top of the working tree.
    pub(crate) fn git(&self) -> GitCommand {
        self.git.command(&self.work_tree)
    }

    /// A git command that can read the repository's objects and every snapshot's.
    pub(crate) fn git_reading_snapshots(&self) -> Result<GitCommand, Error> {
        let alternates = self.store().read_alternates()?;
        let mut command = self.git();
        if let Some(alternates) = alternates {
            command = command.env("GIT_ALTERNATE_OBJECT_DIRECTORIES", alternates);
        }
        Ok(command)
    }
}

/// Works out why `rev-parse` failed in `dir`, for a message that says what to do.
async fn diagnose(git: &Git, dir: &Path, stderr: String, cancel: &CancellationToken) -> Error {
    let probe = git
        .command(dir)
        .args(["rev-parse", "--is-bare-repository", "--is-inside-git-dir"])
        .run(cancel)
        .await;
    match probe {
        Ok(output) => {
            let lines: Vec<&[u8]> = split_lines(&output.stdout).collect();
            if lines.first() == Some(&&b"true"[..]) {
                Error::BareRepository {
                    path: dir.to_path_buf(),
                }
            } else if lines.get(1) == Some(&&b"true"[..]) {
                Error::InsideGitDir {
                    path: dir.to_path_buf(),
                }
            } else {
                Error::Git {
                    command: "git rev-parse --show-toplevel".to_owned(),
                    status: "exit status: 128".to_owned(),
                    stderr,
                }
            }
        }
        Err(Error::Git {
            stderr: probe_stderr,
            ..
        }) if probe_stderr.contains("not a git repository") => Error::NotARepository {
            path: dir.to_path_buf(),
        },
        Err(error) => error,
    }
}
