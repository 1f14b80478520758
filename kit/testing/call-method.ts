import type { DescMethod, DescMethodStreaming, DescMethodUnary, Message } from "@bufbuild/protobuf";
import { ConnectError, type Transport } from "@connectrpc/connect";

/** How one call ended: answered, failed with a code, or (a stream) still open when we stopped reading. */
export type CallOutcome =
  | { kind: "ok"; responses: Message[] }
  | { kind: "error"; error: ConnectError; responses: Message[] }
  | { kind: "open"; responses: Message[] };

export interface CallLimits {
  timeoutMs: number;
  /** A stream that sends nothing for this long is left open: a watch may wait for changes forever. */
  streamWindowMs: number;
}

/** One call with one request message, whatever the method's kind (streams get a stream of one). */
export async function callMethod(transport: Transport, method: DescMethod, request: Message, limits: CallLimits): Promise<CallOutcome> {
  if (method.methodKind === "unary") {
    try {
      const response = await transport.unary(method as DescMethodUnary, undefined, limits.timeoutMs, undefined, request);
      return { kind: "ok", responses: [response.message] };
    } catch (err) {
      return { kind: "error", error: ConnectError.from(err), responses: [] };
    }
  }
  const stopped = new AbortController();
  const responses: Message[] = [];
  let quiet: NodeJS.Timeout | undefined;
  const waitQuietly = () => {
    clearTimeout(quiet);
    quiet = setTimeout(() => stopped.abort(), limits.streamWindowMs);
  };
  try {
    waitQuietly();
    const response = await transport.stream(method as DescMethodStreaming, stopped.signal, limits.timeoutMs, undefined, oneMessage(request));
    for await (const message of response.message) {
      responses.push(message);
      waitQuietly();
    }
    return { kind: "ok", responses };
  } catch (err) {
    if (stopped.signal.aborted) return { kind: "open", responses };
    return { kind: "error", error: ConnectError.from(err), responses };
  } finally {
    clearTimeout(quiet);
  }
}

async function* oneMessage(message: Message): AsyncIterable<Message> {
  yield message;
}
