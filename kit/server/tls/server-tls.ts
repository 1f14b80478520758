import { statSync, type Stats } from "node:fs";
import { stat } from "node:fs/promises";
import { createSecureContext, type SecureContextOptions, type Server as TlsServer } from "node:tls";
import { type PemContents, readPemFile } from "@protomesh/clients";

/** Server certificate files and client-certificate policy. */
export interface ServerTlsOptions {
  /** PEM certificate chain of this server. */
  certFile: string;
  /** PEM private key of certFile. */
  keyFile: string;
  /** PEM CA bundle that client certificates must chain to. Default: none (no client certs). */
  caFile?: string;
  /** Refuse clients without a valid certificate (mTLS). Default: true when caFile is set. */
  requireClientCert?: boolean;
  /**
   * Identify a client certificate without a URI SAN by its subject CN (never a CN that looks like
   * a URI). Default: false: identities come from URI SANs only, and a certificate without one
   * has no identity (allow-lists answer Unauthenticated).
   */
  identityFromCommonName?: boolean;
  /**
   * How often the files are checked for changes; changed files are loaded into the running
   * server (new handshakes use them, open connections keep theirs). Default: 5000 ms; 0 disables.
   */
  reloadIntervalMs?: number;
}

/** Loaded credentials plus the means to keep a running server's copy fresh. */
export interface ServerTls {
  /** Options for `http2.createSecureServer`, as read from disk at load time. */
  readonly serverOptions: SecureContextOptions & { requestCert: boolean; rejectUnauthorized: boolean };
  /**
   * Polls the files and calls `server.setSecureContext` when they change. A half-written
   * rotation (key and certificate not matching) is reported to onError and retried on the next
   * poll; the old credentials stay in use meanwhile. Returns a function that stops polling.
   */
  watch(server: TlsServer, onError: (error: unknown) => void): () => void;
}

const defaultReloadIntervalMs = 5000;

/**
 * Reads the files now, failing fast on a bad path, a file that is not what it is for (a CA file
 * without certificates would make the server refuse every client), or a key that does not match.
 */
export function loadServerTls(options: ServerTlsOptions): ServerTls {
  const requireClientCert = options.requireClientCert ?? options.caFile !== undefined;
  if (requireClientCert && options.caFile === undefined) {
    throw new Error("requireClientCert needs caFile: client certificates are verified against it");
  }
  const reloadIntervalMs = options.reloadIntervalMs ?? defaultReloadIntervalMs;
  if (!Number.isInteger(reloadIntervalMs) || reloadIntervalMs < 0) {
    throw new Error(`reloadIntervalMs must be a non-negative integer, got ${reloadIntervalMs}`);
  }
  const files = [options.certFile, options.keyFile, ...(options.caFile === undefined ? [] : [options.caFile])];
  const read = (): SecureContextOptions => {
    const pem = (option: "certFile" | "keyFile" | "caFile", file: string, contents: PemContents) => {
      try {
        return readPemFile(file, contents);
      } catch (error) {
        throw new Error(`${option}: ${(error as Error).message}`);
      }
    };
    return {
      cert: pem("certFile", options.certFile, "certificates"),
      key: pem("keyFile", options.keyFile, "private key"),
      ...(options.caFile === undefined ? {} : { ca: pem("caFile", options.caFile, "certificates") }),
    };
  };
  const versionOf = (stats: Stats[]): string => stats.map((s) => `${s.mtimeMs}:${s.size}:${s.ino}`).join("|");
  let loadedVersion: string;
  try {
    loadedVersion = versionOf(files.map((file) => statSync(file)));
  } catch (error) {
    // read() reports a missing file by the option it is for.
    read();
    throw error;
  }
  const initial = read();
  try {
    createSecureContext(initial);
  } catch (error) {
    throw new Error(`keyFile ${options.keyFile} is not the key of certFile ${options.certFile} (${(error as Error).message})`);
  }

  return {
    serverOptions: {
      ...initial,
      minVersion: "TLSv1.2",
      requestCert: requireClientCert,
      rejectUnauthorized: requireClientCert,
    },
    watch(server, onError) {
      if (reloadIntervalMs === 0) {
        return () => {};
      }
      let seen = loadedVersion;
      let stopped = false;
      const poll = async (): Promise<void> => {
        const version = versionOf(await Promise.all(files.map((file) => stat(file))));
        if (version === seen) {
          return;
        }
        const context = read();
        // Throws on a mismatched pair; `seen` stays old so the next poll tries again.
        createSecureContext(context);
        server.setSecureContext(context);
        seen = version;
      };
      let timer: NodeJS.Timeout | undefined;
      const schedule = (): void => {
        timer = setTimeout(() => {
          poll()
            .catch(onError)
            .finally(() => {
              if (!stopped) schedule();
            });
        }, reloadIntervalMs);
        timer.unref();
      };
      schedule();
      return () => {
        stopped = true;
        clearTimeout(timer);
      };
    },
  };
}
