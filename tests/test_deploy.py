"""Deployment as files: gunicorn.conf.py serves the app with production settings, the
systemd units and the Procfile run commands the app has, and a PostgreSQL backup made by
scripts/backup.sh comes back with scripts/restore.sh.

Everything runs as a deployment runs it: subprocesses from the project folder, with only
the documented settings in their environment. Every process started here is waited for
with a deadline and killed if it outlives it."""

from __future__ import annotations

import contextlib
import json
import os
import re
import runpy
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, make_url, select, text

from membership.accounts.models import User
from membership.extensions import db
from tests.builders import make_user

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
UNITS = ROOT / "deploy" / "systemd"
INSTALL_ROOT = "/srv/membership"  # where the units expect the checkout


def production_env(database_url: str, **extra: str) -> dict[str, str]:
    """Production settings and nothing else (no server name, no test configuration)."""
    return {
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "LANG": "C.UTF-8",
        "MEMBERSHIP_ENV": "production",
        "SECRET_KEY": "deploy-test-secret-key",
        "STRIPE_SECRET_KEY": "sk_test_deploy",
        "STRIPE_PUBLISHABLE_KEY": "pk_test_deploy",
        "STRIPE_WEBHOOK_SECRET": "whsec_test_deploy",
        "SITE_URL": "https://members.example.test",
        "DATABASE_URL": database_url,
        "RATELIMIT_ENABLED": "false",
        **extra,
    }


def ended_pid() -> int:
    """The pid of a process that has come and gone."""
    process = subprocess.Popen(["true"])
    process.wait(timeout=10)
    return process.pid


def stop(process: subprocess.Popen) -> None:
    """Kill whatever is left of `process` and its session (gunicorn's workers too)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def listening_address(process: subprocess.Popen, log: Path, timeout: float = 60) -> str:
    """The address gunicorn says it listens at (it was told port 0: no race for a port)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = re.search(r"Listening at: (http://\S+)", log.read_text(errors="replace"))
        if match:
            return match.group(1)
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited with {process.returncode}:\n{log.read_text()}")
        time.sleep(0.1)
    pytest.fail(f"gunicorn did not start listening within {timeout} s:\n{log.read_text()}")


