"""Uploads stop at their limit (issue 11, case 8): a 1 GB body was written to disk before the
page said "the limit is 50 MB". The request here is generated as it is read, so the test can
count how much of it the portal read and how much it wrote."""
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.test import Client
from django.test.client import ClientHandler, RequestFactory

from collections_work.debtor_accounts import services as account_services
from collections_work.models import DebtorAccount, Document, PlacementBatch
from portal.tenancy import tenant_scope

GIGABYTE = 1_000_000_000
LIMIT = 100_000
CHUNK = 64 * 1024  # Django reads and hands on uploads in chunks of this size


class GeneratedBody(io.RawIOBase):
    """A request body made as it is read: `head`, then `size` bytes of CSV rows, then `tail`."""

    def __init__(self, head: bytes, size: int, tail: bytes):
        self.parts = [head, None, tail]
        self.remaining_file = size
        self.sent = 0

    def readable(self):
        return True

    def read(self, size=-1):
        size = 1 << 20 if size is None or size < 0 else size
        out = b""
        while len(out) < size and self.parts:
            part = self.parts[0]
            if part is None:
                take = min(size - len(out), self.remaining_file)
                out += (b"R-1,Acme,10.00\n" * (take // 15 + 1))[:take]
                self.remaining_file -= take
                if not self.remaining_file:
                    self.parts.pop(0)
            else:
                take = part[:size - len(out)]
                out += take
                self.parts[0] = part[len(take):]
                if not self.parts[0]:
                    self.parts.pop(0)
        self.sent += len(out)
        return out


def post_generated(browser, path, *, fields: dict, file_field: str, file_name: str, size: int,
                   declared: int | None = None):
    """POST a multipart form whose file is `size` bytes, with the signed-in test client's
    cookies, through the test client's handler; returns (response, bytes the portal read)."""
    boundary = "----portal-test-boundary"
    head = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
                    for name, value in fields.items())
    head += (f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename="{file_name}"\r\n'
             "Content-Type: text/csv\r\n\r\n").encode() + b"Reference,Debtor name,Balance\n"
    tail = f"\r\n--{boundary}--\r\n".encode()
    body = GeneratedBody(head, size, tail)
    environ = RequestFactory()._base_environ(
        PATH_INFO=path, REQUEST_METHOD="POST", CONTENT_TYPE=f"multipart/form-data; boundary={boundary}",
        CONTENT_LENGTH=str(declared or len(head) + size + len(tail)),
        HTTP_COOKIE=browser.cookies.output(header="", sep="; "))
    environ["wsgi.input"] = body
    response = ClientHandler(enforce_csrf_checks=False)(environ)
    return response, body.sent


@pytest.fixture
def written(monkeypatch):
    """How many bytes of uploads went to temporary files."""
    total = {"bytes": 0}
    real = TemporaryFileUploadHandler.receive_data_chunk

    def counting(self, raw_data, start):
        total["bytes"] += len(raw_data)
        return real(self, raw_data, start)

    monkeypatch.setattr(TemporaryFileUploadHandler, "receive_data_chunk", counting)
    return total


@pytest.fixture
def small_limit(settings):
    settings.INTAKE_MAX_BYTES = LIMIT
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 10_000  # to a temporary file, as big uploads go


def no_batch(world):
    with tenant_scope(world.alpha.agency):
        return not PlacementBatch.objects.exists()


def test_a_body_declared_past_the_limit_is_not_read_beyond_its_first_chunk(world, signed_in, small_limit, written):
    browser = signed_in(world.alpha.clients[0].admin)
    response, read = post_generated(browser, "/placements/upload/", fields={}, file_field="file",
                                    file_name="export.csv", size=GIGABYTE)
    page = response.content.decode()
    assert response.status_code == 200
    assert "export.csv is larger than 0.1 MB, the limit; it was not uploaded." in page
    assert read <= 2 * CHUNK and written["bytes"] == 0
    assert no_batch(world)


def test_a_file_growing_past_the_limit_is_stopped_there(world, signed_in, small_limit, written):
    """The declared length can be honest and the file still too big (or a client may send less
    than it declares): reading stops at the chunk that passes the limit."""
    browser = signed_in(world.alpha.clients[0].admin)
    response, read = post_generated(browser, "/placements/upload/", fields={}, file_field="file",
                                    file_name="export.csv", size=5 * LIMIT, declared=LIMIT + 1_000)
    assert "export.csv is larger than 0.1 MB, the limit" in response.content.decode()
    assert written["bytes"] <= LIMIT and read <= LIMIT + 2 * CHUNK
    response, read = post_generated(browser, "/placements/upload/", fields={}, file_field="file",
                                    file_name="export.csv", size=3 * LIMIT)
    assert "export.csv is larger than 0.1 MB, the limit" in response.content.decode()
    assert written["bytes"] <= 2 * LIMIT
    assert no_batch(world)


def test_a_file_under_the_limit_is_uploaded(world, signed_in, small_limit):
    browser = signed_in(world.alpha.clients[0].admin)
    response, _ = post_generated(browser, "/placements/upload/", fields={}, file_field="file",
                                 file_name="export.csv", size=LIMIT - 1_000)
    assert response.status_code == 302
    with tenant_scope(world.alpha.agency):
        assert PlacementBatch.objects.get().file_size == LIMIT - 1_000 + len("Reference,Debtor name,Balance\n")


def test_the_upload_route_still_checks_the_csrf_token(world):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(world.alpha.clients[0].admin)
    content = b"Reference,Debtor name,Balance\nR-1,Acme,10\n"
    assert browser.post("/placements/upload/", {"file": SimpleUploadedFile("x.csv", content)}).status_code == 403
    token = browser.get("/placements/upload/").context["csrf_token"]
    response = browser.post("/placements/upload/", {"file": SimpleUploadedFile("x.csv", content),
                                                    "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert browser.get("/placements/upload/").status_code == 200


def test_documents_past_their_limit_are_stopped_too(world, signed_in, monkeypatch, written, settings):
    monkeypatch.setattr(account_services, "DOCUMENT_MAX_BYTES", LIMIT)
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 10_000
    persona = world.alpha.clients[0]
    browser = signed_in(persona.admin)
    form = {"debtor_kind": "business", "debtor_name": "Delta Co", "client_reference": "D-1", "principal": "100",
            "debt_purpose": "commercial", "on_duplicate": "skip"}
    response, read = post_generated(browser, "/placements/new-account/", fields=form, file_field="documents",
                                    file_name="invoice.csv", size=GIGABYTE)
    assert "invoice.csv is larger than 0.1 MB, the limit; it was not uploaded." in response.content.decode()
    assert read <= 2 * CHUNK + 2_000 and written["bytes"] == 0
    with tenant_scope(world.alpha.agency):
        assert not DebtorAccount.objects.exists()

    browser.post("/placements/new-account/", form)
    with tenant_scope(world.alpha.agency):
        account = DebtorAccount.objects.get()
    response, read = post_generated(browser, f"/debtor-accounts/{account.pk}/documents/", fields={},
                                    file_field="file", file_name="statement.csv", size=GIGABYTE)
    assert "statement.csv is larger than 0.1 MB, the limit" in response.content.decode()
    assert read <= 2 * CHUNK
    with tenant_scope(world.alpha.agency):
        assert not Document.objects.exists()
