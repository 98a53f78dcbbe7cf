//! Turning a server's failure (an HTTP status with its body, or an error event in the stream)
//! into a [`ModelError`] of the right kind.

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde::Deserialize;
use turnkit_model::ModelError;

/// `Retry-After` values above this are ignored in favour of the computed backoff: a caller
/// would rather see the error than wait minutes.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// How much of an error body is kept in a message.
const MAX_MESSAGE_CHARS: usize = 2_000;

/// The parts of an error the classification looks at.
#[derive(Debug, Default)]
pub(crate) struct ApiErrorParts {
    pub(crate) code: Option<String>,
    pub(crate) error_type: Option<String>,
    pub(crate) message: String,
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: Option<ErrorField>,
    message: Option<String>,
    code: Option<CodeValue>,
    #[serde(rename = "type")]
    error_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ErrorField {
    Object(ErrorObject),
    Text(String),
}

/// The error object of OpenAI and of most compatible servers.
#[derive(Deserialize, Default, Debug)]
pub(crate) struct ErrorObject {
    #[serde(default)]
    pub(crate) message: Option<String>,
    #[serde(default)]
    pub(crate) code: Option<CodeValue>,
    #[serde(default, rename = "type")]
    pub(crate) error_type: Option<String>,
}

/// Error codes are strings at OpenAI and numbers on some compatible servers.
#[derive(Deserialize, Debug)]
#[serde(untagged)]
pub(crate) enum CodeValue {
    Text(String),
    Number(i64),
}

impl CodeValue {
    pub(crate) fn into_string(self) -> String {
        match self {
            CodeValue::Text(text) => text,
            CodeValue::Number(number) => number.to_string(),
        }
    }
}

impl ErrorObject {
    pub(crate) fn into_parts(self) -> ApiErrorParts {
        ApiErrorParts {
            code: self.code.map(CodeValue::into_string),
            error_type: self.error_type,
            message: self.message.unwrap_or_default(),
        }
    }
}

/// Reads an error body in any of the shapes servers use, falling back to its text.
pub(crate) fn parse_error_body(body: &str) -> ApiErrorParts {
    match serde_json::from_str::<ErrorEnvelope>(body) {
        Ok(ErrorEnvelope {
            error: Some(ErrorField::Object(object)),
            ..
        }) => object.into_parts(),
        Ok(ErrorEnvelope {
            error: Some(ErrorField::Text(message)),
            ..
        }) => ApiErrorParts {
            message,
            ..ApiErrorParts::default()
        },
        Ok(ErrorEnvelope {
            error: None,
            message: Some(message),
            code,
            error_type,
        }) => ApiErrorParts {
            code: code.map(CodeValue::into_string),
            error_type,
            message,
        },
        _ => ApiErrorParts {
            message: body.trim().to_owned(),
            ..ApiErrorParts::default()
        },
    }
}

/// Classifies a non-success HTTP response.
pub(crate) fn classify_http_error(
    status: u16,
    retry_after: Option<Duration>,
    parts: ApiErrorParts,
) -> ModelError {
    let ApiErrorParts {
        code,
        error_type,
        message,
    } = parts;
    let message = shorten(if message.is_empty() {
        status_reason(status)
    } else {
        message
    });
    let code = code.as_deref();
    if status != 429 && is_context_window_exceeded(code, error_type.as_deref(), &message) {
        return ModelError::ContextWindowExceeded { message };
    }
    match status {
        401 | 403 => ModelError::Unauthorized { status, message },
        429 if code == Some("insufficient_quota") => ModelError::QuotaExceeded { message },
        429 => ModelError::RateLimited {
            retry_after: retry_after.or_else(|| retry_delay_in_message(&message)),
            message,
        },
        408 | 500..=599 => ModelError::Server {
            status,
            message,
            retry_after,
        },
        _ => ModelError::BadRequest { status, message },
    }
}

/// Classifies an error reported inside a response stream.
pub(crate) fn classify_stream_error(parts: ApiErrorParts) -> ModelError {
    let ApiErrorParts {
        code,
        error_type,
        message,
    } = parts;
    let message = shorten(if message.is_empty() {
        "the server reported an error without a message".to_owned()
    } else {
        message
    });
    if is_context_window_exceeded(code.as_deref(), error_type.as_deref(), &message) {
        return ModelError::ContextWindowExceeded { message };
    }
    if code.as_deref() == Some("insufficient_quota") {
        return ModelError::QuotaExceeded { message };
    }
    if is_rate_limit(code.as_deref(), error_type.as_deref(), &message) {
        // The same condition as an HTTP 429, so the same variant and the same retry delay.
        return ModelError::RateLimited {
            retry_after: retry_delay_in_message(&message),
            message,
        };
    }
    let request_was_wrong = code
        .as_deref()
        .is_some_and(|code| code.starts_with("invalid"))
        || error_type.as_deref() == Some("invalid_request_error");
    ModelError::Api {
        code,
        message,
        retryable: !request_was_wrong,
    }
}

fn is_context_window_exceeded(code: Option<&str>, error_type: Option<&str>, message: &str) -> bool {
    if matches!(
        code,
        Some("context_length_exceeded" | "context_window_exceeded")
    ) || error_type == Some("exceed_context_size_error")
    {
        return true;
    }
    // vLLM, llama.cpp and others say it only in words.
    let message = message.to_ascii_lowercase();
    [
        "maximum context length",
        "context length exceeded",
        "exceeds the context",
        "exceeds the available context",
        "context window",
        "context size",
    ]
    .iter()
    .any(|phrase| message.contains(phrase))
}

/// Whether a stream error reports a rate limit: by its code or type, or, on servers that
/// give neither, in words.
fn is_rate_limit(code: Option<&str>, error_type: Option<&str>, message: &str) -> bool {
    let named = |value: Option<&str>| {
        value.is_some_and(|value| {
            matches!(
                value,
                "rate_limit_exceeded" | "rate_limit_error" | "rate_limited" | "429"
            )
        })
    };
    named(code) || named(error_type) || message.to_ascii_lowercase().contains("rate limit")
}

/// The delay a server's message asks for, as OpenAI words it: "Please try again in 3.004s",
/// "try again in 250ms", "try again in 1m30s" or "try again in 20 seconds".
pub(crate) fn retry_delay_in_message(message: &str) -> Option<Duration> {
    const PHRASE: &str = "try again in ";
    let lower = message.to_ascii_lowercase();
    let start = lower.find(PHRASE)? + PHRASE.len();
    let mut rest = lower[start..].trim_start();
    let mut total = 0.0_f64;
    let mut parts = 0;
    loop {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let Ok(value) = rest[..number_len].parse::<f64>() else {
            break;
        };
        let after_number = rest[number_len..].trim_start();
        let unit_len = after_number
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after_number.len());
        let scale = match &after_number[..unit_len] {
            "ms" | "millisecond" | "milliseconds" => 0.001,
            "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
            "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
            "h" | "hour" | "hours" => 3_600.0,
            _ => break,
        };
        total += value * scale;
        parts += 1;
        rest = after_number[unit_len..].trim_start();
    }
    // Whole milliseconds: "3.004s" is 3004 ms, not the float nearest to it.
    (parts > 0 && total.is_finite())
        .then(|| Duration::from_millis((total * 1_000.0).round() as u64))
}

