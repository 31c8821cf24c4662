-- Hand-written: no wallet holds more than MAX_BALANCE (src/services/kernel/credits.ts, README "Credits").
-- The ledger refuses such a transfer first (ValidationError); this CHECK is the last line of defence.
-- EXTERNAL (minus everything minted) and FEES (the platform's income) are not wallets and are not capped.
ALTER TABLE "LedgerAccount" ADD CONSTRAINT "LedgerAccount_balance_max"
  CHECK ("kind" IN ('EXTERNAL', 'FEES') OR "balance" <= 1000000000000000);
