//! The run's state machine: the process group's phase, the timeout, the grace period and the
//! drain deadline, and the signals they call for.

use std::os::unix::process::ExitStatusExt as _;
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::time::Instant;

use crate::group::ProcessGroup;
use crate::{CommandSpec, ExitStatus};

/// How often a dying process group is checked for live members once its leader is reaped.
const GROUP_POLL_INTERVAL: Duration = Duration::from_millis(5);

/// How long to wait for a group sent SIGKILL to be gone before giving up on it.
const KILL_CONFIRM_TIMEOUT: Duration = Duration::from_millis(500);

/// Where the process group is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Nobody asked it to stop.
    Running,
    /// SIGTERM was sent; SIGKILL follows at `kill_at`.
    Terminating { kill_at: Instant },
    /// SIGKILL was sent at `at`.
    Killed { at: Instant },
    /// No live process is left in the group (or one SIGKILL could not end is given up on).
    Gone,
}

/// The run's timers and the process group's phase; decides when to signal and when to stop.
pub(crate) struct Supervisor {
    pub(crate) group: ProcessGroup,
    phase: Phase,
    pub(crate) status: Option<std::process::ExitStatus>,
    timeout_at: Option<Instant>,
    pub(crate) timed_out: bool,
    cancelled: bool,
    kill_grace: Duration,
    drain_timeout: Duration,
    next_poll_at: Option<Instant>,
    drain_deadline: Option<Instant>,
    pub(crate) far_future: Instant,
}

impl Supervisor {
    pub(crate) fn new(group: ProcessGroup, spec: &CommandSpec, started: Instant) -> Self {
        let far_future = started + Duration::from_secs(60 * 60 * 24 * 365);
        Self {
            group,
            phase: Phase::Running,
            status: None,
            timeout_at: spec
                .get_timeout()
                .map(|timeout| started.checked_add(timeout).unwrap_or(far_future)),
            timed_out: false,
            cancelled: false,
            kill_grace: spec.get_kill_grace(),
            drain_timeout: spec.get_drain_timeout(),
            next_poll_at: None,
            drain_deadline: None,
            far_future,
        }
    }

    pub(crate) fn is_settled(&self) -> bool {
        self.status.is_some() && self.phase == Phase::Gone
    }

    pub(crate) fn kill_requested(&self) -> bool {
        self.timed_out || self.cancelled
    }

    pub(crate) fn next_deadline(&self) -> Instant {
        let mut deadline = self.far_future;
        let mut consider = |at: Option<Instant>| {
            if let Some(at) = at {
                deadline = deadline.min(at);
            }
        };
        if self.phase == Phase::Running && self.status.is_none() {
            consider(self.timeout_at);
        }
        match self.phase {
            Phase::Terminating { kill_at } => consider(Some(kill_at)),
            // Before the leader is reaped, the wait for it is what ends this phase.
            Phase::Killed { at } if self.status.is_some() => {
                consider(Some(at + KILL_CONFIRM_TIMEOUT));
            }
            Phase::Killed { .. } | Phase::Running | Phase::Gone => {}
        }
        consider(self.next_poll_at);
        consider(self.drain_deadline);
        deadline
    }

    /// Stops the group, or stops waiting for output; true when the pipes are to be drained
    /// and closed now.
    pub(crate) fn on_cancel(&mut self, now: Instant) -> bool {
        self.cancelled = true;
        match self.phase {
            Phase::Running if self.status.is_none() => self.terminate(now),
            // A second request to stop (cancel during a timeout's grace, or a cancel while the
            // exited leader's leftovers get theirs) means now: no more grace.
            Phase::Running | Phase::Terminating { .. } => self.kill(now),
            Phase::Killed { .. } | Phase::Gone => {}
        }
        // Once the leader is reaped nothing the pipes still hold is worth waiting for.
        self.status.is_some()
    }

    pub(crate) fn on_leader_exit(&mut self, status: std::process::ExitStatus, now: Instant) {
        self.status = Some(status);
        match self.phase {
            Phase::Running if self.group.is_alive() => {
                tracing::debug!(
                    "the command exited and left processes in its group; terminating them"
                );
                self.terminate(now);
            }
            Phase::Running => self.gone(now),
            Phase::Terminating { .. } | Phase::Killed { .. } => self.poll_group(now),
            Phase::Gone => {}
        }
        if matches!(self.phase, Phase::Killed { .. }) {
            self.start_drain(now);
        }
    }

    /// Handles every deadline that has passed; true when the drain timeout has passed.
    pub(crate) fn on_timer(&mut self, now: Instant) -> bool {
        if self.phase == Phase::Running
            && self.status.is_none()
            && self.timeout_at.is_some_and(|at| at <= now)
        {
            self.timed_out = true;
            self.terminate(now);
        }
        if self.next_poll_at.is_some_and(|at| at <= now) {
            self.poll_group(now);
        }
        match self.phase {
            Phase::Terminating { kill_at } if kill_at <= now => self.kill(now),
            Phase::Killed { at } if at + KILL_CONFIRM_TIMEOUT <= now && self.status.is_some() => {
                tracing::warn!("the process group survived SIGKILL; no longer waiting for it");
                self.gone(now);
            }
            _ => {}
        }
        if self.drain_deadline.is_some_and(|at| at <= now) {
            self.drain_deadline = None;
            return true;
        }
        false
    }

    fn terminate(&mut self, now: Instant) {
        if self.group.signal(Signal::SIGTERM) {
            self.phase = Phase::Terminating {
                kill_at: now + self.kill_grace,
            };
            if self.status.is_some() {
                self.next_poll_at = Some(now + GROUP_POLL_INTERVAL);
            }
        } else {
            self.gone(now);
        }
    }

    fn kill(&mut self, now: Instant) {
        self.group.kill();
        self.phase = Phase::Killed { at: now };
        if self.status.is_some() {
            self.next_poll_at = Some(now + GROUP_POLL_INTERVAL);
            self.start_drain(now);
        }
    }

    /// Checks a dying group once its leader is reaped (before that, the leader keeps the group
    /// alive by definition).
    fn poll_group(&mut self, now: Instant) {
        self.next_poll_at = None;
        if self.status.is_none() || matches!(self.phase, Phase::Running | Phase::Gone) {
            return;
        }
        if self.group.is_alive() {
            self.next_poll_at = Some(now + GROUP_POLL_INTERVAL);
        } else {
            self.gone(now);
        }
    }

    fn gone(&mut self, now: Instant) {
        self.group.disarm();
        // The group is empty: whatever of the command is left has escaped it, and would
        // otherwise outlive the run (and may hold its pipes open until the drain timeout).
        self.group.kill_escapees();
        self.phase = Phase::Gone;
        self.next_poll_at = None;
        self.start_drain(now);
    }

    fn start_drain(&mut self, now: Instant) {
        if self.status.is_some() && self.drain_deadline.is_none() {
            self.drain_deadline = Some(now + self.drain_timeout);
        }
    }

    pub(crate) fn exit_status(&self) -> ExitStatus {
        match self.status {
            Some(status) => match (status.code(), status.signal()) {
                (Some(code), _) => ExitStatus::Exited(code),
                (None, Some(signal)) => ExitStatus::Signaled(signal),
                (None, None) => ExitStatus::Exited(-1),
            },
            None => ExitStatus::Signaled(Signal::SIGKILL as i32),
        }
    }
}
