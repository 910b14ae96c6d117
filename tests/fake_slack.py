"""A stand-in for Slack's Web API on loopback: answers the calls the bot makes and records them.

slack_sdk's real `WebClient` talks to it through `base_url`; `response_url` posts (slash
commands) land on `/respond/...`. Only Slack itself is faked; the bot and bolt run for real.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.threads: dict[str, list[dict[str, Any]]] = {}  # thread ts → messages for conversations.replies
        self.files: dict[str, bytes] = {}  # path under /files-pri/ → a shared file's content
        self.file_auth: list[str] = []  # the Authorization header of each file download
        self._ts = 1_700_000_000
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def share(self, name: str, content: str) -> str:
        """Host a shared file as Slack does (behind the bot token); its private URL."""
        self.files[name] = content.encode()
        return f"{self.url}/files-pri/T1-F1/{name}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeSlack:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()

    def named(self, method: str) -> list[dict[str, Any]]:
        with self._lock:
            return [payload for name, payload in self.calls if name == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 60) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.named(method)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"Slack never received {count} × {method}: {self.calls}")

    def _next_ts(self) -> str:
        with self._lock:
            self._ts += 1
            return f"{self._ts}.000100"

    def _handle(self, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.calls.append((method, payload))
        if method == "auth.test":
            return {"ok": True, "user_id": "UBOT", "bot_id": "BBOT", "team_id": "T1", "user": "ragqa",
                    "team": "Test", "url": "https://test.slack.com/"}
        if method == "chat.postMessage":
            return {"ok": True, "channel": payload.get("channel"), "ts": self._next_ts(),
                    "message": {"text": payload.get("text", "")}}
        if method == "chat.update":
            return {"ok": True, "channel": payload.get("channel"), "ts": payload.get("ts")}
        if method == "conversations.replies":
            return {"ok": True, "messages": self.threads.get(str(payload.get("ts")), []),
                    "has_more": False}
        return {"ok": True}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path.startswith("/files-pri/"):
                    self._file(parts.path.rsplit("/", 1)[-1])
                    return
                self._reply(fake._handle(parts.path.rsplit("/", 1)[-1], dict(parse_qsl(parts.query))))

            def do_POST(self) -> None:
                parts = urlsplit(self.path)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if "json" in (self.headers.get("Content-Type") or ""):
                    payload = json.loads(raw or "{}")
                else:
                    payload = dict(parse_qsl(raw))
                    for key in ("blocks",):
                        if isinstance(payload.get(key), str):
                            payload[key] = json.loads(payload[key])
                payload.update(dict(parse_qsl(parts.query)))
                if parts.path.startswith("/respond/"):
                    self._reply(fake._handle("response_url", payload))
                else:
                    self._reply(fake._handle(parts.path.rsplit("/", 1)[-1], payload))

            def _file(self, name: str) -> None:
                fake.file_auth.append(self.headers.get("Authorization") or "")
                data = fake.files.get(name)
                if data is None or self.headers.get("Authorization") != "Bearer xoxb-test":
                    self.send_response(404 if data is None else 403)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _reply(self, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
