FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY pyproject.toml README.md ./
COPY schema schema
COPY eventlog eventlog
COPY commands commands
COPY processors processors
COPY projections projections
COPY api api
COPY oee oee
COPY bench bench
RUN pip install --no-cache-dir . && useradd --system --uid 10001 oee
USER oee
EXPOSE 3000
CMD ["oee", "api"]
