// The SDK's contract suite (packages/sdk/test/contract.ts) against a real `burrow serve`: what the
// SDK's fake answers in its unit tests, the daemon answers too.
import { describeContract } from '../../packages/sdk/test/contract.js';
import { sandboxName } from '../support/instance.js';
import { useInstance } from '../support/use-instance.js';

const burrow = useInstance();

describeContract('burrow serve', async () => ({
  url: burrow.url,
  token: burrow.token,
  name: (label) => sandboxName(`contract-${label}`),
  // The instance is destroyed, with its sandboxes, after the file.
  close: async () => {},
}));
