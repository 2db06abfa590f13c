"""Any OpenAI-compatible chat-completions server, over httpx.

vLLM (``vllm serve``), llama.cpp's ``llama-server``, Ollama (``/v1``), SGLang and
hosted APIs all speak ``POST {base_url}/chat/completions``. Connection errors,
timeouts, 429 and 5xx are retried with capped exponential backoff and jitter,
honouring ``Retry-After``; everything else fails at once with one clear line.
A timed-out call is retried at most ``timeout_attempts`` times in all, and every
retry is announced through ``on_event`` as it starts (a silent hour of retries
looked like a hang). A refused connection before the server ever answered fails
at once: nothing is listening, and waiting will not start it.

:meth:`OpenAIModel.discover` asks the server what it is
(:func:`harness.models.discovery.server_facts`); from that the model takes its
context window, a default reply cap for local servers, and a token counter by
the server's own tokenizer, which the episode's history uses (:meth:`token_counter`,
:attr:`history_window`).
"""

from __future__ import annotations

import email.utils
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from harness.errors import ModelError, ModelUnavailable
from harness.models import ContextLengthExceeded, Reply, Usage
from harness.tokens import count_message_tokens, count_tokens, counter_for

if TYPE_CHECKING:  # discovery imports this module's URL helpers
    from harness.models.discovery import ServerFacts

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
REPLY_CAP_MAX = 4096
"""The default reply cap of a local server: at most this, and a quarter of its window."""
REPLY_CAP_UNKNOWN_WINDOW = 2048
"""The default reply cap of a local server whose window is not told (llama-cpp-python)."""