def get_when_up(url: str, timeout: float = 60) -> tuple[int, bytes]:
    """GET `url`, retrying while the workers boot."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


# --- gunicorn.conf.py ----------------------------------------------------------------------

def test_gunicorn_serves_healthz_with_production_settings_and_stops_cleanly(
        database_url, tmp_path):
    metrics = tmp_path / "prometheus"
    metrics.mkdir()
    ended = metrics / f"counter_{ended_pid()}.db"
    ended.write_bytes(b"left by an earlier run")
    running = metrics / f"counter_{os.getpid()}.db"  # as the mail worker's would be
    running.write_bytes(b"")
    (metrics / "notes.txt").write_text("not prometheus-client's")
    log = tmp_path / "gunicorn.log"
    env = production_env(database_url, BIND="127.0.0.1:0", WEB_CONCURRENCY="2",
                         PROMETHEUS_MULTIPROC_DIR=str(metrics))
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True)
    try:
        base = listening_address(process, log)
        status, body = get_when_up(f"{base}/healthz")
        assert status == 200, body
        assert json.loads(body)["status"] == "ok"
        # on_starting cleared out the files of ended processes, and nothing else.
        assert not ended.exists()
        assert running.exists() and (metrics / "notes.txt").exists()

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=40) == 0, log.read_text()
        assert "Shutting down: Master" in log.read_text()
    finally:
        stop(process)


def gunicorn_settings(monkeypatch, **environ: str) -> dict:
    for name in ("BIND", "PORT", "WEB_CONCURRENCY", "TRUSTED_PROXIES", "FORWARDED_ALLOW_IPS",
                 "GUNICORN_ACCESS_LOG", "GUNICORN_MAX_REQUESTS", "GUNICORN_MAX_REQUESTS_JITTER",
                 "GUNICORN_CONTROL_SOCKET", "PROMETHEUS_MULTIPROC_DIR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def test_gunicorn_defaults_suit_a_machine_behind_a_local_proxy(monkeypatch):
    settings = gunicorn_settings(monkeypatch)
    assert settings["bind"] == ["127.0.0.1:8000"]
    assert settings["worker_class"] == "sync"
    assert 1 <= settings["workers"] <= 8
    assert settings["accesslog"] is None  # the app logs each request itself
    assert settings["max_requests"] > 0 and settings["max_requests_jitter"] > 0
    assert settings["forwarded_allow_ips"] == ""  # no proxy: nobody's X-Forwarded-Proto
    assert settings["control_socket_disable"] is True

    settings = gunicorn_settings(monkeypatch, PORT="9000", WEB_CONCURRENCY="3",
                                 TRUSTED_PROXIES="1")
    assert settings["bind"] == ["127.0.0.1:9000"]
    assert settings["workers"] == 3
    assert settings["forwarded_allow_ips"] == "127.0.0.1,::1"


def test_gunicorn_hooks_manage_the_prometheus_directory(monkeypatch, tmp_path):
    metrics = tmp_path / "run" / "prometheus"
    hooks = gunicorn_settings(monkeypatch, PROMETHEUS_MULTIPROC_DIR=str(metrics))

    hooks["on_starting"](SimpleNamespace())
    assert metrics.is_dir()
    worker = ended_pid()
    (metrics / f"gauge_livesum_{worker}.db").write_bytes(b"")
    (metrics / f"counter_{worker}.db").write_bytes(b"")
    hooks["child_exit"](SimpleNamespace(), SimpleNamespace(pid=worker))
    # An exited worker's live gauges go; its counters stay until the next start, so that
    # totals do not go backwards.
    assert not (metrics / f"gauge_livesum_{worker}.db").exists()
    assert (metrics / f"counter_{worker}.db").exists()

    (metrics / f"histogram_{os.getpid()}.db").write_bytes(b"")
    hooks["on_starting"](SimpleNamespace())
    assert [path.name for path in metrics.iterdir()] == [f"histogram_{os.getpid()}.db"]


# --- systemd units and Procfile --------------------------------------------------------

def read_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A unit file's sections, each key with all its values (systemd allows repeats).
    Anything but a section header, `Key=value`, a comment or a blank line fails."""
    sections: dict[str, dict[str, list[str]]] = {}
    section = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if header := re.fullmatch(r"\[([A-Za-z]+)\]", line):
            section = sections.setdefault(header.group(1), {})
            continue
        entry = re.fullmatch(r"([A-Za-z][A-Za-z0-9]*)=(.*)", line)
        assert entry and section is not None, f"{path.name}:{number}: {line}"
        section.setdefault(entry.group(1), []).append(entry.group(2))
    return sections


def setting(unit: dict, section: str, key: str) -> str:
    """The one value of `key` (a missing key fails the test)."""
    values = unit[section][key]
    assert len(values) == 1, f"[{section}] {key}: {values}"
    return values[0]


def app_command(command_line: str) -> list[str]:
    """The executable's name and arguments of a unit's ExecStart or a Procfile line."""
    words = shlex.split(command_line)
    executable = words[0]
    if executable.startswith("/"):
        assert executable.startswith(f"{INSTALL_ROOT}/.venv/bin/"), command_line
        executable = Path(executable).name
    return [executable, *words[1:]]


def deployed_commands() -> dict[str, list[str]]:
    commands = {}
    for path in sorted(UNITS.glob("*.service")):
        commands[path.name] = app_command(setting(read_unit(path), "Service", "ExecStart"))
    for line in (ROOT / "Procfile").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_-]+):\s*(.+)$", line)
        if match:
            commands[f"Procfile {match.group(1)}"] = app_command(match.group(2))
    return commands


