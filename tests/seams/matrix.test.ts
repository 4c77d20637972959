import { describeWithRedis } from '../helpers/redis-server';
import { removeCertificate, runCell } from './cell';
import { conditions } from './conditions';
import { scenarios } from './scenarios';

/**
 * Issue 17 item 9, "seams tested by default": every core scenario under every condition. A
 * failing cell names both, e.g. "under a keep-alive http agent › redaction: …".
 */
afterAll(removeCertificate);

/**
 * Above every bound a scenario sets itself (10 s for requests to reach a hold, a timeout plus
 * 2 s): a cell fails by its own assertion, and is not abandoned by Jest while it still runs
 * (an abandoned cell's requests and printing would slow the cells after it).
 */
const CELL_TIMEOUT_MS = 30_000;

for (const condition of conditions) {
  const describeCondition = condition.needsRedis ? describeWithRedis : describe;
  describeCondition(`under ${condition.name}`, () => {
    for (const scenario of scenarios) {
      // A count of arrivals where the limiter cannot see the writes (see Condition.unseenWrites).
      const unseen = 'sandboxProcess' in scenario ? condition.unseenWrites : undefined;
      if (unseen !== undefined) test.skip(`${scenario.name} (skipped: ${unseen})`, () => undefined);
      else test(scenario.name, () => runCell(condition, scenario), CELL_TIMEOUT_MS);
    }
  });
}
