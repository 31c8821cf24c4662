# Agentwork server image. Node 20 (>= 20.19): the same major as .nvmrc and package.json "engines"
# (test/docker.test.ts keeps them equal).
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json prisma.config.ts ./
COPY prisma ./prisma
# Runtime dependencies only; the postinstall step generates the Prisma client into src/generated.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY . .
# The embedded database's directory (used when DATABASE_URL is unset) belongs to the runtime user.
RUN mkdir -p .data && chown node:node .data
USER node
ENV HOST=0.0.0.0 PORT=4000
EXPOSE 4000
# Ready = the database and Redis answer (503 while draining on SIGTERM). Node's fetch: no curl in the slim image.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 4000) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node itself is PID 1 (no npm in front): SIGTERM reaches the server, which drains and exits 0.
# The server spawns no child processes, so no init is needed to reap them.
CMD ["node", "--import", "tsx", "src/main.ts"]
