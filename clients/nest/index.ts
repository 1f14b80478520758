// @protomesh/clients/nest: typed, balanced clients as Nest providers (ADR 0132).
export {
  ProtomeshClientsModule,
  type ProtomeshClientsModuleOptions,
  type ProtomeshClientsModuleAsyncOptions,
  type ClientRegistration,
  type AsyncClientRegistration,
} from "./clients-module.js";
export { InjectClient, getClientToken } from "./client-token.js";
// The type of an injected client: Client<typeof ItemService> has exactly the service's methods.
export type { Client } from "@connectrpc/connect";
