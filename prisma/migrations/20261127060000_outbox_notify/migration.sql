-- Wake the outbox dispatchers as soon as events commit (NOTIFY is delivered at commit, never
-- for rolled-back transactions). Dispatchers also poll, so a missed notification only delays.
CREATE FUNCTION "outbox_notify"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('agentwork_outbox', '');
  RETURN NULL;
END;
$$;
CREATE TRIGGER "OutboxEvent_notify" AFTER INSERT ON "OutboxEvent"
  FOR EACH STATEMENT EXECUTE FUNCTION "outbox_notify"();
