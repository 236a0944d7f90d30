"""Serve the app's HTTP API exactly as `chalice local` does, with the stage's environment.

Run as `python -m devstack.api --stage dev --port 8000`; the caller (the orchestrator in
`devstack.__main__`) has already set the environment from `devstack.stage.local_environment`.
"""

from __future__ import annotations

import argparse
import os


def main() -> None:
    """Start Chalice's local API server and serve until interrupted."""
    from chalice.deploy.validate import validate_routes
    from chalice.local import create_local_server

    from infra.stage import PROJECT_DIR, chalice_config

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    os.chdir(PROJECT_DIR)
    config = chalice_config(args.stage, "api_handler")
    app = config.chalice_app
    validate_routes(app.routes)
    server = create_local_server(app, config, args.host, args.port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server.server_close()


if __name__ == "__main__":
    main()
