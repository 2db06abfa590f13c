"""A real chat-completions server on 127.0.0.1 that plays a script, for tests.

``ChatServer`` listens on a random free port in a background thread (stdlib
``ThreadingHTTPServer``) and answers ``POST /v1/chat/completions`` with the next
step of its script, and ``GET /v1/models`` with the models it says it serves. A
step is a reply text or a fault::

    with ChatServer([Status(500), "DISCUSSION\\nhi\\n\\n```\\nls\\n```", Drop()]) as server:
        model = OpenAIModel(OpenAISettings(model="test-model", base_url=server.base_url))

Faults: :class:`Delay` (answer late), :class:`Status` (an HTTP error, optionally with
``Retry-After``), :class:`Malformed` (a 200 whose body is not JSON), :class:`Drop`
(close the connection without answering), :class:`Gone` (shut the whole server down:
later connections are refused), :class:`NoUsage` (a reply without a usage block),
:class:`ContextError` (vLLM's 400 for an over-long prompt). When the script runs
out, ``default`` (a step) answers every further request. Every request is recorded
in ``server.requests``.

Prompt caching: a reply's ``usage.prompt_tokens_details.cached_tokens`` is the
length, in the server's "tokens" (words of the messages' contents), of the longest
common prefix of this request's prompt and the previous chat request's, the way
llama.cpp and vLLM reuse their KV cache. A change of role, a message boundary or a
tool call breaks the prefix like a changed word does. ``server.cached`` lists what
each chat request got.

Discovery: the server can also answer what real servers say about themselves
(``props`` at ``GET /props`` like llama.cpp's, ``max_model_len`` in ``/v1/models``
like vLLM's, ``show`` at ``POST /api/show`` and ``GET /api/version`` like Ollama,
``tokenize`` in one server's dialect, ``version`` at ``GET /version``);
``ChatServer(**like("llama.cpp", 8192))`` sets the lot as that kind of server does.
Its tokenizer counts a token per whitespace-separated word.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """A normal answer; ``usage`` None counts tokens as words (roughly)."""

    text: str
    finish_reason: str = "stop"
    usage: dict | None = None


@dataclass
class NoUsage:
    """A normal answer without the ``usage`` block."""

    text: str


@dataclass
class Delay:
    """Wait ``seconds`` before answering with ``then``."""

    seconds: float
    then: Any = "DISCUSSION\nlate\n\n```\nls\n```"


@dataclass
class Status:
    """An HTTP error status with a JSON error body."""

    code: int = 500
    message: str = "internal server error"
    retry_after: str | None = None


@dataclass
class ToolCall:
    """A native function call (``tool_calls``), as servers answer when given ``tools``."""

    name: str
    arguments: dict
    text: str | None = None


@dataclass
class Malformed:
    """A 200 whose body is not JSON."""

    body: str = '{"choices": [ {"message": '


@dataclass
class Drop:
    """Close the connection without sending anything."""


@dataclass
class Gone:
    """Shut the server down; this and later requests get no answer."""


@dataclass
class ContextError:
    """vLLM's 400 answer to a prompt longer than the context."""

    message: str = (
        "This model's maximum context length is 4096 tokens. However, you requested "
        "5000 tokens (4000 in the messages, 1000 in the completion). Please reduce the "
        "length of the messages or completion."
    )


@dataclass
class Raw:
    """Any status and JSON-able body, sent as is."""

    body: Any
    code: int = 200


