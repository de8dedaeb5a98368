-- The worker's own database role: exactly the rows and statements the pipeline uses, nothing more.
-- Run it as the tables' owner (Supabase: the `postgres` user), with psql, in the project's database:
--   psql "$OWNER_DATABASE_URL" -v worker_password="$WORKER_PASSWORD" -f deploy/worker-role.sql
-- Then give the worker DATABASE_URL=postgresql://quel_image_worker:<password>@<host>:<port>/<database>.
-- Running it again changes nothing but the password. docs/operating.md says more (row level security among it).
\set ON_ERROR_STOP on

SELECT 'CREATE ROLE quel_image_worker LOGIN'
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'quel_image_worker') \gexec
ALTER ROLE quel_image_worker PASSWORD :'worker_password';

GRANT USAGE ON SCHEMA public TO quel_image_worker;
-- Jobs and production photos: read, and moved along (status, counts, ids); never created or deleted.
GRANT SELECT, UPDATE ON quel_production_jobs, quel_production_photo TO quel_image_worker;
-- Attachments: looked up by path and added, one row per stored image; never changed or deleted.
GRANT SELECT, INSERT ON quel_attach TO quel_image_worker;
-- The sequence behind attach_id, whichever way the column was made (serial or identity).
SELECT format('GRANT USAGE ON SEQUENCE %s TO quel_image_worker', pg_get_serial_sequence('quel_attach', 'attach_id'))
 WHERE pg_get_serial_sequence('quel_attach', 'attach_id') IS NOT NULL \gexec
