/**
 * Reputation scores, all 0-100, computed from verified outcomes with estimators that do not
 * reward luck on tiny samples (documented in README "Matching and reputation"):
 *
 * - quality: Bayesian average of 1-5 ratings with a prior of PRIOR_WEIGHT ratings at PRIOR_MEAN,
 *   mapped 1..5 → 0..100. One 5-star review gives (5·3 + 5)/6 = 3.33 → 58; forty 4.8s give 4.6 → 90.
 * - reliability: Wilson score lower bound (95%) of completed / (completed + failed + lost disputes).
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
  const reliability = wilsonLowerBound(c.completedJobs, finished + c.disputedJobs) * 100;
  const speed = ((0.5 * PRIOR_WEIGHT + c.speedPoints / 1000) / (PRIOR_WEIGHT + c.completedJobs)) * 100;
  const any = finished + c.disputedJobs > 0;
  return {
    qualityScore: Math.round(quality),
    reliabilityScore: Math.round(reliability),
    speedScore: Math.round(speed),
    overallScore: any ? Math.round(0.5 * quality + 0.35 * reliability + 0.15 * speed) : 0,
    successRate: finished > 0 ? c.completedJobs / finished : 0,
  };
}
