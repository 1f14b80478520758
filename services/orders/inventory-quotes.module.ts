// Where CreateOrder gets inventory's prices (INVENTORY_QUOTES), by INVENTORY_TRANSPORT and
// INVENTORY_SHARDS: the balanced gRPC client of ProtomeshClientsModule (its target split by the
// weights file during a canary release), a named client per shard, each with its own breaker and
// retry budget, and a quote split over the shards of its SKUs (ADR 0105), or NATS request/reply
// to any inventory replica (ADR 0052). The clients module closes its clients at shutdown.
import type { Client } from "@connectrpc/connect";
import { type DynamicModule, Module, type OnApplicationShutdown } from "@nestjs/common";
import type { ClientOptions } from "@protomesh/clients";
import { getClientToken, ProtomeshClientsModule } from "@protomesh/clients/nest";
import { InventoryService } from "protomesh/gen/shop/inventory/v1/inventory_pb";
import { createStockLookupClient, type StockLookupClient } from "../inventory/stock-lookup/stock-lookup.client.js";
import type { OrdersConfig } from "./config.js";
import type { FetchQuote } from "./inventory-quotes.js";
import { inventoryTarget, oneOrList, type InventoryTarget } from "./inventory-target.js";
import { INVENTORY_QUOTES } from "./orders.tokens.js";
import { quoteAcrossShards } from "./sharded-quotes.js";

type InventoryClient = Client<typeof InventoryService>;

@Module({})
export class InventoryQuotesModule {
  static register(config: OrdersConfig): DynamicModule {
    const { shards } = config.inventory;
    if (shards !== undefined) {
      return {
        module: InventoryQuotesModule,
        imports: [ProtomeshClientsModule.register({ clients: shards.map((shard) => ({ service: InventoryService, name: shard.name, ...inventoryClientOptions(config, oneOrList(shard.target)) })) })],
        providers: [
          {
            provide: INVENTORY_QUOTES,
            useFactory: (...clients: InventoryClient[]): FetchQuote =>
              quoteAcrossShards(new Map(shards.map((shard, index) => [shard.name, (request) => (clients[index] as InventoryClient).quoteItems(request)]))),
            inject: shards.map((shard) => getClientToken(InventoryService, shard.name)),
          },
        ],
        exports: [INVENTORY_QUOTES],
      };
    }
    if (config.inventoryTransport === "nats") {
      return {
        module: InventoryQuotesModule,
        providers: [
          { provide: StockLookup, useFactory: () => new StockLookup(config.natsServers) },
          { provide: INVENTORY_QUOTES, useFactory: (lookup: StockLookup): FetchQuote => (request) => lookup.client.quoteItems(request), inject: [StockLookup] },
        ],
        exports: [INVENTORY_QUOTES],
      };
    }
    // A canary's weights file is read here, so a bad one stops the service, naming the file,
    // before the host opens anything; the target's provider reads it again and follows it.
    inventoryTarget(config.inventory).stop();
    return {
      module: InventoryQuotesModule,
      imports: [
        ProtomeshClientsModule.registerAsync({
          clients: [
            {
              service: InventoryService,
              imports: [InventoryTargetModule.register(config)],
              inject: [FollowedInventoryTarget],
              useFactory: (followed: FollowedInventoryTarget) => inventoryClientOptions(config, followed.target),
            },
          ],
        }),
      ],
      providers: [
        { provide: INVENTORY_QUOTES, useFactory: (client: InventoryClient): FetchQuote => (request) => client.quoteItems(request), inject: [getClientToken(InventoryService)] },
      ],
      exports: [INVENTORY_QUOTES],
    };
  }
}

function inventoryClientOptions(config: OrdersConfig, target: ClientOptions["target"]): ClientOptions {
  const { certFile, keyFile, caFile } = config.inventory.tls;
  return {
    target,
    // One name is also the authority; a list or a resolver has none of its own.
    ...(typeof target === "string" ? {} : { authority: "localhost:443" }),
    ...(certFile !== undefined && keyFile !== undefined && caFile !== undefined ? { tls: { certFile, keyFile, caFile, serverName: "localhost" } } : {}),
    deadlines: { defaultTimeoutMs: 2_000 },
  };
}

/** INVENTORY_TARGET, or during a canary release the weights file followed until shutdown. */
class FollowedInventoryTarget implements OnApplicationShutdown {
  private readonly inventory: InventoryTarget;

  constructor(config: OrdersConfig) {
    this.inventory = inventoryTarget(config.inventory);
  }

  get target(): ClientOptions["target"] {
    return this.inventory.target;
  }

  onApplicationShutdown(): void {
    this.inventory.stop();
  }
}

@Module({})
class InventoryTargetModule {
  static register(config: OrdersConfig): DynamicModule {
    return {
      module: InventoryTargetModule,
      providers: [{ provide: FollowedInventoryTarget, useFactory: () => new FollowedInventoryTarget(config) }],
      exports: [FollowedInventoryTarget],
    };
  }
}

/** The NATS stock lookup client, closed once the app has stopped taking calls. */
class StockLookup implements OnApplicationShutdown {
  readonly client: StockLookupClient;

  constructor(servers: string[]) {
    this.client = createStockLookupClient({ servers });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.client.close();
  }
}
