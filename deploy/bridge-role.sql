-- The bridge's own database role: it reads each job's user (job_input_data, by job_id) to start the job's workflow
-- with its fairness key, and nothing else. Run it as the tables' owner (Supabase: the `postgres` user), with psql, in
-- the project's database, the bridge's password given on standard input as its SCRAM verifier, as for the worker:
--   read -rsp 'bridge password: ' BRIDGE_PASSWORD; echo
--   printf '%s' "$BRIDGE_PASSWORD" | npm run -s scram-verifier | psql "$OWNER_DATABASE_URL" -f deploy/bridge-role.sql
-- Then give the bridge DATABASE_URL=postgresql://quel_image_bridge:<password>@<host>:<port>/<database>.
-- Running it again changes nothing but the password.
\set ON_ERROR_STOP on
\set role quel_image_bridge
\ir role-login.sql

GRANT USAGE ON SCHEMA public TO quel_image_bridge;
-- Two columns of one table: no status, no prompt of another table, no writes.
GRANT SELECT (job_id, job_input_data) ON quel_production_jobs TO quel_image_bridge;
