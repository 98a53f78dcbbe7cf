//! From a response body's bytes to [`ResponseEvent`]s: SSE framing by `sse-stream`, then one
//! decoder per wire API.
//!
//! The same [`decode_sse`] serves the HTTP client and the benchmarks, so what is measured is
//! what runs.

mod chat;
mod responses;

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use sse_stream::{Sse, SseByteStream};
use turnkit_model::{ModelError, ResponseEvent, ResponseStream};

use crate::WireApi;

/// Decodes an SSE response body of the given API into response events.
///
/// `bytes` is the body as it arrives, in chunks of any size; a transport failure is an `Err`
/// item, passed through as it is. The stream ends after `Completed`, or after the first error:
/// a malformed event (`InvalidResponse`), an error the server reported in the stream, or the
/// end of the body before the API's final event (`StreamEndedEarly`, retryable). Anything
/// after the final event is not read.
pub fn decode_sse<S>(wire_api: WireApi, bytes: S) -> ResponseStream
where
    S: Stream<Item = Result<Bytes, ModelError>> + Send + 'static,
{
    let decoder = match wire_api {
        WireApi::Responses => Decoder::Responses(responses::ResponsesDecoder::default()),
        WireApi::ChatCompletions => Decoder::Chat(chat::ChatDecoder::default()),
    };
    Box::pin(DecodedEvents {
        frames: Box::pin(SseByteStream::new(bytes)),
        decoder,
        pending: VecDeque::new(),
        failure: None,
        finished: false,
    })
}

/// Whether the stream goes on after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    /// The API's final event was seen.
    Finished,
}

enum Decoder {
    Responses(responses::ResponsesDecoder),
    Chat(chat::ChatDecoder),
}

impl Decoder {
    fn event(
        &mut self,
        frame: &Sse,
        out: &mut VecDeque<ResponseEvent>,
    ) -> Result<Flow, ModelError> {
        // Blocks of comments or metadata only (keep-alives) carry no event.
        let Some(data) = frame.data.as_deref() else {
            return Ok(Flow::Continue);
        };
        match self {
            Decoder::Responses(decoder) => decoder.event(frame.event.as_deref(), data, out),
            Decoder::Chat(decoder) => decoder.event(data, out),
        }
    }

    fn end(&mut self, out: &mut VecDeque<ResponseEvent>) -> Result<(), ModelError> {
        match self {
            Decoder::Responses(_) => Err(ModelError::StreamEndedEarly),
            Decoder::Chat(decoder) => decoder.end(out),
        }
    }
}

type Frames = Pin<Box<dyn Stream<Item = Result<Sse, sse_stream::Error>> + Send>>;

struct DecodedEvents {
    frames: Frames,
    decoder: Decoder,
    pending: VecDeque<ResponseEvent>,
    /// An error to yield once the events before it are out.
    failure: Option<ModelError>,
    /// No more frames are read: the final event, an error, or the end of the body was seen.
    finished: bool,
}

impl Stream for DecodedEvents {
    type Item = Result<ResponseEvent, ModelError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(event) = this.pending.pop_front() {
                return Poll::Ready(Some(Ok(event)));
            }
            if let Some(error) = this.failure.take() {
                return Poll::Ready(Some(Err(error)));
            }
            if this.finished {
                return Poll::Ready(None);
            }
            let outcome = match this.frames.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(frame))) => this.decoder.event(&frame, &mut this.pending),
                Poll::Ready(Some(Err(error))) => Err(frame_error(error)),
                Poll::Ready(None) => this.decoder.end(&mut this.pending).map(|()| Flow::Finished),
            };
            match outcome {
                Ok(Flow::Continue) => {}
                Ok(Flow::Finished) => this.finished = true,
                Err(error) => {
                    this.finished = true;
                    this.failure = Some(error);
                }
            }
        }
    }
}

fn frame_error(error: sse_stream::Error) -> ModelError {
    match error {
        sse_stream::Error::Body(source) => match source.downcast::<ModelError>() {
            Ok(error) => *error,
            Err(source) => ModelError::Connection {
                message: "the response body failed".to_owned(),
                source: Some(source),
            },
        },
        sse_stream::Error::Utf8Parse(error) => ModelError::InvalidResponse {
            message: format!("an event is not UTF-8: {error}"),
        },
        other => ModelError::InvalidResponse {
            message: format!("the event stream is malformed: {other}"),
        },
    }
}

/// Builds the error for an event whose data is not the JSON the API promises.
fn malformed(what: &str, data: &str, error: &serde_json::Error) -> ModelError {
    let excerpt: String = data.chars().take(120).collect();
    ModelError::InvalidResponse {
        message: format!("{what} is not valid JSON ({error}): {excerpt}"),
    }
}
