#!/usr/bin/env python3
"""Django's command-line utility, and the portal's own set-up.

On a fresh machine with only Python 3.11, `python3 manage.py up` (run the portal) and
`python3 manage.py runtests` (run every test) need nothing else: when this file runs outside
the project's virtualenv it creates `.venv`, installs the exact versions in `requirements.lock`
(every dependency pinned, with hashes), and runs itself again inside it. The install is redone
only when the lock file or pyproject.toml changes.

Refresh the lock after changing a range in pyproject.toml:  python3 manage.py lock
"""
import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
VENV_PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".portal-installed"
LOCK = ROOT / "requirements.lock"
# pip-compile's options for the lock: hashes, pip/setuptools pinned too, the dev extras included.
LOCK_COMMAND = ["-m", "piptools", "compile", "--quiet", "--generate-hashes", "--allow-unsafe", "--strip-extras",
                "--extra", "dev", "--no-emit-index-url", "--no-emit-find-links", "--output-file", str(LOCK),
                str(ROOT / "pyproject.toml")]


def _requirements_digest() -> str:
    return hashlib.sha256(LOCK.read_bytes() + (ROOT / "pyproject.toml").read_bytes()).hexdigest()


def _ensure_virtualenv() -> None:
    if not VENV_PYTHON.exists():
        print("Creating the virtualenv in .venv ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    digest = _requirements_digest()
    if STAMP.exists() and STAMP.read_text() == digest:
        return
    print("Installing the portal and its dependencies into .venv (first run only) ...", flush=True)
    pip = [str(VENV_PYTHON), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--require-hashes", "-r", str(LOCK)], check=True)
    # The project itself (its code, no dependencies: those came from the lock).
    subprocess.run([*pip, "install", "--no-deps", "-e", str(ROOT)], check=True)
    STAMP.write_text(digest)


def _lock() -> None:
    """`manage.py lock`: re-resolve pyproject.toml's ranges into requirements.lock (pip-tools)."""
    subprocess.run([str(VENV_PYTHON), *LOCK_COMMAND], check=True)
    print(f"Wrote {LOCK.name}; the next command reinstalls .venv from it.")


def _bootstrap() -> None:
    """Re-run inside .venv unless already there (or told not to)."""
    if os.environ.get("PORTAL_NO_BOOTSTRAP") == "1":
        return
    _ensure_virtualenv()
    if Path(sys.prefix).resolve() != VENV.resolve():
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), str(ROOT / "manage.py"), *sys.argv[1:]])


def main() -> None:
    _bootstrap()
    if sys.argv[1:2] == ["lock"]:
        return _lock()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
