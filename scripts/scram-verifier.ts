import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { text } from 'node:stream/consumers';

/**
 * `printf '%s' "$PASSWORD" | npm run -s scram-verifier`: the password read from standard input (never from the
 * command line, where `ps` shows it), printed as the SCRAM-SHA-256 verifier PostgreSQL stores for it (RFC 5802,
 * PostgreSQL's defaults: 4096 iterations, a 16-byte salt). `ALTER ROLE … PASSWORD '<verifier>'` stores it as it is,
 * so the server, and its log when it logs DDL, never sees the password itself (what psql's \password does, without
 * its terminal). deploy/worker-role.sql reads the verifier from standard input in turn.
 */

const ITERATIONS = 4096;

export function scramVerifier(password: string, salt = randomBytes(16)): string {
  const salted = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, ITERATIONS, 32, 'sha256');
  const hmac = (key: Buffer, data: string) => createHmac('sha256', key).update(data).digest();
  const storedKey = createHash('sha256').update(hmac(salted, 'Client Key')).digest('base64');
  const serverKey = hmac(salted, 'Server Key').toString('base64');
  return `SCRAM-SHA-256$${ITERATIONS}:${salt.toString('base64')}$${storedKey}:${serverKey}`;
}

async function main(): Promise<void> {
  if (process.stdin.isTTY) throw new Error(`pipe the password in: printf '%s' "$PASSWORD" | npm run -s scram-verifier`);
  const password = (await text(process.stdin)).replace(/\r?\n$/, '');
  if (password.length === 0) throw new Error('no password on standard input');
  // PostgreSQL prepares a password by SASLprep, which leaves ASCII as it is; anything else could hash differently.
  if (!/^[\x20-\x7e]+$/.test(password)) throw new Error('the password must be printable ASCII');
  console.log(scramVerifier(password));
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error((error as Error).message);
    process.exit(1);
  });
}
