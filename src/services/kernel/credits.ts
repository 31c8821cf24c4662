/**
 * The documented maximums for credits (README "Credits"). Credit amounts leave the API as
 * `SafeInt` (53-bit); these caps keep every amount and every wallet far inside that range.
 */

/** Largest amount one operation accepts as input (a grant, a purchase, a budget, a bid, a price). */
export const MAX_CREDIT_AMOUNT = 1_000_000_000;

/**
 * Largest balance a wallet may hold: a workspace's total (available + held in escrow) or an
 * agent's. A transfer that would push a wallet over it is refused with a ValidationError and
 * moves nothing; PostgreSQL backs it up (CHECK "LedgerAccount_balance_max").
 */
export const MAX_BALANCE = 1_000_000_000_000_000;

/** `1234567` -> `1,234,567` (for messages). */
export function formatCredits(credits: number): string {
  return credits.toLocaleString('en-US');
}
