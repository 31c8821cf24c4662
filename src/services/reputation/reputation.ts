import type { Tx } from '../../db/client.ts';

/**
 * Reputation scores, all 0-100, computed from verified outcomes with estimators that do not
 * reward luck on tiny samples (documented in README "Matching and reputation"):
 *
 * - quality: Bayesian average of 1-5 ratings with a prior of PRIOR_WEIGHT ratings at PRIOR_MEAN,
 *   mapped 1..5 → 0..100. One 5-star review gives (5·3 + 5)/6 = 3.33 → 58; forty 4.8s give 4.6 → 90.
 * - reliability: Wilson score lower bound (95%) of completed / (completed + failed + lost disputes
 *   + no-shows + half of the jobs released before starting). A no-show (an accepted assignment
 *   not started by `startBy`) weighs like a failure; giving a job back in time weighs half.
 * - speed: Bayesian average of min(estimated / actual, 1) per completed job, prior 0.5 over 5 jobs.
 * - overall: 0.5·quality + 0.35·reliability + 0.15·speed; 0 before the first finished job.
 */
export const PRIOR_MEAN = 3;
export const PRIOR_WEIGHT = 5;
const Z = 1.96;

export function wilsonLowerBound(successes: number, trials: number, z = Z): number {
  if (trials <= 0) return 0;
  const p = successes / trials;
  const z2 = z * z;
  const centre = p + z2 / (2 * trials);
  const margin = z * Math.sqrt((p * (1 - p) + z2 / (4 * trials)) / trials);
  return Math.max(0, (centre - margin) / (1 + z2 / trials));
}

export function bayesianRating(ratingSum: number, ratingCount: number): number {
  return (PRIOR_MEAN * PRIOR_WEIGHT + ratingSum) / (PRIOR_WEIGHT + ratingCount);
}

export interface ReputationCounters {
  completedJobs: number;
  failedJobs: number;
  disputedJobs: number;
  /** Assignments not started by startBy. */
  noShows?: number;
  /** Assignments given back before starting (releaseJob). */
  releasedJobs?: number;
  ratingSum: number;
  ratingCount: number;
  /** Sum over completed jobs of min(estimated/actual, 1) × 1000. */
  speedPoints: number;
}

export interface ReputationScores {
  overallScore: number;
  qualityScore: number;
  reliabilityScore: number;
  speedScore: number;
  successRate: number;
}

export function computeScores(c: ReputationCounters): ReputationScores {
  const finished = c.completedJobs + c.failedJobs;
  const quality = ((bayesianRating(c.ratingSum, c.ratingCount) - 1) / 4) * 100;
  const walkedAway = (c.noShows ?? 0) + 0.5 * (c.releasedJobs ?? 0);
  const reliability = wilsonLowerBound(c.completedJobs, finished + c.disputedJobs + walkedAway) * 100;
  const speed = ((0.5 * PRIOR_WEIGHT + c.speedPoints / 1000) / (PRIOR_WEIGHT + c.completedJobs)) * 100;
  const any = finished + c.disputedJobs + walkedAway > 0;
  return {
    qualityScore: Math.round(quality),
    reliabilityScore: Math.round(reliability),
    speedScore: Math.round(speed),
    overallScore: any ? Math.round(0.5 * quality + 0.35 * reliability + 0.15 * speed) : 0,
    successRate: finished > 0 ? c.completedJobs / finished : 0,
  };
}

/** Badge thresholds (inclusive). README "Matching and reputation" lists them. */
export const BADGES = {
  fastResponder: { speedScore: 80, completedJobs: 5 },
  topRated: { qualityScore: 85, ratingCount: 10 },
  reliable: { reliabilityScore: 80 },
  skillExpert: { completedJobs: 10, score: 80 },
} as const;

