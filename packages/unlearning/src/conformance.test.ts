import { afterAll, beforeAll, describe, it } from 'vitest';
import { useWasm } from './__fixtures__/setup.js';
import { INTERFERENCE_AWARE_METHODS } from './index.js';
import { conformanceChecks, createConformanceFixture } from './testing/index.js';
import type { ConformanceFixture } from './testing/index.js';

useWasm();

// Small budgets: the checks are about the contract, not about forgetting well.
const SMALL = {
  epochs: 1,
  subspaceSamples: 6,
  constraints: 3,
  forgetBatchSize: 2,
  retainBatchSize: 4,
  earlyStop: false,
};

let fixture: ConformanceFixture;
beforeAll(async () => {
  fixture = await createConformanceFixture();
});
afterAll(() => fixture.dispose());

for (const method of INTERFERENCE_AWARE_METHODS) {
  describe(`conformance: ${method.id}`, () => {
    for (const check of conformanceChecks(method, { config: SMALL })) {
      it(check.name, () => check.run(fixture));
    }
  });
}

// The constraint cache holds tensors across steps: check it against the kit too (leaks, seeds, abort).
describe('conformance: interference-aware with cached constraints (refresh 0)', () => {
  const method = INTERFERENCE_AWARE_METHODS[0]!;
  for (const check of conformanceChecks(method, {
    config: { ...SMALL, constraintRefresh: 0, protectionRefresh: 0 },
  })) {
    it(check.name, () => check.run(fixture));
  }
});
