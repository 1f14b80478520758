import type { TLSSocket } from "node:tls";
import { describe, expect, it } from "vitest";
import { parseSubjectAltNames, peerIdentityOf } from "./peer-identity.js";

/** A verified socket as Node reports it, without a handshake. */
function verifiedSocket(subjectaltname: string | undefined, commonName: string): TLSSocket {
  const certificate = { raw: Buffer.alloc(0), subject: { CN: commonName }, subjectaltname, fingerprint256: "AB:CD" };
  return { authorized: true, getPeerCertificate: () => certificate } as unknown as TLSSocket;
}

describe("peerIdentityOf", () => {
  it.each([
    ["the first URI SAN", "DNS:localhost, URI:spiffe://example.org/api, URI:spiffe://example.org/other", "api", {}, "spiffe://example.org/api"],
    ["no identity from the CN by default", "DNS:localhost", "batch-job", {}, undefined],
    ["no identity from a CN that is a SPIFFE ID", undefined, "spiffe://example.org/gateway", {}, undefined],
    ["the CN when enabled and there is no URI SAN", "DNS:localhost", "batch-job", { identityFromCommonName: true }, "batch-job"],
    ["the URI SAN over the CN when both exist", "URI:spiffe://example.org/api", "batch-job", { identityFromCommonName: true }, "spiffe://example.org/api"],
    ["no identity from a CN that looks like a URI, even when enabled", undefined, "spiffe://example.org/gateway", { identityFromCommonName: true }, undefined],
  ])("takes %s", (_name, sans, commonName, options, expected) => {
    expect(peerIdentityOf(verifiedSocket(sans, commonName), options)?.id).toBe(expected);
  });

  it("has no identity for a socket whose certificate was not verified", () => {
    const socket = { ...verifiedSocket("URI:spiffe://example.org/api", "api"), authorized: false } as TLSSocket;
    expect(peerIdentityOf(socket)).toBeUndefined();
  });
});

describe("parseSubjectAltNames", () => {
  it("splits Node's subjectaltname into kinds and values", () => {
    expect(parseSubjectAltNames("DNS:localhost, IP Address:127.0.0.1, URI:spiffe://example.org/api")).toEqual([
      ["DNS", "localhost"],
      ["IP Address", "127.0.0.1"],
      ["URI", "spiffe://example.org/api"],
    ]);
  });

  it("keeps a quoted value with a comma as one name, so a SAN cannot smuggle a second one", () => {
    expect(parseSubjectAltNames('URI:"spiffe://example.org/a, URI:spiffe://example.org/admin", DNS:x')).toEqual([
      ["URI", "spiffe://example.org/a, URI:spiffe://example.org/admin"],
      ["DNS", "x"],
    ]);
  });

  it("returns nothing for an empty string", () => {
    expect(parseSubjectAltNames("")).toEqual([]);
  });
});
