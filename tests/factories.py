"""factory-boy factories. Tenant rows are created in the all-tenants scope (tests set up data
for several agencies at once); the code under test still runs scoped."""
from decimal import Decimal

import factory
from allauth.account.models import EmailAddress

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
