//! The sandbox policy: what the model's commands may write and whether they may reach the
//! network, and how a sub-session's policy compares with its parent's.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// What a sandboxed command may touch, tagged by `type` on the wire.
///
/// Every policy but [`FullAccess`](Self::FullAccess) lets a command read anywhere, write only
/// where the policy says, and reach the network only when `network_access` is true (Unix
/// sockets always work). The session's directory is not part of the policy: the same policy
/// applies to whichever directory a session runs in.
///
/// Policies are partially ordered by strictness: [`is_at_least_as_strict_as`] says whether one
/// allows nothing the other does not, and [`stricter_of`] gives the most a command may do
/// under both, which is what a sub-session gets when its parent's policy is narrower than the
/// one asked for.
///
/// The default is [`ReadOnly`](Self::ReadOnly) without network: a session that was not told
/// otherwise writes nothing.
///
/// [`is_at_least_as_strict_as`]: Self::is_at_least_as_strict_as
/// [`stricter_of`]: Self::stricter_of
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SandboxPolicy {
    /// Read anywhere; write nowhere but a private temporary directory made for the command.
    ReadOnly {
        /// Whether new network sockets (other than Unix sockets) may be opened.
        #[serde(default)]
        network_access: bool,
    },
    /// Read anywhere; write in a private temporary directory, below the session's directory
    /// and below each of `writable_roots`, but never into a `.git` directory's `hooks` or
    /// `config` there.
    WorkspaceWrite {
        /// Directories writable besides the session's own, as absolute paths.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        writable_roots: Vec<PathBuf>,
        /// Whether new network sockets (other than Unix sockets) may be opened.
        #[serde(default)]
        network_access: bool,
    },
    /// No sandbox at all: only for a user who chose it knowingly.
    FullAccess,
}

impl Default for SandboxPolicy {
    fn default() -> Self {
        Self::read_only()
    }
}

impl SandboxPolicy {
    /// Read anywhere, write only a private temporary directory, no network.
    pub fn read_only() -> Self {
        Self::ReadOnly {
            network_access: false,
        }
    }

    /// Also write below the session's directory, no extra roots, no network.
    pub fn workspace_write() -> Self {
        Self::WorkspaceWrite {
            writable_roots: Vec::new(),
            network_access: false,
        }
    }

    /// The same policy with network access allowed or not; [`FullAccess`](Self::FullAccess)
    /// always has it.
    #[must_use]
    pub fn with_network_access(self, allowed: bool) -> Self {
        match self {
            Self::ReadOnly { .. } => Self::ReadOnly {
                network_access: allowed,
            },
            Self::WorkspaceWrite { writable_roots, .. } => Self::WorkspaceWrite {
                writable_roots,
                network_access: allowed,
            },
            Self::FullAccess => Self::FullAccess,
        }
    }

    /// The same policy with one more writable root; only
    /// [`WorkspaceWrite`](Self::WorkspaceWrite) has roots, other policies are returned as
    /// they are.
    #[must_use]
    pub fn with_writable_root(mut self, root: impl Into<PathBuf>) -> Self {
        if let Self::WorkspaceWrite { writable_roots, .. } = &mut self {
            writable_roots.push(root.into());
        }
        self
    }

    /// The policy's wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::ReadOnly { .. } => "read_only",
            Self::WorkspaceWrite { .. } => "workspace_write",
            Self::FullAccess => "full_access",
        }
    }

    /// Whether a command under this policy may open network sockets other than Unix sockets.
    pub fn has_network_access(&self) -> bool {
        match self {
            Self::ReadOnly { network_access } | Self::WorkspaceWrite { network_access, .. } => {
                *network_access
            }
            Self::FullAccess => true,
        }
    }

    /// Whether commands run unconfined.
    pub fn is_full_access(&self) -> bool {
        matches!(self, Self::FullAccess)
    }

    /// The writable roots besides the session's directory (none but for
    /// [`WorkspaceWrite`](Self::WorkspaceWrite)).
    pub fn writable_roots(&self) -> &[PathBuf] {
        match self {
            Self::WorkspaceWrite { writable_roots, .. } => writable_roots,
            Self::ReadOnly { .. } | Self::FullAccess => &[],
        }
    }

    /// Whether this policy allows nothing that `other` does not, for the same session
    /// directory.
    ///
    /// Every policy is at least as strict as [`FullAccess`](Self::FullAccess) and as itself;
    /// `read_only` is at least as strict as any `workspace_write` with the same or more
    /// network access; a `workspace_write` is at least as strict as another when each of its
    /// roots lies below one of the other's.
    pub fn is_at_least_as_strict_as(&self, other: &Self) -> bool {
        if other.is_full_access() {
            return true;
        }
        if self.has_network_access() && !other.has_network_access() {
            return false;
        }
        match (self, other) {
            (Self::FullAccess, _) | (Self::WorkspaceWrite { .. }, Self::ReadOnly { .. }) => false,
            (Self::ReadOnly { .. }, _) | (Self::WorkspaceWrite { .. }, Self::FullAccess) => true,
            (Self::WorkspaceWrite { writable_roots, .. }, Self::WorkspaceWrite { .. }) => {
                writable_roots
                    .iter()
                    .all(|root| other.covers(root.as_path()))
            }
        }
    }

    /// The most a command may do under both policies: at least as strict as each.
    ///
    /// A sub-session asked to run under `requested` while its parent runs under `parent`
    /// gets `parent.stricter_of(&requested)`.
    #[must_use]
    pub fn stricter_of(&self, other: &Self) -> Self {
        let network_access = self.has_network_access() && other.has_network_access();
        match (self, other) {
            (Self::FullAccess, narrower) | (narrower, Self::FullAccess) => narrower.clone(),
            (Self::ReadOnly { .. }, _) | (_, Self::ReadOnly { .. }) => {
                Self::ReadOnly { network_access }
            }
            (
                Self::WorkspaceWrite {
                    writable_roots: mine,
                    ..
                },
                Self::WorkspaceWrite {
                    writable_roots: theirs,
                    ..
                },
            ) => {
                let mut writable_roots: Vec<PathBuf> = Vec::new();
                let kept_mine = mine.iter().filter(|root| other.covers(root));
                let kept_theirs = theirs.iter().filter(|root| self.covers(root));
                for root in kept_mine.chain(kept_theirs) {
                    if !writable_roots.contains(root) {
                        writable_roots.push(root.clone());
                    }
                }
                Self::WorkspaceWrite {
                    writable_roots,
                    network_access,
                }
            }
        }
    }

    /// Whether `path` lies below (or is) one of this policy's extra writable roots.
    fn covers(&self, path: &Path) -> bool {
        self.writable_roots()
            .iter()
            .any(|root| path.starts_with(root))
    }
}

/// The wire name, then what it allows besides: `read_only`, `workspace_write with network
/// access and writable roots /a, /b`.
impl std::fmt::Display for SandboxPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())?;
        let network = !self.is_full_access() && self.has_network_access();
        let roots = self.writable_roots();
        match (network, roots.is_empty()) {
            (false, true) => return Ok(()),
            (true, true) => return f.write_str(" with network access"),
            (true, false) => f.write_str(" with network access and writable roots ")?,
            (false, false) => f.write_str(" with writable roots ")?,
        }
        for (index, root) in roots.iter().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}", root.display())?;
        }
        Ok(())
    }
}
