"""A day is the debtor's day: whether a promise is due, late or broken is judged in the debtor's
time zone (every candidate US zone when it is unknown: the latest one), on both sides of
midnight UTC (issue 13, item 13). The clock is moved with time-machine; nothing passes `now`."""
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

import pytest
import time_machine

from collections_work.debtor_accounts import local_day, scoring
from collections_work.models import Callback, DebtorAccount, Promise
from collections_work.worklist import services as work_services
from portal.errors import DomainError
from portal.tenancy import tenant_scope
from tests.factories import DebtorAccountFactory

DUE = date(2026, 12, 2)


def utc(*args):
    return datetime(*args, tzinfo=dt_timezone.utc)


@pytest.fixture
def alpha(world):
    with tenant_scope(world.alpha.agency):
        yield world.alpha


def promised(alpha, reference, zone, due=DUE, made=utc(2026, 11, 30, 17, 0)):
    """An account whose debtor lives in `zone` ("" unknown), with an open promise due `due`."""
    account = DebtorAccountFactory(client=alpha.clients[0].client, client_reference=reference,
                                   debtor__time_zone=zone, principal=Decimal("500.00"))
    with time_machine.travel(made, tick=False):
        work_services.promise_record(agency=alpha.agency, actor=alpha.collector, account=account,
                                     amount=Decimal("100.00"), due_date=due)
    return account


def broken_at(moment):
    with time_machine.travel(moment, tick=False):
        return sorted(p.account.client_reference for p in work_services.promises_mark_broken())


# --- The helper -----------------------------------------------------------------------------------

@pytest.mark.parametrize("zone, moment, today", [
    ("America/New_York", utc(2026, 12, 2, 23, 59), date(2026, 12, 2)),  # before midnight UTC
    ("America/New_York", utc(2026, 12, 3, 1, 0), date(2026, 12, 2)),  # after it: 20:00 on the 2nd in New York
    ("America/New_York", utc(2026, 12, 3, 5, 0), date(2026, 12, 3)),  # New York's midnight
    ("Pacific/Honolulu", utc(2026, 12, 3, 0, 30), date(2026, 12, 2)),  # 14:30 on the 2nd in Honolulu
    ("Pacific/Honolulu", utc(2026, 12, 3, 9, 59), date(2026, 12, 2)),
    ("Pacific/Honolulu", utc(2026, 12, 3, 10, 0), date(2026, 12, 3)),
    ("Asia/Tokyo", utc(2026, 12, 2, 15, 0), date(2026, 12, 3)),  # ahead of UTC: already the 3rd
    ("", utc(2026, 12, 3, 9, 59), date(2026, 12, 2)),  # unknown: Honolulu, the latest US zone
    ("", utc(2026, 12, 3, 10, 0), date(2026, 12, 3)),
    ("Not/A_Zone", utc(2026, 12, 3, 9, 59), date(2026, 12, 2)),  # not a zone name: as unknown
    ("eastern time", utc(2026, 12, 3, 9, 59), date(2026, 12, 2)),
])
def test_the_debtors_today(zone, moment, today):
    assert local_day.debtor_today(zone, moment) == today
    assert local_day.day_has_ended(zone, today - timedelta(days=1), moment)
    assert not local_day.day_has_ended(zone, today, moment)
    assert local_day.latest_date_anywhere(moment) >= today


def test_a_day_starts_and_ends_at_the_debtors_midnight():
    assert local_day.start_of_day("America/New_York", DUE) == utc(2026, 12, 2, 5, 0)
    assert local_day.end_of_day("America/New_York", DUE) == utc(2026, 12, 3, 5, 0)
    assert local_day.start_of_day("", DUE) == utc(2026, 12, 2, 10, 0)  # begun in every US zone: Honolulu last
    assert local_day.start_of_day("America/New_York", date(2026, 7, 1)) == utc(2026, 7, 1, 4, 0)  # daylight time


# --- Promises -------------------------------------------------------------------------------------

def test_a_new_york_promise_is_not_broken_at_one_in_the_morning_utc_only_at_new_yorks_midnight(alpha):
    promised(alpha, "NY-1", "America/New_York")
    assert broken_at(utc(2026, 12, 2, 23, 30)) == []  # before midnight UTC
    assert broken_at(utc(2026, 12, 3, 1, 0)) == []  # 20:00 on the 2nd in New York
    assert broken_at(utc(2026, 12, 3, 4, 59)) == []
    assert broken_at(utc(2026, 12, 3, 5, 0, 1)) == ["NY-1"]
    assert Promise.objects.get(account__client_reference="NY-1").status == Promise.Status.BROKEN


def test_a_honolulu_promise_lasts_until_honolulus_midnight(alpha):
    promised(alpha, "HNL-1", "Pacific/Honolulu")
    assert broken_at(utc(2026, 12, 3, 0, 30)) == []  # 14:30 on the 2nd in Honolulu
    assert broken_at(utc(2026, 12, 3, 9, 59)) == []
    assert broken_at(utc(2026, 12, 3, 10, 0, 1)) == ["HNL-1"]


