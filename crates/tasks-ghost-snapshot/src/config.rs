//! [`GhostSnapshotConfig`]: whether a session takes snapshots, and within which limits.

use std::time::Duration;

use turnkit_git_snapshot::{OpenOptions, SnapshotOptions};

/// How long a snapshot may take before the user is told snapshots are slow here.
pub const DEFAULT_SLOW_THRESHOLD: Duration = Duration::from_secs(2);

/// How many days of snapshots are kept when a session first opens the repository.
pub const DEFAULT_KEEP_DAYS: u32 = 7;

/// How a session's ghost snapshots are taken.
///
/// The default takes snapshots with [`SnapshotOptions::default`], runs the user's own `git`
/// with the user's configuration, warns once when a snapshot takes longer than
/// [`DEFAULT_SLOW_THRESHOLD`], and deletes snapshots older than [`DEFAULT_KEEP_DAYS`] days.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct GhostSnapshotConfig {
    /// Whether snapshots are taken at all; when `false` the service does nothing and the
    /// task says snapshots are switched off.
    pub enabled: bool,
    /// The limits of each snapshot: which untracked files and folders are left out, the time
    /// budget.
    pub snapshot: SnapshotOptions,
    /// How git is run: the program and extra environment.
    pub open: OpenOptions,
    /// A snapshot that takes longer than this earns a warning (once per session).
    pub slow_threshold: Duration,
    /// Snapshots older than this many days are deleted the first time a session snapshots a
    /// repository.
    pub keep_days: u32,
}

impl Default for GhostSnapshotConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            snapshot: SnapshotOptions::default(),
            open: OpenOptions::default(),
            slow_threshold: DEFAULT_SLOW_THRESHOLD,
            keep_days: DEFAULT_KEEP_DAYS,
        }
    }
}

impl GhostSnapshotConfig {
    /// A configuration with snapshots switched off.
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }

    /// Switches snapshots on or off.
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// Sets the limits of each snapshot.
    pub fn snapshot_options(mut self, options: SnapshotOptions) -> Self {
        self.snapshot = options;
        self
    }

    /// Sets how git is run.
    pub fn open_options(mut self, options: OpenOptions) -> Self {
        self.open = options;
        self
    }

    /// Sets how long a snapshot may take before the user is warned.
    pub fn slow_threshold(mut self, threshold: Duration) -> Self {
        self.slow_threshold = threshold;
        self
    }

    /// Sets how many days of snapshots are kept.
    pub fn keep_days(mut self, days: u32) -> Self {
        self.keep_days = days;
        self
    }
}
