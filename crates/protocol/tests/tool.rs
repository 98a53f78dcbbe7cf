//! `ToolSpec` on the wire: its JSON, its defaults, and a round trip.

use serde_json::json;
use turnkit_protocol::ToolSpec;

#[test]
fn tool_spec_json_is_frozen_and_round_trips() {
    let spec = ToolSpec::function(
        "shell",
        "Runs a command.",
        json!({ "type": "object", "properties": { "command": { "type": "array" } } }),
    );
    let wire = serde_json::to_value(&spec).expect("a spec serialises");
    assert_eq!(
        wire,
        json!({
            "name": "shell",
            "description": "Runs a command.",
            "parameters": { "type": "object", "properties": { "command": { "type": "array" } } },
            "strict": false
        })
    );
    let back: ToolSpec = serde_json::from_value(wire).expect("a spec deserialises");
    assert_eq!(back, spec);
}

#[test]
fn tool_spec_needs_only_a_name_and_parameters() {
    let spec: ToolSpec = serde_json::from_value(json!({ "name": "noop", "parameters": {} }))
        .expect("description and strict have defaults");
    assert_eq!(spec, ToolSpec::function("noop", "", json!({})));
}