def test_systemd_units_are_complete_and_hardened():
    units = {path.name: read_unit(path) for path in UNITS.iterdir()}
    assert {"membership-web.service", "membership-mail.service", "membership-digest.service",
            "membership-digest.timer", "membership-stripe-refresh.service",
            "membership-stripe-refresh.timer", "membership-reports-refresh.service",
            "membership-reports-refresh.timer", "membership-card-reminders.service",
            "membership-card-reminders.timer", "membership-statements.service",
            "membership-statements.timer"} <= set(units)
    for name, unit in units.items():
        assert "Unit" in unit, name
        if name.endswith(".timer"):
            if "OnCalendar" in unit["Timer"]:  # a time of day: a missed run comes at boot
                assert setting(unit, "Timer", "Persistent") == "true", name
            else:  # every few minutes, from boot on
                assert setting(unit, "Timer", "OnBootSec"), name
                assert setting(unit, "Timer", "OnUnitInactiveSec"), name
            assert setting(unit, "Timer", "Unit") in units
            continue
        assert setting(unit, "Service", "ExecStart")
        assert setting(unit, "Service", "User") == "membership"
        assert setting(unit, "Service", "WorkingDirectory") == INSTALL_ROOT
        assert setting(unit, "Service", "EnvironmentFile") == "/etc/membership/membership.env"
        assert setting(unit, "Service", "NoNewPrivileges") == "yes"
        assert setting(unit, "Service", "ProtectSystem") == "strict"
    assert setting(units["membership-mail.service"], "Service", "Restart") == "always"
    for name in ("membership-digest.service", "membership-stripe-refresh.service",
                 "membership-reports-refresh.service", "membership-card-reminders.service",
                 "membership-statements.service"):
        assert setting(units[name], "Service", "Type") == "oneshot", name

    # The processes that count metrics share one directory, which each unit creates (so
    # any may start first) and none removes when it stops (the others still write there).
    for name in ("membership-web.service", "membership-mail.service",
                 "membership-digest.service", "membership-stripe-refresh.service",
                 "membership-reports-refresh.service"):
        service = units[name]["Service"]
        environment = dict(value.split("=", 1) for value in service["Environment"])
        directory = environment["PROMETHEUS_MULTIPROC_DIR"]
        assert directory.startswith("/run/"), name
        assert directory.removeprefix("/run/") in setting(
            units[name], "Service", "RuntimeDirectory").split(), name
        assert setting(units[name], "Service", "RuntimeDirectoryPreserve") == "yes", name


