# syntax=docker/dockerfile:1
# Footfall: one image for `footfall serve` (the default command), `footfall worker` and
# the command-line tools (`docker run --rm IMAGE users create ...`).
#
#   docker build -t footfall .
#   docker run -p 8000:8000 -v footfall-data:/var/lib/footfall footfall
#
# Two stages: the build stage installs into a virtual environment (deploy/install.sh,
# the script the test suite runs in a fresh venv); the runtime stage copies only that
# environment, and runs as an unprivileged user.

ARG PYTHON_VERSION=3.12

FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY footfall ./footfall
COPY deploy/install.sh ./deploy/install.sh
RUN sh deploy/install.sh /opt/footfall /src

FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
RUN groupadd --system --gid 10001 footfall \
    && useradd --system --uid 10001 --gid footfall --home-dir /var/lib/footfall \
       --shell /usr/sbin/nologin footfall \
    && mkdir -p /var/lib/footfall && chown footfall:footfall /var/lib/footfall
COPY --from=build /opt/footfall /opt/footfall
ENV PATH=/opt/footfall/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    FOOTFALL_DATA_DIR=/var/lib/footfall \
    FOOTFALL_HOST=0.0.0.0 \
    FOOTFALL_PORT=8000
USER footfall:footfall
WORKDIR /var/lib/footfall
VOLUME ["/var/lib/footfall"]
EXPOSE 8000
# /api/health answers 200 only when the store answers and the queue accepts events.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/api/health' % os.environ.get('FOOTFALL_PORT', '8000'), timeout=4)"]
# `serve` drains the queue on SIGTERM: give `docker stop` time (--time 150).
STOPSIGNAL SIGTERM
ENTRYPOINT ["footfall"]
CMD ["serve"]
