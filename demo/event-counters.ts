// What the replicas counted about their events, scraped from each one's Prometheus endpoint
// (METRICS_PORT) just before shutdown. A process's counters die with it: a replica killed by
// chaos and started again only reports what its current process saw.
import { scrape, sum } from "../test/telemetry/prometheus.js";
import type { Replica } from "./supervisor.js";

export interface EventCounters {
  /** Events the relays published (broker acks), repeats included. */
  published: number;
  /** Deliveries of a message its consumer had been given before. */
  redeliveries: number;
  deadLetters: number;
  /** Replicas whose endpoint answered. */
  scraped: number;
  /** Replicas whose endpoint did not answer, with the reason. */
  unreachable: string[];
}

export async function scrapeEventCounters(replicas: readonly Replica[]): Promise<EventCounters> {
  const counters: EventCounters = { published: 0, redeliveries: 0, deadLetters: 0, scraped: 0, unreachable: [] };
  await Promise.all(
    replicas.map(async (replica) => {
      try {
        const samples = await scrape(`http://127.0.0.1:${replica.metricsPort}/metrics`);
        counters.published += sum(samples, "protomesh_outbox_published_total");
        counters.redeliveries += sum(samples, "protomesh_consumer_redeliveries_total");
        counters.deadLetters += sum(samples, "protomesh_consumer_dead_letters_total");
        counters.scraped += 1;
      } catch (error) {
        counters.unreachable.push(`${replica.name}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }),
  );
  return counters;
}
