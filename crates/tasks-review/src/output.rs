//! Reading the reviewer's answer: [`parse_review_output`], strict first, then lenient, then
//! as plain text.

use serde_json::Value;
use turnkit_protocol::{CodeLocation, ReviewFinding, ReviewOutput, ReviewVerdict};

/// The review the reviewer's answer holds.
///
/// The answer should be one JSON object following the output schema. Failing that, the first
/// JSON object in it (a fenced block, or text around it) is read leniently: priorities as
/// `"P1"` or `1`, a verdict as `correct`/`patch is correct`/`true`, missing numbers as 0.5 for
/// confidence, findings without a title or location skipped. Failing that too, the whole
/// answer is kept as the explanation, with no findings and an unknown verdict.
///
/// ```
/// use turnkit_protocol::ReviewVerdict;
/// use turnkit_tasks_review::parse_review_output;
///
/// let output = parse_review_output("The change looks fine to me.");
/// assert_eq!(output.overall_correctness, ReviewVerdict::Unknown);
/// assert_eq!(output.overall_explanation, "The change looks fine to me.");
/// ```
pub fn parse_review_output(answer: &str) -> ReviewOutput {
    if let Ok(output) = serde_json::from_str::<ReviewOutput>(answer.trim()) {
        return output;
    }
    if let Some(output) = first_json_object(answer).and_then(|value| lenient(&value)) {
        return output;
    }
    ReviewOutput {
        findings: Vec::new(),
        overall_correctness: ReviewVerdict::Unknown,
        overall_explanation: answer.trim().to_owned(),
        overall_confidence: 0.0,
    }
}

/// The first well-formed JSON object in `text`: each `{` is tried as a start, and the stream
/// deserialiser finds where the object ends.
fn first_json_object(text: &str) -> Option<Value> {
    text.char_indices()
        .filter(|(_, character)| *character == '{')
        .find_map(|(start, _)| {
            let mut values =
                serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
            match values.next() {
                Some(Ok(value @ Value::Object(_))) => Some(value),
                _ => None,
            }
        })
}

fn lenient(value: &Value) -> Option<ReviewOutput> {
    let object = value.as_object()?;
    let findings: Vec<ReviewFinding> = object
        .get("findings")
        .and_then(Value::as_array)
        .map(|findings| findings.iter().filter_map(lenient_finding).collect())
        .unwrap_or_default();
    let verdict = object
        .get("overall_correctness")
        .or_else(|| object.get("verdict"))
        .map_or(ReviewVerdict::Unknown, verdict_of);
    let explanation = object
        .get("overall_explanation")
        .or_else(|| object.get("explanation"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if findings.is_empty() && verdict == ReviewVerdict::Unknown && explanation.is_empty() {
        return None;
    }
    Some(ReviewOutput {
        findings,
        overall_correctness: verdict,
        overall_explanation: explanation,
        overall_confidence: object
            .get("overall_confidence")
            .and_then(number)
            .unwrap_or(0.5),
    })
}

fn lenient_finding(value: &Value) -> Option<ReviewFinding> {
    let title = value.get("title")?.as_str()?.to_owned();
    let location = value
        .get("location")
        .or_else(|| value.get("code_location"))?;
    let path = location
        .get("path")
        .or_else(|| location.get("absolute_file_path"))
        .or_else(|| location.get("file"))?
        .as_str()?
        .to_owned();
    let range = location.get("line_range").unwrap_or(location);
    let start_line = line(range.get("start_line").or_else(|| range.get("start")))?;
    let end_line = line(range.get("end_line").or_else(|| range.get("end"))).unwrap_or(start_line);
    Some(ReviewFinding {
        title,
        body: value
            .get("body")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        priority: value.get("priority").and_then(priority).unwrap_or(2),
        confidence: value
            .get("confidence")
            .or_else(|| value.get("confidence_score"))
            .and_then(number)
            .unwrap_or(0.5),
        location: CodeLocation {
            path,
            start_line,
            end_line: end_line.max(start_line),
        },
    })
}

fn line(value: Option<&Value>) -> Option<u32> {
    let value = value?;
    value
        .as_u64()
        .or_else(|| value.as_str()?.trim().parse().ok())
        .and_then(|line| u32::try_from(line).ok())
}

fn priority(value: &Value) -> Option<u8> {
    let number = value.as_u64().or_else(|| {
        let text = value.as_str()?.trim();
        text.trim_start_matches(['P', 'p']).parse().ok()
    })?;
    u8::try_from(number.min(3)).ok()
}

fn number(value: &Value) -> Option<f64> {
    value
        .as_f64()
        .or_else(|| value.as_str()?.trim().parse().ok())
        .map(|number| number.clamp(0.0, 1.0))
}

fn verdict_of(value: &Value) -> ReviewVerdict {
    if let Some(correct) = value.as_bool() {
        return if correct {
            ReviewVerdict::Correct
        } else {
            ReviewVerdict::Incorrect
        };
    }
    let text = value.as_str().unwrap_or_default().to_lowercase();
    if text.contains("incorrect") || text.contains("not correct") {
        ReviewVerdict::Incorrect
    } else if text.contains("correct") {
        ReviewVerdict::Correct
    } else {
        ReviewVerdict::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fenced_answer_with_loose_fields_is_read() {
        let answer = "Here is my review:\n```json\n{\"findings\": [{\"title\": \"Off by one\", \"body\": \"b\", \"priority\": \"P1\", \"confidence_score\": \"0.9\", \"code_location\": {\"absolute_file_path\": \"src/a.rs\", \"line_range\": {\"start\": 3, \"end\": 2}}}], \"overall_correctness\": \"patch is incorrect\"}\n```";
        let output = parse_review_output(answer);
        assert_eq!(output.findings.len(), 1);
        assert_eq!(output.findings[0].priority, 1);
        assert_eq!(output.findings[0].location.end_line, 3);
        assert_eq!(output.overall_correctness, ReviewVerdict::Incorrect);
    }
}
