//! The helper as a child subreaper: every descendant of the command stays below it, so it can
//! find them all in `/proc`, signal them, and reap them.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

/// How often the helper looks for descendants that are still alive while it ends them.
const POLL: Duration = Duration::from_millis(5);

/// Live (not zombie) descendants of `root`, read from `/proc`.
///
/// As a subreaper the helper adopts every orphan below it, so a process that called `setsid`
/// or whose parent died is still found here.
pub(crate) fn live_descendants(root: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut children: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    let mut live = BTreeSet::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // The command name may hold spaces and parentheses; the fields after its last ')'
        // are state, parent pid, ….
        let Some((_, after_name)) = stat.rsplit_once(')') else {
            continue;
        };
        let mut fields = after_name.split_whitespace();
        let state = fields.next().unwrap_or("Z");
        let Some(parent) = fields.next().and_then(|parent| parent.parse::<u32>().ok()) else {
            continue;
        };
        children.entry(parent).or_default().push(pid);
        if state != "Z" && state != "X" {
            live.insert(pid);
        }
    }
    let mut found = Vec::new();
    let mut todo = vec![root];
    while let Some(parent) = todo.pop() {
        for &child in children.get(&parent).map(Vec::as_slice).unwrap_or_default() {
            if live.contains(&child) {
                found.push(child);
            }
            todo.push(child);
        }
    }
    found
}

/// Sends `signal` to every live descendant of this process.
pub(crate) fn signal_descendants(signal: Signal) {
    for pid in live_descendants(std::process::id()) {
        let _ = kill(Pid::from_raw(pid.cast_signed()), signal);
    }
}

/// Reaps every child that has exited, without waiting; returns whether any child is left.
///
/// As a subreaper, no child left means no descendant left: an orphan is re-parented to the
/// helper before its parent can be reaped.
pub(crate) fn reap_ready() -> bool {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => return true,
            Err(Errno::ECHILD) => return false,
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => return true,
        }
    }
}

/// Reaps every child that has exited, without waiting; returns the command's status once it
/// is among them.
pub(crate) fn reap_command(command: Pid) -> Option<WaitStatus> {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => return None,
            Ok(status @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..)))
                if status.pid() == Some(command) =>
            {
                return Some(status);
            }
            Ok(_) | Err(Errno::EINTR) => {}
            // The command is our child, so no child left means it is gone.
            Err(_) => return Some(WaitStatus::Exited(command, 1)),
        }
    }
}

/// Ends every descendant still alive after the command: SIGTERM, then SIGKILL once `grace`
/// has passed, until none is left and every child is reaped.
pub(crate) fn end_descendants(grace: Duration) {
    let started = Instant::now();
    let mut terminated = false;
    loop {
        // The common case, a command that left nothing behind, costs no scan of /proc.
        if !reap_ready() {
            return;
        }
        let left = live_descendants(std::process::id());
        if left.is_empty() {
            // Children that are exiting right now; their zombies are reaped next round.
            std::thread::sleep(POLL);
            continue;
        }
        let signal = if !terminated {
            terminated = true;
            Signal::SIGTERM
        } else if started.elapsed() >= grace {
            Signal::SIGKILL
        } else {
            std::thread::sleep(POLL);
            continue;
        };
        for pid in left {
            let _ = kill(Pid::from_raw(pid.cast_signed()), signal);
        }
        std::thread::sleep(POLL);
    }
}
