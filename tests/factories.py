"""factory-boy factories. Tenant rows are created in the all-tenants scope (tests set up data
for several agencies at once); the code under test still runs scoped."""
from decimal import Decimal

import factory
from allauth.account.models import EmailAddress
from django.utils import timezone

from accounts.models import Agency, Client, ContractTerms, Membership, Role, User
from portal.tenancy import unscoped

TEST_PASSWORD = "correct-horse-battery-9"


class UnscopedFactory(factory.django.DjangoModelFactory):
    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        with unscoped():
            return super()._create(model_class, *args, **kwargs)


class AgencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agency

    name = factory.Sequence(lambda n: f"Agency {n}")
    slug = factory.Sequence(lambda n: f"agency-{n}")
    mfa_required_for_staff = False


class ClientFactory(UnscopedFactory):
    class Meta:
        model = Client
        skip_postgeneration_save = True

    agency = factory.SubFactory(AgencyFactory)
    name = factory.Sequence(lambda n: f"Client {n}")
    legal_name = factory.LazyAttribute(lambda o: f"{o.name} Inc.")
    status = Client.Status.ACTIVE
    onboarding_step = 4

    @factory.post_generation
    def terms(self, create, extracted, **kwargs):
        if create:
            with unscoped():
                ContractTerms.objects.create(agency=self.agency, client=self, flat_fee_percent=Decimal("25.00"))


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @factory.post_generation
    def verified_email(self, create, extracted, **kwargs):
        if create:
            self.save()
            EmailAddress.objects.create(user=self, email=self.email, verified=True, primary=True)


class MembershipFactory(UnscopedFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    agency = factory.SubFactory(AgencyFactory)
    role = Role.COLLECTOR
    client = None


# --- Debtors and debtor accounts ---------------------------------------------------------------

class DebtorFactory(UnscopedFactory):
    """A debtor of a client. Pass client=...; the agency follows it."""

    class Meta:
        model = "collections_work.Debtor"

    client = factory.SubFactory(ClientFactory)
    agency = factory.SelfAttribute("client.agency")
    kind = "person"
    name = factory.Sequence(lambda n: f"Debtor {n}")
    debtor_key = factory.Sequence(lambda n: f"debtor-key-{n}")
    time_zone = "America/New_York"


class ContactFactory(UnscopedFactory):
    class Meta:
        model = "collections_work.Contact"

    debtor = factory.SubFactory(DebtorFactory)
    agency = factory.SelfAttribute("debtor.agency")
    client = factory.SelfAttribute("debtor.client")
    kind = "phone"
    value = "+1 212 555 0100"


class DebtorAccountFactory(UnscopedFactory):
    """A placed debtor account, written directly (no placement batch, no re-score: tests that
    need the worklist score call the kernel's rescore). `balance` defaults to principal +
    interest + fees - paid; the debtor's name and time zone are copied as placing does.
    `contacts=["phone", "email"]` adds the debtor's phone and email."""

    class Meta:
        model = "collections_work.DebtorAccount"
        skip_postgeneration_save = True

    client = factory.SubFactory(ClientFactory)
    agency = factory.SelfAttribute("client.agency")
    debtor = factory.SubFactory(DebtorFactory, client=factory.SelfAttribute("..client"),
                                name=factory.LazyAttribute(lambda d: f"Debtor {d.factory_parent.client_reference}"),
                                debtor_key=factory.LazyAttribute(lambda d: f"key-{d.factory_parent.client_reference}"))
    debtor_name = factory.SelfAttribute("debtor.name")
    debtor_time_zone = factory.SelfAttribute("debtor.time_zone")
    client_reference = factory.Sequence(lambda n: f"ACC-{n}")
    debt_purpose = "consumer"
    status = "active"
    principal = Decimal("1000.00")
    interest = Decimal("0.00")
    fees = Decimal("0.00")
    paid = Decimal("0.00")
    paid_at_placement = factory.SelfAttribute("paid")
    balance = factory.LazyAttribute(lambda a: a.principal + a.interest + a.fees - a.paid)
    placed_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def contacts(self, create, kinds, **kwargs):
        values = {"phone": "+1 212 555 0100", "email": f"{self.client_reference.lower()}@debtor.test"}
        for kind in kinds or ():
            ContactFactory(debtor=self.debtor, kind=kind, value=values[kind],
                           time_zone=self.debtor.time_zone if kind == "phone" else "")
