//! [`Sandbox`]: a policy for one session's directory, resolved into the helper's command line.

use std::ffi::{OsStr, OsString};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use turnkit_protocol::SandboxPolicy;

use crate::{Error, locate_helper};

/// A sandbox policy applied to one session's directory, and where its helper is.
///
/// ```
/// use turnkit_sandbox::{Sandbox, SandboxPolicy};
///
/// let sandbox = Sandbox::new(SandboxPolicy::workspace_write(), "/home/me/project")
///     .helper("/usr/local/bin/turnkit-sandbox-exec");
/// assert_eq!(sandbox.policy().as_str(), "workspace_write");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sandbox {
    policy: SandboxPolicy,
    session_dir: PathBuf,
    helper: Option<PathBuf>,
}

/// The command to start instead of the original one: the helper with its arguments, and the
/// command's private temporary directory.
#[derive(Debug)]
pub struct SandboxedCommand {
    /// The helper binary.
    pub program: PathBuf,
    /// The helper's arguments, the original argv at their end.
    pub args: Vec<OsString>,
    /// The private temporary directory (`$TMPDIR` of the command), removed with everything
    /// in it when this is dropped: keep it until the command and its helper have ended.
    /// The helper cannot remove it itself, as it may not write to its parent directory.
    pub temp_dir: Option<tempfile::TempDir>,
}

/// What the helper applies, resolved by the library and handed over as JSON.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Confinement {
    /// False for `full_access`: the helper only reaps and kills descendants.
    pub(crate) confine: bool,
    /// Canonical directories writable besides the private temporary directory.
    pub(crate) writable: Vec<PathBuf>,
    /// Paths below writable roots made read-only (a `.git` directory's hooks and config).
    pub(crate) protected: Vec<PathBuf>,
    /// The private temporary directory, writable and the command's `$TMPDIR`.
    pub(crate) temp_dir: Option<PathBuf>,
    /// Whether new non-Unix sockets are allowed.
    pub(crate) network: bool,
    /// How long descendants left after the command exits get between SIGTERM and SIGKILL.
    pub(crate) kill_grace_ms: u64,
}

impl Sandbox {
    /// `policy` applied to `session_dir`, the helper found by [`locate_helper`].
    pub fn new(policy: SandboxPolicy, session_dir: impl Into<PathBuf>) -> Self {
        Self {
            policy,
            session_dir: session_dir.into(),
            helper: None,
        }
    }

    /// Uses the helper binary at `path` and nowhere else.
    pub fn helper(mut self, path: impl Into<PathBuf>) -> Self {
        self.helper = Some(path.into());
        self
    }

    /// The policy.
    pub fn policy(&self) -> &SandboxPolicy {
        &self.policy
    }

    /// The session's directory.
    pub fn session_dir(&self) -> &Path {
        &self.session_dir
    }

    /// The command that runs `program` with `args` under this sandbox, or `None` when it is
    /// to run as it is.
    ///
    /// Under `full_access` the helper is still used when it is found, only to kill every
    /// descendant of the command when it ends; without it, the command runs as it is.
    /// Under every other policy the kernel's support is checked and the helper must be
    /// found, or nothing runs (see [`Error`]). `kill_grace` is how long descendants left when
    /// the command exits get between SIGTERM and SIGKILL.
    pub fn command(
        &self,
        program: &OsStr,
        args: &[OsString],
        kill_grace: Duration,
    ) -> Result<Option<SandboxedCommand>, Error> {
        let kill_grace_ms = u64::try_from(kill_grace.as_millis()).unwrap_or(u64::MAX);
        if self.policy.is_full_access() {
            let confinement = Confinement {
                confine: false,
                writable: Vec::new(),
                protected: Vec::new(),
                temp_dir: None,
                network: true,
                kill_grace_ms,
            };
            return Ok(locate_helper(self.helper.as_deref())
                .ok()
                .map(|helper| wrap(helper, &confinement, None, program, args)));
        }
        check_support()?;
        let helper = locate_helper(self.helper.as_deref())?;
        let temp_dir = tempfile::Builder::new()
            .prefix("turnkit-sandbox-")
            .tempdir()
            .map_err(|source| Error::Path {
                path: std::env::temp_dir(),
                what: "the private temporary directory cannot be created there",
                source: Some(source),
            })?;
        let confinement = self.confinement(kill_grace_ms, temp_dir.path())?;
        Ok(Some(wrap(
            helper,
            &confinement,
            Some(temp_dir),
            program,
            args,
        )))
    }

