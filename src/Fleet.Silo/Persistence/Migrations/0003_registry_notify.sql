-- 0003: registry changes are announced on the channel fleet_registry, the payload being the table's name.
-- This is the one notification path from the registry to its consumers (the broker's password file today);
-- consumers LISTEN and re-read what they need, so nothing polls. Statement-level: a bulk change is one
-- notice, and PostgreSQL folds identical notices of one transaction into one, delivered at commit.

CREATE FUNCTION notify_registry_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('fleet_registry', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

CREATE TRIGGER terminals_notify_registry
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON terminals
FOR EACH STATEMENT EXECUTE FUNCTION notify_registry_change();
