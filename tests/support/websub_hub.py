"""A third-party WebSub hub on loopback for the interop tests: flask-websub 0.4.1's hub
blueprint, served by Flask, with Celery running its tasks eagerly in-process (no broker).

`python -m tests.support.websub_hub PORT SQLITE_PATH` serves the hub at
`http://127.0.0.1:PORT/hub`: it accepts subscriptions (verifying intent with the subscriber) and
light pings (`hub.mode=publish&hub.topic=…`), then fetches the topic and posts its body to every
subscriber, signed with `X-Hub-Signature: sha256=…`.
"""

from __future__ import annotations

import sys


def main(port: int, database: str) -> None:
    # imported here: only this process needs the hub's own dependencies
    from celery import Celery
    from flask import Flask
    from flask_websub.hub import Hub, SQLite3HubStorage

    app = Flask("websub-hub")
    app.config.update(PUBLISH_SUPPORTED=True, SERVER_NAME=f"127.0.0.1:{port}")
    tasks = Celery("hub", broker="memory://", backend="cache+memory://")
    tasks.conf.update(task_always_eager=True, task_eager_propagates=True)
    hub = Hub(SQLite3HubStorage(database), tasks, PUBLISH_SUPPORTED=True,
              SIGNATURE_ALGORITHM="sha256", REQUEST_TIMEOUT=5, BACKOFF_BASE=0.5, MAX_ATTEMPTS=3,
              HUB_MIN_LEASE_SECONDS=60)
    app.register_blueprint(hub.build_blueprint(url_prefix="/hub"))
    app.run(host="127.0.0.1", port=port, threaded=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
