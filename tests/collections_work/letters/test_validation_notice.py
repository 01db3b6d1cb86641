"""The validation notice (12 CFR 1006.34): made once when a consumer account is first contacted,
stating what the rule requires; emailed with the debtor's consent to electronic delivery,
otherwise printed in the day's batch, which staff mark mailed."""
import io
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone
from pypdf import PdfReader

from collections_work.letters.services import assumed_receipt, print_batch_mailed, print_batch_make
from collections_work.models import Activity, ContactPolicy, Debtor, Letter
from collections_work.worklist.services import call_log
from portal.tenancy import tenant_scope
from tests.factories import ContactFactory, DebtorAccountFactory

D = Decimal


@pytest.fixture
def alpha(world):
    with tenant_scope(world.alpha.agency):
        ContactPolicy.objects.create(agency=world.alpha.agency, earliest_hour=0, latest_hour=24)
        yield world.alpha


def consumer(alpha, reference, purpose="consumer", name=None):
    account = DebtorAccountFactory(client=alpha.clients[0].client, client_reference=reference, debt_purpose=purpose,
                                   principal=D("800.00"), interest=D("40.00"), fees=D("25.00"), paid=D("100.00"),
                                   due_date=timezone.localdate() - timedelta(days=120), debtor__name=name or f"Jo {reference}",
                                   debtor__time_zone="Atlantic/Reykjavik", contacts=["phone", "email"])
    ContactFactory(debtor=account.debtor, kind="address", value="9 Oak Ave, Apt 2, Springfield, IL 62704, US")
    return account


def pdf_text(field) -> str:
    with field.open("rb") as handle:
        reader = PdfReader(io.BytesIO(handle.read()))
        return "\n".join(page.extract_text() for page in reader.pages), len(reader.pages)


NOON = timezone.now().replace(hour=12, minute=0)  # the debtors live in Reykjavik (UTC all year): calling hours


def daytime_zone_now() -> str:
    """A time zone where it is now between 9:00 and 20:00 (the email goes when the worker runs)."""
    from zoneinfo import ZoneInfo

    for zone in ("Atlantic/Reykjavik", "America/New_York", "America/Los_Angeles", "Asia/Tokyo", "Europe/Berlin", "Asia/Kolkata",
                 "Pacific/Honolulu", "Australia/Sydney"):
        if 9 <= timezone.now().astimezone(ZoneInfo(zone)).hour < 20:
            return zone
    raise AssertionError("no zone in daylight")


def talk(alpha, account, now=NOON):
    return call_log(agency=alpha.agency, actor=alpha.collector, account=account, outcome="right_party_contact",
                    note="spoke with them", now=now)


def test_the_first_conversation_makes_one_validation_notice_with_what_reg_f_requires(
        alpha, django_capture_on_commit_callbacks):
    account = consumer(alpha, "VN-1")
    with django_capture_on_commit_callbacks(execute=True):
        talk(alpha, account)
    letter = Letter.objects.get(account=account)
    assert letter.status == Letter.Status.QUEUED and letter.kind == "validation"
    text, pages = pdf_text(letter.pdf)
    ends_on = assumed_receipt(alpha.agency.local_date()) + timedelta(days=30)  # made now, on the agency's day
    ends = f"{ends_on:%B} {ends_on.day}, {ends_on.year}"
    for expected in ("Alpha Recovery is a debt collector", "Alpha Recovery Client 1", "VN-1", "Jo VN-1",
                     "9 Oak Ave", "Springfield", "800.00", "+ 40.00", "+ 25.00", "– 100.00", "765.00",
                     f"by {ends}", "How can you dispute the debt?", "This is not my debt", "The amount is wrong",
                     "name and address of the original creditor", "www.cfpb.gov/debt-collection"):
        assert expected in text, expected
    assert pages == 1
    assert Activity.objects.filter(account=account, kind="letter", summary__contains="queued for print").exists()
    with django_capture_on_commit_callbacks(execute=True):
        talk(alpha, account, now=NOON + timedelta(days=8))
    assert Letter.objects.filter(account=account).count() == 1  # never twice


def test_no_notice_for_commercial_accounts_or_before_any_conversation(alpha, django_capture_on_commit_callbacks):
    commercial = consumer(alpha, "VN-2", purpose="commercial")
    quiet = consumer(alpha, "VN-3")
    with django_capture_on_commit_callbacks(execute=True):
        talk(alpha, commercial)
        call_log(agency=alpha.agency, actor=alpha.collector, account=quiet, outcome="no_answer", now=NOON)
    assert not Letter.objects.exists()


