-- 0004: vehicle and department changes are announced on fleet_registry too (payload: the table's name), with the
-- statement trigger of 0003. The live hub keeps a vehicle → department, zone and region map for its fan-out, and a
-- vehicle that changes department must go to its new department's viewers, and no longer to its old one's, at once.

CREATE TRIGGER vehicles_notify_registry
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON vehicles
FOR EACH STATEMENT EXECUTE FUNCTION notify_registry_change();

CREATE TRIGGER departments_notify_registry
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON departments
FOR EACH STATEMENT EXECUTE FUNCTION notify_registry_change();
