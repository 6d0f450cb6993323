# syntax=docker/dockerfile:1
# Cartable's app image for Kubernetes (issue 20): the same app.py and chalicelib/ as the Lambda package, run by
# the host layer (hosting/): the API under gunicorn, the queue workers, the CronJobs' command (k8s/).
# Build from the repository's root: docker build -t cartable .
FROM python:3.13-slim-bookworm AS build
WORKDIR /src
COPY requirements.txt requirements-dev.txt ./
# Exactly the hashed lock of the functions' runtime (gunicorn included), then chalice alone: the app imports
# chalice.app (stdlib only), what `chalice package` puts in deployment.zip; its CLI's dependencies stay out.
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --require-hashes -r requirements.txt \
 && awk '/^chalice==/{p=1; print; next} p && /^ /{print; next} {p=0}' requirements-dev.txt > chalice.txt \
 && /opt/venv/bin/pip install --no-cache-dir --no-deps --require-hashes -r chalice.txt

FROM python:3.13-slim-bookworm
# libmagic for python-magic (the scan judges each file's type); tini reaps and forwards SIGTERM.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libmagic1 tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 cartable \
 && useradd --system --uid 10001 --gid cartable --no-create-home --shell /usr/sbin/nologin cartable
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY app.py ./
COPY chalicelib/ chalicelib/
COPY policies/ policies/
COPY migrations/ migrations/
COPY infra/__init__.py infra/gateway.py infra/
COPY hosting/ hosting/
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORT=8080
# A fixed, numeric non-root user, as the manifests' runAsUser (k8s/).
USER 10001:10001
EXPOSE 8080 8081
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["gunicorn", "-c", "hosting/gunicorn.conf.py", "hosting.wsgi:application"]