@dataclass
class ModelEvent:
    """Something a watcher of the episode should see while a model call goes on."""

    kind: str
    """``retry`` (a call failed and is tried again) or ``warning``."""
    message: str
    """One line for a person."""
    attempt: int = 0
    """For ``retry``: the try about to start (2 = the first retry)."""
    attempts: int = 0
    """For ``retry``: the most tries this call gets."""
    wait_s: float = 0.0
    """For ``retry``: seconds before the next try."""


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
    """Cap on the reply's tokens; None: for a local server (vLLM, llama.cpp, Ollama, ...)
    min(4096, a quarter of its context window), for a hosted API the server's own."""
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
    max_attempts: int = 4
    """Tries per completion, the first included."""
    timeout_attempts: int = 2
    """Tries per completion when they time out, the first included (at most
    ``max_attempts``): a model too slow once is likely too slow again."""
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
    tool_choice: str = "auto"
    """``tool_choice`` sent with the tools: ``auto`` (the model may also answer in text)
    or ``required``. llama-cpp-python ignores tools unless it gets ``auto`` (with
    ``--chat_format chatml-function-calling``) and fails on ``required``; vLLM honours
    both."""
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
        self.facts: ServerFacts | None = None
        """What the server said about itself (:meth:`discover`); None until asked."""
        self.on_event: Callable[[ModelEvent], Any] | None = None
        """Told of retries and warnings as they happen (the live view, or a print)."""
        self._answered = False  # a request got through: a refused connection is a restart
        self._warned_tools = False
        self._counter: Callable[[str], int] | None = None

    # -- what the server is ----------------------------------------------------------

    def discover(self, timeout: float = 1.0) -> ServerFacts:
        """Ask the server its kind, window and tokenizer; ModelUnavailable when nothing
        listens there, in one line and in well under 2 s on this machine."""
        from harness.models.discovery import server_facts

        api_key = self.settings.api_key
        facts = server_facts(self.base_url, self.settings.model, api_key=api_key,
                             timeout=timeout if is_local(self.base_url) else max(timeout, 5.0))
        if not facts.reachable:
            raise ModelUnavailable(
                f"cannot reach a model server at {public_url(self.base_url)} ({_reason_text(facts.problem)}); "
                f"{start_hint(self.base_url)}"
            )
        facts.model = self.settings.model
        self.facts = facts
        return facts

    @property
    def kind(self) -> str:
        """The server's kind as discovered (``llama.cpp``, ``vLLM``, ...)."""
        return self.facts.kind if self.facts else "OpenAI-compatible server"

    @property
    def context_window(self) -> int | None:
        """Tokens of prompt plus reply: the models file's value, else the server's."""
        if self.settings.context_window:
            return self.settings.context_window
        return self.facts.context_window if self.facts else None

    @property
    def reply_cap(self) -> int | None:
        """``max_tokens`` sent: the setting, else for a local server min(4096, window/4)
        (2048 when its window is not told); None leaves a hosted API its own."""
        if self.settings.max_tokens is not None:
            return self.settings.max_tokens
        if self.facts is None or not self.facts.local_kind:
            return None
        window = self.context_window
        return min(REPLY_CAP_MAX, window // 4) if window else REPLY_CAP_UNKNOWN_WINDOW

    @property
    def history_window(self) -> int | None:
        """Tokens the conversation sent may hold: the context window less the reply cap,
        so that prompt and reply fit; None when the window is not known."""
        window = self.context_window
        if not window:
            return None
        return max(window // 2, window - (self.reply_cap or 0))

    @property
    def max_tokens(self) -> int | None:
        """The reply cap sent (what the engine keeps free of the window): :attr:`reply_cap`."""
        return self.reply_cap

    @property
    def count_tokens(self) -> Callable[[str], int] | None:
        """The server's tokenizer as ``str -> int`` (the engine's history counts with it
        and then needs no headroom for offline error); None when the server has none."""
        if self.facts is None or not self.facts.tokenizer:
            return None
        return self.token_counter()

    def token_counter(self) -> Callable[[str], int]:
        """``str -> int`` by the server's tokenizer when it has one, else offline."""
        if self._counter is None:
            if self.facts is not None and self.facts.tokenizer:
                from harness.models.server_tokens import ServerCounter

                self._counter = ServerCounter(self.facts, self.base_url, self.settings.model,
                                              headers=dict(self._client.headers))
            else:
                self._counter = counter_for(self.settings.model)
        return self._counter

    def _event(self, event: ModelEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)

    def info(self) -> dict:
        s = self.settings
        return {
            "backend": self.backend,
            "alias": s.alias,
            "model": s.model,
            "base_url": public_url(self.base_url),
            "kind": self.kind,
            "temperature": s.temperature,
            "top_p": s.top_p,
            "max_tokens": self.reply_cap,
            "max_tokens_setting": s.max_tokens,
            "seed": s.seed,
            "price_in": s.price_in,
            "price_out": s.price_out,
            "context_window": self.context_window,
            "history_window": self.history_window,
            "tool_choice": s.tool_choice if self.tool_calls else None,
            "server": self.facts.as_dict() if self.facts else None,
            "extra_body": dict(s.extra_body),
        }

    def close(self) -> None:
        self._client.close()
        counter = self._counter
        if counter is not None and hasattr(counter, "close"):
            counter.close()

    # -- the call -------------------------------------------------------------------

    def payload(self, messages: list[dict], tools: list[dict] | None = None) -> dict:
        s = self.settings
        body: dict = {"model": s.model, "messages": messages}
        for key in ("temperature", "top_p", "seed"):
            value = getattr(s, key)
            if value is not None:
                body[key] = value
        if self.reply_cap is not None:
            body["max_tokens"] = self.reply_cap
        if tools:
            body["tools"] = tools
            body["tool_choice"] = s.tool_choice
        body.update(s.extra_body)
        return body

    def complete(self, messages: list[dict], tools: list[dict] | None = None) -> Reply:
        started = time.monotonic()
        response = self._post(self.payload(messages, tools))
        data = self._decode(response)
        reply = self._reply(data, messages)
        reply.elapsed_s = time.monotonic() - started
        self._answered = True
        if tools and not reply.tool_calls:
            self._warn_no_tool_call(reply.text)
        return reply

    def _warn_no_tool_call(self, text: str) -> None:
        """One warning per model: tools were offered and the reply used none."""
        if self._warned_tools:
            return
        self._warned_tools = True
        fallback = "answered with a text action instead" if "```" in text else "answered with no action at all"
        hint = ""
        if self.kind == "llama-cpp-python":
            hint = "; llama-cpp-python honours tools only with --chat_format chatml-function-calling"
        elif self.kind == "vLLM":
            hint = "; vLLM needs --enable-auto-tool-choice and a --tool-call-parser"
        self._event(ModelEvent(
            "warning",
            f"warning: the {self.kind} at {public_url(self.base_url)} was offered tools but "
            f"{fallback}: it may ignore tools{hint}",
        ))

    def _post(self, body: dict) -> httpx.Response:
        s = self.settings
        url = f"{self.base_url}/chat/completions"
        shown = public_url(url)
        attempts = max(1, s.max_attempts)
        problem = ""
        unreachable = False
        timeouts = 0
        for attempt in range(attempts):
            wait = None
            try:
                response = self._client.post(url, json=body)
            except (httpx.ConnectError, httpx.ConnectTimeout) as err:
                unreachable, problem = True, _reason(err)
                if not self._answered and "refused" in problem:  # nothing listens: say so now
                    attempts = attempt + 1
                    break
            except httpx.TimeoutException as err:
                unreachable, problem = False, f"timed out after {s.timeout_s:g} s ({_reason(err)})"
                timeouts += 1
                if timeouts >= max(1, s.timeout_attempts):
                    attempts = attempt + 1
                    break
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as err:
                unreachable, problem = False, f"connection dropped ({_reason(err)})"
            else:
                status = response.status_code
                if status < 400:
                    return response
                message = _error_message(response)
                if status in (400, 413, 422) and _is_context_error(message):
                    self._learn_window(message)
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
                most = attempts
                if timeouts:  # the timeouts still allowed bound the tries left
                    most = min(attempts, attempt + 1 + max(0, s.timeout_attempts - timeouts))
                what = problem.split(" (")[0] if "timed out" in problem else f"failed ({problem})"
                self._event(ModelEvent(
                    "retry", f"model call {what}, retry {attempt + 2} of {most} in {wait:.0f} s",
                    attempt=attempt + 2, attempts=most, wait_s=wait,
                ))
                self._sleep(wait)
        tries = f"{attempts} attempt{'s' if attempts > 1 else ''}"
        if unreachable:
            raise ModelUnavailable(
                f"cannot reach a model server at {public_url(self.base_url)} "
                f"({problem}, {tries}); {start_hint(self.base_url)}"
            )
        raise ModelError(f"model server at {shown} failed after {tries}: {problem}")

    def _learn_window(self, message: str) -> None:
        """A server that does not tell its window tells it when overflowed
        (llama-cpp-python: "exceed context window of 8192"): remember it."""
        from harness.models.discovery import WINDOW_IN_ERROR

        match = WINDOW_IN_ERROR.search(message)
        if match and self.facts is not None and not self.facts.context_window:
            self.facts.context_window = int(match.group(1))
            self.facts.context_source = "the server's context-overflow error"

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


def _reason_text(text: str) -> str:
    return "connection refused" if "refused" in text.lower() else text


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
