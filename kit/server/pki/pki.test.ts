import { X509Certificate } from "node:crypto";
import { once } from "node:events";
import { connect, createServer, type TLSSocket } from "node:tls";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { createCertificateAuthority } from "./pki.js";

describe("dev PKI", () => {
  it("issues leaf certificates with URI, DNS and IP SANs, signed by the CA", async () => {
    const ca = await createCertificateAuthority();
    const leaf = await ca.issue({ commonName: "api", uris: ["spiffe://example.org/api"] });
    const cert = new X509Certificate(leaf.cert);
    expect(cert.subject).toBe("CN=api");
    expect(cert.subjectAltName).toContain("URI:spiffe://example.org/api");
    expect(cert.subjectAltName).toContain("DNS:localhost");
    expect(cert.subjectAltName).toContain("IP Address:127.0.0.1");
    expect(cert.verify(new X509Certificate(ca.cert).publicKey)).toBe(true);
    expect(cert.ca).toBe(false);
    expect(new X509Certificate(ca.cert).ca).toBe(true);
  });

  it("makes certificates that complete a real mutual TLS handshake, and expired ones that do not", async () => {
    const ca = await createCertificateAuthority();
    const server = await ca.issue({ commonName: "items", uris: ["spiffe://example.org/items"] });
    const client = await ca.issue({ commonName: "api", uris: ["spiffe://example.org/api"] });
    const expired = await ca.issue({ commonName: "old", notBefore: new Date(Date.now() - 2 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) });

    const tlsServer = createServer({ ...server, ca: ca.cert, requestCert: true, rejectUnauthorized: true }, (socket) => {
      socket.end(String((socket.getPeerX509Certificate()?.subjectAltName) ?? ""));
    });
    tlsServer.on("tlsClientError", () => {});
    tlsServer.listen(0, "127.0.0.1");
    await once(tlsServer, "listening");
    const { port } = tlsServer.address() as AddressInfo;
    try {
      const handshake = async (pair: { cert: string; key: string }) => {
        const socket: TLSSocket = connect({ host: "127.0.0.1", port, servername: "localhost", ca: ca.cert, ...pair });
        let received = "";
        socket.on("data", (chunk: Buffer) => (received += chunk.toString()));
        const closed = once(socket, "close");
        const failed = once(socket, "error").then(([error]) => error as Error);
        const outcome = await Promise.race([closed.then(() => received), failed]);
        socket.destroy();
        return outcome;
      };
      expect(await handshake(client)).toContain("URI:spiffe://example.org/api");
      // The server answers only after a completed handshake; a refused one yields an error or
      // a closed socket with nothing received.
      const refused = await handshake(expired);
      expect(refused instanceof Error ? "" : refused).toBe("");
    } finally {
      tlsServer.close();
    }
  });
});
