# Partner Admin Bot — production image (README, Deploying). Two stages: the build stage installs everything and runs
# `npm run build` (the product's TypeScript into dist/, the Import users dialog page into dist/dialogs/); the runtime
# stage installs the production dependencies only and runs the compiled code with plain node, as a non-root user.
#
#   docker build -t partner-admin-bot .
#   docker run -p 3978:3978 --env-file .env partner-admin-bot
#
# Node 22 (an LTS line): Node 20, on which the tests run here, is past its end of life (@azure/identity is pinned to
# 4.13, the last line that supports Node 20; 4.14 asks for Node 22 or later). Override with --build-arg NODE_VERSION=…
ARG NODE_VERSION=22

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY bot ./bot
COPY cards ./cards
COPY services ./services
COPY web ./web
COPY scripts ./scripts
RUN npm run build

FROM node:${NODE_VERSION}-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3978
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/dist ./dist
# The demo provisioning file: the embedded store loads it when REDIS_URL is not set (trying the image, not production).
COPY data ./data
USER node
EXPOSE 3978
# The slim image has no curl: node itself asks /healthz (503 while starting, stopping or when Redis does not answer).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3978) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node is PID 1 and handles SIGTERM itself: stops taking requests, finishes turns in flight, closes Redis, exits 0.
CMD ["node", "--enable-source-maps", "dist/bot/index.js"]
