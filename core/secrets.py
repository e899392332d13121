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

import contextlib
import logging
import os
import re
import sys
from collections.abc import Iterator, Mapping
from typing import Any

MASK = "***"

#: words that make a name (config key, environment variable) a secret's name
SECRET_WORDS = frozenset(
    {
        "token",
        "tokens",
        "secret",
        "secrets",
        "password",
        "passwords",
        "passwd",
        "pwd",
        "credential",
        "credentials",
        "apikey",
        "auth",
    }
)
#: environment variables named like secrets that are not: the shell's working directories
#: (masking them would rewrite every path under the current directory)
NOT_SECRET_ENV = frozenset({"PWD", "OLDPWD"})
#: a ``key`` is a secret alone or after one of these (``api_key``, ``WANDB_API_KEY``), not
#: in names such as ``x_key`` or ``label_key`` that name a column or an array
KEY_QUALIFIERS = frozenset(
    {
        "api",
        "access",
        "secret",
        "private",
        "auth",
        "signing",
        "encryption",
        "client",
        "license",
        "master",
        "ssh",
    }
)
#: a ``name=value`` pair (a Hydra override, a log line); masked when the name is a secret's
#: (a secret's comma-separated sweep values, ``token=a,b``, are all masked). A name starts
#: only where no name character precedes it, so each run of name characters is tried once:
#: without that anchor every position of a long word is a new start (quadratic time)
_ASSIGNMENT = re.compile(
    r"(?<![\w.+~-])(?P<name>[\w.+~-]+)(?P<sep>\s*[=:]\s*)"
    r"(?P<value>[^\s,;'\"}\]]+(?:,(?![\w.+~-]+\s*[=:])[^\s,;'\"}\]]+)*)"
)
#: ``scheme://user:password@``: the password part
#: (also as Hydra writes a sweep job's overrides, escaped: ``https\\://user\\:pw@``); the
#: scheme starts where no scheme character precedes it (linear time, as above)
_URL_PASSWORD = re.compile(
    r"(?<![a-z0-9+.-])(?P<head>[a-z][a-z0-9+.-]*\\?://[^\s:/@]*:)(?P<value>[^\s@/]+)(?=@)"
)
#: a W&B API key: 40 hex digits, not part of a longer hex string (a sha256 has 64)
_WANDB_KEY = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{40}(?![0-9a-fA-F])")
#: shorter environment values are too likely to occur by chance (``1``, ``true``)
_MIN_ENV_SECRET = 8


def is_secret_name(name: str) -> bool:
    """True when a config key or environment variable name says it holds a secret.

    The name is split into words (``_``, ``-``, ``.``, camelCase): a secret word
    (token, password, ...) or a qualified ``key`` makes it a secret's name.
    """
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    words = [w.lower() for w in re.split(r"[^A-Za-z0-9]+", spaced) if w]
    if any(w in SECRET_WORDS or w.startswith("passw") for w in words):
        return True
    return any(
        w in ("key", "keys") and (len(words) == 1 or (i > 0 and words[i - 1] in KEY_QUALIFIERS))
        for i, w in enumerate(words)
    )


def env_secrets(environ: Mapping[str, str] | None = None) -> list[str]:
    """The values of environment variables named like secrets, longest first."""
    environ = os.environ if environ is None else environ
    values = {
        value
        for name, value in environ.items()
        if is_secret_name(name) and name not in NOT_SECRET_ENV and len(value) >= _MIN_ENV_SECRET
    }
    return sorted(values, key=len, reverse=True)


def redact_text(text: str, environ: Mapping[str, str] | None = None) -> str:
    """``text`` with every secret it contains replaced by ``***``."""
    for value in env_secrets(environ):
        text = text.replace(value, MASK)
    text = _URL_PASSWORD.sub(lambda m: m["head"] + MASK, text)
    text = _WANDB_KEY.sub(MASK, text)
    return _ASSIGNMENT.sub(
        lambda m: (
            f"{m['name']}{m['sep']}{MASK}"
            if m["value"] != MASK and is_secret_name(m["name"].rsplit(".", 1)[-1])
            else m.group(0)
        ),
        text,
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


class RedactingStream:
    """A text stream (the terminal's stdout or stderr) that masks secrets in every write.

    What reaches the terminal without passing a log handler (Hydra's "Error executing job
    with overrides" line, an error's one-line message, a traceback) goes through it."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(redact_text(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


@contextlib.contextmanager
def redacted_terminal() -> Iterator[None]:
    """Route ``sys.stdout`` and ``sys.stderr`` through ``RedactingStream`` in the block."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = RedactingStream(sys.stdout), RedactingStream(sys.stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def redact_log_records() -> None:
    """Mask secrets in every log record this process makes, whichever handler emits it.

    A filter on handlers is not enough: Hydra configures its logging anew before and
    between the jobs of a sweep (its "Launching jobs" lines list each job's overrides),
    dropping filters added to the handlers it replaces. Installed once per process."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "redacting", False):
        return
    masking = RedactingFilter()

    def make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        # a record whose message cannot be formatted: its handler reports that
        with contextlib.suppress(Exception):
            masking.filter(record)
        return record

    make_record.redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(make_record)
