from portal.errors import DomainError


def add_domain_error(form, error: DomainError) -> None:
    """Show a service's error next to the field it names (or above the form)."""
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)
