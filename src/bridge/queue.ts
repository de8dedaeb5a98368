import Redis from 'ioredis';
import { ConfigError, untrustedCertificateCode } from '../process/errors';

/**
 * The one module that knows Redis: the front end's list, this bridge's processing list and the dead-letter
 * list. An element leaves the front end's list only by an atomic move into the processing list, and leaves
 * the processing list only once its workflow has been started (or it was dead-lettered), so a bridge killed
 * at any instant loses nothing: whatever it held is still in its processing list when it starts again.
 */

export interface QueueSettings {
  /** `redis://` or, for TLS, `rediss://`; a password goes in it (`rediss://:password@host:port`). */
  redisUrl: { reveal(): string };
  /** PEM of the CA that signed a TLS server's certificate, when it is not one Node trusts already. */
  caCert?: string;
  /** The list the front end pushes job ids onto. */
  key: string;
  /** The side the front end pushes on; the bridge takes from the other, so the list is first in, first out. */
  pushSide: 'left' | 'right';
  /** Names this bridge's processing list: a restarted bridge must come back with the same id to re-drive it. */
  bridgeId: string;
}

export interface DeadLetter {
  element: string;
  reason: string;
  at: string;
  bridgeId: string;
}

/**
 * Dead letters kept, the newest first: enough to see what a misbehaving producer sends (a day of one bad push a
 * minute), while a producer sending nothing but garbage cannot grow the list without end.
 */
export const DEAD_LETTER_LIMIT = 1000;

export type JobQueue = ReturnType<typeof createJobQueue>;

export function queueKeys(settings: Pick<QueueSettings, 'key' | 'bridgeId'>) {
  return {
    pending: settings.key,
    processing: `${settings.key}:processing:${settings.bridgeId}`,
    deadLetters: `${settings.key}:dead`,
  };
}

function connect(settings: QueueSettings, name: string): Redis {
  return new Redis(settings.redisUrl.reveal(), {
    ...(settings.caCert && { tls: { ca: settings.caCert } }),
    connectionName: name,
    // Commands wait for the connection to come back instead of failing after a few retries, so an outage
    // pauses the bridge rather than spinning it; reconnects back off up to 5 s.
    maxRetriesPerRequest: null,
    retryStrategy: (attempt) => Math.min(100 * 2 ** attempt, 5_000),
  });
}

