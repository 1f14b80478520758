// The manifests against what the services really read: each variable goes through the service's
// own config parser and telemetry settings, ports and certificate paths are compared with the
// parsed configuration, the NATS values with the stream replicas, the network policies with the
// allow-lists. Every workload of the production overlay is checked, and every workload of the
// sharded overlay (each inventory shard as an inventory of its own).
import "reflect-metadata";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { NestFactory } from "@nestjs/core";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { isConfigError, type CommonServiceConfig } from "../../services/config/index.js";
import { metricsFromEnv, otlpTracesUrl } from "@protomesh/telemetry";
import { probeTargetFromEnv } from "../../deploy/probe/health-probe.js";
import { loadOrdersConfig } from "../../services/orders/config.js";
import { InventoryQuotesModule } from "../../services/orders/inventory-quotes.module.js";
import { INVENTORY_QUOTES } from "../../services/orders/orders.tokens.js";
import { inventoryService } from "../../services/inventory/service.js";
import { ordersService } from "../../services/orders/service.js";
import { paymentsService } from "../../services/payments/service.js";
import { loadInventoryConfig } from "../../services/inventory/config.js";
import { loadPaymentsConfig } from "../../services/payments/config.js";
import type { Manifest } from "./kustomize.js";
import {
  deployRoot,
  find,
  peerNames,
  renderProduction,
  renderSharded,
  selectsPods,
  serviceOf,
  shardedWorkloads,
  shopEnvironment,
  shopServiceManifests,
  shopServices,
  type NetworkPolicySpec,
  type ShopService,
} from "./shop-manifests.js";

const objects = renderProduction();
const overlays = { production: objects, sharded: renderSharded() };
const environmentOf = (service: ShopService) => shopEnvironment(objects, service);
const loaders = { orders: loadOrdersConfig, inventory: loadInventoryConfig, payments: loadPaymentsConfig };
const loaderOf = (service: ShopService): ((env: Record<string, string | undefined>) => CommonServiceConfig) => loaders[service];
/** Everything a service reads from its environment: its config parser and the host's telemetry settings. */
const readerOf =
  (service: ShopService) =>
  (env: Record<string, string | undefined>): unknown => ({ config: loaderOf(service)(env), metrics: metricsFromEnv(env), traces: otlpTracesUrl(env) });
/** What cert-manager writes into a Certificate's Secret. */
const certManagerKeys = ["tls.crt", "tls.key", "ca.crt"];
/** Time the host needs after the transport's drain: consumers, relay, NATS drain, database close. */
const shutdownMarginMs = 5_000;
/** Where @opentelemetry/exporter-prometheus serves (its default endpoint, which the host keeps). */
const metricsPath = "/metrics";

const workloads = [
  ...shopServices.map((workload) => ({ overlay: "production" as const, workload })),
  ...shardedWorkloads.map((workload) => ({ overlay: "sharded" as const, workload })),
];

