"""Finding "the local server" for the ``llama`` alias, and learning what a server is.

Unless the models file says where it is, ``llama`` looks for an OpenAI-compatible
server on the usual ports (vLLM 8000, llama.cpp 8080, Ollama 11434), asks
``/v1/models`` which model it serves, and uses it. Probes use short timeouts, so
nothing listening costs a few milliseconds.

:func:`server_facts` then asks the server what kind it is, how long a context it
holds and whether it tokenizes, because none of that is in the OpenAI API and an
episode that guesses runs into the server's 400 (see :class:`ServerFacts`):

==================  ==========================================  =====================
server              context window                              tokenizer
==================  ==========================================  =====================
llama.cpp server    ``GET /props`` ``default_generation_settings  ``POST /tokenize``
                    .n_ctx`` (older builds: ``n_ctx``)            ``{"content"}``
vLLM                ``/v1/models`` ``max_model_len``            ``POST /tokenize``
                                                                ``{"model","prompt"}``
Ollama              ``POST /api/show``: ``num_ctx`` of its      none
                    parameters, else ``model_info``
                    ``*.context_length``
llama-cpp-python    not exposed (learnt from its overflow       ``POST /extras/
                    error, or set ``context_window``)           tokenize/count``
==================  ==========================================  =====================
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from harness.errors import HarnessError, ModelUnavailable
from harness.models.openai import public_url

DEFAULT_URLS = (
    "http://127.0.0.1:8000/v1",  # vLLM, SGLang (30000 is SGLang's own default)
    "http://127.0.0.1:8080/v1",  # llama.cpp llama-server
    "http://127.0.0.1:11434/v1",  # Ollama
)
START_HINT = (
    "start one with `vllm serve <model> --port 8000` or "
    "`llama-server -m model.gguf --port 8080`, or try `--model demo`"
)
_KINDS = {
    "vllm": "vLLM",
    "llamacpp": "llama.cpp",
    "library": "Ollama",
    "ollama": "Ollama",
    "sglang": "SGLang",
}
LLAMA_CPP_PYTHON = "llama-cpp-python"
WINDOW_IN_ERROR = re.compile(
    r"(?:context window of|maximum context length is|context size \(?|n_ctx[ =:]+)\s*(\d{3,})",
    re.IGNORECASE,
)
"""A server's window as its refusal of an over-long request states it."""
PROBE_TOKENS = 1 << 18
"""Length of the prompt that makes llama-cpp-python state its window: longer than any
window such a local server runs, refused before any evaluation (0.4 s here)."""
UNKNOWN_KIND = "OpenAI-compatible server"
LOCAL_KINDS = ("vLLM", "llama.cpp", LLAMA_CPP_PYTHON, "Ollama", "SGLang")
"""Kinds that run a model on the user's own hardware: they get a default reply cap."""


@dataclass
class Server:
    """An OpenAI-compatible server that answered ``GET /models``."""

    base_url: str
    """URL up to and including ``/v1``."""
    models: list[str] = field(default_factory=list)
    """Model ids it serves."""
    kind: str = UNKNOWN_KIND
    """What it looks like (vLLM, llama.cpp, Ollama, ...), from ``owned_by``."""
    problem: str = ""
    """Why it cannot be used (an HTTP error), empty when fine."""


def probe(base_url: str, *, timeout: float = 1.0, api_key: str | None = None) -> Server | None:
    """The server at ``base_url``, or None when nothing listens there."""
    base_url = base_url.rstrip("/")
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        response = httpx.get(
            f"{base_url}/models",
            headers=headers,
            timeout=httpx.Timeout(max(timeout, 2.0), connect=timeout),
        )
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return Server(base_url, problem=f"GET /models answered HTTP {response.status_code}")
    try:
        data = response.json()
        entries = data.get("data") or data.get("models") or []
        models = [
            str(e.get("id") or e.get("name") or e.get("model"))
            for e in entries
            if isinstance(e, dict)
        ]
    except (ValueError, AttributeError):
        return Server(base_url, problem="GET /models did not answer a model list")
    owners = {str(e.get("owned_by", "")).lower() for e in entries if isinstance(e, dict)}
    kind = next((_KINDS[o] for o in owners if o in _KINDS), UNKNOWN_KIND)
    return Server(base_url, [m for m in models if m and m != "None"], kind)


