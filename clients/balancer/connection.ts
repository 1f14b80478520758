import * as net from "node:net";
import * as tls from "node:tls";
import type { Address } from "./address.js";

/** TLS material as of now; read on every new connection, so reloaded certificates apply to the next one. */
export interface TlsSource {
  secureContextOptions(): Pick<tls.SecureContextOptions, "ca" | "cert" | "key">;
}

export interface ConnectionOptions {
  connectTimeoutMs: number;
  tls?: { source: TlsSource; serverName: string };
  /** Called when the socket closes, so the endpoint can reconnect before the next call finds out. */
  onClose: () => void;
}

/**
 * Opens the socket for one HTTP/2 connection (passed to http2.connect as `createConnection`):
 * TCP or TLS with ALPN h2, SNI set to the logical host, and a connect timeout, which
 * connect-node's session manager does not have.
 */
export function openSocket(address: Address, options: ConnectionOptions): net.Socket {
  const serverName = options.tls?.serverName ?? address.host;
  const socket = options.tls
    ? tls.connect({
        host: address.host,
        port: address.port,
        ALPNProtocols: ["h2"],
        // SNI cannot carry an IP address; the identity check below still uses the logical name.
        ...(net.isIP(options.tls.serverName) === 0 ? { servername: options.tls.serverName } : {}),
        checkServerIdentity: (_host, cert) => tls.checkServerIdentity(serverName, cert),
        ...options.tls.source.secureContextOptions(),
      })
    : net.connect({ host: address.host, port: address.port });
  // gRPC frames are small; Nagle would hold them back waiting for ACKs.
  socket.setNoDelay(true);
  const timer = setTimeout(() => {
    socket.destroy(Object.assign(new Error(`connect to ${address.host}:${address.port} timed out after ${options.connectTimeoutMs} ms`), { code: "ETIMEDOUT" }));
  }, options.connectTimeoutMs);
  socket.once(options.tls ? "secureConnect" : "connect", () => clearTimeout(timer));
  socket.once("close", () => {
    clearTimeout(timer);
    options.onClose();
  });
  return socket;
}
