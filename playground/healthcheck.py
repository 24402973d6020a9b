"""`python -m playground.healthcheck`: the container's HEALTHCHECK (exit 0 when /health answers 200).

No curl in a slim image, so Python asks. The request names an allowed host: with
ALLOWED_HOSTS=play.example.com, a request for "127.0.0.1" would be refused (400)
by Django's host check and the container would look unhealthy while it is fine.
"""

from __future__ import annotations

import http.client
import os
import sys


def host_header() -> str:
    for host in os.environ.get("ALLOWED_HOSTS", "127.0.0.1").split(","):
        host = host.strip()
        if host and host != "*":
            return host.lstrip(".") or "127.0.0.1"  # ".example.com" allows example.com itself
    return "127.0.0.1"


def main() -> int:
    port = int(os.environ.get("PORT", "8000"))
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=float(os.environ.get("HEALTH_TIMEOUT", "3")))
        connection.request("GET", "/health", headers={"Host": host_header()})
        status = connection.getresponse().status
    except OSError as error:
        print(f"unhealthy: {error}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"unhealthy: /health answered {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