def test_every_deployed_command_is_a_command_of_the_app(database_url):
    flask_commands: dict[tuple[str, ...], list[str]] = {}  # arguments -> where they are run
    for where, words in deployed_commands().items():
        assert words[0] in ("flask", "gunicorn"), f"{where}: {words}"
        if words[0] == "flask":
            assert words[1:3] == ["--app", "wsgi"], f"{where}: {words}"
            flask_commands.setdefault(tuple(words[3:]), []).append(where)
        else:
            assert words[1:3] == ["-c", "gunicorn.conf.py"], f"{where}: {words}"
            assert words[-1] == "wsgi:app", f"{where}: {words}"
    assert {"db upgrade", "mail deliver --watch 10", "newsletter send-digest",
            "stripe refresh", "reports refresh"} <= {
        " ".join(args) for args in flask_commands}

    env = production_env(database_url)
    # The app loads with production settings, and gunicorn accepts its configuration.
    checked = subprocess.run(
        [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--check-config", "wsgi:app"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr
    # `--help` after the arguments: click refuses an unknown command or option first.
    for args, where in sorted(flask_commands.items()):
        result = subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args, "--help"],
                                cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"{where}: flask {' '.join(args)}\n{result.stderr}"
        assert f"Usage: flask {' '.join(args[:2])}" in result.stdout, result.stdout


def test_systemd_analyze_verifies_the_units(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed on this machine")
    # As installed: the same units, with the checkout where this one is.
    for path in UNITS.iterdir():
        installed = (path.read_text()
                     .replace(f"{INSTALL_ROOT}/.venv/bin/", f"{BIN}/")
                     .replace(INSTALL_ROOT, str(ROOT)))
        (tmp_path / path.name).write_text(installed)
    result = subprocess.run([analyze, "verify", *sorted(map(str, tmp_path.iterdir()))],
                            capture_output=True, text=True, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # Unknown keys and bad values are only warnings; none may concern these units.
    assert not [line for line in output.splitlines() if "membership-" in line], output


# --- backup and restore --------------------------------------------------------------------

def test_backup_restores_into_a_fresh_database(app, database_url, tmp_path):
    if not database_url.startswith("postgresql"):
        pytest.skip("backup.sh and restore.sh use pg_dump and pg_restore: PostgreSQL only "
                    "(TEST_DATABASE_URL=postgresql+psycopg://...)")
    missing = [tool for tool in ("pg_dump", "pg_restore", "psql") if not shutil.which(tool)]
    if missing:
        pytest.skip(f"PostgreSQL client tools missing: {', '.join(missing)}")

    make_user("kept@example.org", "a sturdy passphrase", name="Kept Safe")
    source_revision = db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    db.session.rollback()

    backups = tmp_path / "backups"
    backups.mkdir()
    expired = backups / "membership-20200101T000000Z.dump"
    expired.write_bytes(b"an old backup")
    ten_days_ago = time.time() - 10 * 24 * 3600
    os.utime(expired, (ten_days_ago, ten_days_ago))
    unrelated = backups / "notes.txt"
    unrelated.write_text("not a backup")
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHON": sys.executable}

    backup = subprocess.run([str(ROOT / "scripts" / "backup.sh"), str(backups), "7"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert backup.returncode == 0, backup.stderr
    dump = Path(backup.stdout.strip())
    assert dump.parent == backups
    assert re.fullmatch(r"membership-\d{8}T\d{6}Z\.dump", dump.name)
    assert stat.S_IMODE(dump.stat().st_mode) == 0o600  # readers' personal data
    assert not expired.exists() and unrelated.exists()
    assert not list(backups.glob("*.partial"))

    source = make_url(database_url)
    target_name = f"{source.database}_restore"
    target_url = source.set(database=target_name).render_as_string(hide_password=False)
    server = create_engine(source.set(database="postgres"), isolation_level="AUTOCOMMIT")
    quoted = server.dialect.identifier_preparer.quote(target_name)
    restored = None
    try:
        with server.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
            connection.execute(text(f"CREATE DATABASE {quoted}"))

        restore = subprocess.run([str(ROOT / "scripts" / "restore.sh"), str(dump), target_url],
                                 cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert restore.returncode == 0, restore.stderr
        assert "migrations' head" in restore.stdout

        restored = create_engine(target_url)
        with restored.connect() as connection:
            names = connection.execute(
                select(User.name).where(User.email == "kept@example.org")).scalars().all()
            revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        assert names == ["Kept Safe"]
        assert revision == source_revision
    finally:
        if restored is not None:
            restored.dispose()
        with server.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
        server.dispose()


def test_backup_and_restore_explain_their_usage():
    for script in ("backup.sh", "restore.sh"):
        result = subprocess.run([str(ROOT / "scripts" / script)], cwd=ROOT,
                                capture_output=True, text=True, timeout=30)
        assert result.returncode == 2
        assert result.stderr.startswith("usage:"), result.stderr
    result = subprocess.run([str(ROOT / "scripts" / "backup.sh"), "/nonexistent"], cwd=ROOT,
                            env={"PATH": os.environ["PATH"],
                                 "DATABASE_URL": "sqlite:///instance/membership.sqlite3"},
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "not a PostgreSQL URL" in result.stderr
