// Jest runs each test file in its own global object. @google/genai reaches Node's fetch dispatcher through
// `globalThis[Symbol.for('undici.globalDispatcher.1')]`, which Node sets on the real global only, so inside
// Jest the SDK fails with "Undici globalDispatcher is not available". Sharing that one object restores what
// the SDK sees outside Jest; the SDK itself runs unchanged.
const { TestEnvironment } = require('jest-environment-node');

const DISPATCHER = Symbol.for('undici.globalDispatcher.1');

class NodeEnvironmentWithFetchDispatcher extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    if (!globalThis[DISPATCHER]) new Headers(); // makes Node initialise its fetch implementation
    this.global[DISPATCHER] = globalThis[DISPATCHER];
  }
}

module.exports = NodeEnvironmentWithFetchDispatcher;
