import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Code, type UnaryRequest, type UnaryResponse } from "@connectrpc/connect";
import { deadlineInterceptor, deadlineKey, withDeadline, withIncomingDeadline } from "@protomesh/clients";
import { methods, settle, unaryRequest, unaryResponse } from "../../test/clients/helpers/requests.js";

function setup(options: Parameters<typeof deadlineInterceptor>[0], respond: (req: UnaryRequest) => Promise<UnaryResponse> = (req) => Promise.resolve(unaryResponse(req))) {
  const seen: UnaryRequest[] = [];
  const next = (req: UnaryRequest) => {
    seen.push(req);
    return respond(req);
  };
  const call = deadlineInterceptor(options)(next as never) as (req: UnaryRequest) => Promise<UnaryResponse>;
  return { call, seen };
}

const hang = (req: UnaryRequest) =>
  new Promise<UnaryResponse>((_, reject) => req.signal.addEventListener("abort", () => reject(req.signal.reason as Error)));

describe("deadline interceptor", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("gives a call without a deadline its method's default, and enforces it", async () => {
    const { call, seen } = setup({ defaultTimeoutMs: 5_000, methods: { GetItem: 200 } }, hang);
    const result = settle(call(unaryRequest(methods.getItem)));
    await vi.advanceTimersByTimeAsync(199);
    expect(seen[0]!.header.get("grpc-timeout")).toBe("200m");
    expect(seen[0]!.contextValues.get(deadlineKey)).toBe(1_000_200);
    await vi.advanceTimersByTimeAsync(1);
    expect(await result).toMatchObject({ ok: false, error: { code: Code.DeadlineExceeded } });
  });

  it("keeps the caller's own shorter timeout", async () => {
    const { call, seen } = setup({ defaultTimeoutMs: 5_000 });
    await call(unaryRequest(methods.getItem, {}, { header: { "grpc-timeout": "300m" } }));
    expect(seen[0]!.header.get("grpc-timeout")).toBe("300m");
    expect(seen[0]!.signal.aborted).toBe(false);
  });

  it("propagates an ambient deadline from an incoming call, the earliest winning", async () => {
    const { call, seen } = setup({ defaultTimeoutMs: 5_000 });
    await withIncomingDeadline({ timeoutMs: () => 800 }, () =>
      withDeadline(Date.now() + 2_000, () => call(unaryRequest(methods.getItem, {}, { header: { "grpc-timeout": "1000m" } }))),
    );
    expect(seen[0]!.header.get("grpc-timeout")).toBe("800m");
    expect(seen[0]!.contextValues.get(deadlineKey)).toBe(1_000_800);
  });

  it("takes an explicit deadline from the call's context values", async () => {
    const { call, seen } = setup({});
    const req = unaryRequest(methods.getItem);
    req.contextValues.set(deadlineKey, Date.now() + 150);
    await call(req);
    expect(seen[0]!.header.get("grpc-timeout")).toBe("150m");
  });

  it("fails at once when the propagated deadline has already passed", async () => {
    const { call, seen } = setup({});
    const result = await settle(withDeadline(Date.now() - 1, () => call(unaryRequest(methods.getItem))));
    expect(result).toMatchObject({ ok: false, error: { code: Code.DeadlineExceeded } });
    expect(seen).toHaveLength(0);
  });

  it("leaves a call alone when there is no deadline anywhere and no default", async () => {
    const { call, seen } = setup({});
    await call(unaryRequest(methods.getItem));
    expect(seen[0]!.header.has("grpc-timeout")).toBe(false);
  });
});
