//! [`ApplyPatchTool`]: the model edits files with a patch in the `*** Begin Patch` format;
//! every hunk is checked before anything is written, and the user sees the diff when asked.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use turnkit_protocol::{
    ApprovalRequest, ApprovalSubject, EventMsg, FileChange, SandboxPolicy, ToolSpec,
};
use turnkit_session_core::{CancellationToken, TaskContext, Tool, ToolOutput, parse_arguments};

use super::OnDrop;
use super::approval::{self, Escalation, parameters_with_escalation};
use crate::PatchPlan;

/// The `apply_patch` tool: adds, deletes, moves and updates files below the session's
/// directory from one patch, all or nothing.
///
/// The patch is checked against the files first; one that does not apply changes nothing and
/// tells the model which hunk failed and why. When the policy asks, the request shows every
/// file and the whole change as a unified diff; after the answer the patch is checked again,
/// and refused if the files changed meanwhile, so what is written is what the user saw.
/// Events: `patch_apply_begin { call_id, changes }` right before writing, then exactly one
/// `patch_apply_end`.
#[derive(Clone, Debug, Default)]
pub struct ApplyPatchTool;

#[derive(Deserialize)]
struct ApplyPatchArguments {
    input: String,
    #[serde(flatten)]
    escalation: Escalation,
}

impl ApplyPatchTool {
    /// The tool.
    pub fn new() -> Self {
        Self
    }
}

#[async_trait]
impl Tool for ApplyPatchTool {
    fn spec(&self) -> ToolSpec {
        let properties = serde_json::json!({
            "input": {
                "type": "string",
                "description": "The whole patch, from `*** Begin Patch` to `*** End Patch`, with `*** Add File:`, `*** Delete File:` and `*** Update File:` (optionally `*** Move to:`) sections and `@@` hunks of context, `-` and `+` lines."
            }
        });
        ToolSpec::function(
            "apply_patch",
            "Edits files with a patch: adds, deletes, moves and updates files below the session's directory. Nothing is written unless every hunk applies.",
            parameters_with_escalation(properties, &["input"]),
        )
    }

    fn can_change_files(&self) -> bool {
        true
    }

    async fn call(
        &self,
        ctx: Arc<TaskContext>,
        call_id: &str,
        arguments: serde_json::Value,
        cancellation_token: CancellationToken,
    ) -> ToolOutput {
        let arguments = match parse_arguments::<ApplyPatchArguments>("apply_patch", arguments) {
            Ok(arguments) => arguments,
            Err(output) => return output,
        };
        let root = ctx.cwd().to_path_buf();
        let plan = match plan(&arguments.input, &root).await {
            Ok(plan) => plan,
            Err(output) => return output,
        };
        if let Err(output) = allowed_by_sandbox(ctx.sandbox_policy(), &root, plan.changes()) {
            return output;
        }
        if approval::patch_needs_approval(ctx.approval_policy(), &arguments.escalation) {
            let approved = plan.changes().to_vec();
            let mut request = ApprovalRequest::new(ApprovalSubject::Patch {
                files: changed_files(&approved),
                diff: combined_diff(&approved),
                cwd: root.clone(),
            })
            .with_call_id(call_id);
            if let Some(reason) = arguments.escalation.justification.clone() {
                request = request.with_reason(reason);
            }
            if let Some(output) = approval::ask(&ctx, request, "this patch").await {
                return output;
            }
            drop(plan);
            // The user may have taken a while: check again, and write only what they saw.
            let fresh = match self::plan(&arguments.input, &root).await {
                Ok(fresh) => fresh,
                Err(output) => return output,
            };
            if fresh.changes() != approved.as_slice() {
                return ToolOutput::failure(
                    "the files changed while the patch waited for approval, so it was not applied and no file was changed; read the files again and write a new patch",
                );
            }
            return commit(&ctx, call_id, fresh, &cancellation_token).await;
        }
        commit(&ctx, call_id, plan, &cancellation_token).await
    }
}

/// Whether the session's sandbox policy lets the patch write every file it touches.
///
/// The patch is written by this process, where Landlock does not reach, so the policy is
/// checked here, the way the sandbox would apply it to a command: `read_only` writes nothing,
/// `workspace_write` writes below the session's directory or an extra writable root but never
/// into a `.git` directory's `hooks` or `config`, and `full_access` writes anywhere. Symbolic
/// links in the existing part of each path are resolved first. A refused patch writes nothing.
fn allowed_by_sandbox(
    policy: &SandboxPolicy,
    root: &Path,
    changes: &[FileChange],
) -> Result<(), ToolOutput> {
    let refuse = |why: String| {
        Err(ToolOutput::failure(format!(
            "the patch was not applied and no file was changed: {why}; the session's sandbox policy is {policy}, which only the user can change (for example to full_access, chosen knowingly)"
        )))
    };
    match policy {
        SandboxPolicy::FullAccess => Ok(()),
        SandboxPolicy::ReadOnly { .. } => {
            refuse("the sandbox allows no writes to files".to_owned())
        }
        SandboxPolicy::WorkspaceWrite { writable_roots, .. } => {
            let roots: Vec<PathBuf> = std::iter::once(root)
                .chain(writable_roots.iter().map(PathBuf::as_path))
                .filter_map(|root| std::fs::canonicalize(root).ok())
                .collect();
            for file in changed_files(changes) {
                let resolved = resolve(&root.join(&file));
                let Some(inside) = roots
                    .iter()
                    .find_map(|root| resolved.strip_prefix(root).ok())
                else {
                    return refuse(format!(
                        "`{}` is outside the writable directories",
                        file.display()
                    ));
                };
                if is_protected(inside) {
                    return refuse(format!(
                        "`{}` is inside a .git directory's hooks or config, which the sandbox keeps read-only",
                        file.display()
                    ));
                }
            }
            Ok(())
        }
    }
}

