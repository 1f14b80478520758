// drizzle-kit generate reads this: the orders schema, migrations written beside it.
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./services/orders/schema.ts",
  out: "./services/orders/migrations",
});
