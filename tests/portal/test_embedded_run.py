"""`manage.py up` on a machine with no servers: web, the interactive and bulk workers and beat
start, a task round-trips through the filesystem broker, beat's schedule fires, links in emails
follow the port it serves, and Ctrl-C stops every process."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from celery import Celery

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_json(url):
    with urllib.request.urlopen(url, timeout=3) as response:
        return json.loads(response.read())


def wait_until(check, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"Timed out after {timeout}s waiting for {what}")


class Output:
    """Collects a child's output in the background so its pipe never fills."""

    def __init__(self, stream):
        self.lines = []
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream):
        for line in iter(stream.readline, ""):
            self.lines.append(line)

    @property
    def text(self):
        return "".join(self.lines)


def embedded_env(var_dir):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(PORTAL_VAR_DIR=str(var_dir), STATIC_ROOT=str(var_dir / "static"), PORTAL_NO_BOOTSTRAP="1",
               BEAT_HEARTBEAT_SECONDS="1", PYTHONUNBUFFERED="1")
    return env


def filesystem_celery(var_dir) -> Celery:
    """A Celery client speaking to the same broker folder as the portal's workers (routing tasks
    as the portal does: interactive unless named bulk)."""
    from django.conf import settings

    app = Celery("probe", broker="filesystem://", backend=f"file://{var_dir / 'results'}", set_as_current=False)
    app.conf.task_default_queue = settings.CELERY_TASK_DEFAULT_QUEUE
    app.conf.task_routes = settings.CELERY_TASK_ROUTES
    queue = str(var_dir / "broker" / "queue")
    app.conf.broker_transport_options = {"data_folder_in": queue, "data_folder_out": queue,
                                         "data_folder_processed": str(var_dir / "broker" / "processed"),
                                         "control_folder": str(var_dir / "broker" / "control")}
    return app


class Browser:
    """Just enough of a browser for a form post: cookies and the CSRF token of the form's page."""

    def __init__(self, base):
        import http.cookiejar

        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def post(self, path, data, *, form_page):
        import urllib.parse

        with self.opener.open(self.base + form_page, timeout=10) as page:
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.read().decode()).group(1)
        body = urllib.parse.urlencode({**data, "csrfmiddlewaretoken": token}).encode()
        request = urllib.request.Request(self.base + path, data=body, headers={"Referer": self.base + form_page})
        with self.opener.open(request, timeout=30) as response:
            return response.read().decode()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.services
def test_up_starts_web_worker_and_beat_and_a_task_round_trips(tmp_path):
    var_dir = tmp_path / "var"
    port = free_port()
    process = subprocess.Popen([sys.executable, "manage.py", "up", "--port", str(port)], cwd=ROOT,
                               env=embedded_env(var_dir), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = Output(process.stdout)
    base = f"http://127.0.0.1:{port}"
    try:
        health = wait_until(lambda: get_json(f"{base}/healthz"), 120, "the web server")
        assert health["database"] == "sqlite"
        wait_until(lambda: "The portal is running" in output.text, 30, "the start banner")
        assert "admin@demo-recovery.test" in output.text and "demo-portal-2026" in output.text
        assert f"Links in emails point to http://127.0.0.1:{port}/ (SITE_URL)" in output.text
        with urllib.request.urlopen(f"{base}/accounts/login/", timeout=5) as page:
            assert b"Sign in" in page.read()
        with urllib.request.urlopen(f"{base}/static/vendor/pico/pico.min.css", timeout=5) as css:
            assert css.status == 200  # assets are vendored and served without a CDN
        debtor_link = re.search(rf"{base}/d/[\w-]+/", output.text)  # printed for this run, on this port
        assert debtor_link and "60611" in output.text, output.text[-2000:]
        with urllib.request.urlopen(debtor_link.group(0), timeout=10) as page:
            assert b"Confirm who you are" in page.read()
        # localstripe on loopback, for the demo's card payments (its stripe.js stand-in answers)
        stripe_base = re.search(r"a local stand-in for Stripe on (http://127\.0\.0\.1:\d+)", output.text)
        assert stripe_base and "4242 4242 4242 4242" in output.text, output.text[-2000:]
        with urllib.request.urlopen(f"{stripe_base.group(1)}/js.stripe.com/v3/", timeout=5) as stand_in:
            assert b"localstripe" in stand_in.read()

        probe = filesystem_celery(var_dir)
        result = probe.send_task("portal.tasks.echo", args=["round trip"])
        assert result.get(timeout=60) == "round trip"  # the interactive worker
        # The bulk worker takes the bulk queue (the re-score of every agency fans out and returns 0).
        assert probe.send_task("collections_work.tasks.worklist_rescore_all").get(timeout=60) == 0
        # An invitation sent from the running portal links to the port it serves, not 8000.
        browser = Browser(base)
        browser.post("/accounts/login/", {"login": "admin@demo-recovery.test", "password": "demo-portal-2026"},
                     form_page="/accounts/login/")
        browser.post("/agency/team/invite/", {"email": "new.collector@example.test", "role": "collector"},
                     form_page="/agency/team/")
        wait_until(lambda: "new.collector@example.test" in output.text and "/invitations/" in output.text, 60,
                   "the worker to print the invitation")
        links = re.findall(r"http://[\w.:\[\]-]+/invitations/", output.text)
        assert links and set(links) == {f"{base}/invitations/"}, links
        beats = wait_until(lambda: "beat" in get_json(f"{base}/healthz")["heartbeats"] and
                           get_json(f"{base}/healthz")["heartbeats"], 60, "beat's scheduled heartbeat")
        assert "worker" in beats
    finally:
        started = dict(re.findall(r"Started ([\w-]+) \(pid (\d+)\)", output.text))
        pids = [int(pid) for pid in started.values()]
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)  # `up` gives its children 15 s, then kills them
        except subprocess.TimeoutExpired:
            process.kill()
            raise AssertionError("`up` did not stop within 30 s of Ctrl-C; its output ended with:\n"
                                 + output.text[-3000:]) from None
    assert sorted(started) == ["beat", "localstripe", "web", "worker-bulk", "worker-interactive"], output.text[-3000:]
    wait_until(lambda: not any(pid_alive(pid) for pid in pids), 20, "the children to stop")


def test_links_in_emails_follow_the_port_up_serves_unless_site_url_is_set():
    from portal.management.commands.up import site_url_for

    assert site_url_for("127.0.0.1", 8123, environ={}) == "http://127.0.0.1:8123"
    assert site_url_for("0.0.0.0", 8123, environ={}) == "http://127.0.0.1:8123"  # reachable from this machine
    assert site_url_for("localhost", 9000, environ={"SITE_URL": ""}) == "http://localhost:9000"
    assert site_url_for("127.0.0.1", 8123, environ={"SITE_URL": "https://portal.example.com/"}) == \
        "https://portal.example.com"
