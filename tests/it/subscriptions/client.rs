//! The two subscription clients the tests drive: graphql-transport-ws over a real WebSocket,
//! and graphql-sse's distinct-connections mode over a streamed HTTP answer.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// How long a test waits for one message.
const PATIENCE: Duration = Duration::from_secs(15);

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A graphql-transport-ws connection with one subscription.
pub struct Ws {
    socket: Socket,
}

/// What a WebSocket subscription gave next.
#[derive(Debug)]
pub enum WsMessage {
    /// A `next` message's payload (an execution result).
    Next(Value),
    /// The operation is over.
    Complete,
    /// The server closed the connection.
    Closed,
}

impl Ws {
    /// Connects to `base`'s `/graphql/ws`, sends `connection_init` with `key` in its payload.
    /// `Err` carries the close code when the server refuses.
    pub async fn connect(base: &str, key: &str) -> Result<Ws, u16> {
        let url = format!("{}/graphql/ws", base.replacen("http://", "ws://", 1));
        let mut request = url.into_client_request().unwrap();
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        let (socket, answer) = tokio_tungstenite::connect_async(request).await.unwrap();
        assert_eq!(
            answer.headers()["sec-websocket-protocol"],
            "graphql-transport-ws"
        );
        let mut ws = Ws { socket };
        ws.send(json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {key}") } }))
            .await;
        match ws.raw().await {
            Ok(m) if m["type"] == "connection_ack" => Ok(ws),
            Ok(m) => panic!("expected connection_ack, got {m}"),
            Err(code) => Err(code),
        }
    }

    /// Starts the subscription `id`.
    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": variables } }))
            .await;
    }

    /// Stops the subscription `id`.
    pub async fn stop(&mut self, id: &str) {
        self.send(json!({ "id": id, "type": "complete" })).await;
    }

    async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await
            .unwrap();
    }

    /// The next protocol message (pings answered), or the close code.
    async fn raw(&mut self) -> Result<Value, u16> {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .expect("a message in time");
            match message {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(&text).unwrap();
                    if value["type"] == "ping" {
                        self.send(json!({ "type": "pong" })).await;
                        continue;
                    }
                    return Ok(value);
                }
                Some(Ok(Message::Close(frame))) => {
                    return Err(frame.map_or(1005, |f| u16::from(f.code)));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => panic!("the socket failed: {e}"),
                None => return Err(1006),
            }
        }
    }

    pub async fn next(&mut self) -> WsMessage {
        match self.raw().await {
            Ok(m) if m["type"] == "next" => WsMessage::Next(m["payload"].clone()),
            Ok(m) if m["type"] == "complete" => WsMessage::Complete,
            Ok(m) => panic!("unexpected message {m}"),
            Err(_) => WsMessage::Closed,
        }
    }

    /// The next `count` results, each one `next` message.
    pub async fn results(&mut self, count: usize) -> Vec<Value> {
        let mut out = Vec::new();
        while out.len() < count {
            match self.next().await {
                WsMessage::Next(payload) => out.push(payload),
                other => panic!("expected a result, got {other:?} after {out:?}"),
            }
        }
        out
    }
}

/// A graphql-sse stream: the answer to one request with `Accept: text/event-stream`.
pub struct Sse {
    response: reqwest::Response,
    buffer: String,
}

/// What an SSE stream gave next.
#[derive(Debug, PartialEq)]
pub enum SseEvent {
    Next(Value),
    Complete,
    /// The answer ended without `complete`.
    Ended,
}

impl Sse {
    /// POSTs `query` to `base`'s `/graphql` asking for an event stream.
    pub async fn post(base: &str, key: &str, query: &str, variables: Value) -> Sse {
        let response = reqwest::Client::new()
            .post(format!("{base}/graphql"))
            .bearer_auth(key)
            .header("accept", "text/event-stream")
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap();
        Sse::of(response)
    }

    /// A GET as a browser's `EventSource` makes it: no headers but `Accept`, the key as
    /// `access_token`.
    pub async fn event_source(base: &str, key: &str, query: &str, variables: Value) -> Sse {
        let response = reqwest::Client::new()
            .get(format!("{base}/graphql"))
            .header("accept", "text/event-stream")
            .query(&[
                ("query", query),
                ("variables", &variables.to_string()),
                ("access_token", key),
            ])
            .send()
            .await
            .unwrap();
        Sse::of(response)
    }

    fn of(response: reqwest::Response) -> Sse {
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Sse {
            response,
            buffer: String::new(),
        }
    }

    pub async fn next(&mut self) -> SseEvent {
        let deadline = Instant::now() + PATIENCE;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut event, mut data) = ("message", String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = if v.trim() == "next" {
                            "next"
                        } else if v.trim() == "complete" {
                            "complete"
                        } else {
                            "other"
                        };
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                match event {
                    "next" => return SseEvent::Next(serde_json::from_str(&data).unwrap()),
                    "complete" => return SseEvent::Complete,
                    // Keep-alive comments and anything else.
                    _ => {}
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let chunk = tokio::time::timeout(left, self.response.chunk())
                .await
                .expect("an event in time")
                .unwrap();
            match chunk {
                Some(bytes) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                None => return SseEvent::Ended,
            }
        }
    }

    /// The next `count` results.
    pub async fn results(&mut self, count: usize) -> Vec<Value> {
        let mut out = Vec::new();
        while out.len() < count {
            match self.next().await {
                SseEvent::Next(payload) => out.push(payload),
                other => panic!("expected a result, got {other:?} after {out:?}"),
            }
        }
        out
    }
}
