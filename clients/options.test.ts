import { describe, expect, it } from "vitest";
import { resolveClientOptions } from "@protomesh/clients";

describe("resolveClientOptions", () => {
  it("takes gRPC's dns:///host:port as the host name it names, authority included", () => {
    expect(resolveClientOptions({ target: "dns:///items.shop:8443" })).toMatchObject({
      target: { kind: "dns", host: "items.shop", port: 8443 },
      authority: "items.shop:8443",
    });
    expect(resolveClientOptions({ target: "dns:///10.0.0.7:8443" }).target).toEqual({ kind: "static", addresses: [{ host: "10.0.0.7", port: 8443 }] });
  });

  it("refuses a target without a port or with a DNS server of its own, saying which", () => {
    expect(() => resolveClientOptions({ target: "items.shop" })).toThrow('invalid address "items.shop": expected host:port');
    expect(() => resolveClientOptions({ target: "dns://8.8.8.8/items.shop:8443" })).toThrow(
      'invalid target "dns://8.8.8.8/items.shop:8443": a DNS server of its own is not supported, write dns:///host:port',
    );
  });
});
