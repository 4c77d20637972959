import { describeWithRedis } from '../helpers/redis-server';
import { removeCertificate, runCell } from './cell';
import { conditions } from './conditions';
import { scenarios } from './scenarios';

/**
 * Issue 17 item 9, "seams tested by default": every core scenario under every condition. A
 * failing cell names both, e.g. "under a keep-alive http agent › redaction: …".
 */
afterAll(removeCertificate);

for (const condition of conditions) {
  const describeCondition = condition.needsRedis ? describeWithRedis : describe;
  describeCondition(`under ${condition.name}`, () => {
    test.each(scenarios.map((scenario) => [scenario.name, scenario] as const))('%s', async (_name, scenario) => {
      await runCell(condition, scenario);
    });
  });
}
