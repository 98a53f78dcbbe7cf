//! [`Ledger`]: the calls a turn has issued and what it still owes the history, shared by the
//! run and the abort hook so every call gets exactly one output, whichever of them ends the
//! turn.
//!
//! Lock order: the ledger's lock, then the session's history lock (taken inside
//! `record_items`). Nothing awaits under the ledger's lock, so a run dropped at an await
//! point never leaves it half-updated.

use std::sync::{Mutex, MutexGuard, PoisonError};

use turnkit_protocol::{ContentItem, ResponseItem, Role};
use turnkit_session_core::{TaskContext, ToolOutput};

/// What a turn records when it is interrupted, so the model knows on its next request.
pub const INTERRUPTED_NOTE: &str = "<turn_aborted>The user interrupted the previous turn before it finished. \
Tool calls that had not finished were aborted and may have done part of their work. \
Wait for the user's next instruction instead of resuming on your own.</turn_aborted>";

/// The output of a call that never started because the turn was interrupted first.
pub const ABORTED_BEFORE_START: &str =
    "aborted: the user interrupted the turn before this call ran; it did nothing";

/// The output of a call whose turn was interrupted while it ran.
pub const ABORTED_WHILE_RUNNING: &str =
    "aborted: the user interrupted the turn while this call ran; it may have done part of its work";

/// The output of a call whose response failed before the call could run.
pub const RESPONSE_FAILED: &str =
    "aborted: the model's response failed before this call ran; it did nothing";

#[derive(Debug, Default)]
pub(crate) struct Ledger {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// The calls of the current response, in call order, from `recorded` on still owed.
    slots: Vec<Slot>,
    /// How many of `slots` have their output in the history.
    recorded: usize,
    /// The turn's interrupted note is recorded; nothing more is owed.
    closed: bool,
    /// `before_change` was called (or is running), so `after_turn` is owed.
    snapshot_requested: bool,
    /// `after_turn` was claimed by the run or the hook.
    after_turn_claimed: bool,
}

#[derive(Debug)]
struct Slot {
    call_id: String,
    state: SlotState,
}

#[derive(Debug)]
enum SlotState {
    NotStarted,
    Running,
    Done(ToolOutput),
}

impl Ledger {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a function call the model made; its output is owed from now on.
    pub(crate) fn issue(&self, ctx: &TaskContext, call_id: &str, item: ResponseItem) {
        let mut inner = self.lock();
        ctx.record_items([item]);
        inner.slots.push(Slot {
            call_id: call_id.to_owned(),
            state: SlotState::NotStarted,
        });
    }

    /// Marks the call at `index` (of the current response) as started.
    pub(crate) fn start(&self, index: usize) {
        if let Some(slot) = self.lock().slots.get_mut(index) {
            slot.state = SlotState::Running;
        }
    }

    /// Keeps the output of the call at `index` and records every output now due in call
    /// order (the outputs before it may still be running).
    pub(crate) fn complete(&self, ctx: &TaskContext, index: usize, output: ToolOutput) {
        let mut inner = self.lock();
        if inner.closed {
            return;
        }
        if let Some(slot) = inner.slots.get_mut(index) {
            slot.state = SlotState::Done(output);
        }
        let mut due = Vec::new();
        let Inner {
            slots, recorded, ..
        } = &mut *inner;
        while let Some(slot) = slots.get_mut(*recorded) {
            let SlotState::Done(output) = std::mem::replace(&mut slot.state, SlotState::NotStarted)
            else {
                break;
            };
            due.push(output.into_item(slot.call_id.clone()));
            *recorded += 1;
        }
        ctx.record_items(due);
    }

    /// Gives every call still owed an output saying its response failed, and starts afresh
    /// for the next response.
    pub(crate) fn fail_open_calls(&self, ctx: &TaskContext) {
        let mut inner = self.lock();
        if inner.closed {
            return;
        }
        let owed = owed_outputs(&mut inner, RESPONSE_FAILED, RESPONSE_FAILED);
        ctx.record_items(owed);
    }

    /// Starts the book of a new response; every call of the previous one is answered.
    pub(crate) fn next_response(&self) {
        let mut inner = self.lock();
        debug_assert_eq!(inner.recorded, inner.slots.len(), "every call was answered");
        inner.slots.clear();
        inner.recorded = 0;
    }

    /// Ends an interrupted turn's book, once: every call still owed gets an output (its own
    /// when it finished, otherwise one saying it was aborted), then the interrupted note.
    pub(crate) fn close_interrupted(&self, ctx: &TaskContext) {
        let mut inner = self.lock();
        if inner.closed {
            return;
        }
        inner.closed = true;
        let mut items = owed_outputs(&mut inner, ABORTED_BEFORE_START, ABORTED_WHILE_RUNNING);
        items.push(ResponseItem::Message {
            role: Role::User,
            content: vec![ContentItem::InputText {
                text: INTERRUPTED_NOTE.to_owned(),
            }],
        });
        ctx.record_items(items);
    }

    /// Notes that the turn asked for its "before" snapshot; returns whether it had already.
    pub(crate) fn request_snapshot(&self) -> bool {
        std::mem::replace(&mut self.lock().snapshot_requested, true)
    }

    /// Whether the caller owes the turn's `after_turn` call; true for one caller at most.
    pub(crate) fn claim_after_turn(&self) -> bool {
        let mut inner = self.lock();
        if !inner.snapshot_requested || inner.after_turn_claimed {
            return false;
        }
        inner.after_turn_claimed = true;
        true
    }
}

/// The outputs of every call from `recorded` on, in order, marking them recorded.
fn owed_outputs(inner: &mut Inner, not_started: &str, running: &str) -> Vec<ResponseItem> {
    let owed: Vec<ResponseItem> = inner.slots[inner.recorded..]
        .iter_mut()
        .map(|slot| {
            let output = match std::mem::replace(&mut slot.state, SlotState::NotStarted) {
                SlotState::NotStarted => ToolOutput::failure(not_started),
                SlotState::Running => ToolOutput::failure(running),
                SlotState::Done(output) => output,
            };
            output.into_item(slot.call_id.clone())
        })
        .collect();
    inner.recorded = inner.slots.len();
    owed
}
