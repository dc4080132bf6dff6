// The DataError a data loader throws (tests of bad files): anything else,
// or nothing thrown, fails the test.
import { DataError } from "../../runtime/data/dataset.ts";

export function dataErrorOf(f: () => unknown): DataError {
  try {
    f();
  } catch (e) {
    if (e instanceof DataError) return e;
    throw e;
  }
  throw new Error("expected a DataError");
}
