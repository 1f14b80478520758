import type { DescService } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { type DynamicModule, type FactoryProvider, Module, type ModuleMetadata, type OnApplicationShutdown } from "@nestjs/common";
import { closeClient, createClient } from "../create-client.js";
import type { ClientOptions } from "../options.js";
import { getClientToken } from "./client-token.js";

/** One client: the service it calls, where, and how (every ClientOptions field, `target` required). */
export interface ClientRegistration<S extends DescService = DescService> extends ClientOptions {
  service: S;
  /** Tells apart several clients of one service (e.g. one per shard); inject with the same name. */
  name?: string;
}

/** One client whose options come from providers, such as a ConfigService, at bootstrap. */
export interface AsyncClientRegistration<S extends DescService = DescService> {
  service: S;
  name?: string;
  /** Modules that export the providers `inject` names. */
  imports?: ModuleMetadata["imports"];
  inject?: FactoryProvider["inject"];
  // The arguments are whatever `inject` lists, as in Nest's own useFactory.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  useFactory: (...args: any[]) => ClientOptions | Promise<ClientOptions>;
}

export interface ProtomeshClientsModuleOptions {
  clients: readonly ClientRegistration[];
  /** Registers the clients in the global scope, so every module can inject them. Default: false. */
  isGlobal?: boolean;
}

export interface ProtomeshClientsModuleAsyncOptions {
  clients: readonly AsyncClientRegistration[];
  /** Registers the clients in the global scope, so every module can inject them. Default: false. */
  isGlobal?: boolean;
}

/**
 * Typed, balanced clients as Nest providers, in the shape of Nest's ClientsModule: `register`
 * with the options at hand, `registerAsync` with options from injected providers. Clients are
 * created at bootstrap (a bad target fails it, naming the service) and closed at application
 * shutdown, after the HTTP server and microservices have stopped taking calls.
 */
@Module({})
export class ProtomeshClientsModule {
  static register(options: ProtomeshClientsModuleOptions): DynamicModule {
    const providers = options.clients.map(
      (registration): FactoryProvider => ({
        provide: tokenOf(registration),
        useFactory: () => {
          const { service, name, ...clientOptions } = registration;
          return clientFor(service, name, clientOptions);
        },
      }),
    );
    return moduleOf(options.clients, providers, [], options.isGlobal);
  }

  static registerAsync(options: ProtomeshClientsModuleAsyncOptions): DynamicModule {
    const providers = options.clients.map(
      (registration): FactoryProvider => ({
        provide: tokenOf(registration),
        useFactory: async (...args: unknown[]) => clientFor(registration.service, registration.name, await registration.useFactory(...args)),
        inject: registration.inject ?? [],
      }),
    );
    const imports = [...new Set(options.clients.flatMap((registration) => registration.imports ?? []))];
    return moduleOf(options.clients, providers, imports, options.isGlobal);
  }
}

/** Closes this module's clients once the application has stopped taking calls. */
class ClientsShutdown implements OnApplicationShutdown {
  constructor(private readonly clients: readonly object[]) {}

  onApplicationShutdown(): void {
    for (const client of this.clients) closeClient(client);
  }
}

interface Registered {
  service: DescService;
  name?: string | undefined;
}

function moduleOf(registrations: readonly Registered[], providers: FactoryProvider[], imports: NonNullable<ModuleMetadata["imports"]>, isGlobal = false): DynamicModule {
  const tokens = providers.map((provider) => provider.provide as symbol);
  const seen = new Set<symbol>();
  registrations.forEach((registration, index) => {
    const token = tokens[index] as symbol;
    if (seen.has(token)) {
      throw new TypeError(`ProtomeshClientsModule: ${describe(registration)} is registered twice; give each client of one service its own name`);
    }
    seen.add(token);
  });
  const shutdown: FactoryProvider = {
    provide: ClientsShutdown,
    useFactory: (...clients: object[]) => new ClientsShutdown(clients),
    inject: tokens,
  };
  return { module: ProtomeshClientsModule, global: isGlobal, imports, providers: [...providers, shutdown], exports: tokens };
}

function tokenOf(registration: Registered): symbol {
  return getClientToken(registration.service, registration.name);
}

function clientFor<S extends DescService>(service: S, name: string | undefined, options: ClientOptions | undefined): Client<S> {
  const registration = { service, name };
  if (options?.target === undefined) {
    throw new TypeError(`ProtomeshClientsModule: the client of ${describe(registration)} has no target`);
  }
  try {
    return createClient(service, options);
  } catch (error) {
    throw new TypeError(`ProtomeshClientsModule: the client of ${describe(registration)} cannot be created: ${(error as Error).message}`, { cause: error });
  }
}

function describe({ service, name }: Registered): string {
  return name === undefined ? service.typeName : `${service.typeName} named "${name}"`;
}
