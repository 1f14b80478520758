// The rendered manifests of one shop workload (a service, or one shard of it), typed for the
// assertions that compare them with what the service really reads (its config parser, its TLS
// loader, its telemetry settings, its health probe).
import path from "node:path";
import { renderKustomization, type Manifest } from "./kustomize.js";

export const shopServices = ["orders", "inventory", "payments"] as const;
export type ShopService = (typeof shopServices)[number];

export const deployRoot = path.resolve(import.meta.dirname, "../../deploy");

export interface Probe {
  exec?: { command: string[] };
  grpc?: { port: number };
  periodSeconds?: number;
  timeoutSeconds?: number;
  failureThreshold?: number;
}

export interface Container {
  name: string;
  image: string;
  command: string[];
  ports: { name: string; containerPort: number }[];
  envFrom?: { configMapRef?: { name: string } }[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
}

/** The Deployments of the sharded overlay: one per service, inventory one per shard. */
export const shardedWorkloads = ["orders", "inventory-0", "inventory-1", "payments"] as const;

/** The service a workload runs: its own name, or the service it is a shard of. */
export function serviceOf(workload: string): ShopService {
  const service = shopServices.find((s) => workload === s || workload.startsWith(`${s}-`));
  if (service === undefined) {
    throw new Error(`${workload} is no shop service nor a shard of one`);
  }
  return service;
}

export interface PodSpec {
  terminationGracePeriodSeconds: number;
  containers: Container[];
  volumes: { name: string; secret?: { secretName: string; items?: unknown[] } }[];
}

export interface PolicyPeer {
  podSelector?: { matchLabels?: Record<string, string> };
  namespaceSelector?: { matchLabels?: Record<string, string> };
}

export interface NetworkPolicySpec {
  podSelector: { matchLabels: Record<string, string> };
  policyTypes: string[];
  ingress?: { from: PolicyPeer[]; ports: { port: number; protocol?: string }[] }[];
  egress?: { to: PolicyPeer[]; ports: { port: number; protocol?: string }[] }[];
}

export interface ShopServiceManifests {
  deployment: Manifest & {
    spec: {
      replicas: number;
      selector: { matchLabels: Record<string, string> };
      template: { metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; spec: PodSpec };
    };
  };
  pod: PodSpec;
  container: Container;
  configMap: Manifest & { data: Record<string, string> };
  service: Manifest & { spec: { clusterIP?: string; selector: Record<string, string>; ports: { name: string; port: number; targetPort: string | number }[] } };
  disruptionBudget: Manifest & { spec: { maxUnavailable?: number; minAvailable?: number; selector: { matchLabels: Record<string, string> } } };
  networkPolicy: Manifest & { spec: NetworkPolicySpec };
  certificate: Manifest & { spec: { secretName: string; uris: string[]; dnsNames: string[]; usages: string[] } };
}

export function renderProduction(): Manifest[] {
  return renderKustomization(path.join(deployRoot, "kubernetes/overlays/production"));
}

export function renderSharded(): Manifest[] {
  return renderKustomization(path.join(deployRoot, "kubernetes/overlays/sharded"));
}

export function find<T extends Manifest>(objects: readonly Manifest[], kind: string, name: string): T {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (found === undefined) {
    throw new Error(`no ${kind}/${name} in the rendered manifests`);
  }
  return found as T;
}

/** A workload's objects: its Deployment and, by the same name, its Service, budget, policy and Certificate. */
export function shopServiceManifests(objects: readonly Manifest[], workload: string): ShopServiceManifests {
  const service = serviceOf(workload);
  const deployment = find<ShopServiceManifests["deployment"]>(objects, "Deployment", workload);
  const pod = deployment.spec.template.spec;
  const container = pod.containers.find((c) => c.name === service);
  if (container === undefined) {
    throw new Error(`Deployment/${workload} has no container named ${service}`);
  }
  const configMapName = container.envFrom?.[0]?.configMapRef?.name ?? `${workload}-config`;
  return {
    deployment,
    pod,
    container,
    configMap: find(objects, "ConfigMap", configMapName),
    service: find(objects, "Service", workload),
    disruptionBudget: find(objects, "PodDisruptionBudget", workload),
    networkPolicy: find(objects, "NetworkPolicy", workload),
    certificate: find(objects, "Certificate", workload),
  };
}

/**
 * The environment the container starts with: its ConfigMaps, then its own env entries (which
 * win, as in Kubernetes). Values from Secrets are not in the repository; `secrets` supplies
 * stand-ins by variable name, and a missing one fails.
 */
export function containerEnvironment(objects: readonly Manifest[], container: Container, secrets: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    if (source.configMapRef === undefined) {
      throw new Error(`${container.name}: only configMapRef envFrom sources are expected`);
    }
    Object.assign(env, find<Manifest & { data: Record<string, string> }>(objects, "ConfigMap", source.configMapRef.name).data);
  }
  for (const entry of container.env ?? []) {
    const value = entry.value ?? (entry.valueFrom?.secretKeyRef === undefined ? undefined : secrets[entry.name]);
    if (value === undefined) {
      throw new Error(`${container.name}: no value or secret stand-in for ${entry.name}`);
    }
    env[entry.name] = value;
  }
  return env;
}

/** Stands in for WS_TOKEN_SECRET: as long as the orders parser requires (32 bytes for HS256). */
export const wsTokenSecretStandIn = "a-stand-in-secret-of-32-bytes-or-more";

/** The container environment of a shop workload, with stand-ins for its Secrets shaped as the parsers expect them. */
export function shopEnvironment(objects: readonly Manifest[], workload: string): Record<string, string> {
  return containerEnvironment(objects, shopServiceManifests(objects, workload).container, {
    DATABASE_URL: `postgres://shop@postgresql:5432/${workload.replaceAll("-", "_")}`,
    REDIS_URL: "redis://redis:6379",
    WS_TOKEN_SECRET: wsTokenSecretStandIn,
  });
}

/** Whether a selector's labels are all on the pods of a Deployment's template. */
export function selectsPods(selector: Record<string, string>, deployment: ShopServiceManifests["deployment"]): boolean {
  return Object.entries(selector).every(([label, value]) => deployment.spec.template.metadata.labels[label] === value);
}

/** Pods a policy peer selects, by their app.kubernetes.io/name label. */
export function peerNames(peers: readonly PolicyPeer[]): string[] {
  return peers.map((p) => p.podSelector?.matchLabels?.["app.kubernetes.io/name"] ?? "?");
}
