// Validates manifests against the Kubernetes OpenAPI schemas shipped in kubernetes-models (and
// cert-manager's CRD schemas), offline. Each kind the manifests use is listed: a new kind fails
// until its model is added here, rather than passing unchecked.
import { Certificate } from "@kubernetes-models/cert-manager/cert-manager.io/v1";
import { Deployment } from "kubernetes-models/apps/v1";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { ConfigMap, Namespace, Service } from "kubernetes-models/v1";
import type { Manifest } from "./kustomize.js";

const models: Record<string, new (data: never) => { validate(): void }> = {
  "apps/v1/Deployment": Deployment,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "v1/ConfigMap": ConfigMap,
  "v1/Namespace": Namespace,
  "v1/Service": Service,
  "cert-manager.io/v1/Certificate": Certificate,
};

/** Problems with one object: schema violations, or a kind without a model. Empty when valid. */
export function schemaProblems(object: Manifest): string[] {
  const Model = models[`${object.apiVersion}/${object.kind}`];
  const where = `${object.kind}/${object.metadata?.name ?? "?"}`;
  if (Model === undefined) {
    return [`${where}: no schema for ${object.apiVersion} ${object.kind} (add its model in test/deploy/schemas.ts)`];
  }
  try {
    new Model(object as never).validate();
    return [];
  } catch (error) {
    return [`${where}: ${error instanceof Error ? error.message : String(error)}`];
  }
}