/// `path` with its longest existing prefix canonicalised (symbolic links followed).
fn resolve(path: &Path) -> PathBuf {
    let mut rest = Vec::new();
    let mut existing = path;
    loop {
        if let Ok(canonical) = std::fs::canonicalize(existing) {
            return rest
                .iter()
                .rev()
                .fold(canonical, |path, part| path.join(part));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => return path.to_path_buf(),
        }
    }
}

/// Whether a path relative to a writable root lies in a `.git` directory's `hooks` or
/// `config`.
fn is_protected(relative: &Path) -> bool {
    let parts: Vec<_> = relative.components().collect();
    parts.windows(2).any(|pair| {
        pair[0].as_os_str() == ".git"
            && (pair[1].as_os_str() == "hooks" || pair[1].as_os_str() == "config")
    })
}

/// Parses and checks the patch off the runtime's threads (it reads every file it touches).
async fn plan(input: &str, root: &Path) -> Result<PatchPlan, ToolOutput> {
    let input = input.to_owned();
    let root = root.to_path_buf();
    let checked = tokio::task::spawn_blocking(move || PatchPlan::new(&input, &root)).await;
    match checked {
        Ok(Ok(plan)) => Ok(plan),
        Ok(Err(error)) => Err(ToolOutput::failure(format!(
            "the patch was not applied and no file was changed: {error}"
        ))),
        Err(join) => Err(ToolOutput::failure(format!(
            "the patch could not be checked ({join}); no file was changed"
        ))),
    }
}

/// Writes a checked plan between `patch_apply_begin` and exactly one `patch_apply_end`.
async fn commit(
    ctx: &Arc<TaskContext>,
    call_id: &str,
    plan: PatchPlan,
    cancellation_token: &CancellationToken,
) -> ToolOutput {
    if cancellation_token.is_cancelled() {
        return ToolOutput::failure(
            "the turn was interrupted before the patch was applied; no file was changed",
        );
    }
    let summary = plan.summary();
    ctx.send_event(EventMsg::PatchApplyBegin {
        call_id: call_id.to_owned(),
        changes: plan.changes().to_vec(),
    });
    // The write goes on in its blocking thread if this call is dropped; its end is then
    // reported as unknown rather than never.
    let guard = OnDrop::new({
        let ctx = Arc::clone(ctx);
        let call_id = call_id.to_owned();
        move || {
            ctx.send_event(EventMsg::PatchApplyEnd {
                call_id,
                success: false,
                stdout: String::new(),
                stderr: "the turn was stopped while the patch was being written; check the files"
                    .to_owned(),
            });
        }
    });
    let written = tokio::task::spawn_blocking(move || plan.commit()).await;
    guard.disarm();
    let result = match written {
        Ok(Ok(_changes)) => Ok(summary),
        Ok(Err(error)) => Err(turnkit_session_core::error_chain(&error)),
        Err(join) => Err(format!(
            "the patch could not be written ({join}); check the files"
        )),
    };
    let (success, stdout, stderr) = match &result {
        Ok(summary) => (true, summary.clone(), String::new()),
        Err(message) => (false, String::new(), message.clone()),
    };
    ctx.send_event(EventMsg::PatchApplyEnd {
        call_id: call_id.to_owned(),
        success,
        stdout,
        stderr,
    });
    match result {
        Ok(summary) => ToolOutput::success(summary),
        Err(message) => ToolOutput::failure(message),
    }
}

/// Every path a patch touches, a move's target included, in patch order.
fn changed_files(changes: &[FileChange]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for change in changes {
        files.push(change.path().to_path_buf());
        if let FileChange::Update {
            move_path: Some(to),
            ..
        } = change
        {
            files.push(to.clone());
        }
    }
    files
}

/// The whole patch as one unified diff, as `git diff` would show it: added and deleted files
/// against `/dev/null`.
fn combined_diff(changes: &[FileChange]) -> String {
    let mut diff = String::new();
    for change in changes {
        match change {
            FileChange::Add { path, content } => {
                let lines: Vec<&str> = content.lines().collect();
                let _ = writeln!(diff, "--- /dev/null\n+++ b/{}", path.display());
                let _ = writeln!(diff, "@@ -0,0 +1,{} @@", lines.len());
                for line in lines {
                    let _ = writeln!(diff, "+{line}");
                }
            }
            FileChange::Delete { path, content } => {
                let lines: Vec<&str> = content.lines().collect();
                let _ = writeln!(diff, "--- a/{}\n+++ /dev/null", path.display());
                let _ = writeln!(diff, "@@ -1,{} +0,0 @@", lines.len());
                for line in lines {
                    let _ = writeln!(diff, "-{line}");
                }
            }
            FileChange::Update {
                path,
                move_path,
                unified_diff,
            } => {
                if let Some(to) = move_path
                    && unified_diff.is_empty()
                {
                    let _ = writeln!(
                        diff,
                        "rename from {}\nrename to {}",
                        path.display(),
                        to.display()
                    );
                }
                diff.push_str(unified_diff);
            }
        }
    }
    diff
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::is_protected;

    #[test]
    fn git_hooks_and_config_are_protected_at_any_depth() {
        assert!(is_protected(Path::new(".git/config")));
        assert!(is_protected(Path::new(".git/hooks/pre-commit")));
        assert!(is_protected(Path::new("vendor/lib/.git/hooks")));
        assert!(!is_protected(Path::new(".git/HEAD")));
        assert!(!is_protected(Path::new("src/config")));
        assert!(!is_protected(Path::new("hooks/.git")));
    }
}
