"""The day's print batch on schedule and on the Letters page: the beat task gathers the letters
queued for print into one PDF (one letter per page run, the address where a window envelope shows
it), once per agency and day; staff download it and mark it mailed."""
import io
from datetime import datetime
from zoneinfo import ZoneInfo

import time_machine
from django.urls import reverse
from pypdf import PdfReader

from collections_work.letters.tasks import print_batches
from collections_work.models import Activity, Letter, PrintBatch
from tests.collections_work.letters.test_validation_notice import alpha, consumer, talk  # noqa: F401 - fixture


def on_page(cm, tm):
    """Where text starts on the page (points from the bottom left): its matrix times the page's."""
    x, y = tm[4], tm[5]
    return x * cm[0] + y * cm[2] + cm[4], x * cm[1] + y * cm[3] + cm[5]


def pages_of(content: bytes):
    return PdfReader(io.BytesIO(content)).pages


def test_the_days_batch_is_made_once_and_staff_download_it_and_mark_it_mailed(
        alpha, client, django_capture_on_commit_callbacks):  # noqa: F811
    accounts = [consumer(alpha, f"LP-{n}") for n in range(2)]
    with django_capture_on_commit_callbacks(execute=True):
        for account in accounts:
            talk(alpha, account)
    assert Letter.objects.filter(status="queued").count() == 2
    client.force_login(alpha.collector)
    page = client.get(reverse("print_batch_list")).content.decode()
    assert "2</strong> letters waiting" in page and "Make today's batch now" in page

    evening = datetime.now(ZoneInfo(alpha.agency.time_zone)).replace(hour=22, minute=0)
    with time_machine.travel(evening, tick=False):
        assert print_batches() == 1
        assert print_batches() == 1  # beat twice: the same batch
    batch = PrintBatch.objects.get()
    assert batch.letter_count == 2 and batch.day == evening.date()

    page = client.get(reverse("print_batch_list")).content.decode()
    assert "No letters are waiting for print." in page and "Ready to print" in page
    download = client.get(reverse("print_batch_file", args=[batch.pk]))
    pages = pages_of(b"".join(download.streaming_content))
    assert download["Content-Disposition"] == f'attachment; filename="letters-{batch.day}.pdf"'
    assert len(pages) == 2
    for n, sheet in enumerate(pages):
        # The address block sits in the window of a #10 envelope: 2.0 in. from the top, 0.875 in. from the left.
        found = []
        sheet.extract_text(visitor_text=lambda text, cm, tm, *_: found.append((text, *on_page(cm, tm))) if text.strip() else None)
        name = next((x, y) for text, x, y in found if text.strip() == f"Jo LP-{n}")
        left_in, from_top_in = name[0] / 72, (float(sheet.mediabox.height) - name[1]) / 72
        assert 0.8 < left_in < 1.0 and 2.0 < from_top_in < 2.3, (left_in, from_top_in)

    mailed = client.post(reverse("print_batch_mailed", args=[batch.pk]))
    assert mailed.status_code == 302
    batch.refresh_from_db()
    assert batch.status == "mailed" and batch.mailed_by == alpha.collector
    assert set(Letter.objects.values_list("status", flat=True)) == {"mailed"}
    assert Activity.objects.filter(summary="Validation notice mailed").count() == 2
    again = client.post(reverse("print_batch_mailed", args=[batch.pk]), follow=True).content.decode()
    assert "was marked mailed on" in again
    client.force_login(alpha.clients[0].admin)
    assert client.get(reverse("print_batch_list")).status_code == 404


def test_a_notice_whose_hand_off_was_lost_is_made_before_the_days_batch(alpha, monkeypatch):  # noqa: F811
    from collections_work.letters import tasks

    monkeypatch.setattr(tasks, "after_first_contact", lambda account: None)  # the broker was down
    monkeypatch.setattr("collections_work.worklist.services.after_first_contact", lambda account: None)
    account = consumer(alpha, "LOST-1")
    talk(alpha, account)
    old = consumer(alpha, "OLD-1")  # contacted long ago, before notices: left alone
    type(old).objects.filter(pk=old.pk).update(last_contact_at=datetime(2020, 1, 1, tzinfo=ZoneInfo("UTC")))
    assert not Letter.objects.exists()
    assert print_batches() == 1
    letter = Letter.objects.get()
    assert (letter.account, letter.kind, letter.status) == (account, "validation", "printing")
    assert PrintBatch.objects.get().letter_count == 1
