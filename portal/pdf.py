"""PDF rendering (WeasyPrint) with each document's stylesheet parsed once per process.

A PDF template keeps in its own <style> only the rules that hold context (the @page footer with
the client's name, say); the rest of its look is a CSS template beside it (`*.css` under
templates/), parsed by WeasyPrint once per worker process and reused for every render. Parsing and
preparing the stylesheet on each render was about a sixth of a statement's CPU. The stylesheet is
applied with the "user" origin: it wins over WeasyPrint's user-agent stylesheet as the page's own
<style> did, and the templates' inline rules do not restate any of its properties, so the
cascade, and the PDF's bytes, are the same as with the whole stylesheet inline.
"""
from functools import lru_cache

from django.template.loader import render_to_string


@lru_cache(maxsize=None)
def stylesheet(name: str):
    """The weasyprint.CSS of the template `name` (rendered with an empty context), parsed once
    per process. Raises TemplateDoesNotExist for an unknown name."""
    from weasyprint import CSS  # only the processes that render pay for the import

    return CSS(string=render_to_string(name, {}))


def render_pdf(template: str, context: dict, css: str) -> bytes:
    """The PDF bytes of the HTML template `template` rendered with `context`, styled by the CSS
    template `css` (cached, see stylesheet()) and the template's own <style>."""
    from weasyprint import HTML  # 2-3 s to import: only the processes that render pay for it

    return HTML(string=render_to_string(template, context)).write_pdf(stylesheets=[stylesheet(css)])
