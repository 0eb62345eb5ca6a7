# syntax=docker/dockerfile:1
# Production image. Build wheels in one stage; run as a non-root user in a slim second stage.
#
#   openssl rand -hex 32 > write-token   # the bearer token for writes: keep it
#   docker run -p 8000:8000 -v headwater-data:/home/headwater/data \
#     -e DATABASE_URL=postgresql://user:pw@db/headwater -e HEADWATER_BASE_URL=https://rs.example.org \
#     -e HEADWATER_WRITE_TOKENS="$(cat write-token)" headwater
#
# The web process serves with HEADWATER_WORKERS uvicorn workers. To run the notifier as its own
# container, set HEADWATER_NOTIFIER=external on the web containers and start one more container
# from the same image with the command `headwater notifier`.
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
COPY sitemaps ./sitemaps
COPY notifier ./notifier
RUN pip wheel --wheel-dir /wheels .

FROM python:3.11-slim
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN useradd --create-home --uid 10001 --user-group headwater
COPY --from=build /wheels /wheels
RUN pip install /wheels/*.whl && rm -rf /wheels
USER 10001:10001
WORKDIR /home/headwater
ENV HEADWATER_HOST=0.0.0.0 \
    HEADWATER_PORT=8000 \
    HEADWATER_WORKERS=4 \
    HEADWATER_DATA_DIR=/home/headwater/data
# The data folder holds stored bytes and generated secrets (write token, OAI-PMH key): a volume,
# so a recreated container keeps them. Created by the non-root user so the volume is its own.
RUN mkdir -p /home/headwater/data
VOLUME ["/home/headwater/data"]
EXPOSE 8000
# /readyz: 200 once the database is reachable and migrated (docs/rules.md §10), on the configured port
# and under the base URL's path prefix.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.parse as p, urllib.request as r; prefix = p.urlsplit(os.environ.get('HEADWATER_BASE_URL', '')).path.rstrip('/'); url = 'http://127.0.0.1:%s%s/readyz' % (os.environ.get('HEADWATER_PORT', '8000'), prefix); sys.exit(0 if r.urlopen(url, timeout=4).status == 200 else 1)"]
CMD ["headwater", "serve"]
