// A test double of the shop services served through ConnectTransport, with a guard, an
// interceptor and a pipe that leave traces, and handlers that fail in every way we map.
import "reflect-metadata";
import { setTimeout as sleep } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  ForbiddenException,
  Injectable,
  Module,
  UnauthorizedException,
  UseGuards,
  UseInterceptors,
  UsePipes,
  type CallHandler,
  type CanActivate,
  type ExecutionContext,
  type NestInterceptor,
  type PipeTransform,
} from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import { Controller } from "@nestjs/common";
import { MessagePattern, RpcException, Transport } from "@nestjs/microservices";
import { ViolationsSchema } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { tap, type Observable } from "rxjs";
import { AlreadyExistsError, FailedPreconditionError, NotFoundError, UnavailableError } from "@protomesh/server";
import { ConnectService, ConnectTransport, connectCall, type ConnectTransportOptions } from "@protomesh/server/nest";
import {
  OrderStatus,
  OrdersService,
  type CancelOrderRequest,
  type CreateOrderRequest,
  type GetOrderRequest,
  type ListOrdersRequest,
  type WatchOrderRequest,
} from "protomesh/gen/shop/orders/v1/orders_pb";
import {
  InventoryService,
  type AdjustStockRequest,
  type GetStockRequest,
  type QuoteItemsRequest,
  type SetStockRequest,
} from "protomesh/gen/shop/inventory/v1/inventory_pb";
import { PaymentsService, type GetPaymentRequest, type ListPaymentsForOrderRequest } from "protomesh/gen/shop/payments/v1/payments_pb";

/** What the pipeline did, in order, so tests can see each part run. */
export const trace: string[] = [];

export const ORDER_ID = "3f2b1c9e-8a7d-4e6f-9b0a-1c2d3e4f5a6b";

@Injectable()
class TestGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const call = connectCall(context);
    trace.push(`guard ${call?.method.name} peer=${call?.peer?.id ?? "-"} deadline=${call?.deadline === undefined ? "none" : "set"}`);
    const deny = call?.requestHeader.get("x-test-deny");
    if (deny === "false") return false;
    if (deny === "unauthorized") throw new UnauthorizedException("who are you");
    if (deny === "forbidden") throw new ForbiddenException("not you");
    return true;
  }
}

@Injectable()
class TestInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const call = connectCall(context);
    call?.context.responseHeader.set("x-intercepted", call.method.name);
    return next.handle().pipe(tap(() => trace.push(`interceptor saw a message of ${call?.method.name}`)));
  }
}

/** Trims and upper-cases ListOrders' user id: visible in the response. */
@Injectable()
class UpperCaseUserPipe implements PipeTransform {
  transform(value: unknown): unknown {
    if (typeof value === "object" && value !== null && "userId" in value && typeof value.userId === "string") {
      trace.push("pipe");
      return { ...value, userId: value.userId.toUpperCase() };
    }
    return value;
  }
}

const order = (orderId: string, status = OrderStatus.PENDING) => ({ orderId, userId: "u1", status });

@ConnectService(OrdersService)
@UseGuards(TestGuard)
@UseInterceptors(TestInterceptor)
export class TestOrdersController implements ServiceImpl<typeof OrdersService> {
  // Each user id picks a failure, so one table-driven test can cover the mapping.
  async createOrder(req: CreateOrderRequest) {
    await Promise.resolve();
    switch (req.userId) {
      case "not-found":
        throw new NotFoundError("no such user");
      case "already-exists":
        throw new AlreadyExistsError("order exists");
      case "precondition":
        throw new FailedPreconditionError("order is confirmed");
      case "unavailable":
        throw new UnavailableError("inventory is down");
      case "crash":
        throw new Error("connection string postgres://secret@db");
      case "object":
        // A non-Error thrown value is exactly what this case is about.
        // eslint-disable-next-line @typescript-eslint/only-throw-error
        throw { weird: true };
      case "rpc-exception":
        throw new RpcException("plain rpc exception");
      case "rpc-exception-code":
        throw new RpcException({ code: Code.ResourceExhausted, message: "slow down" });
      case "http-forbidden":
        throw new ForbiddenException("no");
      case "details":
        throw new ConnectError("with details", Code.InvalidArgument, undefined, [
          { desc: ViolationsSchema, value: { violations: [{ message: "custom violation" }] } },
        ]);
      default:
        return { order: order(ORDER_ID), created: true };
    }
  }

