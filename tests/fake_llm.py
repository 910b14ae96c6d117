"""A scripted stand-in for an OpenAI-compatible server, speaking the real wire protocol on loopback.

Only the paid outside service is faked: ragqa's own code and the openai SDK run unchanged
against it. Each request takes the next scripted `Reply` (streamed as Server-Sent Events when
the request asks for `stream`) and is recorded for assertions.
"""

from __future__ import annotations

import json
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    text: str = ""
    status: int = 200
    delay: float = 0.0  # seconds before answering (to trigger client timeouts)
    usage: bool = True
    cut: bool = False  # drop the connection half-way through a streamed reply


class FakeLLM:
    """Serve `/v1/chat/completions` from a list of scripted replies, and `/v1/embeddings` with
    vectors made from the texts' words (each request waits `embed_delay` seconds, like a remote
    GPU box; `most_in_flight` is the highest number of embedding requests served at once)."""

    def __init__(self, embed_delay: float = 0.0) -> None:
        self.replies: list[Reply] = []
        self.requests: list[dict[str, Any]] = []
        self.embed_delay = embed_delay
        self.embed_requests = 0
        self.most_in_flight = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def script(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.requests.clear()

    def __enter__(self) -> FakeLLM:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def embeddings(self, body: dict[str, Any]) -> dict[str, Any]:
        """An embeddings response: each text's words hashed into 64 buckets, normalised."""
        with self._lock:
            self.embed_requests += 1
            self._in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self._in_flight)
        time.sleep(self.embed_delay)
        with self._lock:
            self._in_flight -= 1
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [{"object": "embedding", "index": index, "embedding": _word_vector(text)}
                for index, text in enumerate(texts)]
        return {"object": "list", "data": data, "model": body.get("model", "fake"),
                "usage": {"prompt_tokens": 0, "total_tokens": 0}}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                """Keep test output quiet."""

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path.endswith("/embeddings"):
                    self._json(200, fake.embeddings(body))
                    return
                fake.requests.append(body)
                reply = fake.replies.pop(0) if fake.replies else Reply("(no reply scripted)")
                time.sleep(reply.delay)
                try:
                    if reply.status != 200:
                        self._json(reply.status, {"error": {"message": "scripted failure",
                                                            "type": "server_error"}})
                    elif body.get("stream"):
                        self._stream(body, reply)
                    else:
                        self._json(200, _completion(body, reply))
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def _json(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, body: dict[str, Any], reply: Reply) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                events = list(_chunks(body, reply))
                for event in events[: len(events) // 2] if reply.cut else events:
                    self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                    self.wfile.flush()
                if reply.cut:
                    self.close_connection = True
                    return
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

        return Handler


def _word_vector(text: str) -> list[float]:
    vector = [0.0] * 64
    for word in text.lower().split():
        vector[zlib.crc32(word.encode()) % 64] += 1.0
    norm = sum(value * value for value in vector) ** 0.5 or 1.0
    return [value / norm for value in vector]


def _usage(body: dict[str, Any], reply: Reply) -> dict[str, int]:
    prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
    completion = len(reply.text.split())
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


def _completion(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
        "model": body.get("model", "fake"),
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": reply.text}}],
        **({"usage": _usage(body, reply)} if reply.usage else {}),
    }


def _chunks(body: dict[str, Any], reply: Reply) -> Iterator[dict[str, Any]]:
    base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()),
            "model": body.get("model", "fake")}
    yield {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                "finish_reason": None}]}
    for start in range(0, len(reply.text), 7):  # small pieces split links and labels apart
        yield {**base, "choices": [{"index": 0, "delta": {"content": reply.text[start:start + 7]},
                                    "finish_reason": None}]}
    yield {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    if reply.usage and body.get("stream_options", {}).get("include_usage"):
        yield {**base, "choices": [], "usage": _usage(body, reply)}
