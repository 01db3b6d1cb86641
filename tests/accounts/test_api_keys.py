"""Per-client API keys: shown once, stored hashed, revocable; they open the client's API scope."""
from accounts.models import ApiKey
from portal.models import AuditEvent


def create_key(browser, name="Billing system"):
    page = browser.post("/client/api-keys/", {"name": name}).content.decode()
    start = page.index('id="new-api-key">') + len('id="new-api-key">')
    return page[start:page.index("</div>", start)].strip()


def test_client_admin_creates_a_key_shown_once_and_the_api_answers_for_that_client(world, signed_in, client, all_tenants):
    persona = world.alpha.clients[0]
    browser = signed_in(persona.admin)
    raw_key = create_key(browser)
    with all_tenants():
        key = ApiKey.objects.get(name="Billing system")
    assert raw_key.startswith(key.prefix) and raw_key not in key.key_hash
    assert raw_key not in browser.get("/client/api-keys/").content.decode()  # never shown again
    browser.logout()
    response = client.get("/api/v1/client/", HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    assert response.status_code == 200
    assert response.json()["name"] == persona.client.name and response.json()["agency"] == "Alpha Recovery"
    assert response.json()["terms"]["flat_fee_percent"] == "25.00"


def test_revoked_and_wrong_keys_are_refused(world, signed_in, client, all_tenants):
    browser = signed_in(world.alpha.clients[0].admin)
    raw_key = create_key(browser)
    with all_tenants():
        key = ApiKey.objects.get(name="Billing system")
    assert browser.post(f"/client/api-keys/{key.pk}/revoke/").status_code == 302
    browser.logout()
    for header in (f"Api-Key {raw_key}", f"Api-Key {raw_key[:-2]}xx", "Api-Key nonsense", "Bearer x"):
        response = client.get("/api/v1/client/", HTTP_AUTHORIZATION=header)
        assert response.status_code in (401, 403), header
    with all_tenants():
        actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"api_key.created", "api_key.revoked"} <= actions


def test_keys_need_a_name(world, signed_in):
    page = signed_in(world.alpha.clients[0].admin).post("/client/api-keys/", {"name": "  "}, follow=True)
    assert "give the key a name" in page.content.decode()


def test_the_openapi_schema_is_served(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200 and b"/api/v1/client/" in response.content


def test_each_key_is_rate_limited(world, signed_in, client, monkeypatch):
    from accounts.api import ApiKeyRateThrottle

    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "2/min"})
    raw_key = create_key(signed_in(world.alpha.clients[0].admin))
    client.logout()
    statuses = [client.get("/api/v1/client/", HTTP_AUTHORIZATION=f"Api-Key {raw_key}").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
