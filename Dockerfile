# syntax=docker/dockerfile:1
# Multi-stage: compile TypeScript with the dev dependencies, ship dist/ with production ones only.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
USER node
# 8080: HTTP API, on every interface of the container.
EXPOSE 8080
ENTRYPOINT ["node", "--max-semi-space-size=64", "bin/sluice.js"]
CMD ["run", "--http-host", "0.0.0.0"]
