FROM python:3.11-slim
WORKDIR /app
# HOST: the API answers on the container's address, not only its loopback.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HOST=0.0.0.0
# The wheel's packages (pyproject.toml); README.md is its long description. bench/ is one of them:
# `oee` builds the `oee bench` parser from it.
COPY pyproject.toml README.md ./
COPY schema schema
COPY eventlog eventlog
COPY commands commands
COPY processors processors
COPY projections projections
COPY archive archive
COPY api api
COPY oee oee
COPY bench bench
# Without the `embedded` extra (~45 MB): compose runs the servers; `oee up` without URLs says so.
RUN pip install --no-cache-dir . && useradd --system --uid 10001 oee
USER oee
EXPOSE 3000
CMD ["oee", "api"]
