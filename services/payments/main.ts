// The payments service as a process (`npm run serve -- payments`); the build bundles it into one file (ADR 0152).
import { main } from "../host/run-service.js";
import { paymentsService } from "./service.js";

await main(paymentsService);
