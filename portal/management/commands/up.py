"""`manage.py up`: the whole portal in one command.

Migrates, loads the demo data, then runs the web server, two Celery workers (one for the
interactive queue, one for the bulk queue, so a long re-score never delays a placement check or
an email) and Celery beat as child processes until Ctrl-C (or until one of them dies, which
stops the others). With no DATABASE_URL / REDIS_URL it needs no server: SQLite and kombu's
filesystem broker in var/. Links in emails point at the address it serves (SITE_URL), unless
SITE_URL is set.

Unless STRIPE_API_BASE is set (or --no-localstripe), it also starts localstripe on loopback (a
local stand-in for Stripe, from the dev dependencies) and points the children at it
(STRIPE_API_BASE, STRIPE_JS_URL), so the demo debtor can pay by card with 4242 4242 4242 4242;
the demo agency's webhook is registered with it once the web server answers.
"""
import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


# The worker processes: one per queue (portal/settings.py CELERY_TASK_ROUTES), each with the
# solo pool: one task at a time, and the interactive one never waits behind a bulk job.
WORKERS = {
    "worker-interactive": ["-Q", settings.INTERACTIVE_QUEUE, "-n", "interactive@%h"],
    "worker-bulk": ["-Q", settings.BULK_QUEUE, "-n", "bulk@%h"],
}


def _stop_on_sigterm(signum, frame):
    raise KeyboardInterrupt


def site_url_for(host: str, port: int, environ=os.environ) -> str:
    """SITE_URL as set, else the address `up` serves (a wildcard host is reached as 127.0.0.1)."""
    if environ.get("SITE_URL"):
        return environ["SITE_URL"].rstrip("/")
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


# Beat reads its schedule from the database (django-celery-beat; Django admin, "Periodic tasks").
BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"


def beat_command(python: str) -> list[str]:
    return [python, "-m", "celery", "-A", "portal", "beat", "--loglevel=INFO", "-S", BEAT_SCHEDULER]


def worker_command(python: str, name: str) -> list[str]:
    return [python, "-m", "celery", "-A", "portal", "worker", "--pool=solo", "--loglevel=INFO", *WORKERS[name]]


