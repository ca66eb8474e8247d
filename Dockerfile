# The service: HAProxy on :8080 in front of gunicorn on loopback (deploy/haproxy.cfg says
# what it does: routes tenants, reads whole requests, drops slow clients). Configure with the environment:
#   AUTHZ_MODE=production AUTHZ_ADMIN_KEY=<id>.<secret> DATABASE_URL=postgresql://...
#   AUTHZ_SESSION_SECRET=<32+ random characters, the same on every instance>
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    AUTHZ_MODE=production BIND=127.0.0.1:8081 WEB_CONCURRENCY=2 \
    AUTHZ_PROXY_BIND=0.0.0.0:8080 AUTHZ_UPSTREAM=127.0.0.1:8081 AUTHZ_WORKERS=2 \
    AUTHZ_MODEL_PATH=/app/policies/model.conf AUTHZ_SEED_PATH=/app/policies/seed.csv

WORKDIR /app
COPY pyproject.toml README.md ./
COPY service ./service
COPY policies ./policies
COPY gunicorn.conf.py ./
COPY deploy ./deploy
RUN apt-get update && apt-get install -y --no-install-recommends haproxy \
    && rm -rf /var/lib/apt/lists/* \
    && pip install --no-cache-dir . \
    && useradd --system --uid 10001 --home-dir /app authz \
    && mkdir -p /app/instance && chown authz /app/instance

USER authz
EXPOSE 8080
# Applies the Alembic migrations (an up-to-date database is left as it is), then serves:
# HAProxy in the background, gunicorn in the foreground (the container ends with it).
CMD ["sh", "-c", "flask --app service init-db && haproxy -D -f deploy/haproxy.cfg && exec gunicorn --config gunicorn.conf.py 'service:create_app()'"]
