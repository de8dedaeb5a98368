/**
 * The floor's activities: the product's steps by name, doing nothing but the Gemini step's wait. No database, no
 * Storage, no bytes: what is left of a job is Temporal's.
 */
export const floorJobSteps = {
  async loadJob(): Promise<void> {},
  async markJobProcessing(): Promise<void> {},
  async recordImage(index: number): Promise<number> {
    return index;
  },
  async finishJob(): Promise<void> {},
};

export const floorImageGeneration = {
  /** Gemini's latency L, and nothing else. */
  async generateImage(latencyMs: number): Promise<void> {
    if (latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, latencyMs));
  },
};
