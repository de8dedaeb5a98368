import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * A private certificate authority made with openssl, as a self-hosted Temporal, PostgreSQL or Redis would use:
 * a server certificate for loopback (`localhost` and 127.0.0.1), a client certificate for mutual TLS, and a
 * second, unrelated authority to show what a wrong CA does. ECDSA P-256 keys: quick to make, and accepted by
 * rustls (Temporal's core), Go (the server), OpenSSL (PostgreSQL, Redis) and Node alike.
 */
export interface TestCertificates {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  /** The server certificate followed by the CA's, as servers that send their whole chain (Supabase's) have it. */
  serverChain: string;
  clientCert: string;
  clientKey: string;
  /** A CA that signed nothing here. */
  otherCaCert: string;
}

/** Makes the set in `dir` unless it is there already. Keys are readable by their owner only. */
export function makeTestCertificates(dir: string): TestCertificates {
  const file = (name: string) => path.join(dir, name);
  const set: TestCertificates = {
    dir,
    caCert: file('ca.crt'),
    serverCert: file('server.crt'),
    serverKey: file('server.key'),
    serverChain: file('server-chain.crt'),
    clientCert: file('client.crt'),
    clientKey: file('client.key'),
    otherCaCert: file('other-ca.crt'),
  };
  if (existsSync(set.otherCaCert)) return set;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const key = (name: string) =>
    openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', name);
  const authority = (name: string, subject: string) => {
    key(`${name}.key`);
    openssl('req', '-x509', '-new', '-key', `${name}.key`, '-subj', subject, '-days', '30', '-out', `${name}.crt`);
  };
  const signed = (name: string, subject: string, extensions: string) => {
    key(`${name}.key`);
    writeFileSync(file(`${name}.ext`), extensions);
    openssl('req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`);
    openssl(
      'x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
      '-days', '30', '-extfile', `${name}.ext`, '-out', `${name}.crt`,
    ); // prettier-ignore
  };
  authority('ca', '/CN=quel-image-jobs test CA');
  signed(
    'server',
    '/CN=localhost',
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n',
  );
  writeFileSync(set.serverChain, readFileSync(set.serverCert, 'utf8') + readFileSync(set.caCert, 'utf8'));
  signed('client', '/CN=quel-image-jobs worker', 'keyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n');
  authority('other-ca', '/CN=an unrelated CA');
  return set;
}
