import { Cluster } from 'ioredis';
import { describeWithRedisCluster, useRedisCluster } from '../helpers/redis-cluster';

describeWithRedisCluster('the test helper starts a real 3-master Redis Cluster', () => {
  const cluster = useRedisCluster();

  it('spreads slots over three masters and routes keys to them', async () => {
    const client = new Cluster([...cluster().nodes]);
    try {
      const masters = new Set<string>();
      for (let tenant = 1; tenant <= 30; tenant++) {
        await client.set(`{tenant:${tenant}}:probe`, String(tenant));
        const slot = Number(await client.cluster('KEYSLOT', `{tenant:${tenant}}:probe`));
        const owner = await client.cluster('SLOTS');
        const range = owner.find(([from, to]) => slot >= from && slot <= to);
        masters.add(String(range?.[2]?.[1]));
      }
      expect(client.nodes('master')).toHaveLength(3);
      expect(masters.size).toBe(3);
      expect(await client.get('{tenant:7}:probe')).toBe('7');
    } finally {
      client.disconnect();
    }
  });
});
