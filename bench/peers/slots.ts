/**
 * At most `size` calls at once, the others waiting their turn in the order they came: the worker's Gemini slots,
 * which the product's worker has from Temporal (its Gemini queue's `maxConcurrentActivityTaskExecutions`).
 */
export function createSlots(size: number): <T>(call: () => Promise<T>) => Promise<T> {
  let free = size;
  const waiting: Array<() => void> = [];
  return async (call) => {
    if (free > 0) free -= 1;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await call();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else free += 1;
    }
  };
}
