import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import type { Endpoint } from "../endpoint.js";

export interface ActiveHealthOptions {
  /** Service name sent in HealthCheckRequest; "" asks for the whole server (gRPC core: healthCheckConfig.serviceName). */
  serviceName: string;
  intervalMs: number;
  timeoutMs: number;
}

interface Watch {
  client: Client<typeof Health>;
  timer: NodeJS.Timeout | undefined;
  running: boolean;
  stopped: boolean;
}

/**
 * Polls grpc.health.v1 Check on every connected endpoint. SERVING admits it (and, as a probe,
 * closes a half-open circuit); NOT_SERVING and SERVICE_UNKNOWN eject it; no answer within
 * `timeoutMs` (a frozen or wedged process) ejects it as unresponsive, within the outlier limits
 * (`mayEject`: never the last endpoint), until a check passes; Unimplemented means the server has
 * no health service, so the endpoint is taken as serving and no longer polled (as gRPC core
 * does). Other errors change nothing: connection failures are handled elsewhere.
 */
export class ActiveHealthChecker {
  private readonly watches = new Map<Endpoint, Watch>();

  constructor(
    private readonly options: ActiveHealthOptions,
    private readonly origin: string,
    private readonly authority: string,
    /** Whether one more endpoint may be taken out for not answering (the balancer's outlier limits). */
    private readonly mayEject: () => boolean,
  ) {}

  watch(endpoint: Endpoint): void {
    const origin = this.origin;
    const authority = this.authority;
    const transport = createGrpcTransport({
      baseUrl: origin,
      sessionManager: {
        // The URL form drops a default port (https://host:443 -> https://host), and connect-node
        // compares it with the request URL, which went through the same normalization.
        authority: new URL(origin).origin,
        request: (method, path, headers, options) =>
          endpoint.session.request(method, path, { ...headers, ":authority": authority }, options),
        notifyResponseByteRead: (stream) => endpoint.session.notifyResponseByteRead(stream),
      },
    });
    this.watches.set(endpoint, { client: createClient(Health, transport), timer: undefined, running: false, stopped: false });
  }

  unwatch(endpoint: Endpoint): void {
    const watch = this.watches.get(endpoint);
    if (watch !== undefined) {
      watch.stopped = true;
      clearTimeout(watch.timer);
      this.watches.delete(endpoint);
    }
  }

  /** Checks now (the endpoint just connected), then every interval. */
  checkNow(endpoint: Endpoint): void {
    const watch = this.watches.get(endpoint);
    if (watch === undefined || watch.running || watch.stopped) {
      return;
    }
    clearTimeout(watch.timer);
    watch.running = true;
    void this.check(endpoint, watch).then((again) => {
      watch.running = false;
      if (again && !watch.stopped) {
        watch.timer = setTimeout(() => this.checkNow(endpoint), this.options.intervalMs);
        watch.timer.unref();
      }
    });
  }

  close(): void {
    for (const endpoint of [...this.watches.keys()]) {
      this.unwatch(endpoint);
    }
  }

  private async check(endpoint: Endpoint, watch: Watch): Promise<boolean> {
    if (endpoint.connectivity.kind !== "ready") {
      return true;
    }
    try {
      const res = await watch.client.check({ service: this.options.serviceName }, { timeoutMs: this.options.timeoutMs });
      if (watch.stopped) {
        return false;
      }
      if (res.status === HealthCheckResponse_ServingStatus.SERVING) {
        endpoint.breaker.onSuccess();
        endpoint.setHealth("serving");
      } else {
        endpoint.setHealth("not-serving");
      }
      return true;
    } catch (error) {
      const code = ConnectError.from(error).code;
      if (code === Code.Unimplemented) {
        endpoint.setHealth("serving");
        return false;
      }
      if (code === Code.DeadlineExceeded && !watch.stopped && endpoint.health !== "unresponsive" && this.mayEject()) {
        endpoint.setHealth("unresponsive");
      }
      return true;
    }
  }
}
