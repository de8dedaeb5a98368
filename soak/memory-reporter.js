// Preloaded (NODE_OPTIONS=--require) into the worker and bridge processes the soak starts, the product's code left as
// it is: every 2 s each of the process's threads (the main one, and the worker's workflow threads, which load preloads
// too) writes its process.memoryUsage() to $SOAK_HEAP_DIR/<pid>-<threadId>.json, which the soak reads at each sample.
// Plain JavaScript: the processes run compiled, with no TypeScript loader, and Node's own type stripping would load a
// compiler of some 20 MB into the very process measured.
'use strict';
const { renameSync, writeFileSync } = require('node:fs');
const path = require('node:path');
const { threadId } = require('node:worker_threads');

const dir = process.env.SOAK_HEAP_DIR;
if (dir) {
  const file = path.join(dir, `${process.pid}-${threadId}.json`);
  const report = () => {
    try {
      // Renamed into place, so that a reader never sees half a file.
      writeFileSync(`${file}.tmp`, JSON.stringify({ at: Date.now(), ...process.memoryUsage() }));
      renameSync(`${file}.tmp`, file);
    } catch {
      // A report that cannot be written must not harm the process measured.
    }
  };
  report();
  setInterval(report, 2_000).unref();
}
