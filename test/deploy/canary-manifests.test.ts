import path from "node:path";
import { describe, expect, it } from "vitest";
import { renderKustomization } from "./kustomize.js";
import { deployRoot, find, selectsPods, type ShopServiceManifests } from "./shop-manifests.js";

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
});
