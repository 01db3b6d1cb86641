"""The one client-IP function (portal/client_ip.py) and its TRUSTED_PROXIES setting."""
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from portal.client_ip import client_ip
from portal.env import env_trusted_proxies


def ip_of(remote, forwarded=None):
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    return client_ip(RequestFactory().get("/", REMOTE_ADDR=remote, **extra))


def test_with_no_trusted_proxy_forwarded_for_is_ignored(settings):
    settings.TRUSTED_PROXIES = 0
    assert ip_of("203.0.113.5", "192.0.2.1") == "203.0.113.5"


@pytest.mark.parametrize("forwarded, expected", [
    ("192.0.2.1", "192.0.2.1"),                       # one proxy: the address it saw
    ("1.2.3.4, 192.0.2.1", "192.0.2.1"),              # a client-written entry on the left is skipped
    ("", "10.0.0.2"),                                  # no header: the proxy itself
    ("not-an-ip", "10.0.0.2"),                         # garbage from the proxy: never trusted blindly
    ("[2001:db8::1]:443", "2001:db8::1"),
])
def test_a_count_of_proxies_takes_the_address_the_outermost_proxy_saw(settings, forwarded, expected):
    settings.TRUSTED_PROXIES = 1
    assert ip_of("10.0.0.2", forwarded) == expected


def test_two_proxies_and_a_too_short_header(settings):
    settings.TRUSTED_PROXIES = 2
    assert ip_of("10.0.0.2", "6.6.6.6, 192.0.2.1, 10.0.0.9") == "192.0.2.1"
    assert ip_of("10.0.0.2", "192.0.2.1") == "10.0.0.2"  # did not come through both proxies


def test_networks_trust_only_requests_from_the_proxies(settings):
    settings.TRUSTED_PROXIES = env_trusted_proxies_from("10.0.0.0/8, 172.16.0.0/12")
    assert ip_of("10.0.0.2", "6.6.6.6, 192.0.2.1, 172.16.0.4") == "192.0.2.1"
    assert ip_of("203.0.113.5", "192.0.2.1") == "203.0.113.5"  # not from a proxy: header ignored
    assert ip_of("10.0.0.2", "10.1.1.1") == "10.1.1.1"  # everything trusted: the leftmost


def env_trusted_proxies_from(value, monkeypatch=None):
    import os

    os.environ["TRUSTED_PROXIES_TEST"] = value
    try:
        return env_trusted_proxies("TRUSTED_PROXIES_TEST")
    finally:
        del os.environ["TRUSTED_PROXIES_TEST"]


def test_the_setting_is_strict():
    assert env_trusted_proxies_from("") == 0
    assert env_trusted_proxies_from("2") == 2
    with pytest.raises(ImproperlyConfigured, match="TRUSTED_PROXIES_TEST"):
        env_trusted_proxies_from("10.0.0.0/8,proxy.internal")
