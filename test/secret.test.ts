import { secretValuesIn } from '../src/process/config';
import { scrubSecrets, scrubText } from '../src/process/secret';

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
