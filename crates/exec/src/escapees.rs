//! Descendants that left the process group (`setsid`, a double fork, `nohup`): each run marks
//! its command's environment with a variable of its own, and once the group is gone every
//! process still carrying it is killed.
//!
//! This needs no privilege and leaves the calling process as it is (a child subreaper would
//! change how every other child of the process is reaped). A process that clears its
//! environment before it daemonises escapes it; a sandboxed command runs below the sandbox
//! helper, a child subreaper that ends such processes too.

use std::ffi::OsString;
use std::sync::atomic::{AtomicU64, Ordering};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// How many times the process table is scanned at most: a process that forks while it is
/// being killed leaves a child for the next scan.
const MAX_SCANS: usize = 16;

/// The environment variable that marks one run's processes.
#[derive(Debug)]
pub(crate) struct RunMarker {
    name: OsString,
    /// `\0NAME=` as it appears inside `/proc/<pid>/environ`, after the first variable.
    needle: Vec<u8>,
}

impl RunMarker {
    /// A marker no other run of this process, nor of another process, uses.
    pub(crate) fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let number = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("TURNKIT_RUN_{}_{number}", std::process::id());
        let needle = format!("\0{name}=").into_bytes();
        Self {
            name: OsString::from(name),
            needle,
        }
    }

    /// The variable's name; its value is `1`.
    pub(crate) fn name(&self) -> &OsString {
        &self.name
    }

    /// Kills (SIGKILL) every process whose environment carries the marker; returns how many
    /// were sent the signal, counting a process once per scan that found it alive.
    pub(crate) fn kill_marked(&self) -> usize {
        let mut killed = 0;
        for _ in 0..MAX_SCANS {
            let marked = self.marked_processes();
            if marked.is_empty() {
                break;
            }
            for pid in marked {
                if kill(Pid::from_raw(pid), Signal::SIGKILL).is_ok() {
                    killed += 1;
                }
            }
            std::thread::yield_now();
        }
        if killed > 0 {
            tracing::debug!(
                marker = ?self.name,
                killed,
                "killed processes of the command that had left its process group"
            );
        }
        killed
    }

    fn marked_processes(&self) -> Vec<i32> {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        let own = std::process::id();
        entries
            .flatten()
            .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| *pid != own)
            .filter(|pid| {
                // A process of another user, or one that just exited, cannot be read: it is
                // not ours to kill.
                std::fs::read(format!("/proc/{pid}/environ"))
                    .is_ok_and(|environ| self.is_in(&environ))
            })
            .filter_map(|pid| i32::try_from(pid).ok())
            .collect()
    }

    fn is_in(&self, environ: &[u8]) -> bool {
        environ.starts_with(&self.needle[1..])
            || environ
                .windows(self.needle.len())
                .any(|window| window == self.needle.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_marker_first_or_later_but_not_a_longer_name() {
        let marker = RunMarker::new();
        let name = marker.name().to_str().expect("ascii").to_owned();
        assert!(marker.is_in(format!("{name}=1\0PATH=/bin\0").as_bytes()));
        assert!(marker.is_in(format!("PATH=/bin\0{name}=1\0").as_bytes()));
        assert!(!marker.is_in(format!("PATH=/bin\0{name}0=1\0").as_bytes()));
        assert!(!marker.is_in(format!("X{name}=1\0").as_bytes()));
    }
}
