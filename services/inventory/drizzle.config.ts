// drizzle-kit generate reads this: the inventory schema, migrations written beside it.
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./services/inventory/schema.ts",
  out: "./services/inventory/migrations",
});
