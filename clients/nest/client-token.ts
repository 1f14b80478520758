import type { DescService } from "@bufbuild/protobuf";
import { Inject } from "@nestjs/common";

/**
 * The DI token of a registered client: a Symbol derived from the service's typeName (and the
 * registration's name, when one service has several clients). `Symbol.for` makes it the same
 * token in every copy of this package, and Nest prints its description when it is missing.
 */
export function getClientToken(service: DescService, name?: string): symbol {
  return Symbol.for(`@protomesh/clients/nest client of ${service.typeName}${name === undefined ? "" : ` named "${name}"`}`);
}

/**
 * Injects the client that ProtomeshClientsModule registered for `service`. Type the parameter
 * `Client<typeof Service>`, so a call of a method the service lacks does not compile.
 */
export function InjectClient(service: DescService, name?: string): PropertyDecorator & ParameterDecorator {
  return Inject(getClientToken(service, name));
}
