// Typed clients for the shop's services, built on @protomesh/clients.
import { type Client } from "@connectrpc/connect";
import { type ClientOptions, createClient } from "@protomesh/clients";
import { InventoryService } from "../gen/shop/inventory/v1/inventory_pb.js";
import { OrdersService } from "../gen/shop/orders/v1/orders_pb.js";
import { PaymentsService } from "../gen/shop/payments/v1/payments_pb.js";

export const createOrdersClient = (options: ClientOptions): Client<typeof OrdersService> => createClient(OrdersService, options);
export const createInventoryClient = (options: ClientOptions): Client<typeof InventoryService> => createClient(InventoryService, options);
export const createPaymentsClient = (options: ClientOptions): Client<typeof PaymentsService> => createClient(PaymentsService, options);
