// Builds the helpline binary once before the test files run (npm pretest).
import { buildBinary } from './harness.js';

if (process.env.HELPLINE_BIN) {
  console.log(`using HELPLINE_BIN=${process.env.HELPLINE_BIN}`);
} else {
  console.log(`built ${buildBinary()}`);
}
