//! What a model is told about the built-in tools: their names in prompt order and their
//! parameters, with the escalation arguments `on_request` reads.

use turnkit_tasks_regular::{BuiltinTools, builtin_tools};

#[test]
fn the_default_tools_leave_subagents_out_and_keep_a_stable_order() {
    let names: Vec<String> = builtin_tools()
        .iter()
        .map(|tool| tool.spec().name)
        .collect();
    assert_eq!(names, ["shell", "apply_patch", "update_plan"]);
    let tools = BuiltinTools::new().subagents(true).tools();
    assert_eq!(
        tools.last().map(|tool| tool.spec().name),
        Some("subagent".to_owned())
    );
    let flags: Vec<(bool, bool)> = tools
        .iter()
        .map(|tool| (tool.can_change_files(), tool.supports_parallel()))
        .collect();
    assert_eq!(
        flags,
        [(true, false), (true, false), (false, true), (true, true)]
    );
}

#[test]
fn every_built_in_tool_spec_matches_its_snapshot() {
    for tool in BuiltinTools::new().subagents(true).tools() {
        let spec = tool.spec();
        insta::assert_json_snapshot!(format!("spec_{}", spec.name), spec);
    }
}
