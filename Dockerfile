# syntax=docker/dockerfile:1
# Production image: build wheels in one stage, run as a non-root user in the next.

FROM python:3.11-slim AS build
# A C compiler for the mypyc-compiled facts builder (setup.py); the runtime image needs none.
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
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    OPIOID_CDS_ENVIRONMENT=production \
    OPIOID_CDS_HOST=0.0.0.0 \
    OPIOID_CDS_PORT=8000 \
    OPIOID_CDS_DATABASE_URL=sqlite+aiosqlite:////var/lib/opioid-cds/opioid-cds.sqlite3 \
    WEB_CONCURRENCY=2
RUN groupadd --system cds && useradd --system --gid cds --home-dir /var/lib/opioid-cds cds \
    && mkdir -p /var/lib/opioid-cds && chown cds:cds /var/lib/opioid-cds
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER cds
WORKDIR /var/lib/opioid-cds
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"OPIOID_CDS_PORT\"]}/healthz', timeout=2)"
# Migrate, then serve; WEB_CONCURRENCY sets the number of uvicorn worker processes.
CMD ["sh", "-c", "opioid-cds migrate && exec uvicorn --factory app.main:create_app --h11-max-incomplete-event-size 131072 --host \"$OPIOID_CDS_HOST\" --port \"$OPIOID_CDS_PORT\" --workers \"$WEB_CONCURRENCY\" --proxy-headers"]
