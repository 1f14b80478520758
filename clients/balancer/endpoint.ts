import * as http2 from "node:http2";
import { ConnectError } from "@connectrpc/connect";
import type { Http2SessionManager } from "@connectrpc/connect-node";
import type { IBackoff, IBackoffFactory } from "cockatiel";
import type { CircuitBreaker } from "../resilience/circuit-breaker.js";
import { CallNotSentError } from "./call-not-sent-error.js";
import type { EjectionReason } from "../events.js";
import { type Address, addressKey, type Subset } from "./address.js";
import { EndpointLoad } from "./load.js";

/**
 * Connectivity of an endpoint's HTTP/2 connection (gRPC core's subchannel states).
 */
export type Connectivity =
  /** No connection yet, or the last one closed cleanly; `connect()` or the next call opens one. */
  | { readonly kind: "idle" }
  /** A connection is being opened (bounded by the connect timeout). */
  | { readonly kind: "connecting" }
  /** A connection is open. */
  | { readonly kind: "ready" }
  /** The last attempt failed; a reconnect is scheduled after a backoff. */
  | { readonly kind: "transient-failure"; readonly error: unknown };

/**
 * Result of the grpc.health.v1 checks: "unknown" until the first answer; "unresponsive" when the
 * last check got no answer in time (until one does).
 */
export type Health = "unknown" | "serving" | "not-serving" | "unresponsive";

export interface EndpointDeps {
  /** Creates the session manager; `onSocketClose` must be wired to the connection's socket. */
  createSessionManager(address: Address, onSocketClose: () => void): Http2SessionManager;
  reconnectBackoff: IBackoffFactory<unknown>;
  breaker(endpoint: Endpoint): CircuitBreaker;
  /** Health checks are on: an endpoint is admitted only after a SERVING answer. */
  healthRequired: boolean;
  onReady(endpoint: Endpoint): void;
  onConnectionFailure(endpoint: Endpoint): void;
  onAdmission(endpoint: Endpoint, admitted: boolean, reason: EjectionReason | undefined): void;
}

const { NGHTTP2_REFUSED_STREAM } = http2.constants;

/**
 * A connection that closes sooner than this after opening counts as a failed attempt, so a
 * server that accepts and then drops (a rejected client certificate under TLS 1.3, a crash
 * loop) is retried with backoff instead of in a tight loop.
 */
const MIN_HEALTHY_CONNECTION_MS = 1_000;

/** One address of a service: its connection, health, circuit and load. */
export class Endpoint {
  readonly key: string;
  readonly load = new EndpointLoad();
  readonly breaker: CircuitBreaker;
  readonly session: Http2SessionManager;
  /** The weighted subset it is in now; the resolver may change its weight at any time. */
  subset: Subset | undefined;
  private state: Connectivity = { kind: "idle" };
  private healthState: Health = "unknown";
  private admitted = false;
  /** Set by the balancer: only an endpoint that was admitted once can be "readmitted". */
  wasEverAdmitted = false;
  /** Whether the last connection attempt succeeded: a dropped connection that is being reopened stays admitted until reopening fails. */
  private lastConnectOk = false;
  private backoff: IBackoff<unknown> | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private draining = false;
  private closed = false;
  private readyAt = 0;
  private recyclePending = false;

  constructor(
    readonly address: Address,
    private readonly deps: EndpointDeps,
  ) {
    this.key = addressKey(address);
    this.subset = address.subset;
    this.session = deps.createSessionManager(address, () => this.onSocketClose());
    this.breaker = deps.breaker(this);
  }

  get connectivity(): Connectivity {
    return this.state;
  }

  get health(): Health {
    return this.healthState;
  }

  /** Its health checks say it should get no calls (whether or not they are required). */
  get failsHealthChecks(): boolean {
    return this.healthState === "not-serving" || this.healthState === "unresponsive";
  }

  get isAdmitted(): boolean {
    return this.admitted;
  }

  /** Opens a connection unless one is open or opening. */
  connect(): void {
    if (this.closed || this.draining || this.state.kind === "connecting" || this.state.kind === "ready") {
      return;
    }
    clearTimeout(this.reconnectTimer);
    this.setConnectivity({ kind: "connecting" });
    void this.session.connect().then((result) => {
      if (this.closed) {
        return;
      }
      if (result === "error") {
        this.connectionFailed(this.session.error());
      } else {
        this.backoff = undefined;
        this.lastConnectOk = true;
        this.readyAt = Date.now();
        this.setConnectivity({ kind: "ready" });
        this.deps.onReady(this);
      }
    });
  }

  setHealth(health: Health): void {
    this.healthState = health;
    this.refreshAdmission();
  }