def test_with_consent_to_electronic_delivery_the_notice_is_emailed(alpha, django_capture_on_commit_callbacks):
    account = consumer(alpha, "VN-4")
    zone = daytime_zone_now()
    Debtor.objects.filter(pk=account.debtor_id).update(electronic_delivery_at=timezone.now(), time_zone=zone)
    account.__class__.objects.filter(pk=account.pk).update(debtor_time_zone=zone)
    account.debtor.contacts.update(time_zone=zone)
    account.refresh_from_db()
    account.debtor.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        talk(alpha, account, now=timezone.now())
    letter = Letter.objects.get(account=account)
    assert letter.status == Letter.Status.EMAILED
    message = next(m for m in mail.outbox if "Important information about your debt" in m.subject)
    assert message.to == ["vn-4@debtor.test"] and message.attachments[0][1].startswith(b"%PDF")
    ends = letter.content["validation_ends_text"]  # "January 8, 2027", not the ISO date
    assert f"how to dispute the debt by {ends}." in message.body
    assert re.search(r"To stop receiving emails at this address: https?://\S+/opt-out/\S+", message.body)  # 1006.6(e)


def test_the_days_letters_become_one_print_batch_that_staff_mark_mailed(alpha, django_capture_on_commit_callbacks):
    accounts = [consumer(alpha, f"PB-{n}") for n in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        for account in accounts:
            talk(alpha, account)
    batch = print_batch_make(agency_id=alpha.agency.pk, day=timezone.localdate())
    assert batch.letter_count == 3 and print_batch_make(agency_id=alpha.agency.pk, day=timezone.localdate()) == batch
    text, pages = pdf_text(batch.pdf)
    assert pages == 3 and all(f"Jo PB-{n}" in text for n in range(3))
    assert set(Letter.objects.values_list("status", flat=True)) == {"printing"}
    print_batch_mailed(agency=alpha.agency, actor=alpha.collector, batch=batch)
    assert set(Letter.objects.values_list("status", flat=True)) == {"mailed"}
    assert Activity.objects.filter(kind="letter", summary="Validation notice mailed").count() == 3


@pytest.mark.parametrize("sent_on, received", [
    (date(2026, 11, 20), date(2026, 11, 30)),  # Friday before Thanksgiving (Thursday Nov 26)
    (date(2026, 12, 21), date(2026, 12, 29)),  # Christmas Day, a Friday
    (date(2026, 7, 1), date(2026, 7, 9)),      # July 4 is a Saturday: observed Friday July 3
    (date(2027, 1, 13), date(2027, 1, 21)),    # Martin Luther King Jr. Day, Monday Jan 18
    (date(2026, 3, 4), date(2026, 3, 11)),     # an ordinary Wednesday: the next Wednesday
    (date(2027, 12, 27), date(2028, 1, 4)),    # New Year's Day 2028 is a Saturday: observed Friday Dec 31
])
def test_a_notice_is_taken_as_received_five_days_after_sending_not_counting_weekends_or_holidays(sent_on, received):
    """12 CFR 1006.34(b)(5): the validation period ends 30 days after receipt, which may be taken
    as five days after sending excluding Saturdays, Sundays and 5 U.S.C. 6103(a)'s holidays."""
    assert assumed_receipt(sent_on) == received


def fonts_of(field) -> set[str]:
    """The names of the fonts the PDF's pages draw with (subset prefixes dropped)."""
    with field.open("rb") as handle:
        reader = PdfReader(io.BytesIO(handle.read()))
        return {str(font.get_object()["/BaseFont"]).split("+")[-1]
                for page in reader.pages for font in page["/Resources"]["/Font"].values()}


@pytest.mark.parametrize("name", ["王小明", "김민준", "राहुल शर्मा", "สมชาย ใจดี"])
def test_a_name_in_a_script_the_letters_font_lacks_is_drawn_with_a_font_that_has_it(
        name, alpha, django_capture_on_commit_callbacks):
    """DejaVu Sans has no Han, Hangul, Devanagari or Thai: without a fallback font the debtor's
    name in the envelope window would print as empty boxes (the text layer would still say it)."""
    account = consumer(alpha, "NS-1", name=name)
    with django_capture_on_commit_callbacks(execute=True):
        talk(alpha, account)
    letter = Letter.objects.get(account=account)
    assert name.split()[0] in pdf_text(letter.pdf)[0]
    fonts = fonts_of(letter.pdf)
    assert any("DejaVu" not in font for font in fonts), (
        f"only {sorted(fonts)}: install fonts-noto-core and fonts-noto-cjk (README, weasyprint)")


def test_a_notice_for_a_debtor_with_no_postal_address_waits_for_one_and_is_then_printed_with_it(
        alpha, django_capture_on_commit_callbacks):
    """Printed with only a name, it could not be mailed; and a printed plan statement is cancelled."""
    account = DebtorAccountFactory(client=alpha.clients[0].client, client_reference="NA-1", debt_purpose="consumer",
                                   principal=D("800.00"), due_date=timezone.localdate() - timedelta(days=120),
                                   debtor__name="Jo Nowhere", debtor__time_zone="Atlantic/Reykjavik", contacts=["phone"])
    with django_capture_on_commit_callbacks(execute=True):
        talk(alpha, account)
    letter = Letter.objects.get(account=account)
    assert print_batch_make(agency_id=alpha.agency.pk, day=timezone.localdate()) is None
    letter.refresh_from_db()
    assert letter.status == Letter.Status.QUEUED and letter.hold_reason.startswith("No postal address on file")
    assert Activity.objects.filter(account=account, summary__contains="No postal address on file").count() == 1
    ContactFactory(debtor=account.debtor, kind="address", value="4 Pine Rd, Dayton, OH 45402, US")
    batch = print_batch_make(agency_id=alpha.agency.pk, day=timezone.localdate() + timedelta(days=1))
    assert batch is not None and batch.letter_count == 1
    text, _pages = pdf_text(batch.pdf)
    assert "Jo Nowhere\n4 Pine Rd\nDayton, OH 45402" in text


@pytest.mark.parametrize("address, lines", [
    ("9 Oak Ave, Apt 2, Springfield, IL 62704, US", ["9 Oak Ave", "Apt 2", "Springfield, IL 62704"]),
    ("1 Main St, Los Angeles, CA", ["1 Main St", "Los Angeles, CA"]),  # California, not Canada
    ("12 Rue de l'Église, Montréal, QC H2X 1Y4, CA", ["12 Rue de l'Église", "Montréal QC H2X 1Y4", "CANADA"]),
    ("ул. Тверская 7, Москва, 101000, RU", ["ул. Тверская 7", "Москва 101000", "RUSSIA"]),
    ("12 Rue de l'Église, Montréal, QC H2X 1Y4, Canada", ["12 Rue de l'Église", "Montréal QC H2X 1Y4", "CANADA"]),
    ("9 Oak Ave, Springfield, IL 62704, U.S.A.", ["9 Oak Ave", "Springfield, IL 62704"]),
    ("c/o Acme Corp, Attn Accounts Payable, Building 7, 1200 Industrial Pkwy, Suite 300, Springfield, IL 62701, US",
     ["c/o Acme Corp", "Attn Accounts Payable", "Building 7", "1200 Industrial Pkwy, Suite 300", "Springfield, IL 62701"]),
])
def test_the_envelope_address_has_the_city_line_and_country_where_the_post_wants_them(address, lines, alpha):
    """USPS Publication 28: the city line last in the US; abroad, the country's name in capitals
    on its own last line. At most six lines, so it stays in the window: extra street lines are joined."""
    from collections_work.letters.services import mailing_address

    account = DebtorAccountFactory(client=alpha.clients[0].client, client_reference="ADDR-1", debtor__name="Jo Post")
    ContactFactory(debtor=account.debtor, kind="address", value=address)
    assert mailing_address(account).splitlines() == ["Jo Post", *lines]


def test_a_long_address_stays_inside_the_envelope_window(alpha, django_capture_on_commit_callbacks):
    """Seven lines at 10 pt put the city line below the window (it ends 3 in. from the top)."""
    account = consumer(alpha, "LW-1", name="Bartholomew Fitzgerald-Montgomery Worthington III")
    from collections_work.models import Contact

    Contact.objects.filter(debtor=account.debtor, kind="address").update(
        value="c/o Acme Corp, Attn Accounts Payable, Building 7, 1200 Industrial Pkwy, Suite 300, Springfield, IL 62701, US")
    with django_capture_on_commit_callbacks(execute=True):
        talk(alpha, account)
    letter = Letter.objects.get(account=account)
    with letter.pdf.open("rb") as handle:
        page = PdfReader(io.BytesIO(handle.read())).pages[0]
    baselines = []  # (text, its baseline in points from the top of the page)

    def seen(text, cm, tm, _font, _size):
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        baselines.append((text, float(page.mediabox.height) - y))

    page.extract_text(visitor_text=seen)
    city_line = [top for text, top in baselines if "62701" in text]
    assert city_line and max(city_line) <= 3.0 * 72, f"the city line is at {max(city_line) / 72:.2f} in.: below the window"


def test_an_address_added_before_the_evening_batch_is_on_the_printed_notice(alpha, django_capture_on_commit_callbacks):
    """Queued at noon with no address, the address added in the afternoon: the PDF made at noon
    (a name only) was printed and marked mailed."""
    account = DebtorAccountFactory(client=alpha.clients[0].client, client_reference="NA-2", debt_purpose="consumer",
                                   principal=D("800.00"), due_date=timezone.localdate() - timedelta(days=120),
                                   debtor__name="Jo Later", debtor__time_zone="Atlantic/Reykjavik", contacts=["phone"])
    with django_capture_on_commit_callbacks(execute=True):
        talk(alpha, account)
    ContactFactory(debtor=account.debtor, kind="address", value="4 Pine Rd, Dayton, OH 45402, US")
    batch = print_batch_make(agency_id=alpha.agency.pk, day=timezone.localdate())
    assert batch is not None and "Jo Later\n4 Pine Rd\nDayton, OH 45402" in pdf_text(batch.pdf)[0]