    fn confinement(&self, kill_grace_ms: u64, temp_dir: &Path) -> Result<Confinement, Error> {
        let mut writable = Vec::new();
        if let SandboxPolicy::WorkspaceWrite { writable_roots, .. } = &self.policy {
            writable.push(canonical_dir(&self.session_dir)?);
            for root in writable_roots {
                if !root.is_absolute() {
                    return Err(Error::Path {
                        path: root.clone(),
                        what: "a writable root must be an absolute path",
                        source: None,
                    });
                }
                let root = canonical_dir(root)?;
                if !writable.contains(&root) {
                    writable.push(root);
                }
            }
        }
        let protected = writable
            .iter()
            .flat_map(|root| protected_below(root))
            .collect();
        Ok(Confinement {
            confine: true,
            writable,
            protected,
            temp_dir: Some(temp_dir.to_path_buf()),
            network: self.policy.has_network_access(),
            kill_grace_ms,
        })
    }
}

fn wrap(
    helper: PathBuf,
    confinement: &Confinement,
    temp_dir: Option<tempfile::TempDir>,
    program: &OsStr,
    args: &[OsString],
) -> SandboxedCommand {
    let json = serde_json::to_string(confinement).expect("a confinement always serialises");
    let mut helper_args = Vec::with_capacity(args.len() + 4);
    helper_args.push(OsString::from("--confinement"));
    helper_args.push(OsString::from(json));
    helper_args.push(OsString::from("--"));
    helper_args.push(program.to_os_string());
    helper_args.extend(args.iter().cloned());
    SandboxedCommand {
        program: helper,
        args: helper_args,
        temp_dir,
    }
}

fn canonical_dir(path: &Path) -> Result<PathBuf, Error> {
    let canonical = std::fs::canonicalize(path).map_err(|source| Error::Path {
        path: path.to_path_buf(),
        what: "it cannot be resolved",
        source: Some(source),
    })?;
    if canonical.is_dir() {
        Ok(canonical)
    } else {
        Err(Error::Path {
            path: path.to_path_buf(),
            what: "it is not a directory",
            source: None,
        })
    }
}

/// A writable root's `.git/hooks` and `.git/config`, when `.git` is a directory there.
///
/// A missing `hooks` directory is created (empty) so that it can be made read-only; without
/// that the command could create it and put a hook in it. A `.git` file (a worktree or a
/// submodule) points at a git directory elsewhere, which is not writable unless it lies below
/// a writable root itself.
fn protected_below(root: &Path) -> Vec<PathBuf> {
    let git = root.join(".git");
    if !std::fs::symlink_metadata(&git).is_ok_and(|metadata| metadata.is_dir()) {
        return Vec::new();
    }
    let hooks = git.join("hooks");
    if let Err(error) = std::fs::create_dir(&hooks)
        && error.kind() != io::ErrorKind::AlreadyExists
    {
        // Without it, the helper's read-only mount fails and the command does not run.
        return vec![hooks];
    }
    let mut protected = vec![hooks];
    let config = git.join("config");
    if config.exists() {
        protected.push(config);
    }
    protected
}

/// Whether this system can confine commands: Landlock must be built into the kernel and
/// enabled.
///
/// The answer is worked out once per process and remembered.
pub fn check_support() -> Result<(), Error> {
    #[cfg(target_os = "linux")]
    {
        static SUPPORT: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
        SUPPORT
            .get_or_init(crate::confine::landlock_support)
            .clone()
            .map_err(|reason| Error::Unsupported { reason })
    }
    #[cfg(not(target_os = "linux"))]
    {
        Err(Error::Unsupported {
            reason: "only Linux is supported for now".into(),
        })
    }
}
