# syntax=docker/dockerfile:1
# Production image: build wheels in one stage, run as a non-root user in the next.
# It only serves. The schema is migrated once per release by `opioid-cds migrate` (the
# `migrate` service of deploy/compose.yaml, the Job of deploy/kubernetes), never by each
# replica at start: replicas would race, and a rolling update would migrate half-way.

FROM python:3.11-slim AS build
# A C compiler for the mypyc-compiled facts builder (setup.py); the runtime image needs none.
# Unpinned: Debian's security updates replace the pinned version in the archive.
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY app ./app
COPY cds_hooks ./cds_hooks
COPY rules ./rules
COPY fhir_fixtures ./fhir_fixtures
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim AS runtime
# No OPIOID_CDS_DATABASE_URL: production refuses to start without one (a PostgreSQL URL),
# rather than write to a SQLite file that the container loses and no other replica sees.
# FORWARDED_ALLOW_IPS: whose X-Forwarded-* headers uvicorn believes; only the container's
# own loopback unless the deployment names its proxy (deploy/compose.yaml, deploy/kubernetes).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    OPIOID_CDS_ENVIRONMENT=production \
    OPIOID_CDS_HOST=0.0.0.0 \
    OPIOID_CDS_PORT=8000 \
    WEB_CONCURRENCY=2 \
    FORWARDED_ALLOW_IPS=127.0.0.1 \
    OPIOID_CDS_AUDIT_JOURNAL_DIR=/var/lib/opioid-cds/audit-journal
# A fixed numeric id, so Kubernetes can check runAsNonRoot against the image. The audit
# journal's directory is the one place it writes (a volume in deploy/: it must outlive the
# process, so that a replica's unshipped events are shipped by the next one).
RUN groupadd --system --gid 10001 cds \
    && useradd --system --uid 10001 --gid cds --no-create-home --home-dir /nonexistent cds \
    && mkdir -p /var/lib/opioid-cds/audit-journal && chown -R 10001:10001 /var/lib/opioid-cds
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER 10001:10001
WORKDIR /tmp
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"OPIOID_CDS_PORT\"]}/healthz', timeout=2)"]
# WEB_CONCURRENCY sets the number of uvicorn worker processes.
CMD ["sh", "-c", "exec uvicorn --factory app.main:create_app --h11-max-incomplete-event-size 131072 --host \"$OPIOID_CDS_HOST\" --port \"$OPIOID_CDS_PORT\" --workers \"$WEB_CONCURRENCY\" --proxy-headers --forwarded-allow-ips \"$FORWARDED_ALLOW_IPS\""]