def find(
    urls: Sequence[str] = DEFAULT_URLS,
    *,
    model: str | None = None,
    api_key: str | None = None,
    echo: Callable[[str], Any] = print,
    label: str = "llama",
    timeout: float = 1.0,
) -> tuple[str, str]:
    """``(base_url, model)`` of the first server in ``urls`` that serves a model.

    With ``model`` given, the first server serving that model. A server serving
    several models is an error asking the user to pick one.
    """
    urls = [u.rstrip("/") for u in urls]
    seen: list[Server] = []
    for url in urls:
        server = probe(url, timeout=timeout, api_key=api_key)
        if server is None:
            continue
        seen.append(server)
        if server.problem or not server.models:
            continue
        if model:
            if model in server.models:
                echo(f"{label}: using {model} on the {server.kind} at {public_url(url)}")
                return url, model
            continue
        if len(server.models) > 1:
            choices = ", ".join(server.models)
            raise HarnessError(
                f"the {server.kind} at {public_url(url)} serves several models ({choices}); "
                f"pick one with --model openai:<name>@{public_url(url)}"
            )
        echo(f"{label}: using {server.models[0]} on the {server.kind} at {public_url(url)}")
        return url, server.models[0]
    tried = ", ".join(public_url(u) for u in urls)
    if model and any(s.models for s in seen):
        found = "; ".join(
            f"{public_url(s.base_url)} serves {', '.join(s.models)}" for s in seen if s.models
        )
        raise HarnessError(
            f"no local server serves {model!r} ({found}); pick one with --model openai:<name>@<url>"
        )
    if seen:
        notes = "; ".join(
            f"{public_url(s.base_url)}: {s.problem or 'serves no model (Ollama: `ollama pull <model>`)'}"
            for s in seen
        )
        raise ModelUnavailable(f"no usable model server ({notes}); {START_HINT}")
    raise ModelUnavailable(f"no model server answered at {tried}; {START_HINT}")


# -- what a server is ------------------------------------------------------------------


@dataclass
class ServerFacts:
    """What a server said about itself and the model it serves.

    Recorded with the model's settings (``results.json`` ``model.server``) and used by
    the model: the default reply cap, the window the history stays under, and token
    counts by the server's own tokenizer.
    """

    kind: str = UNKNOWN_KIND
    """vLLM, llama.cpp, llama-cpp-python, Ollama, SGLang, or "OpenAI-compatible server"."""
    model: str = ""
    """The model id it serves (the one asked for when given)."""
    base_url: str = ""
    """Where, up to ``/v1``, without credentials."""
    context_window: int | None = None
    """Tokens of prompt plus reply the server holds for one request; None when not told."""
    context_source: str = ""
    """Where ``context_window`` came from (``/props n_ctx``, ``/v1/models max_model_len``, ...)."""
    tokenizer: str = ""
    """The server's tokenize endpoint (``/tokenize``, ``/extras/tokenize/count``); empty: none."""
    version: str = ""
    """The server's version, when it tells."""
    models: list[str] = field(default_factory=list)
    """Every model id ``/v1/models`` listed."""
    reachable: bool = True
    """False when nothing answered at all (connection refused)."""
    problem: str = ""
    """Why the server could not be asked, empty when it could."""

    @property
    def local_kind(self) -> bool:
        return self.kind in LOCAL_KINDS

    def as_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        """``llama.cpp server at URL, context 8192 tokens``: for one line of output."""
        server = self.kind if self.kind == UNKNOWN_KIND else f"{self.kind} server"
        window = f", context {self.context_window} tokens" if self.context_window else ""
        return f"{server} at {self.base_url}{window}"


