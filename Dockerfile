# The local AWS runtime (moto + executors that really run the Lambda, Glue/Spark, crawlers and Athena/DuckDB)
# as the `local-aws` service of docker-compose.yaml. Same uv.lock as the laptop; no dev/infra groups.
FROM python:3.11-slim-bookworm

# Java 17 runs the Glue jobs' local Spark 3.5.
RUN apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    PYTHONUNBUFFERED=1 \
    PATH=/app/.venv/bin:$PATH \
    PYTHONPATH=/app/plugins:/app/include:/app

RUN pip install --no-cache-dir uv
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-group infra --no-install-project

COPY plugins/ plugins/
COPY local/ local/
COPY localaws/ localaws/
COPY include/ include/

# Inside the container the server must listen on every interface so the Airflow containers reach it;
# docker-compose publishes it on 127.0.0.1 of the host only.
EXPOSE 4566
USER nobody
CMD ["python", "-m", "local", "serve", "--host", "0.0.0.0", "--port", "4566"]
