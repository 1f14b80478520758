// The orders service as a process (`npm run serve -- orders`); the build bundles it into one file (ADR 0152).
import { main } from "../host/run-service.js";
import { ordersService } from "./service.js";

await main(ordersService);
