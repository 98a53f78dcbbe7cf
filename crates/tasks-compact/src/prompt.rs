//! What the summarising child is asked, and how a summary is marked in the new history.

/// The instructions a summarising child's turns send in place of their own (through
/// session-core's `TurnOverrides`), so the model does not take itself for the coding agent.
pub const SUMMARISER_INSTRUCTIONS: &str = "\
You write hand-off notes for a coding agent's conversations. You have no tools. Read the \
conversation, then answer the last message with the note it asks for, and nothing else.";

/// The hand-off instructions sent, as the last user message, to the child session that
/// summarises a history (or one chunk of it).
pub const HANDOFF_INSTRUCTIONS: &str = "\
Stop working on the task. The conversation above is about to be replaced by a hand-off note \
that you write now; another engineer (possibly another model) will continue from that note \
alone, with no access to this conversation.

Write the note in plain Markdown with these sections, each short and concrete; write `none` \
under a section that has nothing to report:

1. Goal: what the user asked for, in their own terms, and what done looks like.
2. Progress: what has been done so far and what state it left things in.
3. Decisions: choices made and why, including approaches tried and abandoned.
4. Constraints and user preferences: rules the user stated or implied (style, tools, things \
not to touch, how they want to be answered).
5. Files touched: each path and what changed in it.
6. Commands run: the important commands and what they showed (keep exact error lines).
7. Errors met: failures still unexplained or unresolved, with their exact messages.
8. Open questions: what is still unknown or waiting on the user.
9. Next steps: the concrete next actions, in order.

Keep names, paths, identifiers and numbers exact. Do not call tools and do not continue the task; \
answer with the note only.";

/// The instructions sent to the child that merges the partial notes of a history summarised in
/// chunks.
pub const COMBINE_INSTRUCTIONS: &str = "\
The messages above are hand-off notes, each covering one consecutive part of one long \
conversation, oldest first. Merge them into a single hand-off note with the same nine sections \
(Goal, Progress, Decisions, Constraints and user preferences, Files touched, Commands run, \
Errors met, Open questions, Next steps). Where the notes disagree, the later part wins. Keep \
names, paths, identifiers and numbers exact. Answer with the merged note only.";

/// The first line of the user message that carries a summary in a compacted history; the
/// number of the compaction follows it.
pub const SUMMARY_HEADER: &str =
    "Summary of the earlier conversation, written when its history was compacted";

/// The user message that carries `summary` as compaction number `count`.
pub(crate) fn summary_message_text(summary: &str, count: u32) -> String {
    format!("{SUMMARY_HEADER} (compaction {count}):\n\n{summary}")
}

/// The compaction number of a summary message's text, when it is one.
pub(crate) fn summary_count(text: &str) -> Option<u32> {
    let rest = text
        .strip_prefix(SUMMARY_HEADER)?
        .strip_prefix(" (compaction ")?;
    let digits = rest.split(')').next()?;
    digits.parse().ok()
}

/// One partial note, as a message of the combining child's history.
pub(crate) fn partial_note_text(index: usize, total: usize, note: &str) -> String {
    format!("Hand-off note for part {} of {total}:\n\n{note}", index + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_message_says_its_count() {
        let text = summary_message_text("Goal: ship it", 3);
        assert_eq!(summary_count(&text), Some(3));
        assert_eq!(summary_count("Goal: ship it"), None);
    }
}
