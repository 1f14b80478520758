import { execFileSync, spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { podContainers, readManifests, renderKustomization, type Manifest } from "./kustomize.js";
import { schemaProblems } from "./schemas.js";

const root = path.resolve(import.meta.dirname, "../../deploy/kubernetes");
const overlays = readdirSync(path.join(root, "overlays"));
const yamlFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? yamlFiles(path.join(dir, e.name)) : e.name.endsWith(".yaml") ? [path.join(dir, e.name)] : []));

const key = (o: Manifest) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;
/** kubectl's built-in kustomize, where the machine has kubectl; the renderer must agree with it. */
const kubectlPresent = spawnSync("kubectl", ["version", "--client"], { stdio: "ignore" }).status === 0;

describe("Kubernetes manifests", () => {
  it("every object in every file is valid against its Kubernetes schema", () => {
    const objects = yamlFiles(root)
      .filter((f) => !f.endsWith("kustomization.yaml"))
      .flatMap((f) => readManifests(f));
    expect(objects.length).toBeGreaterThan(10);
    expect(objects.flatMap(schemaProblems)).toEqual([]);
  });

  it.each(["base", ...overlays.map((o) => `overlays/${o}`)])("%s renders to schema-valid objects with unique names", (dir) => {
    const objects = renderKustomization(path.join(root, dir));
    expect(objects.flatMap(schemaProblems)).toEqual([]);
    const keys = objects.map(key);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it("the production overlay puts everything in the shop namespace, pins the image and keeps the patch", () => {
    const objects = renderKustomization(path.join(root, "overlays/production"));
    expect(objects.filter((o) => o.kind !== "Namespace").every((o) => o.metadata.namespace === "shop")).toBe(true);
    const deployments = objects.filter((o) => o.kind === "Deployment");
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(["inventory", "orders", "payments"]);
    for (const deployment of deployments) {
      expect((deployment.spec as { replicas: number }).replicas).toBeGreaterThanOrEqual(3);
      expect(podContainers(deployment).map((c) => c.image)).toEqual(["registry.example.com/protomesh/shop:0.1.0"]);
    }
    const orders = podContainers(deployments.find((d) => d.metadata.name === "orders") as Manifest)[0];
    expect(orders?.resources).toMatchObject({ limits: { memory: "768Mi" } });
  });

  it.skipIf(!kubectlPresent).each(["base", ...overlays.map((o) => `overlays/${o}`)])("%s renders as `kubectl kustomize` renders it", (dir) => {
    const byKey = (objects: Manifest[]) => Object.fromEntries(objects.map((o) => [key(o), o]));
    const kustomized = parseAllDocuments(execFileSync("kubectl", ["kustomize", path.join(root, dir)], { encoding: "utf8" })).map((d) => d.toJS() as Manifest);
    expect(byKey(renderKustomization(path.join(root, dir)))).toEqual(byKey(kustomized));
  });

  it("the sharded overlay runs each inventory shard in place of the unsharded inventory, on the production image", () => {
    const objects = renderKustomization(path.join(root, "overlays/sharded"));
    const deployments = objects.filter((o) => o.kind === "Deployment");
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(["inventory-0", "inventory-1", "orders", "payments"]);
    for (const deployment of deployments) {
      expect(podContainers(deployment).map((c) => c.image)).toEqual(["registry.example.com/protomesh/shop:0.1.0"]);
    }
    expect(objects.filter((o) => o.kind !== "Namespace").every((o) => o.metadata.namespace === "shop")).toBe(true);
  });

  it("the schemas catch a broken object, so a pass means something", () => {
    const [deployment] = readManifests(path.join(root, "base/inventory/inventory.yaml")).filter((o) => o.kind === "Deployment") as [Manifest];
    const [container] = podContainers(deployment) as unknown as [{ ports: [{ containerPort: unknown }] }];
    container.ports[0].containerPort = "grpc";
    expect(schemaProblems(deployment).join()).toMatch(/containerPort must be integer/);
  });
});
