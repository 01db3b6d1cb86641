"""Uploads that stop at their size limit instead of after the whole body has been received.

Django writes an upload to a temporary file as it arrives and a form can check its size only
once all of it is on disk: a 1 GB body was written before "the limit is 50 MB". A view wrapped in
`upload_limit(...)` reads each file only up to its limit: a request whose declared length is
already past it stops at the first file, and a file that grows past it stops there. Nothing
more is read from the connection (gunicorn then closes it rather than drain the rest) and
nothing past the limit is written. The view finds out with `refused_upload(request)` and says so
next to the file field. The CSRF check, which reads the form, runs after the handler is in place.
"""
from functools import wraps

from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.views.decorators.csrf import csrf_exempt, csrf_protect

FORM_ALLOWANCE = 64 * 1024  # the form's other fields and the multipart boundaries


class RefusedUpload:
    """What was refused: the file's name (as the browser sent it) and the limit in bytes."""

    def __init__(self, file_name: str, limit: int):
        self.file_name = file_name or "The file"
        self.limit = limit

    @property
    def message(self) -> str:
        return (f"{self.file_name} is larger than {self.limit / 1_000_000:.1f} MB, the limit; it was not uploaded. "
                "Split it into smaller files.")


class LimitedUploadHandler(FileUploadHandler):
    """Stops the upload when one file passes `max_file_bytes` (or when the request declares
    more than `max_files` such files could fill), before writing past the limit."""

    def __init__(self, request, *, max_file_bytes: int, max_files: int = 1):
        super().__init__(request)
        self.max_file_bytes = max_file_bytes
        self.max_request_bytes = max_file_bytes * max_files + FORM_ALLOWANCE
        self.request_length = None
        self.received = 0

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.request_length = content_length
        return None

    def new_file(self, field_name, file_name, *args, **kwargs):
        super().new_file(field_name, file_name, *args, **kwargs)
        self.received = 0
        declared = max(self.request_length or 0, self.content_length or 0)  # the request's, or the part's own
        if declared > self.max_request_bytes or (self.content_length or 0) > self.max_file_bytes:
            self._refuse()

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.max_file_bytes:
            self._refuse()
        return raw_data

    def file_complete(self, file_size):
        return None

    def _refuse(self):
        self.request.refused_upload = RefusedUpload(self.file_name, self.max_file_bytes)
        raise StopUpload(connection_reset=True)


def upload_limit(max_file_bytes, *, max_files: int = 1):
    """Decorate a view that receives files: `max_file_bytes` (a callable, read per request, so
    settings can change) bounds each file. Put it under the role check, so a POST from someone
    who may not upload is turned away before its body is read; the CSRF exemption it marks (the
    check itself runs inside, once the handler is in place) is copied up by functools.wraps."""
    def decorator(view):
        protected = csrf_protect(view)

        @csrf_exempt
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.method == "POST":
                request.upload_handlers.insert(
                    0, LimitedUploadHandler(request, max_file_bytes=max_file_bytes(), max_files=max_files))
            return protected(request, *args, **kwargs)
        return wrapped
    return decorator


def refused_upload(request) -> RefusedUpload | None:
    """The file this request's upload limit stopped, if any."""
    return getattr(request, "refused_upload", None)
