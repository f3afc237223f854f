"""Configuration: one clear line per problem, exit code 2, no traceback, no secret echoed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import SettingsError, load_settings

ROOT = Path(__file__).resolve().parent.parent


def run_bot(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("NAVIXY_", "BOT_", "TELEGRAM_"))
    }
    clean.update(env)
    clean["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "bot"],
        env=clean,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.e2e  # runs `python -m bot` as a process
def test_missing_settings_exit_2_with_one_line_each(tmp_path: Path) -> None:
    result = run_bot({}, tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "configuration error: BOT_TOKEN: is required",
        "configuration error: NAVIXY_API_URL: is required",
    ]
    assert "Traceback" not in result.stderr


@pytest.mark.e2e  # runs `python -m bot` as a process
def test_invalid_values_are_named_but_never_echoed(tmp_path: Path) -> None:
    secret_token = "not-a-token-SECRET123"
    result = run_bot(
        {
            "BOT_TOKEN": secret_token,
            "NAVIXY_API_URL": "https://api.eu.navixy.com/v2",
            "NAVIXY_PASSWORD": "hunter2-SECRET",
            "ADMIN_IDS": "12,abc",
        },
        tmp_path,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert secret_token not in result.stderr + result.stdout
    assert "hunter2" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert any(line.startswith("configuration error: BOT_TOKEN:") for line in lines)
    assert any("ADMIN_IDS" in line for line in lines)


def test_env_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text(
        "BOT_TOKEN=123:abc\nNAVIXY_API_URL=sandbox\nADMIN_IDS=1, 2\nINSTALLER_IDS=\n"
    )
    for key in ("BOT_TOKEN", "NAVIXY_API_URL", "ADMIN_IDS", "INSTALLER_IDS", "NAVIXY_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.use_sandbox
    assert settings.admin_ids == [1, 2]
    assert settings.installer_ids == []
    assert settings.role_of(2) == "admin"
    assert settings.role_of(3) is None


def test_login_and_password_are_an_alternative_to_the_key() -> None:
    settings = load_settings(
        _env_file=None,
        bot_token="1:x",
        navixy_api_url="https://api.eu.navixy.com/v2/",
        navixy_login="ops@example.com",
        navixy_password="pw",
    )
    assert settings.navixy_api_url == "https://api.eu.navixy.com/v2"
    with pytest.raises(SettingsError) as info:
        load_settings(
            _env_file=None,
            bot_token="1:x",
            navixy_api_url="https://x/v2",
            navixy_login="ops@example.com",
        )
    assert info.value.problems == [
        "set NAVIXY_API_KEY, or NAVIXY_LOGIN and NAVIXY_PASSWORD "
        "(or NAVIXY_API_URL=sandbox to try the bot)"
    ]


@pytest.mark.e2e  # runs `python -m bot` as a process
def test_unreachable_telegram_is_one_clear_line(tmp_path: Path) -> None:
    result = run_bot(
        {
            "BOT_TOKEN": "123:abc-SECRET",
            "NAVIXY_API_URL": "sandbox",
            "TELEGRAM_API_URL": "http://127.0.0.1:9",
            "DATABASE_PATH": str(tmp_path / "bot.db"),
        },
        tmp_path,
    )
    assert result.returncode == 1
    assert "startup error: cannot reach Telegram at http://127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.stderr
    assert "abc-SECRET" not in result.stderr + result.stdout
