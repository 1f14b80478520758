import { parseEnv, serviceConfigSchema } from "../kit/config/index.js";

const schema = serviceConfigSchema("inventory", 50052, {}, (common) => common);

export type InventoryConfig = ReturnType<typeof loadInventoryConfig>;

export function loadInventoryConfig(environment: Record<string, string | undefined> = process.env) {
  return parseEnv(schema, environment);
}