class Command(BaseCommand):
    help = "Run the portal: web, the interactive and bulk workers, and beat, with demo data."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-demo", action="store_true", help="Do not create the demo agency and users.")
        parser.add_argument("--no-localstripe", action="store_true",
                            help="Do not start localstripe (a local stand-in for Stripe) for card payments.")

    def handle(self, *args, **options):
        site_url = site_url_for(options["host"], options["port"])
        os.environ["SITE_URL"] = site_url  # the children read it from their environment
        settings.SITE_URL = site_url  # and this process, for anything the demo data sends
        self._prepare_folders()
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("Database ready (%s)." % settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1])
        logins, debtor = io.StringIO(), None
        if not options["no_demo"]:
            call_command("seed_demo", stdout=logins)
            call_command("seed_demo_work", stdout=io.StringIO())  # accounts, queues, a template
            debtor = io.StringIO()
            call_command("seed_demo_payments", stdout=debtor)  # offers, a signed plan, a debtor's link
        address = f"{options['host']}:{options['port']}"
        signal.signal(signal.SIGTERM, _stop_on_sigterm)  # `kill` and `timeout` stop the children too
        # Ctrl-C stops everything even when started from a shell that ignores SIGINT for background
        # jobs (Python then installs no handler of its own).
        signal.signal(signal.SIGINT, signal.default_int_handler)
        children, stripe_base = {}, None
        try:
            if not options["no_localstripe"] and "STRIPE_API_BASE" not in os.environ:
                stripe_base = self._start_localstripe(children)
            children.update(self._start_children(address, stripe_base))
            self._wait_for_web(address, children)
            self.stdout.write(self.style.SUCCESS(f"\nThe portal is running on http://{address}/  (Ctrl-C stops it)"))
            self.stdout.write(f"Links in emails point to {site_url}/ (SITE_URL).")
            self.stdout.write(logins.getvalue())
            if debtor is not None:
                demo = json.loads(debtor.getvalue())
                self._print_debtor_link(address, demo)
                if stripe_base:
                    self._register_demo_webhook(address, stripe_base, demo)
            self.stdout.write("Emails (invitations, password resets) are printed below by the worker.\n")
            self._supervise(children)
        except KeyboardInterrupt:
            self.stdout.write("\nStopping ...")
        finally:
            self._stop(children)

    def _print_debtor_link(self, address, demo):
        answers = ", ".join(f"{question}: {answer}" for question, answer in demo["answers"].items())
        self.stdout.write(f"A debtor's secure link (account {demo['account']}, {demo['debtor']}), made for this run:\n"
                          f"  http://{address}{demo['path']}\n  Identity check answers: {answers}\n")
        if demo.get("plan"):
            plan = demo["plan"]
            self.stdout.write(f"A debtor with a signed plan (account {plan['account']}, {plan['debtor']}), same answers;\n"
                              f"  \"Pay by card\" takes the test card 4242 4242 4242 4242 (any future date, any CVC):\n"
                              f"  http://{address}{plan['path']}\n")

    def _start_localstripe(self, children):
        """localstripe on 127.0.0.1:8420 (or a free port); None when it is not installed."""
        from portal.stripe_server import free_port, localstripe_start, port_free

        try:
            import localstripe  # noqa: F401 (a dev dependency)
        except ImportError:
            self.stdout.write(self.style.WARNING("localstripe is not installed: card payments need STRIPE_API_BASE "
                                                 "and an agency's real Stripe keys."))
            return None
        port = 8420 if port_free(8420) else free_port()
        process = localstripe_start(port, cwd=settings.BASE_DIR)
        children["localstripe"] = process
        base = f"http://127.0.0.1:{port}"
        self.stdout.write(f"Started localstripe (pid {process.pid}): a local stand-in for Stripe on {base}")
        return base

    def _register_demo_webhook(self, address, stripe_base, demo):
        from portal.stripe_server import localstripe_webhook

        localstripe_webhook(stripe_base, "portal", f"http://{address}{demo['stripe']['webhook_path']}",
                            demo["stripe"]["webhook_secret"])

    def _prepare_folders(self):
        for folder in [settings.VAR_DIR, settings.MEDIA_ROOT, settings.STATIC_ROOT, settings.VAR_DIR / "results", settings.VAR_DIR / "cache"]:
            folder.mkdir(parents=True, exist_ok=True)
        for option in ("data_folder_in", "data_folder_out", "data_folder_processed", "control_folder"):
            folder = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}).get(option)
            if folder:
                os.makedirs(folder, exist_ok=True)

    def _start_children(self, address, stripe_base=None):
        python = sys.executable
        manage = str(settings.BASE_DIR / "manage.py")
        commands = {
            "web": [python, manage, "runserver", address, "--noreload"],
            **{name: worker_command(python, name) for name in WORKERS},
            "beat": beat_command(python),
        }
        env = {**os.environ, "PORTAL_NO_BOOTSTRAP": "1", "PYTHONUNBUFFERED": "1"}
        if stripe_base:
            env.update(STRIPE_API_BASE=stripe_base, STRIPE_JS_URL=f"{stripe_base}/js.stripe.com/v3/")
        children = {}
        for name, command in commands.items():
            children[name] = subprocess.Popen(command, cwd=settings.BASE_DIR, env=env, start_new_session=True)
            self.stdout.write(f"Started {name} (pid {children[name].pid})")
        return children

    def _wait_for_web(self, address, children, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive(children)
            try:
                with urllib.request.urlopen(f"http://{address}/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise SystemExit(f"The web server did not answer on {address} within {timeout}s.")

    def _supervise(self, children):
        while True:
            self._check_alive(children)
            time.sleep(1)

    def _check_alive(self, children):
        for name, process in children.items():
            if process.poll() is not None:
                raise SystemExit(f"The {name} process stopped (exit code {process.returncode}); stopping the rest.")

    def _stop(self, children):
        for process in children.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in children.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
