import { MemoryLocker } from '../../src/locks/memory.js';
import { runLockerConformance } from './conformance.js';

runLockerConformance('in-process (MemoryLocker)', {
  distributed: false,
  cluster: async () => {
    const locker = new MemoryLocker();
    return { node: () => locker, close: async () => undefined };
  },
});
