-- CreateEnum
CREATE TYPE "BidProposer" AS ENUM ('AGENT', 'POSTER');

-- CreateEnum
CREATE TYPE "OfferStatus" AS ENUM ('PENDING', 'ACCEPTED', 'DECLINED', 'WITHDRAWN', 'EXPIRED');

-- AlterEnum
-- This migration adds more than one value to an enum.
-- With PostgreSQL versions 11 and earlier, this is not possible
-- in a single migration. This can be worked around by creating
-- multiple migrations, each migration adding only one value to
-- the enum.


ALTER TYPE "BidStatus" ADD VALUE 'COUNTERED';
ALTER TYPE "BidStatus" ADD VALUE 'STALE';

-- AlterTable
ALTER TABLE "AgentReputation" ADD COLUMN     "noShows" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "releasedJobs" INTEGER NOT NULL DEFAULT 0;

-- AlterTable
ALTER TABLE "Job" ADD COLUMN     "cancelledInProgressAt" TIMESTAMP(3),
ADD COLUMN     "killFeePercent" INTEGER NOT NULL DEFAULT 20,
ADD COLUMN     "startBy" TIMESTAMP(3),
ADD COLUMN     "startWithinMinutes" INTEGER NOT NULL DEFAULT 1440;

-- AlterTable
ALTER TABLE "Bid" ADD COLUMN     "counterCredits" INTEGER,
ADD COLUMN     "counterMessage" TEXT,
ADD COLUMN     "counterMinutes" INTEGER,
ADD COLUMN     "counteredAt" TIMESTAMP(3),
ADD COLUMN     "counteredById" TEXT;

-- AlterTable
ALTER TABLE "InputRequest" ADD COLUMN     "expiredAt" TIMESTAMP(3),
ADD COLUMN     "expiresAt" TIMESTAMP(3);

-- CreateTable
CREATE TABLE "BidVersion" (
    "id" TEXT NOT NULL,
    "bidId" TEXT NOT NULL,
    "proposedBy" "BidProposer" NOT NULL,
    "memberId" TEXT,
    "requestedCredits" INTEGER NOT NULL,
    "estimatedMinutes" INTEGER NOT NULL,
    "message" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "BidVersion_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Offer" (
    "id" TEXT NOT NULL,
    "jobId" TEXT NOT NULL,
    "agentId" TEXT NOT NULL,
    "workspaceId" TEXT NOT NULL,
    "offeredById" TEXT,
    "credits" INTEGER NOT NULL,
    "estimatedMinutes" INTEGER,
    "message" TEXT NOT NULL,
    "status" "OfferStatus" NOT NULL DEFAULT 'PENDING',
    "expiresAt" TIMESTAMP(3) NOT NULL,
    "startWithinMinutes" INTEGER NOT NULL,
    "reason" TEXT,
    "respondedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Offer_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Message" (
    "id" TEXT NOT NULL,
    "jobId" TEXT NOT NULL,
    "agentId" TEXT NOT NULL,
    "authorKind" "PrincipalKind" NOT NULL,
    "authorMemberId" TEXT,
    "body" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Message_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "BidVersion_bidId_createdAt_idx" ON "BidVersion"("bidId", "createdAt");

-- CreateIndex
CREATE INDEX "Offer_jobId_status_idx" ON "Offer"("jobId", "status");

-- CreateIndex
CREATE INDEX "Offer_agentId_status_idx" ON "Offer"("agentId", "status");

-- CreateIndex
CREATE INDEX "Offer_status_expiresAt_idx" ON "Offer"("status", "expiresAt");

-- CreateIndex
CREATE INDEX "Message_jobId_agentId_createdAt_idx" ON "Message"("jobId", "agentId", "createdAt");

-- CreateIndex
CREATE INDEX "Message_agentId_createdAt_idx" ON "Message"("agentId", "createdAt");

-- CreateIndex
CREATE INDEX "Job_status_startBy_idx" ON "Job"("status", "startBy");

-- CreateIndex
CREATE INDEX "InputRequest_expiresAt_idx" ON "InputRequest"("expiresAt");

-- AddForeignKey
ALTER TABLE "BidVersion" ADD CONSTRAINT "BidVersion_bidId_fkey" FOREIGN KEY ("bidId") REFERENCES "Bid"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Offer" ADD CONSTRAINT "Offer_jobId_fkey" FOREIGN KEY ("jobId") REFERENCES "Job"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Offer" ADD CONSTRAINT "Offer_agentId_fkey" FOREIGN KEY ("agentId") REFERENCES "Agent"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Message" ADD CONSTRAINT "Message_jobId_fkey" FOREIGN KEY ("jobId") REFERENCES "Job"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Message" ADD CONSTRAINT "Message_agentId_fkey" FOREIGN KEY ("agentId") REFERENCES "Agent"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Message" ADD CONSTRAINT "Message_authorMemberId_fkey" FOREIGN KEY ("authorMemberId") REFERENCES "Member"("id") ON DELETE SET NULL ON UPDATE CASCADE;


-- Hand-written: at most one PENDING offer per job and agent (its credits are held in escrow).
CREATE UNIQUE INDEX "Offer_one_pending_per_agent" ON "Offer"("jobId", "agentId") WHERE "status" = 'PENDING';

-- Hand-written: amounts and percentages the code validates, enforced by the database too.
ALTER TABLE "Offer" ADD CONSTRAINT "Offer_credits_positive" CHECK ("credits" > 0);
ALTER TABLE "Bid" ADD CONSTRAINT "Bid_counterCredits_positive" CHECK ("counterCredits" IS NULL OR "counterCredits" > 0);
ALTER TABLE "Job" ADD CONSTRAINT "Job_killFeePercent_range" CHECK ("killFeePercent" BETWEEN 0 AND 100);
ALTER TABLE "Job" ADD CONSTRAINT "Job_startWithinMinutes_positive" CHECK ("startWithinMinutes" > 0);

-- Hand-written: every existing bid's current terms become its first version (Bid.history).
INSERT INTO "BidVersion" ("id", "bidId", "proposedBy", "requestedCredits", "estimatedMinutes", "message", "createdAt")
SELECT 'bv_' || "id", "id", 'AGENT', "requestedCredits", "estimatedMinutes", "message", "submittedAt" FROM "Bid";
