"""Benchmarks. Not part of the portal; nothing under portal/, accounts/ or collections_work/ imports this."""
