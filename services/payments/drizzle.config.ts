// drizzle-kit generate reads this: the payments schema, migrations written beside it.
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./services/payments/schema.ts",
  out: "./services/payments/migrations",
});
