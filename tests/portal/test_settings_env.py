"""Settings from the environment: malformed values stop start-up with the variable's name."""
import pytest
from django.core.exceptions import ImproperlyConfigured

from portal.env import env_bool, env_int, env_list, env_str


def test_strict_helpers(monkeypatch):
    monkeypatch.setenv("FLAG", "yes")
    monkeypatch.setenv("COUNT", "12")
    monkeypatch.setenv("HOSTS", "a.example, b.example,")
    assert env_bool("FLAG", False) is True and env_int("COUNT", 1) == 12
    assert env_list("HOSTS", []) == ["a.example", "b.example"]
    assert env_str("UNSET_VARIABLE_X", "fallback") == "fallback"


def test_malformed_values_name_the_variable(monkeypatch):
    monkeypatch.setenv("FLAG", "maybe")
    monkeypatch.setenv("COUNT", "twelve")
    with pytest.raises(ImproperlyConfigured, match="FLAG='maybe' is not a boolean"):
        env_bool("FLAG", False)
    with pytest.raises(ImproperlyConfigured, match="COUNT='twelve' is not a whole number"):
        env_int("COUNT", 1)
    with pytest.raises(ImproperlyConfigured, match="SECRET_THING must be set"):
        env_str("SECRET_THING")
