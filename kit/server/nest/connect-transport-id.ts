/** The transport id of ConnectTransport: its decorators register handlers for it alone. */
export const CONNECT_TRANSPORT = Symbol("protomesh.connect");
