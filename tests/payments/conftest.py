"""Shared set-up for the plan, link and debtor-page tests: an account whose debtor the portal can
identify (postal code 62701 in the address, tax ID ending 6789, a phone and an email on file),
in Alpha's client 1, under a contact policy that allows email at any hour (commercial debt)."""
import re
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from collections_work.debtor_accounts import actions
from collections_work.models import ContactPolicy, DebtorAccount
from collections_work.worklist import claim
from payments.models import PlanOffer
from payments.offers.services import offer_create, offer_send
from portal.tenancy import tenant_scope
from tests.factories import ContactFactory, DebtorAccountFactory

NOON_NY = datetime(2026, 12, 2, 17, 0, tzinfo=dt_timezone.utc)
RIGHT_ANSWERS = {"postal_code": "62701", "tax_id_last4": "6789"}


def make_identifiable_account(persona_client, reference="PL-1", *, balance="1200.00", purpose="commercial",
                              time_zone="America/Chicago", **extra):
    account = DebtorAccountFactory(client=persona_client.client, client_reference=reference, status="active",
                                   debt_purpose=purpose, principal=Decimal(balance), debtor__time_zone=time_zone,
                                   debtor__tax_id_last4="6789", debtor__name=f"Dana {reference}",
                                   delinquency_date=timezone.localdate() - timedelta(days=60), **extra)
    for kind, value in (("address", "12 Elm St, Springfield, IL 62701, US"), ("phone", "+1 217 555 0142"),
                        ("email", f"{reference.lower()}@debtor.test")):
        ContactFactory(debtor=account.debtor, kind=kind, value=value)
    with tenant_scope(account.agency_id):  # into the worklist, as placing does
        actions.rescore(account)
        claim.worklist_accounts_placed(account.agency_id, DebtorAccount.objects.filter(pk=account.pk))
    return account


@pytest.fixture
def alpha(world):
    with tenant_scope(world.alpha.agency):
        ContactPolicy.objects.get_or_create(agency=world.alpha.agency, defaults={"earliest_hour": 0, "latest_hour": 24})
        yield world.alpha


@pytest.fixture
def account(alpha):
    return make_identifiable_account(alpha.clients[0])


def reload(account):
    return DebtorAccount.objects.get(pk=account.pk)


def link_in_mail(index=-1) -> str:
    """The secure link in an email the worker sent (the locmem outbox)."""
    return re.search(r"https?://\S+/d/[\w-]+/", mail.outbox[index].body).group(0)


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


@pytest.fixture
def sent_offer(alpha, account, django_capture_on_commit_callbacks):
    """An installment offer within the terms, emailed to the debtor: (offer, the link's path)."""
    with django_capture_on_commit_callbacks(execute=True):
        offer = offer_create(agency=alpha.agency, actor=alpha.collector, account=account, kind="installments",
                             total_amount="1200.00", installment_count=4, frequency="monthly",
                             first_due_date=timezone.localdate() + timedelta(days=10))
        offer, _url = offer_send(agency=alpha.agency, actor=alpha.collector, offer=offer, channel="email")
    assert offer.status == PlanOffer.Status.SENT
    return offer, path_of(link_in_mail())


@pytest.fixture
def stripe_alpha(alpha, localstripe):
    """Alpha connected to (local) Stripe with the test keys; localstripe's webhook signs with its secret."""
    from payments.models import StripeAccount
    from tests.stripe_local import PUBLISHABLE_KEY, SECRET_KEY, WEBHOOK_SECRET

    connected = StripeAccount(agency=alpha.agency, publishable_key=PUBLISHABLE_KEY)
    connected.set_secret_key(SECRET_KEY)
    connected.set_webhook_secret(WEBHOOK_SECRET)
    connected.save()
    return connected


@pytest.fixture
def on_plan(alpha, sent_offer, client, django_capture_on_commit_callbacks):
    """The debtor signed the 4 x 300.00 monthly plan of `sent_offer` and is still verified on its
    link: (account, the link's path "/d/<token>/")."""
    offer, path = sent_offer
    client.post(path, RIGHT_ANSWERS)
    with django_capture_on_commit_callbacks(execute=True):
        signed = client.post(path + f"offers/{offer.pk}/", {"consent": "on", "typed_name": "Dana Debtor"})
    assert signed.status_code == 302
    mail.outbox.clear()
    return reload(offer.account), path