  /** Re-evaluates admission, e.g. after the breaker changed state. */
  refreshAdmission(): void {
    const reason = this.ejectionReason();
    const admitted = reason === undefined;
    if (admitted !== this.admitted) {
      this.admitted = admitted;
      this.deps.onAdmission(this, admitted, reason);
    }
  }

  /**
   * Starts a call on this endpoint and watches its outcome: grpc-status 14, a refused stream or
   * a dead connection count as failures for the circuit; any other status as success; a call the
   * client cancelled tells nothing.
   */
  async request(
    method: string,
    path: string,
    headers: http2.OutgoingHttpHeaders,
    options: Omit<http2.ClientSessionRequestOptions, "signal">,
    probe: boolean,
  ): Promise<http2.ClientHttp2Stream> {
    const token = this.load.begin(performance.now());
    let stream: http2.ClientHttp2Stream;
    try {
      stream = await this.session.request(method, path, headers, options);
    } catch (error) {
      this.load.end(token, performance.now());
      this.breaker.onFailure();
      this.connectionFailed(error);
      // gRPC reports every failure to reach a server, TLS handshake included, as Unavailable.
      throw new CallNotSentError(`cannot reach ${this.key}: ${ConnectError.from(error).rawMessage}`, "connection-failed", error);
    }
    const session = stream.session;
    let status: unknown;
    stream.once("response", (h) => {
      status = h["grpc-status"] ?? (h[":status"] === 200 ? undefined : "http");
    });
    stream.once("trailers", (t: http2.IncomingHttpHeaders) => {
      status = t["grpc-status"];
    });
    stream.once("close", () => {
      this.load.end(token, performance.now());
      const connectionDied = status === undefined && (session === undefined || session.destroyed || session.closed);
      if (status === "14" || stream.rstCode === NGHTTP2_REFUSED_STREAM || connectionDied) {
        this.breaker.onFailure();
      } else if (status !== undefined) {
        this.breaker.onSuccess();
      } else if (probe) {
        this.breaker.onNeutral();
      }
      if (this.load.outstanding === 0) {
        if (this.draining) {
          this.close();
        } else if (this.recyclePending) {
          this.recycle();
        }
      }
    });
    return stream;
  }

  /** Replaces the connection (e.g. after new TLS material), as soon as no call is using it. */
  recycle(): void {
    if (this.closed || this.draining) {
      return;
    }
    if (this.load.outstanding > 0) {
      this.recyclePending = true;
      return;
    }
    this.recyclePending = false;
    clearTimeout(this.reconnectTimer);
    this.session.abort();
    this.setConnectivity({ kind: "idle" });
    this.connect();
  }

  /** Stops taking calls; closes the connection once calls in flight have finished. */
  drain(): void {
    this.draining = true;
    clearTimeout(this.reconnectTimer);
    if (this.load.outstanding === 0) {
      this.close();
    }
  }

  close(): void {
    this.closed = true;
    this.draining = true;
    clearTimeout(this.reconnectTimer);
    this.session.abort();
  }

  private ejectionReason(): EjectionReason | undefined {
    if (!this.lastConnectOk) {
      return "connection-failed";
    }
    if (this.healthState === "not-serving" || (this.deps.healthRequired && this.healthState === "unknown")) {
      return "not-serving";
    }
    if (this.healthState === "unresponsive") {
      return "unresponsive";
    }
    return this.breaker.state().kind === "closed" ? undefined : "consecutive-failures";
  }

  private setConnectivity(state: Connectivity): void {
    this.state = state;
    this.refreshAdmission();
  }

  private connectionFailed(error: unknown): void {
    if (this.closed || this.draining || this.state.kind === "transient-failure") {
      return;
    }
    this.backoff = this.backoff ? this.backoff.next(undefined) : this.deps.reconnectBackoff.next(undefined);
    this.lastConnectOk = false;
    this.setConnectivity({ kind: "transient-failure", error });
    this.reconnectTimer = setTimeout(() => {
      this.setConnectivity({ kind: "idle" });
      this.connect();
    }, this.backoff.duration);
    this.reconnectTimer.unref();
    this.deps.onConnectionFailure(this);
  }

  private onSocketClose(): void {
    // The session manager updates its state on the same close; look once it has.
    setImmediate(() => {
      if (this.closed || this.draining || this.state.kind !== "ready") {
        return;
      }
      const s = this.session.state();
      if (s !== "closed" && s !== "error") {
        return;
      }
      if (Date.now() - this.readyAt < MIN_HEALTHY_CONNECTION_MS) {
        this.connectionFailed(this.session.error() ?? new Error("connection closed right after it opened"));
        return;
      }
      // gRPC core keeps a connection to every endpoint of a balanced channel: reopen at once, so
      // a replica that went away is found before a call is sent to it.
      this.setConnectivity({ kind: "idle" });
      this.connect();
    });
  }
}
