// The inventory service as a process (`npm run serve -- inventory`); the build bundles it into one file (ADR 0152).
import { main } from "../host/run-service.js";
import { inventoryService } from "./service.js";

await main(inventoryService);
