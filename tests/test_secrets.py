"""Secrets come from configuration, never from the directory a worker starts in (issue 24, part 3).

A worker reads its checkpoint key and API keys from ``TRACER_*`` variables or the files their
``*_FILE`` variables name; without them it refuses to start unless in development mode, which keeps
generated keys in one per-user folder. A rotated key still opens the checkpoints it signed.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from tracer.agents.checkpointing import open_with_any
from tracer.agents.cli import main
from tracer.agents.settings import MissingSecretError, Settings
from tracer.online_models.checkpoint import CheckpointRefused, seal_checkpoint

OLD_KEY = "old-checkpoint-key-0123456789abcdef"
NEW_KEY = "new-checkpoint-key-0123456789abcdef"
SECRET_VARIABLES = (
    "TRACER_CHECKPOINT_SECRET", "TRACER_CHECKPOINT_SECRET_FILE", "TRACER_CHECKPOINT_SECRET_PREVIOUS",
    "TRACER_CHECKPOINT_SECRET_PREVIOUS_FILE", "TRACER_API_KEYS", "TRACER_API_KEYS_FILE", "TRACER_DEV",
)  # fmt: skip


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No secret from the developer's shell, and development keys under the test's own folder."""
    for variable in SECRET_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


def seal(state: object, secret: str) -> bytes:
    return seal_checkpoint(
        state, deployment="churn", model_version=1, offsets={"routed:0": 7}, created_at=1, secret=secret
    )


def two_directories(tmp_path: Path) -> tuple[Path, Path]:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    return first, second


def test_a_worker_started_elsewhere_opens_the_checkpoint_of_one_with_the_same_key_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key_file = tmp_path / "checkpoint.key"
    key_file.write_text(NEW_KEY + "\n")
    monkeypatch.setenv("TRACER_CHECKPOINT_SECRET_FILE", str(key_file))
    first, second = two_directories(tmp_path)
    monkeypatch.chdir(first)
    blob = seal({"weights": [1.0]}, Settings.from_env().secret())
    monkeypatch.chdir(second)
    assert open_with_any(blob, Settings.from_env().checkpoint_secrets()).state == {"weights": [1.0]}
    assert not (first / ".tracer").exists() and not (second / ".tracer").exists()


def test_development_mode_keeps_one_key_per_user_whatever_the_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("TRACER_DEV", "1")
    first, second = two_directories(tmp_path)
    monkeypatch.chdir(first)
    with caplog.at_level(logging.WARNING, logger="tracer.agents.settings"):
        signing = Settings.from_env().secret()
        said = [record.getMessage() for record in caplog.records]
    monkeypatch.chdir(second)
    assert Settings.from_env().secret() == signing
    path = tmp_path / "state" / "tracer" / "checkpoint.secret"
    assert path.read_text() == signing and path.stat().st_mode & 0o077 == 0
    assert path.parent.stat().st_mode & 0o077 == 0
    assert len(said) == 1 and str(path) in said[0] and "TRACER_CHECKPOINT_SECRET" in said[0]


def test_without_keys_a_worker_refuses_to_start_and_says_what_to_set() -> None:
    settings = Settings.from_env()
    with pytest.raises(MissingSecretError) as refused:
        settings.require_secrets()
    message = str(refused.value)
    for variable in (
        "TRACER_CHECKPOINT_SECRET",
        "TRACER_CHECKPOINT_SECRET_FILE",
        "TRACER_API_KEYS",
        "TRACER_DEV",
    ):
        assert variable in message
    with pytest.raises(MissingSecretError, match="TRACER_CHECKPOINT_SECRET"):
        settings.secret()
    with pytest.raises(MissingSecretError, match="TRACER_API_KEYS"):
        settings.http_api_keys()
    Settings.from_env(dev=True).require_secrets()
    Settings(checkpoint_secret=NEW_KEY, api_keys=("k",)).require_secrets()
    Settings(checkpoint_secret=NEW_KEY, web_enabled=False).require_secrets()  # no web server, no API key


def test_the_worker_command_refuses_before_touching_the_broker(tmp_path: Path) -> None:
    deployments = tmp_path / "deployments.yaml"
    deployments.write_text("deployments: []\n")
    result = CliRunner().invoke(
        main, ["worker", "--deployments", str(deployments), "--broker", "127.0.0.1:9"]
    )
    assert result.exit_code == 1
    assert "no checkpoint key and no API key configured" in result.output
    assert "--dev" in result.output


def test_keys_are_read_from_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "api").write_text("first\nsecond\n\n")
    (tmp_path / "previous").write_text(f"{OLD_KEY}\n")
    monkeypatch.setenv("TRACER_API_KEYS_FILE", str(tmp_path / "api"))
    monkeypatch.setenv("TRACER_CHECKPOINT_SECRET", NEW_KEY)
    monkeypatch.setenv("TRACER_CHECKPOINT_SECRET_PREVIOUS_FILE", str(tmp_path / "previous"))
    settings = Settings.from_env()
    assert settings.http_api_keys() == ("first", "second")
    assert settings.checkpoint_secrets() == (NEW_KEY, OLD_KEY)


def test_ambiguous_missing_or_short_keys_are_refused_with_the_variable_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TRACER_API_KEYS", "k")
    monkeypatch.setenv("TRACER_API_KEYS_FILE", str(tmp_path / "api"))
    with pytest.raises(ValueError, match="both TRACER_API_KEYS and TRACER_API_KEYS_FILE"):
        Settings.from_env()
    monkeypatch.delenv("TRACER_API_KEYS")
    with pytest.raises(ValueError, match=r"TRACER_API_KEYS_FILE=.* cannot be read"):
        Settings.from_env()
    monkeypatch.delenv("TRACER_API_KEYS_FILE")
    monkeypatch.setenv("TRACER_CHECKPOINT_SECRET", "short")
    with pytest.raises(ValueError, match="at least 16 bytes"):
        Settings.from_env()


def test_after_rotation_the_old_key_opens_and_an_unknown_key_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sealed_before = seal({"weights": [2.0]}, OLD_KEY)
    monkeypatch.setenv("TRACER_CHECKPOINT_SECRET", NEW_KEY)
    monkeypatch.setenv("TRACER_CHECKPOINT_SECRET_PREVIOUS", OLD_KEY)
    rotated = Settings.from_env()
    assert rotated.secret() == NEW_KEY, "new checkpoints are signed with the new key"
    assert open_with_any(sealed_before, rotated.checkpoint_secrets()).state == {"weights": [2.0]}
    sealed_after = seal({"weights": [3.0]}, rotated.secret())
    assert open_with_any(sealed_after, rotated.checkpoint_secrets()).state == {"weights": [3.0]}
    with pytest.raises(CheckpointRefused, match="HMAC"):
        open_with_any(seal({}, "an-unknown-key-0123456789abcdef"), rotated.checkpoint_secrets())
    with pytest.raises(CheckpointRefused):
        open_with_any(sealed_before, (NEW_KEY,)), "without the previous key the old checkpoint is refused"
