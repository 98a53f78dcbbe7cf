//! Cancellation, dropping and idle timeouts against a paced loopback server that sends the
//! first events and then holds the connection open, watching for the client to close it.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use support::{ResponsesSse, simple_prompt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use turnkit_model::{ModelClient, ModelError, ResponseEvent};
use turnkit_model_openai::{OpenAiClient, WireApi};

/// How long the server waits for the client to hang up before it gives up.
const SERVER_PATIENCE: Duration = Duration::from_secs(10);

/// Serves one request: reads it, sends `first_events` as one chunk of a chunked SSE response,
/// then reports when the client closed the connection (or `None` after `SERVER_PATIENCE`).
async fn paced_server(first_events: String) -> (SocketAddr, oneshot::Receiver<Option<Instant>>) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("loopback is available");
    let address = listener
        .local_addr()
        .expect("a bound listener has an address");
    let (closed_tx, closed_rx) = oneshot::channel();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("the client connects");
        read_request(&mut socket).await;
        let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n";
        let chunk = format!("{:x}\r\n{first_events}\r\n", first_events.len());
        socket
            .write_all(head.as_bytes())
            .await
            .expect("the client reads");
        socket
            .write_all(chunk.as_bytes())
            .await
            .expect("the client reads");
        socket.flush().await.expect("the client reads");
        let mut buffer = [0_u8; 1024];
        let closed = tokio::time::timeout(SERVER_PATIENCE, async {
            loop {
                match socket.read(&mut buffer).await {
                    Ok(0) | Err(_) => return Instant::now(),
                    Ok(_) => {}
                }
            }
        })
        .await
        .ok();
        let _ = closed_tx.send(closed);
    });
    (address, closed_rx)
}

