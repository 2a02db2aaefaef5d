-- Routing (issue 5): the request's category, the deployment that served it, and the whole
-- decision as versioned JSON. Measured success per deployment and category is read back from
-- these at start-up; `tollgate route report` groups by them.
ALTER TABLE exchanges ADD COLUMN route_category TEXT;
ALTER TABLE exchanges ADD COLUMN route_deployment TEXT;
ALTER TABLE exchanges ADD COLUMN route_decision TEXT;
CREATE INDEX exchanges_route ON exchanges (route_category, route_deployment, started_at_ms)
    WHERE route_category IS NOT NULL;
