-- AlterTable
ALTER TABLE "OutboxEvent" ADD COLUMN     "seq" BIGINT;

-- CreateIndex
CREATE UNIQUE INDEX "OutboxEvent_seq_key" ON "OutboxEvent"("seq");

-- CreateIndex
CREATE INDEX "OutboxEvent_jobId_seq_idx" ON "OutboxEvent"("jobId", "seq");

-- CreateIndex
CREATE INDEX "OutboxEvent_agentId_seq_idx" ON "OutboxEvent"("agentId", "seq");


-- Events published before this migration keep their old position (`seq` was the id): a client
-- holding one of those values resumes where it was. New positions continue above the highest.
UPDATE "OutboxEvent" SET "seq" = "id" WHERE "publishedAt" IS NOT NULL;
