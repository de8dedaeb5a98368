import { exitOnSignal } from '../../dev/exit-cleanup';
import { PostgresServer } from '../../dev/postgres-server';
import { RedisServer } from '../../dev/redis-server';

// A run as the bench, chaos and soak start one: servers of its own, kept until a signal ends it.
exitOnSignal();
void (async () => {
  const [redis, postgres] = await Promise.all([RedisServer.start(), PostgresServer.start()]);
  console.log(JSON.stringify({ redis: new URL(redis.url).port, postgres: new URL(postgres.url).port }));
  setInterval(() => undefined, 60_000);
})();
