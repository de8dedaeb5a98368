import Redis from 'ioredis';

/**
 * The one module that knows Redis: the front end's list, this bridge's processing list and the dead-letter
 * list. An element leaves the front end's list only by an atomic move into the processing list, and leaves
 * the processing list only once its workflow has been started (or it was dead-lettered), so a bridge killed
 * at any instant loses nothing: whatever it held is still in its processing list when it starts again.
 */

export interface QueueSettings {
  redisUrl: { reveal(): string };
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

export type JobQueue = ReturnType<typeof createJobQueue>;

export function queueKeys(settings: Pick<QueueSettings, 'key' | 'bridgeId'>) {
  return {
    pending: settings.key,
    processing: `${settings.key}:processing:${settings.bridgeId}`,
    deadLetters: `${settings.key}:dead`,
  };
}

function connect(url: string, name: string): Redis {
  return new Redis(url, {
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
  const blocking = connect(settings.redisUrl.reveal(), `image-jobs-bridge-${settings.bridgeId}-take`);
  const commands = connect(settings.redisUrl.reveal(), `image-jobs-bridge-${settings.bridgeId}`);
  // Ends a BLMOVE that would wait for Redis to come back once the bridge has stopped taking.
  let abandonTake: () => void = () => undefined;
  const takeAbandoned = new Promise<null>((resolve) => (abandonTake = () => resolve(null)));

  return {
    keys,

    /** Moves the oldest element into the processing list; null when none arrived within the timeout. */
    async take(timeoutSeconds: number): Promise<string | null> {
      return Promise.race([
        takeFrom === 'RIGHT'
          ? blocking.blmove(keys.pending, keys.processing, 'RIGHT', 'LEFT', timeoutSeconds)
          : blocking.blmove(keys.pending, keys.processing, 'LEFT', 'LEFT', timeoutSeconds),
        takeAbandoned,
      ]);
    },

    /** Elements taken but not yet handed over: left by a killed bridge, or moved while a reply was lost. */
    async inProcessing(): Promise<string[]> {
      return commands.lrange(keys.processing, 0, -1);
    },

    async acknowledge(element: string): Promise<void> {
      await commands.lrem(keys.processing, 1, element);
    },

    async deadLetter(element: string, reason: string): Promise<void> {
      const letter: DeadLetter = { element, reason, at: new Date().toISOString(), bridgeId: settings.bridgeId };
      await commands.multi().lpush(keys.deadLetters, JSON.stringify(letter)).lrem(keys.processing, 1, element).exec();
    },

    /** Pushes elements the way the front end does, in order. */
    async push(element: string, ...more: string[]): Promise<void> {
      await (settings.pushSide === 'left'
        ? commands.lpush(keys.pending, element, ...more)
        : commands.rpush(keys.pending, element, ...more));
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
     * Stops taking. A BLMOVE waiting on a live connection ends by its own timeout; one waiting for Redis to
     * come back, or losing it before that timeout, is dropped at once (closing a connection under a live blocking command leaves its socket
     * lingering after the process should have exited).
     */
    stopTaking(): void {
      // ioredis keeps a command of a lost connection for the next one, even past disconnect(): it is abandoned.
      const drop = () => {
        abandonTake();
        blocking.disconnect();
      };
      if (blocking.status !== 'ready') drop();
      // Redis may go away before the BLMOVE's timeout (a Ctrl-C reaches the demo's Redis too).
      else blocking.once('close', drop);
    },

    close(): void {
      blocking.disconnect();
      commands.disconnect();
    },
  };
}