describe.each(workloads)("$overlay: $workload manifests", ({ overlay, workload }) => {
  const rendered = overlays[overlay];
  const service = serviceOf(workload);
  const m = shopServiceManifests(rendered, workload);
  const env = shopEnvironment(rendered, workload);
  const config = loaderOf(service)(env);
  const metricsPort = metricsFromEnv(env).metricsPort;
  /** The gateway's port, for orders: the other port browsers reach (through the gateway pods). */
  const wsPort = service === "orders" ? loadOrdersConfig(env).statusGateway?.port : undefined;

  it("set only variables the service reads: changing any of them changes the parsed config or is refused", () => {
    expect(unreadVariables(readerOf(service), env)).toEqual([]);
    // The check itself: a misspelt variable, or one another setting overrides, is caught.
    expect(unreadVariables(readerOf(service), { ...env, NATS_URLS: "nats://elsewhere:4222", DATA_DIR: "/data", METRICS_PORTS: "9465" })).toEqual(["NATS_URLS", "DATA_DIR", "METRICS_PORTS"]);
  });

  it("run the service by the name services/serve.ts knows it by", () => {
    expect(m.container.command).toEqual(["node", "dist/services/serve.js", service]);
    // serve.ts lists the name and runs services/<name>/main.ts (built: its bundle).
    expect(readFileSync(path.join(deployRoot, "../services/serve.ts"), "utf8")).toMatch(new RegExp(`const services = \\[[^\\]]*"${service}"`));
    expect(existsSync(path.join(deployRoot, `../services/${service}/main.ts`))).toBe(true);
  });

  it("listen on all interfaces, on the ports the container, the headless service and the policy name", () => {
    expect(config.host).toBe("0.0.0.0");
    const ws = wsPort === undefined ? [] : [{ name: "ws", containerPort: wsPort, protocol: "TCP" }];
    expect(m.container.ports).toEqual([{ name: "grpc", containerPort: config.port, protocol: "TCP" }, { name: "metrics", containerPort: metricsPort, protocol: "TCP" }, ...ws]);
    expect(m.service.spec.clusterIP).toBe("None");
    // The Service publishes what callers reach; the metrics port is scraped pod by pod.
    expect(m.service.spec.ports).toEqual([{ name: "grpc", port: config.port, targetPort: "grpc", protocol: "TCP" }, ...ws.map(({ name, containerPort }) => ({ name, port: containerPort, targetPort: name, protocol: "TCP" }))]);
    expect(m.networkPolicy.spec.ingress?.flatMap((rule) => rule.ports.map((p) => p.port))).toEqual([config.port, ...ws.map((p) => p.containerPort)]);
  });

  it("select with the Service, the budget and the policy the Deployment's pods, whatever their track", () => {
    const { "protomesh.dev/track": _track, ...podsOfAnyTrack } = m.deployment.spec.selector.matchLabels;
    expect(m.service.spec.selector).toEqual(podsOfAnyTrack);
    expect(m.disruptionBudget.spec.selector.matchLabels).toEqual(podsOfAnyTrack);
    expect(m.networkPolicy.spec.podSelector.matchLabels).toEqual(podsOfAnyTrack);
    expect(selectsPods(m.deployment.spec.selector.matchLabels, m.deployment)).toBe(true);
  });

  it("serve metrics where the scrape annotations say, and admit only Prometheus from the monitoring namespace to them", () => {
    expect(metricsPort).toBeDefined();
    expect(m.deployment.spec.template.metadata.annotations).toEqual({ "prometheus.io/scrape": "true", "prometheus.io/port": String(metricsPort), "prometheus.io/path": metricsPath });
    const scrape = policiesSelecting(rendered, m.deployment).filter((p) => p.ingress?.some((rule) => rule.ports.some((port) => port.port === metricsPort)));
    expect(scrape.map((p) => p.ingress)).toEqual([
      [{ from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } }, podSelector: { matchLabels: { "app.kubernetes.io/name": "prometheus" } } }], ports: [{ protocol: "TCP", port: metricsPort }] }],
    ]);
  });

  it("export traces to the collector Service whose pods the egress policy lets them reach, and nowhere else", () => {
    const traces = new URL(otlpTracesUrl(env) ?? "");
    const [serviceName, namespace] = traces.hostname.split(".");
    expect([traces.protocol, serviceName, namespace, traces.pathname]).toEqual(["http:", "otel-collector", "monitoring", "/v1/traces"]);
    const egressRules = policiesSelecting(rendered, m.deployment).flatMap((p) => p.egress ?? []);
    const toCollector = egressRules.filter((rule) => rule.to.some((peer) => peer.namespaceSelector?.matchLabels?.["kubernetes.io/metadata.name"] === namespace));
    expect(toCollector).toEqual([{ to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } }, podSelector: { matchLabels: { "app.kubernetes.io/name": "opentelemetry-collector" } } }], ports: [{ protocol: "TCP", port: Number(traces.port) }] }]);
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
    expect(m.certificate.spec.secretName).toBe(`${workload}-tls`);
    expect(m.certificate.spec.uris).toEqual([`spiffe://shop/${service}`]);
    expect(m.certificate.spec.usages).toEqual(expect.arrayContaining(["server auth", "client auth"]));
    // The names its headless Service is reached by.
    expect(m.certificate.spec.dnsNames).toEqual(expect.arrayContaining([workload, `${workload}.shop.svc`, `${workload}.shop.svc.cluster.local`]));
  });

  it("take secrets from Secrets of the workload's own, never from the ConfigMap", () => {
    const fromSecrets = Object.fromEntries((m.container.env ?? []).map((e) => [e.name, e.valueFrom?.secretKeyRef]));
    expect(fromSecrets.DATABASE_URL).toEqual({ name: `${workload}-database`, key: "url" });
    expect(m.configMap.data).not.toHaveProperty("DATABASE_URL");
    if (wsPort !== undefined) {
      expect(fromSecrets.WS_TOKEN_SECRET).toEqual({ name: "orders-ws-token", key: "secret" });
      expect(m.configMap.data).not.toHaveProperty("WS_TOKEN_SECRET");
    }
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
    const backends = find<typeof m.networkPolicy>(rendered, "NetworkPolicy", "shop-backends").spec;
    const natsRule = backends.egress?.find((rule) => peerNames(rule.to).includes("nats"));
    expect(natsRule?.ports).toEqual([{ protocol: "TCP", port: 4222 }]);
  });

  it.runIf(service === "orders")("give orders' inventory clients settings its clients module accepts", async () => {
    // The certificate files exist only in the pod; the clients' other settings do not depend on them.
    const { TLS_CERT_FILE: _cert, TLS_KEY_FILE: _key, TLS_CA_FILE: _ca, ...withoutTls } = env;
    const app = await NestFactory.createApplicationContext(InventoryQuotesModule.register(loadOrdersConfig(withoutTls)), { logger: false, abortOnError: false });
    try {
      expect(app.get(INVENTORY_QUOTES)).toBeTypeOf("function");
    } finally {
      await app.close();
    }
  });

  it("admit through the network policy only callers that the service's allow-list admits", () => {
    const allow = allowListOf(service, env);
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

/**
 * Variables whose value the parsers ignore: a changed value neither changes the result nor is
 * refused. A refusal may name the variable checked against the changed one (INVENTORY_SHARD is
 * refused when INVENTORY_SHARDS no longer lists it): either way the parser read it.
 */
function unreadVariables(read: (env: Record<string, string | undefined>) => unknown, env: Record<string, string>): string[] {
  const parsed = read(env);
  return Object.keys(env).filter((name) => {
    try {
      return isDeepStrictEqual(read({ ...env, [name]: `${env[name]}-changed` }), parsed);
    } catch (error) {
      // The config parsers refuse with a ConfigError; the telemetry settings with a message naming the variable.
      const refused = isConfigError(error) || (error instanceof Error && error.message.startsWith(`${name} `));
      return !refused;
    }
  });
}

/** The network policies whose pod selector covers a Deployment's pods. */
function policiesSelecting(rendered: readonly Manifest[], deployment: Parameters<typeof selectsPods>[1]): NetworkPolicySpec[] {
  return rendered
    .filter((o) => o.kind === "NetworkPolicy")
    .map((o) => (o as Manifest & { spec: NetworkPolicySpec }).spec)
    .filter((spec) => selectsPods(spec.podSelector.matchLabels, deployment));
}

function allowListOf(service: ShopService, env: Record<string, string>): Readonly<Record<string, readonly string[]>> {
  // A definition opens nothing and reads no file (its module's providers do, at bootstrap).
  const definition = service === "orders" ? ordersService(loadOrdersConfig(env)) : service === "inventory" ? inventoryService(loadInventoryConfig(env)) : paymentsService(loadPaymentsConfig(env));
  return definition.allow ?? {};
}

describe("the sharded overlay's routing", () => {
  const sharded = overlays.sharded;
  const shards = ["inventory-0", "inventory-1"];
  const ordersConfig = loadOrdersConfig(shopEnvironment(sharded, "orders"));
  const shardConfigs = shards.map((shard) => loadInventoryConfig(shopEnvironment(sharded, shard)));
  const deploymentOf = (workload: string) => shopServiceManifests(sharded, workload).deployment;

  it("gives each shard its name and the one shard list that orders also has", () => {
    expect(shardConfigs.map((c) => c.shard)).toEqual(shards.map((name) => ({ name, shards })));
    expect(ordersConfig.inventory.shards?.map((s) => s.name)).toEqual(shards);
    // Without shards the unsharded target would name a Service the overlay no longer has.
    expect(shopServiceManifests(sharded, "orders").configMap.data).not.toHaveProperty("INVENTORY_TARGET");
    expect(sharded.filter((o) => o.metadata.name === "inventory" || o.metadata.name === "inventory-config")).toEqual([]);
  });

  it("sends each shard's calls to the shard's headless Service, on the port the shard listens on, reaching its pods only", () => {
    for (const [index, shard] of shards.entries()) {
      const target = ordersConfig.inventory.shards?.find((s) => s.name === shard)?.target ?? [];
      expect(target).toHaveLength(1);
      const [host = "", port] = (target[0] ?? "").split(":");
      const service = find<ReturnType<typeof shopServiceManifests>["service"]>(sharded, "Service", host);
      expect(service.spec.clusterIP).toBe("None");
      expect(Number(port)).toBe(shardConfigs[index]?.port);
      expect(service.spec.ports.find((p) => p.name === "grpc")?.port).toBe(shardConfigs[index]?.port);
      expect(shards.filter((other) => selectsPods(service.spec.selector, deploymentOf(other)))).toEqual([shard]);
    }
  });

  it("lets orders reach every shard through both policies, and keeps each shard's objects to its own pods", () => {
    const orders = deploymentOf("orders");
    const ordersEgress = policiesSelecting(sharded, orders).flatMap((p) => p.egress ?? []);
    for (const [index, shard] of shards.entries()) {
      const port = shardConfigs[index]?.port;
      const shardPods = deploymentOf(shard);
      const egress = ordersEgress.filter((rule) => rule.to.some((peer) => peer.namespaceSelector === undefined && selectsPods(peer.podSelector?.matchLabels ?? {}, shardPods)));
      expect(egress.flatMap((rule) => rule.ports.map((p) => p.port))).toEqual([port]);
      const m = shopServiceManifests(sharded, shard);
      const ingress = (m.networkPolicy.spec.ingress ?? []).filter((rule) => rule.from.some((peer) => selectsPods(peer.podSelector?.matchLabels ?? {}, orders)));
      expect(ingress.flatMap((rule) => rule.ports.map((p) => p.port))).toEqual([port]);
      for (const selector of [m.service.spec.selector, m.disruptionBudget.spec.selector.matchLabels, m.networkPolicy.spec.podSelector.matchLabels]) {
        expect(shards.filter((other) => selectsPods(selector, deploymentOf(other)))).toEqual([shard]);
      }
    }
  });

  it("runs the shards from one spec: inventory-1's objects are inventory-0's with the number changed", () => {
    // The shard list names both shards alike; the first test compares it.
    const withoutShardList = (o: Manifest): unknown => (o.kind === "ConfigMap" ? { ...o, data: { ...(o.data as object), INVENTORY_SHARDS: undefined } } : o);
    const objectsOf = (shard: string) =>
      sharded
        .filter((o) => o.metadata.name === shard || o.metadata.name === `${shard}-config`)
        .sort((a, b) => a.kind.localeCompare(b.kind))
        .map(withoutShardList);
    const first = objectsOf("inventory-0");
    expect(first.map((o) => (o as Manifest).kind)).toEqual(["Certificate", "ConfigMap", "Deployment", "NetworkPolicy", "PodDisruptionBudget", "Service"]);
    expect(objectsOf("inventory-1")).toEqual(JSON.parse(JSON.stringify(first).replaceAll("inventory-0", "inventory-1")));
  });

  it("changes nothing of production but inventory and orders' routing to it", () => {
    const key = (o: Manifest) => `${o.kind}/${o.metadata.name}`;
    const touched = (o: Manifest) => o.metadata.name.startsWith("inventory") || o.metadata.name === "orders-config";
    const rest = (list: readonly Manifest[]) => Object.fromEntries(list.filter((o) => !touched(o)).map((o) => [key(o), o]));
    expect(rest(sharded)).toEqual(rest(objects));
    const unsharded = shopServiceManifests(objects, "orders").configMap.data;
    const { INVENTORY_SHARDS: _shards, INVENTORY_SHARD_TARGETS: _targets, ...ordersRest } = shopServiceManifests(sharded, "orders").configMap.data;
    const { INVENTORY_TARGET: _target, ...unshardedRest } = unsharded;
    expect(ordersRest).toEqual(unshardedRest);
  });
});
