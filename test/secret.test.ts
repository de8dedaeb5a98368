import { secretValuesIn } from '../src/process/config';
import { scrubSecrets, scrubText, withoutUrlSecrets } from '../src/process/secret';

describe('scrubbing', () => {
  test('removes a secret from the message, stack and causes of an error, and any URL credentials', () => {
    const error = new Error(`connect failed for postgres://u:pw-SECRET-1@h/db`, {
      cause: new Error('token pw-SECRET-1'),
    });
    scrubSecrets(error, ['pw-SECRET-1']);
    expect(error.message).toBe('connect failed for postgres://[redacted]@h/db');
    expect(error.stack).not.toContain('pw-SECRET-1');
    expect((error.cause as Error).message).toBe('token [redacted]');
  });

  test("a URL's credentials go even when the URL is malformed and the password is not known", () => {
    expect(scrubText("input: 'postgresql://postgres.ref:S3cr/etPassw0rd@db.example.test:6543/postgres'", [])).toBe(
      "input: 'postgresql://[redacted]@db.example.test:6543/postgres'",
    );
    expect(scrubText('see https://example.test/docs and redis://cache:6379', [])).toBe(
      'see https://example.test/docs and redis://cache:6379',
    );
  });

  test('every URL in a text cut to its scheme, host and path, however it is quoted', () => {
    const text =
      'request to http://127.0.0.1:1/gateway?key=K1/v1beta/models/m:generateContent failed; GET http://h/a?t=1: 500, ' +
      `{"fileUri":"https://s.example.test/object/sign/a.png?token=T2#x"}, 'ftp://u:P3@h/f?x=1' and https://plain.test/p`;
    expect(withoutUrlSecrets(text)).toBe(
      'request to http://127.0.0.1:1/gateway failed; GET http://h/a: 500, ' +
        `{"fileUri":"https://s.example.test/object/sign/a.png"}, 'ftp://[redacted]@h/f' and https://plain.test/p`,
    );
  });

  test('values too short to be a credential are not searched for', () => {
    expect(scrubText('Invalid configuration', ['g', 'key-long-enough'])).toBe('Invalid configuration');
  });

  test("the environment's secrets: every credential variable, and the password of each URL as it is written", () => {
    const secrets = secretValuesIn({
      DATABASE_URL: 'postgresql://app:S3cr/et@db.example.test/postgres',
      REDIS_URL: ' rediss://:r3dis-pass@cache.example.test:6380 ',
      GEMINI_API_KEY: 'gemini-key-value',
      SUPABASE_URL: 'https://project.example.test',
      LOG_LEVEL: 'info',
    });
    expect(secrets.sort()).toEqual(
      [
        'postgresql://app:S3cr/et@db.example.test/postgres',
        'rediss://:r3dis-pass@cache.example.test:6380',
        'gemini-key-value',
        'S3cr/et',
        'r3dis-pass',
      ].sort(),
    );
  });
});
