//! Approvals a session asks for, put to the MCP client as an elicitation (a form with one
//! `decision` field), or answered by the server's fallback when the client cannot be asked.

use std::fmt::Write as _;

use rmcp::model::{
    ElicitRequestParams, ElicitationAction, ElicitationSchema, JsonObject, ServerRequest,
};
use rmcp::service::{ElicitationMode, PeerRequestOptions};
use rmcp::{Peer, RoleServer};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use turnkit_protocol::{ApprovalOrigin, ApprovalRequest, ApprovalSubject, ReviewDecision};

use super::options::ApprovalFallback;

/// The longest diff an elicitation message shows; the rest is summarised.
const MAX_DIFF: usize = 4_000;

/// How an approval was answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Answer {
    /// The session's approval id.
    pub(crate) approval_id: String,
    /// What was asked, in one line.
    pub(crate) request: String,
    /// The decision sent to the session.
    pub(crate) decision: ReviewDecision,
    /// Whether the client answered (else the fallback did).
    pub(crate) by_client: bool,
    /// Why the fallback answered, when it did.
    pub(crate) why_fallback: Option<String>,
}

/// Whether the client declared that it takes form elicitations.
pub(crate) fn client_can_elicit(peer: &Peer<RoleServer>) -> bool {
    peer.supported_elicitation_modes()
        .contains(&ElicitationMode::Form)
}

/// Asks the client, or answers by the fallback; `stop` cancels a question in flight (the
/// turn ended), which is then answered `abort`.
///
/// # Cancel safety
///
/// Not cancel safe: dropped midway, the client's question stays open; cancel `stop` instead.
pub(crate) async fn decide(
    peer: Peer<RoleServer>,
    session_id: String,
    approval_id: String,
    request: ApprovalRequest,
    origin: Option<ApprovalOrigin>,
    fallback: ApprovalFallback,
    stop: CancellationToken,
) -> Answer {
    let summary = describe(&request, origin.as_ref());
    let by_fallback = |why: String| Answer {
        approval_id: approval_id.clone(),
        request: summary.clone(),
        decision: fallback.decision(),
        by_client: false,
        why_fallback: Some(why),
    };
    if !client_can_elicit(&peer) {
        return by_fallback(format!(
            "the MCP client cannot be asked (it declared no elicitation capability), so the server's fallback `{fallback}` answered"
        ));
    }
    let params = ElicitRequestParams::FormElicitationParams {
        meta: None,
        message: message(&session_id, &request, origin.as_ref()),
        requested_schema: schema(),
    };
    let handle = match peer
        .send_request_with_option(
            ServerRequest::ElicitRequest(rmcp::model::ElicitRequest::new(params)),
            PeerRequestOptions::no_options(),
        )
        .await
    {
        Ok(handle) => handle,
        Err(error) => {
            return by_fallback(format!(
                "asking the MCP client failed ({error}), so the server's fallback `{fallback}` answered"
            ));
        }
    };
    let request_id = handle.id.clone();
    let response = tokio::select! {
        response = handle.await_response() => response,
        () = stop.cancelled() => {
            let _ = peer
                .notify_cancelled(rmcp::model::CancelledNotificationParam::new(
                    Some(request_id),
                    Some("the turn ended".to_owned()),
                ))
                .await;
            return Answer {
                approval_id,
                request: summary,
                decision: ReviewDecision::Abort,
                by_client: false,
                why_fallback: Some("the turn ended before the client answered".to_owned()),
            };
        }
    };
    let result = match response {
        Ok(rmcp::model::ClientResult::ElicitResult(result)) => result,
        Ok(_) => {
            return by_fallback(format!(
                "the MCP client answered the question with something else, so the server's fallback `{fallback}` answered"
            ));
        }
        Err(error) => {
            return by_fallback(format!(
                "asking the MCP client failed ({error}), so the server's fallback `{fallback}` answered"
            ));
        }
    };
    let decision = match result.action {
        ElicitationAction::Accept => match decision_of(result.content.as_ref()) {
            Some(decision) => decision,
            None => {
                return by_fallback(format!(
                    "the MCP client's answer had no known `decision`, so the server's fallback `{fallback}` answered"
                ));
            }
        },
        ElicitationAction::Decline => ReviewDecision::Denied,
        // Dismissed without an answer (or an action this SDK adds later): nobody approved,
        // and the turn should not go on unsupervised.
        _ => ReviewDecision::Abort,
    };
    Answer {
        approval_id,
        request: summary,
        decision,
        by_client: true,
        why_fallback: None,
    }
}

