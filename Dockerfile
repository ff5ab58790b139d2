# syntax=docker/dockerfile:1
# Multi-stage: compile TypeScript with the dev dependencies, ship dist/ with production ones only.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# npm install, not npm ci: the lock file lists only the linux-x64/arm64 builds of biome's platform
# packages (all the registry serves), and npm ci's strict sync check refuses it for the others.
# With the lock present, npm install installs the locked versions all the same (as .ci/run does).
RUN npm install --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# uWebSockets.js ships its binary for every platform and Node ABI (133 MB): only this image's
# one stays (node_modules 156 MB -> 30 MB).
RUN npm install --omit=dev --no-audit --no-fund && npm cache clean --force \
 && find node_modules/uWebSockets.js/dist/bin -name '*.node' \
      ! -name "uws_$(node -p process.platform)_$(node -p process.arch)_$(node -p process.versions.modules).node" -delete
COPY --from=build /app/dist ./dist
COPY bin ./bin
USER node
# 8080: HTTP API, on every interface of the container.
EXPOSE 8080
ENTRYPOINT ["node", "--max-semi-space-size=64", "bin/sluice.js"]
CMD ["run", "--http-host", "0.0.0.0"]