/// Reads the request head and its `content-length` body.
async fn read_request(socket: &mut TcpStream) {
    let mut received = Vec::new();
    let mut buffer = [0_u8; 4096];
    let head_end = loop {
        let read = socket.read(&mut buffer).await.expect("the request arrives");
        assert!(read > 0, "the client hung up mid-request");
        received.extend_from_slice(&buffer[..read]);
        if let Some(end) = received.windows(4).position(|window| window == b"\r\n\r\n") {
            break end + 4;
        }
    };
    let head = String::from_utf8_lossy(&received[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .map_or(0, |value| {
            value.trim().parse().expect("content-length is a number")
        });
    while received.len() < head_end + length {
        let read = socket.read(&mut buffer).await.expect("the request arrives");
        assert!(read > 0, "the client hung up mid-body");
        received.extend_from_slice(&buffer[..read]);
    }
}

fn first_events() -> String {
    ResponsesSse::new()
        .created("resp_slow")
        .delta("msg_1", 0, "Once upon")
        .build()
}

fn client_for(address: SocketAddr) -> OpenAiClient {
    OpenAiClient::new(support::config(
        &format!("http://{address}/v1"),
        WireApi::Responses,
    ))
    .expect("the test config is valid")
}

async fn until_first_delta(stream: &mut turnkit_model::ResponseStream) {
    loop {
        match stream.next().await {
            Some(Ok(ResponseEvent::OutputTextDelta { delta })) => {
                assert_eq!(delta, "Once upon");
                return;
            }
            Some(Ok(_)) => {}
            other => panic!("expected a delta, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn cancelling_after_the_first_delta_drops_the_connection_promptly() {
    let (address, closed) = paced_server(first_events()).await;
    let client = client_for(address);
    let cancellation = CancellationToken::new();
    let mut stream = client.stream(&simple_prompt(), cancellation.clone());
    until_first_delta(&mut stream).await;

    let cancelled_at = Instant::now();
    cancellation.cancel();
    let next = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("the stream ends promptly after cancellation");
    assert!(matches!(next, Some(Err(ModelError::Cancelled))), "{next:?}");
    let closed_at = closed
        .await
        .unwrap()
        .expect("the server should see the connection close");
    let delay = closed_at.saturating_duration_since(cancelled_at);
    eprintln!("connection closed {delay:?} after cancellation");
    // The target is 50 ms; the bound is generous because the machine is shared.
    assert!(
        delay < Duration::from_secs(1),
        "the connection stayed open {delay:?}"
    );
    // The stream, still held, yields nothing more.
    assert!(stream.next().await.is_none());
}

#[tokio::test]
async fn dropping_the_stream_drops_the_connection() {
    let (address, closed) = paced_server(first_events()).await;
    let client = client_for(address);
    let mut stream = client.stream(&simple_prompt(), CancellationToken::new());
    until_first_delta(&mut stream).await;

    let dropped_at = Instant::now();
    drop(stream);
    let closed_at = closed
        .await
        .unwrap()
        .expect("the server should see the connection close");
    let delay = closed_at.saturating_duration_since(dropped_at);
    eprintln!("connection closed {delay:?} after the stream was dropped");
    assert!(
        delay < Duration::from_secs(1),
        "the connection stayed open {delay:?}"
    );
}

#[tokio::test]
async fn a_silent_stream_times_out_as_a_retryable_error() {
    let (address, closed) = paced_server(first_events()).await;
    let config = support::config(&format!("http://{address}/v1"), WireApi::Responses)
        .with_idle_timeout(Duration::from_millis(300));
    let client = OpenAiClient::new(config).unwrap();
    let mut stream = client.stream(&simple_prompt(), CancellationToken::new());
    until_first_delta(&mut stream).await;

    let waited_from = Instant::now();
    let next = stream.next().await;
    let waited = waited_from.elapsed();
    let Some(Err(error)) = next else {
        panic!("expected an idle timeout, got {next:?}")
    };
    assert!(matches!(error, ModelError::IdleTimeout { .. }), "{error:?}");
    assert!(error.is_retryable());
    assert!(
        waited >= Duration::from_millis(250),
        "timed out too early: {waited:?}"
    );
    assert!(
        stream.next().await.is_none(),
        "a delta was yielded, so the client does not retry"
    );
    assert!(
        closed.await.unwrap().is_some(),
        "the timed-out connection is closed"
    );
}

#[tokio::test]
async fn cancelling_during_a_retry_backoff_ends_the_stream() {
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(503).insert_header("retry-after", "30"))
        .mount(&server)
        .await;
    let client = support::client(&server, WireApi::Responses);
    let cancellation = CancellationToken::new();
    let mut stream = client.stream(&simple_prompt(), cancellation.clone());
    let first = stream.next().await;
    assert!(
        matches!(
            first,
            Some(Ok(ResponseEvent::Retrying {
                delay_ms: 30_000,
                ..
            }))
        ),
        "{first:?}"
    );
    cancellation.cancel();
    let next = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .unwrap();
    assert!(matches!(next, Some(Err(ModelError::Cancelled))), "{next:?}");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_waiting_for_headers() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        read_request(&mut socket).await;
        // Hold the connection without answering until the client gives up.
        let mut buffer = [0_u8; 64];
        tokio::time::timeout(SERVER_PATIENCE, socket.read(&mut buffer))
            .await
            .is_ok()
    });
    let config = support::config(&format!("http://{address}/v1"), WireApi::ChatCompletions)
        .with_idle_timeout(Duration::from_millis(200))
        .with_retry(turnkit_model_openai::RetryPolicy {
            max_retries: 0,
            ..Default::default()
        });
    let client = OpenAiClient::new(config).unwrap();

    let events: Vec<_> = client
        .stream(&simple_prompt(), CancellationToken::new())
        .collect()
        .await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(
        matches!(events[0], Err(ModelError::IdleTimeout { .. })),
        "{events:?}"
    );
    assert!(
        server.await.unwrap(),
        "the client closed the connection it gave up on"
    );
}
