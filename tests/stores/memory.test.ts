import { MemoryTokenStore } from '../../src';
import { tokenStoreContract } from './contract';

// One Map, several "views": a MemoryTokenStore is shared by passing the same instance.
let shared = new MemoryTokenStore();
beforeEach(() => {
  shared = new MemoryTokenStore();
});

tokenStoreContract('MemoryTokenStore', () => shared);
