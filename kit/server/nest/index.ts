// @protomesh/server/nest: the Connect transport as a Nest microservice strategy.

// The Nest transport: a strategy, the controller decorator, and the call seen by guards.
export { ConnectTransport, type ConnectTransportOptions } from "./connect-transport.js";
export { CONNECT_TRANSPORT } from "./connect-transport-id.js";
export { ConnectService, procedureOf } from "./connect-service.decorator.js";
export { connectCall, type ConnectCall } from "./connect-call.js";
export { ConnectExceptionFilter, fromNestException } from "./connect-exception-filter.js";
