"""Passwords in URLs are masked; everything else is left as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from dse.runtime.redact import redact, redact_file, redact_values


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
        (  # an override as Hydra's logs and overrides.yaml write it: colons escaped
            r"tracking.uri=postgresql\://dse\:hunter2@db\:5432/mlflow",
            r"tracking.uri=postgresql\://dse\:***@db\:5432/mlflow",
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


def test_a_file_is_rewritten_masked_and_only_when_it_holds_a_password(tmp_path: Path) -> None:
    typed = tmp_path / "overrides.yaml"
    typed.write_text("- tracking.uri=postgresql\\://u\\:hunter2@db/m\n- seed=1\n")
    clean = tmp_path / "config.yaml"
    clean.write_text("seed: 1\n")
    before = clean.stat().st_mtime_ns
    redact_file(typed)
    redact_file(clean)
    redact_file(tmp_path / "missing.yaml")  # nothing to do
    assert typed.read_text() == "- tracking.uri=postgresql\\://u\\:***@db/m\n- seed=1\n"
    assert clean.stat().st_mtime_ns == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml", "overrides.yaml"]
