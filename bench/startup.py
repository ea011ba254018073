"""What an idle ``coffeechat run --once`` costs against the least that could do its work
(issue 18, item 3), in the same run; two scenarios.

- Local: the demo's workspace (a local account, :mod:`daemon.app.demo`) is drafted once; then
  :data:`RUNS` idle ``run --once`` processes and as many ``python -c pass`` alternate, so both
  see the same load. Target: at most 12x.
- Google: the bench's fake Google (:class:`bench.servers.BenchGoogle`) over TLS on 127.0.0.1,
  with a certificate of its own that both sides trust through the same CA file, one account
  (a :class:`bench.worlds.GoogleWorld`). A first ``run --once`` syncs and drafts; then idle
  ``run --once`` processes alternate with a minimal script (:data:`MINIMAL_SCRIPT`: ``requests``
  only) that sends the one request an idle cycle sends, as the fake logged it (the events
  listing with the sync token, the same bearer token), verified against the same CA file.
  Target: at most 2.5x.

Reported for each: both medians, and their ratio. ``python -m bench.run --only startup`` runs
them alone.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

if TYPE_CHECKING:
    from bench.worlds import GoogleWorld

JSON = dict[str, Any]
RUNS = 9
TARGET_RATIO = 12.0
GOOGLE_TARGET_RATIO = 2.5
GOOGLE_EVENTS = 300
"""The fake calendar's size: an idle cycle's cost does not depend on it (one request)."""
MINIMAL_SCRIPT = """\
import sys, requests
url, token, ca = sys.argv[1:4]
answer = requests.get(url, headers={"Authorization": "Bearer " + token}, timeout=30, verify=ca)
print(answer.status_code, len(answer.json().get("items", [])))
"""
"""The least a process can do to learn that nothing changed: one events listing with the sync
token; it prints the status and how many events came back."""


def _wall(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def measure(scratch: Path, runs: int = RUNS) -> list[JSON]:
    """Both scenarios: :func:`measure_local` and :func:`measure_google`."""
    return [measure_local(scratch, runs), measure_google(scratch, runs)]


def measure_local(scratch: Path, runs: int = RUNS) -> JSON:
    """The idle local ``run --once`` beside ``python -c pass``, as one bench scenario."""
    from daemon.app.demo import build_workspace

    folder = scratch / "startup"
    env = dict(os.environ, XDG_CACHE_HOME=str(folder / "cache"),
               XDG_DATA_HOME=str(folder / "data"))
    config = build_workspace(folder / "ws", datetime.now(UTC), "Europe/Berlin")
    once = [sys.executable, "-m", "daemon", "--config", str(config), "run", "--once"]
    for _ in range(2):  # the first drafts; the second may list the folder once more
        _wall(once, env)
    bare, idle = [], []
    for _ in range(runs):
        bare.append(_wall([sys.executable, "-c", "pass"], env))
        idle.append(_wall(once, env))
    bare_s, idle_s = statistics.median(bare), statistics.median(idle)
    ratio = idle_s / bare_s
    print(f"startup: idle run --once {idle_s * 1000:.0f} ms, python -c pass "
          f"{bare_s * 1000:.0f} ms ({ratio:.1f}x; target {TARGET_RATIO:.0f}x)", file=sys.stderr)
    return {"scenario": "idle_run_once_vs_bare_python", "connector": "local", "runs": runs,
            "median": {"run_once_s": round(idle_s, 4), "bare_python_s": round(bare_s, 4)},
            "ratio": round(ratio, 1), "target_ratio": TARGET_RATIO,
            "met": ratio <= TARGET_RATIO}


def _certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (the certificate is its own CA)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "coffeechat bench")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "ca.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def _serve_tls(world: GoogleWorld, cert_file: Path, key_file: Path) -> None:
    """Have the world's fake answer over TLS only, and its account call it so."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    server = world.fake._server
    assert server is not None
    server.socket = context.wrap_socket(server.socket, server_side=True)
    text = world.config.read_text("utf-8")
    world.config.write_text(text.replace('api_root = "http://', 'api_root = "https://'), "utf-8")


