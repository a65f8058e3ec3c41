"""Say in a few words why a request never got an answer (shared by every connector).

requests' own messages repeat the whole URL and urllib3's pool internals; a user needs the
host and the reason. Hosts and paths are not secrets; queries are left out.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import requests

_READ_TIMEOUT = re.compile(r"Read timed out\. \(read timeout=([0-9.]+)\)")


def network_problem(exc: requests.RequestException) -> str:
    """Describe a failed connection: `cannot resolve host api.github.com`, `timed out`, …"""
    url = exc.request.url if exc.request is not None else None
    if isinstance(url, bytes):
        url = url.decode("latin-1")
    host = urlsplit(url).hostname if url else None
    where = f" {host}" if host else ""
    text = str(exc)
    # After retries urllib3 wraps a read timeout in MaxRetryError, which requests raises as a
    # ConnectionError: read the cause, or an operator chases DNS and firewalls for a slow server.
    timed_out = _READ_TIMEOUT.search(text)
    if timed_out is not None:
        path = urlsplit(url).path if url else ""
        return f"timed out after {float(timed_out.group(1)):g} s waiting for {host or 'the server'}{path}"
    if isinstance(exc, requests.Timeout):
        return f"no answer from{where or ' the server'} in time ({type(exc).__name__})"
    if "NameResolutionError" in text or "Name or service not known" in text:
        return f"cannot resolve host{where}"
    if "Connection refused" in text:
        return f"connection refused by{where or ' the server'}"
    if isinstance(exc, requests.exceptions.SSLError):
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
            # The usual cause behind a company proxy or an internal CA: say the cure.
            return (
                f"the TLS certificate of {host or 'the server'} is not trusted (certificate verify failed); "
                "if a company CA signs it, set [http] ca_bundle to its PEM file"
            )
        return f"TLS handshake with{where or ' the server'} failed"
    if isinstance(exc, requests.ConnectionError):
        return f"cannot connect to{where or ' the server'}"
    return f"{type(exc).__name__} talking to{where or ' the server'}"
