// The contract suite against the SDK's fake; test/integration/sdk-contract.test.ts runs it against
// a real `burrow serve`.
import { describeContract } from './contract.js';
import { FakeBurrow } from './fake-burrow.js';

describeContract('the fake', async () => {
  const fake = await FakeBurrow.start();
  return { url: fake.url, token: fake.token, name: (label) => label, close: () => fake.close() };
});
