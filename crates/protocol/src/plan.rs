//! The agent's plan: its steps and their statuses, as `plan_update` reports it.

use serde::{Deserialize, Serialize};

/// One step of the agent's plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanStep {
    /// What the step does, in a short sentence.
    pub step: String,
    /// How far it is.
    pub status: StepStatus,
}

/// How far a plan step is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Not started.
    Pending,
    /// Being worked on.
    InProgress,
    /// Done.
    Completed,
}