def root_url(base_url: str) -> str:
    """The server's root: ``base_url`` without its trailing ``/v1``.

    llama.cpp's ``/props`` and ``/tokenize``, vLLM's ``/tokenize`` and ``/version`` and
    Ollama's ``/api/*`` live beside ``/v1``, not under it.
    """
    base_url = base_url.rstrip("/")
    return base_url[: -len("/v1")] if base_url.endswith("/v1") else base_url


def _positive_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


class _Asker:
    """GETs and POSTs of one discovery, with short timeouts; None for any failure."""

    def __init__(self, base_url: str, api_key: str | None, timeout: float):
        self.base_url = base_url.rstrip("/")
        self.root = root_url(base_url)
        self.client = httpx.Client(
            timeout=httpx.Timeout(max(timeout * 3, 3.0), connect=timeout),
            headers={"Authorization": f"Bearer {api_key}"} if api_key else {},
        )

    def json(self, method: str, path: str, body: dict | None = None) -> Any:
        try:
            response = self.client.request(method, self.root + path, json=body)
            if response.status_code != 200:
                return None
            return response.json()
        except (httpx.HTTPError, ValueError):
            return None


def server_facts(
    base_url: str,
    model: str = "",
    *,
    api_key: str | None = None,
    timeout: float = 1.0,
) -> ServerFacts:
    """Ask the server at ``base_url`` what it is; never raises.

    One ``GET /v1/models``, then only the endpoints of the kind it looks like (a
    few milliseconds on loopback). A server that answers nothing (connection
    refused) has ``reachable`` False; one that answers some questions but not
    others just leaves those facts empty.
    """
    base_url = base_url.rstrip("/")
    facts = ServerFacts(model=model, base_url=public_url(base_url))
    ask = _Asker(base_url, api_key, timeout)
    try:
        try:
            response = ask.client.get(f"{base_url}/models")
        except (httpx.ConnectError, httpx.ConnectTimeout) as err:
            facts.reachable, facts.problem = False, " ".join(str(err).split())[:160] or "unreachable"
            return facts
        except httpx.HTTPError as err:
            facts.problem = f"GET /models failed: {' '.join(str(err).split())[:160]}"
            return facts
        try:
            data = response.json() if response.status_code == 200 else {}
        except ValueError:
            data = {}
        entries = [e for e in (data.get("data") or data.get("models") or [])
                   if isinstance(e, dict)] if isinstance(data, dict) else []
        facts.models = [str(e.get("id") or e.get("name") or "") for e in entries]
        facts.models = [m for m in facts.models if m]
        if not facts.model and len(facts.models) == 1:
            facts.model = facts.models[0]
        entry = next((e for e in entries if (e.get("id") or e.get("name")) == facts.model),
                     entries[0] if entries else {})
        owner = str(entry.get("owned_by", "")).lower()
        facts.kind = _KINDS.get(owner, UNKNOWN_KIND)
        if _positive_int(entry.get("max_model_len")):  # vLLM (and SGLang) say it here
            facts.context_window = entry["max_model_len"]
            facts.context_source = "/v1/models max_model_len"
            if facts.kind == UNKNOWN_KIND:
                facts.kind = "vLLM"
        _by_kind(facts, ask, owner)
        if facts.tokenizer and count_reply(ask.json("POST", facts.tokenizer, tokenize_body(
                facts.kind, facts.model, "hello world"))) is None:
            facts.tokenizer = ""  # announced but not answering (an old vLLM, a proxy)
    finally:
        ask.client.close()
    return facts


def tokenize_body(kind: str, model: str, text: str) -> dict:
    """The request body of ``kind``'s tokenize endpoint for ``text``."""
    if kind == "llama.cpp":
        return {"content": text, "add_special": False}
    if kind == LLAMA_CPP_PYTHON:
        return {"input": text, "model": model}
    return {"model": model, "prompt": text, "add_special_tokens": False}  # vLLM


