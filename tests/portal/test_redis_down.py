"""Redis down (issue 11, case 5): a real Django Redis cache client pointed at a closed port.

Before: sign-in answered 500 (its rate limit lived in the cache), every API call an HTML 500, and
/healthz said ok. Now /healthz reports each dependency and answers 503 when one a request needs
is down; password sign-in keeps working (the lockout is counted in the database) and still locks;
the two-factor step, whose code-attempt limit lives in the cache, fails closed with a 503 page that
says why; the API answers JSON always.
"""
import json

import pytest
from django.test import override_settings
from django.urls import reverse

from portal.celery import app as celery_app
from portal.dependencies_settings import redis_cache
from tests.collections_work.api.test_api import ACCOUNTS, account, key_header
from tests.factories import TEST_PASSWORD
from tests.totp import fresh_totp, secret_from_activation_page

CLOSED_PORT = "redis://127.0.0.1:1/0"  # nothing listens on port 1: connections are refused


@pytest.fixture
def redis_down():
    with override_settings(CACHES={"default": redis_cache(CLOSED_PORT)}):
        yield


@pytest.fixture
def broker_down(monkeypatch):
    monkeypatch.setattr(celery_app.conf, "broker_url", CLOSED_PORT)


def test_healthz_is_ok_with_every_dependency_up(db, client):
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200 and body["status"] == "ok"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True, "cache": True, "broker": True}


def test_healthz_says_the_cache_is_down_and_answers_503(db, client, redis_down):
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 503 and body["status"] == "down"
    assert body["checks"]["cache"]["ok"] is False and "Connection" in body["checks"]["cache"]["error"]
    assert body["checks"]["database"]["ok"] is True


def test_healthz_reports_the_broker_down_without_failing(db, client, broker_down):
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200 and body["status"] == "degraded"
    assert body["checks"]["broker"]["ok"] is False and body["checks"]["cache"]["ok"] is True


def test_password_sign_in_works_and_still_locks_out_with_redis_down(world, client, redis_down):
    user = world.alpha.clients[0].admin
    signed = client.post(reverse("account_login"), {"login": user.email, "password": TEST_PASSWORD})
    assert signed.status_code == 302 and client.session.get("_auth_user_id")
    client.logout()
    for _ in range(5):
        wrong = client.post(reverse("account_login"), {"login": user.email, "password": "wrong-password"})
        assert wrong.status_code == 200
    locked = client.post(reverse("account_login"), {"login": user.email, "password": TEST_PASSWORD})
    assert locked.status_code == 200 and "Too many failed login attempts" in locked.content.decode()
    assert not client.session.get("_auth_user_id")


def test_the_two_factor_step_fails_closed_with_a_clear_503_when_redis_is_down(world, client):
    user = world.alpha.admin
    client.force_login(user)
    secret = secret_from_activation_page(client.get("/accounts/2fa/totp/activate/").content.decode())
    assert client.post("/accounts/2fa/totp/activate/", {"code": fresh_totp(secret)}).status_code == 302
    client.logout()
    with override_settings(CACHES={"default": redis_cache(CLOSED_PORT)}):
        step = client.post(reverse("account_login"), {"login": user.email, "password": TEST_PASSWORD})
        assert step.status_code == 302 and step.url.startswith(reverse("mfa_authenticate"))
        code = client.post(reverse("mfa_authenticate"), {"code": fresh_totp(secret)})
        assert code.status_code == 503 and code["Retry-After"]
        assert "not responding" in code.content.decode()
        assert not client.session.get("_auth_user_id")  # fail closed: no code checked, nobody in
    # Once Redis is back, the same step works.
    done = client.post(reverse("mfa_authenticate"), {"code": fresh_totp(secret)})
    assert done.status_code == 302 and client.session.get("_auth_user_id")


def test_the_api_answers_json_with_redis_down(world, client, redis_down):
    headers = key_header(world.alpha.clients[0])
    response = client.post(ACCOUNTS, data=json.dumps(account()), content_type="application/json", **headers)
    assert response.status_code == 503 and response["Content-Type"] == "application/json"
    assert "not responding" in response.json()["detail"]


def test_the_api_answers_json_for_unknown_urls_and_server_errors(world, client, monkeypatch):
    missing = client.get("/api/v1/no-such-thing/")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not found."}

    from collections_work.api import views as work_api

    def broken(self, request, *args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(work_api.AccountListView, "get", broken)
    client.raise_request_exception = False
    crashed = client.get(ACCOUNTS, **key_header(world.alpha.clients[0]))
    assert crashed.status_code == 500 and crashed["Content-Type"] == "application/json"
    assert "Server error" in crashed.json()["detail"]
    page = client.get("/no-such-page/")  # outside /api/ the HTML pages stay
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")
