"""Finding and hiding secrets before anything is written down.

Every sink (trackers, version stores, Hydra's saved config, log files) gets values that
went through ``redact``: API keys, tokens and passwords must never be stored. A secret is

* the value of a config key whose name says so (``api_key``, ``token``, ``password``,
  ``secret``, ``credential``, ...),
* a password in a URL (``https://user:PASSWORD@host/``),
* a string that looks like a W&B API key (40 hex digits),
* the value of an environment variable whose name says so (``WANDB_API_KEY``,
  ``HF_TOKEN``, ``AWS_SECRET_ACCESS_KEY``, ...), wherever it appears in a string.

Each becomes ``***``. Redaction is deliberately eager: a false positive hides a harmless
value, a false negative leaks a key.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from typing import Any

MASK = "***"

#: key names (config keys, environment variables) that hold secrets
SECRET_NAME = re.compile(r"key|token|secret|passw|credential", re.IGNORECASE)
#: a ``name=value`` pair (a Hydra override, a log line) whose name holds a secret
_ASSIGNMENT = re.compile(
    r"(?P<name>[\w.+~-]*(?:key|token|secret|passw|credential)[\w.-]*)"
    r"(?P<sep>\s*[=:]\s*)(?P<value>[^\s,;'\"}\]]+)",
    re.IGNORECASE,
)
#: ``scheme://user:password@``: the password part
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^\s:/@]*:)(?P<value>[^\s@/]+)(?=@)")
#: a W&B API key: 40 hex digits, not part of a longer hex string (a sha256 has 64)
_WANDB_KEY = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{40}(?![0-9a-fA-F])")
#: shorter environment values are too likely to occur by chance (``1``, ``true``)
_MIN_ENV_SECRET = 8


def is_secret_name(name: str) -> bool:
    """True when a config key or environment variable name says it holds a secret."""
    return bool(SECRET_NAME.search(name))


def env_secrets(environ: Mapping[str, str] | None = None) -> list[str]:
    """The values of environment variables named like secrets, longest first."""
    environ = os.environ if environ is None else environ
    values = {
        value
        for name, value in environ.items()
        if is_secret_name(name) and len(value) >= _MIN_ENV_SECRET
    }
    return sorted(values, key=len, reverse=True)


def redact_text(text: str, environ: Mapping[str, str] | None = None) -> str:
    """``text`` with every secret it contains replaced by ``***``."""
    for value in env_secrets(environ):
        text = text.replace(value, MASK)
    text = _URL_PASSWORD.sub(lambda m: m["head"] + MASK, text)
    text = _WANDB_KEY.sub(MASK, text)
    return _ASSIGNMENT.sub(
        lambda m: m.group(0) if m["value"] == MASK else f"{m['name']}{m['sep']}{MASK}", text
    )


def redact(value: Any, environ: Mapping[str, str] | None = None, *, _key: str = "") -> Any:
    """A copy of ``value`` (mappings, lists and scalars, nested) with secrets masked.

    A string under a secret-named key is masked whole; any other string is searched
    for secrets (``redact_text``). Numbers, booleans and None are kept as they are.
    """
    if isinstance(value, Mapping):
        return {k: redact(v, environ, _key=str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact(v, environ, _key=_key) for v in value)
    if isinstance(value, str):
        if value and _key and is_secret_name(_key):
            return MASK
        return redact_text(value, environ)
    return value


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in every record a handler emits."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def redact_log_handlers(logger: logging.Logger | None = None) -> None:
    """Add a ``RedactingFilter`` to every handler of ``logger`` (default: the root)."""
    logger = logger or logging.getLogger()
    for handler in logger.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
