"""The client admin's onboarding wizard: company, contacts, remittance (last 4 only), terms."""
from accounts.models import Client
from portal.models import AuditEvent

COMPANY = {"legal_name": "Client One Holdings LLC", "address_line1": "1 Main St", "address_line2": "",
           "city": "Austin", "region": "TX", "postal_code": "73301", "country": "us", "phone": "+1 512 555 0100"}
CONTACTS = {"billing_contact_name": "Bill Payer", "billing_contact_email": "billing@one.test",
            "operations_contact_name": "Opal Ops", "operations_contact_email": "ops@one.test"}
REMITTANCE = {"bank_name": "First Bank", "account_name": "Client One Holdings LLC",
              "routing_number": "021000021", "account_number": "000123456789"}


def onboarding_client(world, all_tenants):
    persona = world.alpha.clients[0]
    with all_tenants():
        Client.objects.filter(pk=persona.client.pk).update(status=Client.Status.ONBOARDING, onboarding_step=0,
                                                           legal_name="")
    return persona


def test_client_admin_completes_the_wizard_and_only_last_four_digits_are_kept(world, signed_in, all_tenants):
    persona = onboarding_client(world, all_tenants)
    browser = signed_in(persona.admin)
    assert browser.get("/").url == "/client/onboarding/"
    assert browser.get("/client/onboarding/").url == "/client/onboarding/company/"
    assert browser.post("/client/onboarding/company/", COMPANY).url == "/client/onboarding/contacts/"
    assert browser.post("/client/onboarding/contacts/", CONTACTS).url == "/client/onboarding/remittance/"
    assert browser.post("/client/onboarding/remittance/", REMITTANCE).url == "/client/onboarding/terms/"
    terms_page = browser.get("/client/onboarding/terms/").content.decode()
    assert "Settlement floor" in terms_page
    assert browser.post("/client/onboarding/terms/", {"accept": "on"}).url == "/client/"
    with all_tenants():
        client = Client.objects.get(pk=persona.client.pk)
        logged = AuditEvent.objects.filter(client=client, action__startswith="client.onboarding")
        logged_text = " ".join(str(e.after) for e in logged)
        logged_count = logged.count()
        stored = str(Client.objects.filter(pk=client.pk).values().get())
    assert client.status == Client.Status.ACTIVE and client.terms_accepted_by == persona.admin
    assert client.legal_name == "Client One Holdings LLC" and client.country == "US"
    assert client.remittance_account_last4 == "6789" and client.remittance_routing_last4 == "0021"
    assert "000123456789" not in stored and "021000021" not in stored
    assert "000123456789" not in logged_text and logged_count == 4
    staff_view = signed_in(world.alpha.admin).get(f"/agency/clients/{client.pk}/").content.decode()
    assert "····6789" in staff_view and "000123456789" not in staff_view


def test_wizard_errors_say_what_is_wrong_and_steps_cannot_be_skipped(world, signed_in, all_tenants):
    persona = onboarding_client(world, all_tenants)
    browser = signed_in(persona.admin)
    assert browser.get("/client/onboarding/terms/").status_code == 404  # not reached yet
    page = browser.post("/client/onboarding/company/", COMPANY | {"country": "U5", "city": ""}).content.decode()
    assert "two-letter country code" in page and "This field is required" in page
    browser.post("/client/onboarding/company/", COMPANY)
    browser.post("/client/onboarding/contacts/", CONTACTS)
    page = browser.post("/client/onboarding/remittance/", REMITTANCE | {"routing_number": "12-34"}).content.decode()
    assert "routing number must be 9" in page
    browser.post("/client/onboarding/remittance/", REMITTANCE)
    page = browser.post("/client/onboarding/terms/", {}).content.decode()
    assert "Tick the box to accept" in page
    with all_tenants():
        assert Client.objects.get(pk=persona.client.pk).status == Client.Status.ONBOARDING


def test_read_only_client_users_cannot_run_onboarding(world, signed_in, all_tenants):
    persona = onboarding_client(world, all_tenants)
    assert signed_in(persona.user).post("/client/onboarding/company/", COMPANY).status_code == 404
