export { freePort } from "./free-port.js";
export { startNatsServer, startNatsCluster, type NatsServer, type NatsCluster } from "./nats-server.js";
export { startPostgresServer, type PostgresServer } from "./postgres-server.js";
export { createTestDatabase, SHARED_POSTGRES_URL, type TestDatabase } from "./databases.js";
export { SHARED_NATS_URL, uniqueName, streamJanitor, type StreamJanitor } from "./nats-streams.js";
export { requireBuild } from "./built.js";
export { processesMarkedBy, runMark, spawnMarkedRun, stopMarkedRuns, type MarkedRun } from "./process.js";
export { startRedisServer, type RedisServer } from "./redis-server.js";
export { fencedBlocks, isTypeScript, declaredFile, guideFiles, GUIDE_PAGE, GUIDE_PROJECTS, type FencedBlock, type GuideProject } from "./fenced-blocks.js";
