"""Contract terms: flat or tiered fees, floor, plan limits, remittance; every change audited."""
from decimal import Decimal

from accounts.models import ContractTerms
from portal.models import AuditEvent

VALID = {
    "fee_type": "flat", "flat_fee_percent": "22.50", "settlement_floor_percent": "65",
    "max_plan_months": "18", "min_installment": "75.00", "remittance_method": "gross", "remittance_day": "10",
    "tiers-TOTAL_FORMS": "4", "tiers-INITIAL_FORMS": "0", "tiers-MIN_NUM_FORMS": "0", "tiers-MAX_NUM_FORMS": "10",
}


def tiers(*rows):
    data = {}
    for index in range(4):
        low, high, fee = rows[index] if index < len(rows) else ("", "", "")
        data.update({f"tiers-{index}-min_age_days": low, f"tiers-{index}-max_age_days": high,
                     f"tiers-{index}-fee_percent": fee})
    return data


def terms_of(client, all_tenants):
    with all_tenants():
        return ContractTerms.objects.get(client=client)


def test_manager_sets_flat_terms_and_the_change_is_audited_with_before_and_after(world, signed_in, all_tenants):
    client = world.alpha.clients[0].client
    response = signed_in(world.alpha.manager).post(f"/agency/clients/{client.pk}/terms/", VALID | tiers())
    assert response.status_code == 302
    terms = terms_of(client, all_tenants)
    assert terms.flat_fee_percent == Decimal("22.50") and terms.remittance_method == "gross"
    assert terms.max_plan_months == 18 and terms.min_installment == Decimal("75.00")
    with all_tenants():
        event = AuditEvent.objects.get(action="terms.updated")
    assert event.before["flat_fee_percent"] == "25.00" and event.after["flat_fee_percent"] == "22.50"
    assert event.actor == world.alpha.manager and event.agency == world.alpha.agency


def test_tiered_fees_by_age_at_placement(world, signed_in, all_tenants):
    client = world.alpha.clients[0].client
    data = VALID | {"fee_type": "tiered"} | tiers(("0", "90", "20"), ("91", "180", "25"), ("181", "", "33"))
    assert signed_in(world.alpha.admin).post(f"/agency/clients/{client.pk}/terms/", data).status_code == 302
    terms = terms_of(client, all_tenants)
    with all_tenants():
        assert [terms.fee_percent_for_age(d) for d in (0, 90, 91, 180, 181, 2000)] == [
            Decimal("20"), Decimal("20"), Decimal("25"), Decimal("25"), Decimal("33"), Decimal("33")]


def test_tiers_with_a_gap_are_refused_with_a_message_and_nothing_changes(world, signed_in, all_tenants):
    client = world.alpha.clients[0].client
    data = VALID | {"fee_type": "tiered"} | tiers(("0", "90", "20"), ("100", "", "25"))
    response = signed_in(world.alpha.admin).post(f"/agency/clients/{client.pk}/terms/", data)
    assert response.status_code == 200
    assert "Tier 2 must start the day after tier 1 ends (91)" in response.content.decode()
    terms = terms_of(client, all_tenants)
    assert terms.fee_type == "flat" and terms.flat_fee_percent == Decimal("25.00")
    with all_tenants():
        assert not AuditEvent.objects.filter(action="terms.updated").exists()


def test_out_of_range_values_get_inline_errors(world, signed_in):
    client = world.alpha.clients[0].client
    data = VALID | tiers() | {"settlement_floor_percent": "140", "remittance_day": "32", "min_installment": "abc"}
    page = signed_in(world.alpha.admin).post(f"/agency/clients/{client.pk}/terms/", data).content.decode()
    assert "less than or equal to 100" in page
    assert "less than or equal to 31" in page
    assert "Enter a number" in page


def test_collectors_and_client_users_cannot_change_terms(world, signed_in, all_tenants):
    client = world.alpha.clients[0].client
    for person in (world.alpha.collector, world.alpha.clients[0].admin):
        response = signed_in(person).post(f"/agency/clients/{client.pk}/terms/", VALID | tiers())
        assert response.status_code == 404
    assert terms_of(client, all_tenants).flat_fee_percent == Decimal("25.00")


def test_client_users_read_their_terms(world, signed_in):
    page = signed_in(world.alpha.clients[0].user).get("/client/terms/").content.decode()
    assert "25.00% of amounts collected" in page and "Settlement floor" in page


def test_the_payment_order_can_be_changed_on_the_terms_page(world, signed_in, all_tenants):
    client = world.alpha.clients[0].client
    page = signed_in(world.alpha.admin).get(f"/agency/clients/{client.pk}/terms/").content.decode()
    assert 'name="allocation_order"' in page and "principal" in page.lower()
    data = VALID | tiers() | {"allocation_order": "principal,interest,fees"}
    assert signed_in(world.alpha.admin).post(f"/agency/clients/{client.pk}/terms/", data).status_code == 302
    assert terms_of(client, all_tenants).allocation_order == "principal,interest,fees"


def test_a_decimal_comma_in_the_smallest_installment_is_refused_not_read_as_hundreds(world, signed_in, all_tenants):
    client = world.alpha.clients[0].client
    page = signed_in(world.alpha.admin).post(f"/agency/clients/{client.pk}/terms/",
                                             VALID | tiers() | {"min_installment": "75,50"}).content.decode()
    assert "is not an amount: write cents after a dot" in page
    assert terms_of(client, all_tenants).min_installment != Decimal("7550.00")
