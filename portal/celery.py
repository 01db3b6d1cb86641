"""The Celery app. Tasks take the agency id explicitly and open its tenant scope themselves."""
import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# The bulk worker renders the PDFs (statements, letters): it loads WeasyPrint and the fonts when
# it starts, not on the first statement of a run (3-4 s of CPU in each pool process otherwise).
_renders_pdfs = False


@signals.worker_init.connect
def _warm_pdf_worker(sender, **kwargs):
    """In the worker's main process, once its queues are chosen (-Q)."""
    from django.conf import settings

    global _renders_pdfs
    _renders_pdfs = settings.BULK_QUEUE in sender.app.amqp.queues.consume_from
    if _renders_pdfs:
        from portal.pdf import warm_up

        warm_up()  # the solo pool renders here; a prefork pool's processes inherit the import


@signals.worker_process_init.connect
def _warm_pdf_pool_process(**kwargs):
    """In each process of a prefork pool, after the fork."""
    if _renders_pdfs:
        from portal.pdf import warm_up

        warm_up()
