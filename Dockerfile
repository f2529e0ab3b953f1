# syntax=docker/dockerfile:1
#
# ssh-mcp as a container: the `deno compile` binary, built with the production permission flags for
# the container's paths (HOME=/home/app, data dir /data), on a small Debian runtime, as a non-root user.
#
#   docker build -t ssh-mcp .
#   docker run -d --name ssh-mcp -p 127.0.0.1:8000:8000 -v ssh-mcp-data:/data \
#     -e SSH_MCP_AUTH_TOKEN="$(openssl rand -hex 32)" ssh-mcp
#
# Inside the container the server binds 0.0.0.0 (ENV SSH_MCP_HOST), which it refuses to do without a
# token: without SSH_MCP_AUTH_TOKEN (>= 32 characters) it exits with a message saying so.
# tests/distribution_test.ts checks that the flags below match the `start` and `compile` tasks.

FROM denoland/deno:2.9.6 AS builder
WORKDIR /src
# Dependencies first (cached layer); --frozen fails the build when deno.lock does not match deno.json.
COPY deno.json deno.lock ./
RUN deno install --frozen
COPY main.ts ./
COPY src/ ./src/
# The permission flags are the sandbox: net, our own environment variables, read ~/.ssh and the data
# dir, write the data dir only. They are baked into the binary (it accepts no runtime flags).
RUN deno compile --frozen --unstable-no-legacy-abort \
      --allow-net \
      --allow-env=SSH_MCP_MODE,PORT,SSH_MCP_HOST,SSH_MCP_DEBUG,SSH_MCP_GLOBAL,SSH_MCP_DATA_DIR,SSH_MCP_AUTH_TOKEN,SSH_MCP_ALLOWED_ORIGINS,SSH_MCP_ALLOWED_HOSTS,SSH_MCP_HOST_KEYS,SSH_MCP_SESSION_TIMEOUT,SSH_MCP_COMMAND_TIMEOUT,SSH_MCP_MAX_COMMAND_TIMEOUT,SSH_MCP_MAX_OUTPUT,SSH_MCP_SESSION_HEADER,SSH_MCP_READ_ONLY,SSH_MCP_TOOLSETS,SSH_MCP_KEEPALIVE_INTERVAL,SSH_MCP_KEEPALIVE_COUNT,SSH_MCP_MAX_SESSIONS_PER_PRINCIPAL,SSH_MCP_MAX_SESSIONS,SSH_MCP_CONFIRM,SSH_MCP_POLICY,HOME,XDG_DATA_HOME,SSH_AUTH_SOCK \
      --allow-read=/home/app/.ssh,/data \
      --allow-write=/data \
      --output /out/ssh-mcp main.ts

FROM debian:12-slim
# curl only for HEALTHCHECK; the binary needs glibc, which debian:12-slim has.
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /home/app --create-home --shell /usr/sbin/nologin app \
 && mkdir -p /data /home/app/.ssh \
 && chown app:app /data /home/app/.ssh \
 && chmod 0700 /data /home/app/.ssh
COPY --from=builder /out/ssh-mcp /usr/local/bin/ssh-mcp
ENV HOME=/home/app \
    SSH_MCP_DATA_DIR=/data \
    SSH_MCP_HOST=0.0.0.0 \
    PORT=8000
USER app
WORKDIR /home/app
# Identity key, known_hosts, captures and the audit log: keep them across container restarts.
VOLUME ["/data"]
EXPOSE 8000
# /healthz needs no token; the Host header 127.0.0.1 is in the default allowlist (keep it there when
# setting SSH_MCP_ALLOWED_HOSTS).
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8000/healthz"]
ENTRYPOINT ["/usr/local/bin/ssh-mcp"]
CMD ["-mode", "http"]
