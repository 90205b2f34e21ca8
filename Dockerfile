# etl as a container: `docker compose up` runs `etl daemon` (see docker-compose.yml).

# Build stage: all dependencies, compile TypeScript to dist/.
FROM node:22-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would build before the sources are copied; the build runs below.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Runtime stage: production dependencies and the built code only, run as an unprivileged user.
FROM node:22-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=optional leaves out the embedded PostgreSQL binaries: in a container the database is a
# service of its own (DATABASE_URL), never a server inside the etl container.
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
# The CSV directory is mounted here read-only; the health server listens on 8080.
ENV CSV_FILE=/data/tables/followers.csv \
    HEALTH_PORT=8080
EXPOSE 8080
USER node
ENTRYPOINT ["node", "/app/bin/etl"]
CMD ["daemon"]
