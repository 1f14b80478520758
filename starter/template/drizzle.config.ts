import { defineConfig } from "drizzle-kit";

// `npm run db:generate` writes a migration for every change to src/schema.ts into migrations/;
// the service applies them when it opens its database.
export default defineConfig({ dialect: "postgresql", schema: "./src/schema.ts", out: "./migrations" });