def test_with_no_zone_a_promise_lasts_until_the_day_is_over_in_every_us_zone(alpha):
    promised(alpha, "UNK-1", "")
    promised(alpha, "NY-2", "America/New_York")
    assert broken_at(utc(2026, 12, 3, 6, 0)) == ["NY-2"]  # over in New York, not yet in Honolulu
    assert broken_at(utc(2026, 12, 3, 10, 0, 1)) == ["UNK-1"]


def test_a_debtor_ahead_of_utc_breaks_before_midnight_utc(alpha):
    promised(alpha, "TYO-1", "Asia/Tokyo")
    assert broken_at(utc(2026, 12, 2, 14, 59)) == []  # 23:59 on the 2nd in Tokyo
    assert broken_at(utc(2026, 12, 2, 15, 0, 1)) == ["TYO-1"]  # the 3rd in Tokyo, still the 2nd in UTC


def test_a_promise_for_the_debtors_today_is_taken_after_midnight_utc(alpha):
    """At 01:00 UTC on the 3rd it is still the 2nd in New York: "by today" is the 2nd there."""
    account = DebtorAccountFactory(client=alpha.clients[0].client, client_reference="NY-3",
                                   debtor__time_zone="America/New_York")
    with time_machine.travel(utc(2026, 12, 3, 1, 0), tick=False):
        promise = work_services.promise_record(agency=alpha.agency, actor=alpha.collector, account=account,
                                               amount=Decimal("50.00"), due_date=DUE)
        with pytest.raises(DomainError, match="Dec 2, 2026 where the debtor is"):
            work_services.promise_record(agency=alpha.agency, actor=alpha.collector, account=account,
                                         amount=Decimal("50.00"), due_date=DUE - timedelta(days=1))
    assert promise.due_date == DUE
    # The account waits until the promise's day begins for the debtor (it has: 00:00 on the 2nd in New York).
    assert DebtorAccount.objects.get(pk=account.pk).next_action_at == utc(2026, 12, 2, 5, 0)
    tokyo = DebtorAccountFactory(client=alpha.clients[0].client, client_reference="TYO-2",
                                 debtor__time_zone="Asia/Tokyo")
    with time_machine.travel(utc(2026, 12, 3, 1, 0), tick=False), pytest.raises(DomainError, match="between today"):
        work_services.promise_record(agency=alpha.agency, actor=alpha.collector, account=tokyo,
                                     amount=Decimal("50.00"), due_date=DUE)  # the 3rd in Tokyo already


# --- The score ------------------------------------------------------------------------------------

def parts_at(account, moment):
    account = DebtorAccount.objects.get(pk=account.pk)
    with time_machine.travel(moment, tick=False):
        one = {part.name for part in scoring.score_parts(account)}
        scoring.accounts_rescore(DebtorAccount.objects.filter(pk=account.pk))  # the bulk path agrees
        bulk = DebtorAccount.objects.get(pk=account.pk).priority
    assert bulk == scoring.priority_of(scoring.score_parts(account, now=moment))
    return one


def test_promise_due_in_the_score_starts_at_the_debtors_midnight(alpha):
    new_york = promised(alpha, "NY-4", "America/New_York", due=date(2026, 12, 3))
    honolulu = promised(alpha, "HNL-2", "Pacific/Honolulu", due=date(2026, 12, 3))
    at_one_utc = utc(2026, 12, 3, 1, 0)  # the 3rd in UTC, the 2nd in both debtors' zones
    assert "promise due" not in parts_at(new_york, at_one_utc)
    assert "promise due" not in parts_at(honolulu, at_one_utc)
    assert "promise due" in parts_at(new_york, utc(2026, 12, 3, 5, 0))
    assert "promise due" not in parts_at(honolulu, utc(2026, 12, 3, 5, 0))
    assert "promise due" in parts_at(honolulu, utc(2026, 12, 3, 10, 0))


def test_a_callback_comes_due_at_its_moment_on_either_side_of_midnight_utc(alpha):
    """A callback is a moment, not a date: it is due from that instant whatever the day is anywhere."""
    account = DebtorAccountFactory(client=alpha.clients[0].client, client_reference="CB-1",
                                   debtor__time_zone="Pacific/Honolulu")
    with time_machine.travel(utc(2026, 12, 2, 20, 0), tick=False):
        work_services.callback_schedule(agency=alpha.agency, actor=alpha.collector, account=account,
                                        due_at=utc(2026, 12, 3, 0, 15))
    assert "callback due" not in parts_at(account, utc(2026, 12, 2, 23, 59))
    assert "callback due" not in parts_at(account, utc(2026, 12, 3, 0, 14))
    assert "callback due" in parts_at(account, utc(2026, 12, 3, 0, 16))
    assert Callback.objects.filter(account=account, done_at__isnull=True).count() == 1
