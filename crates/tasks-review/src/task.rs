//! [`ReviewTask`]: `Op::Review`, run by a one-shot child session, and the registration of its
//! kind.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use turnkit_model::ModelClient;
use turnkit_protocol::{
    ApprovalPolicy, EventMsg, Op, ResponseItem, ReviewOutput, ReviewRequest, ReviewTarget,
    ReviewVerdict, TaskKind, UserInput,
};
use turnkit_session_core::{
    CancellationToken, ChildOutcome, Services, SessionTask, TaskContext, TaskRegistration,
    TaskResult, ToolRegistry, TurnOverrides, async_trait,
};

use crate::diff::{collect_diff, cut_diff};
use crate::rubric::{REVIEW_RUBRIC, describe_target, review_message, review_output_schema};
use crate::{Error, parse_review_output};

/// The diff budget when the model names no context window, in bytes.
pub const DEFAULT_DIFF_BUDGET_BYTES: usize = 200_000;

/// The name of the tool a reviewer may use; it runs under the `untrusted` policy, so only
/// commands known to be read-only run without asking.
pub const REVIEW_TOOL: &str = "shell";

/// Where a review is in its mode: `exited_review_mode` is owed once `entered_review_mode` was
/// sent, and sent once, by the run or by the abort hook, whichever gets there first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Mode {
    #[default]
    NotEntered,
    Entered,
    Exited,
}

/// Reviews a change (`Op::Review`) in a one-shot child session, with findings as data.
///
/// It sends `entered_review_mode` first, collects the diff with the user's git, and, unless
/// the diff is empty, starts a child with the review rubric as its instructions, the review
/// schema as its output schema, and the parent's `shell` tool alone under a policy at least as
/// strict as `untrusted`. The child's events are re-emitted with their origin; its approval
/// requests reach the root as every child's do. `exited_review_mode` always follows (from the
/// abort hook when the review is interrupted), before the terminal event. The parent's history
/// gets a short request and answer describing the review, never the child's transcript.
#[derive(Debug)]
pub struct ReviewTask {
    request: ReviewRequest,
    mode: Mutex<Mode>,
}

impl ReviewTask {
    /// A review of `request`.
    pub fn new(request: ReviewRequest) -> Self {
        Self {
            request,
            mode: Mutex::new(Mode::NotEntered),
        }
    }

    fn enter(&self, ctx: &TaskContext) {
        *self.mode.lock().unwrap_or_else(PoisonError::into_inner) = Mode::Entered;
        ctx.send_event(EventMsg::EnteredReviewMode {
            request: self.request.clone(),
        });
    }

    /// Sends `exited_review_mode` unless it was sent or the review never entered its mode.
    fn exit(&self, ctx: &TaskContext, review_output: Option<ReviewOutput>) {
        let mut mode = self.mode.lock().unwrap_or_else(PoisonError::into_inner);
        if *mode == Mode::Entered {
            *mode = Mode::Exited;
            ctx.send_event(EventMsg::ExitedReviewMode { review_output });
        }
    }

