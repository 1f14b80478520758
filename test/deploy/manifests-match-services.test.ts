// The manifests against what the services really read: each variable goes through the service's
// own config parser, ports and certificate paths are compared with the parsed configuration,
// the NATS values with the stream replicas, the network policies with the allow-lists.
import { readFileSync } from "node:fs";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { isConfigError, type CommonServiceConfig } from "protomesh/kit/config";
import { probeTargetFromEnv } from "../../deploy/probe/health-probe.js";
import { loadOrdersConfig } from "../../services/orders/config.js";
import { inventoryService } from "../../services/inventory/service.js";
import { ordersService } from "../../services/orders/service.js";
import { paymentsService } from "../../services/payments/service.js";
import { loadInventoryConfig } from "../../services/inventory/config.js";
import { loadPaymentsConfig } from "../../services/payments/config.js";
import { deployRoot, find, peerNames, renderProduction, shopEnvironment, shopServiceManifests, shopServices, type ShopService } from "./shop-manifests.js";

const objects = renderProduction();
const environmentOf = (service: ShopService) => shopEnvironment(objects, service);
const loaders = { orders: loadOrdersConfig, inventory: loadInventoryConfig, payments: loadPaymentsConfig };
const loaderOf = (service: ShopService): ((env: Record<string, string | undefined>) => CommonServiceConfig) => loaders[service];
/** What cert-manager writes into a Certificate's Secret. */
const certManagerKeys = ["tls.crt", "tls.key", "ca.crt"];
/** Time the host needs after the transport's drain: consumers, relay, NATS drain, database close. */
const shutdownMarginMs = 5_000;

describe.each(shopServices)("%s manifests", (service) => {
  const m = shopServiceManifests(objects, service);
  const env = environmentOf(service);
  const config = loaderOf(service)(env);

  it("set only variables the service reads: changing any of them changes the parsed config or is refused by name", () => {
    expect(unreadVariables(loaderOf(service), env)).toEqual([]);
    // The check itself: a misspelt variable, or one another setting overrides, is caught.
    expect(unreadVariables(loaderOf(service), { ...env, NATS_URLS: "nats://elsewhere:4222", DATA_DIR: "/data" })).toEqual(["NATS_URLS", "DATA_DIR"]);
  });

  it("run the service by the name services/serve.ts knows it by", () => {
    expect(m.container.command).toEqual(["node", "dist/services/serve.js", service]);
    expect(readFileSync(path.join(deployRoot, "../services/serve.ts"), "utf8")).toContain(`${service}: () => ${service}Service()`);
  });

  it("listen on all interfaces, on the port the container, the headless service and the policy name", () => {
    expect(config.host).toBe("0.0.0.0");
    expect(m.container.ports).toEqual([{ name: "grpc", containerPort: config.port, protocol: "TCP" }]);
    expect(m.service.spec.clusterIP).toBe("None");
    expect(m.service.spec.ports).toEqual([{ name: "grpc", port: config.port, targetPort: "grpc", protocol: "TCP" }]);
    expect(m.service.spec.selector).toEqual({ "app.kubernetes.io/name": service });
    expect(m.networkPolicy.spec.ingress?.flatMap((rule) => rule.ports.map((p) => p.port))).toEqual([config.port]);
  });

  it("read mTLS files from the mounted cert-manager Secret of a Certificate with the service's identity", () => {
    expect(config.tls).toBeDefined();
    const files = [config.tls?.certFile, config.tls?.keyFile, config.tls?.caFile];
    const mount = m.container.volumeMounts.find((v) => files.every((f) => f !== undefined && path.dirname(f) === v.mountPath));
    expect(mount?.readOnly).toBe(true);
    expect(files.map((f) => path.basename(f ?? ""))).toEqual(certManagerKeys);
    const volume = m.pod.volumes.find((v) => v.name === mount?.name);
    // No `items` remapping and no subPath: renewed certificates reach the files the server polls.
    expect(volume?.secret).toEqual({ secretName: m.certificate.spec.secretName });
    expect(m.certificate.spec.uris).toEqual([`spiffe://shop/${service}`]);
    expect(m.certificate.spec.usages).toEqual(expect.arrayContaining(["server auth", "client auth"]));
  });

  it("probe health with the probe command built from this container's own configuration", () => {
    const probes = { startupProbe: "liveness", readinessProbe: "readiness", livenessProbe: "liveness" } as const;
    for (const [probe, kind] of Object.entries(probes)) {
      const spec = m.container[probe as keyof typeof probes];
      expect(spec?.exec?.command, probe).toEqual(["node", "dist/deploy/probe/cli.js", service, kind]);
      // The probe gives up after 2 s by itself; the kubelet must wait longer than that.
      expect(spec?.timeoutSeconds, probe).toBeGreaterThanOrEqual(3);
    }
    // The probe reads the port and TLS files from the same variables, with the same meaning.
    expect(probeTargetFromEnv(env)).toEqual({ port: config.port, tls: config.tls });
    for (const variable of ["PORT", "TLS_CERT_FILE", "TLS_KEY_FILE", "TLS_CA_FILE"]) {
      expect(m.configMap.data, `${variable} is set explicitly, so no default is repeated in the probe`).toHaveProperty(variable);
    }
  });

  it("give the kubelet's grace period room for the transport's drain plus the rest of the shutdown", () => {
    expect(m.pod.terminationGracePeriodSeconds * 1000).toBeGreaterThanOrEqual(config.shutdownGraceMs + shutdownMarginMs);
    expect(m.pod.terminationGracePeriodSeconds * 1000).toBeLessThanOrEqual(config.shutdownGraceMs + 30_000);
  });

  it("run several replicas, of which a voluntary disruption takes at most one", () => {
    expect(m.deployment.spec.replicas).toBeGreaterThanOrEqual(3);
    expect(m.disruptionBudget.spec.maxUnavailable).toBe(1);
    expect(m.disruptionBudget.spec.selector.matchLabels).toEqual({ "app.kubernetes.io/name": service });
  });

  it("connect to the NATS release of deploy/nats with as many stream copies as it has nodes", () => {
    const values = parse(readFileSync(path.join(deployRoot, "nats/values.yaml"), "utf8")) as {
      config: { cluster: { enabled: boolean; replicas: number }; jetstream: { enabled: boolean; fileStore: { enabled: boolean; pvc: { enabled: boolean } }; memoryStore: { enabled: boolean } } };
    };
    expect(values.config.cluster).toMatchObject({ enabled: true, replicas: 3 });
    expect(values.config.jetstream).toMatchObject({ enabled: true, fileStore: { enabled: true, pvc: { enabled: true } }, memoryStore: { enabled: false } });
    expect(config.streamReplicas).toBe(values.config.cluster.replicas);
    // Release "nats" of the chart serves clients on the Service "nats", port 4222.
    expect(config.natsServers).toEqual(["nats://nats:4222"]);
    const backends = find<typeof m.networkPolicy>(objects, "NetworkPolicy", "shop-backends").spec;
    const natsRule = backends.egress?.find((rule) => peerNames(rule.to).includes("nats"));
    expect(natsRule?.ports).toEqual([{ protocol: "TCP", port: 4222 }]);
  });

  it("admit through the network policy only callers that the service's allow-list admits", async () => {
    const allow = await allowListOf(service);
    const callers = new Set(Object.values(allow).flat());
    const admitted = m.networkPolicy.spec.ingress?.flatMap((rule) => peerNames(rule.from)) ?? [];
    expect(admitted.length).toBeGreaterThan(0);
    expect(admitted.filter((name) => !callers.has(`spiffe://shop/${name}`))).toEqual([]);
  });
});