/// How long the server asked to wait: `retry-after-ms`, or `Retry-After` in seconds.
///
/// HTTP-date values of `Retry-After` are ignored; servers of these APIs send seconds.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds_or_millis = |name: &str, scale: f64| {
        let value = headers
            .get(name)?
            .to_str()
            .ok()?
            .trim()
            .parse::<f64>()
            .ok()?;
        (value.is_finite() && value >= 0.0).then(|| Duration::from_secs_f64(value / scale))
    };
    seconds_or_millis("retry-after-ms", 1_000.0).or_else(|| seconds_or_millis("retry-after", 1.0))
}

fn status_reason(status: u16) -> String {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|status| status.canonical_reason())
        .map_or_else(|| format!("http status {status}"), str::to_ascii_lowercase)
}

fn shorten(mut message: String) -> String {
    if let Some((cut, _)) = message.char_indices().nth(MAX_MESSAGE_CHARS) {
        message.truncate(cut);
        message.push('…');
    }
    message
}

/// Replaces every occurrence of the secret in the error's messages.
pub(crate) fn redact(error: ModelError, secret: Option<&str>) -> ModelError {
    let Some(secret) = secret.filter(|secret| !secret.is_empty()) else {
        return error;
    };
    let clean = |message: String| {
        if message.contains(secret) {
            message.replace(secret, "<redacted>")
        } else {
            message
        }
    };
    match error {
        ModelError::ContextWindowExceeded { message } => ModelError::ContextWindowExceeded {
            message: clean(message),
        },
        ModelError::Unauthorized { status, message } => ModelError::Unauthorized {
            status,
            message: clean(message),
        },
        ModelError::BadRequest { status, message } => ModelError::BadRequest {
            status,
            message: clean(message),
        },
        ModelError::QuotaExceeded { message } => ModelError::QuotaExceeded {
            message: clean(message),
        },
        ModelError::RateLimited {
            message,
            retry_after,
        } => ModelError::RateLimited {
            message: clean(message),
            retry_after,
        },
        ModelError::Server {
            status,
            message,
            retry_after,
        } => ModelError::Server {
            status,
            message: clean(message),
            retry_after,
        },
        ModelError::Connection { message, source } => ModelError::Connection {
            message: clean(message),
            source,
        },
        ModelError::InvalidResponse { message } => ModelError::InvalidResponse {
            message: clean(message),
        },
        ModelError::Api {
            code,
            message,
            retryable,
        } => ModelError::Api {
            code,
            message: clean(message),
            retryable,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::retry_delay_in_message;

    #[test]
    fn retry_delays_are_read_in_every_wording_servers_use() {
        let cases = [
            (
                "Rate limit reached for gpt-4.1. Please try again in 3.004s. Visit https://x",
                Some(3_004),
            ),
            ("Please try again in 250ms.", Some(250)),
            ("please Try Again In 1m30.5s", Some(90_500)),
            ("try again in 20 seconds", Some(20_000)),
            ("try again in 2 minutes", Some(120_000)),
            ("try again later", None),
            ("Rate limit reached.", None),
            ("try again in s", None),
        ];
        for (message, millis) in cases {
            assert_eq!(
                retry_delay_in_message(message),
                millis.map(Duration::from_millis),
                "{message}"
            );
        }
    }
}
