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
        let Some(pid) = entry.file_name().to_str().and_then(|name| name.parse::<u32>().ok())
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

/// Reaps every child that has exited, without waiting; returns the status of `command` if it
/// was among them.
pub(crate) fn reap_ready(command: Pid) -> Option<WaitStatus> {
    let mut command_status = None;
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return command_status,
            Ok(status) if status.pid() == Some(command) => command_status = Some(status),
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => return command_status,
        }
    }
}

/// Waits for the command itself to end, reaping adopted orphans meanwhile.
pub(crate) fn wait_for_command(command: Pid) -> WaitStatus {
    loop {
        match waitpid(None, None) {
            Ok(status) if status.pid() == Some(command) => match status {
                WaitStatus::Exited(..) | WaitStatus::Signaled(..) => return status,
                _ => {}
            },
            Ok(_) | Err(Errno::EINTR) => {}
            // The command is our child, so this cannot happen; treat it as gone.
            Err(_) => return WaitStatus::Exited(command, 1),
        }
    }
}

/// Ends every descendant still alive after the command: SIGTERM, then SIGKILL once `grace`
/// has passed, until none is left and every child is reaped.
pub(crate) fn end_descendants(command: Pid, grace: Duration) {
    let started = Instant::now();
    let mut terminated = false;
    loop {
        reap_ready(command);
        let left = live_descendants(std::process::id());
        if left.is_empty() {
            // Zombies of adopted orphans may still wait to be reaped.
            reap_ready(command);
            return;
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
