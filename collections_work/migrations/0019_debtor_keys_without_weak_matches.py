"""Debtors on file get the key a placement now computes for them (intake.rows.debtor_key), so
later files match them: name with tax ID last four, email, phone and postal address all agreeing
(their contacts, one of each kind), or, for a debtor with no contacts, its one account's reference.
A debtor that does not fit (several contacts of a kind, no contacts and several accounts) keeps
its old key: it is then matched by no later row, which is the safe side. The old keys (name + last
four + email) were a subset of what the new ones hash, so no two debtors end up with one key."""
from collections import defaultdict

from django.db import migrations

BATCH = 5000


def rekey_debtors(apps, schema_editor):
    from collections_work.placements.intake.rows import debtor_key

    Debtor = apps.get_model("collections_work", "Debtor")
    Contact = apps.get_model("collections_work", "Contact")
    DebtorAccount = apps.get_model("collections_work", "DebtorAccount")
    AccountParty = apps.get_model("collections_work", "AccountParty")
    after = 0
    while True:
        debtors = list(Debtor._base_manager.filter(id__gt=after).order_by("id")
                       .values_list("id", "name", "tax_id_last4")[:BATCH])
        if not debtors:
            break
        after = debtors[-1][0]
        ids = [d[0] for d in debtors]
        contacts = defaultdict(lambda: defaultdict(list))
        for debtor_id, kind, value in Contact._base_manager.filter(debtor_id__in=ids).values_list(
                "debtor_id", "kind", "value"):
            contacts[debtor_id][kind].append(value)
        references = defaultdict(list)
        for debtor_id, reference in DebtorAccount._base_manager.filter(debtor_id__in=ids).values_list(
                "debtor_id", "client_reference"):
            references[debtor_id].append(reference)
        for debtor_id, reference in AccountParty._base_manager.filter(debtor_id__in=ids).values_list(
                "debtor_id", "account__client_reference"):
            references[debtor_id].append(reference)
        changed = []
        for debtor_id, name, tax4 in debtors:
            found = contacts[debtor_id]
            if any(len(values) > 1 for values in found.values()):
                continue
            email, phone, address = (found.get(kind, [""])[0] for kind in ("email", "phone", "address"))
            if not (email or phone or address) and len(references[debtor_id]) != 1:
                continue
            reference = references[debtor_id][0] if references[debtor_id] else ""
            changed.append(Debtor(id=debtor_id, debtor_key=debtor_key(
                name, tax4, email, phone=phone, address=address, reference=reference)))
        Debtor._base_manager.bulk_update(changed, ["debtor_key"], batch_size=1000)


class Migration(migrations.Migration):

    dependencies = [
        ("collections_work", "0018_debtor_time_zone_source_and_check_summary"),
    ]

    operations = [
        migrations.RunPython(rekey_debtors, migrations.RunPython.noop),
    ]