describe("the saga's calls", () => {
  it("orders reaches inventory through its headless service, and no service calls any other", () => {
    const orders = loadOrdersConfig(environmentOf("orders"));
    const inventory = loadInventoryConfig(environmentOf("inventory"));
    expect(orders.inventory.target).toEqual([`inventory:${inventory.port}`]);
    const egress = Object.fromEntries(
      shopServices.map((s) => [s, (shopServiceManifests(objects, s).networkPolicy.spec.egress ?? []).map((rule) => ({ to: peerNames(rule.to), ports: rule.ports.map((p) => p.port) }))]),
    );
    expect(egress).toEqual({ orders: [{ to: ["inventory"], ports: [inventory.port] }], inventory: [], payments: [] });
    expect(shopServiceManifests(objects, "inventory").networkPolicy.spec.ingress?.flatMap((r) => peerNames(r.from))).toContain("orders");
  });

  it("inventory's certificate carries the name the orders client checks", () => {
    // services/orders/service.ts checks inventory's certificate against "localhost".
    expect(shopServiceManifests(objects, "inventory").certificate.spec.dnsNames).toContain("localhost");
  });

  it("every shop pod is covered by the default deny, for ingress and egress", () => {
    const deny = find<ReturnType<typeof shopServiceManifests>["networkPolicy"]>(objects, "NetworkPolicy", "shop-default-deny").spec;
    expect(deny).toEqual({ podSelector: { matchLabels: { "app.kubernetes.io/part-of": "shop" } }, policyTypes: ["Ingress", "Egress"] });
    for (const s of shopServices) {
      expect(shopServiceManifests(objects, s).deployment.spec.template).toMatchObject({ metadata: { labels: { "app.kubernetes.io/part-of": "shop" } } });
    }
  });
});

/** Variables whose value the parser ignores: a changed value neither changes the result nor is refused by name. */
function unreadVariables(load: (env: Record<string, string | undefined>) => unknown, env: Record<string, string>): string[] {
  const parsed = load(env);
  return Object.keys(env).filter((name) => {
    try {
      return isDeepStrictEqual(load({ ...env, [name]: `${env[name]}-changed` }), parsed);
    } catch (error) {
      return !(isConfigError(error) && error.problems.some((p) => p.startsWith(`${name}:`)));
    }
  });
}

async function allowListOf(service: ShopService): Promise<Readonly<Record<string, readonly string[]>>> {
  const env = environmentOf(service);
  if (service === "orders") {
    // Building the orders definition opens its inventory client (without the certificate files,
    // which exist only in the pod; the allow-list does not depend on them); close it right away.
    const { TLS_CERT_FILE: _cert, TLS_KEY_FILE: _key, TLS_CA_FILE: _ca, ...withoutTls } = env;
    const definition = ordersService(loadOrdersConfig(withoutTls));
    await definition.dispose?.();
    return definition.allow ?? {};
  }
  return (service === "inventory" ? inventoryService(loadInventoryConfig(env)) : paymentsService(loadPaymentsConfig(env))).allow ?? {};
}
