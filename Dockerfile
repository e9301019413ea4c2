# The podaudit image for in-cluster collection (docs/deploy/): `podaudit collect --root /host`.
#
#   docker build -t REGISTRY/podaudit:X.Y.Z --build-arg VERSION=X.Y.Z .
#
# (the release workflow, .github/workflows/release.yml, passes podaudit.__version__)
#
# It runs as root on purpose: a collector reads root-only files (0600 root:root static pod
# manifests, the kubelet's config and drop-ins) and the kubelet's /proc/<pid> links, which no
# other user may read. The manifests in docs/deploy/ still drop every capability but the two
# reads need, forbid privilege escalation and keep this filesystem read-only.

ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY podaudit ./podaudit
# Installed under /install, copied whole into the final image: no sources, no pip cache.
RUN pip install --no-cache-dir --disable-pip-version-check --prefix=/install .

FROM python:${PYTHON_VERSION}-slim
ARG VERSION=unreleased
LABEL org.opencontainers.image.title="podaudit" \
      org.opencontainers.image.description="Find, explain and audit Kubernetes static pods: in-cluster node collector" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
COPY --from=build /install /usr/local
ENTRYPOINT ["podaudit"]
CMD ["--help"]
