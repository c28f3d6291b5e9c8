"""Passwords in URLs are masked; everything else is left as it was."""

from __future__ import annotations

import pytest

from dse.redact import redact, redact_values


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "postgresql+psycopg2://dse:hunter2@db:5432/optuna",
            "postgresql+psycopg2://dse:***@db:5432/optuna",
        ),
        ("http://alice:p%40ss@mlflow.example:5000", "http://alice:***@mlflow.example:5000"),
        ("mysql://:only@host/db", "mysql://:***@host/db"),
        (
            "storage postgresql://u:pw@h/d and http://v:x@s",
            "storage postgresql://u:***@h/d and http://v:***@s",
        ),
    ],
)
def test_passwords_are_masked(text: str, expected: str) -> None:
    assert redact(text) == expected
    assert redact(expected) == expected  # idempotent


@pytest.mark.parametrize(
    "text",
    [
        "sqlite:///outputs/mlflow.db",
        "postgresql+psycopg2://dse@127.0.0.1:55432/optuna",  # no password
        "http://127.0.0.1:5000",
        "outputs/optuna.journal",
        "time 12:30:01 at host",
        "snn_accuracy >= 80",
    ],
)
def test_text_without_a_password_is_unchanged(text: str) -> None:
    assert redact(text) == text


def test_containers_are_redacted_deeply() -> None:
    value = {"storage": "postgresql://u:pw@h/d", "n": 3, "tags": ["http://a:b@c", 1.5]}
    assert redact_values(value) == {
        "storage": "postgresql://u:***@h/d",
        "n": 3,
        "tags": ["http://a:***@c", 1.5],
    }
