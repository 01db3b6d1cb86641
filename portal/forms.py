from portal.errors import DomainError


def add_domain_error(form, error: DomainError) -> None:
    """Show a service's error next to the field it names (or above the form)."""
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)


def posted_data(request):
    """Form data for a POST (even an empty one, which `request.POST or None` would miss), None for a GET."""
    return request.POST if request.method == "POST" else None
