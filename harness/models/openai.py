"""Any OpenAI-compatible chat-completions server, over httpx.

vLLM (``vllm serve``), llama.cpp's ``llama-server``, Ollama (``/v1``), SGLang and
hosted APIs all speak ``POST {base_url}/chat/completions``. Connection errors,
timeouts, 429 and 5xx are retried with capped exponential backoff and jitter,
honouring ``Retry-After``; everything else fails at once with one clear line.
"""

from __future__ import annotations

import email.utils
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from harness.errors import ModelError, ModelUnavailable
from harness.models import ContextLengthExceeded, Reply, Usage
from harness.tokens import count_message_tokens, count_tokens

_CONTEXT_MARKERS = (
    "context length",
    "context_length",
    "maximum context",
    "context window",
    "exceed_context_size",
    "exceeds the available context",
    "prompt is too long",
    "too many tokens",
    "input is too long",
)
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "0.0.0.0", "::1", "[::1]")


@dataclass(kw_only=True)
class ModelOptions:
    """How to sample a model, what it costs, and how patiently to call it.

    Shared by the client settings and the models file's aliases, which set them per model.
    """

    temperature: float | None = None
    """Sampling temperature; None leaves it to the server."""
    top_p: float | None = None
    """Nucleus sampling; None leaves it to the server."""
    max_tokens: int | None = None
    """Cap on the reply's tokens; None leaves it to the server."""
    seed: int | None = None
    """Sampling seed, for servers that honour it (vLLM, llama.cpp, OpenAI)."""
    price_in: float = 0.0
    """US dollars per million prompt tokens."""
    price_out: float = 0.0
    """US dollars per million completion tokens."""
    context_window: int | None = None
    """Tokens the model can attend to, when known; used to recognise overflow."""
    timeout_s: float = 600.0
    """Longest wait for one reply (reading), in seconds."""
    connect_timeout_s: float = 10.0
    """Longest wait to connect, in seconds."""
    max_attempts: int = 6
    """Tries per completion, the first included."""
    backoff_s: float = 1.0
    """Wait before the first retry; doubles each time, with jitter."""
    backoff_max_s: float = 60.0
    """Cap on one backoff wait."""
    retry_after_max_s: float = 120.0
    """Cap on a server's ``Retry-After``."""
    extra_body: dict[str, Any] = field(default_factory=dict)
    """Extra JSON fields sent with every request (``{"top_k": 20}``, ...)."""
    headers: dict[str, str] = field(default_factory=dict)
    """Extra HTTP headers."""
    tool_calls: bool = False
    """Send the ACI's tools as native function-calling schemas (``tools``) and read the
    reply's ``tool_calls``, instead of a fenced command in the text. For models and
    servers with reliable function calling (vLLM needs ``--enable-auto-tool-choice``)."""


@dataclass(kw_only=True)
class OpenAISettings(ModelOptions):
    """How to reach one model on an OpenAI-compatible server, and how to sample it."""

    model: str
    """Model id the server knows (``Qwen/Qwen2.5-7B-Instruct``, ``gpt-4o``, ...)."""
    base_url: str
    """Server URL up to and including ``/v1``."""
    api_key: str | None = None
    """Sent as ``Authorization: Bearer``; never recorded."""
    alias: str = ""
    """Name the user chose (``llama``, ``gpt-4o``); empty for ``openai:`` specs."""


