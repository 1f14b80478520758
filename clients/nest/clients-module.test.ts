import "reflect-metadata";
import type http2 from "node:http2";
import { Injectable, Module } from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import { clientTransport, isCallNotSentError } from "@protomesh/clients";
import { Health } from "@protomesh/clients/health";
import { type Client, getClientToken, InjectClient, ProtomeshClientsModule } from "@protomesh/clients/nest";
import { Code, ConnectError } from "@connectrpc/connect";
import { bindService, type ConnectServer, createConnectServer } from "@protomesh/server";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ItemService } from "../../test/contract/gen/protomesh/test/v1/item_pb.js";

interface Replica {
  name: string;
  address: string;
  server: ConnectServer;
  /** HTTP/2 sessions that clients opened and that are still open. */
  openSessions: Set<http2.ServerHttp2Session>;
}

// A replica of ItemService that answers GetItem with its own name as the owner .
async function startReplica(name: string): Promise<Replica> {
  const unimplemented = (): never => {
    throw new ConnectError("not served by this test's replicas", Code.Unimplemented);
  };
  const impl = { putItem: unimplemented, deleteItem: unimplemented, watchItems: unimplemented, putItems: unimplemented, echo: unimplemented };
  const items = bindService(ItemService, { ...impl, getItem: (req) => ({ item: { itemId: req.itemId, ownerId: name } }) });
  const server = createConnectServer([items], { host: "127.0.0.1", port: 0 });
  const openSessions = new Set<http2.ServerHttp2Session>();
  server.httpServer.on("session", (session: http2.ServerHttp2Session) => {
    openSessions.add(session);
    session.on("close", () => openSessions.delete(session));
  });
  const { port } = await server.listen();
  return { name, address: `127.0.0.1:${port}`, server, openSessions };
}

// Stands in for @nestjs/config's ConfigService: options that exist only once the app boots.
@Injectable()
class AppConfig {
  constructor(readonly values: Record<string, string | undefined>) {}
  get(key: string): string | undefined {
    return this.values[key];
  }
}

function configModule(values: Record<string, string | undefined>) {
  @Module({ providers: [{ provide: AppConfig, useValue: new AppConfig(values) }], exports: [AppConfig] })
  class ConfigModule {}
  return ConfigModule;
}

@Injectable()
class ItemsReader {
  constructor(
    @InjectClient(ItemService) readonly items: Client<typeof ItemService>,
    @InjectClient(ItemService, "from-config") readonly configured: Client<typeof ItemService>,
  ) {}

  async ownerOf(itemId: string, client: Client<typeof ItemService> = this.items): Promise<string | undefined> {
    const { item } = await client.getItem({ itemId });
    return item?.ownerId;
  }
}

const boot = (module: object) => NestFactory.createApplicationContext(module, { logger: false, abortOnError: false });