  getOrder(req: GetOrderRequest, ctx: HandlerContext) {
    trace.push(`handler getOrder protocol=${ctx.protocolName}`);
    if (req.orderId !== ORDER_ID) {
      throw new NotFoundError(`order ${req.orderId} not found`);
    }
    return { order: order(req.orderId) };
  }

  @UsePipes(UpperCaseUserPipe)
  listOrders(req: ListOrdersRequest, ctx: HandlerContext) {
    return { orders: [order(ORDER_ID)].map((o) => ({ ...o, userId: req.userId })), nextPageToken: String(ctx.timeoutMs() !== undefined) };
  }

  // With x-test-slow it ignores its signal on purpose: the transport must still end the call at
  // the deadline.
  async cancelOrder(req: CancelOrderRequest, ctx: HandlerContext) {
    if (ctx.requestHeader.has("x-test-slow")) {
      await sleep(60_000, undefined, { ref: false });
    }
    return { order: order(req.orderId, OrderStatus.CANCELLED) };
  }

  async *watchOrder(req: WatchOrderRequest, ctx: HandlerContext) {
    for (const status of [OrderStatus.PENDING, OrderStatus.CONFIRMED]) {
      yield { order: order(req.orderId, status) };
    }
    if (ctx.requestHeader.get("x-test-stream") === "forever") {
      await sleep(60_000, undefined, { signal: ctx.signal }).catch(() => {});
    }
    if (ctx.requestHeader.get("x-test-stream") === "fail") {
      throw new FailedPreconditionError("order vanished");
    }
  }
}

@ConnectService(InventoryService)
export class TestInventoryController implements ServiceImpl<typeof InventoryService> {
  getStock(req: GetStockRequest) {
    return { item: { sku: req.sku, available: 1 } };
  }
  quoteItems(req: QuoteItemsRequest) {
    return { lines: req.items.map((i) => ({ sku: i.sku, quantity: i.quantity })), allAvailable: true };
  }
  setStock(req: SetStockRequest) {
    return { item: { sku: req.sku, name: req.name, available: req.available } };
  }
  adjustStock(req: AdjustStockRequest) {
    if (req.delta < 0) throw new FailedPreconditionError("not enough stock");
    return { item: { sku: req.sku } };
  }
}

@ConnectService(PaymentsService)
export class TestPaymentsController implements ServiceImpl<typeof PaymentsService> {
  getPayment(req: GetPaymentRequest) {
    return { payment: { paymentId: req.paymentId } };
  }
  listPaymentsForOrder(req: ListPaymentsForOrderRequest) {
    return { payments: [{ orderId: req.orderId }] };
  }
}

/** Claims a Payments route for other transports: ConnectTransport must not serve it. */
@Controller()
export class RogueController {
  @MessagePattern("/shop.payments.v1.PaymentsService/GetPayment", Transport.TCP)
  forTcp(): unknown {
    trace.push("rogue tcp handler ran");
    return { payment: { paymentId: "rogue" } };
  }

  @MessagePattern("/shop.payments.v1.PaymentsService/ListPaymentsForOrder")
  forAnyTransport(): unknown {
    trace.push("rogue transport-less handler ran");
    return create(ViolationsSchema);
  }
}

@Module({ controllers: [TestOrdersController, TestInventoryController, RogueController] })
export class TestAppModule {}

@Module({ controllers: [TestOrdersController, TestInventoryController, TestPaymentsController] })
export class AllServicesModule {}

export interface RunningApp {
  transport: ConnectTransport;
  baseUrl: string;
  port: number;
  close(): Promise<void>;
}

/** Starts a Nest microservice with ConnectTransport on 127.0.0.1 and a free port. */
export async function startApp(module: object, options: ConnectTransportOptions = {}): Promise<RunningApp> {
  const transport = new ConnectTransport({ host: "127.0.0.1", port: 0, ...options });
  const app = await NestFactory.createMicroservice(module, { strategy: transport, logger: false });
  await app.listen();
  const address = transport.address();
  if (address === undefined) throw new Error("transport did not bind");
  const scheme = options.tls === undefined ? "http" : "https";
  return { transport, port: address.port, baseUrl: `${scheme}://127.0.0.1:${address.port}`, close: () => app.close() };
}
