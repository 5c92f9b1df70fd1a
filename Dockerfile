# syntax=docker/dockerfile:1
#
# One image for all five services. Pick the service with the SERVICE build argument (docker-compose.yml
# builds it five times, sharing every layer but the last ENV) or by overriding the SERVICE environment
# variable at run time (the Kubernetes manifests run one image with `env: SERVICE=<name>`):
#
#   docker build --build-arg SERVICE=order-service -t payments/order-service .
#   docker run -e SERVICE=payment-service ... payments/order-service   # same image, other service
#
# The build stage bundles every service with `npm run build` (esbuild, scripts/build.ts) into
# dist/services/<name>/main.js; the runtime image runs that compiled JavaScript with plain
# `node --enable-source-maps` (stack traces still name the .ts lines), on production node_modules only:
# no tsx, no TypeScript sources. There is no HEALTHCHECK here: the ports differ per service, so
# docker-compose.yml and the Kubernetes probes check each service's /readyz and /healthz themselves.

# An exact Node.js release (package.json's engines: >= 20.19), so a rebuild gets the same runtime. To pin
# the bytes too, add the digest: --build-arg NODE_IMAGE=node:20.19.5-bookworm-slim@sha256:<digest>
# (deploy/README.md says how to find it).
ARG NODE_IMAGE=node:20.19.5-bookworm-slim

# ---- deps: every dependency (the build needs esbuild and tsx), from the lock file only --------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
# The lock file and every workspace's package.json first, so this layer (and `npm ci`) is rebuilt only
# when dependencies change, not on every source edit. Adding a workspace means adding its line here
# (test/deploy/compose.test.ts checks that every workspace is listed).
COPY package.json package-lock.json ./
COPY libs/aggregate/package.json libs/aggregate/
COPY libs/arrivals/package.json libs/arrivals/
COPY libs/auth/package.json libs/auth/
COPY libs/client/package.json libs/client/
COPY libs/config/package.json libs/config/
COPY libs/contracts/package.json libs/contracts/
COPY libs/db/package.json libs/db/
COPY libs/errors/package.json libs/errors/
COPY libs/harness/package.json libs/harness/
COPY libs/http/package.json libs/http/
COPY libs/logger/package.json libs/logger/
COPY libs/messaging/package.json libs/messaging/
COPY libs/metrics/package.json libs/metrics/
COPY libs/money/package.json libs/money/
COPY libs/outbox/package.json libs/outbox/
COPY libs/providers/package.json libs/providers/
COPY libs/provider-clients/package.json libs/provider-clients/
COPY libs/runtime/package.json libs/runtime/
COPY libs/state-machine/package.json libs/state-machine/
COPY services/api-gateway/package.json services/api-gateway/
COPY services/audit-service/package.json services/audit-service/
COPY services/callback-gateway/package.json services/callback-gateway/
COPY services/order-service/package.json services/order-service/
COPY services/payment-service/package.json services/payment-service/
# The provider simulator is a development tool: only its manifest (npm ci needs every workspace), never its code.
COPY tools/provider-sim/package.json tools/provider-sim/
# The workspaces become symlinks node_modules/@pay/* -> ../../libs/*, which resolve once the sources are
# copied in the build stage (the bundles take them in; the runtime image needs no libs/).
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund

# ---- build: dist/services/<name>/main.js for all five ---------------------------------------------------
FROM deps AS build
COPY tsconfig.json ./
COPY libs ./libs
COPY services ./services
COPY scripts/build.ts ./scripts/
# The broker definitions generator, which docker-compose.yml's broker-definitions one-shot runs in this stage (tsx).
COPY scripts/broker-definitions.ts ./scripts/
# Fails the image build on any bundling error (types are checked by `npm test`, not here).
RUN npm run build

# ---- prod-deps: the same node_modules without devDependencies (esbuild, tsx, jest, ...) -------------------
FROM deps AS prod-deps
RUN --mount=type=cache,target=/root/.npm \
    npm prune --omit=dev --no-audit --no-fund

# ---- runtime ----------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ARG SERVICE
ENV NODE_ENV=production \
    SERVICE=${SERVICE}
WORKDIR /app
# Owned by root and read-only for the process: the running service cannot rewrite its own code.
# node_modules holds the packages the bundles leave external (express, mongoose, ...); every service's
# bundle is copied, so SERVICE can also pick another one at run time.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY package.json ./
COPY --from=build /app/dist ./dist
# The node image's unprivileged user `node`, by number (uid/gid 1000): a runtime can then verify that
# the image does not run as root (Kubernetes' runAsNonRoot refuses a user name it cannot resolve).
USER 1000:1000
# Informational: 8080 api-gateway, 8081 callback-gateway, 8082 order, 8083 payment, 8084 audit.
EXPOSE 8080 8081 8082 8083 8084
# exec: node becomes PID 1 and receives SIGTERM itself (graceful shutdown, see libs/http onShutdown).
CMD ["sh","-c","exec node --enable-source-maps dist/services/$SERVICE/main.js"]
