// The Kubernetes exec probe (run by cli.ts). Kubernetes' native gRPC probes speak cleartext only,
// and the services serve TLS or mTLS on their one port, so the probe runs inside the container,
// reads the service's own variables (PORT, TLS_*) and asks grpc.health.v1 Check over loopback.
//
// The kubelet starts it every few seconds in every pod, so it imports nothing but node:http2:
// Connect, zod and the generated code would triple its CPU cost (ADR 0081). Its reading of the
// variables is checked against the services' parsers in test/deploy.
import { readFileSync } from "node:fs";
import http2 from "node:http2";

/**
 * readiness: the process answers SERVING (database and NATS usable), so clients may send calls.
 * liveness: the process answers at all, SERVING or NOT_SERVING; a database outage must not make
 * the kubelet restart every replica, which would only add start-up load to the outage.
 */
export type ProbeKind = "readiness" | "liveness";

/** Where the service listens and with what TLS files, as the service reads them. */
export interface ProbeTarget {
  port: number;
  tls: { certFile: string; keyFile: string; caFile: string | undefined } | undefined;
}

export interface ProbeResult {
  healthy: boolean;
  /** The serving status name, or why there was none. */
  reason: string;
}

/** grpc.health.v1.HealthCheckResponse.ServingStatus, by number. */
const servingStatus = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"] as const;

/**
 * The probe's reading of the service's variables: PORT (required, so no service default is
 * repeated here), TLS_CERT_FILE and TLS_KEY_FILE (TLS), TLS_CA_FILE (mTLS). An empty variable is
 * unset, as for the services.
 */
export function probeTargetFromEnv(env: Record<string, string | undefined>): ProbeTarget {
  const value = (name: string) => (env[name] === "" ? undefined : env[name]);
  const port = Number(value("PORT"));
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`PORT must be set to the service's port for the probe, got ${JSON.stringify(env.PORT)}`);
  }
  const certFile = value("TLS_CERT_FILE");
  const keyFile = value("TLS_KEY_FILE");
  return { port, tls: certFile === undefined || keyFile === undefined ? undefined : { certFile, keyFile, caFile: value("TLS_CA_FILE") } };
}

/** Asks the service on 127.0.0.1:<port> for the status of the whole server ("" service name). */
export function probeHealth(kind: ProbeKind, target: ProbeTarget, timeoutMs = 2_000): Promise<ProbeResult> {
  const { tls } = target;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: ProbeResult) => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        session.destroy();
        resolve(result);
      }
    };
    const timer = setTimeout(() => finish({ healthy: false, reason: `no answer within ${timeoutMs} ms` }), timeoutMs);
    const session = http2.connect(
      `${tls === undefined ? "http" : "https"}://127.0.0.1:${target.port}`,
      tls === undefined
        ? {}
        : {
            cert: readFileSync(tls.certFile),
            key: readFileSync(tls.keyFile),
            // The server's chain is checked against the CA when there is one; its name is not,
            // since the probe talks to its own pod over loopback, where no name applies.
            ...(tls.caFile === undefined ? { rejectUnauthorized: false } : { ca: readFileSync(tls.caFile) }),
            checkServerIdentity: () => undefined,
          },
    );
    session.on("error", (error: Error) => finish({ healthy: false, reason: error.message }));
    const stream = session.request({
      ":method": "POST",
      ":path": "/grpc.health.v1.Health/Check",
      "content-type": "application/grpc+proto",
      te: "trailers",
      "grpc-timeout": `${timeoutMs}m`,
    });
    const chunks: Buffer[] = [];
    let grpcStatus: string | undefined;
    let grpcMessage = "";
    const readStatus = (headers: http2.IncomingHttpHeaders) => {
      if (headers["grpc-status"] !== undefined) {
        grpcStatus = String(headers["grpc-status"]);
        grpcMessage = decodeURIComponent(String(headers["grpc-message"] ?? ""));
      }
    };
    stream.on("response", readStatus);
    stream.on("trailers", readStatus);
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("error", (error: Error) => finish({ healthy: false, reason: error.message }));
    stream.on("end", () => {
      if (grpcStatus !== "0") {
        finish({ healthy: false, reason: `grpc-status ${grpcStatus ?? "missing"}${grpcMessage === "" ? "" : `: ${grpcMessage}`}` });
        return;
      }
      const status = servingStatus[decodeServingStatus(Buffer.concat(chunks))] ?? "an unknown status";
      finish({ healthy: status === "SERVING" || (kind === "liveness" && status === "NOT_SERVING"), reason: status });
    });
    // One gRPC frame (uncompressed, length 0): HealthCheckRequest{service: ""} encodes to no bytes.
    stream.end(Buffer.alloc(5));
  });
}

/** The `status` (field 1, varint) of one enveloped HealthCheckResponse; 0 when absent, as protobuf says; -1 without a frame. */
function decodeServingStatus(frame: Buffer): number {
  if (frame.length < 5) return -1;
  const message = frame.subarray(5, 5 + frame.readUInt32BE(1));
  let status = 0;
  let offset = 0;
  const varint = (): number => {
    let result = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = message[offset++] ?? 0;
      result += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80 || offset >= message.length) return result;
    }
  };
  while (offset < message.length) {
    const tag = varint();
    const wireType = tag & 7;
    if (tag >>> 3 === 1 && wireType === 0) status = varint();
    else if (wireType === 0) varint();
    else if (wireType === 2) offset += varint();
    else offset += wireType === 1 ? 8 : 4;
  }
  return status;
}
