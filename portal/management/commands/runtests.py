"""`manage.py runtests`: the whole test suite, set up first.

Installs Debian's chromium for the browser tests when it is missing and we may (root with
apt-get), then runs pytest. Extra arguments go to pytest. With DATABASE_URL / REDIS_URL set
the suite runs against PostgreSQL and Redis; without, against SQLite.
"""
import os
import shutil
import subprocess
import sys

from django.conf import settings
from django.core.management.base import BaseCommand

CHROMIUM = "/usr/bin/chromium"


class Command(BaseCommand):
    help = "Run every test (pytest); extra arguments are passed to pytest."

    def add_arguments(self, parser):
        parser.add_argument("pytest_args", nargs="*")

    def handle(self, *args, **options):
        self._ensure_chromium()
        env = {**os.environ, "PORTAL_NO_BOOTSTRAP": "1"}
        env.pop("DJANGO_SETTINGS_MODULE", None)  # pytest picks the test settings
        command = [sys.executable, "-m", "pytest", *options["pytest_args"]]
        self.stdout.write("Running: " + " ".join(command))
        raise SystemExit(subprocess.call(command, cwd=settings.BASE_DIR, env=env))

    def _ensure_chromium(self):
        if os.path.exists(CHROMIUM):
            return
        if os.geteuid() == 0 and shutil.which("apt-get"):
            self.stdout.write("Installing Debian's chromium for the browser tests ...")
            quiet = {"stdout": subprocess.DEVNULL}
            subprocess.call(["apt-get", "update", "-qq"], **quiet)
            subprocess.call(["apt-get", "install", "-y", "-qq", "chromium"], env={**os.environ,
                            "DEBIAN_FRONTEND": "noninteractive"}, **quiet)
        if not os.path.exists(CHROMIUM):
            self.stdout.write(self.style.WARNING(
                f"{CHROMIUM} is missing: browser tests will be skipped (install the 'chromium' package)."))
