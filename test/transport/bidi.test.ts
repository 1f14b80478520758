// Bidi streaming through Nest's pipeline. No shop contract has a bidi method, so the test
// serves grpc.reflection.v1's ServerReflectionInfo from a Nest controller (the transport's own
// reflection is switched off).
import { Code, ConnectError, createClient, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { Injectable, Module, UseInterceptors, type CallHandler, type NestInterceptor } from "@nestjs/common";
import { map, type Observable } from "rxjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConnectService } from "@protomesh/server/nest";
import { FailedPreconditionError } from "@protomesh/server";
import { ServerReflection, type ServerReflectionRequest, type ServerReflectionResponse } from "../../kit/server/gen/grpc/reflection/v1/reflection_pb.js";
import { startApp, type RunningApp } from "./fixtures.js";

/** Proves interceptors see each streamed message: it upper-cases the answer. */
@Injectable()
class ShoutInterceptor implements NestInterceptor {
  intercept(_context: unknown, next: CallHandler<ServerReflectionResponse>): Observable<unknown> {
    return next.handle().pipe(map((res) => ({ ...res, validHost: res.validHost.toUpperCase() })));
  }
}

@ConnectService(ServerReflection)
@UseInterceptors(ShoutInterceptor)
class EchoController implements ServiceImpl<typeof ServerReflection> {
  async *serverReflectionInfo(requests: AsyncIterable<ServerReflectionRequest>, ctx: HandlerContext) {
    for await (const req of requests) {
      if (req.host === "fail") throw new FailedPreconditionError("told to fail");
      yield { validHost: `${req.host} via ${ctx.protocolName}` };
    }
  }
}

@Module({ controllers: [EchoController] })
class EchoModule {}

let app: RunningApp;
beforeAll(async () => {
  app = await startApp(EchoModule, { reflection: false });
});
afterAll(async () => {
  await app.close();
});

async function* hosts(...names: string[]): AsyncIterable<{ host: string }> {
  for (const host of names) yield { host };
}

describe.each([
  ["grpc", () => createGrpcTransport({ baseUrl: app.baseUrl })],
  ["connect", () => createConnectTransport({ baseUrl: app.baseUrl, httpVersion: "2" })],
])("bidi streaming over %s", (protocol, transport) => {
  it("answers each request in turn, through the interceptor", async () => {
    const answers: string[] = [];
    for await (const res of createClient(ServerReflection, transport()).serverReflectionInfo(hosts("a", "b", "c"))) {
      answers.push(res.validHost);
    }
    expect(answers).toEqual(["a", "b", "c"].map((h) => `${h} VIA ${protocol}`.toUpperCase()));
  });

  it("ends the stream with the mapped code of an error thrown mid-stream", async () => {
    const answers: string[] = [];
    const error = await (async () => {
      for await (const res of createClient(ServerReflection, transport()).serverReflectionInfo(hosts("a", "fail", "c"))) {
        answers.push(res.validHost);
      }
    })().then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(answers).toHaveLength(1);
    expect(error?.code).toBe(Code.FailedPrecondition);
  });
});