def measure_google(scratch: Path, runs: int = RUNS) -> JSON:
    """The idle Google ``run --once`` beside :data:`MINIMAL_SCRIPT` sending the request it
    sends, as one bench scenario. Raises ``AssertionError`` when the idle cycle does not send
    exactly that one request, or the script's does not reach the fake and come back 200."""
    from bench.events import build_calendar
    from bench.worlds import GoogleWorld

    folder = scratch / "startup-google"
    folder.mkdir(parents=True)
    cert_file, key_file = _certificate(folder)
    env = dict(os.environ, XDG_CACHE_HOME=str(folder / "cache"),
               XDG_DATA_HOME=str(folder / "data"), SSL_CERT_FILE=str(cert_file))
    world = GoogleWorld(build_calendar(GOOGLE_EVENTS, datetime.now(UTC)), folder / "world")
    try:
        _serve_tls(world, cert_file, key_file)
        once = [sys.executable, "-m", "daemon", "--config", str(world.config), "run", "--once"]
        _wall(once, env)  # the first sync, which drafts
        drafted = len(world.fake.drafts)
        world.forget()
        _wall(once, env)
        [request] = world.fake.calls()  # an idle cycle sends exactly one request
        assert request.method == "GET" and "syncToken" in request.query, request
        url = world.fake.api_root.replace("http://", "https://") + request.path.lstrip("/")
        url += "?" + urlencode(request.query, doseq=True)
        token = request.authorization.removeprefix("Bearer ")
        script = folder / "minimal.py"
        script.write_text(MINIMAL_SCRIPT, "utf-8")
        minimal = [sys.executable, str(script), url, token, str(cert_file)]
        answer = subprocess.run(minimal, env=env, check=True, capture_output=True, text=True)
        assert answer.stdout.split() == ["200", "0"], answer.stdout
        bare, idle = [], []
        world.forget()
        for _ in range(runs):
            bare.append(_wall(minimal, env))
            idle.append(_wall(once, env))
        calls = world.fake.calls()
        assert len(calls) == 2 * runs and all(c.path == request.path for c in calls), calls
    finally:
        world.close()
    bare_s, idle_s = statistics.median(bare), statistics.median(idle)
    ratio = idle_s / bare_s
    print(f"startup: idle Google run --once {idle_s * 1000:.0f} ms, minimal requests script "
          f"{bare_s * 1000:.0f} ms ({ratio:.1f}x; target {GOOGLE_TARGET_RATIO}x)",
          file=sys.stderr)
    return {"scenario": "idle_google_run_once_vs_minimal_requests", "connector": "google",
            "runs": runs, "events": GOOGLE_EVENTS, "drafted_first": drafted,
            "requests_per_run": len(calls) // (2 * runs) if runs else 0,
            "median": {"run_once_s": round(idle_s, 4), "minimal_requests_s": round(bare_s, 4)},
            "ratio": round(ratio, 2), "target_ratio": GOOGLE_TARGET_RATIO,
            "met": ratio <= GOOGLE_TARGET_RATIO}


def markdown(scenarios: list[JSON]) -> str:
    """The figures as markdown (empty when not measured)."""
    lines: list[str] = []
    for s in (s for s in scenarios if s["scenario"] == "idle_run_once_vs_bare_python"):
        m = s["median"]
        lines += ["| idle `run --once` (local) | `python -c pass` | ratio | target |",
                  "|---|---|---|---|",
                  f"| {m['run_once_s'] * 1000:.0f} ms | {m['bare_python_s'] * 1000:.0f} ms | "
                  f"{s['ratio']}x | at most {s['target_ratio']:.0f}x |", ""]
    for s in (s for s in scenarios
              if s["scenario"] == "idle_google_run_once_vs_minimal_requests"):
        m = s["median"]
        lines += ["| idle `run --once` (Google, TLS) | minimal `requests` script | ratio | "
                  "target |", "|---|---|---|---|",
                  f"| {m['run_once_s'] * 1000:.0f} ms | {m['minimal_requests_s'] * 1000:.0f} ms"
                  f" | {s['ratio']}x | at most {s['target_ratio']}x |", ""]
    return "\n".join(lines)
