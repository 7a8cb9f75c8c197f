"""Fixtures for a pytest suite that talks to Parlor instead of a vendor's API.

`parlor_url`: one Parlor stand-in for the whole session (`parlor serve --demo` on a free port,
its database in a temporary directory). `sandbox`: each test's own database (the
`X-Parlor-Sandbox` header), so tests may run in any order, or in parallel, without seeing each
other's writes; it also asks the request journal what the test's code sent.

Set PARLOR_BIN to the binary (default: `parlor` on the PATH).
"""

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import uuid

import pytest
import requests

ADMIN = {"Authorization": "Bearer parlor-demo-admin-token"}


@pytest.fixture(scope="session")
def parlor_url():
    workdir = tempfile.mkdtemp(prefix="parlor-")
    server = subprocess.Popen(
        [
            os.environ.get("PARLOR_BIN", "parlor"),
            "--db", os.path.join(workdir, "parlor.db"),
            "serve", "--demo", "--bind", "127.0.0.1:0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    url = None
    for line in server.stdout:
        found = re.search(r"listening on (http://\S+)", line)
        if found:
            url = found.group(1).rstrip("/")
            break
    if url is None:
        raise RuntimeError("parlor stopped before it listened")
    # Keep reading what it prints, so that it never waits on a full pipe.
    threading.Thread(target=server.stdout.read, daemon=True).start()
    deadline = time.monotonic() + 30
    while requests.get(f"{url}/readyz").status_code != 200:
        if time.monotonic() > deadline:
            raise RuntimeError("parlor never became ready")
        time.sleep(0.1)
    yield url
    server.terminate()
    server.wait(timeout=30)
    shutil.rmtree(workdir, ignore_errors=True)


class Sandbox:
    """A test's own database on the shared server: every request carries its name."""

    def __init__(self, url, name):
        self.url = url
        self.name = name
        self.http = requests.Session()
        self.http.headers["X-Parlor-Sandbox"] = name

    def get(self, path, **kw):
        return self.http.get(self.url + path, **kw)

    def post(self, path, **kw):
        return self.http.post(self.url + path, **kw)

    def sent(self, **filters):
        """How many requests of this sandbox the journal recorded that match `filters`
        (face, method, path, status, ...)."""
        answer = requests.post(
            f"{self.url}/__parlor/journal/verify",
            headers=ADMIN,
            json={"sandbox": self.name, **filters},
        )
        answer.raise_for_status()
        return answer.json()["count"]


@pytest.fixture
def sandbox(parlor_url, request):
    name = re.sub(r"[^A-Za-z0-9._-]", "-", request.node.name)[:40] + "-" + uuid.uuid4().hex[:8]
    yield Sandbox(parlor_url, name)
    requests.delete(f"{parlor_url}/__parlor/sandboxes/{name}", headers=ADMIN)
