"""A local stand-in for Stripe (localstripe, a dev dependency) for `manage.py up` and the tests.

`python -m portal.stripe_server --port N` runs localstripe's own aiohttp app on 127.0.0.1 only
(localstripe's `localstripe` command listens on every interface) and keeps nothing on disk
(localstripe would pickle its whole store to one fixed file, /tmp/localstripe.pickle, after every
write, shared by every instance on the machine). Everything else is localstripe as published:
its API, its signed webhooks and its stand-in for stripe.js at /js.stripe.com/v3/.

`localstripe_start(port)` starts that as a child process and waits until it answers;
`localstripe_webhook(base, name, url, secret)` registers a webhook (localstripe sends every event
to every registered webhook, signed with that webhook's secret).
"""
import argparse
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


def localstripe_start(port: int, *, cwd=None, quiet=True, timeout=30) -> subprocess.Popen:
    """Start localstripe on 127.0.0.1:`port` in its own session; return the process once it answers."""
    output = subprocess.DEVNULL if quiet else None
    process = subprocess.Popen([sys.executable, "-m", "portal.stripe_server", "--port", str(port)], cwd=cwd,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=output, stderr=output,
                               start_new_session=True)
    base = f"http://{LOOPBACK}:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"localstripe stopped at start (exit code {process.returncode}); is it installed "
                               "(pip install localstripe, a dev dependency)?")
        try:
            with urllib.request.urlopen(f"{base}/js.stripe.com/v3/", timeout=2) as response:
                if response.status == 200:
                    return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"localstripe did not answer on {base} within {timeout}s")


def localstripe_webhook(base: str, name: str, url: str, secret: str) -> None:
    """POST /_config/webhooks/<name>: localstripe then sends every event to `url`, signed with `secret`."""
    data = urllib.parse.urlencode({"url": url, "secret": secret}).encode()
    with urllib.request.urlopen(urllib.request.Request(f"{base}/_config/webhooks/{name}", data=data), timeout=5):
        pass


def _serve(port: int) -> None:
    from aiohttp import web
    from localstripe import resources
    from localstripe.server import app

    resources.Store.dump_to_disk = lambda self: None  # keep the store in memory only
    web.run_app(app, host=LOOPBACK, port=port, access_log=None, print=None)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="localstripe on 127.0.0.1, nothing kept on disk")
    parser.add_argument("--port", type=int, default=8420)
    _serve(parser.parse_args().port)
