# One image recipe for every service:  docker build --build-arg SERVICE=intake -t yiwang-intake .
FROM python:3.11-slim AS build
RUN pip install --no-cache-dir uv==0.9.*
WORKDIR /app
ENV UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1
COPY pyproject.toml uv.lock README.md ./
COPY libs libs
COPY services services
ARG SERVICE
RUN test -n "$SERVICE" || (echo "build with --build-arg SERVICE=<intake|grid-routing|department-dispatch|mediation|oversight>" && false)
RUN uv sync --frozen --no-dev --no-editable --package "yiwang-${SERVICE}"

FROM python:3.11-slim
ARG SERVICE
ENV SERVICE=${SERVICE} PATH=/app/.venv/bin:$PATH YIWANG_HTTP_HOST=0.0.0.0 PYTHONUNBUFFERED=1
RUN useradd --system --uid 10001 yiwang
COPY --from=build /app/.venv /app/.venv
USER 10001
CMD ["sh", "-c", "exec yiwang-${SERVICE}"]
