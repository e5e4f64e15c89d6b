"""Seed 004's own `curl` examples, run as written by a shell against the local API process.

Only the host (https://api.smsprobe.co.uk -> the local server), the key (sp_xxxx) and the
ids (019d...) are substituted; everything else is the seed's text (the list example also
once with curl's -g, see the test).
"""

from __future__ import annotations

import json
import shutil
import subprocess

from tests.interop.process import tool_missing
from tests.preflight.system import System

HOST = "https://api.smsprobe.co.uk"

ME = """curl -s https://api.smsprobe.co.uk/api/auth/me \\
  -H "Authorization: Bearer sp_xxxx\""""
KEYS = """curl -s https://api.smsprobe.co.uk/api/api-keys \\
  -H "Authorization: Bearer sp_xxxx\""""
NEW_KEY = """curl -s -X POST https://api.smsprobe.co.uk/api/api-keys \\
  -H "Authorization: Bearer sp_xxxx" \\
  -H "Content-Type: application/json" \\
  -d '{"name": "Production"}'"""
REVOKE = """curl -s -X DELETE https://api.smsprobe.co.uk/api/api-keys/019d... \\
  -H "Authorization: Bearer sp_xxxx\""""
NETWORKS = """curl -s https://api.smsprobe.co.uk/api/networks"""
CREATE = """curl -s -X POST https://api.smsprobe.co.uk/api/sessions \\
  -H "Authorization: Bearer sp_xxxx" \\
  -H "Content-Type: application/json" \\
  -d '{"sender_id": "MYAPP", "expected_body": "Hello!"}'"""
GET = """curl -s https://api.smsprobe.co.uk/api/sessions/019d... \\
  -H "Authorization: Bearer sp_xxxx\""""
LIST = """curl -s "https://api.smsprobe.co.uk/api/sessions?filter[status]=complete&page=1" \\
  -H "Authorization: Bearer sp_xxxx\""""


def _run(system: System, command: str, key: str, ident: str = "") -> subprocess.CompletedProcess[str]:
    text = command.replace(HOST, system.server.url).replace("sp_xxxx", key).replace("019d...", ident)
    return subprocess.run(["bash", "-c", text], capture_output=True, text=True, timeout=30)


def _curl(system: System, command: str, key: str, ident: str = "") -> object:
    done = _run(system, command, key, ident)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_seed_curl_examples(system: System) -> None:
    if shutil.which("curl") is None:
        tool_missing("curl is not installed (.ci/system-packages installs it)")
    key = system.user("curl-user")
    me = _curl(system, ME, key)
    assert isinstance(me, dict) and me["user"]["name"] == "Jane Smith" and me["plan"]["api_access"] is True
    made = _curl(system, NEW_KEY, key)
    assert isinstance(made, dict) and made["api_key"]["name"] == "Production" and made["api_key"]["key"].startswith("sp_")
    listed = _curl(system, KEYS, key)
    assert isinstance(listed, dict) and len(listed["api_keys"]) == 2
    assert _curl(system, REVOKE, key, made["api_key"]["id"]) == {"message": "API key revoked"}
    networks = _curl(system, NETWORKS, key)
    assert isinstance(networks, dict) and networks["networks"][0]["slug"] == "ee"
    session = _curl(system, CREATE, key)
    assert isinstance(session, dict) and session["status"] == "pending" and session["sender_id"] == "MYAPP"
    assert session["expected_body"] == "Hello!" and len(session["results"]) == 5
    again = _curl(system, GET, key, session["id"])
    assert isinstance(again, dict) and again["id"] == session["id"]
    # As written, curl itself refuses the list example: it reads "[status]" as one of its
    # URL globs (exit 3, "URL using bad/illegal format") before any request is made.
    # With -g (--globoff) the brackets go to the server as they are (docs/preflight.md).
    assert _run(system, LIST, key).returncode == 3
    page = _curl(system, LIST.replace("curl -s ", "curl -s -g ", 1), key)
    assert page == {"data": [], "meta": {"current_page": 1, "last_page": 1, "per_page": 20, "total": 0}}