class ChatServer:
    """A scripted OpenAI-compatible server; use as a context manager."""

    def __init__(
        self,
        script: Iterable[Any] = (),
        *,
        models: Iterable[str] = ("test-model",),
        default: Any = None,
        owned_by: str = "vllm",
        props: dict | None = None,
        max_model_len: int | None = None,
        show: dict | None = None,
        version: dict | None = None,
        tokenize: str | None = None,
        openapi: dict | None = None,
        refuses_beyond: int | None = None,
    ):
        self.refuses_beyond = refuses_beyond
        """llama-cpp-python's window: ``POST /v1/completions`` with a longer prompt gets its
        400 ("maximum context length is N tokens"); None: that route is absent."""
        self.props = props
        """Answer of ``GET /props`` (llama.cpp); None: 404."""
        self.max_model_len = max_model_len
        """Put in each ``/v1/models`` entry (vLLM)."""
        self.show = show
        """Answer of ``POST /api/show`` (Ollama), which also turns on ``GET /api/version``."""
        self.version = version
        """Answer of ``GET /version`` (vLLM)."""
        self.tokenize = tokenize
        """Tokenize dialect: ``llama.cpp`` (``/tokenize`` content -> tokens), ``vLLM``
        (``/tokenize`` prompt -> count), ``llama-cpp-python`` (``/extras/tokenize[/count]``)."""
        self.openapi = openapi
        """Answer of ``GET /openapi.json`` (FastAPI servers such as llama-cpp-python)."""
        self.script = list(script)
        self.models = list(models)
        self.default = default
        self.owned_by = owned_by
        self.requests: list[dict] = []
        self.cached: list[int] = []
        """``cached_tokens`` reported to each chat request, in order."""
        self._last_prompt: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- lifecycle ----------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def chat_requests(self) -> list[dict]:
        return [r for r in self.requests if r["path"].endswith("/chat/completions")]

    def start(self) -> ChatServer:
        handler = type("Handler", (_Handler,), {"chat": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()

    def __enter__(self) -> ChatServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def add(self, *steps: Any) -> None:
        with self._lock:
            self.script.extend(steps)

    def next_step(self) -> Any:
        with self._lock:
            if self.script:
                return self.script.pop(0)
        return self.default if self.default is not None else Status(500, "script exhausted")

    def record(self, entry: dict) -> None:
        with self._lock:
            self.requests.append(entry)

    def cache(self, messages: list) -> int:
        """Tokens of ``messages`` shared with the previous chat request's prompt, as a
        prefix cache would reuse them; remembers ``messages`` for the next request."""
        prompt = prompt_items(messages)
        with self._lock:
            shared = 0
            for old, new in zip(self._last_prompt, prompt, strict=False):
                if old != new:
                    break
                shared += 1
            cached = sum(1 for kind, _ in prompt[:shared] if kind == "w")
            self._last_prompt = prompt
            self.cached.append(cached)
        return cached

    def _go_away(self) -> None:
        threading.Thread(target=self.stop, daemon=True).start()


def like(kind: str, context: int | None = 8192, model: str = "test-model") -> dict:
    """``ChatServer`` keyword arguments for a server of ``kind`` with a ``context`` window,
    shaped after what each real server answers (see :func:`harness.models.discovery.server_facts`)."""
    if kind == "llama.cpp":
        settings = {"n_ctx": context, "params": {"n_predict": -1}} if context else {"params": {}}
        return {"owned_by": "llamacpp", "tokenize": "llama.cpp",
                "props": {"default_generation_settings": settings, "total_slots": 1,
                          "model_path": f"/models/{model}.gguf", "build_info": "b4000-test"}}
    if kind == "vLLM":
        return {"owned_by": "vllm", "max_model_len": context, "tokenize": "vLLM",
                "version": {"version": "0.6.3-test"}}
    if kind == "Ollama":
        info = {"general.architecture": "llama", "llama.context_length": context}
        return {"owned_by": "library", "show": {"model_info": info, "parameters": "stop \"<|im_end|>\""}}
    if kind == "llama-cpp-python":  # its /v1/models says owned_by "me" and nothing of the window
        paths = {p: {} for p in ("/v1/chat/completions", "/v1/models", "/extras/tokenize",
                                 "/extras/tokenize/count", "/extras/detokenize")}
        return {"owned_by": "me", "tokenize": "llama-cpp-python", "refuses_beyond": context,
                "openapi": {"info": {"title": "llama.cpp Python API", "version": "0.3.36"}, "paths": paths}}
    raise ValueError(f"unknown server kind {kind!r}")


def prompt_items(messages: list) -> list[tuple[str, str]]:
    """A prompt as the server "tokenizes" it: per message a role marker (free), the
    words of its content (a token each) and its tool calls and call id (free)."""
    items: list[tuple[str, str]] = []
    for m in messages if isinstance(messages, list) else []:
        if not isinstance(m, dict):
            continue
        items.append(("role", str(m.get("role"))))
        items.extend(("w", w) for w in str(m.get("content") or "").split())
        if m.get("tool_calls") or m.get("tool_call_id"):
            items.append(("tools", json.dumps([m.get("tool_calls"), m.get("tool_call_id")])))
    return items


def _word_ids(text: str) -> list[int]:
    """The test server's tokenizer: a token per whitespace-separated word."""
    return [sum(map(ord, w)) % 32000 for w in text.split()]


def completion(text: str, *, model: str, usage: dict | None, finish_reason: str = "stop") -> dict:
    body = {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish_reason,
            }
        ],
    }
    if usage is not None:
        body["usage"] = {**usage, "total_tokens": sum(usage.values())}
    return body