describe("ProtomeshClientsModule", () => {
  let replicas: Replica[];
  beforeAll(async () => {
    replicas = await Promise.all(["replica-a", "replica-b", "replica-c"].map(startReplica));
  });
  afterAll(() => Promise.all(replicas.map((replica) => replica.server.close())));

  it("injects clients registered sync and async, balances over the replicas and closes them at shutdown", async () => {
    const [a, b, c] = replicas as [Replica, Replica, Replica];
    const ConfigModule = configModule({ ITEMS_TARGET: c.address });
    @Module({
      imports: [
        ProtomeshClientsModule.register({
          clients: [{ service: ItemService, target: [a.address, b.address], loadBalancing: "round-robin", healthCheck: false }],
        }),
        ProtomeshClientsModule.registerAsync({
          clients: [
            {
              service: ItemService,
              name: "from-config",
              imports: [ConfigModule],
              inject: [AppConfig],
              useFactory: (config: AppConfig) => ({ target: config.get("ITEMS_TARGET") ?? "", retry: false }),
            },
          ],
        }),
      ],
      providers: [ItemsReader],
    })
    class AppModule {}

    const app = await boot(AppModule);
    const reader = app.get(ItemsReader);
    const transport = clientTransport(reader.items);
    // Round-robin alternates once both connections are up.
    await reader.ownerOf("warm-up");
    await vi.waitFor(() => expect(transport.snapshot().filter((endpoint) => endpoint.admitted)).toHaveLength(2));
    const owners = await Promise.all(["i1", "i2", "i3", "i4"].map((itemId) => reader.ownerOf(itemId)));
    expect(owners.filter((owner) => owner === a.name)).toHaveLength(2);
    expect(owners.filter((owner) => owner === b.name)).toHaveLength(2);
    expect(await reader.ownerOf("i5", reader.configured)).toBe(c.name);
    expect(app.get(getClientToken(ItemService))).toBe(reader.items);
    expect(replicas.map((replica) => replica.openSessions.size)).toEqual([1, 1, 1]);

    await app.close();

    const startedAt = performance.now();
    const afterClose = await reader.ownerOf("i6").catch((error: unknown) => error);
    expect(performance.now() - startedAt).toBeLessThan(1_000);
    expect(isCallNotSentError(afterClose) && afterClose.reason).toBe("client-closed");
    expect(afterClose).toMatchObject({ rawMessage: `the client of ${a.address} is closed` });
    const configuredAfterClose = await reader.ownerOf("i7", reader.configured).catch((error: unknown) => error);
    expect(isCallNotSentError(configuredAfterClose) && configuredAfterClose.reason).toBe("client-closed");
    await vi.waitFor(() => expect(replicas.map((replica) => replica.openSessions.size)).toEqual([0, 0, 0]));
  });

  it("has exactly the service's methods, so a misspelt one does not compile", async () => {
    @Module({ imports: [ProtomeshClientsModule.register({ clients: [{ service: ItemService, target: replicas[0]!.address }] })] })
    class AppModule {}
    const app = await boot(AppModule);
    const items = app.get<Client<typeof ItemService>>(getClientToken(ItemService));
    // @ts-expect-error getItme is not a method of ItemService
    expect(() => items.getItme({ itemId: "i1" })).toThrow(TypeError); // eslint-disable-line @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- the misspelt call is the point
    // @ts-expect-error GetItem's request has no field ownerId
    expect(await items.getItem({ itemId: "i1", ownerId: "x" })).toMatchObject({ item: { itemId: "i1" } });
    await app.close();
    // @ts-expect-error a registration needs a target
    expect(() => ProtomeshClientsModule.register({ clients: [{ service: ItemService }] })).not.toThrow();
  });

  it("fails at bootstrap when a client is injected that no module registered, naming its service", async () => {
    @Injectable()
    class HealthReader {
      constructor(@InjectClient(Health) readonly health: Client<typeof Health>) {}
    }
    @Module({ imports: [ProtomeshClientsModule.register({ clients: [{ service: ItemService, target: replicas[0]!.address }] })], providers: [HealthReader] })
    class AppModule {}
    await expect(boot(AppModule)).rejects.toThrow(/Symbol\(@protomesh\/clients\/nest client of grpc\.health\.v1\.Health\)/);
  });

  it("fails at bootstrap on a bad target, sync or from a provider, naming the service", async () => {
    @Module({ imports: [ProtomeshClientsModule.register({ clients: [{ service: ItemService, target: "items.internal" }] })] })
    class MalformedTarget {}
    await expect(boot(MalformedTarget)).rejects.toThrow(/^ProtomeshClientsModule: the client of protomesh\.test\.v1\.ItemService cannot be created: .*items\.internal/);

    const ConfigModule = configModule({});
    @Module({
      imports: [
        ProtomeshClientsModule.registerAsync({
          clients: [{ service: ItemService, name: "shard-1", imports: [ConfigModule], inject: [AppConfig], useFactory: (config: AppConfig) => ({ target: config.get("ITEMS_TARGET") as string }) }],
        }),
      ],
    })
    class MissingTarget {}
    await expect(boot(MissingTarget)).rejects.toThrow('ProtomeshClientsModule: the client of protomesh.test.v1.ItemService named "shard-1" has no target');
  });

  it("refuses one service registered twice under the same name", () => {
    expect(() =>
      ProtomeshClientsModule.register({ clients: [{ service: ItemService, target: "127.0.0.1:1" }, { service: ItemService, target: "127.0.0.1:2" }] }),
    ).toThrow("ProtomeshClientsModule: protomesh.test.v1.ItemService is registered twice; give each client of one service its own name");
  });
});
