-- AlterTable
ALTER TABLE "OutboxEvent" ADD COLUMN     "chatAt" TIMESTAMP(3);

-- CreateIndex
CREATE INDEX "OutboxEvent_chatAt_id_idx" ON "OutboxEvent"("chatAt", "id");


-- Hand-written: events from before chat notifications existed are not replayed into channels.
UPDATE "OutboxEvent" SET "chatAt" = CURRENT_TIMESTAMP;
