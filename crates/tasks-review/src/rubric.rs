//! What the reviewing child is told: [`REVIEW_RUBRIC`] (its instructions), the JSON schema its
//! answer must follow ([`review_output_schema`]), and the request for one target.

use std::fmt::Write as _;

use turnkit_protocol::{ReviewRequest, ReviewTarget};

/// The reviewer's instructions: what counts as a finding and how to report it.
pub const REVIEW_RUBRIC: &str = "\
You are reviewing a proposed code change as a careful senior engineer would. Report only \
discrete, actionable problems that this change introduced: a bug, a security hole, data loss, \
a race, a broken contract, a missing error path, a regression in performance or behaviour. Do \
not report style preferences, problems that were there before the change, speculative issues \
you cannot tie to a line, or things the author clearly did on purpose.

For every finding give:
- title: one line, at most 80 characters, naming the problem;
- body: one short paragraph saying why it is a problem, when it happens, and what to do;
- priority: 0 (must fix before merging: breaks the build, loses data, security), 1 (should fix \
before merging), 2 (fix soon), 3 (nice to have);
- confidence: from 0 to 1, how sure you are that it is a real problem;
- location: the file path relative to the repository's top, and the first and last line of the \
smallest range that shows the problem; the range must overlap the change.

Then give an overall verdict: `correct` when no finding should block the change, else \
`incorrect`, with a short explanation and your confidence from 0 to 1.

You may run read-only commands (`git diff`, `git show`, `cat`, `rg`, `ls`, ...) to read more \
context; do not change any file. Answer with one JSON object that follows the output schema, \
and nothing else.";

/// The JSON schema a review's final answer must follow; the wire form of
/// [`ReviewOutput`](turnkit_protocol::ReviewOutput).
pub fn review_output_schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["findings", "overall_correctness", "overall_explanation", "overall_confidence"],
        "properties": {
            "findings": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["title", "body", "priority", "confidence", "location"],
                    "properties": {
                        "title": {"type": "string", "maxLength": 80},
                        "body": {"type": "string"},
                        "priority": {"type": "integer", "minimum": 0, "maximum": 3},
                        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                        "location": {
                            "type": "object",
                            "additionalProperties": false,
                            "required": ["path", "start_line", "end_line"],
                            "properties": {
                                "path": {"type": "string"},
                                "start_line": {"type": "integer", "minimum": 1},
                                "end_line": {"type": "integer", "minimum": 1}
                            }
                        }
                    }
                }
            },
            "overall_correctness": {"type": "string", "enum": ["correct", "incorrect"]},
            "overall_explanation": {"type": "string"},
            "overall_confidence": {"type": "number", "minimum": 0, "maximum": 1}
        }
    })
}

/// What the target is, in a few words, for the user and for the parent's history.
pub fn describe_target(target: &ReviewTarget) -> String {
    match target {
        ReviewTarget::UncommittedChanges => "the uncommitted changes".to_owned(),
        ReviewTarget::BaseBranch { branch } => format!("the changes against `{branch}`"),
        ReviewTarget::Commit { sha, title } => match title {
            Some(title) => format!("commit {sha} ({title})"),
            None => format!("commit {sha}"),
        },
        ReviewTarget::Custom { instructions } => format!("custom instructions: {instructions}"),
    }
}

/// The user message that starts the review: the target, how to look at it again, the (cut)
/// diff, and the request's own instructions.
pub(crate) fn review_message(
    request: &ReviewRequest,
    commands: &[String],
    merge_base: Option<&str>,
    diff: &str,
) -> String {
    let mut message = match &request.target {
        ReviewTarget::Custom { instructions } => {
            format!("Review the code as follows: {instructions}\n")
        }
        target => {
            let mut message = format!("Review {}.\n", describe_target(target));
            if let Some(merge_base) = merge_base {
                let _ = writeln!(
                    message,
                    "The merge base of this comparison is {merge_base}."
                );
            }
            if !commands.is_empty() {
                let _ = writeln!(
                    message,
                    "The diff below comes from: {}.",
                    commands.join("; ")
                );
            }
            let _ = write!(message, "\n```diff\n{diff}```\n");
            message
        }
    };
    if !request.prompt.trim().is_empty() {
        let _ = write!(message, "\nAlso: {}\n", request.prompt.trim());
    }
    message
}
