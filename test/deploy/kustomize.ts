// Renders deploy/kubernetes the way `kubectl kustomize` does, for the subset of kustomize the
// manifests use (ADR 0080): resources (files and directories), namespace, images, replicas, and
// JSON 6902 patches with a target. No kustomize build ships on npm, and the tests must run
// offline; anything outside the subset is refused, so a manifest cannot silently depend on a
// feature that is not rendered here.
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import fastJsonPatch, { type Operation } from "fast-json-patch";
import { parseAllDocuments } from "yaml";

/** A Kubernetes object as parsed from YAML. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [key: string]: unknown };
  [key: string]: unknown;
}

interface Kustomization {
  resources?: string[];
  namespace?: string;
  images?: { name: string; newName?: string; newTag?: string }[];
  replicas?: { name: string; count: number }[];
  patches?: { target: { kind?: string; name?: string }; patch?: string; path?: string }[];
}

const supportedKeys = new Set(["apiVersion", "kind", "resources", "namespace", "images", "replicas", "patches"]);
/** Kinds without a namespace among those the manifests use. */
const clusterScoped = new Set(["Namespace", "ClusterIssuer", "ClusterRole", "ClusterRoleBinding"]);

/** Every object of a YAML file (comments and empty documents dropped). */
export function readManifests(file: string): Manifest[] {
  const documents = parseAllDocuments(readFileSync(file, "utf8"));
  return documents.flatMap((document) => {
    if (document.errors.length > 0) {
      throw new Error(`${file}: ${document.errors.map((e) => e.message).join("; ")}`);
    }
    const value = document.toJS() as Manifest | null;
    return value === null ? [] : [value];
  });
}

/** The objects a kustomization directory renders to, in resource order. */
export function renderKustomization(directory: string): Manifest[] {
  const file = path.join(directory, "kustomization.yaml");
  const [kustomization] = readManifests(file) as unknown as Kustomization[];
  if (kustomization === undefined) {
    throw new Error(`${file} is empty`);
  }
  const unsupported = Object.keys(kustomization).filter((key) => !supportedKeys.has(key));
  if (unsupported.length > 0) {
    throw new Error(`${file}: ${unsupported.join(", ")} not supported by the test renderer (ADR 0080)`);
  }
  const objects = (kustomization.resources ?? []).flatMap((resource) => {
    const target = path.resolve(directory, resource);
    return statSync(target).isDirectory() ? renderKustomization(target) : readManifests(target);
  });
  for (const { target, patch, path: patchFile } of kustomization.patches ?? []) {
    const text = patch ?? (patchFile === undefined ? undefined : readFileSync(path.resolve(directory, patchFile), "utf8"));
    const [operations] = text === undefined ? [] : parseAllDocuments(text).map((d) => d.toJS() as unknown);
    if (!Array.isArray(operations)) {
      throw new Error(`${file}: only JSON 6902 patches (a list of operations) are supported`);
    }
    const matched = objects.filter((o) => (target.kind === undefined || o.kind === target.kind) && (target.name === undefined || o.metadata.name === target.name));
    if (matched.length === 0) {
      throw new Error(`${file}: patch target ${JSON.stringify(target)} matches nothing`);
    }
    for (const object of matched) {
      // validate: an operation on a path that does not exist fails, as kustomize's does.
      fastJsonPatch.applyPatch(object, operations as Operation[], true, true);
    }
  }
  for (const object of objects) {
    if (kustomization.namespace !== undefined && !clusterScoped.has(object.kind)) {
      object.metadata.namespace = kustomization.namespace;
    }
    for (const container of podContainers(object)) {
      const image = kustomization.images?.find((i) => container.image === i.name || container.image.startsWith(`${i.name}:`));
      if (image !== undefined) {
        const tag = image.newTag ?? container.image.split(":")[1];
        container.image = `${image.newName ?? image.name}${tag === undefined ? "" : `:${tag}`}`;
      }
    }
    const replicas = kustomization.replicas?.find((r) => r.name === object.metadata.name);
    if (replicas !== undefined && object.kind === "Deployment") {
      (object.spec as { replicas: number }).replicas = replicas.count;
    }
  }
  for (const { name } of kustomization.replicas ?? []) {
    if (!objects.some((o) => o.kind === "Deployment" && o.metadata.name === name)) {
      throw new Error(`${file}: replicas names ${name}, which is no Deployment`);
    }
  }
  return objects;
}

/** The containers (init containers included) of a workload's pod template. */
export function podContainers(object: Manifest): { name: string; image: string; [key: string]: unknown }[] {
  const spec = (object.spec as { template?: { spec?: { containers?: []; initContainers?: [] } } } | undefined)?.template?.spec;
  return [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];
}