    /// The review's output; `Ok(None)` when it was cancelled.
    async fn review(
        &self,
        ctx: &Arc<TaskContext>,
        token: &CancellationToken,
    ) -> Result<Option<ReviewOutput>, Error> {
        let diff = tokio::select! {
            biased;
            () = token.cancelled() => return Ok(None),
            diff = collect_diff(ctx.cwd(), &self.request.target) => diff?,
        };
        if diff.is_empty() && !matches!(self.request.target, ReviewTarget::Custom { .. }) {
            return Ok(Some(ReviewOutput {
                findings: Vec::new(),
                overall_correctness: ReviewVerdict::Correct,
                overall_explanation: format!(
                    "There is nothing to review: {} are empty.",
                    describe_target(&self.request.target)
                ),
                overall_confidence: 1.0,
            }));
        }
        let model = ctx
            .service::<Arc<dyn ModelClient>>()
            .ok_or(Error::NoModelClient)?;
        // Half the window for the diff leaves the rest for the rubric, the commands the
        // reviewer runs and its answer.
        let budget = model
            .info()
            .context_window
            .map_or(DEFAULT_DIFF_BUDGET_BYTES, |window| {
                usize::try_from(window.saturating_mul(2)).unwrap_or(usize::MAX)
            });
        let (diff_text, _left_out) = cut_diff(&diff, budget);
        let message = review_message(
            &self.request,
            &diff.commands,
            diff.merge_base.as_deref(),
            &diff_text,
        );
        let mut services = Services::new();
        services.insert(model);
        services.insert(
            TurnOverrides::new()
                .instructions(REVIEW_RUBRIC)
                .output_schema(review_output_schema()),
        );
        let tools = if ctx.tools().get(REVIEW_TOOL).is_some() {
            ctx.tools().subset([REVIEW_TOOL]).map_err(Error::Child)?
        } else {
            ToolRegistry::new()
        };
        let mut child = ctx
            .sub_session()
            .services(services)
            .tools(tools)
            .approval_policy(ctx.approval_policy().stricter_of(ApprovalPolicy::Untrusted))
            .start()
            .map_err(Error::Child)?;
        let outcome = tokio::select! {
            biased;
            () = token.cancelled() => None,
            outcome = child.run_once_forwarded(Op::UserInput { items: vec![UserInput::text(message)] }) => Some(outcome),
        };
        child.close().await;
        match outcome {
            None => Ok(None),
            Some(Err(error)) => Err(Error::Child(error)),
            Some(Ok(ChildOutcome::Completed { message })) => Ok(Some(parse_review_output(
                message.as_deref().unwrap_or_default(),
            ))),
            Some(Ok(ChildOutcome::Aborted { .. })) if token.is_cancelled() => Ok(None),
            Some(Ok(ChildOutcome::Aborted { reason })) => Err(Error::ChildFailed {
                reason: format!("its turn was aborted ({reason:?})"),
            }),
            Some(Ok(ChildOutcome::Failed { error })) => Err(Error::ChildFailed { reason: error }),
        }
    }
}

#[async_trait]
impl SessionTask for ReviewTask {
    fn kind(&self) -> TaskKind {
        TaskKind::REVIEW
    }

    async fn run(
        self: Arc<Self>,
        ctx: Arc<TaskContext>,
        _input: Vec<UserInput>,
        cancellation_token: CancellationToken,
    ) -> TaskResult {
        self.enter(&ctx);
        match self.review(&ctx, &cancellation_token).await {
            Ok(Some(output)) => {
                let answer = render(&self.request.target, &output);
                ctx.record_items([
                    ResponseItem::user_text(format!(
                        "Review {}.",
                        describe_target(&self.request.target)
                    )),
                    ResponseItem::assistant_text(answer.clone()),
                ]);
                self.exit(&ctx, Some(output));
                Ok(Some(answer))
            }
            Ok(None) => {
                self.exit(&ctx, None);
                Ok(None)
            }
            Err(error) => {
                self.exit(&ctx, None);
                Err(error.into())
            }
        }
    }

    async fn abort(&self, ctx: Arc<TaskContext>) {
        self.exit(&ctx, None);
    }
}

/// The review as the parent's history and the client's final message tell it.
pub fn render(target: &ReviewTarget, output: &ReviewOutput) -> String {
    let verdict = match output.overall_correctness {
        ReviewVerdict::Correct => "the change looks correct",
        ReviewVerdict::Incorrect => "the change has problems",
        ReviewVerdict::Unknown => "no verdict",
    };
    let mut text = format!("Review of {}: {verdict}.", describe_target(target));
    if !output.overall_explanation.is_empty() {
        let _ = write!(text, " {}", output.overall_explanation.trim());
    }
    if output.findings.is_empty() {
        text.push_str("\nNo findings.");
    }
    for finding in &output.findings {
        let _ = write!(
            text,
            "\n- [P{}] {} ({}:{}-{}): {}",
            finding.priority,
            finding.title,
            finding.location.path,
            finding.location.start_line,
            finding.location.end_line,
            finding.body
        );
    }
    text
}

/// The registration of [`TaskKind::REVIEW`]: each `Op::Review` builds a [`ReviewTask`].
pub fn registration() -> TaskRegistration {
    TaskRegistration::new(TaskKind::REVIEW, |op| {
        let Op::Review { request } = op else {
            return Err("the review kind runs only `Op::Review`".into());
        };
        Ok(Arc::new(ReviewTask::new(request.clone())) as Arc<dyn SessionTask>)
    })
}