class _Handler(BaseHTTPRequestHandler):
    chat: ChatServer
    protocol_version = "HTTP/1.0"  # one request per connection: a stopped server is gone

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, code: int, body: Any, headers: dict | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (timeout) before we answered
            pass

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def do_GET(self) -> None:
        self.chat.record(
            {"method": "GET", "path": self.path, "headers": dict(self.headers), "json": None}
        )
        chat, path = self.chat, self.path.rstrip("/")
        if path.endswith("/models"):
            data = [
                {"id": m, "object": "model", "owned_by": chat.owned_by}
                for m in chat.models
            ]
            if chat.max_model_len is not None:
                for entry in data:
                    entry["max_model_len"] = chat.max_model_len
            self._send(200, {"object": "list", "data": data})
        elif path == "/props" and chat.props is not None:
            self._send(200, chat.props)
        elif path == "/version" and chat.version is not None:
            self._send(200, chat.version)
        elif path == "/api/version" and chat.show is not None:
            self._send(200, {"version": "0.5.0-test"})
        elif path == "/openapi.json" and chat.openapi is not None:
            self._send(200, chat.openapi)
        else:
            self._send(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"null")
        except json.JSONDecodeError:
            body = None
        self.chat.record(
            {
                "method": "POST",
                "path": self.path,
                "headers": dict(self.headers),
                "json": body,
                "time": time.monotonic(),
            }
        )
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._answer_extra(self.path.rstrip("/"), body if isinstance(body, dict) else {})
            return
        self._play(self.chat.next_step(), body or {})

    def _answer_extra(self, path: str, body: dict) -> None:
        """The discovery POSTs: tokenize in the server's dialect, Ollama's /api/show."""
        chat, dialect = self.chat, self.chat.tokenize
        if path == "/api/show" and chat.show is not None:
            if body.get("model") not in chat.models:
                self._send(404, {"error": f"model '{body.get('model')}' not found"})
            else:
                self._send(200, chat.show)
        elif path == "/tokenize" and dialect == "llama.cpp" and "content" in body:
            self._send(200, {"tokens": _word_ids(str(body["content"]))})
        elif path == "/tokenize" and dialect == "vLLM" and ("prompt" in body or "messages" in body):
            text = body.get("prompt") or " ".join(str(m.get("content") or "") for m in body["messages"])
            tokens = _word_ids(str(text))
            self._send(200, {"count": len(tokens), "max_model_len": chat.max_model_len, "tokens": tokens})
        elif path.endswith("/v1/completions") and chat.refuses_beyond is not None:
            words = len(str(body.get("prompt", "")).split())
            if words > chat.refuses_beyond:
                self._send(400, {"error": {"message": (
                    f"This model's maximum context length is {chat.refuses_beyond} tokens, however you "
                    f"requested {words + 1} tokens ({words} in your prompt; 1 for the completion)."),
                    "type": "invalid_request_error", "code": "context_length_exceeded"}})
            else:
                self._send(200, completion("hi", model=str(body.get("model", "")),
                                           usage={"prompt_tokens": words, "completion_tokens": 1}))
        elif path.startswith("/extras/tokenize") and dialect == "llama-cpp-python" and "input" in body:
            tokens = _word_ids(str(body["input"]))
            self._send(200, {"count": len(tokens)} if path.endswith("/count") else {"tokens": tokens})
        else:
            self._send(404, {"error": {"message": f"no route {self.path}"}})

    def _send_completion(self, body_out: dict, request: dict) -> None:
        """A 200 completion, with the prompt tokens a prefix cache would have reused."""
        cached = self.chat.cache(request.get("messages") or [])
        if "usage" in body_out:
            body_out["usage"]["prompt_tokens_details"] = {"cached_tokens": cached}
        self._send(200, body_out)

    def _play(self, step: Any, body: dict) -> None:
        model = body.get("model", "test-model")
        if isinstance(step, str):
            step = Reply(step)
        if isinstance(step, Reply):
            usage = step.usage
            if usage is None:
                words = sum(
                    len(str(m.get("content", "")).split()) for m in body.get("messages", [])
                )
                usage = {"prompt_tokens": words, "completion_tokens": len(step.text.split())}
            self._send_completion(
                completion(step.text, model=model, usage=usage, finish_reason=step.finish_reason),
                body,
            )
        elif isinstance(step, ToolCall):
            body_out = completion(step.text or "", model=model,
                                  usage={"prompt_tokens": 10, "completion_tokens": 5},
                                  finish_reason="tool_calls")
            message = body_out["choices"][0]["message"]
            message["content"] = step.text
            message["tool_calls"] = [{"id": f"call_{len(self.chat.requests)}", "type": "function",
                                      "function": {"name": step.name, "arguments": json.dumps(step.arguments)}}]
            self._send_completion(body_out, body)
        elif isinstance(step, NoUsage):
            self._send_completion(completion(step.text, model=model, usage=None), body)
        elif isinstance(step, Delay):
            time.sleep(step.seconds)
            self._play(step.then, body)
        elif isinstance(step, Status):
            headers = {"Retry-After": step.retry_after} if step.retry_after is not None else {}
            self._send(step.code, {"error": {"message": step.message, "code": step.code}}, headers)
        elif isinstance(step, ContextError):
            self._send(
                400,
                {
                    "object": "error",
                    "message": step.message,
                    "type": "BadRequestError",
                    "code": 400,
                },
            )
        elif isinstance(step, Malformed):
            self._send(200, step.body.encode())
        elif isinstance(step, Raw):
            self._send(step.code, step.body)
        elif isinstance(step, Drop):
            self._drop()
        elif isinstance(step, Gone):
            self._drop()
            self.chat._go_away()
        else:
            raise TypeError(f"unknown script step {step!r}")
