"""The worker that consumes the bulk queue (statements, letters) loads WeasyPrint and the fonts
when it starts, so the first statement of a monthly run is not seconds slower than the rest; the
interactive worker does not (it renders no PDF and keeps its memory)."""
import threading
from types import SimpleNamespace

from django.conf import settings

import portal.pdf
from portal.celery import _warm_pdf_pool_process, _warm_pdf_worker


def started_worker(*queues):
    """What Celery's worker_init hands its receivers: the worker, whose app consumes `queues`."""
    return SimpleNamespace(app=SimpleNamespace(amqp=SimpleNamespace(queues=SimpleNamespace(
        consume_from={name: object() for name in queues}))))


def font_config_after(start) -> object:
    """This worker start's font configuration, in a thread of its own (the config is per thread)."""
    seen = {}

    def run():
        start()
        seen["config"] = getattr(portal.pdf._local, "font_config", None)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return seen["config"]


def test_the_bulk_worker_has_the_renderer_ready_and_each_pool_process_its_own_fonts():
    assert font_config_after(lambda: _warm_pdf_worker(started_worker(settings.BULK_QUEUE))) is not None
    seen = {}

    def start_then_fork():  # in one thread: the main process's config, then the pool process's
        _warm_pdf_worker(started_worker(settings.BULK_QUEUE))
        seen["main"] = portal.pdf._local.font_config
        _warm_pdf_pool_process()

    forked = font_config_after(start_then_fork)
    assert forked is not None and forked is not seen["main"]  # a Pango font map is not carried over a fork


def test_the_interactive_worker_loads_no_pdf_renderer():
    assert font_config_after(lambda: _warm_pdf_worker(started_worker(settings.INTERACTIVE_QUEUE))) is None
    assert font_config_after(_warm_pdf_pool_process) is None
