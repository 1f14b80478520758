// The rendered production manifests of one shop service, typed for the assertions that compare
// them with what the service really reads (its config parser, its TLS loader, its health probe).
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

export interface PodSpec {
  terminationGracePeriodSeconds: number;
  containers: Container[];
  volumes: { name: string; secret?: { secretName: string; items?: unknown[] } }[];
}

export interface PolicyPeer {
  podSelector?: { matchLabels?: Record<string, string> };
  namespaceSelector?: object;
}

export interface NetworkPolicySpec {
  podSelector: { matchLabels: Record<string, string> };
  policyTypes: string[];
  ingress?: { from: PolicyPeer[]; ports: { port: number }[] }[];
  egress?: { to: PolicyPeer[]; ports: { port: number; protocol?: string }[] }[];
}

export interface ShopServiceManifests {
  deployment: Manifest & {
    spec: { replicas: number; selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: PodSpec } };
  };
  pod: PodSpec;
  container: Container;
  configMap: Manifest & { data: Record<string, string> };
  service: Manifest & { spec: { clusterIP?: string; selector: Record<string, string>; ports: { port: number; targetPort: string | number }[] } };
  disruptionBudget: Manifest & { spec: { maxUnavailable?: number; minAvailable?: number; selector: { matchLabels: Record<string, string> } } };
  networkPolicy: Manifest & { spec: NetworkPolicySpec };
  certificate: Manifest & { spec: { secretName: string; uris: string[]; dnsNames: string[]; usages: string[] } };
}

export function renderProduction(): Manifest[] {
  return renderKustomization(path.join(deployRoot, "kubernetes/overlays/production"));
}

export function find<T extends Manifest>(objects: readonly Manifest[], kind: string, name: string): T {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (found === undefined) {
    throw new Error(`no ${kind}/${name} in the rendered manifests`);
  }
  return found as T;
}

export function shopServiceManifests(objects: readonly Manifest[], name: ShopService): ShopServiceManifests {
  const deployment = find<ShopServiceManifests["deployment"]>(objects, "Deployment", name);
  const pod = deployment.spec.template.spec;
  const container = pod.containers.find((c) => c.name === name);
  if (container === undefined) {
    throw new Error(`Deployment/${name} has no container named ${name}`);
  }
  const configMapName = container.envFrom?.[0]?.configMapRef?.name ?? `${name}-config`;
  return {
    deployment,
    pod,
    container,
    configMap: find(objects, "ConfigMap", configMapName),
    service: find(objects, "Service", name),
    disruptionBudget: find(objects, "PodDisruptionBudget", name),
    networkPolicy: find(objects, "NetworkPolicy", name),
    certificate: find(objects, "Certificate", name),
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

/** The container environment of a shop service, with stand-ins for its Secrets shaped as the parsers expect them. */
export function shopEnvironment(objects: readonly Manifest[], service: ShopService): Record<string, string> {
  return containerEnvironment(objects, shopServiceManifests(objects, service).container, {
    DATABASE_URL: `postgres://shop@postgresql:5432/${service}`,
    REDIS_URL: "redis://redis:6379",
  });
}

/** Pods a policy peer selects, by their app.kubernetes.io/name label. */
export function peerNames(peers: readonly PolicyPeer[]): string[] {
  return peers.map((p) => p.podSelector?.matchLabels?.["app.kubernetes.io/name"] ?? "?");
}
