//! The one ordered way out of a session: sequence numbers, per-task gates and the rollout copy.

use std::collections::VecDeque;
use std::future::Future;
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
    /// Events stamped while an earlier one is held back for a rollout sync, each with whether
    /// it may go: the channel sees every event in `seq` order, so nothing overtakes a held one.
    backlog: VecDeque<(Event, bool)>,
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
                backlog: VecDeque::new(),
            }),
            rollout,
        }
    }

    pub(crate) fn rollout(&self) -> Option<&RolloutWriter> {
        self.rollout.as_ref()
    }

    /// Sends an event that belongs to no task (or whose task is known to be open).
    pub(crate) fn emit(&self, id: &str, msg: EventMsg) {
        let mut state = self.lock();
        self.send_locked(&mut state, id, msg);
    }

    /// Sends an event of a task, unless the task's terminal event has been sent.
    pub(crate) fn emit_gated(&self, gate: &TaskGate, id: &str, msg: EventMsg) -> bool {
        let mut state = self.lock();
        if !gate.open.load(Ordering::Relaxed) {
            return false;
        }
        self.send_locked(&mut state, id, msg);
        true
    }

    /// Whether the task's terminal event is still to come.
    pub(crate) fn is_open(&self, gate: &TaskGate) -> bool {
        let _state = self.lock();
        gate.open.load(Ordering::Relaxed)
    }

    /// Closes the gate and stamps the task's terminal event in one step, then delivers it only
    /// after `before_delivery` (the rollout sync) has run: stamp, journal, sync, deliver.
    ///
    /// # Cancel safety
    ///
    /// If the future is dropped before `before_delivery` ends, the event is delivered at once
    /// without waiting for the sync, so later events are never held back by it.
    pub(crate) async fn emit_terminal<F: Future<Output = ()>>(
        &self,
        gate: &TaskGate,
        id: &str,
        msg: EventMsg,
        before_delivery: F,
    ) {
        let held = {
            let mut state = self.lock();
            let was_open = gate.open.swap(false, Ordering::Relaxed);
            debug_assert!(was_open, "a task's terminal event is sent once");
            if self.rollout.is_none() {
                // Nothing to sync: deliver it in the same step, as any other event.
                self.send_locked(&mut state, id, msg);
                return;
            }
            self.hold_locked(&mut state, id, msg)
        };
        before_delivery.await;
        drop(held);
    }

    /// Closes the gate and sends `msg` in one step, delivered in order without waiting for a
    /// sync: for the end of something that is not a task of this session (a sub-session's
    /// outlet on the root's stream), whose own journal was synced by its own session.
    pub(crate) fn close_gate_with(&self, gate: &TaskGate, id: &str, msg: EventMsg) {
        let mut state = self.lock();
        if gate.open.swap(false, Ordering::Relaxed) {
            self.send_locked(&mut state, id, msg);
        }
    }

    /// Sends the stream's last event only after `before_delivery` has run (the final rollout
    /// sync), so a client that sees it knows the journal holds everything, itself included.
    ///
    /// # Cancel safety
    ///
    /// If the future is dropped before delivery, the event is delivered without waiting.
    pub(crate) async fn emit_last<F: Future<Output = ()>>(
        &self,
        id: &str,
        msg: EventMsg,
        before_delivery: F,
    ) {
        let held = {
            let mut state = self.lock();
            self.hold_locked(&mut state, id, msg)
        };
        before_delivery.await;
        drop(held);
        self.close();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SinkState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stamps and journals an event now and holds its delivery until the returned guard drops.
    fn hold_locked(&self, state: &mut SinkState, id: &str, msg: EventMsg) -> Held<'_> {
        let seq = state.next_seq;
        if state.tx.is_some() {
            let event = self.stamp_locked(state, id, msg);
            state.backlog.push_back((event, false));
        }
        Held { sink: self, seq }
    }

    /// Lets the held event with `seq` go, and delivers every event in front that may go.
    fn release(&self, seq: u64) {
        let mut state = self.lock();
        if let Some(entry) = state.backlog.iter_mut().find(|(event, _)| event.seq == seq) {
            entry.1 = true;
        }
        while state.backlog.front().is_some_and(|(_, ready)| *ready) {
            let Some((event, _)) = state.backlog.pop_front() else {
                break;
            };
            if let Some(tx) = &state.tx {
                let _ = tx.send(event);
            }
        }
    }

    /// Ends the stream: the client's `next_event` returns `None` once it has read the rest.
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.tx = None;
    }

    fn send_locked(&self, state: &mut SinkState, id: &str, msg: EventMsg) {
        if state.tx.is_none() {
            return;
        }
        let event = self.stamp_locked(state, id, msg);
        if !state.backlog.is_empty() {
            state.backlog.push_back((event, true));
        } else if let Some(tx) = &state.tx {
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

/// An event stamped and journalled but not yet delivered; dropping it lets the event go.
struct Held<'a> {
    sink: &'a EventSink,
    seq: u64,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.sink.release(self.seq);
    }
}