/// The form: one required `decision`, one of four.
pub(crate) fn schema() -> ElicitationSchema {
    let schema = json!({
        "type": "object",
        "properties": {
            "decision": {
                "type": "string",
                "title": "Decision",
                "description": "approve runs it once; approve_for_session also allows the same again in this session; deny tells the agent to do something else; abort stops the turn.",
                "oneOf": [
                    { "const": "approve", "title": "Approve" },
                    { "const": "approve_for_session", "title": "Approve for this session" },
                    { "const": "deny", "title": "Deny" },
                    { "const": "abort", "title": "Deny and stop the turn" }
                ]
            }
        },
        "required": ["decision"]
    });
    let object = match schema {
        Value::Object(map) => map,
        _ => JsonObject::new(),
    };
    // The literal above is a valid elicitation schema; the fallback keeps this infallible.
    ElicitationSchema::from_json_schema(object)
        .unwrap_or_else(|_| ElicitationSchema::new(std::collections::BTreeMap::new()))
}

fn decision_of(content: Option<&Value>) -> Option<ReviewDecision> {
    let decision = content?.get("decision")?.as_str()?;
    match decision.replace('-', "_").as_str() {
        "approve" | "approved" | "yes" => Some(ReviewDecision::Approved),
        "approve_for_session" | "approved_for_session" => Some(ReviewDecision::ApprovedForSession),
        "deny" | "denied" | "no" => Some(ReviewDecision::Denied),
        "abort" => Some(ReviewDecision::Abort),
        _ => None,
    }
}

/// What is asked, in one line, with where it comes from.
pub(crate) fn describe(request: &ApprovalRequest, origin: Option<&ApprovalOrigin>) -> String {
    let what = match &request.subject {
        ApprovalSubject::Command {
            command,
            cwd,
            without_sandbox,
        } => format!(
            "run `{}` in {}{}",
            command.join(" "),
            cwd.display(),
            if *without_sandbox {
                " without the sandbox"
            } else {
                ""
            }
        ),
        ApprovalSubject::Patch { files, .. } => {
            let names: Vec<String> = files
                .iter()
                .map(|file| file.display().to_string())
                .collect();
            format!("change {}", names.join(", "))
        }
        ApprovalSubject::ToolCall { server, tool, .. } => {
            format!("call the tool `{tool}` of the MCP server `{server}`")
        }
        ApprovalSubject::Question { title, .. } => title.clone(),
    };
    match origin {
        Some(origin) => format!(
            "{what} (asked by sub-session {} at depth {}, started by the {} task)",
            origin.sub_session_id, origin.depth, origin.task_kind
        ),
        None => what,
    }
}

/// The elicitation's message: what, why, and the patch or arguments to look at.
fn message(session_id: &str, request: &ApprovalRequest, origin: Option<&ApprovalOrigin>) -> String {
    let mut text = format!(
        "turnkit session {session_id} asks for approval: {}",
        describe(request, origin)
    );
    if let Some(reason) = &request.reason {
        text.push_str("\nreason: ");
        text.push_str(reason);
    }
    match &request.subject {
        ApprovalSubject::Patch { diff, .. } => {
            text.push_str("\n\n");
            if diff.len() > MAX_DIFF {
                let mut end = MAX_DIFF;
                while !diff.is_char_boundary(end) {
                    end -= 1;
                }
                text.push_str(&diff[..end]);
                let _ = write!(text, "\n… ({} more bytes of diff)", diff.len() - end);
            } else {
                text.push_str(diff);
            }
        }
        ApprovalSubject::ToolCall { arguments, .. } => {
            text.push_str("\narguments: ");
            text.push_str(&arguments.to_string());
        }
        ApprovalSubject::Question { details, .. } if !details.is_null() => {
            text.push_str("\ndetails: ");
            text.push_str(&details.to_string());
        }
        _ => {}
    }
    text
}

/// The decision's wire name.
pub(crate) fn decision_name(decision: ReviewDecision) -> &'static str {
    match decision {
        ReviewDecision::Approved => "approved",
        ReviewDecision::ApprovedForSession => "approved_for_session",
        ReviewDecision::Denied => "denied",
        ReviewDecision::Abort => "abort",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_has_one_required_decision_with_four_choices() {
        let schema = serde_json::to_value(schema()).expect("json");
        assert_eq!(schema["required"], json!(["decision"]));
        assert_eq!(
            schema["properties"]["decision"]["oneOf"]
                .as_array()
                .map(Vec::len),
            Some(4)
        );
    }

    #[test]
    fn answers_map_to_decisions_and_unknown_ones_to_none() {
        assert_eq!(
            decision_of(Some(&json!({ "decision": "approve_for_session" }))),
            Some(ReviewDecision::ApprovedForSession)
        );
        assert_eq!(decision_of(Some(&json!({ "decision": "maybe" }))), None);
        assert_eq!(decision_of(None), None);
    }
}
