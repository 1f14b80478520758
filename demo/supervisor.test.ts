import { describe, expect, it } from "vitest";
import { freePort } from "./network.js";
import { Supervisor } from "./supervisor.js";

// A "service" that starts and never listens: a replica caught in its start-up.
const neverListens = [process.execPath, "-e", "setInterval(() => {}, 1_000)"] as const;

describe("Supervisor", () => {
  it("stops a replica that is still starting and waits for its exit", async () => {
    const supervisor = new Supervisor(neverListens);
    const starting = supervisor.start({ service: "payments", index: 0, port: await freePort(), metricsPort: await freePort(), env: {} });
    const replica = supervisor.replicas[0];
    expect(replica?.child?.pid).toBeGreaterThan(0);
    await supervisor.stopAll();
    expect(replica?.child?.signalCode).toBe("SIGTERM");
    await expect(starting).rejects.toThrow("payments-0 was stopped while starting");
  });

  it("starts nothing once stopping", async () => {
    const supervisor = new Supervisor(neverListens);
    await supervisor.stopAll();
    await expect(supervisor.start({ service: "orders", index: 1, port: await freePort(), metricsPort: await freePort(), env: {} })).rejects.toThrow(
      "not starting orders-1: the replicas are being stopped",
    );
    expect(supervisor.replicas).toEqual([]);
  });
});
