"""Personas: two agencies, each with two clients, and a user in every role.

    world.alpha.admin / .manager / .collector            agency staff of Alpha Recovery
    world.alpha.clients[0].admin / .user                  client admin / read-only user
    world.bravo ...                                       the same for Bravo Collections
"""
from dataclasses import dataclass, field

from accounts.models import Role
from tests.factories import AgencyFactory, ClientFactory, MembershipFactory, UserFactory


@dataclass
class ClientPersonas:
    client: object
    admin: object
    user: object


@dataclass
class AgencyPersonas:
    agency: object
    admin: object
    manager: object
    collector: object
    clients: list = field(default_factory=list)

    def everyone(self):
        people = [self.admin, self.manager, self.collector]
        for c in self.clients:
            people += [c.admin, c.user]
        return people


@dataclass
class World:
    alpha: AgencyPersonas
    bravo: AgencyPersonas

    def all_users(self):
        return self.alpha.everyone() + self.bravo.everyone()


def _member(agency, key, role, client=None):
    user = UserFactory(email=f"{key}@{agency.slug}.test", full_name=key.replace("-", " ").title())
    MembershipFactory(user=user, agency=agency, role=role, client=client)
    return user


def build_agency(name, slug) -> AgencyPersonas:
    agency = AgencyFactory(name=name, slug=slug)
    personas = AgencyPersonas(
        agency=agency,
        admin=_member(agency, "admin", Role.AGENCY_ADMIN),
        manager=_member(agency, "manager", Role.MANAGER),
        collector=_member(agency, "collector", Role.COLLECTOR),
    )
    for number in (1, 2):
        client = ClientFactory(agency=agency, name=f"{name} Client {number}")
        personas.clients.append(ClientPersonas(
            client=client,
            admin=_member(agency, f"client{number}-admin", Role.CLIENT_ADMIN, client),
            user=_member(agency, f"client{number}-user", Role.CLIENT_USER, client),
        ))
    return personas


def build_world() -> World:
    return World(alpha=build_agency("Alpha Recovery", "alpha"), bravo=build_agency("Bravo Collections", "bravo"))
