-- The login role :role (set by the script that includes this: worker-role.sql, bridge-role.sql), its password read
-- from standard input as a SCRAM verifier and stored as it is: neither `ps` (a -v argument) nor the server's log of
-- DDL ever shows the password itself, and the server never has it.
-- With -f, psql reads this from standard input.
\prompt 'SCRAM verifier of the password: ' role_password
SELECT left(:'role_password', 14) = 'SCRAM-SHA-256$' AS is_verifier \gset
\if :is_verifier
\else
  DO $$ BEGIN RAISE EXCEPTION 'standard input must be a SCRAM verifier: printf ''%%s'' "$PASSWORD" | npm run -s scram-verifier | psql ... -f deploy/<the role''s script>.sql'; END $$;
\endif

SELECT format('CREATE ROLE %I LOGIN', :'role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
ALTER ROLE :"role" PASSWORD :'role_password';
