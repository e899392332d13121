"""Secrets are masked before any sink; names that only look alike are left alone."""

from __future__ import annotations

import logging

import pytest

from hyperplug.secrets import (
    MASK,
    RedactingFilter,
    is_secret_name,
    redact,
    redact_log_records,
    redact_text,
)

FAKE_WANDB_KEY = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize(
    "name",
    [
        "api_key",
        "WANDB_API_KEY",
        "apiKey",
        "HF_TOKEN",
        "AWS_SECRET_ACCESS_KEY",
        "password",
        "db_passwd",
        "key",
        "tracker.api_key",
        "upload_token",
        "client_secret",
        "credentials",
    ],
)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["x_key", "y_key", "label_key", "monkey", "keyboard", "lr"])
def test_names_that_only_look_alike(name: str) -> None:
    assert not is_secret_name(name)


def test_redact_masks_values_under_secret_keys_urls_and_wandb_like_keys() -> None:
    config = {
        "dataset": {"name": "npz", "x_key": "features", "path": "https://reader:hunter2@h/x.npz"},
        "tracker": {"api_key": "abc", "note": f"key {FAKE_WANDB_KEY} pasted"},
        "lr": 0.1,
        "layers": [64, "token=zzz"],
    }
    assert redact(config, environ={}) == {
        "dataset": {"name": "npz", "x_key": "features", "path": f"https://reader:{MASK}@h/x.npz"},
        "tracker": {"api_key": MASK, "note": f"key {MASK} pasted"},
        "lr": 0.1,
        "layers": [64, f"token={MASK}"],
    }


def test_environment_secrets_are_masked_wherever_they_appear() -> None:
    environ = {"HF_TOKEN": "hf_abcdefghij", "SHORT_TOKEN": "1", "HOME": "/root"}
    text = "loaded with hf_abcdefghij from /root, flag 1"
    assert redact_text(text, environ) == f"loaded with {MASK} from /root, flag 1"


def test_the_shells_working_directory_is_not_a_secret() -> None:
    environ = {"PWD": "/home/ada/project", "OLDPWD": "/home/ada/elsewhere", "DB_PWD": "s3cr3t-pw"}
    text = "weights at /home/ada/project/w.safetensors, db s3cr3t-pw"
    assert redact_text(text, environ) == "weights at /home/ada/project/w.safetensors, db ***"


def test_overrides_keep_harmless_assignments() -> None:
    line = "+upload_token=zzz dataset.x_key=feat tracker.api_key=abc trainer.lr=0.1"
    assert redact_text(line, {}) == (
        f"+upload_token={MASK} dataset.x_key=feat tracker.api_key={MASK} trainer.lr=0.1"
    )


def test_log_filter_masks_records() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "key is %s", (FAKE_WANDB_KEY,), None)
    assert RedactingFilter().filter(record)
    assert record.getMessage() == f"key is {MASK}"


def test_log_records_are_masked_whatever_handler_emits_them() -> None:
    import io

    stream = io.StringIO()
    logger = logging.getLogger("hyperplug.test.records")
    logger.propagate = False
    logger.addHandler(logging.StreamHandler(stream))  # a handler added later, no filter
    factory = logging.getLogRecordFactory()
    try:
        redact_log_records()
        redact_log_records()  # once per process
        logger.warning("#0 : trainer.lr=0.1 +upload_token=%s", "tok_planted_4242")
    finally:
        logging.setLogRecordFactory(factory)
    assert stream.getvalue() == f"#0 : trainer.lr=0.1 +upload_token={MASK}\n"


def test_sweep_overrides_as_hydra_writes_them_are_masked() -> None:
    # a sweep over a secret masks every value; Hydra escapes ':' in a job's overrides
    assert redact_text("+upload_token=tokA,tokB lr=0.1,0.2", {}) == "+upload_token=*** lr=0.1,0.2"
    assert redact_text("x=1,token=zz", {}) == "x=1,token=***"
    escaped = r"dataset.path=https\://reader\:hunter2@data.example.com/d.csv"
    assert redact_text(escaped, {}) == r"dataset.path=https\://reader\:***@data.example.com/d.csv"


@pytest.mark.parametrize(
    "alphabet", ["a", "a.", "a=:,", "a.:/@", "ab/:@ ", "a-_.+~=, ", "a\\:/@", "a'\"}]=:,;"]
)
def test_redaction_is_linear_in_long_values(alphabet: str) -> None:
    """A quadratic pattern takes 10 s and more on 30,000 characters (it did before the fix);
    a linear one takes milliseconds, so the bound holds on a loaded machine too."""
    import random
    import time

    rng = random.Random(alphabet)
    texts = [
        "".join(rng.choice(alphabet) for _ in range(30_000)),
        alphabet * (30_000 // len(alphabet)),
        "token=" + "http://" + alphabet * (30_000 // len(alphabet)),
    ]
    for text in texts:
        start = time.perf_counter()
        redact_text(text, {})
        assert time.perf_counter() - start < 1.0, text[:40]


def test_the_terminal_streams_mask_what_is_written_to_them() -> None:
    import io

    from hyperplug.secrets import RedactingStream

    buffer = io.StringIO()
    stream = RedactingStream(buffer)
    line = "use +tracker.api_key=sk-live-X\n"
    assert stream.write(line) == len(line)
    assert buffer.getvalue() == f"use +tracker.api_key={MASK}\n"
    assert stream.getvalue() == buffer.getvalue()  # everything else is the stream's own
