# The worker and bridge image. Debian-based: Temporal's native core needs glibc, so not Alpine.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts/bundle-workflows.ts ./scripts/
# Compiles to dist/ and prebuilds the workflow bundles (plain, and with tracing's interceptors), so a worker starts
# without bundling.
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    WORKFLOW_BUNDLE_PATH=/app/dist/workflow-bundle.js
# glibc's malloc gives threads that allocate at once (the Temporal core's, libuv's, the workflow thread) arenas of
# their own, up to 8 per core, and memory freed into one (an answer's buffers) is kept there for it. Two arenas: the
# worker's fleet peak 10-25 MB lower at no measurable CPU cost (docs/performance.md). The bench's worker gets it too.
ENV MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The commit the image is built from (`--build-arg GIT_COMMIT=$(git rev-parse --short HEAD)`; docker-compose.yml passes
# it on): the worker's build id once TEMPORAL_DEPLOYMENT_NAME turns Worker Versioning on, so every image that differs
# is a version of its own and no two can share one (docs/deploying.md, "Deploying a new version"). Last, so a new
# commit rebuilds no layer above.
ARG GIT_COMMIT=""
ENV TEMPORAL_BUILD_ID=${GIT_COMMIT}
LABEL org.opencontainers.image.revision=${GIT_COMMIT}
USER node
# The worker; the bridge runs the same image with `node dist/bridge/main.js`. Its young generation is capped at 4 MB
# semi-spaces (V8's default grows to 32 MB): dead answer buffers are collected sooner, the fleet's peak memory is
# 40-50 MB lower at no measurable CPU cost (docs/performance.md). The bench starts its worker with these same flags.
CMD ["node", "--max-semi-space-size=4", "dist/worker/main.js"]
