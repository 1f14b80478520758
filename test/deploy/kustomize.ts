// Renders deploy/kubernetes the way `kubectl kustomize` does, for the subset of kustomize the
// manifests use (ADR 0080): resources (files and directories), components, namespace, images,
// replicas, JSON 6902 patches with a target (kind, name, labelSelector), and patches that delete
// an object (`$patch: delete`). No kustomize build ships on npm, and the tests must run offline;
// anything outside the subset is refused, so a manifest cannot silently depend on a feature that
// is not rendered here.
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
  kind?: string;
  resources?: string[];
  components?: string[];
  namespace?: string;
  images?: { name: string; newName?: string; newTag?: string }[];
  replicas?: { name: string; count: number }[];
  patches?: { target?: PatchTarget; patch?: string; path?: string }[];
}

interface PatchTarget {
  kind?: string;
  name?: string;
  /** "key=value" pairs, comma-separated; only equality is supported. */
  labelSelector?: string;
}

const supportedKeys = new Set(["apiVersion", "kind", "resources", "components", "namespace", "images", "replicas", "patches"]);
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
  return render(directory, "Kustomization", []);
}

/**
 * A Kustomization renders its resources, then applies each component (a Component adds its own
 * resources and transforms everything rendered so far), then its own transformations.
 */
function render(directory: string, kind: "Kustomization" | "Component", objects: Manifest[]): Manifest[] {
  const file = path.join(directory, "kustomization.yaml");
  const [kustomization] = readManifests(file) as unknown as Kustomization[];
  if (kustomization === undefined) {
    throw new Error(`${file} is empty`);
  }
  if ((kustomization.kind ?? "Kustomization") !== kind) {
    throw new Error(`${file}: expected kind ${kind}, found ${kustomization.kind}`);
  }
  const unsupported = Object.keys(kustomization).filter((key) => !supportedKeys.has(key));
  if (unsupported.length > 0) {
    throw new Error(`${file}: ${unsupported.join(", ")} not supported by the test renderer (ADR 0080)`);
  }
  for (const resource of kustomization.resources ?? []) {
    const target = path.resolve(directory, resource);
    objects.push(...(statSync(target).isDirectory() ? renderKustomization(target) : readManifests(target)));
  }
  for (const component of kustomization.components ?? []) {
    render(path.resolve(directory, component), "Component", objects);
  }
  for (const { target, patch, path: patchFile } of kustomization.patches ?? []) {
    const text = patch ?? (patchFile === undefined ? undefined : readFileSync(path.resolve(directory, patchFile), "utf8"));
    const [document] = text === undefined ? [] : parseAllDocuments(text).map((d) => d.toJS() as unknown);
    if (isDeletion(document)) {
      const { name, namespace } = document.metadata;
      const index = objects.findIndex((o) => o.kind === document.kind && o.metadata.name === name && (namespace === undefined || o.metadata.namespace === namespace) && (target === undefined || matches(o, target)));
      if (index < 0) {
        throw new Error(`${file}: deletion of ${document.kind}/${document.metadata.name} matches nothing`);
      }
      objects.splice(index, 1);
      continue;
    }
    if (!Array.isArray(document) || target === undefined) {
      throw new Error(`${file}: only JSON 6902 patches (a list of operations) with a target, and $patch: delete, are supported`);
    }
    const matched = objects.filter((o) => matches(o, target));
    if (matched.length === 0) {
      throw new Error(`${file}: patch target ${JSON.stringify(target)} matches nothing`);
    }
    for (const object of matched) {
      // validate: an operation on a path that does not exist fails, as kustomize's does.
      fastJsonPatch.applyPatch(object, document as Operation[], true, true);
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

function matches(object: Manifest, target: PatchTarget): boolean {
  const labels = object.metadata.labels ?? {};
  const selected = (target.labelSelector ?? "")
    .split(",")
    .filter((pair) => pair.length > 0)
    .every((pair) => {
      const [key = "", value] = pair.split("=").map((part) => part.trim());
      if (value === undefined) throw new Error(`labelSelector ${target.labelSelector}: only key=value pairs are supported`);
      return labels[key] === value;
    });
  return selected && (target.kind === undefined || object.kind === target.kind) && (target.name === undefined || object.metadata.name === target.name);
}

/** A patch that removes the object it names, as kustomize's `$patch: delete`. */
function isDeletion(document: unknown): document is Manifest {
  return typeof document === "object" && document !== null && !Array.isArray(document) && (document as Record<string, unknown>)["$patch"] === "delete";
}

/** The containers (init containers included) of a workload's pod template. */
export function podContainers(object: Manifest): { name: string; image: string; [key: string]: unknown }[] {
  const spec = (object.spec as { template?: { spec?: { containers?: []; initContainers?: [] } } } | undefined)?.template?.spec;
  return [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];
}
