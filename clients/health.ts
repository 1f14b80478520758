// @protomesh/clients/health: gRPC's health protocol (grpc.health.v1), generated from gRPC's own
// definition. The clients' health checks call it; @protomesh/server serves it.
export * from "./gen/grpc/health/v1/health_pb.js";
