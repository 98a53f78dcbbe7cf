//! The one ordered way out of a session: sequence numbers, per-task gates and the rollout copy.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use tokio::sync::mpsc;
use turnkit_protocol::{Event, EventMsg};

use crate::rollout::{RolloutRecord, RolloutWriter};

/// Closes when a task's terminal event is sent, so nothing of that task follows it.
///
/// The flag is only read and written while the sink's lock is held, which makes "check the
/// gate, then send" and "close the gate, then send the terminal event" atomic with respect to
/// each other.
#[derive(Debug)]
pub(crate) struct TaskGate {
    open: AtomicBool,
}

impl TaskGate {
    pub(crate) fn new() -> Self {
        Self {
            open: AtomicBool::new(true),
        }
    }
}

struct SinkState {
    next_seq: u64,
    tx: Option<mpsc::UnboundedSender<Event>>,
}

/// Assigns `seq`, journals and sends every event of a session, in one order.
pub(crate) struct EventSink {
    state: Mutex<SinkState>,
    rollout: Option<RolloutWriter>,
}

impl EventSink {
    pub(crate) fn new(
        next_seq: u64,
        tx: mpsc::UnboundedSender<Event>,
        rollout: Option<RolloutWriter>,
    ) -> Self {
        Self {
            state: Mutex::new(SinkState {
                next_seq,
                tx: Some(tx),
            }),
            rollout,
        }
    }

    pub(crate) fn rollout(&self) -> Option<&RolloutWriter> {
        self.rollout.as_ref()
    }

    /// Sends an event that belongs to no task (or whose task is known to be open).
    pub(crate) fn emit(&self, id: &str, msg: EventMsg) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        self.send_locked(&mut state, id, msg);
    }

    /// Sends an event of a task, unless the task's terminal event has been sent.
    pub(crate) fn emit_gated(&self, gate: &TaskGate, id: &str, msg: EventMsg) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if !gate.open.load(Ordering::Relaxed) {
            return false;
        }
        self.send_locked(&mut state, id, msg);
        true
    }

    /// Closes the gate and sends the task's terminal event, in one step.
    pub(crate) fn emit_terminal(&self, gate: &TaskGate, id: &str, msg: EventMsg) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let was_open = gate.open.swap(false, Ordering::Relaxed);
        debug_assert!(was_open, "a task's terminal event is sent once");
        self.send_locked(&mut state, id, msg);
    }

    /// Sends the stream's last event only after `before_delivery` has run (the final rollout
    /// sync), so a client that sees it knows the journal holds everything, itself included.
    ///
    /// # Cancel safety
    ///
    /// If the future is dropped before delivery, the event is journalled but not delivered.
    pub(crate) async fn emit_last<F: std::future::Future<Output = ()>>(
        &self,
        id: &str,
        msg: EventMsg,
        before_delivery: F,
    ) {
        let event = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            if state.tx.is_none() {
                return;
            }
            self.stamp_locked(&mut state, id, msg)
        };
        before_delivery.await;
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(tx) = state.tx.take() {
            let _ = tx.send(event);
        }
    }

    /// Ends the stream: the client's `next_event` returns `None` once it has read the rest.
    pub(crate) fn close(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.tx = None;
    }

    fn send_locked(&self, state: &mut SinkState, id: &str, msg: EventMsg) {
        if state.tx.is_none() {
            return;
        }
        let event = self.stamp_locked(state, id, msg);
        if let Some(tx) = &state.tx {
            // A client that dropped its receiver no longer wants events; that is not an error.
            let _ = tx.send(event);
        }
    }

    /// Gives the event the next `seq` and journals it; the caller decides when to deliver it.
    fn stamp_locked(&self, state: &mut SinkState, id: &str, msg: EventMsg) -> Event {
        let event = Event {
            id: id.to_owned(),
            seq: state.next_seq,
            msg,
        };
        state.next_seq += 1;
        if let Some(rollout) = &self.rollout {
            rollout.append(&RolloutRecord::Event {
                event: event.clone(),
            });
        }
        event
    }
}