export function badgesFor(
  scores: ReputationScores,
  c: ReputationCounters,
  skills: { skill: string; completedJobs: number; score: number }[],
): string[] {
  const badges: string[] = [];
  if (scores.speedScore >= BADGES.fastResponder.speedScore && c.completedJobs >= BADGES.fastResponder.completedJobs) {
    badges.push('Fast Responder');
  }
  if (scores.qualityScore >= BADGES.topRated.qualityScore && c.ratingCount >= BADGES.topRated.ratingCount) {
    badges.push('Top Rated');
  }
  if (scores.reliabilityScore >= BADGES.reliable.reliabilityScore) badges.push('Reliable');
  for (const s of skills) {
    if (s.completedJobs >= BADGES.skillExpert.completedJobs && s.score >= BADGES.skillExpert.score) {
      badges.push(
        `${s.skill
          .split('-')
          .map((w) => w[0]!.toUpperCase() + w.slice(1))
          .join(' ')} Expert`,
      );
    }
  }
  return badges;
}

export type Outcome =
  | { kind: 'completed'; rating: number | null; estimatedMinutes: number | null; actualMinutes: number }
  | { kind: 'failed' }
  | { kind: 'disputed' }
  /** An accepted assignment not started by `startBy`. */
  | { kind: 'no_show' }
  /** The agent gave an assignment back before starting. */
  | { kind: 'released' };

/**
 * Records one verified outcome for an agent (and each of the job's skills) and recomputes its
 * scores and badges, in the caller's transaction. Ratings from the agent's own workspace are
 * passed as null by the caller: self-reviews never move scores.
 */
export async function applyOutcome(tx: Tx, agentId: string, skills: string[], outcome: Outcome) {
  const speed =
    outcome.kind === 'completed' && outcome.estimatedMinutes
      ? Math.round(Math.min(outcome.estimatedMinutes / Math.max(outcome.actualMinutes, 1), 1) * 1000)
      : outcome.kind === 'completed'
        ? 500
        : 0;
  const rating = outcome.kind === 'completed' ? outcome.rating : null;
  const rep = await tx.agentReputation.upsert({
    where: { agentId },
    create: { agentId },
    update: {},
  });
  const c: ReputationCounters = {
    completedJobs: rep.completedJobs + (outcome.kind === 'completed' ? 1 : 0),
    failedJobs: rep.failedJobs + (outcome.kind === 'failed' ? 1 : 0),
    disputedJobs: rep.disputedJobs + (outcome.kind === 'disputed' ? 1 : 0),
    noShows: rep.noShows + (outcome.kind === 'no_show' ? 1 : 0),
    releasedJobs: rep.releasedJobs + (outcome.kind === 'released' ? 1 : 0),
    ratingSum: rep.ratingSum + (rating ?? 0),
    ratingCount: rep.ratingCount + (rating !== null ? 1 : 0),
    speedPoints: rep.speedPoints + speed,
  };
  // Walking away from an assignment says nothing about skill: only the overall record moves.
  for (const skill of outcome.kind === 'no_show' || outcome.kind === 'released' ? [] : skills) {
    const s = await tx.agentSkillReputation.upsert({
      where: { agentId_skill: { agentId, skill } },
      create: { agentId, skill },
      update: {},
    });
    const completed = s.completedJobs + (outcome.kind === 'completed' ? 1 : 0);
    const failed = s.failedJobs + (outcome.kind === 'failed' ? 1 : 0);
    const ratingSum = s.ratingSum + (rating ?? 0);
    const ratingCount = s.ratingCount + (rating !== null ? 1 : 0);
    const score = computeScores({
      completedJobs: completed,
      failedJobs: failed,
      disputedJobs: 0,
      ratingSum,
      ratingCount,
      speedPoints: 0,
    });
    await tx.agentSkillReputation.update({
      where: { agentId_skill: { agentId, skill } },
      data: {
        completedJobs: completed,
        failedJobs: failed,
        ratingSum,
        ratingCount,
        score: Math.round(0.6 * score.qualityScore + 0.4 * score.reliabilityScore),
      },
    });
  }
  const scores = computeScores(c);
  const skillRows = await tx.agentSkillReputation.findMany({ where: { agentId } });
  await tx.agentReputation.update({
    where: { agentId },
    data: {
      ...c,
      totalJobs: c.completedJobs + c.failedJobs + c.disputedJobs,
      overallScore: scores.overallScore,
      qualityScore: scores.qualityScore,
      reliabilityScore: scores.reliabilityScore,
      speedScore: scores.speedScore,
      badges: badgesFor(scores, c, skillRows),
    },
  });
}
