import { unwatchFile, watchFile } from "node:fs";
import { createSecureContext, type SecureContextOptions } from "node:tls";
import type { TlsSource } from "../balancer/connection.js";
import { type PemContents, readPemFile } from "./pem-file.js";

type Pem = string | Buffer;

export interface TlsOptions {
  /** CA bundle that signs the servers' certificates (PEM). Default: Node's built-in roots. */
  ca?: Pem;
  /** Client certificate chain for mTLS (PEM). */
  cert?: Pem;
  /** Private key of the client certificate (PEM). */
  key?: Pem;
  /**
   * Paths instead of PEM text; these files are watched and reloaded when they change. Each must
   * hold what it is for (certificates, or a key), or the client is not created.
   */
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** Name the server certificate must carry, and the SNI. Default: the host of the client's authority. */
  serverName?: string;
  /** How often watched files are checked. Default 10 s (certificates rotate hours before expiry). */
  watchIntervalMs?: number;
}

type Material = Pick<SecureContextOptions, "ca" | "cert" | "key">;

/**
 * TLS material from PEM values or files. Files are polled with fs.watchFile (stat-based, so
 * atomic replacement and Kubernetes secret symlink swaps are seen); a changed set is read
 * whole and checked with createSecureContext before it replaces the old one, so a half-written
 * key never breaks new connections. Existing connections keep the certificates they opened with.
 */
export class FileTlsSource implements TlsSource {
  private material: Material;
  private readonly files: string[];

  constructor(
    private readonly options: TlsOptions,
    private readonly onReload: (error: unknown) => void,
  ) {
    this.material = this.read();
    this.files = [options.caFile, options.certFile, options.keyFile].filter((f): f is string => f !== undefined);
    for (const file of this.files) {
      watchFile(file, { interval: options.watchIntervalMs ?? 10_000, persistent: false }, this.reload);
    }
  }

  secureContextOptions(): Material {
    return this.material;
  }

  close(): void {
    for (const file of this.files) {
      unwatchFile(file, this.reload);
    }
  }

  private readonly reload = (): void => {
    try {
      const next = this.read();
      createSecureContext(next);
      this.material = next;
      this.onReload(undefined);
    } catch (error) {
      this.onReload(error);
    }
  };

  private read(): Material {
    const { options } = this;
    const pick = (pem: Pem | undefined, option: "caFile" | "certFile" | "keyFile", contents: PemContents) => {
      const file = options[option];
      if (file === undefined) return pem;
      try {
        return readPemFile(file, contents);
      } catch (error) {
        throw new TypeError(`protomesh client: tls.${option}: ${(error as Error).message}`);
      }
    };
    const ca = pick(options.ca, "caFile", "certificates");
    const cert = pick(options.cert, "certFile", "certificates");
    const key = pick(options.key, "keyFile", "private key");
    return { ...(ca !== undefined ? { ca } : {}), ...(cert !== undefined ? { cert } : {}), ...(key !== undefined ? { key } : {}) };
  }
}
