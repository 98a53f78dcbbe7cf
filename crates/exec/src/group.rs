//! The child's process group: signalling it, telling whether any live process is left in it,
//! and killing it when a run is dropped midway.

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::escapees::RunMarker;

/// Whether a live (not zombie) process is left in the process group `pgid`.
///
/// `kill(-pgid, 0)` alone is not enough: an orphaned grandchild that died stays in the group
/// as a zombie until the system's init reaps it, which some init processes do only every few
/// seconds. On Linux a group that `kill` still finds is therefore checked in `/proc` for a
/// member that is not a zombie; elsewhere `kill`'s answer is taken as it is.
/// A member this user may not signal counts as alive.
pub fn process_group_alive(pgid: u32) -> bool {
    let Ok(raw) = i32::try_from(pgid) else {
        return false;
    };
    if raw <= 1 {
        return false;
    }
    match killpg(Pid::from_raw(raw), None) {
        Err(Errno::ESRCH) => false,
        Ok(()) | Err(_) => live_member_in_proc(pgid).unwrap_or(true),
    }
}

/// Scans `/proc` for a process of group `pgid` that is not a zombie; `None` without `/proc`.
fn live_member_in_proc(pgid: u32) -> Option<bool> {
    let entries = std::fs::read_dir("/proc").ok()?;
    let mut scanned_any = false;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(process) = name.to_str().and_then(|name| name.parse::<u32>().ok()) else {
            continue;
        };
        scanned_any = true;
        // A process that exits during the scan has no stat file any more: it is not alive.
        let Ok(stat) = std::fs::read(format!("/proc/{process}/stat")) else {
            continue;
        };
        if let Some((state, group)) = parse_stat(&stat)
            && group == pgid
            && state != b'Z'
            && state != b'X'
        {
            return Some(true);
        }
    }
    scanned_any.then_some(false)
}

/// The state letter and process group of a `/proc/<pid>/stat` line.
///
/// The command name is in parentheses and may itself contain spaces and parentheses, so the
/// fields are counted from the last `)`.
fn parse_stat(stat: &[u8]) -> Option<(u8, u32)> {
    let close = stat.iter().rposition(|byte| *byte == b')')?;
    let rest = std::str::from_utf8(stat.get(close + 1..)?).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let state = *fields.next()?.as_bytes().first()?;
    let _parent = fields.next()?;
    let group = fields.next()?.parse().ok()?;
    Some((state, group))
}

/// A process group this run created; sends SIGKILL to it on drop unless disarmed, and kills
/// the run's escapees (see [`RunMarker`]) on drop in any case.
///
/// Invariant: armed until the group is known to be gone or has been sent SIGKILL, so a
/// dropped run never leaves the group alive, and a finished run never signals a process
/// group id the system may have handed out again.
#[derive(Debug)]
pub(crate) struct ProcessGroup {
    pgid: Pid,
    armed: bool,
    marker: RunMarker,
    escapees_killed: bool,
}

impl ProcessGroup {
    /// The group whose id is the pid of its leader, our child, started with `marker` in its
    /// environment.
    pub(crate) fn new(leader_pid: u32, marker: RunMarker) -> Self {
        Self {
            pgid: Pid::from_raw(i32::try_from(leader_pid).unwrap_or(i32::MAX)),
            armed: true,
            marker,
            escapees_killed: false,
        }
    }

    /// Kills every process of the run that left the group; call once the group is gone.
    pub(crate) fn kill_escapees(&mut self) {
        self.marker.kill_marked();
        self.escapees_killed = true;
    }

    /// Sends `signal` to every process in the group; false when the group is empty.
    pub(crate) fn signal(&self, signal: Signal) -> bool {
        match killpg(self.pgid, signal) {
            Ok(()) => true,
            Err(Errno::ESRCH) => false,
            Err(error) => {
                tracing::warn!(pgid = self.pgid.as_raw(), %signal, %error, "could not signal the process group");
                true
            }
        }
    }

    /// Sends SIGKILL to the group; the drop guard has nothing left to do afterwards.
    pub(crate) fn kill(&mut self) {
        self.signal(Signal::SIGKILL);
        self.armed = false;
    }

    /// Whether a live process is left in the group (see [`process_group_alive`]).
    pub(crate) fn is_alive(&self) -> bool {
        process_group_alive(self.pgid.as_raw().unsigned_abs())
    }

    /// The group is gone: nothing to kill on drop.
    pub(crate) fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        if self.armed {
            tracing::debug!(
                pgid = self.pgid.as_raw(),
                "run dropped midway; killing its process group"
            );
            let _ = killpg(self.pgid, Signal::SIGKILL);
        }
        if !self.escapees_killed {
            self.marker.kill_marked();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_parentheses_in_the_name() {
        let stat = b"4242 (odd ) name) S 1 4240 4240 0 -1 4194560";
        assert_eq!(parse_stat(stat), Some((b'S', 4240)));
        assert_eq!(parse_stat(b"garbage"), None);
    }
}
