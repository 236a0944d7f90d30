"""Chalice's test client in front of the gateway the local server runs (`devstack.api.Gateway`).

Chalice's own test client plays API Gateway without gateway responses; tests of what a caller
is answered (a missing key, a denied key, no route) go through ours, as the deployed API and
`make dev` answer them.
"""

from __future__ import annotations

from chalice.test import Client

from devstack.api import Gateway


def through_gateway(client: Client) -> Client:
    """`client`, its HTTP requests answered by our gateway instead of Chalice's plain one."""
    http = client.http
    http._local_gateway = Gateway(http._app, http._config)
    return client
