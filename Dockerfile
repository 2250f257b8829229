# pathwatch: worker, simulator and CLI in one image.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml setup.py README.md* ./
COPY pathways pathways
COPY geo geo
COPY streams streams
COPY simulators simulators
# gcc, for the per-event modules that mypyc compiles (setup.py); removed once they are built
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && pip install . \
 && (cd / && python -c "import pathways, sys; print(pathways.BUILD); sys.exit(not pathways.COMPILED)") \
 && apt-get purge -y --auto-remove gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/* /src/build

RUN useradd --system --uid 10001 --home-dir /var/lib/pathwatch --create-home pathwatch
USER pathwatch
WORKDIR /var/lib/pathwatch
ENV PATHWATCH_HOME=/var/lib/pathwatch

EXPOSE 6066
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=6 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:6066/healthz', timeout=4)"]

ENTRYPOINT ["pathwatch"]
CMD ["worker", "--web-host", "0.0.0.0", "--web-port", "6066"]
