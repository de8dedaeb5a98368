-- The worker's own database role: exactly the rows and statements the pipeline uses, nothing more.
-- Run it as the tables' owner (Supabase: the `postgres` user), with psql, in the project's database, the worker's
-- password given on standard input as its SCRAM verifier, so that neither `ps` (a -v argument) nor the server's
-- log of DDL ever shows the password itself:
--   read -rsp 'worker password: ' WORKER_PASSWORD; echo
--   printf '%s' "$WORKER_PASSWORD" | npm run -s scram-verifier | psql "$OWNER_DATABASE_URL" -f deploy/worker-role.sql
-- Then give the worker DATABASE_URL=postgresql://quel_image_worker:<password>@<host>:<port>/<database>.
-- Running it again changes nothing but the password. docs/operating.md says more (row level security among it).
\set ON_ERROR_STOP on
\set role quel_image_worker
\ir role-login.sql

GRANT USAGE ON SCHEMA public TO quel_image_worker;
-- Jobs and production photos: read, and moved along (status, counts, ids); never created or deleted.
GRANT SELECT, UPDATE ON quel_production_jobs, quel_production_photo TO quel_image_worker;
-- Attachments: looked up by path and added, one row per stored image; never changed or deleted.
GRANT SELECT, INSERT ON quel_attach TO quel_image_worker;
-- The sequence behind attach_id, whichever way the column was made (serial or identity).
SELECT format('GRANT USAGE ON SEQUENCE %s TO quel_image_worker', pg_get_serial_sequence('quel_attach', 'attach_id'))
 WHERE pg_get_serial_sequence('quel_attach', 'attach_id') IS NOT NULL \gexec
