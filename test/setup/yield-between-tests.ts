// Lets the test worker's event loop turn between tests. Trap: vitest's worker
// answers its RPC calls to the main process (onTaskUpdate) only when its event
// loop runs, and awaiting one synchronous test after another never gets there
// (microtasks only); a file of CPU-bound tests (the gradient checks) running
// more than 60 s in a row on a loaded machine then fails with
// `[vitest-worker]: Timeout calling "onTaskUpdate"` although every test passed.
import { afterEach } from "vitest";

afterEach(() => new Promise<void>((resolve) => setImmediate(resolve)));
