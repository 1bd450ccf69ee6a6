# syntax=docker/dockerfile:1
# Oversight registry. See docs/DEPLOYMENT.md.
#   docker build -t oversight-registry .
#   docker run -d --init -p 127.0.0.1:8765:8765 -v oversight-data:/data \
#     -e OVERSIGHT_OPERATOR_TOKEN=... -e OVERSIGHT_LOG_ORIGIN=registry.example.org/oversight-registry \
#     oversight-registry
# Tools run with the same image: docker run --rm -v oversight-data:/data oversight-registry --validate-db

# A Node LTS line still supported (Node 20 reached end of life on 2026-04-30);
# .ci/run runs the whole suite on the same major (test/deploy/runtime.test.ts).
ARG NODE_IMAGE=node:24-bookworm-slim

# The build. better-sqlite3's native addon is fetched prebuilt or compiled here,
# once, against the same Debian and Node as the runtime; the TypeScript build
# then runs, and the dev dependencies are pruned so that only what dist/ loads
# is copied on. The toolchain stays in this stage.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY web ./web
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
# The last three keep the process small under load without churning memory (src/memory-settings.ts).
ENV NODE_ENV=production \
    OVERSIGHT_HOST=0.0.0.0 \
    OVERSIGHT_PORT=8765 \
    OVERSIGHT_DATA=/data \
    NODE_OPTIONS="--max-semi-space-size=4 --max-old-space-size=512" \
    MALLOC_MMAP_THRESHOLD_=131072 \
    MALLOC_TRIM_THRESHOLD_=1048576
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# dist/ reads its version from package.json beside it.
COPY package.json ./
RUN mkdir -p /data && chown 1000:1000 /data && chmod 0700 /data
# uid 1000 is the node image's unprivileged "node" user; numeric so that
# runtimes enforcing non-root can check it.
USER 1000:1000
VOLUME ["/data"]
EXPOSE 8765
# Healthy only while /health says "ok" ("degraded" means the registry refuses
# to write or sign, e.g. after a restored backup that would fork the log).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.OVERSIGHT_PORT||8765)+'/health',{signal:AbortSignal.timeout(4000)}).then(r=>r.json()).then(b=>process.exit(b.status==='ok'?0:1)).catch(()=>process.exit(1))"]
# The base image's CMD ["node"] must not become an argument of main.js.
ENTRYPOINT ["node", "dist/main.js"]
CMD []
