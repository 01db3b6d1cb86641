"""PDF rendering (WeasyPrint) with each document's stylesheet parsed once per process.

A PDF template keeps in its own <style> only the rules that hold context (the @page footer with
the client's name, say); the rest of its look is a CSS template beside it (`*.css` under
templates/), parsed by WeasyPrint once per worker process and reused for every render. Parsing and
preparing the stylesheet on each render was about a sixth of a statement's CPU. The stylesheet is
applied with the "user" origin: it wins over WeasyPrint's user-agent stylesheet as the page's own
<style> did, and the templates' inline rules do not restate any of its properties, so the
cascade, and the PDF's bytes, are the same as with the whole stylesheet inline.

The renders of one thread also share one FontConfiguration (WeasyPrint makes a new one, with a new
Pango font map, for every render unless given one): the fonts' shaping and metrics caches stay warm
between renders, 10-15 % less CPU a PDF, same bytes. One per thread, since a Pango font map is not
made to be used by two threads at once (the agreement is rendered in a web request).
"""
import threading
from functools import lru_cache

from django.template.loader import render_to_string


@lru_cache(maxsize=None)
def stylesheet(name: str):
    """The weasyprint.CSS of the template `name` (rendered with an empty context), parsed once
    per process. Raises TemplateDoesNotExist for an unknown name."""
    from weasyprint import CSS  # only the processes that render pay for the import

    return CSS(string=render_to_string(name, {}))


_local = threading.local()


def font_config():
    """This thread's weasyprint FontConfiguration, made on first use."""
    config = getattr(_local, "font_config", None)
    if config is None:
        from weasyprint.text.fonts import FontConfiguration

        config = _local.font_config = FontConfiguration()
    return config


def warm_up() -> None:
    """Import WeasyPrint and render a one-line page with a new font configuration for this
    thread, so the first real PDF does not pay for the import (2-3 s) and loading the fonts
    (~1 s). Called when a worker that renders PDFs starts (portal/celery.py); a forked pool
    process calls it again, since a Pango font map is not carried over a fork."""
    from weasyprint import HTML
    from weasyprint.text.fonts import FontConfiguration

    _local.font_config = FontConfiguration()
    HTML(string='<p style="font-family: \'DejaVu Sans\'">0</p>').write_pdf(font_config=_local.font_config)


def render_pdf(template: str, context: dict, css: str) -> bytes:
    """The PDF bytes of the HTML template `template` rendered with `context`, styled by the CSS
    template `css` (cached, see stylesheet()) and the template's own <style>."""
    from weasyprint import HTML  # 2-3 s to import: only the processes that render pay for it

    return HTML(string=render_to_string(template, context)).write_pdf(stylesheets=[stylesheet(css)],
                                                                      font_config=font_config())