def public_url(url: str) -> str:
    """``url`` without credentials or query string, safe to print and record."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def is_local(url: str) -> bool:
    return (urlsplit(url).hostname or "") in _LOCAL_HOSTS


def start_hint(url: str) -> str:
    """What to do when nothing answers at ``url``."""
    if is_local(url):
        port = urlsplit(url).port or 8000
        return (
            f"start one with `vllm serve <model> --port {port}` or "
            f"`llama-server -m model.gguf --port {port}`, or try `--model demo`"
        )
    return "check the URL and your network, or try `--model demo`"


class OpenAIModel:
    """A chat model behind an OpenAI-compatible ``/chat/completions`` endpoint."""

    backend = "openai"

    def __init__(self, settings: OpenAISettings, *, client: httpx.Client | None = None):
        self.settings = settings
        self.base_url = settings.base_url.rstrip("/")
        self.name = f"{settings.model}@{public_url(self.base_url)}"
        self.tool_calls = settings.tool_calls
        headers = {"Content-Type": "application/json", **settings.headers}
        if settings.api_key:
            headers["Authorization"] = f"Bearer {settings.api_key}"
        self._client = client or httpx.Client(
            timeout=httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s),
            headers=headers,
        )
        self._sleep = time.sleep

    def info(self) -> dict:
        s = self.settings
        return {
            "backend": self.backend,
            "alias": s.alias,
            "model": s.model,
            "base_url": public_url(self.base_url),
            "temperature": s.temperature,
            "top_p": s.top_p,
            "max_tokens": s.max_tokens,
            "seed": s.seed,
            "price_in": s.price_in,
            "price_out": s.price_out,
            "context_window": s.context_window,
            "extra_body": dict(s.extra_body),
        }

    def close(self) -> None:
        self._client.close()

    # -- the call -------------------------------------------------------------------

    def payload(self, messages: list[dict], tools: list[dict] | None = None) -> dict:
        s = self.settings
        body: dict = {"model": s.model, "messages": messages}
        for key in ("temperature", "top_p", "max_tokens", "seed"):
            value = getattr(s, key)
            if value is not None:
                body[key] = value
        if tools:
            body["tools"] = tools
        body.update(s.extra_body)
        return body

    def complete(self, messages: list[dict], tools: list[dict] | None = None) -> Reply:
        started = time.monotonic()
        response = self._post(self.payload(messages, tools))
        data = self._decode(response)
        reply = self._reply(data, messages)
        reply.elapsed_s = time.monotonic() - started
        return reply

    def _post(self, body: dict) -> httpx.Response:
        s = self.settings
        url = f"{self.base_url}/chat/completions"
        shown = public_url(url)
        attempts = max(1, s.max_attempts)
        problem = ""
        unreachable = False
        for attempt in range(attempts):
            wait = None
            try:
                response = self._client.post(url, json=body)
            except (httpx.ConnectError, httpx.ConnectTimeout) as err:
                unreachable, problem = True, _reason(err)
            except httpx.TimeoutException as err:
                unreachable, problem = False, f"no reply within {s.timeout_s:g}s ({_reason(err)})"
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as err:
                unreachable, problem = False, f"connection dropped ({_reason(err)})"
            else:
                status = response.status_code
                if status < 400:
                    return response
                message = _error_message(response)
                if status in (400, 413, 422) and _is_context_error(message):
                    raise ContextLengthExceeded(
                        f"the conversation is longer than {s.model}'s context window: {message}"
                    )
                if status != 429 and status < 500 and status != 408:
                    raise ModelError(_status_line(shown, status, message, self.settings))
                unreachable = False
                problem = f"HTTP {status}" + (f": {message}" if message else "")
                wait = _retry_after(response, s.retry_after_max_s)
            if attempt + 1 < attempts:
                if wait is None:
                    cap = min(s.backoff_max_s, s.backoff_s * (2**attempt))
                    wait = cap * random.uniform(0.5, 1.0)
                self._sleep(wait)
        tries = f"{attempts} attempt{'s' if attempts > 1 else ''}"
        if unreachable:
            raise ModelUnavailable(
                f"cannot reach a model server at {public_url(self.base_url)} "
                f"({problem}, {tries}); {start_hint(self.base_url)}"
            )
        raise ModelError(f"model server at {shown} failed after {tries}: {problem}")

    def _decode(self, response: httpx.Response) -> dict:
        try:
            data = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
            snippet = " ".join(response.text[:120].split())
            raise ModelError(
                f"model server at {public_url(self.base_url)} sent malformed JSON: {snippet!r}"
            ) from None
        if not isinstance(data, dict):
            raise ModelError(
                f"model server at {public_url(self.base_url)} sent {type(data).__name__}, not an object"
            )
        return data

    def _reply(self, data: dict, messages: list[dict]) -> Reply:
        s = self.settings
        where = public_url(self.base_url)
        if "error" in data and not data.get("choices"):
            raise ModelError(f"model server at {where} answered an error: {_short(data['error'])}")
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise ModelError(f"model server at {where} sent no choices")
        choice = choices[0]
        message = choice.get("message") or {}
        if not isinstance(message, dict):
            raise ModelError(f"model server at {where} sent a choice without a message")
        text = message.get("content") or ""
        if isinstance(text, list):  # content parts
            text = "".join(p.get("text", "") for p in text if isinstance(p, dict))
        tool_calls = list(message.get("tool_calls") or [])

        usage = _usage(data.get("usage"))
        if usage is None:
            usage = Usage(
                prompt_tokens=count_message_tokens(messages, s.model),
                completion_tokens=count_tokens(text, s.model),
                estimated=True,
            )
        finish = choice.get("finish_reason")
        overflow = s.context_window is not None and usage.total_tokens >= s.context_window
        if finish == "length" and (overflow or (not text.strip() and not tool_calls)):
            raise ContextLengthExceeded(
                f"{s.model}'s reply was cut at the context limit "
                f"({usage.prompt_tokens} prompt + {usage.completion_tokens} reply tokens)"
            )
        cost = usage.prompt_tokens * s.price_in / 1e6 + usage.completion_tokens * s.price_out / 1e6
        return Reply(text=text, usage=usage, cost=cost, tool_calls=tool_calls, raw=data)


# -- helpers ------------------------------------------------------------------------


def _reason(err: Exception) -> str:
    text = str(err).strip() or type(err).__name__
    if "refused" in text.lower():
        return "connection refused"
    return " ".join(text.split())[:160]


def _usage(raw) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    prompt, completion = raw.get("prompt_tokens"), raw.get("completion_tokens")
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    return Usage(prompt_tokens=prompt, completion_tokens=completion, estimated=False)


def _short(value, limit: int = 200) -> str:
    if isinstance(value, dict):
        value = value.get("message") or json.dumps(value)
    return " ".join(str(value).split())[:limit]


def _error_message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return _short(response.text)
    if isinstance(data, dict):
        for key in ("error", "message", "detail"):
            if key in data:
                return _short(data[key])
    return _short(data)


def _is_context_error(message: str) -> bool:
    lowered = message.lower()
    return any(marker in lowered for marker in _CONTEXT_MARKERS)


def _status_line(url: str, status: int, message: str, s: OpenAISettings) -> str:
    detail = f": {message}" if message else ""
    if status in (401, 403):
        env = f"{s.alias.upper().replace('-', '_')}_API_KEY or " if s.alias else ""
        return f"model server at {url} refused the API key (HTTP {status}{detail}); set {env}HARNESS_API_KEY"
    if status == 404:
        return f"model server at {url} has no model {s.model!r} (HTTP 404{detail}); check the name and base URL"
    return f"model server at {url} answered HTTP {status}{detail}"


def _retry_after(response: httpx.Response, cap: float) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return max(0.0, min(seconds, cap))
