"""Filled in by the placement work (see collections_work/urls.py)."""
urlpatterns = []
