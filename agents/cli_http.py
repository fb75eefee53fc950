"""What the commands that talk to a running worker share: its URL, the API key, one JSON call.

The worker is at ``--url`` (``TRACER_URL``, by default http://127.0.0.1:6066); the key is ``--api-key``
(``TRACER_API_KEY``; else the first of ``TRACER_API_KEYS``; else the development key a ``tracer worker
--dev`` generated on this machine). Standard library HTTP only: these commands need no client extra.
An error answer raises a click exception with the API's ``{error, detail}`` (exit 1); no answer at all
exits 2.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, TypeVar

import click

__all__ = ["DEFAULT_URL", "call", "default_key", "worker_options"]

DEFAULT_URL = "http://127.0.0.1:6066"
TIMEOUT_S = 30.0
F = TypeVar("F", bound=Callable[..., Any])


def default_key() -> str | None:
    """``TRACER_API_KEY``, else the first of ``TRACER_API_KEYS``, else the development key file's."""
    from tracer.agents.settings import dev_secret_dir

    key = os.environ.get("TRACER_API_KEY") or os.environ.get("TRACER_API_KEYS", "").split(",")[0].strip()
    if key:
        return key
    try:
        return (dev_secret_dir() / "api.key").read_text().strip() or None
    except OSError:
        return None


def worker_options(command: F) -> F:
    """``--url`` and ``--api-key``, as every command that calls a worker takes them."""
    command = click.option("--api-key", envvar="TRACER_API_KEY", default=None,
                           help="The API key (default: TRACER_API_KEY, else this machine's development key).")(command)  # fmt: skip
    return click.option(
        "--url", envvar="TRACER_URL", default=DEFAULT_URL, show_default=True, help="The worker's HTTP API."
    )(command)


def call(
    url: str, method: str, path: str, api_key: str | None, body: Any = None, timeout_s: float = TIMEOUT_S
) -> bytes:
    """The body of ``METHOD {url}{path}`` (with ``body`` as JSON); click exceptions on failure."""
    target = f"{url.rstrip('/')}{path}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(target, data=data, method=method, headers={"Accept": "application/json"})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    key = api_key or default_key()
    if key:
        request.add_header("X-API-Key", key)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            answer: bytes = response.read()
            return answer
    except urllib.error.HTTPError as error:
        try:
            found = json.loads(error.read())
            detail = f"{found.get('error')}: {found.get('detail')}"
        except (ValueError, AttributeError):
            detail = str(error.reason)
        raise click.ClickException(f"{method} {target} answered {error.code}: {detail}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        reason = getattr(error, "reason", error)
        problem = click.ClickException(
            f"no Tracer worker answers at {url} ({reason}); start one, or give --url"
        )
        problem.exit_code = 2
        raise problem from None
