"""Redirects after login and after a correction follow only same-site relative paths; nothing gives a 500."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

import pytest

from .conftest import PASSWORD, csrf_token

HOSTILE = [
    "//evil.example/x",
    "/\t/evil.example/x",  # browsers drop the tab: //evil.example
    "/\\evil.example/x",  # browsers read the backslash as a slash
    "/\\/evil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "/\r\nSet-Cookie: pwned=1",
    "/\n/evil.example",
    " /queue",
    "/\u00a0/evil.example",
]


def _location_is_local(location: str) -> bool:
    parts = urlsplit(location)
    return not parts.scheme and not parts.netloc and location.startswith("/") and not location.startswith("//") \
        and "\\" not in location and not any(ord(c) < 0x21 or ord(c) > 0x7E for c in location)


@pytest.mark.parametrize("target", HOSTILE)
def test_login_never_redirects_off_site_and_never_fails(client, target: str) -> None:
    resp = client.post(f"/login?next={quote(target, safe='')}",
                       data={"name": "agent1", "password": PASSWORD, "csrf_token": csrf_token(client)})
    assert resp.status_code == 302, resp.status_code
    assert resp.headers["Location"] == "/"


@pytest.mark.parametrize("target", ["/queue", "/inquiries/7?x=1", "/%09/still-a-path"])
def test_login_follows_local_paths(client, target: str) -> None:
    resp = client.post(f"/login?next={quote(target, safe='')}",
                       data={"name": "agent1", "password": PASSWORD, "csrf_token": csrf_token(client)})
    assert resp.status_code == 302 and resp.headers["Location"] == target
    assert _location_is_local(resp.headers["Location"])


@pytest.mark.parametrize("back", [*HOSTILE, "/inquiries/1\r\nX-Injected: 1", "/inquiries/\t/evil.example"])
def test_correction_back_link_never_leaves_the_site(agent, app, back: str) -> None:
    row, _ = app.extensions["triage.store"].add_inquiry(
        source="api", text="返金して", label="faq", confidence=0.9, probabilities={}, needs_review=False,
        model_version="v")
    resp = agent.post(f"/inquiries/{row.id}/correction",
                      data={"label": "compensation", "back": back, "csrf_token": csrf_token(agent)})
    assert resp.status_code == 302
    assert resp.headers["Location"] == f"/inquiries/{row.id}"
