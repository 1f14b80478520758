import path from "node:path";
import { describe, expect, it } from "vitest";
import { StaticResolver, WeightedResolver } from "@protomesh/clients";
import { loadOrdersConfig } from "../../services/orders/config.js";
import { type Manifest, renderKustomization } from "./kustomize.js";
import { deployRoot, find, selectsPods, shopEnvironment, shopServiceManifests, type ShopServiceManifests } from "./shop-manifests.js";

type Deployment = ShopServiceManifests["deployment"];
type Service = ShopServiceManifests["service"];

const objects = renderKustomization(path.join(deployRoot, "kubernetes/overlays/canary"));
const stable = find<Deployment>(objects, "Deployment", "inventory");
const canary = find<Deployment>(objects, "Deployment", "inventory-canary");

/** A pod template with the fields a canary may change blanked out. */
function withoutRelease(deployment: Deployment): unknown {
  const template = structuredClone(deployment.spec.template);
  delete template.metadata.labels["protomesh.dev/track"];
  return { ...template, spec: { ...template.spec, containers: template.spec.containers.map(({ image: _image, ...rest }) => rest) } };
}

const selects = (service: Service, deployment: Deployment) => selectsPods(service.spec.selector, deployment);

describe("the canary overlay", () => {
  it("runs the stable pod spec with only the image and the track label changed", () => {
    expect(withoutRelease(canary)).toEqual(withoutRelease(stable));
    expect(stable.spec.template.spec.containers[0]?.image).not.toBe(canary.spec.template.spec.containers[0]?.image);
    expect(canary.spec.replicas).toBe(1);
    expect(canary.metadata.namespace).toBe("shop");
  });

  it("keeps the stable and canary pods apart for weighted clients, and together for the others", () => {
    const [all, stableOnly, canaryOnly] = ["inventory", "inventory-stable", "inventory-canary"].map((name) => find<Service>(objects, "Service", name)) as [Service, Service, Service];
    expect([selects(all, stable), selects(all, canary)]).toEqual([true, true]);
    expect([selects(stableOnly, stable), selects(stableOnly, canary)]).toEqual([true, false]);
    expect([selects(canaryOnly, stable), selects(canaryOnly, canary)]).toEqual([false, true]);
    for (const service of [stableOnly, canaryOnly]) {
      expect(service.spec).toMatchObject({ clusterIP: "None", ports: all.spec.ports });
    }
  });

  it("does not let the two Deployments claim each other's pods", () => {
    expect(stable.spec.selector.matchLabels["protomesh.dev/track"]).toBe("stable");
    expect(canary.spec.selector.matchLabels["protomesh.dev/track"]).toBe("canary");
  });

  it("sends orders' inventory calls by the weights of a mounted ConfigMap, to the stable and canary Services", () => {
    const config = loadOrdersConfig(shopEnvironment(objects, "orders"));
    const { canary: canaryTrack } = config.inventory;
    expect(canaryTrack).toBeDefined();
    const grpcPort = stable.spec.template.spec.containers[0]?.ports?.find((p) => p.name === "grpc")?.containerPort;
    for (const [target, deployment, other] of [
      [config.inventory.target, stable, canary],
      [canaryTrack!.target, canary, stable],
    ] as const) {
      expect(target).toHaveLength(1);
      const [host, port] = (target[0] as string).split(":");
      const service = find<Service>(objects, "Service", host as string);
      expect([selects(service, deployment), selects(service, other)]).toEqual([true, false]);
      expect(service.spec.ports.map((p) => p.port)).toContain(Number(port));
      expect(Number(port)).toBe(grpcPort);
    }

    // The weights file is a key of a ConfigMap mounted as a directory (edits reach it), and it
    // holds weights the resolver accepts, the canary at 10 %.
    const orders = shopServiceManifests(objects, "orders");
    const mount = orders.container.volumeMounts?.find((m) => canaryTrack!.weightsFile.startsWith(`${m.mountPath}/`));
    expect(mount).toMatchObject({ readOnly: true });
    expect(mount).not.toHaveProperty("subPath");
    const volume = orders.pod.volumes?.find((v) => v.name === mount?.name) as { configMap?: { name: string } } | undefined;
    const weightsMap = find<Manifest & { data: Record<string, string> }>(objects, "ConfigMap", volume?.configMap?.name ?? "");
    const weights = JSON.parse(weightsMap.data[path.basename(canaryTrack!.weightsFile)] ?? "null") as Record<string, number>;
    const resolver = new WeightedResolver([
      { name: "stable", weight: 1, resolver: new StaticResolver([]) },
      { name: "canary", weight: 0, resolver: new StaticResolver([]) },
    ]);
    resolver.setWeights(weights);
    expect(resolver.weights()).toEqual({ stable: 90, canary: 10 });
  });
});
