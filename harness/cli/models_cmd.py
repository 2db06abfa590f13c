"""``harness models``: the aliases one can pass to ``--model``, and what the local
servers on the usual ports offer, in one table.

Asking costs nothing when no server runs (a refused connection on loopback takes
microseconds), so the command always looks; a missing server is a line of the
table's footer, not an error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import click

from harness.textsafe import visible


@dataclass
class Row:
    """One line of the table."""

    name: str
    """What to give ``--model``."""
    model: str
    server: str
    context: str
    source: str


def _local_urls(config) -> list[str]:
    """The usual ports, then every local ``base_url``/``discover`` URL of the aliases."""
    from harness.models.discovery import DEFAULT_URLS
    from harness.models.openai import is_local
    from harness.models.registry import normalize_url

    urls = list(DEFAULT_URLS)
    for entry in config.aliases.values():
        for url in [entry.base_url, *entry.discover]:
            if url and is_local(url) and normalize_url(url) not in urls:
                urls.append(normalize_url(url))
    return urls


def _survey(urls: list[str]) -> dict[str, list]:
    """``url -> [ServerFacts per model]`` of the servers that answer (an empty list: none)."""
    from harness.models.discovery import server_facts

    found: dict[str, list] = {}
    for url in urls:
        first = server_facts(url, timeout=0.5)
        if not first.reachable:
            continue
        if len(first.models) <= 1:
            found[url] = [first]
        else:  # a window per model (Ollama serves several)
            found[url] = [server_facts(url, m, timeout=0.5) for m in first.models[:8]]
    return found


def _port(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return str(parts.port) if parts.hostname in ("127.0.0.1", "localhost") and parts.port else url


def _window(value) -> str:
    return f"{value:,}" if value else "?"


def rows() -> tuple[list[Row], list[str]]:
    """The table's rows and the URLs where nothing answered."""
    from harness.models.registry import is_hosted, load_config, normalize_url, user_aliases

    config = load_config()
    yours = user_aliases()
    urls = _local_urls(config)
    found = _survey(urls)
    table: list[Row] = []
    for alias, entry in sorted(config.aliases.items()):
        source = "your file" if alias in yours else "packaged"
        targets = [normalize_url(entry.base_url)] if entry.base_url else [normalize_url(u) for u in entry.discover]
        live = next((f for u in targets for f in found.get(u, []) if not entry.model or f.model == entry.model
                     ), None)
        if live is not None:
            model, server = entry.model or live.model or "(asks the server)", live.describe()
            window = entry.context_window or live.context_window
        else:
            model = entry.model or "(asks the server)"
            window = entry.context_window
            ports = ", ".join(_port(u) for u in targets)
            server = (f"hosted API at {entry.base_url}" if entry.base_url and is_hosted(entry.base_url)
                      else f"not running (port {ports})")
        table.append(Row(alias, model, server, _window(window), source))
    for url, facts in found.items():
        for f in facts:
            if f.model:
                table.append(Row(f"openai:{f.model}@{url}", f.model, f.describe().split(",")[0],
                                 _window(f.context_window), "running"))
    silent = [u for u in urls if u not in found]
    return table, silent


@click.command("models")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line instead of a table.")
def models(as_json: bool) -> None:
    """The models you can name with --model: aliases and what local servers serve."""
    table, silent = rows()
    if as_json:
        for row in table:
            click.echo(json.dumps(row.__dict__))
        return
    heads = Row("NAME (--model)", "MODEL", "SERVER", "CONTEXT", "FROM")
    cells = [[visible(v) for v in r.__dict__.values()] for r in [heads, *table]]
    widths = [max(len(c[i]) for c in cells) for i in range(len(heads.__dict__))]
    for line in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
    if not any(r.source == "running" for r in table):
        click.echo(f"no local model server answers ({', '.join(silent)}); start one with "
                   "`vllm serve <model> --port 8000` or `llama-server -m model.gguf --port 8080`, "
                   "or use --model demo")


COMMANDS = [models]
