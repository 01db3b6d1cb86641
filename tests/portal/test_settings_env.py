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


def test_payments_encryption_key_is_required_in_production_and_derived_elsewhere(monkeypatch):
    from cryptography.fernet import Fernet

    from portal.env import env_fernet_keys

    monkeypatch.delenv("PAYMENTS_ENCRYPTION_KEY", raising=False)
    with pytest.raises(ImproperlyConfigured, match="PAYMENTS_ENCRYPTION_KEY must be set in production"):
        env_fernet_keys("PAYMENTS_ENCRYPTION_KEY", required=True, fallback_secret="s")
    derived = env_fernet_keys("PAYMENTS_ENCRYPTION_KEY", required=False, fallback_secret="dev-secret")
    assert derived == env_fernet_keys("PAYMENTS_ENCRYPTION_KEY", required=False, fallback_secret="dev-secret")
    assert derived != env_fernet_keys("PAYMENTS_ENCRYPTION_KEY", required=False, fallback_secret="other")
    Fernet(derived[0].encode())  # a usable key
    monkeypatch.setenv("PAYMENTS_ENCRYPTION_KEY", "not-a-key")
    with pytest.raises(ImproperlyConfigured, match="PAYMENTS_ENCRYPTION_KEY holds a value that is not a Fernet key"):
        env_fernet_keys("PAYMENTS_ENCRYPTION_KEY", required=True, fallback_secret="s")


def test_stored_secrets_survive_a_key_rotation(settings):
    """The first key encrypts, every key decrypts: put the new key first, re-save, drop the old."""
    from cryptography.fernet import Fernet

    from portal import encryption

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.PAYMENTS_ENCRYPTION_KEYS = [old]
    stored = encryption.encrypt("sk_live_rotate_me")
    assert "sk_live_rotate_me" not in stored
    settings.PAYMENTS_ENCRYPTION_KEYS = [new, old]
    assert encryption.decrypt(stored) == "sk_live_rotate_me"
    settings.PAYMENTS_ENCRYPTION_KEYS = [new]
    with pytest.raises(encryption.DecryptionFailed):
        encryption.decrypt(stored)


def test_production_settings_need_the_encryption_key(tmp_path):
    """`check --deploy` with production settings: refused without PAYMENTS_ENCRYPTION_KEY, clean with it."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from cryptography.fernet import Fernet

    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "PAYMENTS_ENCRYPTION_KEY",
                                                           "DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env.update(PORTAL_PRODUCTION="true", SECRET_KEY="x" * 60 + "-production-secret", ALLOWED_HOSTS="portal.example.com",
               PORTAL_NO_BOOTSTRAP="1", PORTAL_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="portal.settings")
    command = [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"]
    refused = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
    assert refused.returncode != 0 and "PAYMENTS_ENCRYPTION_KEY must be set in production" in refused.stderr
    env["PAYMENTS_ENCRYPTION_KEY"] = Fernet.generate_key().decode()
    passed = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
    assert passed.returncode == 0, passed.stdout + passed.stderr