export function createJobQueue(settings: QueueSettings) {
  const keys = queueKeys(settings);
  const takeFrom = settings.pushSide === 'left' ? 'RIGHT' : 'LEFT';
  // A blocking BLMOVE holds its connection; everything else goes through the other one.
  const blocking = connect(settings, `image-jobs-bridge-${settings.bridgeId}-take`);
  const commands = connect(settings, `image-jobs-bridge-${settings.bridgeId}`);
  // A command sent while Redis cannot answer (down, or frozen behind a partition) waits for it forever, and
  // ioredis's disconnect() does not end such a wait; these do, so a bridge told to stop can stop.
  const takingStopped = interruption('the bridge stopped taking');
  const closed = interruption('the queue was closed');
  const untilClosed = <T>(command: Promise<T>): Promise<T> => closed.guard(command);

  return {
    keys,

    /** Moves the oldest element into the processing list; null when none arrived within the timeout. */
    async take(timeoutSeconds: number): Promise<string | null> {
      const moved =
        takeFrom === 'RIGHT'
          ? blocking.blmove(keys.pending, keys.processing, 'RIGHT', 'LEFT', timeoutSeconds)
          : blocking.blmove(keys.pending, keys.processing, 'LEFT', 'LEFT', timeoutSeconds);
      return takingStopped.guard(moved);
    },

    /** Elements taken but not yet handed over: left by a killed bridge, or moved while a reply was lost. */
    async inProcessing(): Promise<string[]> {
      return untilClosed(commands.lrange(keys.processing, 0, -1));
    },

    async acknowledge(element: string): Promise<void> {
      await untilClosed(commands.lrem(keys.processing, 1, element));
    },

    async deadLetter(element: string, reason: string): Promise<void> {
      const letter: DeadLetter = { element, reason, at: new Date().toISOString(), bridgeId: settings.bridgeId };
      await untilClosed(
        commands
          .multi()
          .lpush(keys.deadLetters, JSON.stringify(letter))
          .ltrim(keys.deadLetters, 0, DEAD_LETTER_LIMIT - 1)
          .lrem(keys.processing, 1, element)
          .exec(),
      );
    },

    /** Pushes elements the way the front end does, in order. */
    async push(element: string, ...more: string[]): Promise<void> {
      await (settings.pushSide === 'left'
        ? commands.lpush(keys.pending, element, ...more)
        : commands.rpush(keys.pending, element, ...more));
    },

    /**
     * The first connection's outcome, so that a wrong password or an untrusted certificate stops the bridge at
     * start with a sentence naming the setting. A Redis that is down, or slow to answer, is not an error here:
     * the bridge waits it out.
     */
    async checkAccess(timeoutMs = 10_000): Promise<void> {
      if (commands.status === 'ready') return;
      const outcome = await new Promise<Error | undefined>((resolve) => {
        const timer = setTimeout(() => resolve(undefined), timeoutMs).unref();
        commands.once('ready', () => (clearTimeout(timer), resolve(undefined)));
        commands.once('error', (error: Error) => (clearTimeout(timer), resolve(error)));
      });
      const refusal = outcome && explainRefusal(outcome);
      if (refusal) throw new ConfigError([refusal]);
    },

    /** Called after every reconnect (not the first connect), and with each connection error. */
    watch(handlers: { reconnected: () => void; error: (error: Error) => void }): void {
      let connectedBefore = false;
      commands.on('ready', () => {
        if (connectedBefore) handlers.reconnected();
        connectedBefore = true;
      });
      for (const connection of [blocking, commands]) connection.on('error', handlers.error);
    },

    /**
     * Stops taking. A BLMOVE waiting on a live connection ends by its own timeout, and what it moves is handled;
     * should Redis go away before then, it ends at once. One waiting for Redis to come back ends at once too, its
     * connection dropped (closing a connection under a live blocking command leaves its socket lingering after
     * the process should have exited).
     */
    stopTaking(): void {
      const drop = () => {
        takingStopped.interrupt();
        blocking.disconnect();
      };
      // A Ctrl-C of the demo reaches its Redis too, which may go away before the BLMOVE's timeout.
      if (blocking.status === 'ready') blocking.once('close', drop);
      else drop();
    },

    /** Ends every command still waiting for Redis; what they would have changed stays as it is in Redis. */
    close(): void {
      takingStopped.interrupt();
      closed.interrupt();
      blocking.disconnect();
      commands.disconnect();
    },
  };
}

/**
 * Ends the commands it guards with `reason` once interrupted, and any guarded after. A command's waiter is dropped
 * as soon as the command settles: raced against one promise that lives as long as the bridge, each command would
 * leave a reaction on it that no collection frees, some 650 bytes a job and 330 a second of idle waiting
 * (test/bridge.test.ts; docs/reliability.md has the bridge's figures before and after).
 */
function interruption(reason: string) {
  const waiting = new Set<(error: Error) => void>();
  let interrupted = false;
  return {
    guard<T>(command: Promise<T>): Promise<T> {
      if (interrupted) return Promise.reject(new Error(reason));
      return new Promise<T>((resolve, reject) => {
        waiting.add(reject);
        void command.then(resolve, reject).finally(() => waiting.delete(reject));
      });
    },
    interrupt(): void {
      interrupted = true;
      for (const reject of waiting) reject(new Error(reason));
      waiting.clear();
    },
  };
}

/** What a connection error means for the settings, when it is one that waiting cannot cure. */
function explainRefusal(error: Error): string | undefined {
  if (/WRONGPASS|NOAUTH|invalid password/i.test(error.message)) {
    return 'REDIS_URL: Redis refused the password (or asks for one): check the password in the URL';
  }
  const code = untrustedCertificateCode(error);
  if (code)
    return `REDIS_URL: Redis's certificate is not trusted (${code}); set REDIS_CA_CERT to the CA that signed it`;
  if (/wrong version number|packet length too long/i.test(error.message)) {
    return 'REDIS_URL: the server does not speak TLS: use redis://, or check the port';
  }
  return undefined;
}