def count_reply(data: Any) -> int | None:
    """The token count in a tokenize answer: ``count`` (vLLM, llama-cpp-python's
    ``/count``) or the length of ``tokens`` (llama.cpp)."""
    if isinstance(data, dict):
        if _positive_int(data.get("count")) is not None or data.get("count") == 0:
            return int(data["count"])
        if isinstance(data.get("tokens"), list):
            return len(data["tokens"])
    return None


def _by_kind(facts: ServerFacts, ask: _Asker, owner: str) -> None:
    """The kind-specific questions; an unknown kind on this machine is asked them all."""
    local = (urlsplit(facts.base_url).hostname or "") in ("127.0.0.1", "localhost", "::1", "0.0.0.0")
    unknown = facts.kind == UNKNOWN_KIND
    if facts.kind == "vLLM":
        version = ask.json("GET", "/version")
        facts.version = str(version.get("version", "")) if isinstance(version, dict) else ""
        facts.tokenizer = "/tokenize"  # vLLM's, with "prompt" or "messages"
        return
    if facts.kind == "llama.cpp" or (unknown and local):
        props = ask.json("GET", "/props")
        if isinstance(props, dict):
            settings = props.get("default_generation_settings")
            n_ctx = _positive_int(settings.get("n_ctx")) if isinstance(settings, dict) else None
            n_ctx = n_ctx or _positive_int(props.get("n_ctx"))
            facts.kind = "llama.cpp"
            facts.tokenizer = "/tokenize"  # llama.cpp's, with "content"
            facts.version = str(props.get("build_info", ""))
            if n_ctx:
                facts.context_window, facts.context_source = n_ctx, "/props n_ctx"
            return
    if facts.kind == "Ollama" or (unknown and local):
        version = ask.json("GET", "/api/version")
        if isinstance(version, dict) and "version" in version:
            facts.kind, facts.version = "Ollama", str(version["version"])
            _ollama_window(facts, ask)
            return
    if owner == "me" or (unknown and local):  # llama-cpp-python's /v1/models says owned_by "me"
        spec = ask.json("GET", "/openapi.json")
        paths = spec.get("paths", {}) if isinstance(spec, dict) else {}
        if "/extras/tokenize/count" in paths:
            facts.kind = LLAMA_CPP_PYTHON
            facts.tokenizer = "/extras/tokenize/count"
            facts.version = str(spec.get("info", {}).get("version", ""))
            _window_from_refusal(facts, ask)


def _window_from_refusal(facts: ServerFacts, ask: _Asker) -> None:
    """llama-cpp-python states its window nowhere but in refusing a prompt longer than
    it ("maximum context length is 8192 tokens"): ask it to refuse one."""
    body = {"model": facts.model, "prompt": "hi " * PROBE_TOKENS, "max_tokens": 1}
    try:
        response = ask.client.post(ask.base_url + "/completions", json=body, timeout=30.0)
    except httpx.HTTPError:
        return
    match = WINDOW_IN_ERROR.search(response.text) if response.status_code != 200 else None
    if match:
        facts.context_window = int(match.group(1))
        facts.context_source = "its refusal of an over-long prompt"


def _ollama_window(facts: ServerFacts, ask: _Asker) -> None:
    """Ollama's window: ``num_ctx`` of the model's parameters when set, else the model's
    trained ``*.context_length`` (Ollama may run it shorter: its own default num_ctx)."""
    show = ask.json("POST", "/api/show", {"model": facts.model}) if facts.model else None
    if not isinstance(show, dict):
        return
    for line in str(show.get("parameters") or "").splitlines():
        key, _, value = line.strip().partition(" ")
        if key == "num_ctx" and value.strip().isdigit():
            facts.context_window = int(value.strip())
            facts.context_source = "/api/show parameters num_ctx"
            return
    info = show.get("model_info")
    if isinstance(info, dict):
        for key, value in info.items():
            if str(key).endswith(".context_length") and _positive_int(value):
                facts.context_window = value
                facts.context_source = f"/api/show model_info {key}"
                return
