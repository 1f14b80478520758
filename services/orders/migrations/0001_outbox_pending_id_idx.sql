CREATE INDEX "outbox_pending_id_idx" ON "outbox" USING btree ("id") WHERE published_at is null;--> statement-breakpoint
-- Re-analyze after 1 % of the rows change, not 10 %: a backlog that builds up fast otherwise
-- leaves the planner without statistics for its pending rows (ADR 91).
ALTER TABLE "outbox" SET (autovacuum_analyze_scale_factor = 0.01);
