//! The approval policy as the built-in tools apply it: when to ask, what the answer means for
//! the model, and the escalation arguments a model adds to ask for approval itself.

use serde::Deserialize;
use turnkit_protocol::{ApprovalPolicy, ApprovalRequest, ReviewDecision};
use turnkit_session_core::{TaskContext, ToolOutput};

use crate::CommandSafety;

/// The arguments a call adds to ask for the user's approval under `on_request`.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct Escalation {
    /// The call needs the user's approval.
    #[serde(default)]
    pub(crate) with_escalated_permissions: bool,
    /// Why, in a sentence the user reads.
    #[serde(default)]
    pub(crate) justification: Option<String>,
}

/// The JSON schema of a tool's parameters: `properties` (an object), of which `required` must
/// be given, plus the [`Escalation`] arguments.
pub(crate) fn parameters_with_escalation(
    mut properties: serde_json::Value,
    required: &[&str],
) -> serde_json::Value {
    properties["with_escalated_permissions"] = serde_json::json!({
        "type": "boolean",
        "description": "Set to true to ask the user to approve this call before it runs (for anything risky, destructive or outside the task); give a justification."
    });
    properties["justification"] = serde_json::json!({
        "type": "string",
        "description": "Why the call needs the user's approval, in one sentence the user reads; only with with_escalated_permissions."
    });
    serde_json::json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false
    })
}

/// Whether a command needs the user's approval under `policy`.
pub(crate) fn command_needs_approval(
    policy: ApprovalPolicy,
    safety: &CommandSafety,
    escalation: &Escalation,
) -> bool {
    match policy {
        ApprovalPolicy::Never => false,
        ApprovalPolicy::OnRequest => escalation.with_escalated_permissions,
        ApprovalPolicy::Untrusted => {
            escalation.with_escalated_permissions || !safety.is_read_only()
        }
        ApprovalPolicy::Always => true,
    }
}

/// Whether a patch needs the user's approval under `policy`: `on_request` trusts edits inside
/// the session's directory unless the model asks, stricter policies always ask.
pub(crate) fn patch_needs_approval(policy: ApprovalPolicy, escalation: &Escalation) -> bool {
    match policy {
        ApprovalPolicy::Never => false,
        ApprovalPolicy::OnRequest => escalation.with_escalated_permissions,
        ApprovalPolicy::Untrusted | ApprovalPolicy::Always => true,
    }
}

/// Asks the client and returns `None` when the call may go on, or the output that ends it.
///
/// `what` names the action for the model ("the command `ls`").
///
/// # Cancel safety
///
/// Cancel safe: dropping the future withdraws the request.
pub(crate) async fn ask(
    ctx: &TaskContext,
    request: ApprovalRequest,
    what: &str,
) -> Option<ToolOutput> {
    match ctx.request_approval(request).await {
        ReviewDecision::Approved | ReviewDecision::ApprovedForSession => None,
        ReviewDecision::Denied => Some(ToolOutput::failure(format!(
            "the user declined {what}: it was not done. Do not try it again as it is; do something else, or ask the user how to go on"
        ))),
        ReviewDecision::Abort => Some(
            abort_turn(
                ctx,
                &format!("the user aborted {what}: it was not done, and the turn was stopped"),
            )
            .await,
        ),
    }
}

/// Interrupts the turn (see "The abort convention" in the module docs) and returns `text` as
/// the call's failed output once the turn's token is cancelled.
///
/// # Cancel safety
///
/// Cancel safe: the interrupt is asked for before the first await.
pub(crate) async fn abort_turn(ctx: &TaskContext, text: &str) -> ToolOutput {
    let token = ctx.cancellation_token();
    // A request that resolved `abort` because the turn is already being aborted needs nothing
    // more; otherwise the user chose it, and the turn must stop before the model reads this.
    if !token.is_cancelled() && ctx.interrupt_turn() {
        token.cancelled().await;
    }
    ToolOutput::failure(text)
}
